//! The event listener protocol (upstream-reference §1.2–§1.4), both ends of the pipe, without I/O.
//!
//! * supervisord side: [`ListenerParser`] reads what a listener writes on its stdout
//!   (`READY\n`, `RESULT <n>\n<n bytes>`) and tracks the listener state
//!   (ACKNOWLEDGED / READY / BUSY / UNKNOWN). It mirrors upstream's
//!   `PEventListenerDispatcher.handle_listener_state_change` step for step, quirks included,
//!   because real listeners were written against that code: the result line is whatever comes
//!   before the first `\n` with its first 7 bytes dropped unchecked, parsed like Python `int()`;
//!   the body is counted in bytes; several tokens in one write are processed in one go; and an
//!   empty result (`RESULT 0\n`) is only evaluated once more bytes arrive.
//! * listener side: [`READY`], [`result`], [`RESULT_OK`], [`RESULT_FAIL`] and
//!   [`NotificationReader`], an incremental parser of `header\npayload` notifications from stdin
//!   bytes that counts `len:` in *characters* like supervisord writes it (see [`crate::events`]).
//!
//! Bounds: the parser never rescans bytes it has looked at (a result line is searched for `\n`
//! only in new bytes), and a listener may leave at most [`MAX_UNPARSED`] bytes unparsed (a
//! result line without its `\n`, or a declared result body). Past that the listener is
//! protocol-broken: [`ListenerOutput::Oversized`] is reported and handled like a bad result line
//! (BUSY -> UNKNOWN, the event goes back to the pool). Upstream has no bound and buffers
//! whatever a listener writes.
//!
//! The result *handler* is not part of the parser: the caller judges each complete result body
//! ([`ListenerParser::feed_judged`]) and the parser moves BUSY to ACKNOWLEDGED (accepted or
//! rejected) or UNKNOWN (the handler failed) before it goes on with the bytes that follow, as
//! upstream does. [`ListenerParser::feed`] judges with [`default_handler`] (a body of exactly
//! `OK` accepts the event, anything else rejects it).

use std::collections::VecDeque;
use std::fmt;

/// Listener states with upstream's codes (`supervisor.states.EventListenerStates`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ListenerState {
    Ready,
    Busy,
    Acknowledged,
    Unknown,
}

impl ListenerState {
    pub fn code(self) -> i32 {
        match self {
            ListenerState::Ready => 10,
            ListenerState::Busy => 20,
            ListenerState::Acknowledged => 30,
            ListenerState::Unknown => 40,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ListenerState::Ready => "READY",
            ListenerState::Busy => "BUSY",
            ListenerState::Acknowledged => "ACKNOWLEDGED",
            ListenerState::Unknown => "UNKNOWN",
        }
    }
}

impl fmt::Display for ListenerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The token a listener writes when it can take an event.
pub const READY: &[u8] = b"READY\n";
/// `RESULT 2\nOK`: accept the event.
pub const RESULT_OK: &[u8] = b"RESULT 2\nOK";
/// `RESULT 4\nFAIL`: reject the event (supervisord sends it again).
pub const RESULT_FAIL: &[u8] = b"RESULT 4\nFAIL";

/// Most bytes a listener may leave unparsed while BUSY: a result line without `\n`, or the
/// body a result line announces. A real result is a few bytes (`OK`), or an echoed event
/// payload (at most 128 KiB for PROCESS_LOG).
pub const MAX_UNPARSED: usize = 1024 * 1024;

/// Length of `RESULT ` — upstream drops this many bytes of the result line without looking.
const RESULT_TOKEN_START_LEN: usize = 7;

/// [`READY`]: what a listener writes when it can take an event.
pub fn ready() -> &'static [u8] {
    READY
}

/// [`RESULT_OK`]: accept the event just received.
pub fn result_ok() -> &'static [u8] {
    RESULT_OK
}

/// [`RESULT_FAIL`]: reject the event just received; supervisord sends it again.
pub fn result_fail() -> &'static [u8] {
    RESULT_FAIL
}

/// `RESULT <n>\n<body>` for any body.
pub fn result(body: &[u8]) -> Vec<u8> {
    let mut out = format!("RESULT {}\n", body.len()).into_bytes();
    out.extend_from_slice(body);
    out
}

/// Upstream's `default_handler`: accepted iff the body is exactly `OK`.
pub fn default_handler(body: &[u8]) -> bool {
    body == b"OK"
}

/// What the result handler made of a complete result (upstream: returned normally, raised
/// `RejectEvent`, raised anything else).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Accepted,
    Rejected,
    /// The handler failed: the listener goes UNKNOWN and the event is rebuffered.
    Error,
}

/// What a chunk of listener stdout caused, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenerOutput {
    /// The listener state changed (upstream logs DEBG `<name>: FROM -> TO`; entering UNKNOWN
    /// also logs a WARN).
    Transition {
        from: ListenerState,
        to: ListenerState,
    },
    /// A complete result while BUSY, as judged; the transition BUSY -> ACKNOWLEDGED follows
    /// (BUSY -> UNKNOWN for [`Verdict::Error`]). The caller rebuffers the event unless it was
    /// accepted.
    Result(Verdict),
    /// The result line (without `\n`) did not hold an integer; BUSY -> UNKNOWN follows and the
    /// event must be rebuffered.
    BadResultLine(Vec<u8>),
    /// Bytes that violate the protocol (not `READY\n` while ACKNOWLEDGED, anything while
    /// READY); -> UNKNOWN follows. The bytes are discarded.
    ProtocolError(Vec<u8>),
    /// While BUSY, more than [`MAX_UNPARSED`] bytes without a `\n`, or a result line announcing
    /// a longer body. Handled like a bad result line: BUSY -> UNKNOWN follows, the event must be
    /// rebuffered, and the bytes are discarded.
    Oversized,
}

/// supervisord's view of one listener process run. Create a new one for every spawn (a new
/// process starts ACKNOWLEDGED, awaiting `READY\n`).
#[derive(Debug, Clone)]
pub struct ListenerParser {
    state: ListenerState,
    buffer: Vec<u8>,
    /// Leading bytes of `buffer` already searched for `\n` (while awaiting a result line).
    scanned: usize,
    result: Vec<u8>,
    result_len: Option<usize>,
}

impl Default for ListenerParser {
    fn default() -> Self {
        ListenerParser::new()
    }
}

impl ListenerParser {
    pub fn new() -> ListenerParser {
        ListenerParser {
            state: ListenerState::Acknowledged,
            buffer: Vec::new(),
            scanned: 0,
            result: Vec::new(),
            result_len: None,
        }
    }

    pub fn state(&self) -> ListenerState {
        self.state
    }

    /// Record that an event was written to the listener: READY -> BUSY (upstream sets this
    /// without a log line). Returns false, changing nothing, unless the listener was READY.
    pub fn event_sent(&mut self) -> bool {
        if self.state != ListenerState::Ready {
            return false;
        }
        self.state = ListenerState::Busy;
        true
    }

    /// Process bytes read from the listener's stdout, judging results with
    /// [`default_handler`].
    pub fn feed(&mut self, data: &[u8]) -> Vec<ListenerOutput> {
        self.feed_judged(data, &mut |body| {
            if default_handler(body) {
                Verdict::Accepted
            } else {
                Verdict::Rejected
            }
        })
    }

    /// Process bytes read from the listener's stdout; `judge` is the result handler, called
    /// once per complete result body.
    pub fn feed_judged(
        &mut self,
        data: &[u8],
        judge: &mut dyn FnMut(&[u8]) -> Verdict,
    ) -> Vec<ListenerOutput> {
        let mut out = Vec::new();
        if data.is_empty() {
            return out;
        }
        self.buffer.extend_from_slice(data);
        // Upstream recurses while bytes remain; a loop with the same exits.
        while !self.buffer.is_empty() {
            if !self.step(&mut out, judge) {
                break;
            }
        }
        out
    }

    fn change(&mut self, to: ListenerState, out: &mut Vec<ListenerOutput>) {
        out.push(ListenerOutput::Transition {
            from: self.state,
            to,
        });
        self.state = to;
    }

    /// The listener broke the protocol while BUSY: report why, go UNKNOWN, drop the bytes.
    fn broken(&mut self, why: ListenerOutput, out: &mut Vec<ListenerOutput>) {
        out.push(why);
        self.change(ListenerState::Unknown, out);
        self.buffer = Vec::new();
        self.scanned = 0;
    }

    /// One pass of `handle_listener_state_change`; true to go on with the remaining buffer.
    fn step(
        &mut self,
        out: &mut Vec<ListenerOutput>,
        judge: &mut dyn FnMut(&[u8]) -> Verdict,
    ) -> bool {
        match self.state {
            ListenerState::Unknown => {
                self.buffer.clear();
                self.scanned = 0;
                false
            }
            ListenerState::Acknowledged => {
                if self.buffer.len() < READY.len() {
                    return false;
                }
                if self.buffer.starts_with(READY) {
                    self.buffer.drain(..READY.len());
                    self.change(ListenerState::Ready, out);
                } else {
                    let junk = std::mem::take(&mut self.buffer);
                    out.push(ListenerOutput::ProtocolError(junk));
                    self.change(ListenerState::Unknown, out);
                }
                true
            }
            ListenerState::Ready => {
                let junk = std::mem::take(&mut self.buffer);
                out.push(ListenerOutput::ProtocolError(junk));
                self.change(ListenerState::Unknown, out);
                false
            }
            ListenerState::Busy => {
                match self.result_len {
                    None => {
                        let fresh = &self.buffer[self.scanned..];
                        let Some(pos) = fresh.iter().position(|&b| b == b'\n') else {
                            self.scanned = self.buffer.len();
                            if self.buffer.len() > MAX_UNPARSED {
                                self.broken(ListenerOutput::Oversized, out);
                            }
                            return false;
                        };
                        let pos = self.scanned + pos;
                        self.scanned = 0;
                        let line: Vec<u8> = self.buffer[..pos].to_vec();
                        self.buffer.drain(..=pos);
                        let number = line.get(RESULT_TOKEN_START_LEN..).unwrap_or(b"");
                        match py_int(number) {
                            Some(n) if n > MAX_UNPARSED => {
                                self.broken(ListenerOutput::Oversized, out);
                                return false;
                            }
                            Some(n) => {
                                self.result_len = Some(n);
                                self.result.clear();
                            }
                            None => {
                                self.broken(ListenerOutput::BadResultLine(line), out);
                                return false;
                            }
                        }
                    }
                    Some(len) => {
                        let needed = len.saturating_sub(self.result.len());
                        if needed > 0 {
                            let take = needed.min(self.buffer.len());
                            self.result.extend(self.buffer.drain(..take));
                        }
                        if self.result.len() >= len {
                            let body = std::mem::take(&mut self.result);
                            self.result_len = None;
                            let verdict = judge(&body);
                            out.push(ListenerOutput::Result(verdict));
                            if verdict == Verdict::Error {
                                self.change(ListenerState::Unknown, out);
                            } else {
                                self.change(ListenerState::Acknowledged, out);
                            }
                        }
                    }
                }
                true
            }
        }
    }
}

/// Python `int()` of an ASCII bytes value, restricted to non-negative results: surrounding
/// whitespace, an optional `+`, digits with single `_` between them. A negative length is
/// refused (upstream would then wait forever for an impossible body).
fn py_int(raw: &[u8]) -> Option<usize> {
    let is_ws = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c);
    let start = raw.iter().position(|b| !is_ws(b))?;
    let end = raw.iter().rposition(|b| !is_ws(b))? + 1;
    let mut s = &raw[start..end];
    if let Some(rest) = s.strip_prefix(b"+") {
        s = rest;
    } else if let Some(rest) = s.strip_prefix(b"-") {
        // `-0` is zero; anything else is negative.
        if !rest.is_empty() && rest.iter().all(|b| *b == b'0' || *b == b'_') {
            s = rest;
        } else {
            return None;
        }
    }
    if s.is_empty() || s.first() == Some(&b'_') || s.last() == Some(&b'_') {
        return None;
    }
    let mut value: usize = 0;
    let mut prev_underscore = false;
    for &b in s {
        match b {
            b'0'..=b'9' => {
                value = value.checked_mul(10)?.checked_add(usize::from(b - b'0'))?;
                prev_underscore = false;
            }
            b'_' if !prev_underscore => prev_underscore = true,
            _ => return None,
        }
    }
    Some(value)
}

// ---------------------------------------------------------------------------------------------
// Listener side
// ---------------------------------------------------------------------------------------------

/// A parsed notification header line (upstream-reference §1.2). Tokens are kept in order as well, so a
/// listener can see tokens a future version might add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub ver: String,
    pub server: String,
    pub serial: u64,
    pub pool: String,
    pub poolserial: u64,
    pub eventname: String,
    /// Payload length in characters.
    pub len: usize,
    pub tokens: Vec<(String, String)>,
}

/// One complete notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub header: Header,
    pub payload: String,
}

/// Why a header line could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderError {
    /// A token without `:` or a required token missing or not a number; carries the line.
    Malformed(String),
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeaderError::Malformed(line) => write!(f, "malformed event header: {line:?}"),
        }
    }
}

impl std::error::Error for HeaderError {}

/// Split a token set (`key:value key:value`) into pairs, splitting each token at its first
/// `:` (childutils splits at every `:` and so breaks on values containing one).
pub fn parse_tokens(line: &str) -> Option<Vec<(String, String)>> {
    line.split_whitespace()
        .map(|t| {
            t.split_once(':')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect()
}

/// Split a payload into its token-set first line and the rest (`childutils.eventdata`); a
/// payload without `\n` is all tokens.
pub fn split_payload(payload: &str) -> (Vec<(String, String)>, &str) {
    let (head, data) = payload.split_once('\n').unwrap_or((payload, ""));
    (parse_tokens(head).unwrap_or_default(), data)
}

/// Parse a header line (without its `\n`).
pub fn parse_header(line: &str) -> Result<Header, HeaderError> {
    let bad = || HeaderError::Malformed(line.to_string());
    let tokens = parse_tokens(line).ok_or_else(bad)?;
    let get = |k: &str| {
        tokens
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    let num = |k: &str| get(k).and_then(|v| v.parse::<u64>().ok());
    Ok(Header {
        ver: get("ver").unwrap_or_default(),
        server: get("server").unwrap_or_default(),
        serial: num("serial").ok_or_else(bad)?,
        pool: get("pool").unwrap_or_default(),
        poolserial: num("poolserial").ok_or_else(bad)?,
        eventname: get("eventname").ok_or_else(bad)?,
        len: get("len")
            .and_then(|v| v.parse::<usize>().ok())
            .ok_or_else(bad)?,
        tokens,
    })
}

/// Incremental reader of notifications from a listener's stdin bytes. `len:` counts
/// characters: the payload ends after that many UTF-8 characters (an invalid byte counts as
/// one character and decodes to U+FFFD).
#[derive(Debug, Default)]
pub struct NotificationReader {
    buf: VecDeque<u8>,
    header: Option<Header>,
}

impl NotificationReader {
    pub fn new() -> NotificationReader {
        NotificationReader::default()
    }

    pub fn feed(&mut self, data: &[u8]) {
        self.buf.extend(data);
    }

    /// The next complete notification, `Ok(None)` if more bytes are needed. A malformed
    /// header line is consumed and reported.
    pub fn next_notification(&mut self) -> Result<Option<Notification>, HeaderError> {
        if self.header.is_none() {
            let Some(pos) = self.buf.iter().position(|&b| b == b'\n') else {
                return Ok(None);
            };
            let line: Vec<u8> = self.buf.drain(..=pos).take(pos).collect();
            let line = String::from_utf8_lossy(&line).into_owned();
            self.header = Some(parse_header(&line)?);
        }
        let Some(want) = self.header.as_ref().map(|h| h.len) else {
            return Ok(None);
        };
        let bytes = self.buf.make_contiguous();
        let Some(end) = char_boundary_after(bytes, want) else {
            return Ok(None);
        };
        let payload: Vec<u8> = self.buf.drain(..end).collect();
        let Some(header) = self.header.take() else {
            return Ok(None);
        };
        Ok(Some(Notification {
            header,
            payload: String::from_utf8_lossy(&payload).into_owned(),
        }))
    }
}

/// Byte offset just after `chars` UTF-8 characters of `bytes`, if that many are complete.
fn char_boundary_after(bytes: &[u8], chars: usize) -> Option<usize> {
    let mut pos = 0;
    for _ in 0..chars {
        let first = *bytes.get(pos)?;
        let width = match first {
            0x00..=0x7f => 1,
            0xc2..=0xdf => 2,
            0xe0..=0xef => 3,
            0xf0..=0xf4 => 4,
            _ => 1,
        };
        if width > 1 {
            let tail = bytes.get(pos + 1..pos + width)?;
            if tail.iter().any(|b| b & 0xc0 != 0x80) {
                // Invalid sequence: the lead byte alone counts as one character.
                pos += 1;
                continue;
            }
        }
        pos += width;
    }
    Some(pos)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ListenerOutput as O;
    use ListenerState as S;

    fn t(from: S, to: S) -> ListenerOutput {
        O::Transition { from, to }
    }

    /// Drive a fresh parser to BUSY.
    fn busy() -> ListenerParser {
        let mut p = ListenerParser::new();
        assert_eq!(p.feed(b"READY\n"), vec![t(S::Acknowledged, S::Ready)]);
        assert!(p.event_sent());
        p
    }

    #[test]
    fn ready_then_result_in_one_write() {
        // The exact bytes childutils writes, observed in the main log of Python supervisord:
        // `b'RESULT 2\nOKREADY\n'`.
        let mut p = busy();
        assert_eq!(
            p.feed(b"RESULT 2\nOKREADY\n"),
            vec![
                O::Result(Verdict::Accepted),
                t(S::Busy, S::Acknowledged),
                t(S::Acknowledged, S::Ready)
            ]
        );
        assert_eq!(p.state(), S::Ready);
    }

    #[test]
    fn partial_reads() {
        let mut p = ListenerParser::new();
        assert!(p.feed(b"REA").is_empty());
        assert_eq!(p.feed(b"DY\n"), vec![t(S::Acknowledged, S::Ready)]);
        assert!(p.event_sent());
        assert!(!p.event_sent());
        assert!(p.feed(b"RESULT").is_empty());
        assert!(p.feed(b" 4\nFA").is_empty());
        assert_eq!(
            p.feed(b"IL"),
            vec![O::Result(Verdict::Rejected), t(S::Busy, S::Acknowledged)]
        );
        assert!(!default_handler(b"FAIL"));
        assert!(default_handler(b"OK"));
        assert!(!default_handler(b"ok"));
    }

    #[test]
    fn result_line_quirks() {
        // First 7 bytes are dropped unchecked; whitespace and underscores as Python int().
        for line in [&b"XXXXXXX2\nOK"[..], b"RESULT  2 \nOK", b"RESULT +2\nOK"] {
            let mut p = busy();
            assert_eq!(
                p.feed(line),
                vec![O::Result(Verdict::Accepted), t(S::Busy, S::Acknowledged)]
            );
        }
        let mut p = busy();
        assert_eq!(
            p.feed(b"RESULT 1_0\n0123456789"),
            vec![O::Result(Verdict::Rejected), t(S::Busy, S::Acknowledged)]
        );
        for bad in [
            &b"READY\n"[..],
            b"RESULT x\n",
            b"RESULT -1\n",
            b"RES\n",
            b"RESULT 1__0\n",
        ] {
            let mut p = busy();
            let line = bad[..bad.len() - 1].to_vec();
            assert_eq!(
                p.feed(bad),
                vec![O::BadResultLine(line), t(S::Busy, S::Unknown)]
            );
            assert!(p.feed(b"READY\n").is_empty());
            assert_eq!(p.state(), S::Unknown);
        }
    }

    #[test]
    fn empty_result_evaluated_on_next_bytes() {
        let mut p = busy();
        assert!(p.feed(b"RESULT 0\n").is_empty());
        assert_eq!(p.state(), S::Busy);
        assert_eq!(
            p.feed(b"READY\n"),
            vec![
                O::Result(Verdict::Rejected),
                t(S::Busy, S::Acknowledged),
                t(S::Acknowledged, S::Ready)
            ]
        );
        // In one write it is evaluated at once.
        let mut p = busy();
        assert_eq!(
            p.feed(b"RESULT 0\nREADY\n"),
            vec![
                O::Result(Verdict::Rejected),
                t(S::Busy, S::Acknowledged),
                t(S::Acknowledged, S::Ready)
            ]
        );
    }

    #[test]
    fn result_line_split_over_many_reads() {
        // Only new bytes are searched; the line still ends at the first `\n`.
        let mut p = busy();
        assert!(p.feed(b"RESULT").is_empty());
        for _ in 0..100 {
            assert!(p.feed(b"       ").is_empty());
        }
        assert!(p.feed(b"2").is_empty());
        assert_eq!(
            p.feed(b"\nOKREADY\n"),
            vec![
                O::Result(Verdict::Accepted),
                t(S::Busy, S::Acknowledged),
                t(S::Acknowledged, S::Ready)
            ]
        );
    }

    #[test]
    fn flood_without_newline_is_cut_at_the_bound() {
        let mut p = busy();
        let chunk = vec![b'x'; 64 * 1024];
        let mut fed = 0;
        let mut outs = Vec::new();
        while fed <= MAX_UNPARSED {
            outs.extend(p.feed(&chunk));
            fed += chunk.len();
        }
        assert_eq!(outs, vec![O::Oversized, t(S::Busy, S::Unknown)]);
        // Nothing more is kept or reported.
        assert!(p.feed(&chunk).is_empty());
        assert!(p.feed(b"\nRESULT 2\nOK").is_empty());
        assert_eq!(p.state(), S::Unknown);
        assert!(p.buffer.is_empty());
        // Exactly at the bound is still fine.
        let mut p = busy();
        assert!(p.feed(&vec![b' '; MAX_UNPARSED]).is_empty());
        assert_eq!(
            p.feed(b"\n"),
            vec![
                O::BadResultLine(vec![b' '; MAX_UNPARSED]),
                t(S::Busy, S::Unknown)
            ]
        );
    }

    #[test]
    fn result_body_longer_than_the_bound_is_refused_at_once() {
        let mut p = busy();
        let line = format!("RESULT {}\n", MAX_UNPARSED + 1);
        assert_eq!(
            p.feed(line.as_bytes()),
            vec![O::Oversized, t(S::Busy, S::Unknown)]
        );
        let mut p = busy();
        let body = vec![b'y'; MAX_UNPARSED];
        let mut wire = format!("RESULT {MAX_UNPARSED}\n").into_bytes();
        wire.extend_from_slice(&body);
        assert_eq!(
            p.feed(&wire),
            vec![O::Result(Verdict::Rejected), t(S::Busy, S::Acknowledged)]
        );
    }

    #[test]
    fn handler_sees_the_body_and_an_error_goes_unknown() {
        let mut p = busy();
        let mut seen = Vec::new();
        let out = p.feed_judged(b"RESULT 3\nabcREADY\n", &mut |b| {
            seen.push(b.to_vec());
            Verdict::Error
        });
        assert_eq!(seen, vec![b"abc".to_vec()]);
        // The READY that followed is discarded like any byte in UNKNOWN.
        assert_eq!(out, vec![O::Result(Verdict::Error), t(S::Busy, S::Unknown)]);
        assert_eq!(p.state(), S::Unknown);
    }

    #[test]
    fn protocol_errors() {
        let mut p = ListenerParser::new();
        assert_eq!(
            p.feed(b"hello world\n"),
            vec![
                O::ProtocolError(b"hello world\n".to_vec()),
                t(S::Acknowledged, S::Unknown)
            ]
        );
        assert!(p.feed(b"READY\n").is_empty());
        let mut p = ListenerParser::new();
        assert_eq!(
            p.feed(b"READY\nx"),
            vec![
                t(S::Acknowledged, S::Ready),
                O::ProtocolError(b"x".to_vec()),
                t(S::Ready, S::Unknown)
            ]
        );
        assert!(!p.event_sent());
    }

    #[test]
    fn listener_side_tokens() {
        assert_eq!(ready(), b"READY\n");
        assert_eq!(result_ok(), b"RESULT 2\nOK");
        assert_eq!(result_fail(), b"RESULT 4\nFAIL");
        assert_eq!(result(b"OK"), RESULT_OK);
        assert_eq!(result(b"FAIL"), RESULT_FAIL);
        assert_eq!(result(b""), b"RESULT 0\n");
    }

    #[test]
    fn reader_counts_characters() {
        // Captured from Python supervisord: len:23 for 24 UTF-8 bytes, then the next event.
        let wire = "ver:3.0 server:labsup serial:10 pool:dump poolserial:10 \
                    eventname:REMOTE_COMMUNICATION len:23\ntype:mytype\nsome data é\
                    ver:3.0 server:labsup serial:11 pool:dump poolserial:11 \
                    eventname:TICK_5 len:15\nwhen:1795642540";
        let mut r = NotificationReader::new();
        // Byte by byte, to exercise every partial state.
        let mut got = Vec::new();
        for b in wire.as_bytes() {
            r.feed(&[*b]);
            while let Some(n) = r.next_notification().ok().flatten() {
                got.push(n);
            }
        }
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].header.serial, 10);
        assert_eq!(got[0].header.poolserial, 10);
        assert_eq!(got[0].header.eventname, "REMOTE_COMMUNICATION");
        assert_eq!(got[0].header.server, "labsup");
        assert_eq!(got[0].header.ver, "3.0");
        assert_eq!(got[0].payload, "type:mytype\nsome data é");
        let (tokens, data) = split_payload(&got[0].payload);
        assert_eq!(tokens, vec![("type".to_string(), "mytype".to_string())]);
        assert_eq!(data, "some data é");
        assert_eq!(got[1].header.eventname, "TICK_5");
        assert_eq!(got[1].payload, "when:1795642540");
    }

    #[test]
    fn reader_rejects_bad_header_and_reads_empty_payload() {
        let mut r = NotificationReader::new();
        r.feed(b"garbage\nver:3.0 server:s serial:2 pool:p poolserial:1 eventname:X len:0\n");
        assert!(matches!(
            r.next_notification(),
            Err(HeaderError::Malformed(_))
        ));
        let n = r.next_notification().ok().flatten();
        assert_eq!(
            n.map(|n| (n.header.serial, n.payload)),
            Some((2, String::new()))
        );
    }
}
