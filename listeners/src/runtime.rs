//! The listener side of the event protocol (upstream-reference §1.2-1.3) as a loop over any reader/writer.
//!
//! `READY\n` is written, one notification is read with
//! [`supervisor_protocol::listener::NotificationReader`] (`len:` counted in characters, as
//! supervisord writes it), the handler decides, and `RESULT 2\nOK` or `RESULT 4\nFAIL` is
//! written. The loop never dies on a bad event:
//!
//! * a malformed header is logged on stderr and answered `OK` (its payload length is unknown,
//!   so the stream cannot be resynchronised by asking for the event again; a FAIL would only
//!   make supervisord send the same bytes forever);
//! * a handler panic is caught, logged and answered `OK` for the same reason (the event
//!   would panic again);
//! * an unknown event name is passed to the handler with `kind == None`.
//!
//! End of stdin (supervisord went away), SIGTERM or SIGINT end the loop normally, after the
//! handler's `finish` (which drains queued notifications, bounded).

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};

use supervisor_protocol::events::EventKind;
use supervisor_protocol::listener::{
    split_payload, Header, NotificationReader, READY, RESULT_FAIL, RESULT_OK,
};

/// One notification, decoded.
#[derive(Debug, Clone)]
pub struct Event {
    pub header: Header,
    /// The concrete type, if it is one Supervisor 4.3.0 defines.
    pub kind: Option<EventKind>,
    pub payload: String,
    /// The payload's first line as `key:value` tokens (split at the first `:` only).
    pub tokens: BTreeMap<String, String>,
    /// The payload after its first line (PROCESS_LOG data, REMOTE_COMMUNICATION data).
    pub data: String,
}

impl Event {
    pub fn new(header: Header, payload: String) -> Event {
        let kind = EventKind::from_name(&header.eventname);
        let (tokens, data) = split_payload(&payload);
        let data = data.to_string();
        Event {
            header,
            kind,
            tokens: tokens.into_iter().collect(),
            data,
            payload,
        }
    }

    pub fn name(&self) -> &str {
        &self.header.eventname
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.tokens.get(key).map(String::as_str)
    }

    pub fn processname(&self) -> &str {
        self.get("processname").unwrap_or("")
    }

    pub fn groupname(&self) -> &str {
        self.get("groupname").unwrap_or("")
    }

    /// `group:name`, or `name` when they are equal (Supervisor's `make_namespec`).
    pub fn namespec(&self) -> String {
        namespec(self.groupname(), self.processname())
    }

    pub fn pid(&self) -> Option<i32> {
        self.get("pid").and_then(|p| p.parse().ok())
    }

    /// `expected:` of PROCESS_STATE_EXITED.
    pub fn expected(&self) -> Option<bool> {
        self.get("expected").map(|e| e != "0")
    }

    pub fn is_tick(&self) -> bool {
        self.name().starts_with("TICK")
    }

    /// Variables for templates: every payload token, the header tokens but `len` and `ver`
    /// (`server`, `serial`, `pool`, `poolserial`, `eventname`), plus
    /// `namespec`, `state` (the part after `PROCESS_STATE_`), `data` and `hostname`.
    pub fn vars(&self) -> BTreeMap<String, String> {
        let mut v: BTreeMap<String, String> = self
            .header
            .tokens
            .iter()
            .filter(|(k, _)| k != "len" && k != "ver")
            .cloned()
            .collect();
        v.extend(self.tokens.clone());
        v.insert("eventname".into(), self.name().to_string());
        if self.tokens.contains_key("processname") {
            v.insert("namespec".into(), self.namespec());
        }
        if let Some(state) = self.name().strip_prefix("PROCESS_STATE_") {
            v.insert("state".into(), state.to_string());
        }
        v.insert("data".into(), self.data.clone());
        v.insert("hostname".into(), crate::timefmt::hostname());
        v
    }
}

/// `group:name`, or `name` when they are equal (or the group is not known).
pub fn namespec(group: &str, name: &str) -> String {
    if group.is_empty() {
        name.to_string()
    } else {
        supervisor_protocol::names::namespec(group, name)
    }
}

/// What to answer for an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// `RESULT 2\nOK`: processed.
    Ok,
    /// `RESULT 4\nFAIL`: supervisord sends the event again.
    Fail,
}

/// A listener's policy.
pub trait Handler {
    fn handle(&mut self, event: &Event) -> Verdict;

    /// Called once when stdin ends, before the loop returns (flush outboxes etc.).
    fn finish(&mut self) {}
}

impl<F: FnMut(&Event) -> Verdict> Handler for F {
    fn handle(&mut self, event: &Event) -> Verdict {
        self(event)
    }
}

/// Writes a line on stderr, prefixed with the program name (diagnostics of a listener go to
/// stderr, which supervisord logs; stdout is the protocol channel).
pub fn log(msg: &str) {
    let mut err = io::stderr().lock();
    let _ = err.write_all(msg.as_bytes());
    if !msg.ends_with('\n') {
        let _ = err.write_all(b"\n");
    }
    let _ = err.flush();
}

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_stop_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

/// SIGTERM and SIGINT end the loop between events (a blocked read is interrupted: the
/// handlers are installed without `SA_RESTART`), so [`Handler::finish`] can still send what is
/// queued, within its bound, before supervisord's `stopwaitsecs` runs out.
fn install_stop_handlers() {
    // SAFETY: sigaction with a handler that only stores to an atomic.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_stop_signal as extern "C" fn(libc::c_int) as usize;
        sa.sa_flags = 0;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(libc::SIGTERM, &sa, std::ptr::null_mut());
        libc::sigaction(libc::SIGINT, &sa, std::ptr::null_mut());
    }
}

/// Runs the protocol on the process's stdin and stdout until stdin ends or SIGTERM/SIGINT.
pub fn run<H: Handler>(handler: &mut H) -> io::Result<()> {
    install_stop_handlers();
    let stdin = io::stdin();
    let stdout = io::stdout();
    run_io(stdin.lock(), stdout.lock(), handler)
}

/// Runs the protocol on any reader/writer until the reader ends.
pub fn run_io<R: Read, W: Write, H: Handler>(
    mut input: R,
    mut output: W,
    handler: &mut H,
) -> io::Result<()> {
    let mut reader = NotificationReader::new();
    let mut buf = vec![0u8; 8192];
    'outer: loop {
        output.write_all(READY)?;
        output.flush()?;
        let verdict = loop {
            match reader.next_notification() {
                Ok(Some(n)) => {
                    let event = Event::new(n.header, n.payload);
                    break match catch_unwind(AssertUnwindSafe(|| handler.handle(&event))) {
                        Ok(v) => v,
                        Err(panic) => {
                            let what = panic
                                .downcast_ref::<&str>()
                                .map(|s| s.to_string())
                                .or_else(|| panic.downcast_ref::<String>().cloned())
                                .unwrap_or_else(|| "unknown panic".into());
                            log(&format!(
                                "error handling event {} (serial {}): {what}; acknowledged",
                                event.name(),
                                event.header.serial
                            ));
                            Verdict::Ok
                        }
                    };
                }
                Ok(None) => {
                    if STOP.load(Ordering::SeqCst) {
                        log("stop signal received; finishing");
                        break 'outer;
                    }
                    let n = match input.read(&mut buf) {
                        Ok(0) => break 'outer,
                        Ok(n) => n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => return Err(e),
                    };
                    reader.feed(&buf[..n]);
                }
                Err(e) => {
                    log(&format!("{e}; acknowledged"));
                    break Verdict::Ok;
                }
            }
        };
        output.write_all(match verdict {
            Verdict::Ok => RESULT_OK,
            Verdict::Fail => RESULT_FAIL,
        })?;
        output.flush()?;
    }
    handler.finish();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use supervisor_protocol::events::encode_notification;

    fn wire(kind: EventKind, payload: &str, serial: u64) -> Vec<u8> {
        encode_notification("sv", serial, "pool", serial, kind, payload)
    }

    #[test]
    fn loop_answers_and_survives_panics_and_garbage() {
        let mut input = wire(
            EventKind::ProcessStateExited,
            "processname:a groupname:g from_state:RUNNING expected:0 pid:12",
            1,
        );
        input.extend(b"this is not a header\n");
        input.extend(wire(EventKind::Tick5, "when:5", 2));
        input.extend(wire(EventKind::RemoteCommunication, "type:x\ndé", 3));
        let mut seen = Vec::new();
        let mut out = Vec::new();
        let mut h = |e: &Event| {
            seen.push((e.name().to_string(), e.namespec(), e.pid(), e.expected()));
            if e.is_tick() {
                panic!("boom");
            }
            if e.kind == Some(EventKind::RemoteCommunication) {
                assert_eq!(e.data, "dé");
                return Verdict::Fail;
            }
            Verdict::Ok
        };
        run_io(&input[..], &mut out, &mut h).expect("runs");
        assert_eq!(
            seen[0],
            (
                "PROCESS_STATE_EXITED".into(),
                "g:a".into(),
                Some(12),
                Some(false)
            )
        );
        assert_eq!(seen.len(), 3);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "READY\nRESULT 2\nOKREADY\nRESULT 2\nOKREADY\nRESULT 2\nOKREADY\nRESULT 4\nFAILREADY\n"
        );
    }

    #[test]
    fn vars_have_tokens_and_derived_names() {
        let h = supervisor_protocol::listener::parse_header(
            "ver:3.0 server:sv serial:1 pool:p poolserial:1 eventname:PROCESS_STATE_FATAL len:0",
        )
        .unwrap();
        let e = Event::new(h, "processname:x groupname:x from_state:BACKOFF".into());
        let v = e.vars();
        assert_eq!(v["namespec"], "x");
        assert_eq!(v["state"], "FATAL");
        assert_eq!(v["from_state"], "BACKOFF");
        assert_eq!(v["pool"], "p");
    }
}
