//! Tolerant value types for response attributes.
//!
//! NetBackup adds, drops and re-types attributes between versions. An attribute the agent needs
//! must never fail a whole page: a missing or `null` value is "absent", and a value of the wrong
//! kind or out of range is "invalid" (skipped and counted by the aggregation).

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// A numeric attribute: absent (missing or `null`), a valid value, or invalid.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Num<T> {
    /// Missing or `null`.
    #[default]
    Absent,
    /// A value within the type's range.
    Valid(T),
    /// Present but not representable (negative count, fraction, text, beyond 2^64, NaN, ...).
    Invalid,
}

impl<T: Copy> Num<T> {
    /// The valid value, if any.
    pub fn valid(self) -> Option<T> {
        match self {
            Num::Valid(v) => Some(v),
            _ => None,
        }
    }
}

/// Conversion from the JSON number kinds into a target numeric type.
pub trait FromJsonNumber: Sized + Copy {
    /// From an unsigned integer.
    fn from_u64(v: u64) -> Option<Self>;
    /// From a signed integer.
    fn from_i64(v: i64) -> Option<Self>;
    /// From a float (JSON numbers beyond 64-bit integers arrive as floats).
    fn from_f64(v: f64) -> Option<Self>;
}

impl FromJsonNumber for u64 {
    fn from_u64(v: u64) -> Option<Self> {
        Some(v)
    }
    fn from_i64(v: i64) -> Option<Self> {
        u64::try_from(v).ok()
    }
    fn from_f64(v: f64) -> Option<Self> {
        // Integral floats within range only (2^64 itself is out of range).
        (v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v < 18_446_744_073_709_551_616.0)
            .then_some(v as u64)
    }
}

impl FromJsonNumber for i64 {
    fn from_u64(v: u64) -> Option<Self> {
        i64::try_from(v).ok()
    }
    fn from_i64(v: i64) -> Option<Self> {
        Some(v)
    }
    fn from_f64(v: f64) -> Option<Self> {
        // Both ends open: integers just below -2^63 (such as -9223372036854775809) arrive
        // rounded to exactly -2^63.0 and must not pass as i64::MIN.
        (v.is_finite()
            && v.fract() == 0.0
            && v > -9_223_372_036_854_775_808.0
            && v < 9_223_372_036_854_775_808.0)
            .then_some(v as i64)
    }
}

impl FromJsonNumber for f64 {
    fn from_u64(v: u64) -> Option<Self> {
        Some(v as f64)
    }
    fn from_i64(v: i64) -> Option<Self> {
        Some(v as f64)
    }
    fn from_f64(v: f64) -> Option<Self> {
        v.is_finite().then_some(v)
    }
}

impl<T: FromJsonNumber> Num<T> {
    /// From an unsigned JSON integer.
    pub(crate) fn from_u64(v: u64) -> Self {
        T::from_u64(v).map_or(Num::Invalid, Num::Valid)
    }

    /// From a negative JSON integer.
    pub(crate) fn from_i64(v: i64) -> Self {
        T::from_i64(v).map_or(Num::Invalid, Num::Valid)
    }

    /// From a JSON float (or an integer beyond 64 bits).
    pub(crate) fn from_f64(v: f64) -> Self {
        T::from_f64(v).map_or(Num::Invalid, Num::Valid)
    }

    /// From a JSON string: some versions quote numbers; plain decimal text is accepted,
    /// anything else is invalid.
    pub(crate) fn from_quoted(v: &str) -> Self {
        let v = v.trim();
        if let Ok(n) = v.parse::<u64>() {
            return Self::from_u64(n);
        }
        if let Ok(n) = v.parse::<i64>() {
            return Self::from_i64(n);
        }
        v.parse::<f64>().map_or(Num::Invalid, Self::from_f64)
    }
}

struct NumVisitor<T>(std::marker::PhantomData<T>);

impl<'de, T: FromJsonNumber> Visitor<'de> for NumVisitor<T> {
    type Value = Num<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number or null")
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Num::from_u64(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Num::from_i64(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Num::from_f64(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Num::from_quoted(v))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Num::Invalid)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Num::Absent)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Num::Invalid)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Num::Invalid)
    }
}

impl<'de, T: FromJsonNumber> Deserialize<'de> for Num<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NumVisitor(std::marker::PhantomData))
    }
}

/// A text attribute: absent (missing or `null`), text, or invalid (an object or array).
/// Numbers and booleans are turned into their text form.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Text<'a> {
    /// Missing or `null`.
    #[default]
    Absent,
    /// The text, borrowed from the body where possible.
    Valid(Cow<'a, str>),
    /// An object or array where text was expected.
    Invalid,
}

impl<'a> Text<'a> {
    /// The text, if valid.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Text::Valid(s) => Some(s),
            _ => None,
        }
    }
}

struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Text<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string or null")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Text::Valid(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Text::Valid(Cow::Owned(v.to_owned())))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Text::Valid(Cow::Owned(v.to_string())))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Text::Valid(Cow::Owned(v.to_string())))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Text::Valid(Cow::Owned(v.to_string())))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Text::Valid(Cow::Owned(v.to_string())))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Text::Absent)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Text::Invalid)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Text::Invalid)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TextVisitor)
    }
}

/// A boolean attribute; anything but `true` (including absence and junk) reads as `false`,
/// except that junk is remembered as invalid.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Flag {
    /// Missing or `null`.
    #[default]
    Absent,
    /// A JSON boolean.
    Valid(bool),
    /// Anything else.
    Invalid,
}

impl Flag {
    /// `true` only for a valid `true`.
    pub fn is_true(self) -> bool {
        matches!(self, Flag::Valid(true))
    }
}

struct FlagVisitor;

impl<'de> Visitor<'de> for FlagVisitor {
    type Value = Flag;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a boolean or null")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Flag::Valid(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(match v {
            "true" => Flag::Valid(true),
            "false" => Flag::Valid(false),
            _ => Flag::Invalid,
        })
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Flag::Invalid)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Flag::Invalid)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Flag::Invalid)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Flag::Absent)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Flag::Invalid)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Flag::Invalid)
    }
}

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(FlagVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Probe<'a> {
        #[serde(default)]
        n: Num<u64>,
        #[serde(default)]
        i: Num<i64>,
        #[serde(default)]
        f: Num<f64>,
        #[serde(default, borrow)]
        t: Text<'a>,
        #[serde(default)]
        b: Flag,
    }

    fn probe(json: &str) -> Probe<'_> {
        match serde_json::from_str(json) {
            Ok(p) => p,
            Err(e) => panic!("{json}: {e}"),
        }
    }

    #[test]
    fn absent_and_null_are_absent() {
        let p = probe(r#"{"n":null,"t":null}"#);
        assert_eq!(p.n, Num::Absent);
        assert_eq!(p.i, Num::Absent);
        assert_eq!(p.t, Text::Absent);
        assert_eq!(p.b, Flag::Absent);
    }

    #[test]
    fn out_of_range_values_are_invalid_not_errors() {
        let p = probe(r#"{"n":-5,"i":1e300,"f":"abc","t":{"a":1},"b":[1]}"#);
        assert_eq!(p.n, Num::Invalid);
        assert_eq!(p.i, Num::Invalid);
        assert_eq!(p.f, Num::Invalid);
        assert_eq!(p.t, Text::Invalid);
        assert_eq!(p.b, Flag::Invalid);
        let p = probe(r#"{"n":18446744073709551616}"#);
        assert_eq!(p.n, Num::Invalid);
        let p = probe(r#"{"n":99999999999999999999999999}"#);
        assert_eq!(p.n, Num::Invalid);
        // Rounds to exactly -2^63 as a float: still beyond 64 bits.
        let p = probe(r#"{"i":-9223372036854775809}"#);
        assert_eq!(p.i, Num::Invalid);
    }

    #[test]
    fn large_integers_keep_full_precision() {
        let p = probe(r#"{"n":18446744073709551615,"i":-9223372036854775808}"#);
        assert_eq!(p.n, Num::Valid(u64::MAX));
        assert_eq!(p.i, Num::Valid(i64::MIN));
        let p = probe(r#"{"n":"9007199254740993","t":12}"#);
        assert_eq!(p.n, Num::Valid(9_007_199_254_740_993));
        assert_eq!(p.t.as_str(), Some("12"));
    }

    #[test]
    fn escaped_strings_are_owned_plain_ones_borrowed() {
        let p = probe(r#"{"t":"a\"b"}"#);
        assert_eq!(p.t.as_str(), Some("a\"b"));
        let p = probe(r#"{"t":"plain"}"#);
        assert!(matches!(p.t, Text::Valid(Cow::Borrowed("plain"))));
    }
}
