//! The owner of all process state: decisions in `core`, the tokio loop in `runtime`.

pub mod core;
