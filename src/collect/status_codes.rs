//! NetBackup's standard messages of its most common status codes, for job events whose try
//! logs give none (the NetBackup Status Codes Reference Guide words them so).

/// `(code, message)`, sorted by code.
const MESSAGES: &[(i64, &str)] = &[
    (0, "the requested operation was successfully completed"),
    (1, "the requested operation was partially successful"),
    (2, "none of the requested files were backed up"),
    (
        3,
        "valid archive image produced, but no files deleted due to non-fatal problems",
    ),
    (4, "archive file removal failed"),
    (5, "the restore failed to recover the requested files"),
    (6, "the backup failed to back up the requested files"),
    (7, "the archive failed to back up the requested files"),
    (10, "allocation failed"),
    (11, "system call failed"),
    (12, "file open failed"),
    (13, "file read failed"),
    (14, "file write failed"),
    (23, "socket read failed"),
    (24, "socket write failed"),
    (25, "cannot connect on socket"),
    (26, "client/server handshaking failed"),
    (40, "network connection broken"),
    (41, "network connection timed out"),
    (42, "network read failed"),
    (43, "unexpected message received"),
    (44, "network write failed"),
    (46, "server not allowed access"),
    (48, "client hostname could not be found"),
    (49, "client did not start"),
    (50, "client process aborted"),
    (54, "timed out connecting to client"),
    (57, "client connection refused"),
    (58, "can't connect to client"),
    (59, "access to the client was not allowed"),
    (69, "invalid filelist specification"),
    (71, "none of the files in the file list exist"),
    (84, "media write error"),
    (85, "media read error"),
    (86, "media position error"),
    (
        96,
        "unable to allocate new media for backup, storage unit has none available",
    ),
    (98, "error requesting media (tpreq)"),
    (129, "Disk storage unit is full"),
    (130, "system error occurred"),
    (150, "termination requested by administrator"),
    (156, "snapshot error encountered"),
    (174, "media manager - system error occurred"),
    (191, "no images were successfully processed"),
    (
        196,
        "client backup was not attempted because backup window closed",
    ),
    (200, "scheduler found no backups due to run"),
    (213, "no storage units available for use"),
    (219, "the required storage unit is unavailable"),
    (
        239,
        "the specified client does not exist in the specified policy",
    ),
    (800, "resource request failed"),
    (811, "failed to communicate with resource requester"),
    (2074, "Disk volume is down"),
    (2106, "Disk storage server is down"),
];

/// NetBackup's standard message for `code`, when it is one of the common codes.
pub fn status_message(code: i64) -> Option<&'static str> {
    MESSAGES
        .binary_search_by_key(&code, |(c, _)| *c)
        .ok()
        .and_then(|i| MESSAGES.get(i))
        .map(|(_, m)| *m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sorted_and_finds_its_codes() {
        assert!(
            MESSAGES.windows(2).all(|w| w[0].0 < w[1].0),
            "sorted, no code twice"
        );
        for (code, message) in MESSAGES {
            assert_eq!(status_message(*code), Some(*message));
        }
        assert_eq!(status_message(-1), None);
        assert_eq!(status_message(99_999), None);
    }
}
