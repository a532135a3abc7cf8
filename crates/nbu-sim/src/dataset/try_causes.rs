//! The log lines in which a NetBackup try names the cause of its status, in the daemons' own
//! wording (`bpbrm`, `bptm`, `nbjm`, `bpfis`, ...), for the codes the dataset draws and a
//! generic line for the others.

/// What the cause lines of a try mention.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CauseContext<'a> {
    /// `jobId`.
    pub job_id: u64,
    /// The client host name (empty for image cleanup).
    pub client: &'a str,
    /// The policy name (empty when none).
    pub policy: &'a str,
    /// The schedule name (empty when none).
    pub schedule: &'a str,
    /// The media server of the try.
    pub media_server: &'a str,
    /// The storage unit the try writes to (or reads from; empty when none).
    pub storage_unit: &'a str,
    /// Process id of the try's `bpbrm`.
    pub bpbrm: u64,
    /// Process id of the try's `bptm`.
    pub bptm: u64,
    /// Process id of `nbjm` on the primary server.
    pub nbjm: u64,
    /// A random value choosing among the variants of a cause.
    pub variant: u64,
}

/// Severity of a line that names a problem.
pub(crate) const WARNING: &str = "WARNING";
/// Severity of a line that names a failure.
pub(crate) const ERROR: &str = "ERROR";
/// Severity of a line that names a failure of the whole domain.
pub(crate) const CRITICAL: &str = "CRITICAL";

/// Files a client fails to read.
const LOCKED_FILES: &[&str] = &[
    "/data/app/db.lock",
    "/var/lib/mysql/ibdata1",
    "C:\\Program Files\\Microsoft SQL Server\\MSSQL\\DATA\\tempdb.mdf",
    "/home/oracle/oradata/PRD/redo01.log",
    "/srv/share/finance/Q3-report.xlsx",
];

/// File-list entries that do not exist.
const MISSING_PATHS: &[&str] = &["/data/export", "/mnt/nfs/archive", "D:\\Backups\\Exports"];

fn pick<'t>(table: &[&'t str], variant: u64) -> &'t str {
    let len = table.len().max(1) as u64;
    table
        .get(usize::try_from(variant % len).unwrap_or(0))
        .copied()
        .unwrap_or("")
}

/// The unit or, when the job names none, the media server's default disk pool.
fn unit_or_pool<'a>(c: &CauseContext<'a>) -> &'a str {
    if c.storage_unit.is_empty() {
        "dp-msdp-01"
    } else {
        c.storage_unit
    }
}

/// The one or two lines (severity, message) naming the cause of `status` (none for 0).
pub(crate) fn cause_lines(status: u32, c: &CauseContext<'_>) -> Vec<(&'static str, String)> {
    let CauseContext {
        job_id,
        client,
        media_server: media,
        bpbrm,
        bptm,
        nbjm,
        variant,
        ..
    } = *c;
    let second = variant.rotate_right(17);
    let file = pick(LOCKED_FILES, variant);
    let unit = unit_or_pool(c);
    match status {
        0 => Vec::new(),
        1 => vec![(
            WARNING,
            if variant % 2 == 0 {
                format!(
                    "bpbrm (pid={bpbrm}) from client {client}: WRN - can't open file: {file} (WIN32 32: The process cannot access the file because it is being used by another process.)"
                )
            } else {
                format!(
                    "bpbrm (pid={bpbrm}) from client {client}: WRN - {file} was modified while it was being backed up; the backed up copy may be inconsistent"
                )
            },
        )],
        13 => vec![
            (
                ERROR,
                if variant % 2 == 0 {
                    format!(
                        "bpbrm (pid={bpbrm}) from client {client}: ERR - Cannot open file {file}. Errno = 13: Permission denied"
                    )
                } else {
                    format!(
                        "bpbrm (pid={bpbrm}) from client {client}: ERR - read of file {file} failed. Errno = 5: Input/output error"
                    )
                },
            ),
            (
                ERROR,
                format!(
                    "bpbrm (pid={bpbrm}) from client {client}: ERR - bpbkar exiting with status 13"
                ),
            ),
        ],
        24 => vec![(
            ERROR,
            format!(
                "bpbrm (pid={bpbrm}) from client {client}: ERR - socket write failed to media server {media}. Errno = 104: Connection reset by peer"
            ),
        )],
        41 => vec![(
            ERROR,
            format!(
                "bpbrm (pid={bpbrm}) from client {client}: ERR - network connection timed out after {} seconds waiting for media server {media} (CLIENT_READ_TIMEOUT)",
                300 * (1 + second % 3 * 5)
            ),
        )],
        50 => vec![(
            ERROR,
            format!(
                "bpbrm (pid={bpbrm}) from client {client}: ERR - bpbkar (pid={}) terminated by signal 9; client process aborted",
                1_000 + second % 64_000
            ),
        )],
        58 => vec![
            (
                ERROR,
                format!(
                    "bpbrm (pid={bpbrm}) cannot connect to client {client} on port 1556. Errno = {}",
                    if variant % 2 == 0 {
                        "111: Connection refused"
                    } else {
                        "113: No route to host"
                    }
                ),
            ),
            (
                ERROR,
                format!(
                    "nbjm (pid={nbjm}) client {client} is unreachable from media server {media}; job (jobid={job_id}) failed"
                ),
            ),
        ],
        71 => vec![
            (
                WARNING,
                format!(
                    "bpbrm (pid={bpbrm}) from client {client}: WRN - {} does not exist",
                    pick(MISSING_PATHS, variant)
                ),
            ),
            (
                ERROR,
                format!(
                    "bpbrm (pid={bpbrm}) from client {client}: ERR - none of the files in the file list exist"
                ),
            ),
        ],
        84 => vec![(
            ERROR,
            if unit.contains("tape") || unit.contains("hcart") {
                format!(
                    "bptm (pid={bptm}) write error on media id A{:05}, drive index {}, writing data block, 5 (Input/output error)",
                    variant % 100_000,
                    second % 8
                )
            } else {
                format!(
                    "bptm (pid={bptm}) image write failed: error 2060017: system call failed; storage unit {unit} on media server {media}"
                )
            },
        )],
        96 => vec![(
            ERROR,
            format!(
                "nbjm (pid={nbjm}) NBU status: 96, EMM status: No media is available; storage unit {unit} has no available media in volume pool NetBackup"
            ),
        )],
        129 => vec![(
            ERROR,
            format!(
                "bptm (pid={bptm}) Disk storage unit {unit} is full: high water mark reached ({}% used) on media server {media}",
                96 + second % 4
            ),
        )],
        150 => vec![(
            WARNING,
            format!(
                "nbjm (pid={nbjm}) job (jobid={job_id}) was cancelled by administrator root; termination requested by administrator"
            ),
        )],
        156 => vec![
            (
                ERROR,
                format!(
                    "bpfis (pid={}) from client {client}: FTL - VMware_freeze: VIXAPI freeze (VMware snapshot) failed with 25: Virtual machine is busy",
                    1_000 + second % 64_000
                ),
            ),
            (
                ERROR,
                format!(
                    "bpbrm (pid={bpbrm}) from client {client}: FTL - snapshot creation failed, status 156"
                ),
            ),
        ],
        191 => vec![(
            ERROR,
            format!(
                "bpduplicate (pid={bpbrm}) Duplicate of backupid {client}_{} failed, media write error (84); no images were successfully processed",
                1_700_000_000 + second % 100_000_000
            ),
        )],
        196 => vec![(
            ERROR,
            format!(
                "nbpem (pid={nbjm}) backup window for policy {}{}{} closed before client {client} could be backed up; job (jobid={job_id}) not attempted",
                c.policy,
                if c.schedule.is_empty() {
                    ""
                } else {
                    ", schedule "
                },
                c.schedule
            ),
        )],
        800 => vec![(
            ERROR,
            format!(
                "nbjm (pid={nbjm}) NBU status: 800, EMM status: Storage unit is not available: {unit}"
            ),
        )],
        2074 => vec![(
            ERROR,
            format!(
                "bptm (pid={bptm}) Disk volume is down: PureDiskVolume on storage server {media} (storage unit {unit})"
            ),
        )],
        2106 => vec![(
            CRITICAL,
            format!(
                "nbjm (pid={nbjm}) NBU status: 2106, EMM status: Storage server is down or unavailable: {media}"
            ),
        )],
        other => vec![(
            ERROR,
            format!(
                "bpbrm (pid={bpbrm}) job (jobid={job_id}) failed with status {other}: {}",
                super::status_messages::status_message(other)
            ),
        )],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::status_messages::{RETRY_STATUSES, STATUS_MESSAGES};

    #[test]
    fn every_failure_names_its_cause() {
        let c = CauseContext {
            job_id: 42,
            client: "client-0042.example.com",
            policy: "unix-gold-01",
            schedule: "daily-incr",
            media_server: "nbu-media02.example.com",
            storage_unit: "stu-disk-01",
            bpbrm: 1234,
            bptm: 1300,
            nbjm: 4321,
            variant: 7,
        };
        assert!(cause_lines(0, &c).is_empty());
        let codes = STATUS_MESSAGES.iter().skip(1).map(|(code, _)| *code);
        for code in codes.chain(RETRY_STATUSES.iter().map(|(code, _)| *code)) {
            let lines = cause_lines(code, &c);
            assert!((1..=2).contains(&lines.len()), "{code}");
            assert!(
                lines
                    .iter()
                    .all(|(s, m)| !s.is_empty() && m.contains("(pid="))
            );
        }
        assert!(cause_lines(58, &c)[0].1.contains("client-0042.example.com"));
        assert!(
            cause_lines(2074, &c)[0]
                .1
                .contains("nbu-media02.example.com")
        );
        assert!(cause_lines(13, &c)[0].1.contains("Errno"));
    }
}
