//! # supervisor-daemon
//!
//! `supervisord` and `supervisorctl`. The crate is split the way Supervisor's own module
//! map is, so a concept is found by its folder name:
//!
//! * [`config`]: the INI reader with Python ConfigParser rules, `%(...)s` expansion and the typed
//!   configuration every other module consumes. Errors name file, section, option and value.
//! * [`process`]: the pure process state machine (`state`) and the thin fork/exec layer (`spawn`).
//! * [`events`]: the event bus and listener pools (subscriptions, buffers, serials, redelivery,
//!   ticks) as pure logic; the runtime feeds it and writes what it dispatches.
//! * [`health`]: the probes of `ready_check=` / `health_check=` (tcp, exec, log): I/O only; the
//!   state machine decides what a result means.
//! * [`logs`]: child output (capture mode, ANSI stripping, rotating files) and the main log.
//! * [`supervisor`]: the one owner of all process state. `core` makes every decision as a plain
//!   function of inputs and time; `runtime` is the tokio loop that feeds it (children exiting,
//!   timers, signals, commands) and carries out the actions it returns.
//!
//! * [`ctl`]: `supervisorctl`, a synchronous XML-RPC client and command interpreter.
//!
//! No module both parses bytes and makes supervision decisions.

pub mod config;
pub mod ctl;
pub mod events;
pub mod health;
pub mod logs;
pub mod metrics;
pub mod process;
pub mod rpc;
pub mod supervisor;
pub mod web;
