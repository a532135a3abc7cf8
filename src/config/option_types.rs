//! The types of option values that are not plain scalars, and the constants the sections
//! share: the credentials of `/metrics`, the OTLP protocol, compression and temporality, the
//! trace sampler, the log format, `events.first_start`, the shard index, the fingerprint of
//! referenced files, and fixed bounds and defaults.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::Path;

use secrecy::SecretString;

use super::declare::{DefaultText, EqWithSecrets};

/// The default path of the Prometheus bridge.
pub const DEFAULT_METRICS_PATH: &str = "/metrics";

/// Whether `name` is a valid site name: letters, digits, `-`, `_` and `.`, 1 to 64 characters.
pub fn is_valid_site_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Paths the server answers itself, which the bridge may not take.
pub const RESERVED_PATHS: [&str; 3] = ["/health", "/healthz", "/readyz"];

/// Credentials accepted on `/metrics`: basic auth, a bearer token, either, or none.
#[derive(Debug, Clone, Default)]
pub struct MetricsAuth {
    /// `Authorization: Basic` user name and password.
    pub basic: Option<(String, SecretString)>,
    /// `Authorization: Bearer` token.
    pub bearer: Option<SecretString>,
}

impl MetricsAuth {
    /// Whether any credential is required.
    pub fn is_required(&self) -> bool {
        self.basic.is_some() || self.bearer.is_some()
    }
}

impl PartialEq for MetricsAuth {
    fn eq(&self, other: &Self) -> bool {
        self.eq_with_secrets(other)
    }
}

impl EqWithSecrets for MetricsAuth {
    fn eq_with_secrets(&self, other: &Self) -> bool {
        self.basic.eq_with_secrets(&other.basic) && self.bearer.eq_with_secrets(&other.bearer)
    }
}

impl Eq for MetricsAuth {}

/// Compression of OTLP requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OtlpCompression {
    /// No compression.
    None,
    /// gzip.
    #[default]
    Gzip,
}

/// The default of `otlp.max_series_per_metric`: the most series the SDK's table for an
/// instrument holds at the size its own default limit (2,000) reserves, 4,096 slots. One series
/// more and the SDK reserves twice the memory for every open instrument, used or not.
pub const DEFAULT_OTLP_MAX_SERIES_PER_METRIC: usize = 3583;

/// The default of `otlp.max_message_bytes`: the gRPC default receive limit of a Collector
/// (4 MiB) minus 64 KiB of headroom.
pub const DEFAULT_OTLP_MAX_MESSAGE_BYTES: usize = 4 * 1024 * 1024 - 64 * 1024;

/// The OTLP transport (`otlp.protocol`, `OTEL_EXPORTER_OTLP_PROTOCOL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OtlpProtocol {
    /// OTLP/gRPC.
    #[default]
    Grpc,
    /// OTLP/HTTP with protobuf bodies.
    HttpProtobuf,
}

impl DefaultText for OtlpProtocol {
    fn default_text(&self) -> String {
        match self {
            OtlpProtocol::Grpc => "grpc",
            OtlpProtocol::HttpProtobuf => "http/protobuf",
        }
        .to_owned()
    }
}

impl EqWithSecrets for OtlpProtocol {
    fn eq_with_secrets(&self, other: &Self) -> bool {
        self == other
    }
}

/// The temporality the metric push asks for (`otlp.temporality`,
/// `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TemporalityPreference {
    /// Every instrument cumulative.
    #[default]
    Cumulative,
    /// Counters and histograms as deltas (for delta-only backends).
    Delta,
    /// Synchronous counters and histograms as deltas, the rest cumulative.
    LowMemory,
}

impl DefaultText for TemporalityPreference {
    fn default_text(&self) -> String {
        match self {
            TemporalityPreference::Cumulative => "cumulative",
            TemporalityPreference::Delta => "delta",
            TemporalityPreference::LowMemory => "lowmemory",
        }
        .to_owned()
    }
}

impl EqWithSecrets for TemporalityPreference {
    fn eq_with_secrets(&self, other: &Self) -> bool {
        self == other
    }
}

/// The sampler of the agent's traces (`traces.sampler`, `OTEL_TRACES_SAMPLER`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TraceSampler {
    /// Every trace.
    AlwaysOn,
    /// No trace.
    AlwaysOff,
    /// A fraction of traces (`traces.sampling_ratio`).
    TraceIdRatio,
    /// Children follow their parent; roots always.
    ParentBasedAlwaysOn,
    /// Children follow their parent; roots never.
    ParentBasedAlwaysOff,
    /// Children follow their parent; roots by `traces.sampling_ratio`.
    #[default]
    ParentBasedTraceIdRatio,
}

impl DefaultText for TraceSampler {
    fn default_text(&self) -> String {
        match self {
            TraceSampler::AlwaysOn => "always_on",
            TraceSampler::AlwaysOff => "always_off",
            TraceSampler::TraceIdRatio => "traceidratio",
            TraceSampler::ParentBasedAlwaysOn => "parentbased_always_on",
            TraceSampler::ParentBasedAlwaysOff => "parentbased_always_off",
            TraceSampler::ParentBasedTraceIdRatio => "parentbased_traceidratio",
        }
        .to_owned()
    }
}

impl EqWithSecrets for TraceSampler {
    fn eq_with_secrets(&self, other: &Self) -> bool {
        self == other
    }
}

/// What the job events report when a site has no checkpoint yet (`events.first_start`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FirstStart {
    /// Only jobs that finish from the first jobs cycle on.
    #[default]
    New,
    /// Every job of the jobs window that qualifies, once.
    Window,
}

impl DefaultText for FirstStart {
    fn default_text(&self) -> String {
        match self {
            FirstStart::New => "new",
            FirstStart::Window => "window",
        }
        .to_owned()
    }
}

impl EqWithSecrets for FirstStart {
    fn eq_with_secrets(&self, other: &Self) -> bool {
        self == other
    }
}

/// Which shard a replica is (`sharding.index`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardIndex {
    /// This shard.
    Fixed(u32),
    /// The ordinal that ends the host name (`nbu-otel-2`: 2), as a StatefulSet names its pods.
    FromHostname,
}

impl DefaultText for ShardIndex {
    fn default_text(&self) -> String {
        match self {
            ShardIndex::Fixed(index) => index.to_string(),
            ShardIndex::FromHostname => "from_hostname".to_owned(),
        }
    }
}

impl EqWithSecrets for ShardIndex {
    fn eq_with_secrets(&self, other: &Self) -> bool {
        self == other
    }
}

/// Log format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

impl DefaultText for OtlpCompression {
    fn default_text(&self) -> String {
        match self {
            OtlpCompression::None => "none",
            OtlpCompression::Gzip => "gzip",
        }
        .to_owned()
    }
}

impl EqWithSecrets for OtlpCompression {
    fn eq_with_secrets(&self, other: &Self) -> bool {
        self == other
    }
}

impl DefaultText for LogFormat {
    fn default_text(&self) -> String {
        match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        }
        .to_owned()
    }
}

impl EqWithSecrets for LogFormat {
    fn eq_with_secrets(&self, other: &Self) -> bool {
        self == other
    }
}

/// A hash of the names and contents of some files, as read when a configuration was loaded
/// (an absent file hashes as absent).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct FilesFingerprint(u64);

impl FilesFingerprint {
    /// The fingerprint of `files`, read through `read`.
    pub fn of<'a>(
        files: impl IntoIterator<Item = &'a Path>,
        read: &dyn Fn(&Path) -> std::io::Result<Vec<u8>>,
    ) -> Self {
        let mut hasher = DefaultHasher::new();
        for file in files {
            file.hash(&mut hasher);
            read(file).ok().hash(&mut hasher);
        }
        Self(hasher.finish())
    }
}

impl EqWithSecrets for FilesFingerprint {
    fn eq_with_secrets(&self, other: &Self) -> bool {
        self == other
    }
}
