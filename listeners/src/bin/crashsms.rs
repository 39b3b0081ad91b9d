//! crashsms: Short batched crash notices for an email-to-SMS gateway (superlance crashsms).
//!
//! Subscribe it to `PROCESS_STATE_EXITED,TICK_60` (or the tick named by `-e`).

use supervisor_listeners::batch::{self, BatchKind};

fn main() {
    batch::main(BatchKind {
        name: "crashsms",
        about: "Send short batched crash notices to email-to-SMS gateways (e.g. 5551234567@sms.example.com) every --interval minutes. Run as an [eventlistener:x] with events=PROCESS_STATE_EXITED,TICK_60.",
        default_subject: None,
        message: batch::sms_line,
    });
}
