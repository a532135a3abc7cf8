//! NetBackup status codes and their standard messages (the NetBackup Status Codes Reference
//! Guide's wording, which the try logs' `tryStatusMessage` carries), and the codes a failed
//! try that NetBackup retried ends with.

/// Status codes and their standard messages, sorted by code. Covers every code the dataset
/// draws (`DONE_STATUSES`, `RETRY_STATUSES`) and the usual others.
pub(crate) const STATUS_MESSAGES: &[(u32, &str)] = &[
    (0, "the requested operation was successfully completed"),
    (1, "the requested operation was partially successful"),
    (2, "none of the requested files were backed up"),
    (5, "the restore failed to recover the requested files"),
    (6, "the backup failed to back up the requested files"),
    (10, "allocation failed"),
    (11, "system call failed"),
    (12, "file open failed"),
    (13, "file read failed"),
    (14, "file write failed"),
    (21, "socket open failed"),
    (23, "socket read failed"),
    (24, "socket write failed"),
    (25, "cannot connect on socket"),
    (26, "client/server handshaking failed"),
    (36, "failed trying to allocate memory"),
    (40, "network connection broken"),
    (41, "network connection timed out"),
    (42, "network read failed"),
    (46, "server not allowed access"),
    (48, "client hostname could not be found"),
    (49, "client did not start"),
    (50, "client process aborted"),
    (52, "timed out waiting for media manager to mount volume"),
    (54, "timed out connecting to client"),
    (57, "client connection refused"),
    (58, "can't connect to client"),
    (59, "access to the client was not allowed"),
    (63, "process was killed by a signal"),
    (69, "invalid filelist specification"),
    (71, "none of the files in the file list exist"),
    (83, "media open error"),
    (84, "media write error"),
    (85, "media read error"),
    (86, "media position error"),
    (90, "media manager received no data for backup image"),
    (
        96,
        "unable to allocate new media for backup, storage unit has none available",
    ),
    (98, "error requesting media (tpreq)"),
    (129, "Disk storage unit is full"),
    (130, "system error occurred"),
    (
        134,
        "unable to process request because the server resources are busy",
    ),
    (150, "termination requested by administrator"),
    (156, "snapshot error encountered"),
    (174, "media manager - system error occurred"),
    (191, "no images were successfully processed"),
    (
        196,
        "client backup was not attempted because backup window closed",
    ),
    (200, "scheduler found no backups due to run"),
    (219, "the required storage unit is unavailable"),
    (
        239,
        "the specified client does not exist in the specified policy",
    ),
    (800, "resource request failed"),
    (2001, "No drives are available for this job"),
    (2074, "Disk volume is down"),
    (2106, "Disk storage server is down"),
    (4239, "Unable to find the virtual machine"),
];

/// The message of a code the table lacks.
pub(crate) const GENERIC_MESSAGE: &str =
    "the operation failed; see the NetBackup Status Codes Reference Guide";

/// Codes a failed try ends with before NetBackup retries the job, and their weights.
pub(crate) const RETRY_STATUSES: &[(u32, u32)] = &[
    (41, 20),
    (24, 15),
    (58, 15),
    (2074, 10),
    (84, 10),
    (96, 8),
    (129, 8),
    (50, 6),
    (13, 4),
    (800, 4),
];

/// The standard message of a NetBackup status code ([`GENERIC_MESSAGE`] for an unknown one).
pub(crate) fn status_message(code: u32) -> &'static str {
    STATUS_MESSAGES
        .binary_search_by_key(&code, |(c, _)| *c)
        .ok()
        .and_then(|i| STATUS_MESSAGES.get(i))
        .map_or(GENERIC_MESSAGE, |(_, message)| message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::vocabulary::DONE_STATUSES;

    #[test]
    fn every_drawn_code_has_its_message() {
        assert!(
            STATUS_MESSAGES.windows(2).all(|w| w[0].0 < w[1].0),
            "sorted"
        );
        for (code, _) in DONE_STATUSES.iter().chain(RETRY_STATUSES) {
            assert_ne!(status_message(*code), GENERIC_MESSAGE, "{code}");
        }
        assert_eq!(
            status_message(0),
            "the requested operation was successfully completed"
        );
        assert_eq!(status_message(58), "can't connect to client");
        assert_eq!(status_message(2074), "Disk volume is down");
        assert_eq!(
            status_message(96),
            "unable to allocate new media for backup, storage unit has none available"
        );
        assert_eq!(status_message(4), GENERIC_MESSAGE);
        assert_eq!(status_message(u32::MAX), GENERIC_MESSAGE);
    }
}
