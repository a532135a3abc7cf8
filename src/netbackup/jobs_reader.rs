//! A direct reader of `/admin/jobs` pages, the agent's hot path.
//!
//! A page carries about 2 KB of JSON per job, of which the agent reads 11 attributes. This
//! reader walks the document once: it matches the member names [`JobsPage`] declares, converts
//! their values with the tolerant rules of [`super::lenient`], and skips everything else with a
//! validating scan (strings are searched 8 bytes at a time for `"`, `\` and control
//! characters). It reads JSON strictly: no trailing garbage, no leading zeros, no control
//! characters in strings, only valid escapes, nesting limited; like the derived models, it
//! refuses a declared member that appears twice.
//!
//! It handles the usual document shape only and refuses anything else (an unexpected type for
//! `data`, a resource that is not an object, a lone surrogate in a string the agent reads, ...).
//! [`JobsPage::from_body`] then reads the body with serde_json, so an unusual document is read,
//! or refused with serde_json's message, exactly as by the serde models.
//!
//! Differences from the serde models, both deliberate: floats are parsed with
//! `str::parse::<f64>` (correctly rounded; serde_json without `float_roundtrip` may be one ULP
//! off), and a number beyond the range of `f64` (such as `1e400`) is an invalid value where
//! serde_json refuses the whole page.

use std::borrow::Cow;

use super::lenient::{FromJsonNumber, Num, Text};
use super::models::{
    CursorMeta, CursorPagination, JobAttributes, JobResource, JobsPage, PageDocument, utf8,
};

/// Deepest nesting read (serde_json's own limit is 128).
const MAX_DEPTH: u32 = 100;

/// Most member names of `attributes` remembered (a job carries about 85).
const MAX_LAYOUT: usize = 160;

/// The members of `attributes` the models read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    JobId,
    JobType,
    PolicyType,
    State,
    Status,
    JobQueueReason,
    KilobytesTransferred,
    NumberOfFiles,
    DedupRatio,
    StartTime,
    EndTime,
    LastUpdateTime,
    Other,
}

impl Field {
    fn of(name: &str) -> Self {
        match name {
            "jobId" => Field::JobId,
            "jobType" => Field::JobType,
            "policyType" => Field::PolicyType,
            "state" => Field::State,
            "status" => Field::Status,
            "jobQueueReason" => Field::JobQueueReason,
            "kilobytesTransferred" => Field::KilobytesTransferred,
            "numberOfFiles" => Field::NumberOfFiles,
            "dedupRatio" => Field::DedupRatio,
            "startTime" => Field::StartTime,
            "endTime" => Field::EndTime,
            "lastUpdateTime" => Field::LastUpdateTime,
            _ => Field::Other,
        }
    }
}

/// The reader gave up at this byte offset; the caller falls back to serde_json.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Refused(pub(crate) usize);

type Read<T> = Result<T, Refused>;

impl<'a> PageDocument<'a> for JobsPage<'a> {
    /// The usual document is read by the direct reader; anything it does not handle is read by
    /// serde_json with the same models, so it is accepted or refused as before, with
    /// serde_json's message.
    fn from_body(body: &'a [u8]) -> Result<Self, String> {
        let text = utf8(body)?;
        jobs_page(text).or_else(|_| serde_json::from_str(text).map_err(|e| e.to_string()))
    }
}

/// Reads a whole `/admin/jobs` document.
pub(crate) fn jobs_page(text: &str) -> Read<JobsPage<'_>> {
    let mut reader = Reader {
        text,
        bytes: text.as_bytes(),
        pos: 0,
        depth: 0,
        layout: Vec::new(),
    };
    let page = reader.page()?;
    reader.ws();
    if reader.pos != text.len() {
        return reader.refuse();
    }
    Ok(page)
}

/// A value where the models expect a scalar; objects and arrays are skipped.
enum Value<'a> {
    Null,
    Bool(bool),
    Str(Cow<'a, str>),
    /// The number's text and whether it has neither fraction nor exponent.
    Number(&'a str, bool),
    Compound,
}

/// A JSON number as serde_json hands it to a visitor.
enum Number {
    U64(u64),
    I64(i64),
    F64(f64),
}

fn number(text: &str, integral: bool) -> Number {
    if integral {
        if let Ok(v) = text.parse::<u64>() {
            return Number::U64(v);
        }
        match text.parse::<i64>() {
            // serde_json reads `-0` as the float -0.0.
            Ok(0) => return Number::F64(-0.0),
            Ok(v) => return Number::I64(v),
            Err(_) => {}
        }
    }
    // Integers beyond 64 bits arrive as floats, as with serde_json.
    Number::F64(text.parse::<f64>().unwrap_or(f64::NAN))
}

fn num<T: FromJsonNumber>(value: Value<'_>) -> Num<T> {
    match value {
        Value::Null => Num::Absent,
        Value::Bool(_) | Value::Compound => Num::Invalid,
        Value::Str(s) => Num::from_quoted(&s),
        Value::Number(text, integral) => match number(text, integral) {
            Number::U64(v) => Num::from_u64(v),
            Number::I64(v) => Num::from_i64(v),
            Number::F64(v) => Num::from_f64(v),
        },
    }
}

fn text(value: Value<'_>) -> Text<'_> {
    match value {
        Value::Null => Text::Absent,
        Value::Bool(b) => Text::Valid(Cow::Owned(b.to_string())),
        Value::Str(s) => Text::Valid(s),
        Value::Compound => Text::Invalid,
        Value::Number(t, integral) => match number(t, integral) {
            Number::U64(v) => Text::Valid(Cow::Owned(v.to_string())),
            Number::I64(v) => Text::Valid(Cow::Owned(v.to_string())),
            Number::F64(v) if v.is_finite() => Text::Valid(Cow::Owned(v.to_string())),
            Number::F64(_) => Text::Invalid,
        },
    }
}

/// What ends a run of plain string bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    Quote,
    Backslash,
    /// A control character, or the end of the input.
    Other,
}

/// The first byte at or after `i` that is `"`, `\` or a control character (or the end of
/// `bytes`), and which it is; eight bytes at a time.
#[inline]
fn scan(bytes: &[u8], mut i: usize) -> (usize, Stop) {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    const QUOTES: u64 = ONES * b'"' as u64;
    const BACKSLASHES: u64 = ONES * b'\\' as u64;
    const SPACES: u64 = ONES * 0x20;
    while let Some(chunk) = bytes.get(i..i + 8) {
        let Ok(chunk) = <[u8; 8]>::try_from(chunk) else {
            break;
        };
        let w = u64::from_le_bytes(chunk);
        let q = w ^ QUOTES;
        let b = w ^ BACKSLASHES;
        let quotes = q.wrapping_sub(ONES) & !q & HIGHS;
        let backslashes = b.wrapping_sub(ONES) & !b & HIGHS;
        let found = quotes | backslashes | (w.wrapping_sub(SPACES) & !w & HIGHS);
        if found != 0 {
            // The lowest flagged byte is exact (borrows only propagate upwards from a match),
            // and so is its kind.
            let lowest = found & found.wrapping_neg();
            let stop = if quotes & lowest != 0 {
                Stop::Quote
            } else if backslashes & lowest != 0 {
                Stop::Backslash
            } else {
                Stop::Other
            };
            return (i + (found.trailing_zeros() / 8) as usize, stop);
        }
        i += 8;
    }
    while let Some(&c) = bytes.get(i) {
        match c {
            b'"' => return (i, Stop::Quote),
            b'\\' => return (i, Stop::Backslash),
            0..0x20 => return (i, Stop::Other),
            _ => i += 1,
        }
    }
    (i, Stop::Other)
}

/// The eight bytes of `s` from `at` (zero if there are fewer).
#[inline]
fn word(s: &[u8], at: usize) -> u64 {
    s.get(at..at + 8)
        .and_then(|c| <[u8; 8]>::try_from(c).ok())
        .map_or(0, u64::from_le_bytes)
}

/// `a == b` for short slices, inline eight bytes at a time.
#[inline]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if n < 8 {
        return a.iter().zip(b).all(|(x, y)| x == y);
    }
    let mut i = 0;
    while i + 8 < n {
        if word(a, i) != word(b, i) {
            return false;
        }
        i += 8;
    }
    word(a, n - 8) == word(b, n - 8)
}

struct Reader<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    depth: u32,
    /// The member names of the attributes read so far, in document order, as their raw
    /// tokens (quotes included, no escapes) with the field each one fills.
    layout: Vec<(&'a [u8], Field)>,
}

impl<'a> Reader<'a> {
    fn refuse<T>(&self) -> Read<T> {
        Err(Refused(self.pos))
    }

    #[inline]
    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    #[inline]
    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.bytes.get(self.pos).copied()
    }

    fn eat(&mut self, c: u8) -> Read<()> {
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            self.refuse()
        }
    }

    fn literal(&mut self, word: &[u8]) -> Read<()> {
        if self.bytes.get(self.pos..self.pos + word.len()) == Some(word) {
            self.pos += word.len();
            Ok(())
        } else {
            self.refuse()
        }
    }

    /// Consumes `open` and enters one level of nesting.
    fn open(&mut self, open: u8) -> Read<()> {
        self.eat(open)?;
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return self.refuse();
        }
        Ok(())
    }

    fn close(&mut self) {
        self.depth -= 1;
    }

    /// After `{`: the first member's name, or `None` at `}`.
    fn first_key(&mut self) -> Read<Option<Cow<'a, str>>> {
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(None);
        }
        self.key().map(Some)
    }

    /// After a member's value: the next member's name, or `None` at `}`.
    fn next_key(&mut self) -> Read<Option<Cow<'a, str>>> {
        match self.peek() {
            Some(b',') => {
                self.pos += 1;
                self.key().map(Some)
            }
            Some(b'}') => {
                self.pos += 1;
                Ok(None)
            }
            _ => self.refuse(),
        }
    }

    fn key(&mut self) -> Read<Cow<'a, str>> {
        if self.peek() != Some(b'"') {
            return self.refuse();
        }
        let key = self.string()?;
        self.eat(b':')?;
        Ok(key)
    }

    /// After `[` or an item: whether another item follows.
    fn more_items(&mut self, first: bool) -> Read<bool> {
        match self.peek() {
            Some(b']') => {
                self.pos += 1;
                Ok(false)
            }
            Some(_) if first => Ok(true),
            Some(b',') => {
                self.pos += 1;
                Ok(true)
            }
            _ => self.refuse(),
        }
    }

    /// At `"`: the string, borrowed unless it has escapes.
    fn string(&mut self) -> Read<Cow<'a, str>> {
        let start = self.pos + 1;
        match scan(self.bytes, start) {
            (end, Stop::Quote) => {
                let s = self.text.get(start..end).ok_or(Refused(end))?;
                self.pos = end + 1;
                Ok(Cow::Borrowed(s))
            }
            (end, Stop::Backslash) => self.unescape(start, end).map(Cow::Owned),
            (end, Stop::Other) => Err(Refused(end)),
        }
    }

    /// A string from `start` with its first escape at `at`.
    fn unescape(&mut self, start: usize, mut at: usize) -> Read<String> {
        let mut out = String::with_capacity(at - start + 16);
        let mut from = start;
        loop {
            out.push_str(self.text.get(from..at).ok_or(Refused(at))?);
            match self.bytes.get(at) {
                Some(b'"') => {
                    self.pos = at + 1;
                    return Ok(out);
                }
                Some(b'\\') => {}
                _ => return Err(Refused(at)),
            }
            let escape = self.bytes.get(at + 1).copied();
            at += 2;
            match escape {
                Some(b'"') => out.push('"'),
                Some(b'\\') => out.push('\\'),
                Some(b'/') => out.push('/'),
                Some(b'b') => out.push('\u{8}'),
                Some(b'f') => out.push('\u{c}'),
                Some(b'n') => out.push('\n'),
                Some(b'r') => out.push('\r'),
                Some(b't') => out.push('\t'),
                Some(b'u') => {
                    let high = self.hex4(at)?;
                    at += 4;
                    let code = match high {
                        0xD800..=0xDBFF => {
                            if self.bytes.get(at..at + 2) != Some(b"\\u") {
                                return Err(Refused(at));
                            }
                            let low = self.hex4(at + 2)?;
                            if !(0xDC00..=0xDFFF).contains(&low) {
                                return Err(Refused(at));
                            }
                            at += 6;
                            0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
                        }
                        0xDC00..=0xDFFF => return Err(Refused(at)),
                        _ => high,
                    };
                    out.push(char::from_u32(code).ok_or(Refused(at))?);
                }
                _ => return Err(Refused(at)),
            }
            from = at;
            at = scan(self.bytes, at).0;
        }
    }

    fn hex4(&self, at: usize) -> Read<u32> {
        let digits = self.bytes.get(at..at + 4).ok_or(Refused(at))?;
        let mut v = 0;
        for &d in digits {
            let n = match d {
                b'0'..=b'9' => d - b'0',
                b'a'..=b'f' => d - b'a' + 10,
                b'A'..=b'F' => d - b'A' + 10,
                _ => return Err(Refused(at)),
            };
            v = v * 16 + u32::from(n);
        }
        Ok(v)
    }

    /// At `"`: skips the string, checking its escapes.
    fn skip_string(&mut self) -> Read<()> {
        let mut i = self.pos + 1;
        loop {
            let stop;
            (i, stop) = scan(self.bytes, i);
            match stop {
                Stop::Quote => {
                    self.pos = i + 1;
                    return Ok(());
                }
                Stop::Backslash => match self.bytes.get(i + 1) {
                    Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => i += 2,
                    Some(b'u') => {
                        self.hex4(i + 2)?;
                        i += 6;
                    }
                    _ => return Err(Refused(i)),
                },
                _ => return Err(Refused(i)),
            }
        }
    }

    /// At `-` or a digit: the number's text, and whether it is an integer.
    fn number(&mut self) -> Read<(&'a str, bool)> {
        let b = self.bytes;
        let start = self.pos;
        let mut i = start;
        let digits = |mut i: usize| {
            while let Some(b'0'..=b'9') = b.get(i) {
                i += 1;
            }
            i
        };
        if b.get(i) == Some(&b'-') {
            i += 1;
        }
        match b.get(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => i = digits(i + 1),
            _ => return Err(Refused(i)),
        }
        let mut integral = true;
        if b.get(i) == Some(&b'.') {
            integral = false;
            let end = digits(i + 1);
            if end == i + 1 {
                return Err(Refused(end));
            }
            i = end;
        }
        if let Some(b'e' | b'E') = b.get(i) {
            integral = false;
            i += 1;
            if let Some(b'+' | b'-') = b.get(i) {
                i += 1;
            }
            let end = digits(i);
            if end == i {
                return Err(Refused(end));
            }
            i = end;
        }
        self.pos = i;
        Ok((self.text.get(start..i).ok_or(Refused(i))?, integral))
    }

    /// Skips any value, checking its syntax.
    fn skip(&mut self) -> Read<()> {
        match self.peek() {
            Some(b'"') => self.skip_string(),
            Some(b'{') => {
                self.open(b'{')?;
                let mut key = self.first_key()?;
                while key.is_some() {
                    self.skip()?;
                    key = self.next_key()?;
                }
                self.close();
                Ok(())
            }
            Some(b'[') => {
                self.open(b'[')?;
                let mut first = true;
                while self.more_items(first)? {
                    first = false;
                    self.skip()?;
                }
                self.close();
                Ok(())
            }
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(b'-' | b'0'..=b'9') => self.number().map(drop),
            _ => self.refuse(),
        }
    }

    /// A value where a scalar is expected.
    fn value(&mut self) -> Read<Value<'a>> {
        Ok(match self.peek() {
            Some(b'"') => Value::Str(self.string()?),
            Some(b'n') => {
                self.literal(b"null")?;
                Value::Null
            }
            Some(b't') => {
                self.literal(b"true")?;
                Value::Bool(true)
            }
            Some(b'f') => {
                self.literal(b"false")?;
                Value::Bool(false)
            }
            Some(b'-' | b'0'..=b'9') => {
                let (text, integral) = self.number()?;
                Value::Number(text, integral)
            }
            Some(b'{' | b'[') => {
                self.skip()?;
                Value::Compound
            }
            _ => return self.refuse(),
        })
    }

    /// `null` as `None`, else `read`.
    fn optional<T>(&mut self, read: fn(&mut Self) -> Read<T>) -> Read<Option<T>> {
        if self.peek() == Some(b'n') {
            self.literal(b"null")?;
            Ok(None)
        } else {
            read(self).map(Some)
        }
    }

    /// Marks member `bit` as read; a second occurrence is refused, as by the derived models.
    fn once(&self, seen: &mut u32, bit: u32) -> Read<()> {
        if *seen & (1 << bit) != 0 {
            return self.refuse();
        }
        *seen |= 1 << bit;
        Ok(())
    }

    fn page(&mut self) -> Read<JobsPage<'a>> {
        self.open(b'{')?;
        let mut seen = 0;
        let mut data = Vec::new();
        let mut meta = None;
        let mut key = self.first_key()?;
        while let Some(k) = key {
            match &*k {
                "data" => {
                    self.once(&mut seen, 0)?;
                    data = self.resources()?;
                }
                "meta" => {
                    self.once(&mut seen, 1)?;
                    meta = self.optional(Self::cursor_meta)?;
                }
                _ => self.skip()?,
            }
            key = self.next_key()?;
        }
        self.close();
        Ok(JobsPage { data, meta })
    }

    fn resources(&mut self) -> Read<Vec<JobResource<'a>>> {
        self.open(b'[')?;
        let mut resources: Vec<JobResource<'a>> = Vec::with_capacity(100);
        let mut first = true;
        while self.more_items(first)? {
            first = false;
            // Filled in place: a resource is a few hundred bytes.
            resources.push(JobResource { attributes: None });
            if let Some(slot) = resources.last_mut() {
                self.resource(slot)?;
            }
        }
        self.close();
        Ok(resources)
    }

    fn resource(&mut self, slot: &mut JobResource<'a>) -> Read<()> {
        self.open(b'{')?;
        let mut seen = 0;
        let mut key = self.first_key()?;
        while let Some(k) = key {
            if &*k == "attributes" {
                self.once(&mut seen, 0)?;
                if self.peek() == Some(b'n') {
                    self.literal(b"null")?;
                    slot.attributes = None;
                } else {
                    let attributes = slot.attributes.insert(JobAttributes::default());
                    self.attributes(attributes)?;
                }
            } else {
                self.skip()?;
            }
            key = self.next_key()?;
        }
        self.close();
        Ok(())
    }

    fn attributes(&mut self, a: &mut JobAttributes<'a>) -> Read<()> {
        self.open(b'{')?;
        if self.peek() == Some(b'}') {
            self.pos += 1;
            self.close();
            return Ok(());
        }
        let mut seen = 0;
        let mut expected = 0;
        loop {
            let field = self.attribute_name(&mut expected)?;
            self.eat(b':')?;
            if field != Field::Other {
                self.once(&mut seen, field as u32)?;
            }
            match field {
                Field::JobId => a.job_id = num(self.value()?),
                Field::JobType => a.job_type = text(self.value()?),
                Field::PolicyType => a.policy_type = text(self.value()?),
                Field::State => a.state = text(self.value()?),
                Field::Status => a.status = num(self.value()?),
                Field::JobQueueReason => a.job_queue_reason = num(self.value()?),
                Field::KilobytesTransferred => a.kilobytes_transferred = num(self.value()?),
                Field::NumberOfFiles => a.number_of_files = num(self.value()?),
                Field::DedupRatio => a.dedup_ratio = num(self.value()?),
                Field::StartTime => a.start_time = text(self.value()?),
                Field::EndTime => a.end_time = text(self.value()?),
                Field::LastUpdateTime => a.last_update_time = text(self.value()?),
                Field::Other => self.skip()?,
            }
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    break;
                }
                _ => return self.refuse(),
            }
        }
        self.close();
        Ok(())
    }

    /// Reads the name of a member of `attributes`. Consecutive jobs carry the same names in
    /// the same order, so the name is first compared, as raw bytes, with the one at this place
    /// of the layout learned from earlier jobs (or the next two, for jobs that lack a member);
    /// only a name that differs is scanned and matched, and the layout resynchronised.
    #[inline]
    fn attribute_name(&mut self, expected: &mut usize) -> Read<Field> {
        self.ws();
        for at in *expected..(*expected + 3).min(self.layout.len()) {
            if let Some(&(name, field)) = self.layout.get(at)
                && self
                    .bytes
                    .get(self.pos..self.pos + name.len())
                    .is_some_and(|here| same_bytes(here, name))
            {
                self.pos += name.len();
                *expected = at + 1;
                return Ok(field);
            }
        }
        if self.bytes.get(self.pos) != Some(&b'"') {
            return self.refuse();
        }
        let start = self.pos;
        let name = self.string()?;
        let field = Field::of(&name);
        if let (Cow::Borrowed(_), Some(raw)) = (&name, self.bytes.get(start..self.pos)) {
            match self
                .layout
                .iter()
                .position(|&(known, _)| same_bytes(known, raw))
            {
                Some(at) => *expected = at + 1,
                None if self.layout.len() < MAX_LAYOUT => {
                    // A name earlier jobs lacked: the layout becomes the union, in order.
                    self.layout.insert(*expected, (raw, field));
                    *expected += 1;
                }
                None => {}
            }
        }
        Ok(field)
    }

    fn cursor_meta(&mut self) -> Read<CursorMeta<'a>> {
        self.open(b'{')?;
        let mut seen = 0;
        let mut pagination = None;
        let mut key = self.first_key()?;
        while let Some(k) = key {
            if &*k == "pagination" {
                self.once(&mut seen, 0)?;
                pagination = self.optional(Self::cursor_pagination)?;
            } else {
                self.skip()?;
            }
            key = self.next_key()?;
        }
        self.close();
        Ok(CursorMeta { pagination })
    }

    fn cursor_pagination(&mut self) -> Read<CursorPagination<'a>> {
        self.open(b'{')?;
        let mut seen = 0;
        let mut next = Text::Absent;
        let mut key = self.first_key()?;
        while let Some(k) = key {
            if &*k == "next" {
                self.once(&mut seen, 0)?;
                next = text(self.value()?);
            } else {
                self.skip()?;
            }
            key = self.next_key()?;
        }
        self.close();
        Ok(CursorPagination { next })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// What the serde models make of `text`.
    fn serde(text: &str) -> Result<String, String> {
        serde_json::from_str::<JobsPage<'_>>(text)
            .map(|p| format!("{p:?}"))
            .map_err(|e| e.to_string())
    }

    fn direct(text: &str) -> Result<String, Refused> {
        jobs_page(text).map(|p| format!("{p:?}"))
    }

    /// The direct reader reads `text` exactly as the serde models do.
    #[track_caller]
    fn same(text: &str) {
        let expected = serde(text).unwrap_or_else(|e| panic!("serde refuses {text}: {e}"));
        assert_eq!(direct(text), Ok(expected), "{text}");
    }

    /// The direct reader refuses `text` (and leaves it to serde_json).
    #[track_caller]
    fn refused(text: &str) {
        assert!(direct(text).is_err(), "{text} should be refused");
    }

    fn page(attributes: &str) -> String {
        format!(
            r#"{{"data":[{{"id":1,"attributes":{attributes}}}],"meta":{{"pagination":{{"next":"1"}}}}}}"#
        )
    }

    #[test]
    fn simulated_pages_read_as_with_serde() {
        use crate::sim::{self, Dataset, SimConfig};
        let config = SimConfig {
            seed: 7,
            jobs: 400,
            ..SimConfig::default()
        };
        let dataset = Dataset::new(&config);
        for (p, hostile) in [(0, false), (1, true), (2, false), (3, true)] {
            let items: Vec<_> = (p * 100..(p + 1) * 100)
                .filter_map(|i| dataset.job(i))
                .collect();
            let page = sim::JobsPage {
                limit: 100,
                next: items.last().map(|j| j.job_id),
                prev: None,
                self_href: "/netbackup/admin/jobs".into(),
                first_href: "/netbackup/admin/jobs".into(),
                next_href: None,
                items,
                hostile,
            };
            let body = sim::render_jobs_page(&dataset, &page, "http://127.0.0.1:1/netbackup");
            let read = JobsPage::from_body(body.as_bytes()).map(|p| format!("{p:?}"));
            assert!(read == serde(&body), "page {p}");
            if !hostile {
                // The usual shape never needs serde_json.
                assert!(direct(&body).ok() == serde(&body).ok(), "page {p}");
            }
        }
    }

    #[test]
    fn tolerant_values_read_as_with_serde() {
        for attributes in [
            r#"{}"#,
            r#"{"jobId":null,"jobType":null,"status":null,"dedupRatio":null}"#,
            r#"{"jobId":-5,"status":1e300,"dedupRatio":"abc","jobType":{"a":[1,{}]},"state":[1]}"#,
            r#"{"jobId":18446744073709551616,"status":-9223372036854775809}"#,
            r#"{"jobId":99999999999999999999999999,"numberOfFiles":18446744073709551615}"#,
            r#"{"status":-9223372036854775808,"jobQueueReason":9223372036854775808}"#,
            r#"{"jobId":"9007199254740993","jobType":12,"policyType":-3,"state":true}"#,
            r#"{"jobType":1.5,"policyType":1e20,"state":false,"startTime":-0,"endTime":0}"#,
            r#"{"jobId":-0,"status":-0,"dedupRatio":-0,"kilobytesTransferred":0.0}"#,
            r#"{"dedupRatio":2.5,"numberOfFiles":3.0,"kilobytesTransferred":" 42 "}"#,
            r#"{"dedupRatio":1E2,"status":"-3","jobQueueReason":"1.0","numberOfFiles":"x"}"#,
            r#"{"jobType":"a\"b\\c\/d\b\f\n\r\t","state":"snow\u2603 smile\ud83d\ude00"}"#,
            r#"{"job\u0049d":7,"unknown":"x\u0000y","other":[[],[[]],{"a":{"b":null}}]}"#,
            r#"{"startTime":"2026-11-27T07:00:00.000Z","endTime":"客户端 o'brien"}"#,
            "{ \"jobId\" : 1 ,\n\t\"jobType\"\r: \"BACKUP\" }",
        ] {
            same(&page(attributes));
        }
        same(r#"{"data":[]}"#);
        same(r#"{"meta":null}"#);
        same(r#"{"data":[{"attributes":null},{},{"attributes":{}}],"meta":{"pagination":null}}"#);
        same(r#"{"links":{"next":{"href":"x"}},"data":[],"meta":{"pagination":{"next":7}}}"#);
        same(r#"  {"data":[{"attributes":{"jobId":1}}]}  "#);
    }

    #[test]
    fn floats_are_parsed_exactly() {
        for token in [
            "2.5",
            "0.1",
            "1.7976931348623157e308",
            "5e-324",
            "3.0000000000000004",
        ] {
            let text = page(&format!(r#"{{"dedupRatio":{token}}}"#));
            let read =
                jobs_page(&text).map(|p| p.data[0].attributes.as_ref().map(|a| a.dedup_ratio));
            assert_eq!(
                read,
                Ok(Some(Num::Valid(token.parse::<f64>().unwrap_or(f64::NAN))))
            );
        }
        // Beyond f64: an invalid value rather than a refused page.
        let text = page(r#"{"dedupRatio":1e400,"jobType":-1e400,"status":1e400}"#);
        let a = jobs_page(&text).map(|p| p.data.into_iter().next().and_then(|r| r.attributes));
        let a = a.ok().flatten().unwrap_or_default();
        assert_eq!(a.dedup_ratio, Num::Invalid);
        assert_eq!(a.status, Num::Invalid);
        assert!(a.job_type.is_invalid());
    }

    #[test]
    fn plain_strings_are_borrowed() {
        let text = page(r#"{"jobType":"BACKUP","state":"a\nb"}"#);
        let page = jobs_page(&text).unwrap_or_else(|e| panic!("{e:?}"));
        let a = page.data[0].attributes.as_ref();
        assert!(matches!(
            a.map(|a| &a.job_type),
            Some(Text::Valid(Cow::Borrowed("BACKUP")))
        ));
        assert!(matches!(a.map(|a| &a.state), Some(Text::Valid(Cow::Owned(s))) if s == "a\nb"));
    }

    #[test]
    fn what_serde_refuses_is_refused() {
        for text in [
            "",
            "   ",
            "null",
            r#"{"data":[]} x"#,
            r#"{"data":[]}{}"#,
            r#"{"data":null}"#,
            r#"{"data":[1]}"#,
            r#"{"data":[],"data":[]}"#,
            r#"{"data":[{"attributes":{},"attributes":{}}]}"#,
            r#"{"data":[{"attributes":"x"}]}"#,
            r#"{"data":[],"meta":{"pagination":{"next":"a","next":"b"}}}"#,
            r#"{"data":[],}"#,
            r#"{"data":[,]}"#,
            r#"{"data":[{"attributes":{"x":01}}]}"#,
            r#"{"data":[{"attributes":{"x":1.}}]}"#,
            r#"{"data":[{"attributes":{"x":.5}}]}"#,
            r#"{"data":[{"attributes":{"x":1e}}]}"#,
            r#"{"data":[{"attributes":{"x":-}}]}"#,
            r#"{"data":[{"attributes":{"x":+1}}]}"#,
            r#"{"data":[{"attributes":{"x":tru}}]}"#,
            r#"{"data":[{"attributes":{"x":"a\qb"}}]}"#,
            r#"{"data":[{"attributes":{"x":"\u12"}}]}"#,
            "{\"data\":[{\"attributes\":{\"x\":\"a\tb\"}}]}",
            r#"{"data":[{"attributes":{"jobType":"\ud800"}}]}"#,
            r#"{"data":[{"attributes":{"jobType":"\udc00x"}}]}"#,
            r#"{"data":[{"attributes":{"jobId":1,"jobId":2}}]}"#,
            r#"{"data":[{"attributes":{"jobId":1}}"#,
            r#"{"data":[{"attributes":{"jobId":"1"#,
            r#"{"data"[]}"#,
            r#"{'data':[]}"#,
        ] {
            refused(text);
            if text.contains("\\ud800") || text.contains("\\udc00") {
                continue; // serde_json's own verdict on lone surrogates is its own business
            }
            assert!(serde(text).is_err(), "serde accepts {text}");
        }
        // Shapes serde reads (a struct as an array of its members) and the reader leaves to it.
        for text in [
            "[]",
            r#"[[{"attributes":[7]}]]"#,
            r#"{"data":[{"attributes":[]}]}"#,
            r#"{"meta":[]}"#,
        ] {
            refused(text);
            let read = JobsPage::from_body(text.as_bytes()).map(|p| format!("{p:?}"));
            assert!(read.is_ok() && read == serde(text), "{text}");
        }
        let deep = format!("{{\"x\":{}{}}}", "[".repeat(200), "]".repeat(200));
        refused(&deep);
    }

    /// A JSON value of the shapes pages carry, as text.
    fn json_value() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            Just("null".to_owned()),
            Just("true".to_owned()),
            Just("false".to_owned()),
            any::<i64>().prop_map(|v| v.to_string()),
            any::<u64>().prop_map(|v| v.to_string()),
            (any::<i32>(), 0..4u32)
                .prop_map(|(v, d)| format!("{}", f64::from(v) / 10f64.powi(d as i32))),
            Just("123456789012345678901234567890".to_owned()),
            Just("-0".to_owned()),
            "\\PC{0,8}".prop_map(|s| serde_json::to_string(&s).unwrap_or_default()),
            prop::sample::select(vec![
                "\"BACKUP\"",
                "\"DONE\"",
                "\"a\\\"b\"",
                "\" 17 \"",
                "\"-4\"",
                "\"2026-11-27T07:00:00Z\""
            ])
            .prop_map(str::to_owned),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4)
                    .prop_map(|v| format!("[{}]", v.join(","))),
                prop::collection::vec((key(), inner), 0..4).prop_map(|m| {
                    let members: Vec<String> =
                        m.into_iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
                    format!("{{{}}}", members.join(","))
                }),
            ]
        })
    }

    fn key() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "jobId",
            "jobType",
            "policyType",
            "state",
            "status",
            "jobQueueReason",
            "kilobytesTransferred",
            "numberOfFiles",
            "dedupRatio",
            "startTime",
            "endTime",
            "lastUpdateTime",
            "data",
            "meta",
            "pagination",
            "next",
            "attributes",
            "id",
            "links",
            "x",
            "",
        ])
    }

    fn attributes() -> impl Strategy<Value = String> {
        prop::collection::vec((key(), json_value()), 0..14).prop_map(|m| {
            let members: Vec<String> = m
                .into_iter()
                .map(|(k, v)| format!("\"{k}\" : {v}"))
                .collect();
            format!("{{ {} }}", members.join(" ,"))
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        /// Whatever the direct reader accepts, the serde models read the same way.
        #[test]
        fn accepted_pages_read_as_with_serde(
            jobs in prop::collection::vec(prop_oneof![4 => attributes(), 1 => json_value()], 0..4),
            next in json_value(),
        ) {
            let data: Vec<String> = jobs.iter().map(|a| format!("{{\"type\":\"job\",\"attributes\":{a}}}")).collect();
            let text = format!("{{\"data\":[{}],\"meta\":{{\"pagination\":{{\"next\":{next}}}}}}}", data.join(","));
            if let Ok(read) = direct(&text) {
                prop_assert_eq!(Ok(read), serde(&text));
            }
        }
    }
}
