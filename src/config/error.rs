//! The errors of loading: every problem named by its field.

/// One problem with the configuration: where it is and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    /// Path of the field in the file, such as `sites[1].url` or `collection.jobs_page_size`;
    /// the variable name for a bad environment override; `<file>` or the file's path when the
    /// file itself cannot be read or parsed.
    pub field: String,
    /// What is wrong, in words. Never contains a secret.
    pub message: String,
}

impl FieldError {
    /// A problem with `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Every problem found while loading a configuration; `Display` prints one `field: message` per
/// line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", render(.errors))]
pub struct ConfigError {
    errors: Vec<FieldError>,
}

fn render(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

impl ConfigError {
    /// An error made of these problems.
    pub fn new(errors: Vec<FieldError>) -> Self {
        Self { errors }
    }

    /// The problems, in the order they were found.
    pub fn errors(&self) -> &[FieldError] {
        &self.errors
    }

    /// Whether some problem concerns exactly `field`.
    pub fn has_field(&self, field: &str) -> bool {
        self.errors.iter().any(|e| e.field == field)
    }
}
