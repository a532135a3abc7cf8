//! Sites: their names and URLs, and their overrides of the global collection settings.

use std::time::Duration;

use super::*;

#[test]
fn site_identity_problems_are_named() {
    let e = err("sites:\n  - {}\n", &[]);
    assert_field(&e, "sites[0].name");
    assert_field(&e, "sites[0].url");
    assert_field(&e, "sites[0].api_key");

    let e = err(
        "sites:\n  - name: \"a b\"\n    url: \"https://\"\n    api_key: k\n    api_key_file: f\n",
        &[],
    );
    assert_field(&e, "sites[0].name");
    assert_field(&e, "sites[0].url");
    assert_field(&e, "sites[0].api_key");

    let e = err(
        "sites:\n  - name: a\n    url: \"https://user:pw@nbu.example.com\"\n    api_key: k\n",
        &[],
    );
    assert_field(&e, "sites[0].url");
    assert!(!e.to_string().contains("pw"), "{e}");

    for yaml in ["sites: []\n", "collection: {}\n", "", "sites: { a: 1 }\n"] {
        assert_field(&err(yaml, &[]), "sites");
    }
}

#[test]
fn duplicate_site_names_are_rejected() {
    let yaml = "sites:
  - { name: a, url: https://x, api_key: k }
  - { name: b, url: https://y, api_key: k }
  - { name: a, url: https://z, api_key: k }
";
    let e = err(yaml, &[]);
    assert_eq!(e.errors().len(), 1, "{e}");
    assert_field(&e, "sites[2].name");
    assert!(e.to_string().contains("sites[0]"), "{e}");
}

#[test]
fn site_collection_overrides_merge_with_global() {
    let yaml = "sites:
  - { name: a, url: https://a, api_key: k }
  - name: b
    url: https://b
    api_key: k
    collection: { jobs_interval: 5m, max_retries: 0 }
collection:
  jobs_interval: 2m
  storage_ttl: 10m
";
    let config = ok(yaml, &[("NBU_OTEL_COLLECTION__MAX_RETRIES", "5")]);
    let (a, b) = (&config.sites[0].collection, &config.sites[1].collection);
    assert_eq!(a.jobs_interval, Duration::from_secs(120));
    assert_eq!(a.storage_ttl, Duration::from_secs(600));
    assert_eq!(a.max_retries, 5);
    assert_eq!(b.jobs_interval, Duration::from_secs(300));
    assert_eq!(b.storage_ttl, Duration::from_secs(600));
    assert_eq!(b.max_retries, 0);
    assert_eq!(b.jobs_page_size, CollectionConfig::default().jobs_page_size);
}
