//! The per-process cgroup (cgroup v2) of a program with `cgroup=true`, `memory_max=` or
//! `cpu_max=` (docs/extensions.md, "Limits"): `<parent>/supervisor-rs/<group>:<name>`, where
//! the parent is `cgroup_parent=` or supervisord's own cgroup.
//!
//! The parent prepares the directory and its limits before the spawn ([`prepare`]), the child
//! joins it before exec (`process::limits`), stopping with `stopasgroup`/`killasgroup` signals
//! every process in it ([`signal_all`]: `cgroup.kill` for SIGKILL), and the directory is
//! removed once the process has been reaped and the cgroup is empty ([`remove`]).

use std::fs;
use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::config::{CgroupLimits, ProcessConfig};

/// Where the unified (v2) hierarchy is mounted.
pub const CGROUP2_MOUNT: &str = "/sys/fs/cgroup";

/// The directory under the parent that holds every per-process cgroup.
pub const SUBTREE: &str = "supervisor-rs";

/// A bound on what is read from a cgroup file (`cgroup.procs` of a fork bomb...).
const READ_MAX: u64 = 4 << 20;

/// supervisord's own cgroup v2 directory, from `/proc/self/cgroup` (`0::/path`).
fn own_cgroup() -> Result<PathBuf, String> {
    let text = fs::read_to_string("/proc/self/cgroup")
        .map_err(|e| format!("cannot read /proc/self/cgroup: {e}"))?;
    let rel = text
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .ok_or("supervisord is in no cgroup v2 hierarchy (no '0::' line in /proc/self/cgroup)")?;
    Ok(Path::new(CGROUP2_MOUNT).join(rel.trim_start_matches('/')))
}

/// The cgroup directory of `config`'s process (`None` without the cgroup options).
pub fn dir(config: &ProcessConfig) -> Option<Result<PathBuf, String>> {
    let cg = config.ext.limits.cgroup.as_ref()?;
    Some(dir_in(cg, config))
}

fn dir_in(cg: &CgroupLimits, config: &ProcessConfig) -> Result<PathBuf, String> {
    let parent = match &cg.parent {
        Some(p) => p.clone(),
        None => own_cgroup()?,
    };
    Ok(parent
        .join(SUBTREE)
        .join(format!("{}:{}", config.group_name, config.name)))
}

fn is_cgroup2(path: &Path) -> bool {
    nix::sys::statfs::statfs(path)
        .map(|s| s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC)
        .unwrap_or(false)
}

fn write_file(path: &Path, text: &str) -> io::Result<()> {
    fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)?
        .write_all(text.as_bytes())
}

fn read_file(path: &Path) -> io::Result<String> {
    let mut s = String::new();
    fs::File::open(path)?
        .take(READ_MAX)
        .read_to_string(&mut s)?;
    Ok(s)
}

/// Make `controllers` available to the children of `dir` (`+memory` in its
/// `cgroup.subtree_control`), unless they already are.
fn enable_controllers(dir: &Path, controllers: &[&str]) -> Result<(), String> {
    let available_at = dir.join("cgroup.controllers");
    let available =
        read_file(&available_at).map_err(|e| format!("{}: {e}", available_at.display()))?;
    if let Some(c) = controllers
        .iter()
        .find(|c| !available.split_whitespace().any(|a| a == **c))
    {
        return Err(format!(
            "the {c} controller is not available in {} (cgroup.controllers: {})",
            dir.display(),
            match available.trim() {
                "" => "none",
                a => a,
            }
        ));
    }
    let control = dir.join("cgroup.subtree_control");
    let enabled = read_file(&control).map_err(|e| format!("{}: {e}", control.display()))?;
    let missing: Vec<String> = controllers
        .iter()
        .filter(|c| !enabled.split_whitespace().any(|e| e == **c))
        .map(|c| format!("+{c}"))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    write_file(&control, &missing.join(" ")).map_err(|e| {
        let hint = if e.raw_os_error() == Some(libc::EBUSY) {
            " (a cgroup that holds processes cannot pass controllers to its children: set \
             cgroup_parent= to a cgroup without processes of its own)"
        } else {
            ""
        };
        format!(
            "cannot enable the {} controller in {}: {e}{hint}",
            missing.join(" "),
            control.display()
        )
    })
}

fn mkdir(path: &Path) -> Result<(), String> {
    match fs::create_dir(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && path.is_dir() => Ok(()),
        Err(e) => Err(format!("cannot create {}: {e}", path.display())),
    }
}

/// Create (or reuse) the process's cgroup, write its limits, and open its `cgroup.procs` for
/// the child to join. `Err` is the spawn error, naming the program and the path.
pub fn prepare(config: &ProcessConfig) -> Option<Result<OwnedFd, String>> {
    let cg = config.ext.limits.cgroup.as_ref()?;
    Some(prepare_in(cg, config).map_err(|e| {
        format!(
            "cannot set up the cgroup of program {}:{} (cgroup=, memory_max=, cpu_max=): {e}",
            config.group_name, config.name
        )
    }))
}

fn prepare_in(cg: &CgroupLimits, config: &ProcessConfig) -> Result<OwnedFd, String> {
    let dir = dir_in(cg, config)?;
    let base = dir.parent().unwrap_or(&dir).to_path_buf();
    let parent = base.parent().unwrap_or(&base).to_path_buf();
    if !is_cgroup2(&parent) {
        return Err(format!(
            "{} is not in a cgroup v2 (unified) file system{}",
            parent.display(),
            if is_cgroup2(Path::new(CGROUP2_MOUNT)) {
                ""
            } else {
                " (this host has no cgroup v2 at /sys/fs/cgroup)"
            }
        ));
    }
    let mut controllers = Vec::new();
    if cg.memory_max.is_some() {
        controllers.push("memory");
    }
    if cg.cpu_max.is_some() {
        controllers.push("cpu");
    }
    if !controllers.is_empty() {
        enable_controllers(&parent, &controllers)?;
    }
    mkdir(&base)?;
    if !controllers.is_empty() {
        enable_controllers(&base, &controllers)?;
    }
    mkdir(&dir)?;
    // A reused cgroup keeps what an earlier configuration wrote: reset what is not set now.
    for (file, value) in [("memory.max", &cg.memory_max), ("cpu.max", &cg.cpu_max)] {
        let path = dir.join(file);
        match value {
            Some(v) => write_file(&path, v).map_err(|e| format!("{}: {e}", path.display()))?,
            None if path.exists() => {
                let _ = write_file(&path, "max");
            }
            None => {}
        }
    }
    let procs = dir.join("cgroup.procs");
    let file = fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&procs)
        .map_err(|e| format!("cannot open {}: {e}", procs.display()))?;
    Ok(OwnedFd::from(file))
}

/// Send `signal` to every process in the cgroup (`cgroup.kill` for SIGKILL where the kernel
/// has it, 5.14+). Returns how many were signalled (`cgroup.kill` counts as one).
pub fn signal_all(dir: &Path, signal: nix::sys::signal::Signal) -> io::Result<usize> {
    use nix::sys::signal::Signal;
    if signal == Signal::SIGKILL && write_file(&dir.join("cgroup.kill"), "1").is_ok() {
        return Ok(1);
    }
    let me = std::process::id() as i32;
    let mut n = 0;
    for pid in read_file(&dir.join("cgroup.procs"))?
        .lines()
        .filter_map(|l| l.trim().parse::<i32>().ok())
        .filter(|p| *p > 1 && *p != me)
    {
        if nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), signal).is_ok() {
            n += 1;
        }
    }
    Ok(n)
}

/// Cgroups that still held processes when their process was reaped (a grandchild that has
/// been signalled but not yet died), removed by [`retry_pending`].
static PENDING: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// A bound on [`PENDING`].
const PENDING_MAX: usize = 1024;

/// Remove the cgroup if it is empty. One that still holds processes (a grandchild dying, or
/// left behind without `stopasgroup`/`killasgroup`) is kept, retried by [`retry_pending`],
/// and reused by the next start. `Ok(false)`: kept.
pub fn remove(dir: &Path) -> io::Result<bool> {
    match fs::remove_dir(dir) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(true),
        Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
            let mut pending = PENDING.lock().unwrap_or_else(|p| p.into_inner());
            if pending.len() < PENDING_MAX && !pending.iter().any(|p| p == dir) {
                pending.push(dir.to_path_buf());
            }
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

/// Try again to remove the cgroups [`remove`] had to keep (called after each reap: the
/// processes left in them are our children or reparented to us).
pub fn retry_pending() {
    let mut pending = PENDING.lock().unwrap_or_else(|p| p.into_inner());
    if pending.is_empty() {
        return;
    }
    pending.retain(|dir| match fs::remove_dir(dir) {
        Ok(()) => false,
        Err(e) => e.raw_os_error() == Some(libc::EBUSY),
    });
}
