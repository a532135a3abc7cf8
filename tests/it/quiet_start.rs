//! A healthy start says nothing alarming: in every supported mode (push only, bridge only,
//! both, with traces, with job events) the real binary logs no ERROR line and no warning but
//! the one an operator can act on here (the test's simulator speaks plain http).

use std::time::Duration;

use nbu_sim::SimConfig;

use crate::common::otlp::Receiver;
use crate::common::process::{AgentProcess, free_port};
use crate::common::{jobs_cycles, start_sim, wait_for};

const KEY: &str = "k-quiet-start";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_start_logs_no_error_in_any_mode() {
    let sim = start_sim(SimConfig {
        jobs: 300,
        api_key: KEY.into(),
        ..SimConfig::default()
    })
    .await;
    let receiver = Receiver::start("127.0.0.1:0".parse().unwrap()).await;
    let modes = [
        (
            "bridge only",
            "server:\n  prometheus_bridge: true\notlp:\n  enabled: false\n",
        ),
        (
            "push only",
            "server:\n  prometheus_bridge: false\notlp:\n  enabled: true\n",
        ),
        (
            "both",
            "server:\n  prometheus_bridge: true\notlp:\n  enabled: true\n",
        ),
        (
            "both with traces",
            "server:\n  prometheus_bridge: true\notlp:\n  enabled: true\ntraces:\n  enabled: true\n",
        ),
        (
            "both with job events",
            "server:\n  prometheus_bridge: true\notlp:\n  enabled: true\nevents:\n  enabled: true\n  state_dir: state\n",
        ),
    ];
    for (mode, section) in modes {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let pushes =
            section.contains("enabled: true\n") && !section.contains("otlp:\n  enabled: false");
        let mut yaml = format!(
            "sites:\n  - name: quiet\n    url: {}\n    api_key: ${{NBU_KEY}}\n    collection:\n      jobs_interval: 2s\n      request_timeout: 1s\n{section}",
            sim.base_url()
        );
        yaml = yaml.replacen(
            "server:\n",
            &format!("server:\n  listen: 127.0.0.1:{port}\n"),
            1,
        );
        yaml = yaml.replacen(
            "otlp:\n",
            &format!(
                "otlp:\n  endpoint: {}\n  export_interval: 1s\n  timeout: 900ms\n",
                receiver.endpoint()
            ),
            1,
        );
        let before = (jobs_cycles(&sim), receiver.with(|r| r.metrics.len()));
        let agent = AgentProcess::start(dir.path(), &yaml, port, &[("NBU_KEY", KEY)]).await;
        wait_for(mode, Duration::from_secs(60), || async {
            let cycled = jobs_cycles(&sim) > before.0;
            let pushed = !pushes || receiver.with(|r| r.metrics.len()) > before.1;
            (cycled && pushed).then_some(())
        })
        .await;
        let (_, stderr) = agent.terminate().await;
        let alarming: Vec<&str> = stderr
            .lines()
            .filter(|l| {
                l.contains(" ERROR ") || (l.contains(" WARN ") && !l.contains("plain http://"))
            })
            .collect();
        assert!(alarming.is_empty(), "{mode}: {alarming:#?}\n{stderr}");
        assert!(stderr.contains("nbu-otel started"), "{mode}: {stderr}");
    }
    receiver.stop().await;
}
