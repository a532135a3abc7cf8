//! Nothing leaks: two hundred reloads in process and a hundred restarts of the binary leave no
//! task, thread or file descriptor behind.

use std::time::Duration;

use nbu_otel::Agent;
use nbu_otel::telemetry::pipeline::Pipeline;
use nbu_sim::SimConfig;

use crate::common::bridged::sim_config;
use crate::common::{load, start_sim, wait_for};
use crate::pipeline::KEY;

fn task_count() -> usize {
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
}

fn thread_count() -> usize {
    std::fs::read_dir("/proc/self/task").map_or(0, |d| d.count())
}

fn fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_reloads_leak_no_tasks_or_descriptors() {
    let sim = start_sim(sim_config(KEY)).await;
    let dir = tempfile::tempdir().unwrap();
    let key_a = dir.path().join("a.key");
    let key_b = dir.path().join("b.key");
    std::fs::write(&key_a, KEY).unwrap();
    std::fs::write(&key_b, format!("{KEY}\n")).unwrap();
    let config = |key: &std::path::Path, interval: &str| {
        load(
            &format!(
                "sites:\n  - name: r\n    url: {}\n    api_key_file: {}\n    collection:\n      jobs_interval: {interval}\n      request_timeout: 500ms\notlp:\n  enabled: false\n",
                sim.base_url(),
                key.display()
            ),
            &[],
        )
    };
    let pipeline = Pipeline::build(&config(&key_a, "1s")).unwrap();
    let mut agent = Agent::new(config(&key_a, "1s"), &pipeline.meter_provider);
    agent.start();
    wait_for("a first collection", Duration::from_secs(20), || async {
        agent
            .snapshots()
            .get("r")
            .and_then(|s| s.jobs_last_success)
            .map(|_| ())
    })
    .await;
    let (tasks0, fds0) = (task_count(), fd_count());
    for i in 0..200 {
        let (key, interval) = if i % 2 == 0 {
            (&key_b, "2s")
        } else {
            (&key_a, "1s")
        };
        let summary = agent.reload(config(key, interval)).await;
        assert_eq!(summary.changed, vec!["r".to_owned()]);
    }
    // Back on the first config; let connections of stopped clients close.
    wait_for(
        "tasks and descriptors back to baseline",
        Duration::from_secs(20),
        || async {
            let (tasks, fds) = (task_count(), fd_count());
            (tasks <= tasks0 + 2 && fds <= fds0 + 4).then_some(())
        },
    )
    .await;
    // And the agent still collects.
    sim.clear_requests();
    wait_for(
        "a collection after the reloads",
        Duration::from_secs(20),
        || async { (!sim.requests().is_empty()).then_some(()) },
    )
    .await;
    agent.shutdown().await;
    pipeline.shutdown(Duration::from_secs(5)).await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_agent_restarts_leave_nothing_behind() {
    let sim = start_sim(SimConfig {
        jobs: 200,
        api_key: "k-restart".into(),
        ..SimConfig::default()
    })
    .await;
    let yaml = format!(
        "sites:\n{}server:\n  listen: \"127.0.0.1:0\"\n  prometheus_bridge: true\notlp:\n  enabled: false\n",
        crate::common::site_yaml(
            "restart",
            &sim.base_url(),
            "      jobs_interval: 1s\n      request_timeout: 900ms\n"
        )
    );
    let config = crate::common::load(&yaml, &[("NBU_KEY", "k-restart")]);
    let run_once = || async {
        let pipeline = nbu_otel::telemetry::pipeline::Pipeline::build(&config).unwrap();
        let mut agent = nbu_otel::Agent::new(config.clone(), &pipeline.meter_provider);
        agent.start();
        wait_for("a collection", Duration::from_secs(20), || async {
            agent
                .snapshots()
                .get("restart")
                .and_then(|s| s.jobs_last_success)
                .map(|_| ())
        })
        .await;
        agent.shutdown().await;
        pipeline.shutdown(Duration::from_secs(5)).await;
    };
    // Warm up lazily created resources (runtime blocking threads, DNS, ...), then measure.
    run_once().await;
    wait_for(
        "the warm-up's connections to close",
        Duration::from_secs(20),
        || async { (sim.open_connections() == 0).then_some(()) },
    )
    .await;
    let baseline = (
        tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks(),
        fd_count(),
        thread_count(),
    );
    let accepted_before = sim.accepted_connections();
    for _ in 0..100 {
        run_once().await;
    }
    assert!(
        sim.accepted_connections() > accepted_before,
        "the agents did connect"
    );
    wait_for(
        "tasks, descriptors, threads and connections back to baseline",
        Duration::from_secs(30),
        || async {
            let now = (
                tokio::runtime::Handle::current()
                    .metrics()
                    .num_alive_tasks(),
                fd_count(),
                thread_count(),
            );
            let back = now.0 <= baseline.0 + 1
                && now.1 <= baseline.1 + 2
                && now.2 <= baseline.2 + 2
                && sim.open_connections() == 0;
            back.then_some(())
        },
    )
    .await;
    sim.shutdown().await;
}
