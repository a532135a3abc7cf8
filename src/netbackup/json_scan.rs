//! A byte scanner over one JSON document: it finds where each value ends without building
//! it, reads the scalars a caller asks for, and checks the document's structure strictly
//! (brackets, commas, colons, quotes, literals, nesting limited).
//!
//! What it skips is not checked beyond that structure: `memchr` finds the quotes and
//! backslashes of strings, a tight loop the end of numbers, bracket counting the end of
//! nested values. The readers of pages ([`super::jobs_reader`], [`super::storage_reader`])
//! build on it; a document it refuses is left to serde_json.

use std::borrow::Cow;

use memchr::memchr2;

/// Deepest nesting read (serde_json's own limit is 128).
const MAX_DEPTH: u32 = 100;

/// The scan stopped at this byte offset: the document is not one the scanner reads (truncated,
/// garbled, or of an unusual shape), and the caller falls back to serde_json.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ScanError(pub(super) usize);

/// What a step of the scan yields, or where the scan stopped.
pub(super) type Scanned<T> = Result<T, ScanError>;

/// A value where the models expect a scalar; objects and arrays are skipped.
pub(super) enum Value<'a> {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A string, borrowed unless it holds escapes.
    Str(Cow<'a, str>),
    /// The number's bytes (valid JSON) and whether it has neither fraction nor exponent.
    Number(&'a [u8], bool),
    /// An object or an array (skipped).
    Compound,
    /// A string that is not valid text.
    BadText,
    /// A malformed number.
    BadNumber,
}

/// A JSON number as serde_json hands it to a visitor.
pub(super) enum Number {
    /// A non-negative integer within 64 bits.
    U64(u64),
    /// A negative integer within 64 bits.
    I64(i64),
    /// Any other number (a fraction, an exponent, an integer beyond 64 bits, `-0`).
    F64(f64),
}

/// The value of a JSON number token (`integral`: it has neither fraction nor exponent).
pub(super) fn number(token: &[u8], integral: bool) -> Number {
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

/// The eight bytes of `s` from `at` (zero if there are fewer).
#[inline]
fn word(s: &[u8], at: usize) -> u64 {
    s.get(at..at + 8)
        .and_then(|c| <[u8; 8]>::try_from(c).ok())
        .map_or(0, u64::from_le_bytes)
}

/// `a == b` for short slices, inline eight bytes at a time.
#[inline]
pub(super) fn same_bytes(a: &[u8], b: &[u8]) -> bool {
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
pub(super) fn unescape(raw: &[u8]) -> Option<Vec<u8>> {
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

/// A position in one JSON document, and the nesting it is in.
pub(super) struct Scanner<'a> {
    /// The whole document.
    pub(super) bytes: &'a [u8],
    /// The offset of the next byte to read.
    pub(super) pos: usize,
    depth: u32,
}

impl<'a> Scanner<'a> {
    /// A scanner at the start of `bytes`.
    pub(super) fn new(bytes: &'a [u8]) -> Self {
        Self {
            bytes,
            pos: 0,
            depth: 0,
        }
    }

    /// Whether only whitespace is left.
    pub(super) fn at_end(&mut self) -> bool {
        self.ws();
        self.pos == self.bytes.len()
    }

    /// A stop at the current offset.
    pub(super) fn refuse<T>(&self) -> Scanned<T> {
        Err(ScanError(self.pos))
    }

    /// Skips whitespace.
    #[inline]
    pub(super) fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    /// The next byte after whitespace, not consumed.
    #[inline]
    pub(super) fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.bytes.get(self.pos).copied()
    }

    /// Consumes `c`, the next byte after whitespace.
    #[inline]
    pub(super) fn eat(&mut self, c: u8) -> Scanned<()> {
        if self.bytes.get(self.pos) == Some(&c) || self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            self.refuse()
        }
    }

    /// Consumes `word` (`true`, `false`, `null`), at the current offset.
    pub(super) fn literal(&mut self, word: &[u8]) -> Scanned<()> {
        if self.bytes.get(self.pos..self.pos + word.len()) == Some(word) {
            self.pos += word.len();
            Ok(())
        } else {
            self.refuse()
        }
    }

    /// Consumes `open` and enters one level of nesting.
    pub(super) fn open(&mut self, open: u8) -> Scanned<()> {
        self.eat(open)?;
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return self.refuse();
        }
        Ok(())
    }

    /// Leaves the nesting level entered by [`Scanner::open`], once its closing bracket is
    /// consumed (by [`Scanner::next_key`], [`Scanner::first_key`] or [`Scanner::more_items`]).
    pub(super) fn close(&mut self) {
        self.depth -= 1;
    }

    /// After `{`: the first member's name, or `None` at `}`.
    pub(super) fn first_key(&mut self) -> Scanned<Option<Cow<'a, [u8]>>> {
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(None);
        }
        self.key().map(Some)
    }

    /// After a member's value: the next member's name, or `None` at `}`.
    pub(super) fn next_key(&mut self) -> Scanned<Option<Cow<'a, [u8]>>> {
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
    pub(super) fn key(&mut self) -> Scanned<Cow<'a, [u8]>> {
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
    pub(super) fn more_items(&mut self, first: bool) -> Scanned<bool> {
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
    pub(super) fn raw_string(&mut self) -> Scanned<(&'a [u8], bool)> {
        let start = self.pos + 1;
        let mut i = start;
        let mut escaped = false;
        loop {
            match quote_or_backslash(self.bytes, i) {
                Some(at) if self.bytes.get(at) == Some(&b'"') => {
                    self.pos = at + 1;
                    return Ok((self.bytes.get(start..at).ok_or(ScanError(at))?, escaped));
                }
                // A backslash escapes the next byte, whatever it is.
                Some(at) => {
                    escaped = true;
                    i = at + 2;
                }
                None => return Err(ScanError(self.bytes.len())),
            }
        }
    }

    /// At `"`: skips the string. Its content is not checked.
    #[inline]
    pub(super) fn skip_string(&mut self) -> Scanned<()> {
        self.raw_string().map(drop)
    }

    /// At `-` or a digit: the number's bytes (checked by the caller).
    #[inline]
    pub(super) fn number_token(&mut self) -> &'a [u8] {
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
    pub(super) fn skip_nested(&mut self) -> Scanned<()> {
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
    pub(super) fn skip(&mut self) -> Scanned<()> {
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
    pub(super) fn value(&mut self) -> Scanned<Value<'a>> {
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

    /// Consumes a `null` if one is next; whether it did.
    pub(super) fn null(&mut self) -> Scanned<bool> {
        if self.peek() == Some(b'n') {
            self.literal(b"null")?;
            Ok(true)
        } else {
            Ok(false)
        }
    }

    /// Marks member `bit` of the document's structure as read; a second occurrence is
    /// refused, as by the derived models.
    pub(super) fn once(&self, seen: &mut u32, bit: u32) -> Scanned<()> {
        if *seen & (1 << bit) != 0 {
            return self.refuse();
        }
        *seen |= 1 << bit;
        Ok(())
    }

    /// At a value: skips it and returns its bytes.
    pub(super) fn raw_value(&mut self) -> Scanned<&'a [u8]> {
        self.ws();
        let start = self.pos;
        self.skip()?;
        self.bytes.get(start..self.pos).ok_or(ScanError(start))
    }

    /// After the document's whitespace: its `data` items and `meta`, unread.
    fn parts(&mut self) -> Scanned<PageParts<'a>> {
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
}

/// The raw parts of a page document: each item of `data`, and `meta`.
pub(super) struct PageParts<'a> {
    /// The bytes of each item of `data`, in order.
    pub(super) data: Vec<&'a [u8]>,
    /// The bytes of `meta`, if present.
    pub(super) meta: Option<&'a [u8]>,
}

/// Splits a page document into its records and its `meta`, checking only its structure (the
/// records are not read); `None` for a document that is not an object with at most one
/// `data` array and one `meta`.
pub(super) fn page_parts(bytes: &[u8]) -> Option<PageParts<'_>> {
    let mut scanner = Scanner::new(bytes);
    let parts = scanner.parts().ok()?;
    scanner.at_end().then_some(parts)
}
