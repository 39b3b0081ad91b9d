//! fatalmailbatch: Mail a batch of processes that went FATAL every --interval minutes (superlance fatalmailbatch).
//!
//! Subscribe it to `PROCESS_STATE_FATAL,TICK_60` (or the tick named by `-e`).

use supervisor_listeners::batch::{self, BatchKind};

fn main() {
    batch::main(BatchKind {
        name: "fatalmailbatch",
        about: "Mail a batch of processes that went FATAL (too many start retries) every --interval minutes. Run as an [eventlistener:x] with events=PROCESS_STATE_FATAL,TICK_60.",
        default_subject: Some("Fatal start alert from supervisord"),
        message: batch::fatal_line,
    });
}
