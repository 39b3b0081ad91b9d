//! Changing the configuration: `reread`, `add`, `remove`, `update`.

use crate::ctl::client::RpcError;

use super::{
    Cmd, Controller, ALREADY_ADDED, BAD_NAME, CANT_REREAD, EXIT_GENERIC, FAILED, SHUTDOWN_STATE,
    STILL_RUNNING,
};

impl Controller {
    pub(super) fn do_reread(&mut self, arg: &str) -> Cmd {
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
                    RpcError::Fault(f) if f.code == SHUTDOWN_STATE => {
                        self.output("ERROR: supervisor shutting down")
                    }
                    RpcError::Fault(f) if f.code == CANT_REREAD => {
                        self.output(&format!("ERROR: {}", f.string))
                    }
                    e => return Err(e.into()),
                }
            }
        }
        Ok(())
    }

    pub(super) fn do_add(&mut self, arg: &str) -> Cmd {
        let client = self.client()?;
        for name in arg.split_whitespace() {
            match client.add_process_group(name) {
                Ok(_) => self.output(&format!("{name}: added process group")),
                Err(RpcError::Fault(f)) if f.code == SHUTDOWN_STATE => {
                    self.output("ERROR: shutting down");
                    self.exitstatus = EXIT_GENERIC;
                }
                Err(RpcError::Fault(f)) if f.code == ALREADY_ADDED => {
                    self.output("ERROR: process group already active");
                }
                Err(RpcError::Fault(f)) if f.code == BAD_NAME => {
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

    pub(super) fn do_remove(&mut self, arg: &str) -> Cmd {
        let client = self.client()?;
        for name in arg.split_whitespace() {
            match client.remove_process_group(name) {
                Ok(_) => self.output(&format!("{name}: removed process group")),
                Err(e) => {
                    self.exitstatus = EXIT_GENERIC;
                    match e {
                        RpcError::Fault(f) if f.code == STILL_RUNNING => {
                            self.output(&format!("ERROR: process/group still running: {name}"))
                        }
                        RpcError::Fault(f) if f.code == BAD_NAME => {
                            self.output(&format!("ERROR: no such process/group: {name}"))
                        }
                        e => return Err(e.into()),
                    }
                }
            }
        }
        Ok(())
    }

    pub(super) fn do_update(&mut self, arg: &str) -> Cmd {
        let client = self.client()?;
        let (added, changed, removed) = match client.reload_config() {
            Ok(r) => r,
            Err(e) => {
                self.exitstatus = EXIT_GENERIC;
                match e {
                    RpcError::Fault(f) if f.code == SHUTDOWN_STATE => {
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
}
