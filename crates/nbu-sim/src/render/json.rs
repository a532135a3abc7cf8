//! A minimal JSON writer appending straight into a `String` (no value trees).
//!
//! Commas are inserted automatically: before a key or an array element, a comma is written
//! unless the previous character opens an object or an array.

use std::fmt::{self, Write};

/// Appends JSON text to a buffer.
#[derive(Debug, Default)]
pub(crate) struct JsonOut {
    buf: String,
}

impl JsonOut {
    /// A writer with room for `capacity` bytes.
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        JsonOut {
            buf: String::with_capacity(capacity),
        }
    }

    /// The text written so far.
    pub(crate) fn finish(self) -> String {
        self.buf
    }

    fn separate(&mut self) {
        if !matches!(self.buf.as_bytes().last(), None | Some(b'{' | b'[' | b':')) {
            self.buf.push(',');
        }
    }

    /// Writes `"name":` (the name must not need escaping).
    pub(crate) fn key(&mut self, name: &str) -> &mut Self {
        self.separate();
        self.buf.push('"');
        self.buf.push_str(name);
        self.buf.push_str("\":");
        self
    }

    /// Opens an object (as a value or an array element).
    pub(crate) fn begin_object(&mut self) -> &mut Self {
        self.separate();
        self.buf.push('{');
        self
    }

    /// Closes an object.
    pub(crate) fn end_object(&mut self) -> &mut Self {
        self.buf.push('}');
        self
    }

    /// Opens an array.
    pub(crate) fn begin_array(&mut self) -> &mut Self {
        self.separate();
        self.buf.push('[');
        self
    }

    /// Closes an array.
    pub(crate) fn end_array(&mut self) -> &mut Self {
        self.buf.push(']');
        self
    }

    /// Writes an escaped string value.
    pub(crate) fn str(&mut self, value: &str) -> &mut Self {
        self.separate();
        self.buf.push('"');
        escape_into(&mut self.buf, value);
        self.buf.push('"');
        self
    }

    /// Writes formatted text as an escaped string value, without an intermediate `String`.
    pub(crate) fn str_fmt(&mut self, args: fmt::Arguments<'_>) -> &mut Self {
        self.separate();
        self.buf.push('"');
        let _ = Escaper(&mut self.buf).write_fmt(args);
        self.buf.push('"');
        self
    }

    /// Writes an unsigned integer.
    pub(crate) fn u64(&mut self, value: u64) -> &mut Self {
        self.separate();
        let _ = write!(self.buf, "{value}");
        self
    }

    /// Writes a float with the shortest text that reads back as the same value
    /// (`null` for NaN and infinities, which JSON cannot carry).
    pub(crate) fn f64(&mut self, value: f64) -> &mut Self {
        self.separate();
        if value.is_finite() {
            let _ = write!(self.buf, "{value}");
        } else {
            self.buf.push_str("null");
        }
        self
    }

    /// Writes `token` verbatim as a value: the caller guarantees it is one valid JSON value
    /// (used for numbers no Rust type holds, such as `123456789012345678901234567890`).
    pub(crate) fn raw(&mut self, token: &str) -> &mut Self {
        self.separate();
        self.buf.push_str(token);
        self
    }

    /// Writes `true` or `false`.
    pub(crate) fn bool(&mut self, value: bool) -> &mut Self {
        self.separate();
        self.buf.push_str(if value { "true" } else { "false" });
        self
    }

    /// Writes `{"href":"<formatted>"}`.
    pub(crate) fn href(&mut self, args: fmt::Arguments<'_>) -> &mut Self {
        self.begin_object().key("href").str_fmt(args).end_object()
    }
}

/// Escapes `value` as the inside of a JSON string.
pub(crate) fn escape_into(out: &mut String, value: &str) {
    let mut rest = value;
    while let Some(pos) = rest.find(|c: char| c == '"' || c == '\\' || c < '\u{20}') {
        out.push_str(&rest[..pos]);
        let c = rest[pos..].chars().next().unwrap_or('\0');
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            other => {
                let _ = write!(out, "\\u{:04x}", u32::from(other));
            }
        }
        rest = &rest[pos + c.len_utf8()..];
    }
    out.push_str(rest);
}

/// A `fmt::Write` adapter that escapes everything written through it.
struct Escaper<'a>(&'a mut String);

impl Write for Escaper<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        escape_into(self.0, s);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_valid_json_with_commas_and_escapes() {
        let mut out = JsonOut::default();
        out.begin_object();
        out.key("a").u64(u64::MAX);
        out.key("b").str("q\"\\\n\u{1}é客");
        out.key("c")
            .begin_array()
            .u64(3)
            .f64(0.1)
            .f64(f64::NAN)
            .bool(true)
            .end_array();
        out.key("d").str_fmt(format_args!("{}-\"{}\"", 1, "x"));
        out.key("e").begin_object().end_object();
        out.key("f").href(format_args!("/x?a={}", 1));
        out.end_object();
        let text = out.finish();
        let value: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(value["a"], serde_json::json!(u64::MAX));
        assert_eq!(value["b"], "q\"\\\n\u{1}é客");
        assert_eq!(value["c"], serde_json::json!([3, 0.1, null, true]));
        assert_eq!(value["d"], "1-\"x\"");
        assert_eq!(value["f"]["href"], "/x?a=1");
    }
}
