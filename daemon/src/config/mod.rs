//! Configuration: read `supervisord.conf` exactly as Supervisor 4.3.0 reads it.
//!
//! * `ini`: Python `RawConfigParser` rules (comments, continuation lines, duplicate merging),
//!   keeping file and line for every value.
//! * `expand`: `%(name)s` / `%(name)02d` expansion with the key sets each option may use.
//! * `values`: booleans, byte sizes, signals, octal, exit codes, `environment=` ...
//! * `model`: the typed result.
//!
//! Every error names the file, section, option and value.

pub mod model;

pub use model::*;
