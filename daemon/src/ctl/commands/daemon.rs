//! The daemon itself: `shutdown`, `reload`.

use crate::ctl::client::RpcError;
use crate::ctl::term::{self, LineRead};
use crate::ctl::transport::TransportError;

use super::{Cmd, Controller, EXIT_GENERIC, SHUTDOWN_STATE};

impl Controller {
    pub(super) fn confirm(&self, question: &str) -> bool {
        if !self.options.interactive {
            return true;
        }
        match term::read_line_prompt(question) {
            LineRead::Line(l) => l.to_lowercase().starts_with('y'),
            _ => false,
        }
    }

    pub(super) fn do_shutdown(&mut self, arg: &str) -> Cmd {
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
            Err(RpcError::Fault(f)) if f.code == SHUTDOWN_STATE => {
                self.output("ERROR: already shutting down")
            }
            Err(RpcError::Fault(f)) => {
                self.exitstatus = EXIT_GENERIC;
                return Err(RpcError::Fault(f).into());
            }
            Err(RpcError::Transport(TransportError::Refused)) => {
                self.exitstatus = EXIT_GENERIC;
                self.output(&format!(
                    "ERROR: {} refused connection (already shut down?)",
                    self.options.serverurl
                ));
            }
            Err(RpcError::Transport(TransportError::NoSuchFile)) => {
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

    pub(super) fn do_reload(&mut self, arg: &str) -> Cmd {
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
            Err(RpcError::Fault(f)) => {
                self.exitstatus = EXIT_GENERIC;
                if f.code == SHUTDOWN_STATE {
                    self.output("ERROR: already shutting down");
                } else {
                    return Err(RpcError::Fault(f).into());
                }
            }
            Err(e) => return Err(e.into()),
        }
        Ok(())
    }
}
