//! `nbu-otel migrate`: Go `nbu_exporter` configuration files, written as its documentation
//! describes them, become nbu-otel files that load through the real loader.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use nbu_otel::config::{self, ClientPattern, Config, SourceId};
use nbu_otel::migrate::{MigrateError, migrate_str, parse_dotenv};
use secrecy::ExposeSecret;

use crate::common::process::BIN;

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Migrates `go` and loads the result with `runtime` as the agent's environment.
fn migrate_and_load(
    go: &str,
    at_migration: &[(&str, &str)],
    runtime: &[(&str, &str)],
) -> (String, Config) {
    let migration = migrate_str(go, &env(at_migration)).unwrap_or_else(|e| panic!("{e}\n{go}"));
    let loaded = config::load_str_with_env(&migration.yaml, Path::new("."), &env(runtime))
        .unwrap_or_else(|e| {
            panic!(
                "the migrated file does not load:\n{e}\n---\n{}",
                migration.yaml
            )
        });
    (migration.yaml, loaded)
}

fn invalid_key(go: &str, at_migration: &[(&str, &str)]) -> String {
    match migrate_str(go, &env(at_migration)) {
        Err(MigrateError::Invalid { key, .. }) => key,
        other => panic!("expected an invalid key, got {other:?}"),
    }
}

/// The single-site quickstart: the legacy block with .env variables.
const QUICKSTART: &str = r#"
server:
  host: "localhost"
  port: "9440"
  uri: "/metrics"
  scrapingInterval: "1h"
  logName: "/var/log/nbu_exporter.log"
nbuserver:
  scheme: "https"
  host: "${NBU1_HOSTNAME}"
  port: "1556"
  uri: "/netbackup"
  apiKey: "${NBU1_APIKEY}"
  insecureSkipVerify: "${NBU1_SKIP_CERTIFICATE}"
  domain: "corp"
  contentType: "application/vnd.netbackup+json"
"#;

#[test]
fn the_legacy_single_site_block_becomes_one_site_named_after_its_host() {
    let secret = "A1b2-distinctive-secret";
    let (yaml, c) = migrate_and_load(
        QUICKSTART,
        &[
            ("NBU1_HOSTNAME", "nbu-master.example.com"),
            ("NBU1_APIKEY", secret),
        ],
        &[("NBU1_APIKEY", secret), ("NBU1_SKIP_CERTIFICATE", "true")],
    );
    assert!(!yaml.contains(secret), "the key was copied:\n{yaml}");
    assert_eq!(c.sites.len(), 1);
    let site = &c.sites[0];
    assert_eq!(site.name, "nbu-master.example.com");
    assert_eq!(
        site.url.as_str(),
        "https://nbu-master.example.com:1556/netbackup"
    );
    assert_eq!(site.api_key.expose_secret(), secret);
    assert_eq!(site.api_version, None);
    assert!(site.tls.insecure_skip_verify);
    assert_eq!(c.server.listen, "127.0.0.1:9440".parse().ok());
    assert!(c.server.prometheus_bridge);
    assert_eq!(c.server.metrics_path, "/metrics");
    // Window 1h, interval 5m (Go's default), storage on the same tick.
    assert_eq!(site.collection.jobs_window, Duration::from_secs(3600));
    assert_eq!(site.collection.jobs_interval, Duration::from_secs(300));
    assert_eq!(site.collection.storage_ttl, Duration::from_secs(300));
    assert!(!c.otlp.enabled, "nbu_exporter pushed no metrics");
    for comment in [
        "nbuserver.domain",
        "nbuserver.contentType",
        "server.logName",
    ] {
        assert!(
            yaml.contains(&format!("# {comment}")),
            "no comment for {comment}:\n{yaml}"
        );
    }
    // An empty expansion of the certificate variable means false, as in Go.
    let (_, c) = migrate_and_load(
        QUICKSTART,
        &[("NBU1_HOSTNAME", "nbu-master.example.com")],
        &[("NBU1_APIKEY", secret), ("NBU1_SKIP_CERTIFICATE", "")],
    );
    assert!(!c.sites[0].tls.insecure_skip_verify);
}

#[test]
fn an_unset_variable_in_the_legacy_host_is_named() {
    assert_eq!(invalid_key(QUICKSTART, &[]), "nbuserver.host");
}

const MULTI: &str = r#"
server:
  host: "0.0.0.0"
  port: "9440"
  uri: "/nbu/metrics"
  scrapingInterval: "30m"
  collectionInterval: "1h30m"
  cacheTTL: "10m"
nbuservers:
  - site: "paris"
    scheme: "https"
    host: "nbu-paris.example.com"
    port: 1556
    apiKey: "paris-literal-key-123"
    apiVersion: "13.0"
    insecureSkipVerify: false
  - site: "lyon"
    scheme: "http"
    host: "10.0.0.7"
    port: "8443"
    uri: "/nb"
    apiKey: "${LYON_KEY}"
    domainType: "NT"
nbuserver:
  scheme: "https"
  host: "old-master"
  port: "1556"
  apiKey: "old-key"
opentelemetry:
  enabled: true
  endpoint: "otel-collector:4317"
  insecure: true
collectors:
  tape:
    enabled: true
  perClient:
    enabled: true
    allowlist: ["db01"]
extraKey: 1
"#;

#[test]
fn the_site_list_wins_over_the_legacy_block_and_secrets_become_references() {
    let migration = migrate_str(MULTI, &env(&[])).unwrap_or_else(|e| panic!("{e}"));
    let yaml = &migration.yaml;
    assert!(
        !yaml.contains("paris-literal-key-123"),
        "the key was copied:\n{yaml}"
    );
    assert!(!yaml.contains("old-key"), "{yaml}");
    assert!(yaml.contains("# nbuserver: ignored"), "{yaml}");
    for comment in [
        "nbuservers[1].domainType",
        "collectors.tape",
        "collectors.perClient",
        "extraKey",
    ] {
        assert!(yaml.contains(comment), "no comment for {comment}:\n{yaml}");
    }
    assert_eq!(
        migration.variables.keys().collect::<Vec<_>>(),
        ["LYON_KEY", "NBU_PARIS_API_KEY"]
    );
    let c = config::load_str_with_env(
        yaml,
        Path::new("."),
        &env(&[("NBU_PARIS_API_KEY", "kp"), ("LYON_KEY", "kl")]),
    )
    .unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    let names: Vec<&str> = c.sites.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["paris", "lyon"]);
    let (paris, lyon) = (&c.sites[0], &c.sites[1]);
    assert_eq!(
        paris.url.as_str(),
        "https://nbu-paris.example.com:1556/netbackup"
    );
    assert_eq!(paris.api_key.expose_secret(), "kp");
    assert_eq!(paris.api_version.map(|v| v.as_str()), Some("13.0"));
    assert!(!paris.tls.insecure_skip_verify);
    assert_eq!(lyon.url.as_str(), "http://10.0.0.7:8443/nb");
    assert_eq!(lyon.api_key.expose_secret(), "kl");
    // The window is the larger of the two; storage follows the collection tick.
    assert_eq!(paris.collection.jobs_window, Duration::from_secs(5400));
    assert_eq!(paris.collection.jobs_interval, Duration::from_secs(5400));
    assert_eq!(paris.collection.storage_ttl, Duration::from_secs(5400));
    assert_eq!(c.server.listen, "0.0.0.0:9440".parse().ok());
    assert_eq!(c.server.metrics_path, "/nbu/metrics");
    assert!(c.otlp.enabled && c.traces.enabled);
    assert_eq!(c.otlp.endpoint.as_str(), "http://otel-collector:4317/");
    assert_eq!(
        c.traces.sampling_ratio, 0.0,
        "Go sampled nothing without samplingRate"
    );
    // collectors.tape and collectors.perClient become global sources, at every site.
    for site in &c.sites {
        let enabled: Vec<SourceId> = site.sources.enabled().map(|(id, _)| id).collect();
        assert_eq!(enabled, [SourceId::Tape, SourceId::Clients]);
        assert_eq!(
            site.sources.clients.allowlist,
            [ClientPattern::Exact("db01".into())]
        );
    }
}

/// Migrates `go`, a variant of the quickstart, and loads it.
fn migrate_quickstart(go: &str) -> (String, Config) {
    migrate_and_load(
        go,
        &[("NBU1_HOSTNAME", "h1")],
        &[("NBU1_APIKEY", "k"), ("NBU1_SKIP_CERTIFICATE", "false")],
    )
}

/// Every Go collector, in the case Go's documentation writes them.
const COLLECTORS: &str = r#"
collectors:
  alerts:
    enabled: true
  malware:
    enabled: "true"
  catalog:
    enabled: false
  slo:
    enabled: true
  tape: {}
  perClient:
    enabled: true
    allowlist: ["db01.example.com", "DB01.example.com", "web*", 1234, ""]
    interval: 5m
  jobHistory:
    enabled: true
"#;

#[test]
fn go_collectors_become_sources_and_the_allowlist_stays_exact() {
    let go = format!("{QUICKSTART}{COLLECTORS}");
    let (yaml, c) = migrate_quickstart(&go);
    let sources = &c.sites[0].sources;
    let enabled: Vec<SourceId> = sources.enabled().map(|(id, _)| id).collect();
    assert_eq!(
        enabled,
        [
            SourceId::Alerts,
            SourceId::Malware,
            SourceId::Slo,
            SourceId::Clients
        ],
        "{yaml}"
    );
    // Intervals and windows are nbu-otel's defaults, and the file says so.
    for id in SourceId::ALL {
        assert_eq!(sources.get(id).interval, id.default_interval());
    }
    assert_eq!(
        sources.get(SourceId::Alerts).window,
        Duration::from_secs(24 * 3600)
    );
    for comment in [
        "# collectors.alerts: every 5m (interval), over the last 24h (window);",
        "# collectors.malware: every 15m (interval).",
        "# collectors.catalog: every 15m (interval), over the last 24h (window);",
        "# nbu_exporter counted NetBackup's implicit last 24 hours.",
    ] {
        assert!(yaml.contains(comment), "no {comment:?}:\n{yaml}");
    }
    // Exact names stay exact (case-sensitive, as in Go); a name with * is flagged, since it
    // becomes a pattern; a number is a name; an empty name is dropped.
    let clients = &sources.clients;
    assert_eq!(
        clients.allowlist,
        [
            ClientPattern::Exact("db01.example.com".into()),
            ClientPattern::Exact("DB01.example.com".into()),
            ClientPattern::Wildcard("web*".into()),
            ClientPattern::Exact("1234".into()),
        ]
    );
    assert!(clients.allows("db01.example.com") && !clients.allows("db01.EXAMPLE.com"));
    assert!(
        yaml.contains(
            r#"# nbu_exporter matched "web*" literally; here * and ? make it a pattern."#
        ),
        "{yaml}"
    );
    // What has no equivalent is a comment.
    for comment in [
        "#   collectors.perClient.interval: not an nbu_exporter key",
        "#   collectors.jobHistory: not an nbu_exporter collector",
    ] {
        assert!(yaml.contains(comment), "no {comment:?}:\n{yaml}");
    }
}

#[test]
fn a_per_client_collector_without_allowlist_covers_no_client_as_in_go() {
    let go = format!("{QUICKSTART}collectors:\n  perClient:\n    enabled: true\n");
    let (yaml, c) = migrate_quickstart(&go);
    let sources = &c.sites[0].sources;
    assert!(sources.get(SourceId::Clients).enabled);
    assert!(sources.clients.allowlist.is_empty());
    assert!(
        yaml.contains("# collectors.perClient.allowlist is empty: no client is covered"),
        "{yaml}"
    );
    // Without collectors, no source.
    let (yaml, c) = migrate_quickstart(QUICKSTART);
    assert!(!yaml.contains("sources:"), "{yaml}");
    assert_eq!(c.sites[0].sources.enabled().count(), 0);
}

#[test]
fn an_unreadable_collection_interval_falls_back_to_five_minutes_as_in_go() {
    let go = QUICKSTART.replace(
        "scrapingInterval: \"1h\"",
        "scrapingInterval: \"2m\"\n  collectionInterval: \"5 minutes\"",
    );
    let (_, c) = migrate_quickstart(&go);
    assert_eq!(
        c.sites[0].collection.jobs_interval,
        Duration::from_secs(300)
    );
    assert_eq!(c.sites[0].collection.jobs_window, Duration::from_secs(300));
}

#[test]
fn every_invalid_key_is_named_as_go_names_it() {
    let host = [("NBU1_HOSTNAME", "h1")];
    let cases: Vec<(String, &str)> = vec![
        (
            QUICKSTART.replace("  scrapingInterval: \"1h\"\n", ""),
            "server.scrapingInterval",
        ),
        (
            QUICKSTART.replace("\"1h\"", "\"1d\""),
            "server.scrapingInterval",
        ),
        (
            QUICKSTART.replace("port: \"9440\"", "port: \"70000\""),
            "server.port",
        ),
        (
            QUICKSTART.replace("uri: \"/metrics\"", "uri: \"/health\""),
            "server.uri",
        ),
        (
            QUICKSTART.replace("host: \"localhost\"", "host: \"my-host\""),
            "server.host",
        ),
        (
            QUICKSTART.replace("scheme: \"https\"", "scheme: \"ftp\""),
            "nbuserver.scheme",
        ),
        (
            QUICKSTART.replace("  apiKey: \"${NBU1_APIKEY}\"\n", ""),
            "nbuserver.apiKey",
        ),
        (
            MULTI.replace("apiVersion: \"13.0\"", "apiVersion: \"11.0\""),
            "nbuservers[0].apiVersion",
        ),
        (
            MULTI.replace("port: \"8443\"", "port: \"0\""),
            "nbuservers[1].port",
        ),
        (
            MULTI.replace("site: \"lyon\"", "site: \"paris\""),
            "nbuservers[1].site",
        ),
        (
            MULTI.replace("site: \"lyon\"", "site: \"lyon west\""),
            "nbuservers[1].site",
        ),
        (
            MULTI.replace("insecureSkipVerify: false", "insecureSkipVerify: \"maybe\""),
            "nbuservers[0].insecureSkipVerify",
        ),
        // The ignored legacy block is still validated, as Go does.
        (
            MULTI.replace("host: \"old-master\"", "host: \"\""),
            "nbuserver.host",
        ),
        (
            MULTI.replace("  endpoint: \"otel-collector:4317\"\n", ""),
            "opentelemetry.endpoint",
        ),
        (
            MULTI.replace(
                "  tape:\n    enabled: true",
                "  tape:\n    enabled: \"yes\"",
            ),
            "collectors.tape.enabled",
        ),
        (
            MULTI.replace("allowlist: [\"db01\"]", "allowlist: \"db01\""),
            "collectors.perClient.allowlist",
        ),
        (
            MULTI.replace("allowlist: [\"db01\"]", "allowlist: [[\"db01\"]]"),
            "collectors.perClient.allowlist[0]",
        ),
        (
            MULTI.replace("  tape:\n    enabled: true", "  tape: on"),
            "collectors.tape",
        ),
        (format!("{QUICKSTART}collectors: 5\n"), "collectors"),
        (format!("{QUICKSTART}nbuservers: 5\n"), "nbuservers"),
        // Neither a site list nor the legacy block: nothing to collect.
        (
            QUICKSTART[..QUICKSTART.find("nbuserver:").unwrap()].to_owned(),
            "nbuservers",
        ),
        (
            MULTI.replace("  - site: \"paris\"", "  - 5\n  - site: \"paris\""),
            "nbuservers[0]",
        ),
        (
            MULTI.replace("host: \"10.0.0.7\"", "host: \"a b\""),
            "nbuservers[1].host",
        ),
        (
            QUICKSTART.replace("\"1h\"", "\"0\""),
            "server.scrapingInterval",
        ),
        (
            MULTI.replace(
                "  insecure: true\n",
                "  insecure: true\n  samplingRate: \"often\"\n",
            ),
            "opentelemetry.samplingRate",
        ),
    ];
    for (go, key) in cases {
        assert_eq!(invalid_key(&go, &host), key, "{go}");
    }
    assert!(matches!(
        migrate_str("server: [", &env(&[])),
        Err(MigrateError::Yaml(_))
    ));
}

#[test]
fn the_command_reads_the_env_file_beside_the_config_and_exits_2_naming_a_bad_key() {
    let dir = tempfile::tempdir().unwrap();
    let go = dir.path().join("config.yaml");
    std::fs::write(&go, QUICKSTART).unwrap();
    std::fs::write(
        dir.path().join(".env"),
        "NBU1_HOSTNAME=nbu-from-dotenv.example.com\nNBU1_APIKEY='dotenv-secret-77'\n",
    )
    .unwrap();
    let out = dir.path().join("nbu-otel.yaml");
    let run = |args: &[&std::ffi::OsStr]| {
        std::process::Command::new(BIN)
            .arg("migrate")
            .args(args)
            .current_dir(dir.path().join("..").canonicalize().unwrap())
            .env_remove("NBU1_HOSTNAME")
            .output()
            .unwrap()
    };
    let done = run(&[
        "--from".as_ref(),
        go.as_os_str(),
        "--output".as_ref(),
        out.as_os_str(),
    ]);
    assert_eq!(
        done.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    let stderr = String::from_utf8_lossy(&done.stderr);
    assert!(stderr.contains("set NBU1_APIKEY"), "{stderr}");
    let written = std::fs::read_to_string(&out).unwrap();
    assert!(written.contains("nbu-from-dotenv.example.com"), "{written}");
    assert!(!written.contains("dotenv-secret-77"), "{written}");

    std::fs::write(&go, QUICKSTART.replace("port: \"9440\"", "port: \"x\"")).unwrap();
    let failed = run(&["--from".as_ref(), go.as_os_str()]);
    assert_eq!(failed.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(stderr.contains("server.port"), "{stderr}");
}

#[test]
fn a_dotenv_file_is_read_as_godotenv_reads_it() {
    let text = "# the quickstart\n\
                PLAIN=nbu.example.com # the primary\n\
                HASH=a#b\n\
                SINGLE='lit $PLAIN \\n # kept'\n\
                DOUBLE=\"two\\nlines # kept\" # dropped\n\
                QUOTE=\"say \\\"hi\\\"\"\n\
                export EXPORTED=yes\n\
                REF=\"at ${PLAIN}\"\n\
                \n\
                PLAIN=later.example.com\n";
    let env = parse_dotenv(text).unwrap();
    let got = |k: &str| env.get(k).map(String::as_str);
    assert_eq!(got("PLAIN"), Some("later.example.com"));
    assert_eq!(got("HASH"), Some("a#b"));
    assert_eq!(got("SINGLE"), Some("lit $PLAIN \\n # kept"));
    assert_eq!(got("DOUBLE"), Some("two\nlines # kept"));
    assert_eq!(got("QUOTE"), Some("say \"hi\""));
    assert_eq!(got("EXPORTED"), Some("yes"));
    assert_eq!(got("REF"), Some("at nbu.example.com"));
    assert_eq!(env.len(), 7, "{env:?}");
}

#[test]
fn a_malformed_dotenv_entry_is_named_without_its_value() {
    let err = parse_dotenv("FIRST=1\nSECRET='never-shown\n").unwrap_err();
    assert!(err.contains("the entry after FIRST"), "{err}");
    assert!(!err.contains("never-shown"), "{err}");
    let err = parse_dotenv("KEY=two words-never-shown\n").unwrap_err();
    assert!(err.contains("the first entry"), "{err}");
    assert!(!err.contains("never-shown"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let go = dir.path().join("config.yaml");
    std::fs::write(&go, QUICKSTART).unwrap();
    std::fs::write(dir.path().join(".env"), "NBU1_HOSTNAME=\"open\n").unwrap();
    let failed = std::process::Command::new(BIN)
        .arg("migrate")
        .args(["--from".as_ref(), go.as_os_str()])
        .current_dir(dir.path().join("..").canonicalize().unwrap())
        .env_remove("NBU1_HOSTNAME")
        .output()
        .unwrap();
    assert_eq!(failed.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(stderr.contains(".env: the first entry"), "{stderr}");
}

#[test]
fn the_command_prints_to_stdout_and_exits_1_when_a_file_cannot_be_read_or_written() {
    let dir = tempfile::tempdir().unwrap();
    let go = dir.path().join("config.yaml");
    std::fs::write(&go, QUICKSTART).unwrap();
    let run = |args: &[&std::ffi::OsStr]| {
        std::process::Command::new(BIN)
            .arg("migrate")
            .args(args)
            .env("NBU1_HOSTNAME", "nbu-stdout.example.com")
            .env("NBU1_APIKEY", "stdout-secret-31")
            .output()
            .unwrap()
    };
    // Without --output the configuration goes to stdout, and it loads.
    let printed = run(&["--from".as_ref(), go.as_os_str()]);
    assert_eq!(
        printed.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&printed.stderr)
    );
    let yaml = String::from_utf8(printed.stdout).unwrap();
    assert!(!yaml.contains("stdout-secret-31"), "{yaml}");
    let config = crate::common::load(
        &yaml,
        &[
            ("NBU1_APIKEY", "stdout-secret-31"),
            ("NBU1_SKIP_CERTIFICATE", "false"),
        ],
    );
    assert_eq!(config.sites.len(), 1);
    assert_eq!(config.sites[0].name, "nbu-stdout.example.com");

    let missing = dir.path().join("absent.yaml");
    let unreadable = run(&["--from".as_ref(), missing.as_os_str()]);
    assert_eq!(unreadable.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&unreadable.stderr);
    assert!(stderr.contains("absent.yaml"), "{stderr}");

    let nowhere = dir.path().join("no-such-dir").join("nbu-otel.yaml");
    let unwritable = run(&[
        "--from".as_ref(),
        go.as_os_str(),
        "--output".as_ref(),
        nowhere.as_os_str(),
    ]);
    assert_eq!(unwritable.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&unwritable.stderr);
    assert!(stderr.contains("no-such-dir"), "{stderr}");
}

#[test]
fn ipv6_addresses_are_bracketed_and_unknown_keys_are_noted() {
    let go = MULTI
        .replace("host: \"0.0.0.0\"", "host: \"::1\"")
        .replace("host: \"10.0.0.7\"", "host: \"fd00::7\"")
        .replace(
            "  cacheTTL: \"10m\"\n",
            "  cacheTTL: \"10m\"\n  color: blue\n",
        )
        .replace(
            "  tape:\n    enabled: true\n",
            "  tape:\n    enabled: true\n    speed: fast\n",
        );
    let (yaml, c) = migrate_and_load(&go, &[], &[("LYON_KEY", "k"), ("NBU_PARIS_API_KEY", "k")]);
    assert_eq!(c.server.listen, "[::1]:9440".parse().ok());
    assert_eq!(c.sites[1].url.as_str(), "http://[fd00::7]:8443/nb");
    for note in [
        "#   server.color: not an nbu_exporter key; not migrated.",
        "#   collectors.tape.speed: not an nbu_exporter key; not migrated.",
    ] {
        assert!(yaml.contains(note), "{note} missing:\n{yaml}");
    }
}
