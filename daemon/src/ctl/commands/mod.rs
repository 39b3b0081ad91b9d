//! The command interpreter: one method per supervisorctl action, printing exactly what
//! Python's `supervisorctl` 4.3.0 prints and setting the same exit status (upstream-reference §5.2-5.5).
//! This file holds the session ([`Controller`]: parsing a line, dispatching it, reporting
//! errors, the liveness check); the commands live by family:
//!
//! * `info`: `status`, `pid`, `avail`, `version`, `open`.
//! * `process`: `start`, `stop`, `restart`, `signal`.
//! * `log`: `tail`, `maintail`, `clear`, `fg`.
//! * `update`: `reread`, `add`, `remove`, `update`.
//! * `daemon`: `shutdown`, `reload`.
//! * `help`: `help`.

mod daemon;
mod help;
mod info;
mod log;
mod process;
mod update;

use std::io::{self, Write};

use supervisor_protocol::xmlrpc::{Fault, GroupResult};

use crate::ctl::client::{py_str_repr, Client, RpcError};
use crate::ctl::term::{self, LineRead};
use crate::ctl::transport::{ServerUrl, Transport, TransportError};
use crate::ctl::Options;

// Fault codes (upstream-reference §4.2).
use supervisor_protocol::xmlrpc::faults::code::{
    ABNORMAL_TERMINATION, ALREADY_ADDED, ALREADY_STARTED, BAD_NAME, BAD_SIGNAL, CANT_REREAD,
    FAILED, NOT_EXECUTABLE, NOT_RUNNING, NO_FILE, SHUTDOWN_STATE, SPAWN_ERROR, STILL_RUNNING,
    SUCCESS, UNKNOWN_METHOD,
};

// Exit statuses (upstream-reference §5.2).
pub const EXIT_SUCCESS: i32 = 0;
pub const EXIT_GENERIC: i32 = 1;
pub const EXIT_INVALID_ARGS: i32 = 2;
pub const EXIT_UNIMPLEMENTED: i32 = 3;
pub const EXIT_STATUS_NOT_RUNNING: i32 = 3;
pub const EXIT_STATUS_UNKNOWN: i32 = 4;
pub const EXIT_INSUFFICIENT_PRIVILEGES: i32 = 4;
pub const EXIT_NOT_INSTALLED: i32 = 5;
pub const EXIT_NOT_RUNNING: i32 = 7;

/// Every action, in `help` order.
pub const COMMANDS: &[&str] = &[
    "add", "avail", "clear", "exit", "fg", "maintail", "open", "pid", "quit", "reload", "remove",
    "reread", "restart", "shutdown", "signal", "start", "status", "stop", "tail", "update",
    "version", "help", "EOF",
];

/// Something a command could not handle; printed as Python's `error: <class ...>` line.
#[derive(Debug)]
pub enum Raise {
    Call(RpcError),
    /// Python's `ValueError` (e.g. an unmapped result code).
    Value(String),
}

impl From<RpcError> for Raise {
    fn from(e: RpcError) -> Self {
        Raise::Call(e)
    }
}

type Cmd = Result<(), Raise>;

pub use supervisor_protocol::names::split_namespec;

/// `cmd.Cmd.parseline`: `(command, argument, stripped line)`.
pub fn parseline(line: &str) -> (Option<String>, String, String) {
    let mut line = line.trim().to_string();
    if line.is_empty() {
        return (None, String::new(), line);
    }
    if let Some(rest) = line.strip_prefix('?') {
        line = format!("help {rest}");
    } else if line.starts_with('!') {
        return (None, String::new(), line);
    }
    let i = line
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '_'))
        .map(|(i, _)| i)
        .unwrap_or(line.len());
    let cmd = line[..i].to_string();
    let arg = line[i..].trim().to_string();
    (Some(cmd), arg, line)
}

/// The state of one supervisorctl session.
pub struct Controller {
    pub options: Options,
    pub exitstatus: i32,
    colour: bool,
}

impl Controller {
    pub fn new(options: Options) -> Controller {
        let colour = options.color.enabled();
        Controller {
            options,
            exitstatus: EXIT_SUCCESS,
            colour,
        }
    }

    pub fn prompt(&self) -> String {
        format!("{}> ", self.options.prompt)
    }

    fn client(&self) -> Result<Client, Raise> {
        // Python's SupervisorTransport raises this when the proxy is made, i.e. per command.
        let url = ServerUrl::parse(&self.options.serverurl).map_err(|_| {
            Raise::Value(format!(
                "Unknown protocol for serverurl {}",
                self.options.serverurl
            ))
        })?;
        Ok(Client::new(Transport {
            url,
            username: self.options.username.clone(),
            password: self.options.password.clone(),
            timeout: None,
        }))
    }

    /// A client for Tab completion (`None` if the server URL is unusable).
    pub fn client_for_completion(&self) -> Option<Client> {
        self.client().ok()
    }

    /// The host Python names in a `ProtocolError` (`127.0.0.1`: its fake proxy URL).
    fn error_host(&self) -> String {
        "127.0.0.1".to_string()
    }

    pub fn output(&self, msg: &str) {
        let mut out = io::stdout().lock();
        let _ = out.write_all(msg.as_bytes());
        let _ = out.write_all(b"\n");
        let _ = out.flush();
    }

    fn set_exit_from_fault(&mut self, code: i32, ignored: Option<i32>) {
        if Some(code) == ignored || code == SUCCESS {
        } else if [SPAWN_ERROR, ABNORMAL_TERMINATION, NOT_RUNNING].contains(&code) {
            self.exitstatus = EXIT_NOT_RUNNING;
        } else {
            self.exitstatus = EXIT_GENERIC;
        }
    }

    /// Prints one line per result (`line` formats it) and sets the exit status from its code;
    /// `ignored` (`ALREADY_STARTED` for start, `NOT_RUNNING` for stop) counts as success.
    fn print_results(
        &mut self,
        results: &[GroupResult],
        line: impl Fn(&GroupResult) -> Result<String, Raise>,
        ignored: Option<i32>,
    ) -> Cmd {
        for r in results {
            let text = line(r)?;
            self.output(&text);
            self.set_exit_from_fault(r.status, ignored);
        }
        Ok(())
    }

    /// Runs one command line; `true` means leave the shell.
    pub fn onecmd(&mut self, line: &str) -> bool {
        let (cmd, arg, line) = parseline(line);
        if line.is_empty() {
            return false;
        }
        let cmd = match cmd {
            Some(c) if !c.is_empty() && COMMANDS.contains(&c.as_str()) => c,
            _ => {
                self.output(&format!("*** Unknown syntax: {line}"));
                self.exitstatus = EXIT_GENERIC;
                return false;
            }
        };
        match self.dispatch(&cmd, &arg) {
            Ok(stop) => return stop,
            Err(Raise::Call(e)) if e.is_401() => {
                self.output("Server requires authentication");
                if self.options.interactive {
                    let user = match term::read_line_prompt("Username:") {
                        LineRead::Line(l) => l,
                        _ => String::new(),
                    };
                    let pass = match term::read_password("Password:") {
                        LineRead::Line(l) => l,
                        _ => String::new(),
                    };
                    self.output("");
                    self.options.username = Some(user);
                    self.options.password = Some(pass);
                    return self.onecmd(&line);
                }
                self.exitstatus = EXIT_GENERIC;
            }
            Err(e) => {
                self.report(e);
                return false;
            }
        }
        // Python runs the command a second time after a non-interactive 401.
        match self.dispatch(&cmd, &arg) {
            Ok(stop) => stop,
            Err(e) => {
                self.report(e);
                false
            }
        }
    }

    fn report(&mut self, e: Raise) {
        let line = match e {
            Raise::Call(c) => c.python_error_line(&self.error_host()),
            Raise::Value(m) => {
                format!("error: <class 'ValueError'>, {m}: file: supervisorctl line: 0")
            }
        };
        self.output(&line);
        self.exitstatus = EXIT_GENERIC;
    }

    fn dispatch(&mut self, cmd: &str, arg: &str) -> Result<bool, Raise> {
        match cmd {
            "add" => self.do_add(arg)?,
            "avail" => self.do_avail(arg)?,
            "clear" => self.do_clear(arg)?,
            "exit" | "quit" | "EOF" => {
                self.output("");
                return Ok(true);
            }
            "fg" => self.do_fg(arg)?,
            "help" => self.do_help(arg),
            "maintail" => self.do_maintail(arg)?,
            "open" => self.do_open(arg)?,
            "pid" => self.do_pid(arg)?,
            "reload" => self.do_reload(arg)?,
            "remove" => self.do_remove(arg)?,
            "reread" => self.do_reread(arg)?,
            "restart" => self.do_restart(arg)?,
            "shutdown" => self.do_shutdown(arg)?,
            "signal" => self.do_signal(arg)?,
            "start" => self.do_start(arg)?,
            "status" => self.do_status(arg)?,
            "stop" => self.do_stop(arg)?,
            "tail" => self.do_tail(arg)?,
            "update" => self.do_update(arg)?,
            "version" => self.do_version(arg)?,
            _ => {
                self.output(&format!("*** Unknown syntax: {cmd} {arg}"));
                self.exitstatus = EXIT_GENERIC;
            }
        }
        Ok(false)
    }

    /// `getVersion` liveness check; `Ok(false)` when it printed why the server is unusable.
    fn upcheck(&mut self) -> Result<bool, Raise> {
        let client = self.client()?;
        match client.get_version() {
            Ok(v) if v == supervisor_protocol::API_VERSION => Ok(true),
            Ok(v) => {
                self.output(&format!(
                    "Sorry, this version of supervisorctl expects to talk to a server with API \
                     version 3.0, but the remote version is {v}."
                ));
                self.exitstatus = EXIT_NOT_INSTALLED;
                Ok(false)
            }
            Err(RpcError::Fault(f)) if f.code == UNKNOWN_METHOD => {
                self.output(
                    "Sorry, supervisord responded but did not recognize the supervisor namespace \
                     commands that supervisorctl uses to control it.  Please check that the \
                     [rpcinterface:supervisor] section is enabled in the configuration file \
                     (see sample.conf).",
                );
                self.exitstatus = EXIT_UNIMPLEMENTED;
                Ok(false)
            }
            Err(RpcError::Transport(TransportError::Refused)) => {
                self.output(&format!("{} refused connection", self.options.serverurl));
                self.exitstatus = EXIT_INSUFFICIENT_PRIVILEGES;
                Ok(false)
            }
            Err(RpcError::Transport(TransportError::NoSuchFile)) => {
                self.output(&format!("{} no such file", self.options.serverurl));
                self.exitstatus = EXIT_NOT_RUNNING;
                Ok(false)
            }
            Err(e) => {
                // Python sets GENERIC for faults and socket errors only; an HTTP error (401)
                // goes up untouched, so a successful interactive retry leaves the status alone.
                if !matches!(
                    e,
                    RpcError::Transport(TransportError::Status { .. })
                        | RpcError::Transport(TransportError::Protocol(_))
                ) {
                    self.exitstatus = EXIT_GENERIC;
                }
                Err(e.into())
            }
        }
    }
}

/// The result struct Python builds from a single-process call's fault.
fn fault_result(group: &str, process: &str, f: &Fault) -> GroupResult {
    GroupResult {
        name: process.to_string(),
        group: group.to_string(),
        status: f.code,
        description: f.string.clone(),
    }
}

/// `str(Fault)`: `<Fault 70: 'NOT_RUNNING: x'>`.
fn fault_str(f: &Fault) -> String {
    format!("<Fault {}: {}>", f.code, py_str_repr(&f.string))
}

/// Python `int()` of a string: optional sign, digits, surrounding whitespace, `_` separators.
fn parse_py_int(s: &str) -> Option<i64> {
    let t = s.trim();
    let (neg, digits) = match t.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
        || !digits.chars().all(|c| c.is_ascii_digit() || c == '_')
    {
        return None;
    }
    let n: i64 = digits.replace('_', "").parse().ok()?;
    Some(if neg { -n } else { n })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctl_parseline_like_cmd() {
        assert_eq!(
            parseline("  start  foo bar "),
            (
                Some("start".into()),
                "foo bar".into(),
                "start  foo bar".into()
            )
        );
        assert_eq!(parseline("?start").0.as_deref(), Some("help"));
        assert_eq!(parseline("!ls").0, None);
        assert_eq!(parseline("tail-f").1, "-f");
        assert_eq!(parseline("").2, "");
    }

    #[test]
    fn ctl_py_int() {
        assert_eq!(parse_py_int("100"), Some(100));
        assert_eq!(parse_py_int(" 1_0 "), Some(10));
        assert_eq!(parse_py_int("x"), None);
        assert_eq!(parse_py_int(""), None);
    }
}
