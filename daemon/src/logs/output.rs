//! Per-channel child output processing: capture mode (upstream-reference §2.4) and ANSI stripping, as pure
//! logic (bytes in, items out) so the I/O layer only routes the items.
//!
//! Why pure: the capture-mode state machine has several observable upstream quirks (held-back
//! tail, partial tokens, the capture buffer bound) that are far easier to pin down in unit tests
//! than through pipes. The I/O layer feeds each `read()` chunk and acts on the items:
//!
//! * [`OutputItem::Log`]: write to the channel's log file, mirror at DEBG
//!   ([`output_debug_message`]), and emit PROCESS_LOG_<CHANNEL> if `*_events_enabled`.
//! * [`OutputItem::Captured`]: bytes inside a `BEGIN`..`END` capture. They are **not** written
//!   to the log file (Supervisor routes them to the capture buffer), but Supervisor 4.3.0 still
//!   mirrors them at DEBG and emits PROCESS_LOG for them (upstream-reference §2.2 **[quirk, observed]**). The
//!   separate variant lets the event layer copy that quirk (or not) without re-parsing.
//! * [`OutputItem::Communication`]: one completed capture, the PROCESS_COMMUNICATION_<CHANNEL>
//!   payload data; also log DEBG [`comm_event_debug_message`].
//!
//! Supervisor splits PROCESS_LOG per `_log()` call, not strictly per `read()`: a chunk that
//! contains a token yields one item per side of the token. The items here follow the same
//! boundaries and order as Supervisor's `_log()` calls and `notify()`s.
//!
//! ANSI stripping (`strip_ansi=true`) applies to the data after token splitting (tokens are
//! matched on raw bytes), before logging and before the capture buffer, like upstream.

/// `<!--XSUPERVISOR:BEGIN-->` (24 bytes).
pub const BEGIN_TOKEN: &[u8] = b"<!--XSUPERVISOR:BEGIN-->";
/// `<!--XSUPERVISOR:END-->` (22 bytes).
pub const END_TOKEN: &[u8] = b"<!--XSUPERVISOR:END-->";

/// A child output channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    Stdout,
    Stderr,
}

impl Channel {
    /// `"stdout"` / `"stderr"` (log names, event payloads, AUTO file names).
    pub fn name(self) -> &'static str {
        match self {
            Channel::Stdout => "stdout",
            Channel::Stderr => "stderr",
        }
    }
}

impl std::fmt::Display for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What one chunk of child output turns into. Never contains empty data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputItem {
    /// Bytes for the log file (and the DEBG mirror and PROCESS_LOG events).
    Log(Vec<u8>),
    /// Bytes inside a capture: not for the log file, but Supervisor still emits PROCESS_LOG
    /// and the DEBG mirror for them.
    Captured(Vec<u8>),
    /// One completed capture: PROCESS_COMMUNICATION payload data (tokens excluded).
    Communication(Vec<u8>),
}

impl OutputItem {
    /// Bytes to append to the channel's log file, if any.
    pub fn log_file_data(&self) -> Option<&[u8]> {
        match self {
            OutputItem::Log(d) => Some(d),
            _ => None,
        }
    }

    /// Bytes Supervisor 4.3.0 sends as PROCESS_LOG data and mirrors at DEBG (Log and Captured).
    pub fn process_log_data(&self) -> Option<&[u8]> {
        match self {
            OutputItem::Log(d) | OutputItem::Captured(d) => Some(d),
            OutputItem::Communication(_) => None,
        }
    }
}

/// Capture-mode state machine for one channel of one process (recreate it for each spawn).
#[derive(Debug)]
pub struct OutputProcessor {
    capture_maxbytes: u64,
    stripper: Option<AnsiStripper>,
    /// Output waiting for enough bytes to decide (capture enabled only).
    pending: Vec<u8>,
    capturing: bool,
    /// Capture buffer (stripped bytes), bounded with Supervisor's quirk.
    capture: Vec<u8>,
}

impl OutputProcessor {
    /// `capture_maxbytes == 0` disables capture mode: every chunk passes straight through.
    pub fn new(capture_maxbytes: u64, strip_ansi: bool) -> Self {
        OutputProcessor {
            capture_maxbytes,
            stripper: strip_ansi.then(AnsiStripper::new),
            pending: Vec::new(),
            capturing: false,
            capture: Vec::new(),
        }
    }

    /// True while between a BEGIN and an END token.
    pub fn capturing(&self) -> bool {
        self.capturing
    }

    /// Process one chunk read from the pipe.
    pub fn feed(&mut self, data: &[u8]) -> Vec<OutputItem> {
        let mut items = Vec::new();
        if self.capture_maxbytes == 0 {
            self.emit(data, &mut items);
            return items;
        }
        self.pending.extend_from_slice(data);
        self.record(false, &mut items);
        items
    }

    /// At EOF. Supervisor loses whatever is still held back (a short tail, a partial token);
    /// we deliberately flush it instead (as `Log`, or `Captured` inside an unterminated
    /// capture). An unterminated capture produces no `Communication`. Resets the state.
    pub fn finish(&mut self) -> Vec<OutputItem> {
        let mut items = Vec::new();
        if self.capture_maxbytes > 0 {
            self.record(true, &mut items);
        }
        if let Some(stripper) = self.stripper.as_mut() {
            let rest = stripper.finish();
            self.push(rest, &mut items);
        }
        self.pending.clear();
        self.capturing = false;
        self.capture.clear();
        items
    }

    /// Supervisor's `record_output`, as a loop. `force` (EOF) drops the length guard and the
    /// partial-token hold-back.
    fn record(&mut self, force: bool, items: &mut Vec<OutputItem>) {
        loop {
            let token = if self.capturing {
                END_TOKEN
            } else {
                BEGIN_TOKEN
            };
            // [quirk] only process once the buffer is longer than the token searched for.
            if self.pending.is_empty() || (!force && self.pending.len() <= token.len()) {
                return;
            }
            let data = std::mem::take(&mut self.pending);
            match find(&data, token) {
                None => {
                    let keep = if force {
                        0
                    } else {
                        prefix_at_end(&data, token)
                    };
                    let cut = data.len() - keep;
                    self.pending = data[cut..].to_vec();
                    self.emit(&data[..cut], items);
                    return;
                }
                Some(pos) => {
                    self.emit(&data[..pos], items);
                    self.toggle(items);
                    self.pending = data[pos + token.len()..].to_vec();
                }
            }
        }
    }

    fn toggle(&mut self, items: &mut Vec<OutputItem>) {
        self.capturing = !self.capturing;
        if !self.capturing {
            items.push(OutputItem::Communication(std::mem::take(&mut self.capture)));
        }
    }

    /// Supervisor's `_log`: strip, then route to the log or the capture buffer.
    fn emit(&mut self, data: &[u8], items: &mut Vec<OutputItem>) {
        if data.is_empty() {
            return;
        }
        let data = match self.stripper.as_mut() {
            Some(s) => s.strip(data),
            None => data.to_vec(),
        };
        self.push(data, items);
    }

    fn push(&mut self, data: Vec<u8>, items: &mut Vec<OutputItem>) {
        if data.is_empty() {
            return;
        }
        if self.capturing {
            bound_append(&mut self.capture, &data, self.capture_maxbytes);
            items.push(OutputItem::Captured(data));
        } else {
            items.push(OutputItem::Log(data));
        }
    }
}

/// Supervisor's `BoundIO.write` [quirk]: if appending `b` would exceed `maxbytes`, drop the
/// first `len(b)` bytes of the buffer (all of it if shorter), then append `b` (so the buffer
/// can exceed `maxbytes` when one write is larger than it).
fn bound_append(buf: &mut Vec<u8>, b: &[u8], maxbytes: u64) {
    let total = (buf.len() as u64).saturating_add(b.len() as u64);
    if total > maxbytes {
        let drop = b.len().min(buf.len());
        buf.drain(..drop);
    }
    buf.extend_from_slice(b);
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Supervisor's `find_prefix_at_end`: length of the longest proper prefix of `needle` that
/// `haystack` ends with.
fn prefix_at_end(haystack: &[u8], needle: &[u8]) -> usize {
    let mut l = needle.len().saturating_sub(1);
    while l > 0 && !haystack.ends_with(&needle[..l]) {
        l -= 1;
    }
    l
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AnsiState {
    Text,
    /// Saw ESC.
    Esc,
    /// In `ESC [` ... (CSI), waiting for a final byte 0x40..=0x7E.
    Csi,
    /// In `ESC ]` ... (OSC), waiting for BEL or `ESC \`.
    Osc,
    /// Saw ESC inside an OSC.
    OscEsc,
}

/// Streaming ANSI escape remover.
///
/// Removes CSI sequences (`ESC [` parameters/intermediates 0x20..=0x3F, final byte
/// 0x40..=0x7E) and OSC sequences (`ESC ]` ... BEL or `ESC \`). Other bytes, including a lone
/// ESC not followed by `[` or `]`, are kept. Supervisor 4.3.0's `stripEscapes` only knows
/// `ESC [` and ends it at one of `HfABCDRsuJKhlpm`, so e.g. `ESC[10G` makes it swallow text up to
/// the next such letter; ending at any ECMA-48 final byte avoids that. A CSI interrupted by a
/// byte that cannot belong to it (control byte, non-ASCII) is dropped up to that byte, which is
/// kept; an OSC ends at a newline (kept) so a stray `ESC ]` cannot swallow the whole log.
///
/// State carries across chunks, so a sequence split over two `read()`s is removed entirely
/// (within one [`OutputProcessor`]). The one-shot [`strip_ansi`] drops a sequence left
/// unterminated at the end of its input (as Supervisor does per chunk).
#[derive(Debug, Clone)]
pub struct AnsiStripper {
    state: AnsiState,
}

impl Default for AnsiStripper {
    fn default() -> Self {
        Self::new()
    }
}

impl AnsiStripper {
    pub fn new() -> Self {
        AnsiStripper {
            state: AnsiState::Text,
        }
    }

    /// Strip one chunk; an incomplete trailing sequence is remembered for the next chunk.
    pub fn strip(&mut self, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(data.len());
        for &b in data {
            self.step(b, &mut out);
        }
        out
    }

    /// End of stream: returns a pending lone ESC (it is content); drops an unfinished sequence.
    pub fn finish(&mut self) -> Vec<u8> {
        let out = if self.state == AnsiState::Esc {
            vec![0x1b]
        } else {
            Vec::new()
        };
        self.state = AnsiState::Text;
        out
    }

    fn text(&mut self, b: u8, out: &mut Vec<u8>) {
        if b == 0x1b {
            self.state = AnsiState::Esc;
        } else {
            self.state = AnsiState::Text;
            out.push(b);
        }
    }

    fn step(&mut self, b: u8, out: &mut Vec<u8>) {
        match self.state {
            AnsiState::Text => self.text(b, out),
            AnsiState::Esc => match b {
                b'[' => self.state = AnsiState::Csi,
                b']' => self.state = AnsiState::Osc,
                0x1b => out.push(0x1b),
                _ => {
                    out.push(0x1b);
                    out.push(b);
                    self.state = AnsiState::Text;
                }
            },
            AnsiState::Csi => match b {
                0x40..=0x7e => self.state = AnsiState::Text,
                0x20..=0x3f => {}
                _ => self.text(b, out),
            },
            AnsiState::Osc => match b {
                0x07 => self.state = AnsiState::Text,
                0x1b => self.state = AnsiState::OscEsc,
                b'\n' => {
                    out.push(b'\n');
                    self.state = AnsiState::Text;
                }
                _ => {}
            },
            AnsiState::OscEsc => {
                if b == b'\\' {
                    self.state = AnsiState::Text;
                } else {
                    // The OSC ended without ST; this ESC starts something new.
                    self.state = AnsiState::Esc;
                    self.step(b, out);
                }
            }
        }
    }
}

/// Strip ANSI escapes from one self-contained buffer (see [`AnsiStripper`]).
pub fn strip_ansi(data: &[u8]) -> Vec<u8> {
    let mut s = AnsiStripper::new();
    let mut out = s.strip(data);
    out.extend(s.finish());
    out
}

/// Python `repr()` of a str, as used by `%r` in Supervisor's log messages.
pub use supervisor_protocol::pyrepr::repr_str as py_repr_str;

/// Python `repr()` of bytes (`b'...'`).
pub use supervisor_protocol::pyrepr::repr_bytes as py_repr_bytes;

/// The DEBG main-log mirror of child output: `'<name>' stdout output:\n<data>`; undecodable
/// UTF-8 becomes `Undecodable: b'...'` like Supervisor.
pub fn output_debug_message(process_name: &str, channel: Channel, data: &[u8]) -> String {
    let text = match std::str::from_utf8(data) {
        Ok(t) => t.to_string(),
        Err(_) => format!("Undecodable: {}", py_repr_bytes(data)),
    };
    format!(
        "{} {} output:\n{}",
        py_repr_str(process_name),
        channel.name(),
        text
    )
}

/// The DEBG line after a PROCESS_COMMUNICATION: `'<name>' stdout emitted a comm event`.
pub fn comm_event_debug_message(process_name: &str, channel: Channel) -> String {
    format!(
        "{} {} emitted a comm event",
        py_repr_str(process_name),
        channel.name()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(s: &str) -> OutputItem {
        OutputItem::Log(s.as_bytes().to_vec())
    }
    fn cap(s: &str) -> OutputItem {
        OutputItem::Captured(s.as_bytes().to_vec())
    }
    fn comm(s: &str) -> OutputItem {
        OutputItem::Communication(s.as_bytes().to_vec())
    }
    const B: &str = "<!--XSUPERVISOR:BEGIN-->";
    const E: &str = "<!--XSUPERVISOR:END-->";

    #[test]
    fn token_lengths() {
        assert_eq!(BEGIN_TOKEN.len(), 24);
        assert_eq!(END_TOKEN.len(), 22);
    }

    #[test]
    fn no_capture_passes_through_unbuffered() {
        let mut p = OutputProcessor::new(0, false);
        assert_eq!(p.feed(b"a"), vec![log("a")]);
        let chunk = format!("x{B}y{E}z");
        assert_eq!(p.feed(chunk.as_bytes()), vec![log(&chunk)]);
        assert!(p.finish().is_empty());
    }

    #[test]
    fn simple_capture() {
        let mut p = OutputProcessor::new(1000, false);
        let chunk = format!("before\n{B}hello{E}after-after-after-after-after\n");
        assert_eq!(
            p.feed(chunk.as_bytes()),
            vec![
                log("before\n"),
                cap("hello"),
                comm("hello"),
                log("after-after-after-after-after\n")
            ]
        );
    }

    #[test]
    fn short_output_is_held_back_quirk() {
        let mut p = OutputProcessor::new(1000, false);
        // 24 bytes or less outside capture: held.
        assert!(p.feed(b"hi\n").is_empty());
        assert!(p.feed(&[b'x'; 21]).is_empty()); // 24 total: still <= 24
        assert_eq!(p.feed(b"y"), vec![log(&format!("hi\n{}y", "x".repeat(21)))]);
        // After END, short `post\n` stays buffered (Supervisor loses it; we flush at EOF).
        let chunk = format!("{B}msg{E}post\n");
        assert_eq!(p.feed(chunk.as_bytes()), vec![cap("msg"), comm("msg")]);
        assert_eq!(p.finish(), vec![log("post\n")]);
    }

    #[test]
    fn tokens_split_across_chunks() {
        let mut p = OutputProcessor::new(1000, false);
        let all = format!(
            "some text that is long enough {B}captured data here{E}tail text long enough to flush!"
        );
        let mut items = Vec::new();
        for b in all.as_bytes().chunks(5) {
            items.extend(p.feed(b));
        }
        items.extend(p.finish());
        let logged: Vec<u8> = items
            .iter()
            .filter_map(|i| i.log_file_data())
            .flatten()
            .copied()
            .collect();
        assert_eq!(
            logged,
            b"some text that is long enough tail text long enough to flush!"
        );
        let comms: Vec<&OutputItem> = items
            .iter()
            .filter(|i| matches!(i, OutputItem::Communication(_)))
            .collect();
        assert_eq!(comms, vec![&comm("captured data here")]);
        // Every byte between the tokens was also reported as Captured (PROCESS_LOG quirk).
        let captured: Vec<u8> = items
            .iter()
            .filter_map(|i| match i {
                OutputItem::Captured(d) => Some(d.clone()),
                _ => None,
            })
            .flatten()
            .collect();
        assert_eq!(captured, b"captured data here");
    }

    #[test]
    fn partial_token_held_back_then_released() {
        let mut p = OutputProcessor::new(1000, false);
        // Ends with a prefix of BEGIN: that prefix is held back.
        let first = "0123456789012345678901234<!--XSUP";
        assert_eq!(
            p.feed(first.as_bytes()),
            vec![log("0123456789012345678901234")]
        );
        // Turns out not to be a token.
        assert_eq!(
            p.feed(b"PORT is not a token, just text"),
            vec![log("<!--XSUPPORT is not a token, just text")]
        );
    }

    #[test]
    fn nested_begin_is_captured_data() {
        let mut p = OutputProcessor::new(1000, false);
        let chunk = format!("{B}a{B}b{E}c{E}and some more text to flush it");
        let items = p.feed(chunk.as_bytes());
        assert_eq!(
            items,
            vec![
                cap(&format!("a{B}b")),
                comm(&format!("a{B}b")),
                log(&format!("c{E}and some more text to flush it")),
            ]
        );
    }

    #[test]
    fn unterminated_capture_keeps_capturing() {
        let mut p = OutputProcessor::new(1000, false);
        let chunk = format!("{B}never ending story, long enough");
        assert_eq!(
            p.feed(chunk.as_bytes()),
            vec![cap("never ending story, long enough")]
        );
        assert!(p.capturing());
        assert_eq!(
            p.feed(b"more captured bytes, long enough"),
            vec![cap("more captured bytes, long enough")]
        );
        // EOF: held bytes flushed as Captured, no Communication.
        assert!(p.feed(b"end").is_empty());
        assert_eq!(p.finish(), vec![cap("end")]);
        assert!(!p.capturing());
    }

    #[test]
    fn finish_handles_exact_token_in_pending() {
        let mut p = OutputProcessor::new(1000, false);
        let chunk = format!("{B}captured text, long enough");
        assert_eq!(
            p.feed(chunk.as_bytes()),
            vec![cap("captured text, long enough")]
        );
        // Exactly 22 bytes: held back (not longer than the END token).
        assert!(p.feed(END_TOKEN).is_empty());
        assert!(p.capturing());
        // At EOF the held END still completes the capture.
        assert_eq!(p.finish(), vec![comm("captured text, long enough")]);
        assert!(!p.capturing());

        let mut q = OutputProcessor::new(1000, false);
        assert!(q.feed(format!("{B}x").as_bytes()).is_empty()); // BEGIN consumed, "x" held
        assert!(q.capturing());
        assert_eq!(q.feed(END_TOKEN), vec![cap("x"), comm("x")]);
        assert!(!q.capturing());
    }

    #[test]
    fn finish_flushes_partial_token() {
        let mut p = OutputProcessor::new(1000, false);
        assert!(p.feed(b"<!--XSUPERVISOR:BEG").is_empty());
        assert_eq!(p.finish(), vec![log("<!--XSUPERVISOR:BEG")]);
    }

    #[test]
    fn capture_bound_quirk() {
        let mut buf = b"0123456789".to_vec();
        bound_append(&mut buf, b"abc", 10);
        assert_eq!(buf, b"3456789abc");
        bound_append(&mut buf, b"de", 12); // 12 <= 12: no drop
        assert_eq!(buf, b"3456789abcde");
        bound_append(&mut buf, b"f", 12); // drops 1
        assert_eq!(buf, b"456789abcdef");
        let mut small = b"xy".to_vec();
        bound_append(&mut small, b"0123456789", 5); // drops everything, then exceeds
        assert_eq!(small, b"0123456789");

        // Through the processor: maxbytes 40, captured in two pieces of 30 and 25 bytes
        // (each longer than the END token, so processed separately).
        let mut p = OutputProcessor::new(40, false);
        let a = "A".repeat(30);
        let b = "B".repeat(25);
        let mut items = p.feed(format!("{B}{a}").as_bytes());
        items.extend(p.feed(format!("{b}{E}and more trailing text").as_bytes()));
        let comms: Vec<&OutputItem> = items
            .iter()
            .filter(|i| matches!(i, OutputItem::Communication(_)))
            .collect();
        // 30 + 25 > 40: drop the first 25 bytes -> 5 A + 25 B (not "the last 40 bytes").
        let expected = format!("{}{b}", "A".repeat(5));
        assert_eq!(comms, vec![&comm(&expected)]);
    }

    #[test]
    fn strip_ansi_in_processor_applies_to_log_and_capture() {
        let mut p = OutputProcessor::new(1000, true);
        let chunk = format!(
            "\x1b[31mred\x1b[0m {B}\x1b[1mbold\x1b[0m{E}plain \x1b[32mgreen\x1b[0m and more"
        );
        assert_eq!(
            p.feed(chunk.as_bytes()),
            vec![
                log("red "),
                cap("bold"),
                comm("bold"),
                log("plain green and more")
            ]
        );
        let mut q = OutputProcessor::new(0, true);
        assert_eq!(q.feed(b"a\x1b[3"), vec![log("a")]);
        assert_eq!(q.feed(b"1mb"), vec![log("b")]);
        assert_eq!(q.feed(b"\x1b"), vec![]);
        assert_eq!(q.finish(), vec![OutputItem::Log(vec![0x1b])]);
    }

    #[test]
    fn strip_ansi_forms() {
        assert_eq!(strip_ansi(b"\x1b[1;31mhi\x1b[0m"), b"hi");
        assert_eq!(strip_ansi(b"\x1b[2J\x1b[Hclear"), b"clear");
        assert_eq!(strip_ansi(b"\x1b[10Ghello"), b"hello");
        assert_eq!(strip_ansi(b"\x1b[?25lcursor\x1b[?25h"), b"cursor");
        assert_eq!(strip_ansi(b"\x1b[38;5;196mx"), b"x");
        assert_eq!(strip_ansi(b"\x1b]0;title\x07text"), b"text");
        assert_eq!(
            strip_ansi(b"\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\"),
            b"link"
        );
        assert_eq!(strip_ansi(b"\x1b]0;unterminated\nnext"), b"\nnext");
        assert_eq!(strip_ansi(b"lone \x1bx esc"), b"lone \x1bx esc");
        assert_eq!(strip_ansi(b"end\x1b"), b"end\x1b");
        assert_eq!(strip_ansi(b"cut\x1b[3"), b"cut");
        assert_eq!(strip_ansi(b"bad\x1b[3\nline"), b"bad\nline");
        assert_eq!(strip_ansi("caf\u{e9}".as_bytes()), "caf\u{e9}".as_bytes());
        assert_eq!(strip_ansi(b""), b"");
    }

    #[test]
    fn item_accessors() {
        assert_eq!(log("a").log_file_data(), Some(&b"a"[..]));
        assert_eq!(cap("a").log_file_data(), None);
        assert_eq!(cap("a").process_log_data(), Some(&b"a"[..]));
        assert_eq!(comm("a").process_log_data(), None);
    }

    #[test]
    fn debug_messages() {
        assert_eq!(
            output_debug_message("cat", Channel::Stdout, b"hi\n"),
            "'cat' stdout output:\nhi\n"
        );
        assert_eq!(
            output_debug_message("cat", Channel::Stderr, b"\xff'x\n"),
            "'cat' stderr output:\nUndecodable: b\"\\xff'x\\n\""
        );
        assert_eq!(
            comm_event_debug_message("cat", Channel::Stdout),
            "'cat' stdout emitted a comm event"
        );
        assert_eq!(py_repr_str("it's"), "\"it's\"");
        assert_eq!(py_repr_bytes(b"a'\"b"), "b'a\\'\"b'");
    }

    /// Reference: process the whole stream at once, no hold-back.
    fn reference(stream: &[u8]) -> (Vec<u8>, Vec<u8>, Vec<Vec<u8>>) {
        let (mut logged, mut captured, mut comms) = (Vec::new(), Vec::new(), Vec::new());
        let mut capturing = false;
        let mut current = Vec::new();
        let mut rest = stream;
        loop {
            let token = if capturing { END_TOKEN } else { BEGIN_TOKEN };
            let (before, after) = match find(rest, token) {
                Some(pos) => (&rest[..pos], Some(&rest[pos + token.len()..])),
                None => (rest, None),
            };
            if capturing {
                captured.extend_from_slice(before);
                current.extend_from_slice(before);
            } else {
                logged.extend_from_slice(before);
            }
            match after {
                Some(a) => {
                    if capturing {
                        comms.push(std::mem::take(&mut current));
                    }
                    capturing = !capturing;
                    rest = a;
                }
                None => break,
            }
        }
        (logged, captured, comms)
    }

    #[test]
    fn chunking_does_not_change_the_result() {
        let pieces: [&[u8]; 8] = [
            b"hello ",
            b"world\n",
            BEGIN_TOKEN,
            END_TOKEN,
            b"<!--XSUP",
            b"<!--XSUPERVISOR:E",
            b"x",
            b"a much longer line of ordinary program output\n",
        ];
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..300 {
            let mut stream = Vec::new();
            for _ in 0..(next() % 30) {
                stream.extend_from_slice(pieces[(next() % pieces.len() as u64) as usize]);
            }
            let (want_log, want_cap, want_comms) = reference(&stream);
            let mut p = OutputProcessor::new(1 << 20, false);
            let mut items = Vec::new();
            let mut rest = &stream[..];
            while !rest.is_empty() {
                let n = ((next() % 40) as usize + 1).min(rest.len());
                items.extend(p.feed(&rest[..n]));
                rest = &rest[n..];
            }
            items.extend(p.finish());
            let (mut log_, mut cap_, mut comms) = (Vec::new(), Vec::new(), Vec::new());
            for item in items {
                match item {
                    OutputItem::Log(d) => {
                        assert!(!d.is_empty());
                        log_.extend(d)
                    }
                    OutputItem::Captured(d) => {
                        assert!(!d.is_empty());
                        cap_.extend(d)
                    }
                    OutputItem::Communication(d) => comms.push(d),
                }
            }
            assert_eq!(
                log_,
                want_log,
                "stream {:?}",
                String::from_utf8_lossy(&stream)
            );
            assert_eq!(cap_, want_cap);
            assert_eq!(comms, want_comms);
        }
    }
}
