//! The resource limits of a process (`rlimit_*=`, and the cgroup of `process::cgroup`), put in
//! place by the child between fork and exec (docs/extensions.md, "Limits").
//!
//! Everything that can fail in an explainable way is checked in the parent ([`prepare`]); the
//! child ([`ChildLimits::apply`]) only makes async-signal-safe calls on data prepared before
//! the fork.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

use nix::sys::resource::{getrlimit, Resource};

use crate::config::{ProcessConfig, Rlimit, RlimitResource};

/// What the child applies before exec.
#[derive(Debug)]
pub struct ChildLimits {
    rlimits: Vec<Rlimit>,
    /// The process's `cgroup.procs`, open for writing (close-on-exec).
    cgroup_procs: Option<OwnedFd>,
}

fn resource(r: RlimitResource) -> Resource {
    match r {
        RlimitResource::Nofile => Resource::RLIMIT_NOFILE,
        RlimitResource::Nproc => Resource::RLIMIT_NPROC,
        RlimitResource::Core => Resource::RLIMIT_CORE,
        RlimitResource::As => Resource::RLIMIT_AS,
    }
}

fn raw(v: Option<u64>) -> libc::rlim_t {
    v.map_or(libc::RLIM_INFINITY, |n| n as libc::rlim_t)
}

/// Check the limits against supervisord's own and prepare the cgroup. `Ok(None)` when the
/// process has none (then the spawn needs no code in the child). `Err` is the spawn error.
pub fn prepare(config: &ProcessConfig) -> Result<Option<ChildLimits>, String> {
    let limits = &config.ext.limits;
    // Only a privileged process may raise a hard limit (CAP_SYS_RESOURCE): say so in the
    // parent rather than as a bare EPERM from the child.
    if !nix::unistd::geteuid().is_root() {
        for r in &limits.rlimits {
            let (_, hard_now) = getrlimit(resource(r.resource))
                .map_err(|e| format!("couldn't get {}: {e}", r.resource.option()))?;
            if raw(r.hard) > hard_now {
                return Err(format!(
                    "couldn't set {}={r}: the hard limit is above supervisord's ({}), which only \
                     root can raise",
                    r.resource.option(),
                    if hard_now == libc::RLIM_INFINITY {
                        "infinity".to_string()
                    } else {
                        hard_now.to_string()
                    }
                ));
            }
        }
    }
    // The kernel caps open files at fs.nr_open, whoever asks (setrlimit: EPERM).
    if let Some(r) = limits
        .rlimits
        .iter()
        .find(|r| r.resource == RlimitResource::Nofile)
    {
        let nr_open = std::fs::read_to_string("/proc/sys/fs/nr_open")
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok());
        if let Some(max) = nr_open.filter(|m| r.hard.is_none_or(|h| h > *m)) {
            return Err(format!(
                "couldn't set rlimit_nofile={r}: the kernel allows at most {max} open files \
                 (/proc/sys/fs/nr_open); infinity is not possible"
            ));
        }
    }
    let cgroup_procs = super::cgroup::prepare(config).transpose()?;
    if limits.rlimits.is_empty() && cgroup_procs.is_none() {
        return Ok(None);
    }
    Ok(Some(ChildLimits {
        rlimits: limits.rlimits.clone(),
        cgroup_procs,
    }))
}

impl ChildLimits {
    /// Join the cgroup, then set the rlimits (before the user switch, so root can raise a
    /// hard limit for a program that runs as another user).
    ///
    /// Runs in the forked child: only `write` and `setrlimit` (async-signal-safe), no
    /// allocation.
    pub fn apply(&self) -> io::Result<()> {
        if let Some(fd) = &self.cgroup_procs {
            // "0" is the writing process itself.
            // SAFETY: a valid open fd and a 1-byte buffer.
            if unsafe { libc::write(fd.as_raw_fd(), b"0".as_ptr().cast(), 1) } != 1 {
                return Err(io::Error::last_os_error());
            }
        }
        for r in &self.rlimits {
            let lim = libc::rlimit {
                rlim_cur: raw(r.soft),
                rlim_max: raw(r.hard),
            };
            let res = match r.resource {
                RlimitResource::Nofile => libc::RLIMIT_NOFILE,
                RlimitResource::Nproc => libc::RLIMIT_NPROC,
                RlimitResource::Core => libc::RLIMIT_CORE,
                RlimitResource::As => libc::RLIMIT_AS,
            };
            // SAFETY: a valid pointer to an initialised rlimit.
            if unsafe { libc::setrlimit(res, &lim) } != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(())
    }
}
