//! How a section of the configuration is declared: [`section!`] turns one list of rows, one row
//! per key, into every part of the configuration that depends on the keys of the section.
//!
//! A row is `/// doc` lines, then `key: Type = default, parse function;`, or for a duration
//! `key: Duration = default, within Within::between(min, max);`: the range is checked on every
//! value (the error names the field, the value and the bound) and shown in the option
//! reference, so each duration's bounds are written once, beside it. From the rows of a
//! section the macro derives:
//!
//! - the typed struct (`pub` fields with the row's documentation), and its `Default` when every
//!   row has a default;
//! - the raw file shape: a serde struct with one `Option` leaf per key that denies unknown keys;
//! - a patch (every field `Option`): what one layer of the file sets, applied over a base (the
//!   defaults, or the global values for a site's overrides);
//! - the reading of every leaf with its parse function, each error named by its path;
//! - [`EqWithSecrets`], the comparison a reload uses (secret values compared, never printed);
//! - the rows of the option reference ([`KeyDoc`]), with the default rendered from the value
//!   (or from any value of the section, for sections whose defaults vary).
//!
//! Every type the macro generates is named in its invocation, so grep finds the invocation: a
//! section `FooConfig` is declared with `raw RawFoo, patch FooPatch;` (the raw file shape and
//! the patch). The rest it generates are trait impls and methods on those three types.
//!
//! Besides the plain rows a section may have `built` fields (typed fields that rules assemble
//! from several keys, such as `server.metrics_auth`) and `keys` (keys of the file that rules
//! read, documented with their default written out).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::{ExposeSecret as _, SecretString};
use url::Url;

use super::raw::{List, Scalar, Section};
use super::validate::scalar::Within;
use crate::netbackup::ApiVersion;

/// How a key is written in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// One value.
    Scalar,
    /// A list of values.
    List,
    /// A map of free names to values (`otlp.headers.<name>`).
    Map,
    /// A nested section, documented by its own rows.
    Section,
}

/// The shape of a raw leaf type.
pub(in crate::config) trait RawLeaf {
    /// How the leaf is written in the file.
    const SHAPE: Shape;
}

impl RawLeaf for Scalar {
    const SHAPE: Shape = Shape::Scalar;
}

impl RawLeaf for List<Scalar> {
    const SHAPE: Shape = Shape::List;
}

impl RawLeaf for Section<BTreeMap<String, Scalar>> {
    const SHAPE: Shape = Shape::Map;
}

/// One key of a section, as the option reference shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyDoc {
    /// The key in its section.
    pub key: &'static str,
    /// How it is written.
    pub shape: Shape,
    /// The default as text; `None` when the section has no single default (required keys,
    /// per-source defaults).
    pub default: Option<String>,
    /// What it does, in one line.
    pub doc: String,
}

/// The documentation lines of a row as one line, followed by the range the row accepts
/// (for rows declared `within` a range).
pub(in crate::config) fn doc_line(lines: &[&str], range: Option<&Within>) -> String {
    let mut line = lines
        .iter()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if let Some(range) = range {
        line.push(' ');
        line.push_str(&range.describe());
    }
    line
}

/// A default value as the option reference writes it.
pub(in crate::config) trait DefaultText {
    /// The value as text, in the file's syntax where there is one.
    fn default_text(&self) -> String;
}

impl DefaultText for Duration {
    fn default_text(&self) -> String {
        humantime::format_duration(*self).to_string()
    }
}

macro_rules! default_text_by_display {
    ($($t:ty),*) => {
        $(impl DefaultText for $t {
            fn default_text(&self) -> String {
                self.to_string()
            }
        })*
    };
}

default_text_by_display!(u32, usize, f64, bool, String, SocketAddr, &str);

impl DefaultText for PathBuf {
    fn default_text(&self) -> String {
        self.display().to_string()
    }
}

impl DefaultText for Url {
    fn default_text(&self) -> String {
        let text = self.as_str();
        if self.path() == "/" && self.query().is_none() {
            text.trim_end_matches('/').to_owned()
        } else {
            text.to_owned()
        }
    }
}

impl<T: DefaultText> DefaultText for Option<T> {
    fn default_text(&self) -> String {
        self.as_ref()
            .map_or_else(|| "unset".to_owned(), DefaultText::default_text)
    }
}

impl<T> DefaultText for Vec<T> {
    fn default_text(&self) -> String {
        if self.is_empty() {
            "none".to_owned()
        } else {
            format!("{} entries", self.len())
        }
    }
}

/// Equality of configured values that also covers secrets: `SecretString` has no `==`, so a
/// reload compares the old and new configuration through this (every value, secrets included,
/// compared without being shown).
pub(in crate::config) trait EqWithSecrets {
    /// Whether `self` and `other` configure exactly the same thing, secrets included.
    fn eq_with_secrets(&self, other: &Self) -> bool;
}

macro_rules! eq_with_secrets_by_eq {
    ($($t:ty),*) => {
        $(impl EqWithSecrets for $t {
            fn eq_with_secrets(&self, other: &Self) -> bool {
                self == other
            }
        })*
    };
}

eq_with_secrets_by_eq!(
    Duration, u32, usize, f64, bool, String, Url, PathBuf, SocketAddr, ApiVersion
);

impl EqWithSecrets for SecretString {
    fn eq_with_secrets(&self, other: &Self) -> bool {
        self.expose_secret() == other.expose_secret()
    }
}

impl<T: EqWithSecrets> EqWithSecrets for Option<T> {
    fn eq_with_secrets(&self, other: &Self) -> bool {
        match (self, other) {
            (None, None) => true,
            (Some(a), Some(b)) => a.eq_with_secrets(b),
            _ => false,
        }
    }
}

impl<A: EqWithSecrets, B: EqWithSecrets> EqWithSecrets for (A, B) {
    fn eq_with_secrets(&self, other: &Self) -> bool {
        self.0.eq_with_secrets(&other.0) && self.1.eq_with_secrets(&other.1)
    }
}

impl<T: EqWithSecrets> EqWithSecrets for Vec<T> {
    fn eq_with_secrets(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().zip(other).all(|(a, b)| a.eq_with_secrets(b))
    }
}

/// Declares one section of the configuration; see the [module documentation](self).
///
/// ```text
/// section! {
///     /// Doc of the typed struct.
///     #[derive(Debug, Clone)]
///     pub struct FooConfig {
///         /// Doc of the key (the first sentence is the reference's description).
///         key: Type = default, parse function_or_closure;
///         map_key: Type = default, parse function, from RawType;
///         duration_key: Duration = default, within Within::between(min, max);
///     }
///     raw RawFoo, patch FooPatch;
///     built { /// doc
///             field: Type = default; }
///     keys { /// doc
///            raw_key: RawType => default_value_or_text; }
/// }
/// ```
///
/// Naming: a section `FooConfig` names its raw file shape `RawFoo` and its patch `FooPatch`,
/// written out in the invocation (never built by the macro from the section's name), so
/// grepping any of the three names finds the invocation that declares it.
///
/// A parse function has the signature `fn(&mut Validator, field: &str, Option<RawType>) ->
/// Option<Type>`: `None` when the key is not given, or invalid (then the error is reported).
/// A `within` row reads a duration (`Duration` or `Option<Duration>`) in the [`Within`] range.
macro_rules! section {
    (
        $(#[$meta:meta])*
        pub struct $Typed:ident {
            $(
                $(#[doc = $doc:literal])*
                $field:ident: $ty:ty $(= $default:expr)?, $how:ident $parse:expr $(, from $from:ty)?;
            )*
        }
        raw $Raw:ident, patch $Patch:ident;
        $(built {
            $(
                $(#[doc = $bdoc:literal])*
                $bfield:ident: $bty:ty $(= $bdefault:expr)?;
            )*
        })?
        $(keys {
            $(
                $(#[doc = $kdoc:literal])*
                $key:ident: $kraw:ty => $kdefault:expr;
            )*
        })?
    ) => {
        $(#[$meta])*
        pub struct $Typed {
            $(
                $(#[doc = $doc])*
                pub $field: $ty,
            )*
            $($(
                $(#[doc = $bdoc])*
                pub $bfield: $bty,
            )*)?
        }

        section!(@default $Typed { $($field $(= $default)?,)* $($($bfield $(= $bdefault)?,)*)? });

        #[doc = concat!("The file shape of [`", stringify!($Typed), "`]: every key optional.")]
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        pub(in crate::config) struct $Raw {
            $(pub $field: Option<section!(@raw $($from)?)>,)*
            $($(pub $key: Option<$kraw>,)*)?
        }

        impl $crate::config::declare::RawLeaf for $crate::config::raw::Section<$Raw> {
            const SHAPE: $crate::config::declare::Shape = $crate::config::declare::Shape::Section;
        }

        #[doc = concat!("The keys of [`", stringify!($Typed), "`] one layer of the file sets.")]
        #[derive(Debug, Default)]
        pub(in crate::config) struct $Patch {
            $(pub $field: Option<$ty>,)*
        }

        #[allow(dead_code, reason = "each section uses the parts of its patch it needs")]
        impl $Patch {
            /// Reads every key of the layer at `path`, reporting the invalid ones; the keys
            /// that rules read (`keys`) are left in `raw`.
            pub(in crate::config) fn read(
                v: &mut $crate::config::validate::Validator<'_>,
                path: &str,
                raw: &mut $Raw,
            ) -> Self {
                Self {
                    $($field: {
                        let parse: fn(
                            &mut $crate::config::validate::Validator<'_>,
                            &str,
                            Option<section!(@raw $($from)?)>,
                        ) -> Option<$ty> = section!(@parse $how $parse);
                        parse(
                            v,
                            &$crate::config::validate::join(path, stringify!($field)),
                            raw.$field.take(),
                        )
                    },)*
                }
            }

            /// `base` with the keys of this layer applied.
            pub(in crate::config) fn apply(&self, base: &$Typed) -> $Typed {
                $Typed {
                    $($field: self.$field.clone().unwrap_or_else(|| base.$field.clone()),)*
                    $($($bfield: base.$bfield.clone(),)*)?
                }
            }

            /// Whether this layer sets `key`.
            pub(in crate::config) fn sets(&self, key: &str) -> bool {
                $(if key == stringify!($field) {
                    return self.$field.is_some();
                })*
                false
            }
        }

        impl $crate::config::declare::EqWithSecrets for $Typed {
            fn eq_with_secrets(&self, other: &Self) -> bool {
                use $crate::config::declare::EqWithSecrets;
                true $(&& EqWithSecrets::eq_with_secrets(&self.$field, &other.$field))*
                    $($(&& EqWithSecrets::eq_with_secrets(&self.$bfield, &other.$bfield))*)?
            }
        }

        #[allow(dead_code, reason = "sections whose defaults vary use `rows_with`")]
        impl $Typed {
            /// The typed keys of this section (not the `keys` that rules read), in file order,
            /// with `self`'s values as their defaults.
            pub(in crate::config) fn rows_with(&self) -> Vec<$crate::config::declare::KeyDoc> {
                use $crate::config::declare::{DefaultText, KeyDoc, RawLeaf, doc_line};
                vec![
                    $(KeyDoc {
                        key: stringify!($field),
                        shape: <section!(@raw $($from)?) as RawLeaf>::SHAPE,
                        default: Some(DefaultText::default_text(&self.$field)),
                        doc: doc_line(&[$($doc),*], section!(@range $how $parse)),
                    },)*
                ]
            }

            /// The keys of this section, in file order, as the option reference shows them.
            pub(in crate::config) fn keys() -> Vec<$crate::config::declare::KeyDoc> {
                use $crate::config::declare::{KeyDoc, RawLeaf, doc_line};
                vec![
                    $(KeyDoc {
                        key: stringify!($field),
                        shape: <section!(@raw $($from)?) as RawLeaf>::SHAPE,
                        default: section!(@text $ty $(, $default)?),
                        doc: doc_line(&[$($doc),*], section!(@range $how $parse)),
                    },)*
                    $($(KeyDoc {
                        key: stringify!($key),
                        shape: <$kraw as RawLeaf>::SHAPE,
                        default: Some($crate::config::declare::DefaultText::default_text(
                            &$kdefault,
                        )),
                        doc: doc_line(&[$($kdoc),*], None),
                    },)*)?
                ]
            }
        }
    };
    (@default $T:ident { $($f:ident = $d:expr,)* }) => {
        impl Default for $T {
            fn default() -> Self {
                Self { $($f: $d,)* }
            }
        }
    };
    (@default $T:ident { $($rest:tt)* }) => {};
    (@parse parse $parse:expr) => { $parse };
    (@parse within $range:expr) => {
        |v, f, x| $crate::config::validate::scalar::Within::read(&$range, v, f, x)
    };
    (@range parse $parse:expr) => { None };
    (@range within $range:expr) => { Some(&$range) };
    (@raw) => { $crate::config::raw::Scalar };
    (@raw $from:ty) => { $from };
    (@text $ty:ty) => { None };
    (@text $ty:ty, $default:expr) => {
        Some(<$ty as $crate::config::declare::DefaultText>::default_text(&$default))
    };
}

pub(in crate::config) use section;
