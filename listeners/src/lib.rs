//! # supervisor-listeners
//!
//! Home of the event-listener binaries (`crashmail`, `crashmailbatch`, `fatalmailbatch`,
//! `crashsms`, `memmon`, `httpok`, `webhook`) and the one runtime they share: the READY/RESULT
//! protocol loop, typed events and notifiers. They are separate programs because they must also
//! run unchanged under Python supervisord.
//!
//! The runtime arrives with the events work; this crate only fixes the place in the workspace.
