//! One broken record per page: the agent keeps the rest of every page.
//!
//! A byte that is not UTF-8 in an attribute the agent does not read is tolerated (every job is
//! counted); in one it reads (`jobType`), that record is skipped and counted in
//! `nbu_api_records_skipped_total`, and the other records of its page are counted. The site
//! stays up in both cases.

use std::time::Duration;

use nbu_sim::{Fault, FaultTarget, SimConfig, Simulator};

use crate::common::process::{AgentProcess, free_port};
use crate::common::{start_sim, wait_for};
use crate::prometheus::{Exposition, scrape, value};

const KEY: &str = "k-broken";

async fn broken_site(member: &str) -> Simulator {
    let sim = start_sim(SimConfig {
        jobs: 600,
        api_key: KEY.into(),
        ..SimConfig::default()
    })
    .await;
    sim.set_fault(
        FaultTarget::Jobs,
        Fault::InvalidUtf8InRecord {
            member: member.to_owned(),
        },
        None,
    );
    sim
}

/// Jobs the simulator holds in the agent's 72 h window: all of them.
fn truth(sim: &Simulator) -> f64 {
    crate::common::truth::expected(&sim.truth(sim.config().anchor - chrono::Duration::hours(72)))
        .jobs
        .jobs as f64
}

/// Jobs of the window the agent holds, finished or not (`nbu_jobs_state_count` covers both).
fn jobs_counted(families: &Exposition, site: &str) -> f64 {
    families
        .get("nbu_jobs_state_count")
        .map(|f| {
            f.iter()
                .filter(|(labels, _)| labels.iter().any(|(k, v)| k == "site" && v == site))
                .map(|(_, v)| v)
                .sum()
        })
        .unwrap_or(0.0)
}

fn skipped(families: &Exposition, site: &str) -> Option<f64> {
    value(
        families,
        "nbu_api_records_skipped_total",
        &[("site", site), ("endpoint", "/admin/jobs")],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_record_is_tolerated_or_skipped_and_the_rest_of_its_page_counted() {
    let unused = broken_site("scheduleName").await;
    let used = broken_site("jobType").await;
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    // One cold fill in the test's time: the next cycle is an hour away.
    let collection = "    collection:\n      jobs_interval: 1h\n      jobs_window: 72h\n      jobs_page_size: 50\n";
    let yaml = format!(
        "sites:\n  - name: unused\n    url: {}\n    api_key: {KEY}\n{collection}  - name: used\n    url: {}\n    api_key: {KEY}\n{collection}server:\n  listen: 127.0.0.1:{port}\n  prometheus_bridge: true\notlp:\n  enabled: false\n",
        unused.base_url(),
        used.base_url()
    );
    let agent = AgentProcess::start(dir.path(), &yaml, port, &[]).await;
    let metrics_url = format!("http://127.0.0.1:{port}/metrics");
    let families = wait_for("both sites collected", Duration::from_secs(60), || async {
        let f = scrape(&metrics_url).await;
        (jobs_counted(&f, "unused") > 0.0 && jobs_counted(&f, "used") > 0.0).then_some(f)
    })
    .await;

    for site in ["unused", "used"] {
        assert_eq!(
            value(&families, "nbu_up", &[("site", site)]),
            Some(1.0),
            "{site}"
        );
    }
    // An invalid byte in an attribute the agent does not read: every job counted.
    assert_eq!(jobs_counted(&families, "unused"), truth(&unused));
    assert_eq!(skipped(&families, "unused"), None);
    // In `jobType`: one record skipped per page served with jobs, the rest counted.
    let skipped = skipped(&families, "used").unwrap_or(0.0);
    let pages = used
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/admin/jobs") && r.status == 200)
        .count() as f64;
    assert!(
        skipped >= truth(&used) / 50.0 && skipped <= pages,
        "{skipped} records skipped over {pages} pages"
    );
    assert_eq!(jobs_counted(&families, "used") + skipped, truth(&used));

    let (_, stderr) = agent.terminate().await;
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("broken job record"))
        .collect();
    assert!(
        !warnings.is_empty()
            && warnings
                .iter()
                .all(|l| l.contains("site=used") && l.contains("job_id=") && l.contains("jobType")),
        "one warning per page naming the site, the job and the member:\n{stderr}"
    );
    unused.shutdown().await;
    used.shutdown().await;
}
