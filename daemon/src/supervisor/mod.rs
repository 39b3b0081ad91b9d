//! The owner of all process state.
//!
//! * `core`: every supervision decision, as plain functions of inputs and time.
//! * `deps`: dependencies between processes (an extension): may a waiting start go ahead,
//!   in which order groups stop.
//! * `host`: what the control plane may ask of the running daemon ([`host::Host`]), with no
//!   wire format in it.
//! * `memory`: after the start-up, hand back the heap and code pages only it used.
//! * `pacing`: how many starts one loop iteration makes during a large start-up.
//! * `pipes`: a child's output pipe that a reader can take out of the reactor during a burst.
//! * `runtime`: the tokio loop that feeds `core` and carries out its actions.
//! * `sd_notify`: `READY=1` / `STOPPING=1` to systemd's `$NOTIFY_SOCKET` (Type=notify units).
//! * `stdin`: the bounded queue in front of each child's stdin.
//! * `system`: the daemon's own process set-up (privileges, rlimits, daemonize, pidfile).

pub mod core;
pub mod deps;
pub mod host;
pub mod memory;
pub mod pacing;
pub mod pipes;
pub mod runtime;
pub mod sd_notify;
pub mod stdin;
pub mod system;
