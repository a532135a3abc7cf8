//! The length cap on label values read from NetBackup.
//!
//! Label values (job types, policy types, unit and pool names, alert severities) come from the
//! server. A broken or hostile server could send megabytes in one of them and grow the agent's
//! memory, every scrape and every export; values longer than [`MAX_LABEL_BYTES`] are cut at a
//! character boundary and counted with the source's invalid values.

/// Longest label value kept, in bytes.
pub const MAX_LABEL_BYTES: usize = 256;

/// `value` cut to at most [`MAX_LABEL_BYTES`] at a character boundary, and whether it was cut.
pub fn cap_label(value: &str) -> (&str, bool) {
    let cut = cut_at(value, MAX_LABEL_BYTES);
    (cut, cut.len() < value.len())
}

/// `value` cut to at most `max` bytes at a character boundary.
pub fn cut_at(value: &str, max: usize) -> &str {
    if value.len() <= max {
        return value;
    }
    let mut end = max;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    &value[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_are_cut_at_a_character_boundary() {
        assert_eq!(cap_label("BACKUP"), ("BACKUP", false));
        let long = "é".repeat(MAX_LABEL_BYTES);
        let (cut, was_cut) = cap_label(&long);
        assert!(was_cut);
        assert_eq!(cut.len(), MAX_LABEL_BYTES);
        let odd = format!("x{long}");
        let (cut, _) = cap_label(&odd);
        assert_eq!(cut.len(), MAX_LABEL_BYTES - 1, "never half a character");
    }
}
