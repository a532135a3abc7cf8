//! The file shape: serde structures that mirror the YAML keys, before any validation. The
//! sections' own structures are declared with their keys in [`section`](super::section).
//!
//! Every struct denies unknown fields. Leaves are [`Scalar`]s, which accept any scalar (and
//! record a map or list as a wrong kind), so a bad value never aborts deserialization: the
//! validator turns each leaf into its type and reports every problem with its field path.
//! Sections are [`Section`]s, which report every unknown key by name and keep the known ones,
//! so one typo does not hide the rest of the section.

use std::fmt;

use serde::de::{self, DeserializeOwned, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, forward_to_deserialize_any};
use serde_json::Value;

/// A leaf value as written. Deliberately no `Debug`: it may hold a secret.
pub(super) enum Scalar {
    /// A string (all environment values are strings).
    Str(String),
    /// An integer.
    Int(i128),
    /// A floating-point number.
    Float(f64),
    /// `true` or `false`.
    Bool(bool),
    /// `null` where a value was expected (only reachable inside maps such as `headers`).
    Null,
    /// A map or a list where a scalar was expected; the text names the kind.
    WrongKind(&'static str),
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ScalarVisitor)
    }
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
        Ok(Scalar::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
        Ok(Scalar::Int(i128::from(v)))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
        Ok(Scalar::Int(i128::from(v)))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
        Ok(Scalar::Float(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
        Ok(Scalar::Str(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Scalar, E> {
        Ok(Scalar::Str(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Scalar, E> {
        Ok(Scalar::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Scalar, E> {
        Ok(Scalar::Null)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scalar, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Scalar::WrongKind("a map"))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scalar, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Scalar::WrongKind("a list"))
    }
}

/// A map section: the known keys parsed, plus every unknown key by name.
pub(super) struct Section<T> {
    /// The section with unknown keys removed, or why it could not be read (never echoes values).
    pub parsed: Result<T, String>,
    /// Keys present in the file but not part of the section, in sorted order.
    pub unknown_keys: Vec<String>,
    /// The keys the section accepts (empty for free-form maps such as `headers`).
    pub known_keys: &'static [&'static str],
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Section<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Section::from_value(Value::deserialize(deserializer)?))
    }
}

impl<T: DeserializeOwned> Section<T> {
    /// Splits off unknown keys (when `T` is a struct), then parses the rest.
    pub fn from_value(value: Value) -> Self {
        let known_keys = struct_fields::<T>().unwrap_or(&[]);
        let Value::Object(mut map) = value else {
            return Section {
                parsed: Err(format!("expected a map of keys, found {}", kind_of(&value))),
                unknown_keys: Vec::new(),
                known_keys,
            };
        };
        let mut unknown_keys = Vec::new();
        if !known_keys.is_empty() {
            unknown_keys = map
                .keys()
                .filter(|k| !known_keys.contains(&k.as_str()))
                .cloned()
                .collect();
            for key in &unknown_keys {
                map.remove(key);
            }
        }
        // `deny_unknown_fields` stays as a safety net; the message names keys, never values.
        let parsed = T::deserialize(Value::Object(map)).map_err(|e| e.to_string());
        Section {
            parsed,
            unknown_keys,
            known_keys,
        }
    }
}

/// A list, or why it is not one.
pub(super) enum List<T> {
    /// The items, each parsed on its own.
    Items(Vec<T>),
    /// Not a list; the text names what was found instead.
    NotAList(String),
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for List<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::Array(items) => {
                let mut parsed = Vec::with_capacity(items.len());
                for item in items {
                    match T::deserialize(item) {
                        Ok(item) => parsed.push(item),
                        Err(e) => return Ok(List::NotAList(e.to_string())),
                    }
                }
                Ok(List::Items(parsed))
            }
            other => Ok(List::NotAList(format!(
                "expected a list, found {}",
                kind_of(&other)
            ))),
        }
    }
}

/// A short name of a value's kind, for messages that must not echo the value.
pub(super) fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "nothing (null)",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

/// The field names of a struct that derives `Deserialize`, or `None` for anything else.
///
/// Derived `Deserialize` impls hand their field list to `Deserializer::deserialize_struct`;
/// a probe deserializer records it and stops.
pub(super) fn struct_fields<T: DeserializeOwned>() -> Option<&'static [&'static str]> {
    let mut fields = None;
    // The probe always returns an error after recording; the error itself is irrelevant.
    let _ = T::deserialize(FieldProbe(&mut fields));
    fields
}

struct FieldProbe<'a>(&'a mut Option<&'static [&'static str]>);

impl<'de> Deserializer<'de> for FieldProbe<'_> {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("field probe"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        *self.0 = Some(fields);
        Err(de::Error::custom("field probe"))
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A section as the schema declares them.
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct RawServer {
        listen: Option<Scalar>,
        #[serde(rename = "prometheus_bridge")]
        _bridge: Option<Scalar>,
    }

    #[test]
    fn section_reports_every_unknown_key_and_keeps_known_ones() {
        let value = serde_json::json!({"listen": "127.0.0.1:1", "lisen": 1, "bridge": true});
        let section = Section::<RawServer>::from_value(value);
        assert_eq!(section.unknown_keys, vec!["bridge", "lisen"]);
        let server = section.parsed.ok();
        assert!(matches!(
            server.and_then(|s| s.listen),
            Some(Scalar::Str(s)) if s == "127.0.0.1:1"
        ));
    }

    #[test]
    fn section_of_wrong_kind_does_not_echo_the_value() {
        let section = Section::<RawServer>::from_value(Value::String("s3cr3t".into()));
        let message = section.parsed.err().unwrap_or_default();
        assert!(message.contains("a string"), "{message}");
        assert!(!message.contains("s3cr3t"));
    }
}
