//! Main log levels with Supervisor's names and four-letter tags.

use std::fmt;
use std::str::FromStr;

/// Log levels, ordered from most to least severe numeric value like Python's logging.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LogLevel {
    Blather = 3,
    Trace = 5,
    Debug = 10,
    Info = 20,
    Warn = 30,
    Error = 40,
    Critical = 50,
}

impl LogLevel {
    /// The four-letter tag written in each main log line (`INFO`, `DEBG`, ...).
    pub fn tag(self) -> &'static str {
        match self {
            LogLevel::Critical => "CRIT",
            LogLevel::Error => "ERRO",
            LogLevel::Warn => "WARN",
            LogLevel::Info => "INFO",
            LogLevel::Debug => "DEBG",
            LogLevel::Trace => "TRAC",
            LogLevel::Blather => "BLAT",
        }
    }

    /// The config name (`loglevel=`).
    pub fn name(self) -> &'static str {
        match self {
            LogLevel::Critical => "critical",
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
            LogLevel::Blather => "blather",
        }
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for LogLevel {
    type Err = String;

    /// Accepts Supervisor's names (case-insensitive) and its aliases
    /// (`warning`, `crit`, `debg`, `trac`, `blat`, `erro`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "critical" | "crit" => Ok(LogLevel::Critical),
            "error" | "erro" => Ok(LogLevel::Error),
            "warn" | "warning" => Ok(LogLevel::Warn),
            "info" => Ok(LogLevel::Info),
            "debug" | "debg" => Ok(LogLevel::Debug),
            "trace" | "trac" => Ok(LogLevel::Trace),
            "blather" | "blat" => Ok(LogLevel::Blather),
            other => Err(format!("invalid value for 'loglevel': {other:?}")),
        }
    }
}
