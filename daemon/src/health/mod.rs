//! The probes of `ready_check=` and `health_check=` (docs/extensions.md, "Readiness and
//! liveness checks"): the I/O at the edge. They only observe and report; what a result means
//! (RUNNING, unhealthy, restart) is decided by the state machine
//! ([`crate::process::state::Process::check_result`]).
//!
//! * [`tcp`]: connect with a timeout.
//! * `exec:` probes are children of supervisord: the runtime spawns them with [`spawn_exec`]
//!   and its reaper collects their exit status (a second waiter would race it).
//! * [`notify`]: the sd_notify socket of one run (READY=1, WATCHDOG=1, STATUS=).
//! * [`LogMatcher`]: the `log:` readiness check, fed with the child's output by the pumps.

use std::ffi::OsString;
use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use regex::bytes::{Regex, RegexBuilder};

pub mod notify;

use crate::config::health_limits::REGEX_SIZE_LIMIT;

/// A TCP connection to `host:port` is accepted within `timeout`.
pub async fn tcp(host: &str, port: u16, timeout: Duration) -> Result<(), String> {
    let connect = tokio::net::TcpStream::connect((host, port));
    match tokio::time::timeout(timeout, connect).await {
        Ok(Ok(_stream)) => Ok(()),
        Ok(Err(e)) => Err(format!("tcp://{host}:{port}: {e}")),
        Err(_) => Err(format!(
            "tcp://{host}:{port}: no answer within {}s",
            timeout.as_secs()
        )),
    }
}

/// The longest status line read from an `http://` check's answer.
const MAX_STATUS_LINE: usize = 8 * 1024;

/// A plain-HTTP `GET path` to `host:port` is answered, within `timeout` (connect and answer
/// together), with a status in `status` (inclusive). Only the status line is read.
pub async fn http(
    host: &str,
    port: u16,
    path: &str,
    status: (u16, u16),
    timeout: Duration,
) -> Result<(), String> {
    let url = format!("http://{host}:{port}{path}");
    let host_header = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let exchange = async {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect((host, port))
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: supervisor-rs-check\r\n\
             Accept: */*\r\nConnection: close\r\n\r\n"
        );
        stream
            .write_all(request.as_bytes())
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        let mut buf = Vec::with_capacity(256);
        let mut chunk = [0u8; 1024];
        while !buf.contains(&b'\n') && buf.len() < MAX_STATUS_LINE {
            let n = stream
                .read(&mut chunk)
                .await
                .map_err(|e| format!("{url}: {e}"))?;
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        parse_status(&buf).ok_or_else(|| format!("{url}: not an HTTP answer"))
    };
    let code = match tokio::time::timeout(timeout, exchange).await {
        Ok(r) => r?,
        Err(_) => return Err(format!("{url}: no answer within {}s", timeout.as_secs())),
    };
    if (status.0..=status.1).contains(&code) {
        Ok(())
    } else {
        Err(format!("{url}: status {code}"))
    }
}

/// The status code of `HTTP/1.x NNN ...`.
fn parse_status(answer: &[u8]) -> Option<u16> {
    let line = answer.split(|b| *b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut words = line.split_whitespace();
    if !words.next()?.starts_with("HTTP/") {
        return None;
    }
    words.next()?.parse().ok()
}

/// Start `/bin/sh -c command` in its own process group, with `env` as its whole environment,
/// stdin/stdout/stderr on /dev/null. Returns its pid; the caller reaps it.
pub fn spawn_exec(command: &str, env: &[(OsString, OsString)]) -> io::Result<i32> {
    let child = Command::new("/bin/sh")
        .arg("-c")
        .arg(command)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()?;
    i32::try_from(child.id()).map_err(|_| io::Error::other("pid out of range"))
}

/// The longest line kept for `log:` matching; the rest of a longer line is not looked at.
pub const MAX_LINE: usize = 64 * 1024;

/// The `log:REGEX` readiness check over one run's output: lines of stdout and stderr are
/// matched as they complete (a partial last line is matched at EOF by nobody: a process that
/// is ready prints a whole line).
#[derive(Debug)]
pub struct LogMatcher {
    regex: Regex,
    /// The current unfinished line, one per channel (stdout, stderr).
    lines: [Vec<u8>; 2],
    matched: bool,
}

impl LogMatcher {
    /// `None` when the expression does not compile (the config loader already refused it).
    pub fn new(pattern: &str) -> Option<LogMatcher> {
        let regex = RegexBuilder::new(pattern)
            .size_limit(REGEX_SIZE_LIMIT)
            .build()
            .ok()?;
        Some(LogMatcher {
            regex,
            lines: [Vec::new(), Vec::new()],
            matched: false,
        })
    }

    pub fn matched(&self) -> bool {
        self.matched
    }

    /// Feed output of `channel` (0 stdout, 1 stderr); true when this data completed the
    /// first matching line. Linear in the data; at most [`MAX_LINE`] bytes kept per channel.
    pub fn feed(&mut self, channel: usize, data: &[u8]) -> bool {
        if self.matched {
            return false;
        }
        let Some(line) = self.lines.get_mut(channel) else {
            return false;
        };
        for part in data.split_inclusive(|b| *b == b'\n') {
            let room = MAX_LINE.saturating_sub(line.len());
            let (body, complete) = match part.strip_suffix(b"\n") {
                Some(body) => (body, true),
                None => (part, false),
            };
            line.extend_from_slice(&body[..body.len().min(room)]);
            if complete {
                let text = line.strip_suffix(b"\r").unwrap_or(line);
                if self.regex.is_match(text) {
                    self.matched = true;
                    line.clear();
                    return true;
                }
                line.clear();
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_matched_once_complete_across_chunks() {
        let mut m = LogMatcher::new("^listening on [0-9]+$").expect("regex");
        assert!(!m.feed(0, b"starting\nlisten"));
        // stderr has its own line buffer: its complete line matches.
        assert!(m.feed(1, b"listening on 80\n"));
        assert!(m.matched());
        let mut m = LogMatcher::new("^listening on [0-9]+$").expect("regex");
        assert!(!m.feed(0, b"starting\nlisten"));
        assert!(m.feed(0, b"ing on 8080\r\nmore\n"));
        assert!(!m.feed(0, b"listening on 1\n"));
    }

    #[test]
    fn long_lines_are_bounded() {
        let mut m = LogMatcher::new("x$").expect("regex");
        let big = vec![b'a'; MAX_LINE * 3];
        assert!(!m.feed(0, &big));
        assert!(m.lines[0].len() <= MAX_LINE);
        assert!(
            !m.feed(0, b"x\n"),
            "the tail of an over-long line is dropped"
        );
        assert!(m.feed(0, b"ax\n"));
    }

    #[test]
    fn status_lines() {
        assert_eq!(parse_status(b"HTTP/1.1 204 No Content\r\n"), Some(204));
        assert_eq!(parse_status(b"HTTP/1.0 503\r\n"), Some(503));
        assert_eq!(parse_status(b"SSH-2.0-OpenSSH\r\n"), None);
        assert_eq!(parse_status(b""), None);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn tcp_probe_connects_or_reports_why() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        assert_eq!(tcp("127.0.0.1", port, Duration::from_secs(1)).await, Ok(()));
        drop(listener);
        let err = tcp("127.0.0.1", port, Duration::from_secs(1)).await;
        assert!(err.is_err_and(|e| e.contains("refused")));
    }
}
