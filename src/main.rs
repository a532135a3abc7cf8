//! The `nbu-otel` command line: `run`, `demo`, `check`, `once`, `migrate` and `sim`
//! (`demo` and `sim`, which start the built-in simulator, with the cargo feature `sim`, on by
//! default).
//!
//! Exit codes: 0 success, 1 a site failed (`once`, `check`) or the agent could not start,
//! 2 invalid configuration or arguments.

use std::io::IsTerminal as _;
#[cfg(feature = "sim")]
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};
use nbu_otel::agent::service;
use nbu_otel::collect::{FillProgress, ProgressSink};
use nbu_otel::commands;
use nbu_otel::config::{self, Config};
#[cfg(feature = "sim")]
use nbu_otel::demo;
use nbu_otel::events::Events;
use nbu_otel::report;
use nbu_otel::telemetry::pipeline::install_subscriber;
#[cfg(feature = "sim")]
use nbu_sim::{LiveConfig, SimConfig, Simulator};

#[derive(Parser)]
#[command(
    name = "nbu-otel",
    version,
    about = "OpenTelemetry-first metrics agent for Veritas NetBackup"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the agent: collect every site and push metrics (and traces) over OTLP.
    Run {
        /// The YAML configuration file.
        #[arg(short, long, env = "NBU_OTEL_CONFIG")]
        config: PathBuf,
        /// Reload only on SIGHUP, not when the file (or a key file) changes.
        #[arg(long)]
        no_watch: bool,
    },
    /// Start the built-in NetBackup simulator and the agent against it.
    #[cfg(feature = "sim")]
    Demo {
        /// Where the agent serves /metrics, /healthz and /readyz.
        #[arg(long, default_value = "127.0.0.1:9440")]
        listen: SocketAddr,
        /// Where the simulator listens.
        #[arg(long, default_value = "127.0.0.1:9441")]
        sim_listen: SocketAddr,
        /// Jobs in the simulated dataset.
        #[arg(long, default_value_t = 20_000)]
        jobs: u64,
        /// OTLP/gRPC endpoint to push to (retried quietly while nothing listens).
        #[arg(long, default_value = "http://localhost:4317")]
        otlp_endpoint: String,
        /// New jobs per minute in the living simulator (0: a static dataset).
        #[arg(long, default_value_t = 30)]
        churn_per_minute: u32,
    },
    /// Validate the configuration and probe every site.
    Check {
        /// The YAML configuration file.
        #[arg(short, long, env = "NBU_OTEL_CONFIG")]
        config: PathBuf,
    },
    /// Collect every site once and print the result.
    Once {
        /// The YAML configuration file.
        #[arg(short, long, env = "NBU_OTEL_CONFIG")]
        config: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Print the failed jobs of the jobs window (newest first) with NetBackup's reasons
        /// from their try logs, instead of the metrics.
        #[arg(long)]
        failed_jobs: bool,
    },
    /// Convert an nbu_exporter configuration file into an nbu-otel one.
    Migrate {
        /// The nbu_exporter config.yaml (a `.env` beside it is read too).
        #[arg(long)]
        from: PathBuf,
        /// Where to write the new configuration (default: standard output).
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Exit 0 when an agent's HTTP endpoint answers 200 (a container health check).
    Healthcheck {
        /// The URL to ask.
        #[arg(long, default_value = "http://127.0.0.1:9440/healthz")]
        url: String,
    },
    /// Run the NetBackup API simulator alone.
    #[cfg(feature = "sim")]
    Sim {
        /// Listen address.
        #[arg(long, default_value = "127.0.0.1:9441")]
        listen: SocketAddr,
        /// Jobs in the dataset (generated lazily: a million costs no memory).
        #[arg(long, default_value_t = 10_000)]
        jobs: u64,
        /// Storage units in the dataset.
        #[arg(long, default_value_t = 24)]
        storage_units: u32,
        /// Size factor of the opt-in dataset (alerts, malware scans, catalog images, SLOs,
        /// tape and disk pools); 0 serves empty lists.
        #[arg(long, default_value_t = 1)]
        opt_in_scale: u32,
        /// Seed of the dataset.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// The API key the simulator accepts.
        #[arg(
            long,
            env = "NBU_SIM_API_KEY",
            default_value = "demo-api-key",
            hide_env_values = true
        )]
        api_key: String,
        /// Supported API versions, comma separated (default: 14.0,13.0,12.0,10.0).
        #[arg(long, value_delimiter = ',')]
        versions: Vec<String>,
        /// Latency added to every request, e.g. `50ms`.
        #[arg(long, default_value = "0ms", value_parser = humantime::parse_duration)]
        latency: Duration,
        #[command(flatten)]
        live: LiveArgs,
    },
}

/// A living simulator: time passes and jobs are queued, run, finish and are purged.
#[cfg(feature = "sim")]
#[derive(clap::Args)]
struct LiveArgs {
    /// Let time pass: jobs are created, run, finish and are purged (`--jobs` exist at start).
    #[arg(long)]
    live: bool,
    /// With `--live`: new jobs per minute.
    #[arg(long, default_value_t = 60, requires = "live")]
    churn_per_minute: u32,
    /// With `--live`: how long a finished job stays before it is purged, e.g. `48h`.
    #[arg(long, default_value = "48h", value_parser = humantime::parse_duration, requires = "live")]
    retention: Duration,
}

#[cfg(feature = "sim")]
impl LiveArgs {
    fn config(&self) -> Option<LiveConfig> {
        self.live.then(|| LiveConfig {
            churn_per_minute: self.churn_per_minute,
            retention: self.retention,
            ..LiveConfig::default()
        })
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Table,
    Json,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    // The one-shot commands wait on the network almost all the time: one thread serves them
    // with fewer wake-ups across threads (less CPU per job read). The long-running ones keep a
    // thread per core, so that a page being decoded never delays a scrape.
    let mut builder = match cli.command {
        Command::Check { .. }
        | Command::Once { .. }
        | Command::Healthcheck { .. }
        | Command::Migrate { .. } => tokio::runtime::Builder::new_current_thread(),
        _ => tokio::runtime::Builder::new_multi_thread(),
    };
    let result = builder
        .enable_all()
        .build()
        .context("cannot start the async runtime")
        .and_then(|runtime| runtime.block_on(command(cli.command)));
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("nbu-otel: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs a parsed command; an error is reported by `main` with exit code 1.
async fn command(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Run { config, no_watch } => run(&config, !no_watch).await,
        #[cfg(feature = "sim")]
        Command::Demo {
            listen,
            sim_listen,
            jobs,
            otlp_endpoint,
            churn_per_minute,
        } => run_demo(listen, sim_listen, jobs, churn_per_minute, &otlp_endpoint).await,
        Command::Check { config } => check(&config).await,
        Command::Once {
            config,
            format,
            failed_jobs: true,
        } => once_failed_jobs(&config, format).await,
        Command::Once { config, format, .. } => once(&config, format).await,
        #[cfg(feature = "sim")]
        Command::Sim {
            listen,
            jobs,
            storage_units,
            opt_in_scale,
            seed,
            api_key,
            versions,
            latency,
            live,
        } => {
            let config = SimConfig {
                jobs,
                storage_units,
                opt_in_scale,
                seed,
                api_key,
                latency,
                live: live.config(),
                ..SimConfig::default()
            };
            sim(listen, config, &versions).await
        }
        Command::Migrate { from, output } => Ok(migrate(&from, output.as_deref())),
        Command::Healthcheck { url } => healthcheck(&url).await,
    }
}

/// `healthcheck`: 0 when `url` answers 200 within 5 s, else 1.
async fn healthcheck(url: &str) -> anyhow::Result<ExitCode> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()?;
    let status = client.get(url).send().await?.status();
    if status.is_success() {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("nbu-otel healthcheck: {url} answered {status}");
        Ok(ExitCode::FAILURE)
    }
}

/// `migrate`: exit 2 naming the Go key when the input is invalid (or the file too large, too
/// deeply nested, or expanded too far by its aliases, or its `.env` malformed), 1 when a file
/// cannot be read or written.
fn migrate(from: &Path, output: Option<&Path>) -> ExitCode {
    use nbu_otel::migrate::{MigrateError, migrate_file};
    let migration = match migrate_file(from) {
        Ok(m) => m,
        Err(e @ MigrateError::Read { .. }) => {
            eprintln!("nbu-otel migrate: {e}");
            return ExitCode::FAILURE;
        }
        Err(e @ (MigrateError::TooLarge { .. } | MigrateError::DotEnv { .. })) => {
            eprintln!("nbu-otel migrate: {e}");
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("nbu-otel migrate: {}: {e}", from.display());
            return ExitCode::from(2);
        }
    };
    match output {
        None => print!("{}", migration.yaml),
        Some(path) => {
            if let Err(e) = std::fs::write(path, &migration.yaml) {
                eprintln!("nbu-otel migrate: {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
            eprintln!("nbu-otel migrate: wrote {}", path.display());
        }
    }
    for (var, what) in &migration.variables {
        eprintln!("nbu-otel migrate: set {var}: {what}");
    }
    ExitCode::SUCCESS
}

/// Loads the config or explains every problem and exits with code 2.
fn load_config(path: &Path) -> Result<Config, ExitCode> {
    config::load_file(path).map_err(|e| {
        eprintln!("nbu-otel: invalid configuration {}:\n{e}", path.display());
        ExitCode::from(2)
    })
}

/// The log subscriber of the short commands: the configuration's `logging` section (level,
/// format, `RUST_LOG`), or the defaults for commands without one.
fn init_plain_logging(logging: &config::LoggingConfig) {
    let _ = install_subscriber(logging, None, None);
}

async fn run(path: &Path, watch: bool) -> anyhow::Result<ExitCode> {
    let config = match load_config(path) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    run_agent(config, Some((path, watch))).await
}

/// Runs the agent as a service; a failure to start is exit code 1.
async fn run_agent(config: Config, file: Option<(&Path, bool)>) -> anyhow::Result<ExitCode> {
    service::run(config, file).await?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(feature = "sim")]
async fn run_demo(
    listen: SocketAddr,
    sim_listen: SocketAddr,
    jobs: u64,
    churn_per_minute: u32,
    otlp_endpoint: &str,
) -> anyhow::Result<ExitCode> {
    let sim_config = SimConfig {
        jobs,
        api_key: demo::DEMO_API_KEY.to_owned(),
        live: (churn_per_minute > 0).then(|| LiveConfig {
            churn_per_minute,
            ..LiveConfig::default()
        }),
        ..SimConfig::default()
    };
    let simulator = Simulator::start(sim_config, sim_listen)
        .await
        .with_context(|| format!("starting the simulator on {sim_listen}"))?;
    let config = demo::config(
        &simulator.base_url(),
        listen,
        otlp_endpoint,
        simulator.dataset().client_names(),
    )
    .context("the demo configuration")?;
    println!(
        "nbu-otel demo\n\
         \x20 NetBackup simulator: {} ({jobs} jobs, {churn_per_minute} new per minute)\n\
         \x20 Prometheus bridge:   http://{listen}/metrics\n\
         \x20 readiness:           http://{listen}/readyz\n\
         \x20 OTLP push:           {otlp_endpoint} (retried quietly while nothing listens)\n\
         \x20 job events:          OTLP log records of failed jobs to the same endpoint\n\
         Press Ctrl-C to stop.",
        simulator.base_url()
    );
    let code = run_agent(config, None).await;
    demo::remove_state_dir();
    simulator.shutdown().await;
    code
}

async fn check(path: &Path) -> anyhow::Result<ExitCode> {
    let config = match load_config(path) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    init_plain_logging(&config.logging);
    for warning in config::exposure_warnings(&config, Some(path)) {
        Events::uncounted().exposure_found(&warning);
    }
    for line in commands::shard_lines(&config) {
        println!("{line}");
    }
    let results = commands::check_sites(&config).await;
    print!("{}", report::check_table(&results));
    for line in commands::events_lines(&config) {
        println!("{line}");
    }
    let failed = results.iter().filter(|r| r.outcome.is_err()).count();
    if failed == 0 {
        println!("configuration valid, {} site(s) OK", results.len());
        Ok(ExitCode::SUCCESS)
    } else {
        println!("{failed} of {} site(s) FAILED", results.len());
        Ok(ExitCode::FAILURE)
    }
}

async fn once(path: &Path, format: Format) -> anyhow::Result<ExitCode> {
    let config = match load_config(path) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    init_plain_logging(&config.logging);
    // On a terminal, a progress bar per site; otherwise the walk logs its progress.
    let bars = std::io::stderr()
        .is_terminal()
        .then(indicatif::MultiProgress::new);
    let reports = commands::collect_sites(&config, |site| {
        bars.as_ref().map(|bars| progress_bar(bars, site))
    })
    .await;
    if let Some(bars) = bars {
        let _ = bars.clear();
    }
    match format {
        Format::Table => print!("{}", report::once_table(&reports)),
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&report::once_json(&reports))?
        ),
    }
    Ok(if reports.iter().all(|r| r.is_ok() && r.sources_ok()) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `once --failed-jobs`: the failed jobs of every site's window with their reasons.
async fn once_failed_jobs(path: &Path, format: Format) -> anyhow::Result<ExitCode> {
    let config = match load_config(path) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    init_plain_logging(&config.logging);
    let sites = commands::failed_jobs(&config).await;
    match format {
        Format::Table => print!("{}", report::failed_jobs_table(&sites)),
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&report::failed_jobs_json(&sites))?
        ),
    }
    Ok(if sites.iter().all(|s| s.result.is_ok()) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// A progress bar for the jobs walk of `site`, fed by the walk's progress.
fn progress_bar(bars: &indicatif::MultiProgress, site: &str) -> ProgressSink {
    let bar = bars.add(indicatif::ProgressBar::new(1000));
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{prefix:>12} [{bar:40}] {percent:>3}% {msg} (eta {eta})",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_prefix(site.to_owned());
    Arc::new(move |p: &FillProgress| {
        bar.set_position((p.fraction * 1000.0) as u64);
        bar.set_message(format!("{} jobs, {} pages", p.jobs, p.pages));
    })
}

#[cfg(feature = "sim")]
async fn sim(
    listen: SocketAddr,
    mut config: SimConfig,
    versions: &[String],
) -> anyhow::Result<ExitCode> {
    init_plain_logging(&config::LoggingConfig::default());
    let (jobs, storage_units) = (config.jobs, config.storage_units);
    if !versions.is_empty() {
        let mut parsed = Vec::new();
        for v in versions {
            match v.parse() {
                Ok(v) => parsed.push(v),
                Err(e) => {
                    eprintln!("nbu-otel: --versions: {e}");
                    return Ok(ExitCode::from(2));
                }
            }
        }
        config.supported_versions = parsed;
    }
    let simulator = Simulator::start(config, listen)
        .await
        .with_context(|| format!("starting the simulator on {listen}"))?;
    println!(
        "NetBackup simulator on {} ({jobs} jobs, {storage_units} storage units); Ctrl-C to stop",
        simulator.base_url()
    );
    service::wait_for_termination().await?;
    simulator.shutdown().await;
    Ok(ExitCode::SUCCESS)
}
