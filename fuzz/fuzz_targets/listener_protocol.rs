//! NOT BUILT YET: register it in fuzz/Cargo.toml (see docs/reliability.md) once the events
//! system (protocol/src/listener.rs) is merged into this branch; it was run against main.
//! The event-listener protocol in both directions: what supervisord reads from a listener's
//! stdout (`READY\n`, `RESULT <len>\n<body>`), through `ListenerParser` (the state machine is
//! driven as the daemon drives it: an event is "sent" whenever the listener is READY), and what
//! a listener reads on stdin (`ver:3.0 ... len:N\n<payload>`), through `NotificationReader`.
//! The input is split into pieces at 0xFF bytes to exercise partial reads.
#![no_main]

use libfuzzer_sys::fuzz_target;
use supervisor_protocol::listener::{ListenerParser, ListenerState, NotificationReader};

fuzz_target!(|data: &[u8]| {
    let mut parser = ListenerParser::new();
    for piece in data.split(|&b| b == 0xff) {
        if parser.state() == ListenerState::Ready {
            parser.event_sent();
        }
        let _ = parser.feed(piece);
    }
    let mut reader = NotificationReader::new();
    for piece in data.split(|&b| b == 0xfe) {
        reader.feed(piece);
        for _ in 0..64 {
            match reader.next_notification() {
                Ok(Some(n)) => {
                    let _ = format!("{n:?}");
                }
                Ok(None) => break,
                Err(e) => {
                    let _ = e.to_string();
                }
            }
        }
    }
});
