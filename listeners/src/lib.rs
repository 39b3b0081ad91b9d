//! # supervisor-listeners
//!
//! The event-listener binaries (`crashmail`, `crashmailbatch`, `fatalmailbatch`, `crashsms`,
//! `memmon`, `httpok`, `webhook`, `supervisor-event-listener`) and the one runtime they share.
//! They are separate programs because they must also run unchanged under Python supervisord.
//!
//! * [`runtime`]: the READY / notification / RESULT loop over stdin and stdout, typed events,
//!   and a handler that can never kill the listener (a panic or a malformed event is logged on
//!   stderr and acknowledged deliberately).
//! * [`rpc`]: a blocking XML-RPC client that finds supervisord like
//!   `supervisor.childutils.getRPCInterface` (`SUPERVISOR_SERVER_URL`, `SUPERVISOR_USERNAME`,
//!   `SUPERVISOR_PASSWORD`).
//! * [`notify`]: mail (SMTP through lettre, or a sendmail-style command), HTTP POSTs (reqwest),
//!   a background outbox with retries and backoff so that sending never holds up an
//!   acknowledgement, a rate limiter, flap suppression and `{var}` templates.
//! * [`cli`]: superlance-compatible option handling (usage on stdout, its exit codes).
//! * [`proc`]: RSS of a process (and its descendants) from `/proc`, never `ps`.

pub mod batch;
pub mod cli;
pub mod notify;
pub mod proc;
pub mod rpc;
pub mod runtime;
pub mod timefmt;
