//! crashmailbatch: Mail a batch of unexpected process exits every --interval minutes (superlance crashmailbatch).
//!
//! Subscribe it to `PROCESS_STATE_EXITED,TICK_60` (or the tick named by `-e`).

use supervisor_listeners::batch::{self, BatchKind};

fn main() {
    batch::main(BatchKind {
        name: "crashmailbatch",
        default_subject: Some("Crash alert from supervisord"),
        message: batch::crash_line,
    });
}
