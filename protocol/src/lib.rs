//! # supervisor-protocol
//!
//! The wire-level vocabulary that every part of supervisor-rs shares, kept free of I/O so it can be
//! unit-tested byte for byte and used by the daemon, `supervisorctl` and the listener binaries alike.
//!
//! * [`states`]: process and daemon states with Supervisor's numeric codes and names.
//! * [`events`]: the event type hierarchy (`EVENT` > `PROCESS_STATE` > `PROCESS_STATE_EXITED` ...).
//!
//! Listener framing and the XML-RPC codec will live here too, because they are byte formats that
//! both sides of a socket or pipe must agree on.

pub mod events;
pub mod states;

pub use states::{ProcessState, SupervisorState};
