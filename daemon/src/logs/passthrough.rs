//! `child_output=stdout` (extension, docs/extensions.md "Logs for containers"): every line a
//! child writes is also written to supervisord's own stdout, prefixed with the program name
//! (text) or as one JSON object per line (`log_format=json`).
//!
//! Plain logic here: [`LineSplitter`] turns one channel's chunks into whole lines (a partial
//! line is held until its newline; a line longer than [`MAX_LINE`] is cut and the pieces
//! marked), [`format_line`] renders one line, [`LineQueue`] is the bounded queue between the
//! reader tasks and the writer. The only I/O is [`StdoutSink`]: one thread that writes queued
//! lines to fd 1, so a blocked stdout never stalls the event loop (the queue fills, then lines
//! are dropped and counted).

use std::collections::VecDeque;
use std::io::Write;
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Local, SecondsFormat};

use super::output::Channel;

/// The longest line written whole; a longer one is cut into pieces of this size.
pub const MAX_LINE: usize = 64 * 1024;

/// Bytes the queue to stdout may hold before lines are dropped.
pub const QUEUE_BYTES: usize = 1 << 20;

/// `log_format=`: how child lines (and the main log's stdout mirror) are written to stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// `web | line` (with `child_output_timestamps=true`: `2024-01-02 03:04:05,678 web | line`).
    #[default]
    Text,
    /// `{"time":"...","program":"web","group":"web","stream":"stdout","line":"..."}`.
    Json,
}

impl LogFormat {
    pub fn parse(s: &str) -> Result<LogFormat, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            _ => Err(format!(
                "{} is not a valid log_format (text or json)",
                crate::config::values::py_repr(s)
            )),
        }
    }
}

/// One line of child output, without its newline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub data: Vec<u8>,
    /// Cut because the line was longer than the bound: it goes on in the next [`Line`].
    pub cut: bool,
}

/// Whole lines out of one channel's chunks. Holds at most `max` bytes.
#[derive(Debug)]
pub struct LineSplitter {
    partial: Vec<u8>,
    max: usize,
}

impl LineSplitter {
    pub fn new(max: usize) -> LineSplitter {
        LineSplitter {
            partial: Vec::new(),
            max: max.max(1),
        }
    }

    /// The lines completed by `data` (a trailing partial line is held).
    pub fn feed(&mut self, data: &[u8]) -> Vec<Line> {
        let mut out = Vec::new();
        let mut rest = data;
        while !rest.is_empty() {
            match rest.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    self.push_bounded(&rest[..i], &mut out);
                    out.push(Line {
                        data: std::mem::take(&mut self.partial),
                        cut: false,
                    });
                    rest = &rest[i + 1..];
                }
                None => {
                    self.push_bounded(rest, &mut out);
                    break;
                }
            }
        }
        out
    }

    /// End of the stream: the held partial line, if any.
    pub fn finish(&mut self) -> Option<Line> {
        if self.partial.is_empty() {
            return None;
        }
        Some(Line {
            data: std::mem::take(&mut self.partial),
            cut: false,
        })
    }

    fn push_bounded(&mut self, mut seg: &[u8], out: &mut Vec<Line>) {
        while !seg.is_empty() {
            if self.partial.len() >= self.max {
                out.push(Line {
                    data: std::mem::take(&mut self.partial),
                    cut: true,
                });
            }
            let n = (self.max - self.partial.len()).min(seg.len());
            self.partial.extend_from_slice(&seg[..n]);
            seg = &seg[n..];
        }
    }
}

/// How lines are rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Style {
    pub format: LogFormat,
    /// `child_output_timestamps=true` (text; JSON always carries `time`).
    pub timestamps: bool,
}

/// One rendered output line, newline included.
///
/// Text: `[<time> ]<program> | <line>`; a piece cut from an overlong line uses `+` instead of
/// `|` (the line goes on in the next output line). Bytes are written as the child wrote them.
/// JSON: `{"time","program","group","stream","line"}` plus `"partial":true` on a cut piece;
/// bytes that are not UTF-8 become U+FFFD.
pub fn format_line(
    style: Style,
    time: DateTime<Local>,
    program: &str,
    group: &str,
    stream: Channel,
    line: &Line,
) -> Vec<u8> {
    match style.format {
        LogFormat::Text => {
            let mut out = Vec::with_capacity(line.data.len() + program.len() + 32);
            if style.timestamps {
                let millis = time.timestamp_subsec_millis().min(999);
                out.extend_from_slice(
                    format!("{},{millis:03} ", time.format("%Y-%m-%d %H:%M:%S")).as_bytes(),
                );
            }
            out.extend_from_slice(program.as_bytes());
            out.extend_from_slice(if line.cut { b" + " } else { b" | " });
            out.extend_from_slice(&line.data);
            out.push(b'\n');
            out
        }
        LogFormat::Json => {
            let mut obj = serde_json::Map::new();
            obj.insert(
                "time".into(),
                time.to_rfc3339_opts(SecondsFormat::Millis, false).into(),
            );
            obj.insert("program".into(), program.into());
            obj.insert("group".into(), group.into());
            obj.insert("stream".into(), stream.name().into());
            obj.insert(
                "line".into(),
                String::from_utf8_lossy(&line.data).into_owned().into(),
            );
            if line.cut {
                obj.insert("partial".into(), true.into());
            }
            let mut out = serde_json::Value::Object(obj).to_string().into_bytes();
            out.push(b'\n');
            out
        }
    }
}

/// A main-log line as JSON (`log_format=json`, the stdout mirror):
/// `{"time","level","message"}`.
pub fn format_main_json(time: DateTime<Local>, level: &str, message: &str) -> String {
    let mut obj = serde_json::Map::new();
    obj.insert(
        "time".into(),
        time.to_rfc3339_opts(SecondsFormat::Millis, false).into(),
    );
    obj.insert("level".into(), level.into());
    obj.insert("message".into(), message.into());
    let mut out = serde_json::Value::Object(obj).to_string();
    out.push('\n');
    out
}

/// What [`LineQueue::push`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// Queued; `dropped_before` lines were dropped since the last queued one (0 normally).
    Queued { dropped_before: u64 },
    /// Dropped (the queue is full); `first` for the first drop after a queued line.
    Dropped { first: bool },
}

/// Rendered lines waiting for stdout, bounded in bytes.
#[derive(Debug)]
pub struct LineQueue {
    lines: VecDeque<Vec<u8>>,
    bytes: usize,
    max_bytes: usize,
    dropped: u64,
    dropped_total: u64,
}

impl LineQueue {
    pub fn new(max_bytes: usize) -> LineQueue {
        LineQueue {
            lines: VecDeque::new(),
            bytes: 0,
            max_bytes,
            dropped: 0,
            dropped_total: 0,
        }
    }

    pub fn push(&mut self, line: Vec<u8>) -> Pushed {
        if self.bytes.saturating_add(line.len()) > self.max_bytes {
            self.dropped += 1;
            self.dropped_total += 1;
            return Pushed::Dropped {
                first: self.dropped == 1,
            };
        }
        self.bytes += line.len();
        self.lines.push_back(line);
        Pushed::Queued {
            dropped_before: std::mem::take(&mut self.dropped),
        }
    }

    /// Everything queued, as one buffer (whole lines, in order).
    pub fn take_all(&mut self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.bytes);
        for line in self.lines.drain(..) {
            out.extend_from_slice(&line);
        }
        self.bytes = 0;
        out
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// Lines dropped since start-up.
    pub fn dropped_total(&self) -> u64 {
        self.dropped_total
    }
}

/// The writer side: one thread writes what the reader tasks queue to fd 1. Started on first
/// use (after daemonizing, so the thread survives the fork) and shared by every reload.
pub struct StdoutSink {
    state: Mutex<SinkState>,
    wake: Condvar,
    idle: Condvar,
}

struct SinkState {
    queue: LineQueue,
    writing: bool,
}

static SINK: OnceLock<&'static StdoutSink> = OnceLock::new();

impl StdoutSink {
    /// The process's sink (the writer thread starts with the first call).
    pub fn get() -> &'static StdoutSink {
        SINK.get_or_init(|| {
            let sink: &'static StdoutSink = Box::leak(Box::new(StdoutSink {
                state: Mutex::new(SinkState {
                    queue: LineQueue::new(QUEUE_BYTES),
                    writing: false,
                }),
                wake: Condvar::new(),
                idle: Condvar::new(),
            }));
            let spawned = std::thread::Builder::new()
                .name("child-output".into())
                .spawn(move || sink.run());
            if let Err(e) = spawned {
                eprintln!("child_output: cannot start the stdout writer thread: {e}");
            }
            sink
        })
    }

    /// Queue one rendered line (never blocks on stdout).
    pub fn push(&self, line: Vec<u8>) -> Pushed {
        let mut st = match self.state.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let r = st.queue.push(line);
        if matches!(r, Pushed::Queued { .. }) {
            self.wake.notify_one();
        }
        r
    }

    /// Wait (at most `limit`) until everything queued has been written: at exit.
    pub fn flush(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        let mut st = match self.state.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        while !st.queue.is_empty() || st.writing {
            let now = Instant::now();
            if now >= deadline {
                return;
            }
            st = match self.idle.wait_timeout(st, deadline - now) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
    }

    /// Flush the process's sink if it was ever used.
    pub fn flush_if_started(limit: Duration) {
        if let Some(sink) = SINK.get() {
            sink.flush(limit);
        }
    }

    fn run(&self) {
        loop {
            let batch = {
                let mut st = match self.state.lock() {
                    Ok(g) => g,
                    Err(p) => p.into_inner(),
                };
                st.writing = false;
                self.idle.notify_all();
                while st.queue.is_empty() {
                    st = match self.wake.wait(st) {
                        Ok(g) => g,
                        Err(p) => p.into_inner(),
                    };
                }
                st.writing = true;
                st.queue.take_all()
            };
            // Whole lines under the stdout lock, so the main log's stdout mirror (which takes
            // the same lock) never lands inside one. Errors (EPIPE, a closed stdout) drop the
            // batch, as Supervisor ignores stdout errors.
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(&batch);
            let _ = out.flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn whole(s: &str) -> Line {
        Line {
            data: s.as_bytes().to_vec(),
            cut: false,
        }
    }

    #[test]
    fn splits_lines_and_holds_partials() {
        let mut s = LineSplitter::new(100);
        assert_eq!(s.feed(b"a\nb"), vec![whole("a")]);
        assert_eq!(s.feed(b"c"), vec![]);
        assert_eq!(
            s.feed(b"d\n\ne\n"),
            vec![whole("bcd"), whole(""), whole("e")]
        );
        assert_eq!(s.finish(), None);
        assert_eq!(s.feed(b"tail"), vec![]);
        assert_eq!(s.finish(), Some(whole("tail")));
        assert_eq!(s.finish(), None);
    }

    #[test]
    fn overlong_lines_are_cut_and_marked() {
        let mut s = LineSplitter::new(4);
        // Exactly the bound, then newline: one whole line, no empty piece.
        assert_eq!(s.feed(b"abcd\n"), vec![whole("abcd")]);
        let cut = |d: &str| Line {
            data: d.as_bytes().to_vec(),
            cut: true,
        };
        assert_eq!(
            s.feed(b"abcdefghij\n"),
            vec![cut("abcd"), cut("efgh"), whole("ij")]
        );
        // Cut across chunks.
        assert_eq!(s.feed(b"abc"), vec![]);
        assert_eq!(s.feed(b"de"), vec![cut("abcd")]);
        assert_eq!(s.finish(), Some(whole("e")));
    }

    #[test]
    fn chunking_never_changes_the_lines() {
        let text: Vec<u8> = (0..2000u32)
            .map(|i| {
                if i % 37 == 0 {
                    b'\n'
                } else {
                    b'a' + (i % 26) as u8
                }
            })
            .collect();
        let mut want = LineSplitter::new(16);
        let mut expected = want.feed(&text);
        expected.extend(want.finish());
        for size in [1, 2, 3, 7, 16, 17, 100] {
            let mut s = LineSplitter::new(16);
            let mut got = Vec::new();
            for c in text.chunks(size) {
                got.extend(s.feed(c));
            }
            got.extend(s.finish());
            assert_eq!(got, expected, "chunk size {size}");
            assert!(got.iter().all(|l| l.data.len() <= 16));
        }
    }

    #[test]
    fn text_and_json_formats() {
        let t = Local.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap()
            + chrono::Duration::milliseconds(678);
        let plain = Style::default();
        assert_eq!(
            format_line(plain, t, "web", "web", Channel::Stdout, &whole("hi there")),
            b"web | hi there\n"
        );
        let cut = Line {
            data: b"xx".to_vec(),
            cut: true,
        };
        assert_eq!(
            format_line(plain, t, "web", "web", Channel::Stderr, &cut),
            b"web + xx\n"
        );
        let ts = Style {
            format: LogFormat::Text,
            timestamps: true,
        };
        assert_eq!(
            format_line(ts, t, "w", "g", Channel::Stdout, &whole("x")),
            b"2024-01-02 03:04:05,678 w | x\n"
        );
        let json = Style {
            format: LogFormat::Json,
            timestamps: false,
        };
        let raw = format_line(
            json,
            t,
            "w_0",
            "w",
            Channel::Stderr,
            &Line {
                data: b"say \"hi\"\t\xff".to_vec(),
                cut: false,
            },
        );
        assert_eq!(raw.last(), Some(&b'\n'));
        assert_eq!(raw.iter().filter(|&&b| b == b'\n').count(), 1);
        let v: serde_json::Value = serde_json::from_slice(&raw).unwrap();
        assert_eq!(v["program"], "w_0");
        assert_eq!(v["group"], "w");
        assert_eq!(v["stream"], "stderr");
        assert_eq!(v["line"], "say \"hi\"\t\u{fffd}");
        assert!(v.get("partial").is_none());
        let time = v["time"].as_str().unwrap();
        assert!(time.starts_with("2024-01-02T03:04:05.678"), "{time}");
        let v: serde_json::Value =
            serde_json::from_slice(&format_line(json, t, "w", "w", Channel::Stdout, &cut)).unwrap();
        assert_eq!(v["partial"], true);
        let m: serde_json::Value =
            serde_json::from_str(&format_main_json(t, "INFO", "a\nb")).unwrap();
        assert_eq!(m["level"], "INFO");
        assert_eq!(m["message"], "a\nb");
    }

    #[test]
    fn log_format_values() {
        assert_eq!(LogFormat::parse("JSON"), Ok(LogFormat::Json));
        assert_eq!(LogFormat::parse("text"), Ok(LogFormat::Text));
        assert!(LogFormat::parse("xml").unwrap_err().contains("log_format"));
    }

    #[test]
    fn queue_is_bounded_and_counts_drops() {
        let mut q = LineQueue::new(10);
        assert_eq!(
            q.push(b"12345".to_vec()),
            Pushed::Queued { dropped_before: 0 }
        );
        assert_eq!(
            q.push(b"12345".to_vec()),
            Pushed::Queued { dropped_before: 0 }
        );
        assert_eq!(q.push(b"1".to_vec()), Pushed::Dropped { first: true });
        assert_eq!(q.push(b"1".to_vec()), Pushed::Dropped { first: false });
        assert_eq!(q.take_all(), b"1234512345");
        assert!(q.is_empty());
        assert_eq!(q.push(b"ab".to_vec()), Pushed::Queued { dropped_before: 2 });
        assert_eq!(q.push(b"cd".to_vec()), Pushed::Queued { dropped_before: 0 });
        assert_eq!(q.dropped_total(), 2);
        assert_eq!(q.take_all(), b"abcd");
    }
}
