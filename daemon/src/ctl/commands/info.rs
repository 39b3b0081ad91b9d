//! Asking the daemon: `status`, `pid`, `avail`, `version`, and `open` (another server).

use supervisor_protocol::xmlrpc::ProcessInfo;
use supervisor_protocol::ProcessState;

use crate::ctl::client::RpcError;
use crate::ctl::format;
use crate::ctl::transport::ServerUrl;

use super::{
    split_namespec, Cmd, Controller, BAD_NAME, EXIT_GENERIC, EXIT_NOT_RUNNING,
    EXIT_STATUS_NOT_RUNNING, EXIT_STATUS_UNKNOWN, SHUTDOWN_STATE,
};

impl Controller {
    pub(super) fn do_status(&mut self, arg: &str) -> Cmd {
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
            let usage = crate::ctl::fleet::resources(&self.client()?);
            for line in crate::ctl::fleet::resource_lines(&matching, usage.as_ref()) {
                self.output(&line);
            }
        } else {
            for line in format::status_lines(&matching, self.colour) {
                self.output(&line);
            }
        }
        if matching
            .iter()
            .any(|i| i.process_state().is_some_and(ProcessState::is_stopped))
        {
            self.exitstatus = EXIT_STATUS_NOT_RUNNING;
        }
        Ok(())
    }

    // ---------------------------------------------------------------------------- pid

    pub(super) fn do_pid(&mut self, arg: &str) -> Cmd {
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
                    Err(RpcError::Fault(f)) => {
                        self.exitstatus = EXIT_GENERIC;
                        if f.code == BAD_NAME {
                            self.output(&format!("No such process {name}"));
                        } else {
                            return Err(RpcError::Fault(f).into());
                        }
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(())
    }

    pub(super) fn do_avail(&mut self, arg: &str) -> Cmd {
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
                    RpcError::Fault(f) if f.code == SHUTDOWN_STATE => {
                        self.output("ERROR: supervisor shutting down")
                    }
                    e => return Err(e.into()),
                }
            }
        }
        Ok(())
    }

    pub(super) fn do_version(&mut self, arg: &str) -> Cmd {
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

    pub(super) fn do_open(&mut self, arg: &str) -> Cmd {
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
}
