//! Logs: `tail`, `maintail`, `clear`, and `fg` (a process's output live, with stdin).

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use supervisor_protocol::xmlrpc::GroupResult;
use supervisor_protocol::ProcessState;

use crate::ctl::client::{py_str_repr, CallResult, RpcError};
use crate::ctl::format::namespec;
use crate::ctl::term::{self, install_sigint_handler, LineRead, INTERRUPTED};
use crate::ctl::transport::{Transport, TransportError};

use super::{
    fault_result, fault_str, parse_py_int, split_namespec, Cmd, Controller, Raise, BAD_NAME,
    EXIT_GENERIC, FAILED, NOT_RUNNING, NO_FILE, SUCCESS,
};

/// The offset that reads the last `bytes` bytes, clamped to an XML-RPC int.
fn tail_offset(bytes: i64) -> i32 {
    i32::try_from(-bytes).unwrap_or(if bytes > 0 { i32::MIN } else { i32::MAX })
}

/// The line `clear` prints for one result.
fn clear_result(r: &GroupResult) -> Result<String, Raise> {
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

impl Controller {
    pub(super) fn do_clear(&mut self, arg: &str) -> Cmd {
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
            let results = client.clear_all_process_logs()?;
            return self.print_results(&results, clear_result, None);
        }
        for name in names {
            let (group, process) = split_namespec(name);
            // Python formats a missing process name as the string `None`.
            let pname = process.unwrap_or("None");
            match client.clear_process_logs(name) {
                Ok(_) => self.output(&format!("{}: cleared", namespec(group, pname))),
                Err(RpcError::Fault(f)) => {
                    let r = fault_result(group, pname, &f);
                    self.print_results(&[r], clear_result, None)?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    pub(super) fn do_tail(&mut self, arg: &str) -> Cmd {
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
        let read = client.read_process_log(&name, channel == "stderr", tail_offset(bytes));
        self.print_log(read, &name, true)
    }

    pub(super) fn do_maintail(&mut self, arg: &str) -> Cmd {
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
        let read = client.read_log(tail_offset(bytes));
        self.print_log(read, "supervisord", false)
    }

    /// Prints what a `readLog`/`readProcessLog` returned, or `<who>: ERROR (...)` for the
    /// faults Python explains (`BAD_NAME` only for a process log).
    fn print_log(&mut self, read: CallResult<String>, who: &str, process: bool) -> Cmd {
        match read {
            Ok(out) => self.output(&out),
            Err(RpcError::Fault(f)) => {
                self.exitstatus = EXIT_GENERIC;
                let text = match f.code {
                    NO_FILE => "no log file",
                    FAILED => "unknown error reading log",
                    BAD_NAME if process => "no such process name",
                    _ => return Err(RpcError::Fault(f).into()),
                };
                self.output(&format!("{who}: ERROR ({text})"));
            }
            Err(e) => return Err(e.into()),
        }
        Ok(())
    }

    /// Streams `path` to stdout until the server closes it or Ctrl-C.
    pub(super) fn tailf(&mut self, path: &str) {
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

    pub(super) fn do_fg(&mut self, arg: &str) -> Cmd {
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
            Err(RpcError::Fault(f)) => {
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
        if info.process_state() != Some(ProcessState::Running) {
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
            match term::read_line_raw() {
                LineRead::Line(l) => {
                    match client.send_process_stdin(&name, &format!("{l}\n")) {
                        Ok(_) => {}
                        Err(RpcError::Fault(f)) => {
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
                        Ok(i) if i.process_state() == Some(ProcessState::Running) => {}
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
