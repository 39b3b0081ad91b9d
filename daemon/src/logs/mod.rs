//! Child output and the main log.

mod level;

pub use level::LogLevel;
