//! A direct reader of `/admin/jobs` pages, the agent's hot path.
//!
//! A page carries about 2 KB of JSON per job, of which the agent reads 14 attributes. This
//! reader walks the document once: it matches the member names [`JobsPage`] declares, converts
//! their values with the tolerant rules of [`super::lenient`], and skips everything else with a
//! byte scan that only finds where each value ends (`memchr` for the quotes and backslashes of
//! strings, a tight loop for numbers, bracket counting for nested values).
//!
//! Tolerance is per record. What the agent does not read is not checked: bytes that are not
//! UTF-8, control characters or unknown escapes inside a skipped string keep the record. A
//! record that is broken in a member the agent reads (such a string that is not valid text, a
//! malformed number, a member that appears twice) is kept in the page with a
//! [`RecordDefect`], so the caller skips and counts that one record and keeps the others.
//! The document's structure is read strictly (brackets, commas, colons, quotes, literals,
//! nesting limited): a truncated or garbled document is refused as a whole.
//!
//! It handles the usual document shape only and refuses anything else (an unexpected type for
//! `data`, a resource that is not an object, ...). [`JobsPage::from_body`] then reads the body
//! with serde_json, so an unusual document is read, or refused with serde_json's message,
//! exactly as by the serde models.
//!
//! Differences from the serde models, all deliberate: floats are parsed with
//! `str::parse::<f64>` (correctly rounded; serde_json without `float_roundtrip` may be one ULP
//! off); a number beyond the range of `f64` (such as `1e400`) is an invalid value where
//! serde_json refuses the whole page; and the per-record tolerance above, where serde_json
//! refuses the whole page.

use std::borrow::Cow;

use memchr::memchr2;

use super::lenient::{FromJsonNumber, Num, Text};
use super::models::{
    CursorMeta, CursorPagination, JobAttributes, JobResource, JobsPage, PageDocument, RecordDefect,
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
    ClientName,
    PolicyName,
    ParentJobId,
    JobSubType,
    ScheduleName,
    DestinationStorageUnitName,
    DestinationMediaServerName,
    Try,
    Other,
}

impl Field {
    const NAMED: [Field; 20] = [
        Field::JobId,
        Field::JobType,
        Field::PolicyType,
        Field::State,
        Field::Status,
        Field::JobQueueReason,
        Field::KilobytesTransferred,
        Field::NumberOfFiles,
        Field::DedupRatio,
        Field::StartTime,
        Field::EndTime,
        Field::LastUpdateTime,
        Field::ClientName,
        Field::PolicyName,
        Field::ParentJobId,
        Field::JobSubType,
        Field::ScheduleName,
        Field::DestinationStorageUnitName,
        Field::DestinationMediaServerName,
        Field::Try,
    ];

    fn name(self) -> &'static str {
        match self {
            Field::JobId => "jobId",
            Field::JobType => "jobType",
            Field::PolicyType => "policyType",
            Field::State => "state",
            Field::Status => "status",
            Field::JobQueueReason => "jobQueueReason",
            Field::KilobytesTransferred => "kilobytesTransferred",
            Field::NumberOfFiles => "numberOfFiles",
            Field::DedupRatio => "dedupRatio",
            Field::StartTime => "startTime",
            Field::EndTime => "endTime",
            Field::LastUpdateTime => "lastUpdateTime",
            Field::ClientName => "clientName",
            Field::PolicyName => "policyName",
            Field::ParentJobId => "parentJobId",
            Field::JobSubType => "jobSubType",
            Field::ScheduleName => "scheduleName",
            Field::DestinationStorageUnitName => "destinationStorageUnitName",
            Field::DestinationMediaServerName => "destinationMediaServerName",
            Field::Try => "try",
            Field::Other => "",
        }
    }

    /// Whether the field only labels the per-client families or describes a job event: a
    /// broken or repeated one leaves the job out of those families (or the event without that
    /// attribute), never out of the other gauges.
    fn is_label_only(self) -> bool {
        matches!(
            self,
            Field::ClientName
                | Field::PolicyName
                | Field::ParentJobId
                | Field::JobSubType
                | Field::ScheduleName
                | Field::DestinationStorageUnitName
                | Field::DestinationMediaServerName
                | Field::Try
        )
    }

    /// The field named `name` (unescaped bytes), compared by length first.
    fn of(name: &[u8]) -> Self {
        Self::NAMED
            .into_iter()
            .find(|f| f.name().as_bytes() == name)
            .unwrap_or(Field::Other)
    }
}

/// The reader gave up at this byte offset; the caller falls back to serde_json.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Refused(pub(crate) usize);

type Read<T> = Result<T, Refused>;

impl<'a> PageDocument<'a> for JobsPage<'a> {
    /// The usual document is read by the direct reader; anything it does not handle is read by
    /// serde_json with the same models, so it is accepted or refused as by them, with
    /// serde_json's message.
    fn from_body(body: &'a [u8]) -> Result<Self, serde_json::Error> {
        jobs_page(body).or_else(|_| serde_json::from_slice(body))
    }
}

/// Reads a whole `/admin/jobs` document.
pub(crate) fn jobs_page(bytes: &[u8]) -> Read<JobsPage<'_>> {
    let mut reader = Reader {
        bytes,
        pos: 0,
        depth: 0,
        layout: Vec::new(),
    };
    let page = reader.page()?;
    reader.ws();
    if reader.pos != bytes.len() {
        return reader.refuse();
    }
    Ok(page)
}

/// The raw parts of a page document: each item of `data`, and `meta`.
pub(crate) struct PageParts<'a> {
    /// The bytes of each item of `data`, in order.
    pub(crate) data: Vec<&'a [u8]>,
    /// The bytes of `meta`, if present.
    pub(crate) meta: Option<&'a [u8]>,
}

/// Splits a page document into its records and its `meta`, checking only its structure (the
/// records are not read); `None` for a document that is not an object with at most one
/// `data` array and one `meta`.
pub(crate) fn page_parts(bytes: &[u8]) -> Option<PageParts<'_>> {
    let mut reader = Reader {
        bytes,
        pos: 0,
        depth: 0,
        layout: Vec::new(),
    };
    let parts = reader.parts().ok()?;
    reader.ws();
    (reader.pos == bytes.len()).then_some(parts)
}

/// A value where the models expect a scalar; objects and arrays are skipped.
enum Value<'a> {
    Null,
    Bool(bool),
    Str(Cow<'a, str>),
    /// The number's bytes (valid JSON) and whether it has neither fraction nor exponent.
    Number(&'a [u8], bool),
    Compound,
    /// A string that is not valid text.
    BadText,
    /// A malformed number.
    BadNumber,
}

/// A JSON number as serde_json hands it to a visitor.
enum Number {
    U64(u64),
    I64(i64),
    F64(f64),
}

fn number(token: &[u8], integral: bool) -> Number {
    // Most numbers are small unsigned integers: read their digits directly.
    if integral && (1..=19).contains(&token.len()) && token.first() != Some(&b'-') {
        return Number::U64(
            token
                .iter()
                .fold(0, |n, &d| n * 10 + u64::from(d.wrapping_sub(b'0'))),
        );
    }
    // JSON numbers are ASCII.
    let text = std::str::from_utf8(token).unwrap_or_default();
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

/// A value the record cannot be read with.
struct Bad(RecordDefect);

fn num<T: FromJsonNumber>(value: Value<'_>, field: Field) -> Result<Num<T>, Bad> {
    Ok(match value {
        Value::Null => Num::Absent,
        Value::Bool(_) | Value::Compound => Num::Invalid,
        Value::Str(s) => Num::from_quoted(&s),
        Value::Number(text, integral) => match number(text, integral) {
            Number::U64(v) => Num::from_u64(v),
            Number::I64(v) => Num::from_i64(v),
            Number::F64(v) => Num::from_f64(v),
        },
        Value::BadText => return Err(Bad(RecordDefect::BadText(field.name()))),
        Value::BadNumber => return Err(Bad(RecordDefect::BadNumber(field.name()))),
    })
}

fn text(value: Value<'_>, field: Field) -> Result<Text<'_>, Bad> {
    Ok(match value {
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
        Value::BadText => return Err(Bad(RecordDefect::BadText(field.name()))),
        Value::BadNumber => return Err(Bad(RecordDefect::BadNumber(field.name()))),
    })
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

/// The first `"` or `\\` at or after `i`. Most strings are short: their first 64 bytes are
/// searched inline, eight at a time, and only a longer rest with `memchr`.
#[inline]
fn quote_or_backslash(bytes: &[u8], i: usize) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    const QUOTES: u64 = ONES * b'"' as u64;
    const BACKSLASHES: u64 = ONES * b'\\' as u64;
    let mut at = i;
    while at < i + 64 {
        let Some(chunk) = bytes.get(at..at + 8) else {
            break;
        };
        let w = <[u8; 8]>::try_from(chunk).map_or(0, u64::from_le_bytes);
        let q = w ^ QUOTES;
        let b = w ^ BACKSLASHES;
        // The lowest flagged byte is exact (borrows only propagate upwards from a match).
        let found = (q.wrapping_sub(ONES) & !q | b.wrapping_sub(ONES) & !b) & HIGHS;
        if found != 0 {
            return Some(at + (found.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    memchr2(b'"', b'\\', bytes.get(at..)?).map(|found| at + found)
}

/// Bytes that may continue a number once its first byte is read.
#[inline]
fn in_number(c: u8) -> bool {
    matches!(c, b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-')
}

/// Whether `token` is a JSON number, and whether it is an integer.
fn number_syntax(token: &[u8]) -> Option<bool> {
    let digits = |mut i: usize| {
        while let Some(b'0'..=b'9') = token.get(i) {
            i += 1;
        }
        i
    };
    let mut i = usize::from(token.first() == Some(&b'-'));
    match token.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => i = digits(i + 1),
        _ => return None,
    }
    let mut integral = true;
    if token.get(i) == Some(&b'.') {
        integral = false;
        let end = digits(i + 1);
        if end == i + 1 {
            return None;
        }
        i = end;
    }
    if let Some(b'e' | b'E') = token.get(i) {
        integral = false;
        i += 1;
        if let Some(b'+' | b'-') = token.get(i) {
            i += 1;
        }
        let end = digits(i);
        if end == i {
            return None;
        }
        i = end;
    }
    (i == token.len()).then_some(integral)
}

/// Decodes the escapes of a string's raw content; `None` for an unknown escape or a lone
/// surrogate.
fn unescape(raw: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while let Some(at) = memchr::memchr(b'\\', raw.get(i..)?).map(|at| i + at) {
        out.extend_from_slice(raw.get(i..at)?);
        let escape = raw.get(at + 1).copied();
        i = at + 2;
        let c = match escape {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                let high = hex4(raw, i)?;
                i += 4;
                let code = match high {
                    0xD800..=0xDBFF => {
                        if raw.get(i..i + 2) != Some(b"\\u") {
                            return None;
                        }
                        let low = hex4(raw, i + 2)?;
                        if !(0xDC00..=0xDFFF).contains(&low) {
                            return None;
                        }
                        i += 6;
                        0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
                    }
                    0xDC00..=0xDFFF => return None,
                    _ => high,
                };
                char::from_u32(code)?
            }
            _ => return None,
        };
        let mut buf = [0; 4];
        out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
    }
    out.extend_from_slice(raw.get(i..)?);
    Some(out)
}

fn hex4(raw: &[u8], at: usize) -> Option<u32> {
    let digits = raw.get(at..at + 4)?;
    let mut v = 0;
    for &d in digits {
        v = v * 16 + char::from(d).to_digit(16)?;
    }
    Some(v)
}

/// The text of a string's raw content (between its quotes), or `None` if it is not valid
/// text: not UTF-8, a control character, an unknown escape, a lone surrogate.
fn decode_text(raw: &[u8], escaped: bool) -> Option<Cow<'_, str>> {
    if raw.iter().any(|&c| c < 0x20) {
        return None;
    }
    if escaped {
        String::from_utf8(unescape(raw)?).ok().map(Cow::Owned)
    } else {
        std::str::from_utf8(raw).ok().map(Cow::Borrowed)
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    depth: u32,
    /// The member names of the attributes read so far, in document order, as their raw
    /// tokens (quotes and colon included, no escapes) with the field each one fills.
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

    #[inline]
    fn eat(&mut self, c: u8) -> Read<()> {
        if self.bytes.get(self.pos) == Some(&c) || self.peek() == Some(c) {
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
    fn first_key(&mut self) -> Read<Option<Cow<'a, [u8]>>> {
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(None);
        }
        self.key().map(Some)
    }

    /// After a member's value: the next member's name, or `None` at `}`.
    fn next_key(&mut self) -> Read<Option<Cow<'a, [u8]>>> {
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

    /// A member's name, unescaped (a name with a bad escape is kept raw: it matches no
    /// declared member), and its colon.
    fn key(&mut self) -> Read<Cow<'a, [u8]>> {
        if self.peek() != Some(b'"') {
            return self.refuse();
        }
        let (raw, escaped) = self.raw_string()?;
        self.eat(b':')?;
        Ok(match escaped.then(|| unescape(raw)).flatten() {
            Some(name) => Cow::Owned(name),
            None => Cow::Borrowed(raw),
        })
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

    /// At `"`: the string's raw content, and whether it holds a backslash.
    #[inline]
    fn raw_string(&mut self) -> Read<(&'a [u8], bool)> {
        let start = self.pos + 1;
        let mut i = start;
        let mut escaped = false;
        loop {
            match quote_or_backslash(self.bytes, i) {
                Some(at) if self.bytes.get(at) == Some(&b'"') => {
                    self.pos = at + 1;
                    return Ok((self.bytes.get(start..at).ok_or(Refused(at))?, escaped));
                }
                // A backslash escapes the next byte, whatever it is.
                Some(at) => {
                    escaped = true;
                    i = at + 2;
                }
                None => return Err(Refused(self.bytes.len())),
            }
        }
    }

    /// At `"`: skips the string. Its content is not checked.
    #[inline]
    fn skip_string(&mut self) -> Read<()> {
        self.raw_string().map(drop)
    }

    /// At `-` or a digit: the number's bytes (checked by the caller).
    #[inline]
    fn number_token(&mut self) -> &'a [u8] {
        let start = self.pos;
        let mut i = start + 1;
        while self.bytes.get(i).is_some_and(|&c| in_number(c)) {
            i += 1;
        }
        self.pos = i;
        self.bytes.get(start..i).unwrap_or_default()
    }

    /// At `{` or `[`: skips the nested value, counting brackets and skipping strings. Its
    /// content is not checked beyond that.
    fn skip_nested(&mut self) -> Read<()> {
        let base = self.depth;
        let mut i = self.pos;
        loop {
            match self.bytes.get(i) {
                Some(b'"') => {
                    self.pos = i;
                    self.skip_string()?;
                    i = self.pos;
                    continue;
                }
                Some(b'{' | b'[') => {
                    self.depth += 1;
                    if self.depth > MAX_DEPTH {
                        self.pos = i;
                        return self.refuse();
                    }
                }
                Some(b'}' | b']') => {
                    self.depth -= 1;
                    if self.depth == base {
                        self.pos = i + 1;
                        return Ok(());
                    }
                }
                Some(_) => {}
                None => {
                    self.pos = i;
                    return self.refuse();
                }
            }
            i += 1;
        }
    }

    /// Skips any value.
    #[inline]
    fn skip(&mut self) -> Read<()> {
        match self.peek() {
            Some(b'"') => self.skip_string(),
            Some(b'{' | b'[') => self.skip_nested(),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(b'-' | b'0'..=b'9') => {
                self.number_token();
                Ok(())
            }
            _ => self.refuse(),
        }
    }

    /// A value where a scalar is expected.
    fn value(&mut self) -> Read<Value<'a>> {
        Ok(match self.peek() {
            Some(b'"') => {
                let (raw, escaped) = self.raw_string()?;
                decode_text(raw, escaped).map_or(Value::BadText, Value::Str)
            }
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
                let token = self.number_token();
                match number_syntax(token) {
                    Some(integral) => Value::Number(token, integral),
                    None => Value::BadNumber,
                }
            }
            Some(b'{' | b'[') => {
                self.skip_nested()?;
                Value::Compound
            }
            _ => return self.refuse(),
        })
    }

    /// A value of the document's structure (a cursor): one that is not valid refuses the
    /// page.
    fn structural_text(&mut self) -> Read<Text<'a>> {
        let at = self.pos;
        text(self.value()?, Field::Other).map_err(|_| Refused(at))
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

    /// Marks member `bit` of the document's structure as read; a second occurrence is
    /// refused, as by the derived models.
    fn once(&self, seen: &mut u32, bit: u32) -> Read<()> {
        if *seen & (1 << bit) != 0 {
            return self.refuse();
        }
        *seen |= 1 << bit;
        Ok(())
    }

    /// At a value: skips it and returns its bytes.
    fn raw_value(&mut self) -> Read<&'a [u8]> {
        self.ws();
        let start = self.pos;
        self.skip()?;
        self.bytes.get(start..self.pos).ok_or(Refused(start))
    }

    fn parts(&mut self) -> Read<PageParts<'a>> {
        self.open(b'{')?;
        let mut seen = 0;
        let mut parts = PageParts {
            data: Vec::new(),
            meta: None,
        };
        let mut key = self.first_key()?;
        while let Some(k) = key {
            match &*k {
                b"data" => {
                    self.once(&mut seen, 0)?;
                    self.open(b'[')?;
                    let mut first = true;
                    while self.more_items(first)? {
                        first = false;
                        parts.data.push(self.raw_value()?);
                    }
                    self.close();
                }
                b"meta" => {
                    self.once(&mut seen, 1)?;
                    parts.meta = Some(self.raw_value()?);
                }
                _ => self.skip()?,
            }
            key = self.next_key()?;
        }
        self.close();
        Ok(parts)
    }

    fn page(&mut self) -> Read<JobsPage<'a>> {
        self.open(b'{')?;
        let mut seen = 0;
        let mut data = Vec::new();
        let mut meta = None;
        let mut key = self.first_key()?;
        while let Some(k) = key {
            match &*k {
                b"data" => {
                    self.once(&mut seen, 0)?;
                    data = self.resources()?;
                }
                b"meta" => {
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
            resources.push(JobResource {
                attributes: None,
                defect: None,
            });
            if let Some(slot) = resources.last_mut() {
                self.resource(slot)?;
            }
        }
        self.close();
        Ok(resources)
    }

    fn resource(&mut self, slot: &mut JobResource<'a>) -> Read<()> {
        self.open(b'{')?;
        let mut seen = false;
        let mut key = self.first_key()?;
        while let Some(k) = key {
            if &*k == b"attributes" {
                if seen {
                    slot.defect
                        .get_or_insert(RecordDefect::Duplicate("attributes"));
                }
                seen = true;
                if self.peek() == Some(b'n') {
                    self.literal(b"null")?;
                    slot.attributes = None;
                } else {
                    let attributes = slot.attributes.insert(JobAttributes::default());
                    if let Err(Bad(defect)) = self.attributes(attributes)? {
                        slot.defect.get_or_insert(defect);
                    }
                }
            } else {
                self.skip()?;
            }
            key = self.next_key()?;
        }
        self.close();
        Ok(())
    }

    /// Reads the attributes into `a`: the outer result is the document's structure, the
    /// inner one the record's first defect (the rest of the record is still read past).
    fn attributes(&mut self, a: &mut JobAttributes<'a>) -> Read<Result<(), Bad>> {
        self.open(b'{')?;
        if self.peek() == Some(b'}') {
            self.pos += 1;
            self.close();
            return Ok(Ok(()));
        }
        let mut seen = 0u32;
        let mut expected = 0;
        let mut defect = None;
        loop {
            let field = self.attribute_name(&mut expected)?;
            if field == Field::Other {
                match self.bytes.get(self.pos) {
                    Some(b'"') => self.skip_string()?,
                    Some(b'0'..=b'9') => {
                        self.number_token();
                    }
                    _ => self.skip()?,
                }
            } else {
                let value = self.value()?;
                let read = if seen & (1 << field as u32) != 0 {
                    if field.is_label_only() {
                        // The first one stands; the job stays in every other gauge.
                        Ok(())
                    } else {
                        Err(Bad(RecordDefect::Duplicate(field.name())))
                    }
                } else {
                    seen |= 1 << field as u32;
                    Self::fill(a, field, value)
                };
                if let Err(bad) = read {
                    defect.get_or_insert(bad);
                }
            }
            match self.bytes.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    break;
                }
                _ => match self.peek() {
                    Some(b',') => self.pos += 1,
                    Some(b'}') => {
                        self.pos += 1;
                        break;
                    }
                    _ => return self.refuse(),
                },
            }
        }
        self.close();
        Ok(defect.map_or(Ok(()), Err))
    }

    /// Stores the value of a declared member.
    fn fill(a: &mut JobAttributes<'a>, field: Field, value: Value<'a>) -> Result<(), Bad> {
        match field {
            Field::JobId => a.job_id = num(value, field)?,
            Field::JobType => a.job_type = text(value, field)?,
            Field::PolicyType => a.policy_type = text(value, field)?,
            Field::State => a.state = text(value, field)?,
            Field::Status => a.status = num(value, field)?,
            Field::JobQueueReason => a.job_queue_reason = num(value, field)?,
            Field::KilobytesTransferred => a.kilobytes_transferred = num(value, field)?,
            Field::NumberOfFiles => a.number_of_files = num(value, field)?,
            Field::DedupRatio => a.dedup_ratio = num(value, field)?,
            Field::StartTime => a.start_time = text(value, field)?,
            Field::EndTime => a.end_time = text(value, field)?,
            Field::LastUpdateTime => a.last_update_time = text(value, field)?,
            // Names only label the per-client families: a broken one leaves that job out of
            // them, never out of the other gauges.
            Field::ClientName => a.client_name = text(value, field).unwrap_or(Text::Invalid),
            Field::PolicyName => a.policy_name = text(value, field).unwrap_or(Text::Invalid),
            // Details of a job event: a broken one leaves that attribute out of the event.
            Field::ParentJobId => a.parent_job_id = num(value, field).unwrap_or(Num::Invalid),
            Field::JobSubType => a.job_sub_type = text(value, field).unwrap_or(Text::Invalid),
            Field::ScheduleName => a.schedule_name = text(value, field).unwrap_or(Text::Invalid),
            Field::DestinationStorageUnitName => {
                a.destination_storage_unit_name = text(value, field).unwrap_or(Text::Invalid)
            }
            Field::DestinationMediaServerName => {
                a.destination_media_server_name = text(value, field).unwrap_or(Text::Invalid)
            }
            Field::Try => a.try_count = num(value, field).unwrap_or(Num::Invalid),
            Field::Other => {}
        }
        Ok(())
    }

    /// Reads the name of a member of `attributes` and its colon. Consecutive jobs carry the
    /// same names in the same order, so the name is first compared, as raw bytes, with the one
    /// at this place of the layout learned from earlier jobs (or the next two, for jobs that
    /// lack a member); only a name that differs is scanned and matched, and the layout
    /// resynchronised.
    #[inline]
    fn attribute_name(&mut self, expected: &mut usize) -> Read<Field> {
        if self.bytes.get(self.pos) != Some(&b'"') {
            self.ws();
        }
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
        let (name, escaped) = self.raw_string()?;
        let field = if escaped {
            unescape(name).map_or(Field::Other, |n| Field::of(&n))
        } else {
            Field::of(name)
        };
        // The layout keeps the name with its colon when nothing separates them.
        let tight = self.bytes.get(self.pos) == Some(&b':');
        self.eat(b':')?;
        if let (false, true, Some(raw)) = (escaped, tight, self.bytes.get(start..self.pos)) {
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
            if &*k == b"pagination" {
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
            if &*k == b"next" {
                self.once(&mut seen, 0)?;
                next = self.structural_text()?;
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
        jobs_page(text.as_bytes()).map(|p| format!("{p:?}"))
    }

    /// The defect of each record of `body` as the direct reader reads it.
    fn defects(body: &[u8]) -> Vec<Option<RecordDefect>> {
        let page = jobs_page(body).unwrap_or_else(|e| panic!("refused at {}", e.0));
        page.data.iter().map(|r| r.defect).collect()
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
        use nbu_sim::{self as sim, Dataset, SimConfig};
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
            let read = JobsPage::from_body(body.as_bytes())
                .map(|p| format!("{p:?}"))
                .map_err(|e| e.to_string());
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
            let read = jobs_page(text.as_bytes())
                .map(|p| p.data[0].attributes.as_ref().map(|a| a.dedup_ratio));
            assert_eq!(
                read,
                Ok(Some(Num::Valid(token.parse::<f64>().unwrap_or(f64::NAN))))
            );
        }
        // Beyond f64: an invalid value rather than a refused page.
        let text = page(r#"{"dedupRatio":1e400,"jobType":-1e400,"status":1e400}"#);
        let a = jobs_page(text.as_bytes())
            .map(|p| p.data.into_iter().next().and_then(|r| r.attributes));
        let a = a.ok().flatten().unwrap_or_default();
        assert_eq!(a.dedup_ratio, Num::Invalid);
        assert_eq!(a.status, Num::Invalid);
        assert_eq!(a.job_type, Text::Invalid);
    }

    #[test]
    fn plain_strings_are_borrowed() {
        let text = page(r#"{"jobType":"BACKUP","state":"a\nb"}"#);
        let page = jobs_page(text.as_bytes()).unwrap_or_else(|e| panic!("{e:?}"));
        let a = page.data[0].attributes.as_ref();
        assert!(matches!(
            a.map(|a| &a.job_type),
            Some(Text::Valid(Cow::Borrowed("BACKUP")))
        ));
        assert!(matches!(a.map(|a| &a.state), Some(Text::Valid(Cow::Owned(s))) if s == "a\nb"));
    }

    #[test]
    fn broken_documents_are_refused() {
        for text in [
            "",
            "   ",
            "null",
            r#"{"data":[]} x"#,
            r#"{"data":[]}{}"#,
            r#"{"data":null}"#,
            r#"{"data":[1]}"#,
            r#"{"data":[],"data":[]}"#,
            r#"{"data":[{"attributes":"x"}]}"#,
            r#"{"data":[],"meta":{"pagination":{"next":"a","next":"b"}}}"#,
            r#"{"data":[],"meta":{"pagination":{"next":"a\qb"}}}"#,
            r#"{"data":[],}"#,
            r#"{"data":[,]}"#,
            r#"{"data":[{"attributes":{"x":.5}}]}"#,
            r#"{"data":[{"attributes":{"x":+1}}]}"#,
            r#"{"data":[{"attributes":{"x":tru}}]}"#,
            r#"{"data":[{"attributes":{"x":[1,{"a":2}}}]}"#,
            r#"{"data":[{"attributes":{"jobId":1}}"#,
            r#"{"data":[{"attributes":{"jobId":"1"#,
            r#"{"data":[{"attributes":{"x":"1\"}}]}"#,
            r#"{"data"[]}"#,
            r#"{'data':[]}"#,
        ] {
            refused(text);
            assert!(serde(text).is_err(), "serde accepts {text}");
        }
        // Broken bytes between tokens break the document.
        assert!(jobs_page(b"{\xc3(\"data\":[]}").is_err());
        // Shapes serde reads (a struct as an array of its members) and the reader leaves to it.
        for text in [
            "[]",
            r#"[[{"attributes":[7]}]]"#,
            r#"{"data":[{"attributes":[]}]}"#,
            r#"{"meta":[]}"#,
        ] {
            refused(text);
            let read = JobsPage::from_body(text.as_bytes())
                .map(|p| format!("{p:?}"))
                .map_err(|e| e.to_string());
            assert!(read.is_ok() && read == serde(text), "{text}");
        }
        let deep = format!("{{\"x\":{}{}}}", "[".repeat(200), "]".repeat(200));
        refused(&deep);
    }

    /// A page of three jobs whose second one carries `member`, the others are clean.
    fn three_jobs(member: &[u8]) -> Vec<u8> {
        let mut body = br#"{"data":[{"attributes":{"jobId":1,"jobType":"BACKUP"}},"#.to_vec();
        body.extend_from_slice(br#"{"attributes":{"jobId":2,"#);
        body.extend_from_slice(member);
        body.extend_from_slice(br#","jobType":"BACKUP"}},{"attributes":{"jobId":3}}],"#);
        body.extend_from_slice(br#""meta":{"pagination":{"next":"3"}}}"#);
        body
    }

    #[test]
    fn what_the_agent_does_not_read_is_not_checked() {
        for member in [
            &b"\"clientName\":\"vm\xc3\x28web\""[..],
            b"\"clientName\":\"\xff\xfe\"",
            b"\"clientName\":\"a\tb\"",
            b"\"clientName\":\"a\\qb\"",
            b"\"clientName\":\"\\u12\"",
            b"\"clientName\":\"\\ud800\"",
            b"\"x\xff\":1",
            b"\"x\":01",
            b"\"x\":1.",
            b"\"x\":1e",
            b"\"x\":-",
            b"\"x\":{\"a\":[\"\xff]}\",{}]}",
        ] {
            let body = three_jobs(member);
            let quoted = String::from_utf8_lossy(member);
            assert_eq!(defects(&body), vec![None; 3], "{quoted}");
            let page = JobsPage::from_body(&body).unwrap_or_else(|e| panic!("{quoted}: {e}"));
            let second = page.data.get(1).and_then(|r| r.attributes.as_ref());
            assert_eq!(second.map(|a| a.job_id), Some(Num::Valid(2)), "{quoted}");
            assert_eq!(
                second.and_then(|a| a.job_type.as_str()),
                Some("BACKUP"),
                "{quoted}"
            );
        }
    }

    #[test]
    fn a_record_broken_in_a_member_the_agent_reads_is_marked_and_the_rest_read() {
        use RecordDefect::{BadNumber, BadText, Duplicate};
        for (member, defect) in [
            (&b"\"state\":\"DO\xc3\x28NE\""[..], BadText("state")),
            (b"\"startTime\":\"\xff\"", BadText("startTime")),
            (b"\"policyType\":\"a\tb\"", BadText("policyType")),
            (b"\"state\":\"\\ud800\"", BadText("state")),
            (b"\"state\":\"\\udc00x\"", BadText("state")),
            (b"\"endTime\":\"a\\qb\"", BadText("endTime")),
            (b"\"status\":\"\xff1\"", BadText("status")),
            (b"\"status\":01", BadNumber("status")),
            (
                b"\"kilobytesTransferred\":1.",
                BadNumber("kilobytesTransferred"),
            ),
            (b"\"jobId\":7", Duplicate("jobId")),
            (b"\"jobType\":null,\"jobType\":\"x\"", Duplicate("jobType")),
        ] {
            let body = three_jobs(member);
            let quoted = String::from_utf8_lossy(member);
            assert_eq!(defects(&body), vec![None, Some(defect), None], "{quoted}");
            // The other records are read as they are.
            let page = JobsPage::from_body(&body).unwrap_or_else(|e| panic!("{quoted}: {e}"));
            let ids: Vec<_> = page
                .data
                .iter()
                .filter(|r| r.defect.is_none())
                .filter_map(|r| r.attributes.as_ref()?.job_id.valid())
                .collect();
            assert_eq!(ids, [1, 3], "{quoted}");
        }
        let twice = br#"{"data":[{"attributes":{},"attributes":{}},{"attributes":{}}]}"#;
        assert_eq!(
            defects(twice),
            [Some(RecordDefect::Duplicate("attributes")), None]
        );
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

        /// Whatever the direct reader accepts, the serde models read the same way, record by
        /// record: a record serde refuses is one the reader marks as broken.
        #[test]
        fn accepted_pages_read_as_with_serde(
            jobs in prop::collection::vec(prop_oneof![4 => attributes(), 1 => json_value()], 0..4),
            next in json_value(),
        ) {
            let data: Vec<String> = jobs.iter().map(|a| format!("{{\"type\":\"job\",\"attributes\":{a}}}")).collect();
            let text = format!("{{\"data\":[{}],\"meta\":{{\"pagination\":{{\"next\":{next}}}}}}}", data.join(","));
            if let Ok(read) = jobs_page(text.as_bytes()) {
                prop_assert_eq!(read.data.len(), data.len());
                for (record, json) in read.data.iter().zip(&data) {
                    let alone = format!("{{\"data\":[{json}]}}");
                    match serde_json::from_str::<JobsPage<'_>>(&alone) {
                        Ok(page) => prop_assert_eq!(format!("{record:?}"), format!("{:?}", page.data[0])),
                        Err(_) => prop_assert!(record.defect.is_some(), "{}", json),
                    }
                }
                let meta = format!("{{\"meta\":{{\"pagination\":{{\"next\":{next}}}}}}}");
                let expected = serde_json::from_str::<JobsPage<'_>>(&meta).map(|p| format!("{:?}", p.meta));
                prop_assert_eq!(Ok(format!("{:?}", read.meta)), expected.map_err(|e| e.to_string()));
            }
        }
    }
}
