//! `nbu_client_last_successful_backup_timestamp_seconds{client}`: when each allowlisted client
//! last finished a backup with status 0.
//!
//! A client the job store already covers (a successful backup of it is in the jobs window)
//! takes its value from there, with no request. For each other client named exactly in the
//! allowlist, one narrow query of one job: `clientName eq '<name>' and jobType eq 'BACKUP' and
//! status eq 0 and state eq 'DONE'`, newest `endTime` first. Wildcard entries cannot be asked
//! about by name: they cover the clients the job store sees. The value survives an agent
//! restart exactly as far as NetBackup remembers the job (its jobs database retention).
//!
//! At most `sources.clients.max_clients` clients are covered, in name order; the others are
//! counted in `nbu_clients_over_cap` and logged.

use super::context::{SourceContext, SourceValues};
use super::{Family, FamilyRow, OptInSource};
use crate::config::SourceId;
use crate::events::Events;
use crate::netbackup::resources::{ListQuery, Paging, attribute, walk_list};
use crate::netbackup::{ApiError, ApiVersion, JOBS_ENDPOINT, NetBackupApi};

/// Last successful backup per client, Unix seconds.
pub static CLIENT_LAST_SUCCESSFUL_BACKUP: Family<1> = Family::gauge(
    "nbu.client_last_successful_backup_timestamp_seconds",
    "s",
    ["client"],
    "Unix time of the newest backup with status 0 of each allowlisted client (`endTime`), from the job store when the window holds one, else one narrow `GET /admin/jobs` query per client named exactly in the allowlist. No series when NetBackup remembers none.",
).floating();
/// Allowlisted clients left out by the cap.
pub static CLIENTS_OVER_CAP: Family<0> = Family::gauge(
    "nbu.clients_over_cap",
    "{client}",
    [],
    "Allowlisted clients left out of the per-client families because there are more than `sources.clients.max_clients`.",
).beyond_legacy();

/// The per-client source.
#[derive(Debug)]
pub struct Clients;

impl OptInSource for Clients {
    const ID: SourceId = SourceId::Clients;
    const FAMILIES: &'static [FamilyRow] =
        &[CLIENT_LAST_SUCCESSFUL_BACKUP.row(), CLIENTS_OVER_CAP.row()];

    /// Reads the last successful backup of every allowlisted client.
    async fn collect<A: NetBackupApi>(
        api: &A,
        version: ApiVersion,
        context: &SourceContext,
    ) -> Result<SourceValues, ApiError> {
        let mut names: Vec<&str> = context
            .covered
            .keys()
            .map(String::as_str)
            .chain(context.clients.exact_names())
            .collect();
        names.sort_unstable();
        names.dedup();
        let cap = context.clients.max_clients as usize;
        let over = names.len().saturating_sub(cap);
        names.truncate(cap);
        let mut values = SourceValues::default();
        values.set(&CLIENTS_OVER_CAP, [], over as f64);
        if over > 0 {
            Events::uncounted().clients_over_cap(api.site(), over, cap);
        }
        for name in names {
            if let Some(at) = context.covered.get(name) {
                values.set(&CLIENT_LAST_SUCCESSFUL_BACKUP, [name], *at);
                continue;
            }
            let query = ListQuery {
                endpoint: JOBS_ENDPOINT,
                params: vec![
                    (
                        "filter",
                        format!(
                            "clientName eq {} and jobType eq 'BACKUP' and status eq 0 and state eq 'DONE'",
                            quoted(name)
                        ),
                    ),
                    ("sort", "-endTime".to_owned()),
                ],
                page_size: 1,
                paging: Paging::Single,
                what: "last successful backup of a client",
            };
            let mut newest: Option<f64> = None;
            let stats = walk_list(api, version, &query, |job| {
                let end = attribute(job, "endTime")
                    .and_then(|v| v.as_str())
                    .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                    .map(|t| t.timestamp() as f64)
                    .filter(|t| *t > 0.0);
                newest = match (newest, end) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    (a, b) => a.or(b),
                };
            })
            .await?;
            values.add_walk(&stats);
            // No successful backup NetBackup remembers: no series, as in the Go exporter.
            if let Some(at) = newest {
                values.set(&CLIENT_LAST_SUCCESSFUL_BACKUP, [name], at);
            }
        }
        Ok(values)
    }
}

/// An OData string literal: quotes doubled.
fn quoted(name: &str) -> String {
    format!("'{}'", name.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_quoted_as_odata_literals() {
        assert_eq!(quoted("db01"), "'db01'");
        assert_eq!(quoted("o'brien"), "'o''brien'");
    }
}
