//! What the control plane may do with the running daemon, independent of how it is asked.
//!
//! The runtime implements [`Host`]; a control-plane request (an XML-RPC call, in practice) is a
//! [`Request`] that the loop runs against the host and re-polls until it has answered. The
//! request owns its reply channel, so this module names no wire format: `rpc/` depends on
//! `supervisor/`, never the reverse.

use std::ffi::OsString;
use std::io;
use std::path::PathBuf;

use crate::config::{Config, GroupConfig};
use crate::logs::Channel;
use crate::process::state::CommandError;
use crate::supervisor::core::{Core, Output, ProcKey};

/// What a control-plane request needs from the daemon.
pub trait Host {
    fn core(&self) -> &Core;
    fn core_mut(&mut self) -> &mut Core;
    /// Carry out actions (spawns, kills, logs) right away.
    fn apply(&mut self, out: Output);
    fn identifier(&self) -> &str;
    /// supervisord's environment (for the command pre-check of `startProcess`).
    fn base_env(&self) -> &[(OsString, OsString)];
    fn main_log_path(&self) -> Option<PathBuf>;
    fn clear_main_log(&mut self) -> io::Result<()>;
    /// The resolved log file of a process channel, if it has one, existing (to be read).
    fn log_path(&self, key: ProcKey, channel: Channel) -> Option<PathBuf>;
    /// The name of that file, for reporting it (`getProcessInfo`): unlike
    /// [`Host::log_path`] it need not exist yet.
    fn log_name(&self, key: ProcKey, channel: Channel) -> Option<PathBuf> {
        self.log_path(key, channel)
    }
    fn clear_process_logs(&mut self, key: ProcKey) -> io::Result<()>;
    /// Queue bytes for the child's stdin (bounded: see `supervisor::stdin`).
    fn send_stdin(&mut self, key: ProcKey, data: Vec<u8>) -> Result<(), StdinError>;
    fn request_shutdown(&mut self);
    fn request_restart(&mut self);
    /// Re-read the config file(s); the result becomes the stored config.
    fn reread(&mut self) -> Result<(), String>;
    /// The last config read (what `addProcessGroup` and `getAllConfigInfo` use).
    fn stored_config(&self) -> &Config;
    /// Create a group from the stored config (log files, core, PROCESS_GROUP_ADDED).
    fn add_group(&mut self, config: GroupConfig) -> Result<(), CommandError>;
    fn remove_group(&mut self, name: &str) -> Result<(), CommandError>;
    fn remote_comm_event(&mut self, kind: &str, data: &str);
}

/// Why bytes for a child's stdin were not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StdinError {
    /// The child has no stdin any more (not running, or it closed its end).
    Closed,
    /// Too much is already waiting for it: `queued` bytes for this child, `limit` per child.
    Full { queued: usize, limit: usize },
}

/// One control-plane request, run on the loop. The loop polls it once when it arrives, then
/// after every loop iteration (and at least every 50 ms, like Supervisor's deferred callbacks)
/// until it has answered, or until its asker has gone away.
pub trait Request {
    /// Run (or continue) the request; `true` once it has sent its answer.
    fn poll(&mut self, host: &mut dyn Host) -> bool;
    /// The asker is gone (connection closed): stop polling.
    fn abandoned(&self) -> bool;
}
