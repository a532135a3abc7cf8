//! The rules between fields of one section: a timeout shorter than the interval it runs in,
//! retries with time to retry, files and credentials that come in pairs, TLS files only with
//! an `https://` endpoint. Each runs once both fields are read, and reports on the field whose
//! value has to change.

use std::time::Duration;

use url::Url;

use super::Validator;
use super::scalar::fmt_duration;

/// The collection keys that constrain each other.
pub(in crate::config) struct Timing {
    /// `request_timeout`.
    pub request_timeout: Duration,
    /// `jobs_interval`.
    pub jobs_interval: Duration,
    /// `cycle_timeout`.
    pub cycle_timeout: Duration,
    /// `max_retries`.
    pub max_retries: u32,
    /// `max_retry_time`.
    pub max_retry_time: Duration,
}

/// What one layer of collection settings (the global section, or a site's overrides) says
/// about a key.
pub(in crate::config) trait Layer {
    /// Whether the layer sets `key`.
    fn sets(&self, key: &str) -> bool;
    /// Whether `key` may hold a value other than the one written (it was invalid, or the
    /// section unusable): then checks involving it would report noise.
    fn unsure(&self, key: &str) -> bool;
}

impl Validator<'_> {
    /// Checks between collection fields. `site` is `None` for the global section; for a site
    /// only rules touching a key the site overrides run (the global check covers the rest).
    /// The error goes on the field set at this level (the other one may be a default), and the
    /// message names the other field where its value was set.
    pub(in crate::config) fn check_timing(
        &mut self,
        c: &Timing,
        global: &dyn Layer,
        site: Option<(&str, &dyn Layer)>,
    ) {
        let here = |key: &str| match site {
            Some((_, layer)) => layer.sets(key),
            None => global.sets(key),
        };
        let unsure =
            |key: &str| global.unsure(key) || site.is_some_and(|(_, layer)| layer.unsure(key));
        let field = |key: &str| match site {
            Some((path, layer)) if layer.sets(key) => format!("{path}.collection.{key}"),
            _ => format!("collection.{key}"),
        };
        let origin = |key: &str| {
            let default = !global.sets(key) && !site.is_some_and(|(_, layer)| layer.sets(key));
            format!(
                "`{}`{}",
                field(key),
                if default { ", the default," } else { "" }
            )
        };
        let applies =
            |a: &str, b: &str| (site.is_none() || here(a) || here(b)) && !unsure(a) && !unsure(b);

        if applies("request_timeout", "jobs_interval") && c.request_timeout >= c.jobs_interval {
            if here("jobs_interval") && !here("request_timeout") {
                self.err(
                    field("jobs_interval"),
                    format!(
                        "must be longer than request_timeout ({} is {}), got {}",
                        origin("request_timeout"),
                        fmt_duration(c.request_timeout),
                        fmt_duration(c.jobs_interval)
                    ),
                );
            } else {
                self.err(
                    field("request_timeout"),
                    format!(
                        "must be shorter than jobs_interval ({} is {}), got {}",
                        origin("jobs_interval"),
                        fmt_duration(c.jobs_interval),
                        fmt_duration(c.request_timeout)
                    ),
                );
            }
        }

        if applies("cycle_timeout", "request_timeout") && c.cycle_timeout <= c.request_timeout {
            self.err(
                field("cycle_timeout"),
                format!(
                    "must be longer than request_timeout ({} is {}), got {}",
                    origin("request_timeout"),
                    fmt_duration(c.request_timeout),
                    fmt_duration(c.cycle_timeout)
                ),
            );
        }

        if applies("max_retries", "max_retry_time")
            && c.max_retries > 0
            && c.max_retry_time.is_zero()
        {
            if here("max_retries") && !here("max_retry_time") {
                self.err(
                    field("max_retries"),
                    format!(
                        "must be 0 while max_retry_time ({}) is zero, got {}",
                        origin("max_retry_time"),
                        c.max_retries
                    ),
                );
            } else {
                self.err(
                    field("max_retry_time"),
                    format!(
                        "must be greater than zero while max_retries ({} is {}); \
                         set max_retries to 0 to disable retries",
                        origin("max_retries"),
                        c.max_retries
                    ),
                );
            }
        }
    }

    /// The bridge needs a listen address, unless the section already has a problem with
    /// either (`clean` says it has none).
    pub(in crate::config) fn check_bridge_listen(
        &mut self,
        bridge: bool,
        listen: bool,
        clean: bool,
    ) {
        if bridge && !listen && clean {
            self.err(
                "server.prometheus_bridge",
                "needs server.listen (the address that serves /metrics)",
            );
        }
    }

    /// Two keys that are given together or not at all: `first` and `second` say which are
    /// written.
    pub(in crate::config) fn check_pair(&mut self, first: (&str, bool), second: (&str, bool)) {
        match (first.1, second.1) {
            (true, false) => self.err(second.0, format!("required when {} is set", first.0)),
            (false, true) => self.err(first.0, format!("required when {} is set", second.0)),
            _ => {}
        }
    }

    /// The export timeout fits in the export interval, unless the section already has a
    /// problem (`clean` says it has none).
    pub(in crate::config) fn check_otlp_timeout(
        &mut self,
        timeout: Duration,
        export_interval: Duration,
        clean: bool,
    ) {
        if timeout > export_interval && clean {
            self.err(
                "otlp.timeout",
                format!(
                    "must not be longer than otlp.export_interval ({}), got {}",
                    fmt_duration(export_interval),
                    fmt_duration(timeout)
                ),
            );
        }
    }

    /// TLS files need an `https://` endpoint (the option `field`); `tls_files` are the TLS keys
    /// that are written.
    pub(in crate::config) fn check_otlp_plaintext(
        &mut self,
        field: &str,
        endpoint: &Url,
        tls_files: &[&str],
    ) {
        if endpoint.scheme() == "http" && !tls_files.is_empty() {
            self.err(
                field,
                format!(
                    "is plaintext http:// but {} set; use https:// for TLS",
                    tls_files.join(" and ") + if tls_files.len() == 1 { " is" } else { " are" }
                ),
            );
        }
    }
}
