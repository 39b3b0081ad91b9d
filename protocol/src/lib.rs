//! # supervisor-protocol
//!
//! The wire-level vocabulary that every part of supervisor-rs shares, kept free of I/O so it can be
//! unit-tested byte for byte and used by the daemon, `supervisorctl` and the listener binaries alike.
//!
//! * [`states`]: process and daemon states with Supervisor's numeric codes and names.
//! * [`events`]: the event type hierarchy (`EVENT` > `PROCESS_STATE` > `PROCESS_STATE_EXITED` ...),
//!   every payload and the notification envelope.
//! * [`xmlrpc`]: the XML-RPC codec (values, `methodCall`/`methodResponse` parsing with limits and
//!   Python-identical encoding, fault codes, typed result structs) plus sans-IO HTTP/1.x framing
//!   and a client call exchange. The daemon's `/RPC2` server, `supervisorctl` and the listeners
//!   all use it, so it lives here rather than in any one of them.
//!
//! * [`names`]: namespecs (`group:name`); [`pyrepr`]: Python's `repr()` of str and bytes, as
//!   Supervisor's messages quote things.
//! * [`listener`]: the event listener protocol (`READY\n`, `RESULT <n>\n...`) as a state
//!   machine over bytes for supervisord, and the notification reader for listener binaries —
//!   a byte format both sides of a pipe must agree on.

pub mod events;
pub mod listener;
pub mod names;
pub mod pyrepr;
pub mod states;
pub mod xmlrpc;

/// The Supervisor release whose behaviour we reproduce (`getSupervisorVersion`, `--version`).
pub const SUPERVISOR_VERSION: &str = "4.3.0";
/// The XML-RPC API version (`getAPIVersion`).
pub const API_VERSION: &str = "3.0";

pub use states::{ProcessState, SupervisorState};
