//! One supervised process: the pure state machine (`state`) and the fork/exec layer (`spawn`).

pub mod spawn;
pub mod state;
