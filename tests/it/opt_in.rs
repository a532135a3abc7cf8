//! Opt-in sources against the simulator over real HTTP.

use std::collections::BTreeMap;

use nbu_otel::collect::SiteCollector;
use nbu_otel::collect::sources::{CLIENT_LAST_SUCCESSFUL_BACKUP, CLIENTS_OVER_CAP};
use nbu_otel::config::SourceId;
use nbu_otel::sim::{JobState, SimConfig, Simulator};

use crate::common::{anchor, load, site_yaml, start_sim};

const KEY: &str = "opt-in-key";

async fn sim() -> Simulator {
    start_sim(SimConfig {
        jobs: 3000,
        anchor: anchor(),
        api_key: KEY.to_owned(),
        ..SimConfig::default()
    })
    .await
}

/// The newest end (Unix seconds) of a successful finished backup of each client, read straight
/// from the simulator's dataset.
fn last_successful_backups(sim: &Simulator) -> BTreeMap<String, i64> {
    let now_ms = sim.now().timestamp_millis();
    let mut out: BTreeMap<String, i64> = BTreeMap::new();
    for job in sim.dataset().jobs_at(now_ms) {
        let success = job.job_type == Some("BACKUP")
            && job.status == Some(0)
            && job.state == Some(JobState::Done);
        if let (true, Some(end)) = (success, job.end_ms) {
            let at = out.entry(job.client_name.to_owned()).or_insert(i64::MIN);
            *at = (*at).max(end.div_euclid(1000));
        }
    }
    out
}

fn collector(sim: &Simulator, sources: &str) -> SiteCollector {
    let yaml = format!(
        "sources:\n{sources}\nsites:\n{}",
        site_yaml("opt", &sim.base_url(), "      jobs_window: 366d")
    );
    let site = load(&yaml, &[("NBU_KEY", KEY)]).sites.remove(0);
    SiteCollector::new(site).expect("collector")
}

fn narrow_queries(sim: &Simulator) -> usize {
    sim.requests()
        .iter()
        .filter(|r| r.path.ends_with("/admin/jobs") && r.query.contains("clientName"))
        .count()
}

#[tokio::test]
async fn each_allowlisted_client_gets_its_last_successful_backup_from_one_query() {
    let sim = sim().await;
    let truth = last_successful_backups(&sim);
    let known: Vec<&String> = truth.keys().take(3).collect();
    assert_eq!(
        known.len(),
        3,
        "the dataset has clients with successful backups"
    );
    let allowlist: Vec<String> = known
        .iter()
        .map(|c| format!("\"{c}\""))
        .chain(["\"no-such-client\"".to_owned()])
        .collect();
    let c = collector(
        &sim,
        &format!(
            "  clients:\n    enabled: true\n    allowlist: [{}]",
            allowlist.join(", ")
        ),
    );
    let report = c.collect_all().await;
    let outcome = report
        .sources
        .get(&SourceId::Clients)
        .and_then(|o| o.as_ref())
        .expect("the clients source ran");
    let values = outcome
        .result
        .as_ref()
        .expect("the clients source succeeded");
    let got: BTreeMap<String, i64> = values
        .series(CLIENT_LAST_SUCCESSFUL_BACKUP)
        .map(|(labels, v)| (labels[0].1.clone(), v as i64))
        .collect();
    let expected: BTreeMap<String, i64> = known.iter().map(|c| ((*c).clone(), truth[*c])).collect();
    assert_eq!(
        got, expected,
        "no series for a client NetBackup never backed up"
    );
    assert_eq!(
        narrow_queries(&sim),
        4,
        "one query per client named in the allowlist"
    );
}

#[tokio::test]
async fn clients_beyond_the_cap_are_counted_not_asked_about() {
    let sim = sim().await;
    let truth = last_successful_backups(&sim);
    let names: Vec<String> = truth.keys().take(5).map(|c| format!("\"{c}\"")).collect();
    assert_eq!(names.len(), 5);
    let c = collector(
        &sim,
        &format!(
            "  clients:\n    enabled: true\n    max_clients: 2\n    allowlist: [{}]",
            names.join(", ")
        ),
    );
    let report = c.collect_all().await;
    let values = report.sources[&SourceId::Clients]
        .as_ref()
        .and_then(|o| o.result.as_ref().ok())
        .expect("the clients source succeeded");
    let over: Vec<f64> = values.series(CLIENTS_OVER_CAP).map(|(_, v)| v).collect();
    assert_eq!(over, [3.0]);
    let covered: Vec<String> = values
        .series(CLIENT_LAST_SUCCESSFUL_BACKUP)
        .map(|(l, _)| l[0].1.clone())
        .collect();
    let first_two: Vec<String> = truth.keys().take(2).cloned().collect();
    assert_eq!(covered, first_two, "the first clients by name");
    assert_eq!(narrow_queries(&sim), 2);
}
