//! The error type of the configuration module.

use std::fmt;
use std::path::{Path, PathBuf};

/// A configuration error. `Display` gives the whole message without an `Error: ` prefix
/// (the command line front end adds that, like Supervisor's `usage()`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    message: String,
    /// The file the error is about, when known.
    pub file: Option<PathBuf>,
    /// The 1-based line number, when known.
    pub line: Option<usize>,
}

impl ConfigError {
    pub fn new(message: impl Into<String>) -> Self {
        ConfigError {
            message: message.into(),
            file: None,
            line: None,
        }
    }

    pub fn in_file(message: impl Into<String>, file: &Path, line: Option<usize>) -> Self {
        ConfigError {
            message: message.into(),
            file: Some(file.to_path_buf()),
            line,
        }
    }

    /// The message (same as `Display`).
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}
