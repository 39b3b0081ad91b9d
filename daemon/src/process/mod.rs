//! One supervised process: the pure state machine (`state`) and the fork/exec layer (`spawn`), and the record of
//! started children that lets the next start stop what a killed daemon left running (`registry`).

pub mod registry;
pub mod spawn;
pub mod state;
