//! Parse + aggregate throughput on vendor-shaped `/admin/jobs` pages.
//!
//! The pages are rendered once, before measuring, by the simulator's page renderer (the same
//! function the simulator's HTTP handler uses: about 80 attributes per job, ~2 KB of JSON per
//! job). Five routines run over the same bytes in the same run:
//!
//! - `baseline_value`: `serde_json::from_slice::<serde_json::Value>` of every page, the
//!   reference the other two are reported against;
//! - `parse`: `JobsPage::from_body` of every page (what `walk_jobs` does);
//! - `parse_serde`: the same pages read by the serde models with serde_json after a whole-body
//!   UTF-8 check (the decoding `parse` replaced);
//! - `parse_fold` / `parse_fold_serde`: the parse, plus every job put in a job store and the
//!   aggregates folded from it, as a full walk does.
//!
//! `Throughput::Elements` is the number of jobs, so criterion prints jobs/s.
//!
//! ```text
//! cargo bench --bench aggregate -- --warm-up-time 1 --measurement-time 5
//! ```
//! Environment: `NBU_BENCH_PAGES` (default 100) and `NBU_BENCH_PAGE_SIZE` (default 100, the
//! API maximum) change the shape of the input.

use std::hint::black_box;

use chrono::TimeZone;
use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use nbu_otel::collect::{JobBatch, JobStore};
use nbu_otel::netbackup::models::{JobsPage, PageDocument as _};
use nbu_sim::{Dataset, SimConfig};

/// The pages of one walk over `pages * page_size` jobs, as response bodies.
struct Input {
    bodies: Vec<Vec<u8>>,
    jobs: u64,
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

fn render_input(pages: u64, page_size: u64) -> Input {
    let anchor = chrono::Utc
        .with_ymd_and_hms(2026, 11, 27, 8, 0, 0)
        .single()
        .expect("a valid fixed anchor");
    let config = SimConfig {
        seed: 1,
        jobs: pages * page_size,
        anchor,
        ..SimConfig::default()
    };
    let dataset = Dataset::new(&config);
    let base = "http://127.0.0.1:9441/netbackup";
    let path = "/netbackup/admin/jobs?filter=state+eq+%27DONE%27&sort=jobId";
    let mut bodies = Vec::new();
    let mut jobs = 0;
    for p in 0..pages {
        let items: Vec<_> = (p * page_size..(p + 1) * page_size)
            .filter_map(|i| dataset.job(i))
            .collect();
        jobs += items.len() as u64;
        let last = items.last().map(|j| j.job_id);
        let more = p + 1 < pages;
        let after = (p > 0).then(|| p * page_size);
        let page = nbu_sim::JobsPage {
            limit: page_size,
            next: last.filter(|_| more),
            prev: after.and(items.first().map(|j| j.job_id)),
            self_href: match after {
                Some(a) => format!("{path}&page%5Blimit%5D={page_size}&page%5Bafter%5D={a}"),
                None => format!("{path}&page%5Blimit%5D={page_size}"),
            },
            first_href: format!("{path}&page%5Blimit%5D={page_size}"),
            next_href: last
                .filter(|_| more)
                .map(|n| format!("{path}&page%5Blimit%5D={page_size}&page%5Bafter%5D={n}")),
            items,
            hostile: false,
        };
        bodies.push(nbu_sim::render_jobs_page(&dataset, &page, base).into_bytes());
    }
    Input { bodies, jobs }
}

/// What `walk_jobs` does with a page: decode it, hand over every job with attributes, read the
/// next cursor.
fn parse_pages(input: &Input) -> u64 {
    let mut seen = 0;
    for body in &input.bodies {
        let page = JobsPage::from_body(body).expect("rendered pages parse");
        seen += jobs_and_cursor(&page);
    }
    seen
}

/// The jobs with attributes of a page; the next cursor is read as the walk reads it.
fn jobs_and_cursor(page: &JobsPage<'_>) -> u64 {
    let next = page
        .meta
        .as_ref()
        .and_then(|m| m.pagination.as_ref())
        .and_then(|p| p.next.as_str())
        .map(str::len);
    black_box(next);
    page.data.iter().filter(|r| r.attributes.is_some()).count() as u64
}

/// The same with the serde models read by serde_json, after a whole-body UTF-8 check (how
/// pages were decoded before the direct reader).
fn parse_pages_serde(input: &Input) -> u64 {
    let mut seen = 0;
    for body in &input.bodies {
        let text = std::str::from_utf8(body).expect("rendered pages are UTF-8");
        let page: JobsPage<'_> = serde_json::from_str(text).expect("rendered pages parse");
        seen += jobs_and_cursor(&page);
    }
    seen
}

/// What a full walk does with the jobs of decoded pages: records into a batch, the batch into
/// a job store (finished jobs reported once), and the legacy aggregates folded from the store.
fn fold<'a>(pages: impl Iterator<Item = JobsPage<'a>>) -> u64 {
    let mut store = JobStore::new();
    let mut batch = JobBatch::for_store(&store);
    for page in pages {
        for resource in &page.data {
            if let Some(job) = &resource.attributes {
                batch.add(job);
            }
        }
        black_box(page.meta.as_ref().and_then(|m| m.pagination.as_ref()));
    }
    let mut finished = 0u64;
    store.replace(batch, i64::MIN, |_| finished += 1);
    let summary = store.summary();
    black_box(&summary);
    summary.jobs + finished
}

/// The parse, plus the work of a full walk.
fn parse_and_fold(input: &Input) -> u64 {
    fold(
        input
            .bodies
            .iter()
            .map(|body| JobsPage::from_body(body).expect("rendered pages parse")),
    )
}

/// The same with the serde models read by serde_json (how pages were decoded before the
/// direct reader).
fn parse_and_fold_serde(input: &Input) -> u64 {
    fold(input.bodies.iter().map(|body| {
        let text = std::str::from_utf8(body).expect("rendered pages are UTF-8");
        serde_json::from_str::<JobsPage<'_>>(text).expect("rendered pages parse")
    }))
}

/// The baseline: a generic DOM parse of the same bytes.
fn parse_values(input: &Input) -> usize {
    let mut items = 0;
    for body in &input.bodies {
        let value: serde_json::Value = serde_json::from_slice(body).expect("rendered pages parse");
        items += value["data"].as_array().map_or(0, Vec::len);
    }
    items
}

fn bench(c: &mut Criterion) {
    let pages = env_u64("NBU_BENCH_PAGES", 100).max(1);
    let page_size = env_u64("NBU_BENCH_PAGE_SIZE", 100).max(1);
    let input = render_input(pages, page_size);
    let bytes: usize = input.bodies.iter().map(Vec::len).sum();
    eprintln!(
        "input: {pages} pages x {page_size} jobs = {} jobs, {bytes} bytes ({:.0} bytes/job)",
        input.jobs,
        bytes as f64 / input.jobs.max(1) as f64
    );
    // Sanity: every routine sees every job.
    assert_eq!(parse_pages(&input), input.jobs);
    assert_eq!(parse_pages_serde(&input), input.jobs);
    assert_eq!(parse_and_fold(&input), parse_and_fold_serde(&input));
    assert_eq!(parse_values(&input) as u64, input.jobs);

    let mut group = c.benchmark_group("jobs_pages");
    group.throughput(Throughput::Elements(input.jobs));
    // One iteration is a whole walk (tens of milliseconds): flat sampling, few samples.
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(20);
    group.bench_function("baseline_value", |b| {
        b.iter(|| black_box(parse_values(black_box(&input))))
    });
    group.bench_function("parse_serde", |b| {
        b.iter(|| black_box(parse_pages_serde(black_box(&input))))
    });
    group.bench_function("parse", |b| {
        b.iter(|| black_box(parse_pages(black_box(&input))))
    });
    group.bench_function("parse_fold", |b| {
        b.iter(|| black_box(parse_and_fold(black_box(&input))))
    });
    group.bench_function("parse_fold_serde", |b| {
        b.iter(|| black_box(parse_and_fold_serde(black_box(&input))))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
