//! Configuration: read `supervisord.conf` exactly as Supervisor 4.3.0 reads it.
//!
//! * `ini`: Python `RawConfigParser` rules (comments, continuation lines, duplicate merging),
//!   keeping file and line for every value.
//! * `expand`: `%(name)s` / `%(name)02d` expansion with the key sets each option may use.
//! * `values`: booleans, byte sizes, signals, octal, exit codes, `environment=` ...
//! * `load`: sections to the typed model (search path, `[include]`, defaults, validation).
//! * `dotenv`: the syntax of `environment_file=` files (an extension).
//! * `extensions`: the supervisor-rs extension options of `[program:x]` (docs/extensions.md);
//!   `dependencies`: `depends_on=` and the supervisord-dependent-startup options among them;
//!   `limits`: `rlimit_*=` and the cgroup options.
//! * `model`: the typed result.
//! * `sample`: the documented sample configuration (`echo_supervisord_conf`).
//!
//! Every error names the file, section, option and value.

pub mod dotenv;
pub mod error;
pub mod expand;
/// Bounds shared by the `ready_check=log:` loader and the probe.
pub mod health_limits {
    /// The compiled size bound of a `log:` regular expression.
    pub const REGEX_SIZE_LIMIT: usize = 1 << 20;
}
pub mod ini;
pub mod load;
pub mod model;
pub mod sample;
pub mod values;

pub use error::ConfigError;
pub use load::{find_config_file, load, parse_str, parse_with_env, search_paths, CliOverrides};
pub use model::*;
pub use sample::SAMPLE_CONFIG;

#[cfg(test)]
mod dependencies_tests;
#[cfg(test)]
mod extensions_tests;
#[cfg(test)]
mod health_tests;
#[cfg(test)]
mod limits_tests;
#[cfg(test)]
mod tests;
