//! Configuration: the validated, immutable [`Config`] and how it is loaded.
//!
//! [`load_file`] (or [`load_str`]) builds a [`Config`] in four steps, and the value is never
//! mutated afterwards; a reload loads again and swaps the result in only when it is `Ok`.
//!
//! 1. **Merge.** The `config` crate reads the YAML file and the environment overrides; an
//!    override **wins** over the file.
//! 2. **Expand.** `${VAR}` references in the file's string values are replaced.
//! 3. **Validate.** Every value is checked and converted; cross-field rules run.
//! 4. **Report.** Every problem is returned at once in a [`ConfigError`], one [`FieldError`]
//!    per problem, each naming its field (`sites[1].url`, `collection.jobs_page_size`,
//!    `sites[0].collection.storage_ttl`), the variable (`NBU_OTEL_COLLECTION__JOB_INTERVAL`),
//!    or the file (`<file>` for [`load_str`], the path for [`load_file`]).
//!
//! The file shape is in `examples/nbu-otel.yaml`, which a test loads so it stays true.
//!
//! # Environment overrides
//!
//! A variable `NBU_OTEL_<SECTION>__<KEY>` (a single `_` after `NBU_OTEL`, then `__` between
//! section and key) sets `<section>.<key>`. The variables accepted are those of the sections
//! [`schema`] declares overridable, listed here from that declaration:
//!
//! <!-- env: generated from src/config/schema.rs; do not edit -->
//! - `NBU_OTEL_COLLECTION__`: `JOBS_WINDOW`, `JOBS_INTERVAL`, `STORAGE_TTL`, `JOBS_PAGE_SIZE`,
//!   `STORAGE_PAGE_SIZE`, `REQUEST_TIMEOUT`, `MAX_RETRIES`, `MAX_RETRY_TIME`,
//!   `REQUESTS_PER_SECOND`, `MAX_CONCURRENT_REQUESTS`, `CYCLE_TIMEOUT`, `JOBS_RESYNC_INTERVAL`,
//!   `JOBS_CLOCK_TOLERANCE`, `PROXY_FROM_ENV`;
//! - `NBU_OTEL_SERVER__`: `LISTEN`, `PROMETHEUS_BRIDGE`, `METRICS_PATH`, `READY_MIN_SITES`,
//!   `READY_CACHE`, `TLS_CERT_FILE`, `TLS_KEY_FILE`, `METRICS_USERNAME`, `METRICS_PASSWORD`,
//!   `METRICS_BEARER_TOKEN`;
//! - `NBU_OTEL_OTLP__`: `ENABLED`, `CONSOLE`, `ENDPOINT`, `PROTOCOL`, `HEADERS__<NAME>`, `TIMEOUT`,
//!   `EXPORT_INTERVAL`, `COMPRESSION`, `CA_FILE`, `CLIENT_CERT_FILE`, `CLIENT_KEY_FILE`,
//!   `MAX_MESSAGE_BYTES`, `MAX_SERIES_PER_METRIC`, `TEMPORALITY`, `PROXY_FROM_ENV`;
//! - `NBU_OTEL_EVENTS__`: `ENABLED`, `INCLUDE_SUCCESSES`, `TRY_LOGS`, `TRY_LOGS_PER_CYCLE`,
//!   `REASON_MAX_BYTES`, `MAX_WAITING`, `MAX_BATCH`, `EXPORT_INTERVAL`, `LOG`, `STATE_DIR`,
//!   `FIRST_START`;
//! - `NBU_OTEL_TRACES__`: `ENABLED`, `CONSOLE`, `SAMPLER`, `SAMPLING_RATIO`, `PROPAGATORS`;
//! - `NBU_OTEL_LOGGING__`: `LEVEL`, `FORMAT`, `OTLP`;
//! - `NBU_OTEL_SERVICE__`: `NAME`, `INSTANCE_ID`, `RESOURCE_ATTRIBUTES__<NAME>`;
//! - `NBU_OTEL_SHARDING__`: `COUNT`, `INDEX`;
//! <!-- env: end -->
//!
//! The `collection` variables set the global values, so they reach every site that does not
//! override the key itself. `NBU_OTEL_OTLP__HEADERS__<NAME>` sets one header (the name is
//! lowercased, so it can only hold letters, digits and `_`; it replaces a file header of the
//! same name in any case).
//!
//! Rules:
//!
//! - Names are matched case-insensitively (the `config` crate lowercases them).
//! - Values are taken literally (no `${VAR}` expansion) and converted by validation like file
//!   values: `NBU_OTEL_COLLECTION__JOBS_PAGE_SIZE=50`, `..._PROMETHEUS_BRIDGE=true`,
//!   `..._JOBS_INTERVAL=30s` all work. An error on an overridden value names the variable.
//! - An empty variable counts as unset.
//! - `sources` has no environment overrides: write `${VAR}` references in the file.
//! - `sites` cannot be overridden: write `${VAR}` references in the file for per-site values
//!   (`api_key: ${NBU_A_API_KEY}`, `url: ${NBU_A_URL}`).
//! - A variable whose name after `NBU_OTEL_` contains `__` must be a known override, else
//!   loading fails naming it; so does a known override written with a single `_`
//!   (`NBU_OTEL_COLLECTION_JOBS_INTERVAL`). Other `NBU_OTEL_` names without `__` (such as
//!   `NBU_OTEL_CONFIG` for the CLI) are ignored here.
//!
//! The standard OpenTelemetry variables listed in [`standard_env::STANDARD_ENV`]
//! (`OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_METRICS_HEADERS` or else
//! `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_METRIC_EXPORT_INTERVAL`, `OTEL_SERVICE_NAME`) win over
//! the file and the `NBU_OTEL_` overrides; they are validated as the options they set, an
//! error naming the variable.
//!
//! # `${VAR}` references
//!
//! Expanded in string values after parsing (a value with `:` or `#` cannot break the YAML),
//! including in numbers and booleans written as references (`jobs_page_size: ${PAGE}`):
//! `${NAME}` is the variable's value, and an error naming the field and `NAME` when unset;
//! `${NAME:-default}` falls back to `default` when `NAME` is unset or empty; `$${` is a literal
//! `${`. Messages never contain values of secrets.
//!
//! # Values
//!
//! - Durations are humantime strings: `500ms`, `30s`, `5m`, `1h 30m`; a bare number is an
//!   error (no unit guessing).
//! - An empty string means "not set" for optional values (the default applies).
//! - Relative paths (`api_key_file`, `ca_file`, ...) are relative to the file's directory
//!   ([`load_file`]) or to `base_dir` ([`load_str`]).
//! - Secrets (`api_key`, the content of `api_key_file`, OTLP header values) become
//!   [`SecretString`]s: redacted in `Debug`, never in error messages.
//! - YAML anchors and aliases work; merge keys (`<<:`) are not supported by the YAML parser.
//! - A file larger than 1 MiB, nested deeper than 32 levels, or whose aliases expand it past
//!   100,000 values or 4 MiB of text is refused before it is parsed ([`yaml_limits`]).

mod assemble;
mod declare;
pub mod diff;
mod error;
mod exposure;
pub mod files;
mod interpolate;
mod load;
mod option_types;
mod overrides;
mod raw;
pub mod schema;
mod section;
pub mod shards;
pub mod standard_env;
mod typed;
mod validate;
pub mod yaml_limits;

#[cfg(test)]
mod tests;

pub use diff::ConfigDiff;
pub use error::{ConfigError, FieldError};
pub use exposure::exposure_warnings;
pub use files::{ConfigWatcher, FileSnapshot};
pub use load::{
    YamlError, load_file, load_file_with, load_file_with_env, load_str, load_str_with_env,
    parse_yaml,
};
pub use option_types::{
    DEFAULT_METRICS_PATH, DEFAULT_OTLP_MAX_MESSAGE_BYTES, DEFAULT_OTLP_MAX_SERIES_PER_METRIC,
    FilesFingerprint, FirstStart, LogFormat, MetricsAuth, OtlpCompression, OtlpProtocol,
    RESERVED_PATHS, ShardIndex, TemporalityPreference, TraceSampler, is_valid_site_name,
};
pub use section::collection::{CollectionConfig, MAX_REQUESTS_PER_SECOND, MIN_REQUESTS_PER_SECOND};
pub use section::events::EventsConfig;
pub use section::otlp::{OtlpConfig, OtlpSignalConfig, Signal, SignalExport};
pub use section::server::{MetricsPathError, ServerConfig, metrics_path_problem};
pub use section::service::{LoggingConfig, ServiceConfig, TracesConfig};
pub use section::sharding::{MAX_SHARDS, ShardingConfig};
pub use section::site::{SiteConfig, TlsConfig};
pub use section::sources::{
    ClientPattern, ClientsConfig, DEFAULT_MAX_CLIENTS, MIN_SOURCE_INTERVAL, SourceConfig, SourceId,
    SourcesConfig,
};
pub use shards::ShardPlan;
pub use typed::Config;
