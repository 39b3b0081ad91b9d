//! crashsms: Short batched crash notices for an email-to-SMS gateway (superlance crashsms).
//!
//! Subscribe it to `PROCESS_STATE_EXITED,TICK_60` (or the tick named by `-e`).

use supervisor_listeners::batch::{self, BatchKind};

fn main() {
    batch::main(BatchKind {
        name: "crashsms",
        default_subject: None,
        message: batch::sms_line,
    });
}
