//! What the binary tells about itself: trace ids in its JSON log lines, its own logs as OTLP
//! log records, and the console exporters.

use std::time::Duration;

use nbu_sim::{SimConfig, Simulator};

use super::{KEY, sim_with, write_config};
use crate::common::otlp::{Receiver, attr};
use crate::common::process::{AgentProcess, free_port};
use crate::common::{start_sim, wait_for};

/// The hex trace ids of every span `receiver` got.
fn exported_trace_ids(receiver: &Receiver) -> Vec<String> {
    receiver.with(|r| {
        r.traces
            .iter()
            .flat_map(|t| &t.resource_spans)
            .flat_map(|rs| &rs.scope_spans)
            .flat_map(|ss| &ss.spans)
            .map(|s| s.trace_id.iter().map(|b| format!("{b:02x}")).collect())
            .collect()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_log_lines_written_in_a_cycle_carry_the_trace_id_of_its_exported_spans() {
    let sim = sim_with(50).await;
    // Storage fails at every cycle: the site is collected in part, and says so.
    sim.set_fault(
        nbu_sim::FaultTarget::Storage,
        nbu_sim::Fault::Status {
            code: 500,
            retry_after: None,
            body: None,
        },
        None,
    );
    let receiver = Receiver::start("127.0.0.1:0".parse().unwrap()).await;
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "sites:\n  - name: linked\n    url: {}\n    api_key: {KEY}\n    collection:\n      jobs_interval: 1s\n      request_timeout: 900ms\nserver:\n  listen: 127.0.0.1:{port}\notlp:\n  endpoint: {}\n  export_interval: 1s\n  timeout: 1s\ntraces:\n  enabled: true\n  sampling_ratio: 1.0\nlogging:\n  level: info\n  format: json\n",
        sim.base_url(),
        receiver.endpoint()
    );
    let path = write_config(dir.path(), &yaml);
    let healthz = format!("http://127.0.0.1:{port}/healthz");
    let agent = AgentProcess::spawn(
        &["run".as_ref(), "--config".as_ref(), path.as_os_str()],
        &[("RUST_LOG", "info")],
        &healthz,
    )
    .await;
    wait_for(
        "a failed collection logged",
        Duration::from_secs(30),
        || async { agent.stderr().contains("collection failed").then_some(()) },
    )
    .await;
    let (_, stderr) = agent.terminate().await;
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let message = |l: &serde_json::Value| l["fields"]["message"].as_str().map(str::to_owned);
    assert!(
        lines
            .iter()
            .any(|l| message(l).as_deref() == Some("collection failed")),
        "{stderr}"
    );
    // Written in the cycle's span: its trace id is one of the exported traces.
    let agreed = lines
        .iter()
        .find(|l| message(l).as_deref() == Some("collection failed"))
        .unwrap_or_else(|| panic!("no failed collection line:\n{stderr}"));
    assert_eq!(agreed["span"]["name"], "nbu.collect", "{agreed}");
    let trace_id = agreed["trace_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no trace_id: {agreed}"));
    let span_id = agreed["span_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no span_id: {agreed}"));
    assert_eq!((trace_id.len(), span_id.len()), (32, 16), "{agreed}");
    let exported = exported_trace_ids(&receiver);
    assert!(
        exported.iter().any(|t| t == trace_id),
        "trace {trace_id} not among the exported spans' {exported:?}"
    );
    // Lines outside spans carry no ids.
    let outside = lines
        .iter()
        .find(|l| l.get("span").is_none() && l.get("spans").is_none())
        .unwrap_or_else(|| panic!("no line outside spans:\n{stderr}"));
    assert!(outside.get("trace_id").is_none(), "{outside}");
    assert!(outside.get("span_id").is_none(), "{outside}");
    receiver.stop().await;
    sim.shutdown().await;
}

/// `run` of one site of a small simulator with the OTLP endpoint at a test receiver (`otlp`
/// lines given, indented two spaces) and `env`, once its `/healthz` answers.
async fn run_against_a_receiver(
    otlp: &str,
    env: &[(&str, &str)],
) -> (Simulator, Receiver, AgentProcess, tempfile::TempDir) {
    let sim = start_sim(SimConfig {
        jobs: 50,
        api_key: KEY.into(),
        ..SimConfig::default()
    })
    .await;
    let receiver = Receiver::start("127.0.0.1:0".parse().unwrap()).await;
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "sites:\n  - name: printed\n    url: {}\n    api_key: {KEY}\n    collection:\n      jobs_interval: 1s\n      request_timeout: 900ms\nserver:\n  listen: 127.0.0.1:{port}\notlp:\n  endpoint: {}\n{otlp}",
        sim.base_url(),
        receiver.endpoint()
    );
    let path = write_config(dir.path(), &yaml);
    let agent = AgentProcess::spawn(
        &["run".as_ref(), "--config".as_ref(), path.as_os_str()],
        env,
        &format!("http://127.0.0.1:{port}/healthz"),
    )
    .await;
    (sim, receiver, agent, dir)
}

/// `OTEL_LOGS_EXPORTER=otlp`: the agent's own log lines also reach the Collector as OTLP log
/// records, in a scope other than the job events', on the agent's resource.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agents_own_logs_go_out_as_otlp_log_records_when_asked() {
    let (sim, receiver, agent, _dir) = run_against_a_receiver(
        "  enabled: false\n",
        &[
            ("OTEL_LOGS_EXPORTER", "otlp"),
            ("OTEL_SERVICE_NAME", "nbu-logs-test"),
        ],
    )
    .await;
    let records = wait_for("the agent's start line as a record", Duration::from_secs(30), || async {
        let records: Vec<(String, String, String)> = receiver.with(|r| {
            r.logs
                .iter()
                .flat_map(|req| &req.resource_logs)
                .flat_map(|rl| {
                    let service = rl
                        .resource
                        .as_ref()
                        .and_then(|res| attr(&res.attributes, "service.name"))
                        .unwrap_or_default();
                    rl.scope_logs.iter().flat_map(move |sl| {
                        let scope = sl.scope.as_ref().map(|s| s.name.clone()).unwrap_or_default();
                        let service = service.clone();
                        sl.log_records.iter().map(move |l| {
                            let body = match l.body.as_ref().and_then(|b| b.value.as_ref()) {
                                Some(opentelemetry_proto::tonic::common::v1::any_value::Value::StringValue(s)) => s.clone(),
                                _ => String::new(),
                            };
                            (service.clone(), scope.clone(), body)
                        })
                    })
                })
                .collect()
        });
        records
            .iter()
            .any(|(_, _, body)| body == "nbu-otel started")
            .then_some(records)
    })
    .await;
    agent.terminate().await;
    for (service, scope, body) in &records {
        assert_eq!(service, "nbu-logs-test", "{body}");
        assert_ne!(scope, nbu_otel::telemetry::logs::SCOPE_NAME, "{body}");
        assert!(
            !body.contains("opentelemetry") || body.contains("nbu"),
            "{body}"
        );
    }
    receiver.stop().await;
    sim.shutdown().await;
}

/// `OTEL_METRICS_EXPORTER=console` and `OTEL_TRACES_EXPORTER=console`: the push and the spans
/// are printed to standard output instead of sent, for debugging; nothing reaches a Collector.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_exporters_print_metrics_and_spans_instead_of_sending_them() {
    let (sim, receiver, agent, _dir) = run_against_a_receiver(
        "  export_interval: 1s\n  timeout: 900ms\n",
        &[
            ("OTEL_METRICS_EXPORTER", "console"),
            ("OTEL_TRACES_EXPORTER", "console"),
        ],
    )
    .await;
    wait_for(
        "metrics and spans on standard output",
        Duration::from_secs(30),
        || async {
            let out = agent.stdout();
            (out.contains("nbu.up") && out.contains("nbu.collect")).then_some(())
        },
    )
    .await;
    let (stdout, _) = agent.terminate().await;
    assert!(stdout.contains("nbu.jobs_count"), "{stdout}");
    assert!(
        receiver.with(|r| r.metrics.is_empty() && r.traces.is_empty()),
        "nothing was sent"
    );
    receiver.stop().await;
    sim.shutdown().await;
}
