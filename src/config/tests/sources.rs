//! The opt-in sources and the client allowlist.

use std::time::Duration;

use super::*;

#[test]
fn sources_are_off_by_default_and_switched_on_globally_or_per_site() {
    let config = ok(&site(""), &[]);
    assert_eq!(config.sites[0].sources.enabled().count(), 0);

    let yaml = format!(
        "sources:\n  alerts: {{ enabled: true, window: 2h }}\n  tape:\n    enabled: true\n    interval: 10m\n\
         sites:\n  - name: a\n    url: https://a.example.com/netbackup\n    api_key: {KEY}\n\
         \x20 - name: b\n    url: https://b.example.com/netbackup\n    api_key: {KEY}\n    sources:\n      tape: {{ enabled: false }}\n      slo: {{ enabled: true }}\n"
    );
    let config = ok(&yaml, &[]);
    let a = &config.sites[0].sources;
    let b = &config.sites[1].sources;
    let names = |s: &SourcesConfig| -> Vec<&str> { s.enabled().map(|(id, _)| id.name()).collect() };
    assert_eq!(names(a), ["alerts", "tape"]);
    assert_eq!(names(b), ["alerts", "slo"]);
    assert_eq!(
        a.get(SourceId::Alerts).window,
        Duration::from_secs(2 * 3600)
    );
    assert_eq!(a.get(SourceId::Tape).interval, Duration::from_secs(600));
    assert_eq!(
        b.get(SourceId::Catalog).window,
        Duration::from_secs(24 * 3600),
        "the default catalog window"
    );
}

#[test]
fn bad_source_settings_are_named() {
    let e = err(
        &format!(
            "sources:\n  perclient: {{ enabled: true }}\n  slo: {{ window: 1h }}\n  alerts: {{ interval: 1s, enabled: maybe }}\n{}",
            site("    sources:\n      tape: { colour: red }\n")
        ),
        &[],
    );
    assert_field(&e, "sources.perclient");
    assert_field(&e, "sources.slo.window");
    assert_field(&e, "sources.alerts.interval");
    assert_field(&e, "sources.alerts.enabled");
    assert_field(&e, "sites[0].sources.tape.colour");
    assert!(e.to_string().contains("known sources: alerts"), "{e}");
}

#[test]
fn the_client_allowlist_is_read_and_checked() {
    let yaml = format!(
        "sources:\n  clients:\n    enabled: true\n    allowlist: [db01, \"web-*\", \"o'brien\"]\n    max_clients: 20\n{}",
        site("    sources:\n      clients: { allowlist: [only-this] }\n")
    );
    let config = ok(&yaml, &[]);
    let clients = &config.sites[0].sources.clients;
    assert_eq!(clients.max_clients, 20, "kept from the global section");
    assert!(clients.allows("only-this"));
    assert!(
        !clients.allows("db01"),
        "a site's allowlist replaces the global one"
    );

    let e = err(
        &format!(
            "sources:\n  alerts: {{ allowlist: [x] }}\n  clients: {{ allowlist: [\"\", ok], max_clients: 0 }}\n{}",
            site("")
        ),
        &[],
    );
    assert_field(&e, "sources.alerts.allowlist");
    assert_field(&e, "sources.clients.allowlist[0]");
    assert_field(&e, "sources.clients.max_clients");
    let e = err(
        &format!("sources:\n  clients: {{ allowlist: db01 }}\n{}", site("")),
        &[],
    );
    assert_field(&e, "sources.clients.allowlist");
}
