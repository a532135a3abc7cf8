//! The parsers of single values: text, boolean, integer, number, duration, readable file, http
//! URL and secret. Each reports its problem on the field it is given and returns `None`; an
//! absent value (`null`, or an empty string for typed values) is `None` without a problem.

use std::fmt;
use std::fs;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;
use url::Url;

use super::Validator;
use crate::config::raw::Scalar;
use crate::file_limits::{Bytes, MAX_REFERENCED_FILE_BYTES};

/// The longest duration any setting accepts, so that arithmetic on durations (three
/// intervals, twice a timeout, a deadline from now) can never overflow.
const MAX_DURATION: Duration = Duration::from_secs(366 * 24 * 3600);

/// A bound of a range as the reference and messages write it: whole days beyond one as
/// `7d` or `366d` (humantime would count 366 days as `1year 18h`), else as humantime does.
fn fmt_bound(d: Duration) -> String {
    const DAY: u64 = 24 * 3600;
    if d.subsec_nanos() == 0 && d.as_secs() > DAY && d.as_secs().is_multiple_of(DAY) {
        format!("{}d", d.as_secs() / DAY)
    } else {
        fmt_duration(d).to_string()
    }
}

/// `n` milliseconds, for ranges and defaults.
pub(in crate::config) const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// `n` seconds, for ranges and defaults.
pub(in crate::config) const fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// `n` minutes, for ranges and defaults.
pub(in crate::config) const fn mins(n: u64) -> Duration {
    Duration::from_secs(n * 60)
}

/// `n` hours, for ranges and defaults.
pub(in crate::config) const fn hours(n: u64) -> Duration {
    Duration::from_secs(n * 3600)
}

/// `n` days, for ranges and defaults.
pub(in crate::config) const fn days(n: u64) -> Duration {
    Duration::from_secs(n * 24 * 3600)
}

/// A duration as messages write it.
pub(in crate::config) fn fmt_duration(d: Duration) -> humantime::FormattedDuration {
    humantime::format_duration(d)
}

/// The value, unless it is `null` or an empty string: both mean "not set" for typed leaves.
fn given(value: Option<Scalar>) -> Option<Scalar> {
    match value? {
        Scalar::Null => None,
        Scalar::Str(s) if s.trim().is_empty() => None,
        other => Some(other),
    }
}

/// Whether a value is written (not absent, `null`, empty or of the wrong kind): what rules
/// between two keys ask before either is read.
pub(in crate::config) fn present(value: &Option<Scalar>) -> bool {
    match value {
        Some(Scalar::Str(s)) => !s.trim().is_empty(),
        Some(Scalar::Int(_) | Scalar::Float(_) | Scalar::Bool(_)) => true,
        Some(Scalar::Null | Scalar::WrongKind(_)) | None => false,
    }
}

/// A quoted value for messages about non-secret fields.
struct Shown<'a>(&'a Scalar);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Scalar::Str(s) => write!(f, "{s:?}"),
            Scalar::Int(i) => write!(f, "{i}"),
            Scalar::Float(x) => write!(f, "{x}"),
            Scalar::Bool(b) => write!(f, "{b}"),
            Scalar::Null => f.write_str("nothing"),
            Scalar::WrongKind(kind) => f.write_str(kind),
        }
    }
}

/// `true` or `false`.
pub(in crate::config) fn boolean(
    v: &mut Validator<'_>,
    field: &str,
    value: Option<Scalar>,
) -> Option<bool> {
    v.boolean(field, value)
}

/// An optional path to a readable file; `Some(None)` is never returned (absent is `None`).
pub(in crate::config) fn file(
    v: &mut Validator<'_>,
    field: &str,
    value: Option<Scalar>,
) -> Option<Option<PathBuf>> {
    let text = v.optional_text(field, value)?;
    v.readable_file(field, &text).map(Some)
}

/// The range a duration option accepts, declared beside the option (a `within` row of
/// [`section!`](crate::config::declare)): every value is checked against it, and the option
/// reference shows it.
#[derive(Debug, Clone, Copy)]
pub(in crate::config) struct Within {
    min: Duration,
    max: Duration,
    /// `0s` is accepted too, and turns the feature off.
    zero_is_off: bool,
    /// Why the range is what it is, when that is not obvious.
    why: &'static str,
}

impl Within {
    /// From `min` to `max`, both included. A `max` beyond [`MAX_DURATION`] is taken as
    /// [`MAX_DURATION`].
    pub(in crate::config) const fn between(min: Duration, max: Duration) -> Self {
        Self {
            min,
            max: if max.as_secs() > MAX_DURATION.as_secs() {
                MAX_DURATION
            } else {
                max
            },
            zero_is_off: false,
            why: "",
        }
    }

    /// The same range, and `0s` as well, meaning "off".
    pub(in crate::config) const fn or_zero(self) -> Self {
        Self {
            zero_is_off: true,
            ..self
        }
    }

    /// The same range, explained by `why` in errors.
    pub(in crate::config) const fn because(self, why: &'static str) -> Self {
        Self { why, ..self }
    }

    /// The range as the option reference states it: `From 1s to 1day.`
    pub(in crate::config) fn describe(&self) -> String {
        let (min, max) = (fmt_bound(self.min), fmt_bound(self.max));
        if self.zero_is_off {
            format!("0s (off), or from {min} to {max}.")
        } else {
            format!("From {min} to {max}.")
        }
    }

    /// Reads a duration in this range; out of it, the error names the value and the bound.
    pub(in crate::config) fn read<T: From<Duration>>(
        &self,
        v: &mut Validator<'_>,
        field: &str,
        value: Option<Scalar>,
    ) -> Option<T> {
        let d = v.any_duration(field, value)?;
        if (self.zero_is_off && d.is_zero()) || (self.min..=self.max).contains(&d) {
            return Some(T::from(d));
        }
        let bound = if d < self.min {
            format!("at least {}", fmt_bound(self.min))
        } else {
            format!("at most {}", fmt_bound(self.max))
        };
        let off = if self.zero_is_off {
            " (or 0s, off)"
        } else {
            ""
        };
        let why = if self.why.is_empty() {
            String::new()
        } else {
            format!(": {}", self.why)
        };
        v.err(
            field,
            format!("must be {bound}{off}, got {}{why}", fmt_duration(d)),
        );
        None
    }
}

impl Validator<'_> {
    /// Any scalar as text. A map or list is an error; `null` is absent.
    pub(in crate::config) fn text(&mut self, field: &str, value: Option<Scalar>) -> Option<String> {
        match value? {
            Scalar::Str(s) => Some(s),
            Scalar::Int(i) => Some(i.to_string()),
            Scalar::Float(x) => Some(x.to_string()),
            Scalar::Bool(b) => Some(b.to_string()),
            Scalar::Null => None,
            Scalar::WrongKind(kind) => {
                self.err(field, format!("expected a single value, found {kind}"));
                None
            }
        }
    }

    /// Text where an empty string means "not set".
    pub(in crate::config) fn optional_text(
        &mut self,
        field: &str,
        value: Option<Scalar>,
    ) -> Option<String> {
        self.text(field, value)
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
    }

    /// Text that must be given and not empty.
    pub(in crate::config) fn required_text(
        &mut self,
        field: &str,
        value: Option<Scalar>,
    ) -> Option<String> {
        let given = value.is_some();
        match self.optional_text(field, value) {
            Some(text) => Some(text),
            None => {
                if !given {
                    self.err(field, "required");
                } else if !self.has_error(field) {
                    self.err(field, "must not be empty");
                }
                None
            }
        }
    }

    /// `true` or `false` (also as text, in any case).
    pub(in crate::config) fn boolean(
        &mut self,
        field: &str,
        value: Option<Scalar>,
    ) -> Option<bool> {
        let value = given(value)?;
        match &value {
            Scalar::Bool(b) => Some(*b),
            Scalar::Str(s) if s.trim().eq_ignore_ascii_case("true") => Some(true),
            Scalar::Str(s) if s.trim().eq_ignore_ascii_case("false") => Some(false),
            other => {
                self.err(
                    field,
                    format!("expected true or false, got {}", Shown(other)),
                );
                None
            }
        }
    }

    /// A whole number within `min..=max`; `why` explains the bounds when they are not obvious.
    pub(in crate::config) fn integer(
        &mut self,
        field: &str,
        value: Option<Scalar>,
        min: u32,
        max: u32,
        why: &str,
    ) -> Option<u32> {
        let value = given(value)?;
        let number = match &value {
            Scalar::Int(i) => Some(*i),
            Scalar::Str(s) => s.trim().parse::<i128>().ok(),
            Scalar::Float(x) if x.is_finite() && x.fract() == 0.0 => Some(*x as i128),
            _ => None,
        };
        let Some(number) = number else {
            self.err(
                field,
                format!("expected a whole number, got {}", Shown(&value)),
            );
            return None;
        };
        match u32::try_from(number) {
            Ok(n) if (min..=max).contains(&n) => Some(n),
            _ => {
                self.err(
                    field,
                    format!("must be between {min} and {max}{why}, got {number}"),
                );
                None
            }
        }
    }

    /// One of `options`, named case-insensitively.
    pub(in crate::config) fn choice<T: Copy>(
        &mut self,
        field: &str,
        value: Option<Scalar>,
        options: &[(&str, T)],
    ) -> Option<T> {
        let text = self.optional_text(field, value)?;
        let found = options
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(&text))
            .map(|(_, choice)| *choice);
        if found.is_none() {
            let names: Vec<&str> = options.iter().map(|(name, _)| *name).collect();
            self.err(
                field,
                format!("expected {}, got {text:?}", names.join(" or ")),
            );
        }
        found
    }

    /// A finite number.
    pub(in crate::config) fn number(&mut self, field: &str, value: Option<Scalar>) -> Option<f64> {
        let value = given(value)?;
        let number = match &value {
            Scalar::Int(i) => Some(*i as f64),
            Scalar::Float(x) => Some(*x),
            Scalar::Str(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        };
        match number {
            Some(x) if x.is_finite() => Some(x),
            _ => {
                self.err(field, format!("expected a number, got {}", Shown(&value)));
                None
            }
        }
    }

    /// A humantime duration, of any length.
    fn any_duration(&mut self, field: &str, value: Option<Scalar>) -> Option<Duration> {
        let value = given(value)?;
        let parsed = match &value {
            Scalar::Str(s) => {
                let s = s.trim();
                match humantime::parse_duration(s) {
                    Ok(d) => Ok(d),
                    Err(_) if s.parse::<f64>().is_ok() => Err(format!(
                        "a duration needs a unit, for example \"{s}s\"; got {s:?}"
                    )),
                    Err(e) => Err(format!(
                        "invalid duration {s:?} ({e}); write for example 30s, 5m or 1h 30m"
                    )),
                }
            }
            Scalar::Int(i) => Err(format!(
                "a duration needs a unit, for example \"{i}s\"; got {i}"
            )),
            other => Err(format!(
                "expected a duration such as 30s, 5m or 1h 30m, got {}",
                Shown(other)
            )),
        };
        parsed.map_err(|message| self.err(field, message)).ok()
    }

    /// `text` as a path, relative paths taken from the configuration file's directory.
    pub(in crate::config) fn resolve(&self, text: &str) -> PathBuf {
        let path = PathBuf::from(text);
        if path.is_relative() {
            self.base_dir.join(path)
        } else {
            path
        }
    }

    /// A path (relative to the config file's directory) to a readable regular file of at most
    /// [`MAX_REFERENCED_FILE_BYTES`] (certificates, private keys and CA bundles are read whole).
    pub(in crate::config) fn readable_file(&mut self, field: &str, text: &str) -> Option<PathBuf> {
        let path = self.resolve(text);
        let result = fs::metadata(&path).and_then(|meta| {
            if !meta.is_file() {
                Err(std::io::Error::other("not a regular file"))
            } else if meta.len() > MAX_REFERENCED_FILE_BYTES {
                Err(std::io::Error::other(format!(
                    "the file is larger than {}, the limit of a key, certificate or CA file",
                    Bytes(MAX_REFERENCED_FILE_BYTES)
                )))
            } else {
                fs::File::open(&path).map(drop)
            }
        });
        match result {
            Ok(()) => Some(path),
            Err(e) => {
                self.err(field, format!("cannot read {}: {e}", path.display()));
                None
            }
        }
    }

    /// An absolute `http://` or `https://` URL with a host and no credentials.
    pub(in crate::config) fn http_url(&mut self, field: &str, text: &str) -> Option<Url> {
        let url = match Url::parse(text) {
            Ok(url) => url,
            Err(e) => {
                self.err(field, format!("invalid URL: {e}"));
                return None;
            }
        };
        let mut ok = true;
        if !matches!(url.scheme(), "http" | "https") {
            self.err(
                field,
                format!("scheme must be http or https, got {:?}", url.scheme()),
            );
            ok = false;
        }
        if url.host_str().is_none_or(str::is_empty) {
            self.err(field, "must have a host");
            ok = false;
        }
        if !url.username().is_empty() || url.password().is_some() {
            self.err(field, "must not contain a user name or password");
            ok = false;
        }
        ok.then_some(url)
    }

    /// Checks a secret (already trimmed) without ever echoing it.
    pub(in crate::config) fn secret(
        &mut self,
        field: &str,
        what: &str,
        value: String,
    ) -> Option<SecretString> {
        if value.is_empty() {
            self.err(field, format!("{what} is empty"));
            None
        } else if value.chars().any(char::is_control) {
            self.err(field, format!("{what} contains control characters"));
            None
        } else {
            Some(SecretString::from(value))
        }
    }
}
