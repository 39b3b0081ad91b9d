//! One supervised process: the pure state machine and the fork/exec layer.

pub mod state;
