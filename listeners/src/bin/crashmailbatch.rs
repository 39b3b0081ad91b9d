//! crashmailbatch: Mail a batch of unexpected process exits every --interval minutes (superlance crashmailbatch).
//!
//! Subscribe it to `PROCESS_STATE_EXITED,TICK_60` (or the tick named by `-e`).

use supervisor_listeners::batch::{self, BatchKind};

fn main() {
    batch::main(BatchKind {
        name: "crashmailbatch",
        about: "Mail a batch of unexpected process exits (EXITED with expected:0) every --interval minutes. Run as an [eventlistener:x] with events=PROCESS_STATE_EXITED,TICK_60.",
        default_subject: Some("Crash alert from supervisord"),
        message: batch::crash_line,
    });
}
