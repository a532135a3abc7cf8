//! What the simulator's own tests share.

use chrono::TimeZone;
use nbu_sim::SimConfig;

/// A fixed, reproducible configuration for tests.
pub fn test_config(jobs: u64) -> SimConfig {
    SimConfig {
        seed: 42,
        jobs,
        anchor: chrono::Utc
            .with_ymd_and_hms(2026, 11, 27, 8, 0, 0)
            .single()
            .unwrap_or_default(),
        ..SimConfig::default()
    }
}
