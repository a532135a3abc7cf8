//! Part 4: an agent reading a simulator where every backup fails.

use std::time::Duration;

use super::common::{env_u64, process_cpu};
use super::roles::{Child, number, prompt_site, start_delay};
use super::support::{env_text, median, mib, status_bytes};

/// One run of an agent against a new simulator process: (time to the goal, peak RSS, CPU).
pub(super) async fn mass_failure_run(
    with_events: bool,
    runs_note: &mut Vec<String>,
) -> (f64, u64, f64) {
    let mut sim = Child::start("sim", &[]);
    let url = sim.expect("sim", Duration::from_secs(60)).await;
    let expected: u64 = number(&sim.expect("expected", Duration::from_secs(60)).await, 0);
    let otlp = sim.expect("otlp", Duration::from_secs(60)).await;
    let max_waiting = (expected + 1000).max(20_000);
    let mut agent = Child::start(
        "agent",
        &[
            (
                "NBU_BENCH_SIM_URL",
                url.first().cloned().unwrap_or_default(),
            ),
            ("NBU_BENCH_OTLP", otlp.first().cloned().unwrap_or_default()),
            ("NBU_BENCH_WITH_EVENTS", u64::from(with_events).to_string()),
            ("NBU_BENCH_MAX_WAITING", max_waiting.to_string()),
        ],
    );
    let pid = agent.pid();
    let start: u128 = number(&agent.expect("start", Duration::from_secs(60)).await, 0);
    let cycle_line = agent.expect("cycle", Duration::from_secs(300)).await;
    let cycle: u128 = number(&cycle_line, 0);
    let cycle_hwm: u64 = number(&cycle_line, 1);
    let cycle_s = (cycle.saturating_sub(start)) as f64 / 1e9;
    if !with_events {
        let (hwm, cpu) = (status_bytes(&pid, "VmHWM"), process_cpu(&pid));
        runs_note.push(format!(
            "events off: first cycle {cycle_s:.2} s (peak RSS then {:.1} MiB)",
            mib(cycle_hwm)
        ));
        return (cycle_s, hwm, cpu.as_secs_f64());
    }
    let done = loop {
        let words = sim.expect("received", Duration::from_secs(300)).await;
        let total: u64 = number(&words, 0);
        if total >= expected {
            break number::<u128>(&words, 1);
        }
    };
    let (hwm, cpu) = (status_bytes(&pid, "VmHWM"), process_cpu(&pid));
    // Nothing more comes (every job once): wait a few export intervals.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut total = expected;
    while let Ok(line) = sim.lines.try_recv() {
        if let Some(t) = line.strip_prefix("received ") {
            total = t
                .split_whitespace()
                .next()
                .and_then(|t| t.parse().ok())
                .unwrap_or(total);
        }
    }
    assert_eq!(total, expected, "every failed job exactly once");
    let done_s = (done.saturating_sub(start)) as f64 / 1e9;
    runs_note.push(format!(
        "events on: {expected} failed jobs, first cycle {cycle_s:.2} s (peak RSS then {:.1} MiB), all delivered {done_s:.2} s",
        mib(cycle_hwm)
    ));
    drop(agent);
    (done_s, hwm, cpu.as_secs_f64())
}

pub(super) async fn mass_failure(runs: u64) {
    let interval = Duration::from_secs(60);
    let site = prompt_site(interval);
    println!(
        "4. mass failure: {} jobs, every backup failed with status 84, first_start: window; agent, simulator + receiver in separate processes",
        env_u64("NBU_BENCH_SIM_JOBS", 10_000)
    );
    println!(
        "   site {site} (start delay {:?}), requests_per_second {}, events.export_interval {}",
        start_delay(&site, interval),
        env_u64("NBU_BENCH_RPS", 1000),
        env_text("NBU_BENCH_EXPORT_INTERVAL", "100ms")
    );
    let (mut on, mut off) = (Vec::new(), Vec::new());
    let mut notes = Vec::new();
    for run in 0..runs {
        // Alternate which goes first.
        for with_events in if run % 2 == 0 {
            [false, true]
        } else {
            [true, false]
        } {
            let result = mass_failure_run(with_events, &mut notes).await;
            let (time, hwm, cpu) = result;
            println!(
                "   run {} events {:<3}: {time:>6.2} s  peak RSS {:>6.1} MiB  CPU {cpu:.2} s",
                run + 1,
                if with_events { "on" } else { "off" },
                mib(hwm)
            );
            if with_events { &mut on } else { &mut off }.push(result);
        }
    }
    for note in notes {
        println!("     {note}");
    }
    let med = |v: &[(f64, u64, f64)], f: fn(&(f64, u64, f64)) -> f64| {
        let mut xs: Vec<f64> = v.iter().map(f).collect();
        median(&mut xs)
    };
    let (t_on, t_off) = (med(&on, |r| r.0), med(&off, |r| r.0));
    let (m_on, m_off) = (med(&on, |r| r.1 as f64), med(&off, |r| r.1 as f64));
    let (c_on, c_off) = (med(&on, |r| r.2), med(&off, |r| r.2));
    println!(
        "   medians: events on {t_on:.2} s, {:.1} MiB, {c_on:.2} s CPU; off (baseline, first cycle) {t_off:.2} s, {:.1} MiB, {c_off:.2} s CPU",
        m_on / 1048576.0,
        m_off / 1048576.0
    );
    println!(
        "   on / off: {:.2} x the time, {:.2} x the peak RSS (+{:.1} MiB), {:.2} x the CPU",
        t_on / t_off,
        m_on / m_off,
        (m_on - m_off) / 1048576.0,
        c_on / c_off
    );
}
