//! One supervised process: the pure state machine (`state`) and the fork/exec layer (`spawn`), the record of
//! started children that lets the next start stop what a killed daemon left running (`registry`),
//! the listening sockets that `[fcgi-program:x]` processes share as their fd 0 (`socket`), and
//! the resource limits a child applies before exec (`limits`, `cgroup`: an extension).

pub mod cgroup;
pub mod limits;
pub mod registry;
pub mod shared_table;
pub mod socket;
pub mod spawn;
pub mod state;
