//! The resource limits of a process (`rlimit_*=`, and the cgroup of `process::cgroup`), put in
//! place by the child between fork and exec (docs/extensions.md, "Limits").
//!
//! Everything that can fail in an explainable way is checked in the parent ([`prepare`]); the
//! child ([`ChildLimits::apply`]) only makes async-signal-safe calls on data prepared before
//! the fork.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use nix::sys::resource::{getrlimit, Resource};

use crate::config::{ProcessConfig, Rlimit, RlimitResource};

/// What the child applies before exec.
#[derive(Debug)]
pub struct ChildLimits {
    rlimits: Vec<Rlimit>,
    /// The process's `cgroup.procs`, open for writing (close-on-exec).
    cgroup_procs: Option<OwnedFd>,
    /// Write end of the pipe that tells the parent which step failed ([`FailureReport`]).
    report: OwnedFd,
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
pub fn prepare(config: &ProcessConfig) -> Result<Option<(ChildLimits, FailureReport)>, String> {
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
    let cgroup = super::cgroup::prepare(config).transpose()?;
    if limits.rlimits.is_empty() && cgroup.is_none() {
        return Ok(None);
    }
    // Step names for the parent's message; the child writes the index of a failed step.
    let mut steps = Vec::new();
    if let Some((dir, _)) = &cgroup {
        steps.push(format!("join the cgroup {}", dir.display()));
    }
    steps.extend(
        limits
            .rlimits
            .iter()
            .map(|r| format!("set {}={r}", r.resource.option())),
    );
    let mut fds = [0; 2];
    // SAFETY: a valid out-array of two ints.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } != 0 {
        return Err(format!("pipe error: {}", io::Error::last_os_error()));
    }
    // SAFETY: pipe2 just returned these two descriptors, owned by nobody else.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    Ok(Some((
        ChildLimits {
            rlimits: limits.rlimits.clone(),
            cgroup_procs: cgroup.map(|(_, fd)| fd),
            report: write,
        },
        FailureReport { read, steps },
    )))
}

/// The parent's side of [`ChildLimits`]: which step failed in the child.
#[derive(Debug)]
pub struct FailureReport {
    read: OwnedFd,
    steps: Vec<String>,
}

impl FailureReport {
    /// After a failed spawn with `errno`: "couldn't set rlimit_nofile=...: EPERM" when a limit
    /// was the cause, `None` when the child got past them (the exec itself failed).
    pub fn explain(&self, errno: i32) -> Option<String> {
        let mut b = [0u8; 1];
        // SAFETY: a valid descriptor and a 1-byte buffer (non-blocking: nothing written = EAGAIN).
        let n = unsafe { libc::read(self.read.as_raw_fd(), b.as_mut_ptr().cast(), 1) };
        let step = self.steps.get(usize::from(b[0])).filter(|_| n == 1)?;
        Some(format!(
            "couldn't {step}: {}",
            super::spawn::errno_name(errno)
        ))
    }
}

impl ChildLimits {
    /// Join the cgroup, then set the rlimits (before the user switch, so root can raise a
    /// hard limit for a program that runs as another user).
    ///
    /// Runs in the forked child: only `write` and `setrlimit` (async-signal-safe), no
    /// allocation. A failed step writes its index to the report pipe.
    pub fn apply(&self) -> io::Result<()> {
        let fail = |step: usize| {
            let err = io::Error::last_os_error();
            let b = [u8::try_from(step).unwrap_or(u8::MAX)];
            // SAFETY: a valid open fd and a 1-byte buffer.
            unsafe { libc::write(self.report.as_raw_fd(), b.as_ptr().cast(), 1) };
            err
        };
        let mut step = 0;
        if let Some(fd) = &self.cgroup_procs {
            // "0" is the writing process itself.
            // SAFETY: a valid open fd and a 1-byte buffer.
            if unsafe { libc::write(fd.as_raw_fd(), b"0".as_ptr().cast(), 1) } != 1 {
                return Err(fail(step));
            }
            step += 1;
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
                return Err(fail(step));
            }
            step += 1;
        }
        Ok(())
    }
}
