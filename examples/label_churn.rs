//! Memory of the export path over simulated days of label churn: every storage unit replaced
//! once an hour, a different quarter of the policy types absent each hour, a site replaced
//! every six hours (the model of the churn test, `tests/it/churn_model.rs`). Each five-minute
//! step publishes the snapshots, collects the SDK, encodes the OTLP push and renders the
//! bridge, as the agent does. Prints one line per simulated hour.
//!
//! ```text
//! cargo run --release --example label_churn -- [days] [jobs per site] [units per site]
//! ```

#[allow(dead_code)]
#[path = "../tests/it/churn_model.rs"]
mod churn_model;
#[path = "support/measure.rs"]
mod measure;
#[allow(dead_code)]
#[path = "../tests/it/shared_reader.rs"]
mod shared_reader;
#[path = "../tests/it/common/truth.rs"]
mod truth;
/// Where `churn_model` finds the test support it shares with this example.
mod common {
    pub(crate) use super::truth;
}

use churn_model::{Day, Estate, STEPS_PER_DAY};
use measure::{arg, rss_kib};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let days = u32::try_from(arg(&args, 1, 1)).unwrap_or(1);
    let jobs = arg(&args, 2, 30_000);
    let units = u32::try_from(arg(&args, 3, 200)).unwrap_or(200);
    let mut day = Day::new(Estate::new(jobs, units));
    println!("start rss_kib={}", rss_kib());
    for step in 0..days * STEPS_PER_DAY {
        let out = day.step(step);
        if (step + 1) % 12 == 0 {
            let pushed: usize = out.requests.iter().map(|r| r.len()).sum();
            println!(
                "hour={} rss_kib={} pushed_bytes={pushed} bridge_lines={}",
                (step + 1) / 12,
                rss_kib(),
                out.exposition
                    .lines()
                    .filter(|l| !l.starts_with('#'))
                    .count()
            );
        }
    }
}
