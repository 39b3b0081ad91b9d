//! # supervisor-protocol
//!
//! The wire-level vocabulary that every part of supervisor-rs shares, kept free of I/O so it can be
//! unit-tested byte for byte and used by the daemon, `supervisorctl` and the listener binaries alike.
//!
//! * [`states`]: process and daemon states with Supervisor's numeric codes and names.
//! * [`events`]: the event type hierarchy (`EVENT` > `PROCESS_STATE` > `PROCESS_STATE_EXITED` ...).
//! * [`xmlrpc`]: the XML-RPC codec (values, `methodCall`/`methodResponse` parsing with limits and
//!   Python-identical encoding, fault codes, typed result structs) plus sans-IO HTTP/1.x framing
//!   and a client call exchange. The daemon's `/RPC2` server, `supervisorctl` and the listeners
//!   all use it, so it lives here rather than in any one of them.
//!
//! Listener framing will live here too, because it is a byte format that both sides of a pipe
//! must agree on.

pub mod events;
pub mod states;
pub mod xmlrpc;

pub use states::{ProcessState, SupervisorState};
