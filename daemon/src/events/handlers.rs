//! The result handlers we implement natively, as pure logic: a result body in, a verdict and
//! the bytes to print on supervisord's own stdout/stderr out. Upstream imports a Python
//! callable (`result_handler=module:callable`); a non-Python daemon can only offer the ones
//! real listeners use, and refuses every other value when the config is loaded
//! ([`ResultHandler::from_spec`]).
//!
//! * `supervisor.dispatchers:default_handler`: `OK` accepts, anything else rejects.
//! * `supervisor_stdout:event_handler` (supervisor-stdout 0.1.1, a Python 2 module: Python
//!   supervisord 4.3.0 cannot even import it): the listener echoes each event's payload as its
//!   result body; the handler prints `<processname> <channel> | <data>` (no newline added, like
//!   Python 2's `print x,`) and accepts. A body that is not `<tokens>\n<data>` with both tokens
//!   is a handler error (listener UNKNOWN), as the Python code raises.
//! * `supervisor_stdlog:log_handler` (supervisor-stdlog 0.7.9): the same echo, printed one line
//!   per line of data as `ESC[<c>m<processname padded>| ESC[<l>m<line>ESC[m\n` on stdout (stderr
//!   for the stderr channel), with its colour quirks: the colour cycle advances on *every*
//!   event, so a new process gets the colour at the cycle's current position, and the padding
//!   is the longest process name seen so far plus one. Errors never reject (the Python code
//!   catches everything and prints a traceback; we print one line on stderr).
//!
//! State is daemon-wide, like the Python modules' globals shared by every pool.

use std::collections::HashMap;

use supervisor_protocol::listener::{default_handler, Verdict};

use crate::config::ResultHandler;

/// supervisord's own output streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// Bytes a handler prints on supervisord's stdout or stderr.
pub type Relay = (Stream, Vec<u8>);

/// supervisor_stdlog's colour cycle (`[36, 33, 32, 35, 34] * 2`).
const RAINBOWS: [u8; 5] = [36, 33, 32, 35, 34];

/// Process names whose stdlog colour is remembered (names come from listener output, so the
/// map is bounded; past it a name gets the cycle's current colour every time).
const MAX_REMEMBERED_NAMES: usize = 4096;

/// Daemon-wide state of the native handlers.
#[derive(Debug, Default)]
pub struct Handlers {
    stdlog_colors: HashMap<String, u8>,
    stdlog_cycle: usize,
    stdlog_pad: usize,
}

impl Handlers {
    /// Judge one result body with `handler`; what it prints is appended to `relay`.
    pub fn judge(
        &mut self,
        handler: ResultHandler,
        body: &[u8],
        relay: &mut Vec<Relay>,
    ) -> Verdict {
        match handler {
            ResultHandler::Default => {
                if default_handler(body) {
                    Verdict::Accepted
                } else {
                    Verdict::Rejected
                }
            }
            ResultHandler::SupervisorStdout => match stdout_echo(body) {
                Some(text) => {
                    relay.push((Stream::Stdout, text));
                    Verdict::Accepted
                }
                None => Verdict::Error,
            },
            ResultHandler::SupervisorStdlog => {
                if let Err(why) = self.stdlog(body, relay) {
                    relay.push((
                        Stream::Stderr,
                        format!("supervisor_stdlog: cannot relay a result: {why}\n").into_bytes(),
                    ));
                }
                Verdict::Accepted
            }
        }
    }

    fn stdlog(&mut self, body: &[u8], relay: &mut Vec<Relay>) -> Result<(), &'static str> {
        let text = std::str::from_utf8(body).map_err(|_| "not UTF-8")?;
        let (head, data) = text.split_once('\n').ok_or("no newline after the tokens")?;
        let tokens = tokens(head.as_bytes()).ok_or("malformed token")?;
        let name = token(&tokens, b"processname").ok_or("no processname token")?;
        let name = std::str::from_utf8(name).map_err(|_| "not UTF-8")?;
        self.stdlog_pad = self.stdlog_pad.max(name.chars().count() + 1);
        let next = RAINBOWS[self.stdlog_cycle % RAINBOWS.len()];
        self.stdlog_cycle = (self.stdlog_cycle + 1) % RAINBOWS.len();
        let color = match self.stdlog_colors.get(name) {
            Some(c) => *c,
            None => {
                if self.stdlog_colors.len() < MAX_REMEMBERED_NAMES {
                    self.stdlog_colors.insert(name.to_string(), next);
                }
                next
            }
        };
        let channel = token(&tokens, b"channel").ok_or("no channel token")?;
        // The Python code builds a %-format from the name.
        if name.contains('%') {
            return Err("a '%' in the process name");
        }
        let (stream, line_color) = match channel {
            b"stderr" => (Stream::Stderr, 31),
            b"stdout" => (Stream::Stdout, 37),
            _ => (Stream::Stdout, 34),
        };
        let data = data.strip_suffix('\n').unwrap_or(data);
        let pad = self.stdlog_pad;
        let mut out = String::with_capacity(data.len() + 32);
        for line in data.split('\n') {
            out.push_str(&format!(
                "\x1b[{color}m{name:<pad$}| \x1b[{line_color}m{line}\x1b[m\n"
            ));
        }
        relay.push((stream, out.into_bytes()));
        Ok(())
    }
}

/// supervisor_stdout's `'%s %s | %s' % (processname, channel, data)`, or `None` where the
/// Python code raises.
fn stdout_echo(body: &[u8]) -> Option<Vec<u8>> {
    let nl = body.iter().position(|&b| b == b'\n')?;
    let (head, data) = (&body[..nl], &body[nl + 1..]);
    let tokens = tokens(head)?;
    let name = token(&tokens, b"processname")?;
    let channel = token(&tokens, b"channel")?;
    let mut out = Vec::with_capacity(name.len() + channel.len() + data.len() + 4);
    out.extend_from_slice(name);
    out.push(b' ');
    out.extend_from_slice(channel);
    out.extend_from_slice(b" | ");
    out.extend_from_slice(data);
    Some(out)
}

/// `dict([x.split(':') for x in line.split()])`: every token must hold exactly one `:`.
fn tokens(line: &[u8]) -> Option<Vec<(&[u8], &[u8])>> {
    line.split(|b| b.is_ascii_whitespace())
        .filter(|t| !t.is_empty())
        .map(|t| {
            let mut parts = t.splitn(3, |&b| b == b':');
            let key = parts.next()?;
            let value = parts.next()?;
            parts.next().is_none().then_some((key, value))
        })
        .collect()
}

/// The last value of `key` (a dict keeps the last duplicate).
fn token<'a>(tokens: &[(&'a [u8], &'a [u8])], key: &[u8]) -> Option<&'a [u8]> {
    tokens
        .iter()
        .rev()
        .find(|(k, _)| *k == key)
        .map(|(_, v)| *v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judge(
        h: &mut Handlers,
        which: ResultHandler,
        body: &str,
    ) -> (Verdict, Vec<(Stream, String)>) {
        let mut relay = Vec::new();
        let v = h.judge(which, body.as_bytes(), &mut relay);
        let relay = relay
            .into_iter()
            .map(|(s, b)| (s, String::from_utf8_lossy(&b).into_owned()))
            .collect();
        (v, relay)
    }

    #[test]
    fn default_accepts_only_ok() {
        let mut h = Handlers::default();
        assert_eq!(
            judge(&mut h, ResultHandler::Default, "OK").0,
            Verdict::Accepted
        );
        for body in ["FAIL", "ok", "", "processname:a channel:stdout\nx\n"] {
            assert_eq!(
                judge(&mut h, ResultHandler::Default, body),
                (Verdict::Rejected, vec![])
            );
        }
    }

    #[test]
    fn supervisor_stdout_echoes_the_payload() {
        let mut h = Handlers::default();
        let body = "processname:talk groupname:talk pid:42 channel:stdout\nhello 1\n";
        assert_eq!(
            judge(&mut h, ResultHandler::SupervisorStdout, body),
            (
                Verdict::Accepted,
                vec![(Stream::Stdout, "talk stdout | hello 1\n".to_string())]
            )
        );
        // Where the Python code raises: no newline, a token without ':' or with two, no
        // processname.
        for bad in [
            "processname:a channel:stdout",
            "processname:a junk channel:stdout\nx",
            "processname:a:b channel:stdout\nx",
            "channel:stdout\nx",
        ] {
            assert_eq!(
                judge(&mut h, ResultHandler::SupervisorStdout, bad),
                (Verdict::Error, vec![]),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn supervisor_stdlog_colours_pads_and_splits_lines() {
        let mut h = Handlers::default();
        let ev = |name: &str, chan: &str, data: &str| {
            format!("processname:{name} groupname:{name} pid:1 channel:{chan}\n{data}")
        };
        // Captured from Python supervisord 4.3.0 with supervisor-stdlog 0.7.9.
        assert_eq!(
            judge(
                &mut h,
                ResultHandler::SupervisorStdlog,
                &ev("talk", "stdout", "hello 1\n")
            ),
            (
                Verdict::Accepted,
                vec![(
                    Stream::Stdout,
                    "\x1b[36mtalk | \x1b[37mhello 1\x1b[m\n".to_string()
                )]
            )
        );
        // The cycle advanced on the first event: a new name gets the next colour (32 after two
        // events), the padding grows, the stderr channel goes to stderr in red, several lines
        // give several records.
        judge(
            &mut h,
            ResultHandler::SupervisorStdlog,
            &ev("talk", "stdout", "x\n"),
        );
        assert_eq!(
            judge(
                &mut h,
                ResultHandler::SupervisorStdlog,
                &ev("longer", "stderr", "a\nb\n")
            ),
            (
                Verdict::Accepted,
                vec![(
                    Stream::Stderr,
                    "\x1b[32mlonger | \x1b[31ma\x1b[m\n\x1b[32mlonger | \x1b[31mb\x1b[m\n"
                        .to_string()
                )]
            )
        );
        assert_eq!(
            judge(
                &mut h,
                ResultHandler::SupervisorStdlog,
                &ev("talk", "stdout", "y")
            ),
            (
                Verdict::Accepted,
                vec![(
                    Stream::Stdout,
                    "\x1b[36mtalk   | \x1b[37my\x1b[m\n".to_string()
                )]
            )
        );
        // Errors are reported on stderr and never reject.
        let (v, relay) = judge(&mut h, ResultHandler::SupervisorStdlog, "garbage");
        assert_eq!(v, Verdict::Accepted);
        assert_eq!(relay[0].0, Stream::Stderr);
    }
}
