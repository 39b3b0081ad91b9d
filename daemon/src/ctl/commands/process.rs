//! Acting on processes: `start`, `stop`, `restart`, `signal`.

use supervisor_protocol::xmlrpc::GroupResult;

use crate::ctl::client::RpcError;
use crate::ctl::format::namespec;

use super::{
    fault_result, split_namespec, Cmd, Controller, Raise, ABNORMAL_TERMINATION, ALREADY_STARTED,
    BAD_NAME, BAD_SIGNAL, EXIT_GENERIC, EXIT_INVALID_ARGS, FAILED, NOT_EXECUTABLE, NOT_RUNNING,
    NO_FILE, SPAWN_ERROR, SUCCESS,
};

/// The line `start` prints for one result.
fn start_result(r: &GroupResult) -> Result<String, Raise> {
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

/// The line `stop` (`success` = "stopped") or `signal` ("signalled") prints for one result.
fn signal_result(r: &GroupResult, success: &str) -> Result<String, Raise> {
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

fn stop_result(r: &GroupResult) -> Result<String, Raise> {
    signal_result(r, "stopped")
}

fn signalled_result(r: &GroupResult) -> Result<String, Raise> {
    signal_result(r, "signalled")
}

impl Controller {
    pub(super) fn do_start(&mut self, arg: &str) -> Cmd {
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
        let ignored = Some(ALREADY_STARTED);
        if names.contains(&"all") {
            let results = client.start_all_processes()?;
            return self.print_results(&results, start_result, ignored);
        }
        for name in names {
            let (group, process) = split_namespec(name);
            match process {
                None => match client.start_process_group(group) {
                    Ok(results) => self.print_results(&results, start_result, ignored)?,
                    Err(RpcError::Fault(f)) if f.code == BAD_NAME => {
                        self.output(&format!("{group}: ERROR (no such group)"));
                        self.exitstatus = EXIT_INVALID_ARGS;
                    }
                    Err(e) => {
                        self.exitstatus = EXIT_GENERIC;
                        return Err(e.into());
                    }
                },
                Some(process) => match client.start_process(name) {
                    Ok(_) => self.output(&format!("{}: started", namespec(group, process))),
                    Err(RpcError::Fault(f)) => {
                        let r = fault_result(group, process, &f);
                        self.print_results(&[r], start_result, ignored)?;
                    }
                    Err(e) => return Err(e.into()),
                },
            }
        }
        Ok(())
    }

    pub(super) fn do_stop(&mut self, arg: &str) -> Cmd {
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
        let ignored = Some(NOT_RUNNING);
        if names.contains(&"all") {
            let results = client.stop_all_processes()?;
            return self.print_results(&results, stop_result, ignored);
        }
        for name in names {
            let (group, process) = split_namespec(name);
            match process {
                None => match client.stop_process_group(group) {
                    Ok(results) => self.print_results(&results, stop_result, ignored)?,
                    Err(e) => {
                        self.exitstatus = EXIT_GENERIC;
                        match e {
                            RpcError::Fault(f) if f.code == BAD_NAME => {
                                self.output(&format!("{group}: ERROR (no such group)"));
                            }
                            e => return Err(e.into()),
                        }
                    }
                },
                Some(process) => match client.stop_process(name) {
                    Ok(_) => self.output(&format!("{}: stopped", namespec(group, process))),
                    Err(RpcError::Fault(f)) => {
                        let r = fault_result(group, process, &f);
                        self.print_results(&[r], stop_result, ignored)?;
                    }
                    Err(e) => return Err(e.into()),
                },
            }
        }
        Ok(())
    }

    pub(super) fn do_signal(&mut self, arg: &str) -> Cmd {
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
            let results = client.signal_all_processes(sig)?;
            return self.print_results(&results, signalled_result, None);
        }
        for name in names {
            let (group, process) = split_namespec(name);
            match process {
                None => match client.signal_process_group(group, sig) {
                    Ok(results) => self.print_results(&results, signalled_result, None)?,
                    Err(RpcError::Fault(f)) if f.code == BAD_NAME => {
                        self.output(&format!("{group}: ERROR (no such group)"));
                        self.exitstatus = EXIT_GENERIC;
                    }
                    Err(e) => return Err(e.into()),
                },
                Some(process) => match client.signal_process(name, sig) {
                    Ok(_) => self.output(&format!("{}: signalled", namespec(group, process))),
                    Err(RpcError::Fault(f)) => {
                        let r = fault_result(group, process, &f);
                        self.print_results(&[r], signalled_result, None)?;
                    }
                    Err(e) => return Err(e.into()),
                },
            }
        }
        Ok(())
    }

    pub(super) fn do_restart(&mut self, arg: &str) -> Cmd {
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
}
