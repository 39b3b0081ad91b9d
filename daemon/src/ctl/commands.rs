//! The command interpreter: one method per supervisorctl action, printing exactly what
//! Python's `supervisorctl` 4.3.0 prints and setting the same exit status (spec 5.2-5.5).

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use supervisor_protocol::xmlrpc::{GroupResult, ProcessInfo};

use super::client::{py_str_repr, CallError, Client};
use super::format::{self, namespec};
use super::shell::{self, LineRead};
use super::transport::{ServerUrl, Transport, TransportError};
use super::Options;

// Fault codes (spec 4.2).
const UNKNOWN_METHOD: i32 = 1;
const SHUTDOWN_STATE: i32 = 6;
const BAD_NAME: i32 = 10;
const BAD_SIGNAL: i32 = 11;
const NO_FILE: i32 = 20;
const NOT_EXECUTABLE: i32 = 21;
const FAILED: i32 = 30;
const ABNORMAL_TERMINATION: i32 = 40;
const SPAWN_ERROR: i32 = 50;
const ALREADY_STARTED: i32 = 60;
const NOT_RUNNING: i32 = 70;
const SUCCESS: i32 = 80;
const ALREADY_ADDED: i32 = 90;
const STILL_RUNNING: i32 = 91;
const CANT_REREAD: i32 = 92;

// Exit statuses (spec 5.2).
pub const EXIT_SUCCESS: i32 = 0;
pub const EXIT_GENERIC: i32 = 1;
pub const EXIT_INVALID_ARGS: i32 = 2;
pub const EXIT_UNIMPLEMENTED: i32 = 3;
pub const EXIT_STATUS_NOT_RUNNING: i32 = 3;
pub const EXIT_STATUS_UNKNOWN: i32 = 4;
pub const EXIT_INSUFFICIENT_PRIVILEGES: i32 = 4;
pub const EXIT_NOT_INSTALLED: i32 = 5;
pub const EXIT_NOT_RUNNING: i32 = 7;

/// RUNNING process state code.
const STATE_RUNNING: i32 = 20;
/// STOPPED, EXITED, FATAL, UNKNOWN.
const STOPPED_STATES: [i32; 4] = [0, 100, 200, 1000];

/// Every action, in `help` order.
pub const COMMANDS: &[&str] = &[
    "add", "avail", "clear", "exit", "fg", "maintail", "open", "pid", "quit", "reload", "remove",
    "reread", "restart", "shutdown", "signal", "start", "status", "stop", "tail", "update",
    "version", "help", "EOF",
];

/// Something a command could not handle; printed as Python's `error: <class ...>` line.
#[derive(Debug)]
pub enum Raise {
    Call(CallError),
    /// Python's `ValueError` (e.g. an unmapped result code).
    Value(String),
}

impl From<CallError> for Raise {
    fn from(e: CallError) -> Self {
        Raise::Call(e)
    }
}

type Cmd = Result<(), Raise>;

/// Set by SIGINT (installed without `SA_RESTART`, so blocking reads return `EINTR`).
pub static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigint(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Turns Ctrl-C into a flag that reads and streams check (Python's `KeyboardInterrupt`).
pub fn install_sigint_handler() {
    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
    let action = SigAction::new(
        SigHandler::Handler(on_sigint),
        SaFlags::empty(),
        SigSet::empty(),
    );
    // SAFETY: the handler only stores to an atomic.
    unsafe {
        let _ = sigaction(Signal::SIGINT, &action);
    }
}

/// `split_namespec`: `g:` / `g:*` → whole group (`None`), `g:p` → (g, p), `p` → (p, p).
pub fn split_namespec(name: &str) -> (String, Option<String>) {
    match name.split_once(':') {
        Some((g, p)) if p.is_empty() || p == "*" => (g.to_string(), None),
        Some((g, p)) => (g.to_string(), Some(p.to_string())),
        None => (name.to_string(), Some(name.to_string())),
    }
}

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
                    let user = match shell::read_line_prompt("Username:") {
                        LineRead::Line(l) => l,
                        _ => String::new(),
                    };
                    let pass = match shell::read_password("Password:") {
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
            Ok(v) if v == "3.0" => Ok(true),
            Ok(v) => {
                self.output(&format!(
                    "Sorry, this version of supervisorctl expects to talk to a server with API \
                     version 3.0, but the remote version is {v}."
                ));
                self.exitstatus = EXIT_NOT_INSTALLED;
                Ok(false)
            }
            Err(CallError::Fault(f)) if f.code == UNKNOWN_METHOD => {
                self.output(
                    "Sorry, supervisord responded but did not recognize the supervisor namespace \
                     commands that supervisorctl uses to control it.  Please check that the \
                     [rpcinterface:supervisor] section is enabled in the configuration file \
                     (see sample.conf).",
                );
                self.exitstatus = EXIT_UNIMPLEMENTED;
                Ok(false)
            }
            Err(CallError::Transport(TransportError::Refused)) => {
                self.output(&format!("{} refused connection", self.options.serverurl));
                self.exitstatus = EXIT_INSUFFICIENT_PRIVILEGES;
                Ok(false)
            }
            Err(CallError::Transport(TransportError::NoSuchFile)) => {
                self.output(&format!("{} no such file", self.options.serverurl));
                self.exitstatus = EXIT_NOT_RUNNING;
                Ok(false)
            }
            Err(e) => {
                // Python sets GENERIC for faults and socket errors only; an HTTP error (401)
                // goes up untouched, so a successful interactive retry leaves the status alone.
                if !matches!(
                    e,
                    CallError::Transport(TransportError::Status { .. })
                        | CallError::Transport(TransportError::Protocol(_))
                ) {
                    self.exitstatus = EXIT_GENERIC;
                }
                Err(e.into())
            }
        }
    }

    // ---------------------------------------------------------------------------- help

    fn do_help(&mut self, arg: &str) {
        if arg.trim() == "help" {
            self.output("help\t\tPrint a list of available actions");
            self.output("help <action>\tPrint help for <action>");
            return;
        }
        if arg.is_empty() {
            self.output(format::HELP_TABLE);
            return;
        }
        if !self.help_for(arg) {
            self.output(&format!("*** No help on {arg}"));
        }
    }

    /// Prints the help of one command; false if there is none.
    pub fn help_for(&self, cmd: &str) -> bool {
        let text: &[&str] = match cmd {
            "add" => &["add <name> [...]\tActivates any updates in config for process/group"],
            "avail" => &["avail\t\t\tDisplay all configured processes"],
            "clear" => &[
                "clear <name>\t\tClear a process' log files.",
                "clear <name> <name>\tClear multiple process' log files",
                "clear all\t\tClear all process' log files",
            ],
            "exit" => &["exit\tExit the supervisor shell."],
            "quit" => &["quit\tExit the supervisor shell."],
            "fg" => &[
                "fg <process>\tConnect to a process in foreground mode",
                "\t\tCtrl-C to exit",
            ],
            "maintail" => &["maintail -f \tContinuous tail of supervisor main log file (Ctrl-C to exit)\n\
                maintail -100\tlast 100 *bytes* of supervisord main log file\n\
                maintail\tlast 1600 *bytes* of supervisor main log file\n"],
            "open" => &[
                "open <url>\tConnect to a remote supervisord process.",
                "\t\t(for UNIX domain socket, use unix:///socket/path)",
            ],
            "pid" => &[
                "pid\t\t\tGet the PID of supervisord.",
                "pid <name>\t\tGet the PID of a single child process by name.",
                "pid all\t\t\tGet the PID of every child process, one per line.",
            ],
            "reload" => &["reload \t\tRestart the remote supervisord."],
            "remove" => &["remove <name> [...]\tRemoves process/group from active config"],
            "reread" => {
                &["reread \t\t\tReload the daemon's configuration files without add/remove"]
            }
            "restart" => &[
                "restart <name>\t\tRestart a process",
                "restart <gname>:*\tRestart all processes in a group",
                "restart <name> <name>\tRestart multiple processes or groups",
                "restart all\t\tRestart all processes",
                "Note: restart does not reread config files. For that, see reread and update.",
            ],
            "shutdown" => &["shutdown \tShut the remote supervisord down."],
            "signal" => &[
                "signal <signal name> <name>\t\tSignal a process",
                "signal <signal name> <gname>:*\t\tSignal all processes in a group",
                "signal <signal name> <name> <name>\tSignal multiple processes or groups",
                "signal <signal name> all\t\tSignal all processes",
            ],
            "start" => &[
                "start <name>\t\tStart a process",
                "start <gname>:*\t\tStart all processes in a group",
                "start <name> <name>\tStart multiple processes or groups",
                "start all\t\tStart all processes",
            ],
            "status" => &[
                "status <name>\t\tGet status for a single process",
                "status <gname>:*\tGet status for all processes in a group",
                "status <name> <name>\tGet status for multiple named processes",
                "status\t\t\tGet all process status info",
            ],
            "stop" => &[
                "stop <name>\t\tStop a process",
                "stop <gname>:*\t\tStop all processes in a group",
                "stop <name> <name>\tStop multiple processes or groups",
                "stop all\t\tStop all processes",
            ],
            "tail" => &["tail [-f] <name> [stdout|stderr] (default stdout)\nEx:\n\
                tail -f <name>\t\tContinuous tail of named process stdout\n\
                \t\t\tCtrl-C to exit.\n\
                tail -100 <name>\tlast 100 *bytes* of process stdout\n\
                tail <name> stderr\tlast 1600 *bytes* of process stderr"],
            "update" => &[
                "update\t\t\tReload config and add/remove as necessary, and will restart affected programs",
                "update all\t\tReload config and add/remove as necessary, and will restart affected programs",
                "update <gname> [...]\tUpdate specific groups",
            ],
            "version" => &["version\t\t\tShow the version of the remote supervisord process"],
            _ => return false,
        };
        for line in text {
            self.output(line);
        }
        true
    }

    // ---------------------------------------------------------------------------- status

    fn do_status(&mut self, arg: &str) -> Cmd {
        if !self.upcheck()? {
            self.exitstatus = EXIT_STATUS_UNKNOWN;
            return Ok(());
        }
        let all = self.client()?.get_all_process_info()?;
        let (mut json, mut resources) = (false, false);
        let names: Vec<&str> = arg
            .split_whitespace()
            .filter(|n| match *n {
                "--json" => {
                    json = true;
                    false
                }
                // supervisor-rs: MEM and CPU columns (from supervisor_rs.getAllProcessResources).
                "--resources" => {
                    resources = true;
                    false
                }
                _ => true,
            })
            .collect();
        let matching: Vec<ProcessInfo> = if names.is_empty() || names.contains(&"all") {
            all
        } else {
            let mut matching = Vec::new();
            for name in names {
                let (group, process) = split_namespec(name);
                let mut bad = true;
                for info in &all {
                    let matched =
                        info.group == group && process.as_ref().is_none_or(|p| *p == info.name);
                    if matched {
                        bad = false;
                        matching.push(info.clone());
                    }
                }
                if bad {
                    if process.is_none() {
                        self.output(&format!("{group}: ERROR (no such group)"));
                    } else {
                        self.output(&format!("{name}: ERROR (no such process)"));
                    }
                    self.exitstatus = EXIT_STATUS_UNKNOWN;
                }
            }
            matching
        };
        if json {
            self.output(&format::status_json(&matching));
        } else if resources {
            let usage = super::fleet::resources(&self.client()?);
            for line in super::fleet::resource_lines(&matching, usage.as_ref()) {
                self.output(&line);
            }
        } else {
            for line in format::status_lines(&matching, self.colour) {
                self.output(&line);
            }
        }
        if matching.iter().any(|i| STOPPED_STATES.contains(&i.state)) {
            self.exitstatus = EXIT_STATUS_NOT_RUNNING;
        }
        Ok(())
    }

    // ---------------------------------------------------------------------------- pid

    fn do_pid(&mut self, arg: &str) -> Cmd {
        if !self.upcheck()? {
            return Ok(());
        }
        let client = self.client()?;
        let names: Vec<&str> = arg.split_whitespace().collect();
        if names.is_empty() {
            self.output(&client.get_pid()?.to_string());
        } else if names.contains(&"all") {
            for info in client.get_all_process_info()? {
                self.output(&info.pid.to_string());
            }
        } else {
            for name in names {
                match client.get_process_info(name) {
                    Ok(info) => {
                        self.output(&info.pid.to_string());
                        if info.pid == 0 {
                            self.exitstatus = EXIT_NOT_RUNNING;
                        }
                    }
                    Err(CallError::Fault(f)) => {
                        self.exitstatus = EXIT_GENERIC;
                        if f.code == BAD_NAME {
                            self.output(&format!("No such process {name}"));
                        } else {
                            return Err(CallError::Fault(f).into());
                        }
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(())
    }

    // ---------------------------------------------------------------------------- start / stop / signal

    fn start_result(&self, r: &GroupResult) -> Result<String, Raise> {
        let name = namespec(&r.group, &r.name);
        let text = match r.status {
            BAD_NAME => "no such process",
            NO_FILE => "no such file",
            NOT_EXECUTABLE => "file is not executable",
            ALREADY_STARTED => "already started",
            SPAWN_ERROR => "spawn error",
            ABNORMAL_TERMINATION => "abnormal termination",
            SUCCESS => return Ok(format!("{name}: started")),
            code => {
                return Err(Raise::Value(format!(
                    "Unknown result code {code} for {name}"
                )))
            }
        };
        Ok(format!("{name}: ERROR ({text})"))
    }

    fn signal_result(&self, r: &GroupResult, success: &str) -> Result<String, Raise> {
        let name = namespec(&r.group, &r.name);
        let text = match r.status {
            BAD_NAME => "no such process",
            BAD_SIGNAL => "bad signal name",
            NOT_RUNNING => "not running",
            SUCCESS => return Ok(format!("{name}: {success}")),
            FAILED => return Ok(r.description.clone()),
            code => {
                return Err(Raise::Value(format!(
                    "Unknown result code {code} for {name}"
                )))
            }
        };
        Ok(format!("{name}: ERROR ({text})"))
    }

    fn fault_result(
        group: &str,
        process: &str,
        f: &supervisor_protocol::xmlrpc::Fault,
    ) -> GroupResult {
        GroupResult {
            name: process.to_string(),
            group: group.to_string(),
            status: f.code,
            description: f.string.clone(),
        }
    }

    fn do_start(&mut self, arg: &str) -> Cmd {
        if !self.upcheck()? {
            return Ok(());
        }
        let names: Vec<&str> = arg.split_whitespace().collect();
        let client = self.client()?;
        if names.is_empty() {
            self.output("Error: start requires a process name");
            self.exitstatus = EXIT_INVALID_ARGS;
            self.help_for("start");
            return Ok(());
        }
        if names.contains(&"all") {
            for r in client.start_all_processes()? {
                let line = self.start_result(&r)?;
                self.output(&line);
                self.set_exit_from_fault(r.status, Some(ALREADY_STARTED));
            }
            return Ok(());
        }
        for name in names {
            let (group, process) = split_namespec(name);
            match process {
                None => match client.start_process_group(&group) {
                    Ok(results) => {
                        for r in results {
                            let line = self.start_result(&r)?;
                            self.output(&line);
                            self.set_exit_from_fault(r.status, Some(ALREADY_STARTED));
                        }
                    }
                    Err(CallError::Fault(f)) if f.code == BAD_NAME => {
                        self.output(&format!("{group}: ERROR (no such group)"));
                        self.exitstatus = EXIT_INVALID_ARGS;
                    }
                    Err(e) => {
                        self.exitstatus = EXIT_GENERIC;
                        return Err(e.into());
                    }
                },
                Some(process) => match client.start_process(name) {
                    Ok(_) => self.output(&format!("{}: started", namespec(&group, &process))),
                    Err(CallError::Fault(f)) => {
                        let r = Self::fault_result(&group, &process, &f);
                        let line = self.start_result(&r)?;
                        self.output(&line);
                        self.set_exit_from_fault(r.status, Some(ALREADY_STARTED));
                    }
                    Err(e) => return Err(e.into()),
                },
            }
        }
        Ok(())
    }

    fn do_stop(&mut self, arg: &str) -> Cmd {
        if !self.upcheck()? {
            return Ok(());
        }
        let names: Vec<&str> = arg.split_whitespace().collect();
        let client = self.client()?;
        if names.is_empty() {
            self.output("Error: stop requires a process name");
            self.exitstatus = EXIT_GENERIC;
            self.help_for("stop");
            return Ok(());
        }
        if names.contains(&"all") {
            for r in client.stop_all_processes()? {
                let line = self.signal_result(&r, "stopped")?;
                self.output(&line);
                self.set_exit_from_fault(r.status, Some(NOT_RUNNING));
            }
            return Ok(());
        }
        for name in names {
            let (group, process) = split_namespec(name);
            match process {
                None => match client.stop_process_group(&group) {
                    Ok(results) => {
                        for r in results {
                            let line = self.signal_result(&r, "stopped")?;
                            self.output(&line);
                            self.set_exit_from_fault(r.status, Some(NOT_RUNNING));
                        }
                    }
                    Err(e) => {
                        self.exitstatus = EXIT_GENERIC;
                        match e {
                            CallError::Fault(f) if f.code == BAD_NAME => {
                                self.output(&format!("{group}: ERROR (no such group)"));
                            }
                            e => return Err(e.into()),
                        }
                    }
                },
                Some(process) => match client.stop_process(name) {
                    Ok(_) => self.output(&format!("{}: stopped", namespec(&group, &process))),
                    Err(CallError::Fault(f)) => {
                        let r = Self::fault_result(&group, &process, &f);
                        let line = self.signal_result(&r, "stopped")?;
                        self.output(&line);
                        self.set_exit_from_fault(r.status, Some(NOT_RUNNING));
                    }
                    Err(e) => return Err(e.into()),
                },
            }
        }
        Ok(())
    }

    fn do_signal(&mut self, arg: &str) -> Cmd {
        if !self.upcheck()? {
            return Ok(());
        }
        let args: Vec<&str> = arg.split_whitespace().collect();
        if args.len() < 2 {
            self.output("Error: signal requires a signal name and a process name");
            self.help_for("signal");
            self.exitstatus = EXIT_GENERIC;
            return Ok(());
        }
        let sig = args[0];
        let names = &args[1..];
        let client = self.client()?;
        if names.contains(&"all") {
            for r in client.signal_all_processes(sig)? {
                let line = self.signal_result(&r, "signalled")?;
                self.output(&line);
                self.set_exit_from_fault(r.status, None);
            }
            return Ok(());
        }
        for name in names {
            let (group, process) = split_namespec(name);
            match process {
                None => match client.signal_process_group(&group, sig) {
                    Ok(results) => {
                        for r in results {
                            let line = self.signal_result(&r, "signalled")?;
                            self.output(&line);
                            self.set_exit_from_fault(r.status, None);
                        }
                    }
                    Err(CallError::Fault(f)) if f.code == BAD_NAME => {
                        self.output(&format!("{group}: ERROR (no such group)"));
                        self.exitstatus = EXIT_GENERIC;
                    }
                    Err(e) => return Err(e.into()),
                },
                Some(process) => match client.signal_process(name, sig) {
                    Ok(_) => self.output(&format!("{}: signalled", namespec(&group, &process))),
                    Err(CallError::Fault(f)) => {
                        let r = Self::fault_result(&group, &process, &f);
                        let line = self.signal_result(&r, "signalled")?;
                        self.output(&line);
                        self.set_exit_from_fault(r.status, None);
                    }
                    Err(e) => return Err(e.into()),
                },
            }
        }
        Ok(())
    }

    fn do_restart(&mut self, arg: &str) -> Cmd {
        if !self.upcheck()? {
            return Ok(());
        }
        if arg.split_whitespace().next().is_none() {
            self.output("Error: restart requires a process name");
            self.exitstatus = EXIT_GENERIC;
            self.help_for("restart");
            return Ok(());
        }
        self.do_stop(arg)?;
        self.do_start(arg)
    }

    // ---------------------------------------------------------------------------- clear

    fn clear_result(&self, r: &GroupResult) -> Result<String, Raise> {
        let name = namespec(&r.group, &r.name);
        match r.status {
            BAD_NAME => Ok(format!("{name}: ERROR (no such process)")),
            FAILED => Ok(format!("{name}: ERROR (failed)")),
            SUCCESS => Ok(format!("{name}: cleared")),
            code => Err(Raise::Value(format!(
                "Unknown result code {code} for {name}"
            ))),
        }
    }

    fn do_clear(&mut self, arg: &str) -> Cmd {
        if !self.upcheck()? {
            return Ok(());
        }
        let names: Vec<&str> = arg.split_whitespace().collect();
        if names.is_empty() {
            self.output("Error: clear requires a process name");
            self.exitstatus = EXIT_GENERIC;
            self.help_for("clear");
            return Ok(());
        }
        let client = self.client()?;
        if names.contains(&"all") {
            for r in client.clear_all_process_logs()? {
                let line = self.clear_result(&r)?;
                self.output(&line);
                self.set_exit_from_fault(r.status, None);
            }
            return Ok(());
        }
        for name in names {
            let (group, process) = split_namespec(name);
            // Python formats a missing process name as the string `None`.
            let pname = process.clone().unwrap_or_else(|| "None".to_string());
            match client.clear_process_logs(name) {
                Ok(_) => self.output(&format!("{}: cleared", namespec(&group, &pname))),
                Err(CallError::Fault(f)) => {
                    let r = Self::fault_result(&group, &pname, &f);
                    let line = self.clear_result(&r)?;
                    self.output(&line);
                    self.set_exit_from_fault(r.status, None);
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    // ---------------------------------------------------------------------------- tail / maintail

    fn do_tail(&mut self, arg: &str) -> Cmd {
        if !self.upcheck()? {
            return Ok(());
        }
        let mut args: Vec<&str> = arg.split_whitespace().collect();
        if args.is_empty() {
            self.output("Error: too few arguments");
            self.exitstatus = EXIT_GENERIC;
            self.help_for("tail");
            return Ok(());
        }
        if args.len() > 3 {
            self.output("Error: too many arguments");
            self.exitstatus = EXIT_GENERIC;
            self.help_for("tail");
            return Ok(());
        }
        let modifier = if args[0].starts_with('-') {
            Some(args.remove(0))
        } else {
            None
        };
        let (name, channel) = if args.len() == 1 {
            (args[0].to_string(), "stdout".to_string())
        } else if let (Some(first), Some(last)) = (args.first(), args.last()) {
            let channel = last.to_lowercase();
            if channel != "stderr" && channel != "stdout" {
                self.output(&format!("Error: bad channel {}", py_str_repr(&channel)));
                self.exitstatus = EXIT_GENERIC;
                return Ok(());
            }
            (first.to_string(), channel)
        } else {
            self.output("Error: tail requires process name");
            self.exitstatus = EXIT_GENERIC;
            return Ok(());
        };
        let mut bytes: Option<i64> = Some(1600);
        if let Some(m) = modifier {
            let what = &m[1..];
            if what == "f" {
                bytes = None;
            } else {
                match parse_py_int(what) {
                    Some(n) => bytes = Some(n),
                    None => {
                        self.output(&format!("Error: bad argument {m}"));
                        self.exitstatus = EXIT_GENERIC;
                        return Ok(());
                    }
                }
            }
        }
        let client = self.client()?;
        let Some(bytes) = bytes else {
            self.tailf(&format!("/logtail/{name}/{channel}"));
            return Ok(());
        };
        let offset = i32::try_from(-bytes).unwrap_or(if bytes > 0 { i32::MIN } else { i32::MAX });
        match client.read_process_log(&name, channel == "stderr", offset) {
            Ok(out) => self.output(&out),
            Err(CallError::Fault(f)) => {
                self.exitstatus = EXIT_GENERIC;
                let text = match f.code {
                    NO_FILE => "no log file",
                    FAILED => "unknown error reading log",
                    BAD_NAME => "no such process name",
                    _ => return Err(CallError::Fault(f).into()),
                };
                self.output(&format!("{name}: ERROR ({text})"));
            }
            Err(e) => return Err(e.into()),
        }
        Ok(())
    }

    fn do_maintail(&mut self, arg: &str) -> Cmd {
        if !self.upcheck()? {
            return Ok(());
        }
        let args: Vec<&str> = arg.split_whitespace().collect();
        let bytes: i64 = match args.as_slice() {
            [] => 1600,
            [a] => {
                let Some(what) = a.strip_prefix('-') else {
                    self.output(&format!("Error: bad argument {a}"));
                    self.exitstatus = EXIT_GENERIC;
                    return Ok(());
                };
                if what == "f" {
                    self.tailf("/mainlogtail");
                    return Ok(());
                }
                match parse_py_int(what) {
                    Some(n) => n,
                    None => {
                        self.output(&format!("Error: bad argument {a}"));
                        self.exitstatus = EXIT_GENERIC;
                        return Ok(());
                    }
                }
            }
            _ => {
                self.output("Error: too many arguments");
                self.exitstatus = EXIT_GENERIC;
                self.help_for("maintail");
                return Ok(());
            }
        };
        let client = self.client()?;
        let offset = i32::try_from(-bytes).unwrap_or(if bytes > 0 { i32::MIN } else { i32::MAX });
        match client.read_log(offset) {
            Ok(out) => self.output(&out),
            Err(CallError::Fault(f)) => {
                self.exitstatus = EXIT_GENERIC;
                let text = match f.code {
                    NO_FILE => "no log file",
                    FAILED => "unknown error reading log",
                    _ => return Err(CallError::Fault(f).into()),
                };
                self.output(&format!("supervisord: ERROR ({text})"));
            }
            Err(e) => return Err(e.into()),
        }
        Ok(())
    }

    /// Streams `path` to stdout until the server closes it or Ctrl-C.
    fn tailf(&mut self, path: &str) {
        self.output("==> Press Ctrl-C to exit <==");
        INTERRUPTED.store(false, Ordering::SeqCst);
        install_sigint_handler();
        let Ok(client) = self.client() else { return };
        let stop = || INTERRUPTED.load(Ordering::SeqCst);
        let url = format!("{}{}", self.options.serverurl, path);
        let res = stream_to_stdout(&client.transport, path, &stop);
        if INTERRUPTED.swap(false, Ordering::SeqCst) {
            self.output("");
            return;
        }
        report_stream_error(&url, res);
    }

    // ---------------------------------------------------------------------------- shutdown / reload

    fn confirm(&self, question: &str) -> bool {
        if !self.options.interactive {
            return true;
        }
        match shell::read_line_prompt(question) {
            LineRead::Line(l) => l.to_lowercase().starts_with('y'),
            _ => false,
        }
    }

    fn do_shutdown(&mut self, arg: &str) -> Cmd {
        if !arg.is_empty() {
            self.output("Error: shutdown accepts no arguments");
            self.exitstatus = EXIT_GENERIC;
            self.help_for("shutdown");
            return Ok(());
        }
        if !self.confirm("Really shut the remote supervisord process down y/N? ") {
            return Ok(());
        }
        match self.client()?.shutdown() {
            Ok(_) => self.output("Shut down"),
            Err(CallError::Fault(f)) if f.code == SHUTDOWN_STATE => {
                self.output("ERROR: already shutting down")
            }
            Err(CallError::Fault(f)) => {
                self.exitstatus = EXIT_GENERIC;
                return Err(CallError::Fault(f).into());
            }
            Err(CallError::Transport(TransportError::Refused)) => {
                self.exitstatus = EXIT_GENERIC;
                self.output(&format!(
                    "ERROR: {} refused connection (already shut down?)",
                    self.options.serverurl
                ));
            }
            Err(CallError::Transport(TransportError::NoSuchFile)) => {
                self.exitstatus = EXIT_GENERIC;
                self.output(&format!(
                    "ERROR: {} no such file (already shut down?)",
                    self.options.serverurl
                ));
            }
            Err(e) => {
                if !e.is_401() {
                    self.exitstatus = EXIT_GENERIC;
                }
                return Err(e.into());
            }
        }
        Ok(())
    }

    fn do_reload(&mut self, arg: &str) -> Cmd {
        if !arg.is_empty() {
            self.output("Error: reload accepts no arguments");
            self.exitstatus = EXIT_GENERIC;
            self.help_for("reload");
            return Ok(());
        }
        if !self.confirm("Really restart the remote supervisord process y/N? ") {
            return Ok(());
        }
        match self.client()?.restart() {
            Ok(_) => self.output("Restarted supervisord"),
            Err(CallError::Fault(f)) => {
                self.exitstatus = EXIT_GENERIC;
                if f.code == SHUTDOWN_STATE {
                    self.output("ERROR: already shutting down");
                } else {
                    return Err(CallError::Fault(f).into());
                }
            }
            Err(e) => return Err(e.into()),
        }
        Ok(())
    }

    // ---------------------------------------------------------------------------- config

    fn do_avail(&mut self, arg: &str) -> Cmd {
        if !arg.is_empty() {
            self.output("Error: avail accepts no arguments");
            self.exitstatus = EXIT_GENERIC;
            self.help_for("avail");
            return Ok(());
        }
        match self.client()?.get_all_config_info() {
            Ok(infos) => {
                for c in infos {
                    self.output(&format::avail_line(&c));
                }
            }
            Err(e) => {
                self.exitstatus = EXIT_GENERIC;
                match e {
                    CallError::Fault(f) if f.code == SHUTDOWN_STATE => {
                        self.output("ERROR: supervisor shutting down")
                    }
                    e => return Err(e.into()),
                }
            }
        }
        Ok(())
    }

    fn do_reread(&mut self, arg: &str) -> Cmd {
        if !arg.is_empty() {
            self.output("Error: reread accepts no arguments");
            self.exitstatus = EXIT_GENERIC;
            self.help_for("reread");
            return Ok(());
        }
        match self.client()?.reload_config() {
            Ok((added, changed, removed)) => {
                let mut lines: Vec<(String, &str)> = Vec::new();
                for (list, what) in [
                    (added, "available"),
                    (changed, "changed"),
                    (removed, "disappeared"),
                ] {
                    for n in list {
                        // A dict: a later kind replaces an earlier one for the same name.
                        lines.retain(|(m, _)| *m != n);
                        lines.push((n, what));
                    }
                }
                if lines.is_empty() {
                    self.output("No config updates to processes");
                }
                lines.sort();
                for (n, what) in lines {
                    self.output(&format!("{n}: {what}"));
                }
            }
            Err(e) => {
                self.exitstatus = EXIT_GENERIC;
                match e {
                    CallError::Fault(f) if f.code == SHUTDOWN_STATE => {
                        self.output("ERROR: supervisor shutting down")
                    }
                    CallError::Fault(f) if f.code == CANT_REREAD => {
                        self.output(&format!("ERROR: {}", f.string))
                    }
                    e => return Err(e.into()),
                }
            }
        }
        Ok(())
    }

    fn do_add(&mut self, arg: &str) -> Cmd {
        let client = self.client()?;
        for name in arg.split_whitespace() {
            match client.add_process_group(name) {
                Ok(_) => self.output(&format!("{name}: added process group")),
                Err(CallError::Fault(f)) if f.code == SHUTDOWN_STATE => {
                    self.output("ERROR: shutting down");
                    self.exitstatus = EXIT_GENERIC;
                }
                Err(CallError::Fault(f)) if f.code == ALREADY_ADDED => {
                    self.output("ERROR: process group already active");
                }
                Err(CallError::Fault(f)) if f.code == BAD_NAME => {
                    self.output(&format!("ERROR: no such process/group: {name}"));
                    self.exitstatus = EXIT_GENERIC;
                }
                Err(e) => {
                    if !e.is_401() {
                        self.exitstatus = EXIT_GENERIC;
                    }
                    return Err(e.into());
                }
            }
        }
        Ok(())
    }

    fn do_remove(&mut self, arg: &str) -> Cmd {
        let client = self.client()?;
        for name in arg.split_whitespace() {
            match client.remove_process_group(name) {
                Ok(_) => self.output(&format!("{name}: removed process group")),
                Err(e) => {
                    self.exitstatus = EXIT_GENERIC;
                    match e {
                        CallError::Fault(f) if f.code == STILL_RUNNING => {
                            self.output(&format!("ERROR: process/group still running: {name}"))
                        }
                        CallError::Fault(f) if f.code == BAD_NAME => {
                            self.output(&format!("ERROR: no such process/group: {name}"))
                        }
                        e => return Err(e.into()),
                    }
                }
            }
        }
        Ok(())
    }

    fn do_update(&mut self, arg: &str) -> Cmd {
        let client = self.client()?;
        let (added, changed, removed) = match client.reload_config() {
            Ok(r) => r,
            Err(e) => {
                self.exitstatus = EXIT_GENERIC;
                match e {
                    CallError::Fault(f) if f.code == SHUTDOWN_STATE => {
                        self.output("ERROR: already shutting down");
                        return Ok(());
                    }
                    e => return Err(e.into()),
                }
            }
        };
        let mut valid: Vec<&str> = Vec::new();
        for n in arg.split_whitespace() {
            if !valid.contains(&n) {
                valid.push(n);
            }
        }
        if valid.contains(&"all") {
            valid.clear();
        }
        if !valid.is_empty() {
            let mut groups: Vec<String> = client
                .get_all_process_info()?
                .into_iter()
                .map(|i| i.group)
                .collect();
            groups.extend(added.iter().cloned());
            // Python iterates a set here; sorted order is our stable choice.
            let mut unknown: Vec<&str> = valid
                .iter()
                .copied()
                .filter(|g| !groups.iter().any(|x| x == g))
                .collect();
            unknown.sort();
            for g in unknown {
                self.output(&format!("ERROR: no such group: {g}"));
                self.exitstatus = EXIT_GENERIC;
            }
        }
        let wanted = |g: &str| valid.is_empty() || valid.contains(&g);
        for g in removed.iter().filter(|g| wanted(g)) {
            let results = client.stop_process_group(g)?;
            self.output(&format!("{g}: stopped"));
            if results.iter().any(|r| r.status == FAILED) {
                self.output(&format!("{g}: has problems; not removing"));
                self.exitstatus = EXIT_GENERIC;
                continue;
            }
            client.remove_process_group(g)?;
            self.output(&format!("{g}: removed process group"));
        }
        for g in changed.iter().filter(|g| wanted(g)) {
            client.stop_process_group(g)?;
            self.output(&format!("{g}: stopped"));
            client.remove_process_group(g)?;
            client.add_process_group(g)?;
            self.output(&format!("{g}: updated process group"));
        }
        for g in added.iter().filter(|g| wanted(g)) {
            client.add_process_group(g)?;
            self.output(&format!("{g}: added process group"));
        }
        Ok(())
    }

    // ---------------------------------------------------------------------------- misc

    fn do_open(&mut self, arg: &str) -> Cmd {
        let url = arg.trim();
        if !(url.starts_with("unix:") || url.starts_with("http:")) || ServerUrl::parse(url).is_err()
        {
            self.output("ERROR: url must be http:// or unix://");
            self.exitstatus = EXIT_GENERIC;
            return Ok(());
        }
        self.options.serverurl = url.to_string();
        let old = self.exitstatus;
        let res = self.do_status("");
        self.exitstatus = old;
        res
    }

    fn do_version(&mut self, arg: &str) -> Cmd {
        if !arg.is_empty() {
            self.output("Error: version accepts no arguments");
            self.exitstatus = EXIT_GENERIC;
            self.help_for("version");
            return Ok(());
        }
        if !self.upcheck()? {
            return Ok(());
        }
        let v = self.client()?.get_supervisor_version()?;
        self.output(&v);
        Ok(())
    }

    fn do_fg(&mut self, arg: &str) -> Cmd {
        if !self.upcheck()? {
            return Ok(());
        }
        let names: Vec<&str> = arg.split_whitespace().collect();
        let name = match names.as_slice() {
            [] => {
                self.output("ERROR: no process name supplied");
                self.exitstatus = EXIT_GENERIC;
                self.help_for("fg");
                return Ok(());
            }
            [one] => one.to_string(),
            _ => {
                self.output("ERROR: too many process names supplied");
                self.exitstatus = EXIT_GENERIC;
                return Ok(());
            }
        };
        let client = self.client()?;
        let info = match client.get_process_info(&name) {
            Ok(i) => i,
            Err(CallError::Fault(f)) => {
                if f.code == BAD_NAME {
                    self.output("ERROR: bad process name supplied");
                    self.exitstatus = EXIT_GENERIC;
                } else {
                    self.output(&format!("ERROR: {}", fault_str(&f)));
                }
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        };
        if info.state != STATE_RUNNING {
            self.output("ERROR: process not running");
            self.exitstatus = EXIT_GENERIC;
            return Ok(());
        }
        self.output("==> Press Ctrl-C to exit <==");
        INTERRUPTED.store(false, Ordering::SeqCst);
        install_sigint_handler();
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        for channel in ["stdout", "stderr"] {
            let transport = client.transport.clone();
            let stop = stop.clone();
            let path = format!("/logtail/{name}/{channel}");
            let url = format!("{}{}", self.options.serverurl, path);
            threads.push(std::thread::spawn(move || {
                let check = || stop.load(Ordering::SeqCst) || INTERRUPTED.load(Ordering::SeqCst);
                let res = stream_to_stdout(&transport, &path, &check);
                if !check() {
                    report_stream_error(&url, res);
                }
            }));
        }
        let finish = |ctl: &Controller, lines: &[&str]| {
            for l in lines {
                ctl.output(l);
            }
            stop.store(true, Ordering::SeqCst);
        };
        loop {
            match shell::read_line_raw() {
                LineRead::Line(l) => {
                    match client.send_process_stdin(&name, &format!("{l}\n")) {
                        Ok(_) => {}
                        Err(CallError::Fault(f)) => {
                            if f.code == NOT_RUNNING {
                                finish(self, &["Process got killed", "Exiting foreground"]);
                            } else {
                                let msg = format!("ERROR: {}", fault_str(&f));
                                finish(self, &[&msg, "Exiting foreground"]);
                            }
                            break;
                        }
                        Err(e) => {
                            stop.store(true, Ordering::SeqCst);
                            return Err(e.into());
                        }
                    }
                    match client.get_process_info(&name) {
                        Ok(i) if i.state == STATE_RUNNING => {}
                        Ok(_) => {
                            finish(self, &["Process got killed", "Exiting foreground"]);
                            break;
                        }
                        Err(e) => {
                            stop.store(true, Ordering::SeqCst);
                            return Err(e.into());
                        }
                    }
                }
                LineRead::Eof | LineRead::Interrupted => {
                    INTERRUPTED.store(false, Ordering::SeqCst);
                    finish(self, &["Exiting foreground"]);
                    break;
                }
            }
        }
        for t in threads {
            let _ = t.join();
        }
        Ok(())
    }
}

/// `str(Fault)`: `<Fault 70: 'NOT_RUNNING: x'>`.
fn fault_str(f: &supervisor_protocol::xmlrpc::Fault) -> String {
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

fn stream_to_stdout(
    transport: &Transport,
    path: &str,
    stop: &dyn Fn() -> bool,
) -> Result<(), TransportError> {
    let mut sink = |data: &[u8]| -> io::Result<()> {
        let mut out = io::stdout().lock();
        out.write_all(&String::from_utf8_lossy(data).into_owned().into_bytes())?;
        out.flush()
    };
    transport.stream_get(path, &mut sink, stop)
}

/// What Python's asyncore HTTP client writes to stderr when a stream fails.
fn report_stream_error(url: &str, res: Result<(), TransportError>) {
    let msg = match res {
        Ok(()) => return,
        // Our stdout went away (`| head`): nothing to report to.
        Err(TransportError::Io(e)) if e.kind() == io::ErrorKind::BrokenPipe => return,
        Err(TransportError::Status { code, .. }) => format!("Cannot read, status code {code}"),
        Err(TransportError::Refused) => {
            "Cannot connect, error: <class 'ConnectionRefusedError'> ([Errno 111] Connection refused)"
                .to_string()
        }
        Err(TransportError::NoSuchFile) => {
            "Cannot connect, error: <class 'FileNotFoundError'> ([Errno 2] No such file or directory)"
                .to_string()
        }
        Err(TransportError::Io(e)) => format!("Cannot connect, error: <class 'OSError'> ({e})"),
        Err(TransportError::Protocol(m)) => format!("Cannot read, {m}"),
    };
    eprintln!("{url} {msg}");
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
    fn ctl_split_namespec() {
        assert_eq!(split_namespec("g:*"), ("g".into(), None));
        assert_eq!(split_namespec("g:"), ("g".into(), None));
        assert_eq!(split_namespec("g:p"), ("g".into(), Some("p".into())));
        assert_eq!(split_namespec("p"), ("p".into(), Some("p".into())));
    }

    #[test]
    fn ctl_py_int() {
        assert_eq!(parse_py_int("100"), Some(100));
        assert_eq!(parse_py_int(" 1_0 "), Some(10));
        assert_eq!(parse_py_int("x"), None);
        assert_eq!(parse_py_int(""), None);
    }
}
