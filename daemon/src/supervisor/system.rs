//! The daemon's own process set-up: privileges, rlimits, daemonizing, the pidfile and the
//! child-subreaper flag. Called from `main` before the event loop exists.

use std::fs;
use std::io::{self, Write};
use std::path::Path;

use nix::sys::resource::{getrlimit, setrlimit, Resource};
use nix::sys::stat::Mode;
use nix::unistd::{ForkResult, Uid, User};

use crate::config::values::py_repr;
use crate::logs::LogLevel;

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// setuid/setgid to `user` (name or numeric uid) and return its uid. A non-root daemon may
/// only name itself.
pub fn drop_privileges(user: &str) -> Result<u32, String> {
    let entry = match user.parse::<u32>() {
        Ok(uid) => User::from_uid(Uid::from_raw(uid)),
        Err(_) => User::from_name(user),
    }
    .ok()
    .flatten()
    .ok_or_else(|| format!("Invalid user name {user} in [supervisord] user"))?;
    let current = nix::unistd::geteuid();
    if current == entry.uid {
        return Ok(entry.uid.as_raw());
    }
    if !current.is_root() {
        return Err("Can't drop privilege as nonroot user".to_string());
    }
    let name = std::ffi::CString::new(entry.name.as_bytes())
        .map_err(|_| format!("Invalid user name {user}"))?;
    nix::unistd::initgroups(&name, entry.gid)
        .and_then(|_| nix::unistd::setgid(entry.gid))
        .and_then(|_| nix::unistd::setuid(entry.uid))
        .map_err(|e| format!("Could not set user id of supervisord to {user}: {e}"))?;
    Ok(entry.uid.as_raw())
}

/// Raise RLIMIT_NOFILE / RLIMIT_NPROC to `minfds` / `minprocs`, like Supervisor's `set_rlimits`.
/// Returns info messages for the main log; an impossible limit is an error.
pub fn raise_limits(minfds: u64, minprocs: u64) -> Result<Vec<String>, String> {
    let mut msgs = Vec::new();
    for (resource, min, name) in [
        (Resource::RLIMIT_NOFILE, minfds, "minfds"),
        (Resource::RLIMIT_NPROC, minprocs, "minprocs"),
    ] {
        let (soft, hard) =
            getrlimit(resource).map_err(|e| format!("cannot read the {name} limit: {e}"))?;
        if soft >= min {
            continue;
        }
        let new_hard = hard.max(min);
        if setrlimit(resource, min, new_hard).is_err() && setrlimit(resource, min, hard).is_err() {
            return Err(format!(
                "The minimum number of {} required to run this process is {min} as per the \
                 \"{name}\" command-line argument or config file setting. The current environment \
                 will only allow {soft}. Either raise the limit in your environment or lower the \
                 {name} setting in the config file to allow the process to start.",
                if name == "minfds" {
                    "file descriptors"
                } else {
                    "available processes"
                }
            ));
        }
        msgs.push(format!("Increased {resource:?} limit to {min}"));
    }
    Ok(msgs)
}

/// Fork into the background: the parent exits, the child starts a new session, changes to
/// `directory` (if set), sets the umask and points stdio at /dev/null. `log` receives
/// Supervisor's lines: BLAT `supervisord forked; parent exiting`, INFO
/// `daemonizing the supervisord process`, INFO `set current directory: '<dir>'` or CRIT
/// `can't chdir into '<dir>': <error>` (start-up goes on, as upstream).
pub fn daemonize(
    directory: Option<&Path>,
    umask: u32,
    log: &mut dyn FnMut(LogLevel, &str),
) -> Result<(), String> {
    // Logged before the fork (upstream logs it in the parent after the fork), so it cannot
    // land after the child's first lines.
    log(LogLevel::Blather, "supervisord forked; parent exiting");
    // SAFETY: called before any runtime or thread exists; the child continues normally.
    match unsafe { nix::unistd::fork() } {
        Ok(ForkResult::Parent { .. }) => std::process::exit(0),
        Ok(ForkResult::Child) => {}
        Err(e) => return Err(format!("could not fork to daemonize: {e}")),
    }
    log(LogLevel::Info, "daemonizing the supervisord process");
    if let Some(dir) = directory {
        let shown = py_repr(&dir.display().to_string());
        match std::env::set_current_dir(dir) {
            Ok(()) => log(LogLevel::Info, &format!("set current directory: {shown}")),
            Err(e) => log(
                LogLevel::Critical,
                &format!("can't chdir into {shown}: {e}"),
            ),
        }
    }
    nix::unistd::setsid().map_err(|e| format!("setsid failed: {e}"))?;
    nix::sys::stat::umask(Mode::from_bits_truncate(umask as libc::mode_t));
    let null = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
        .map_err(|e| format!("cannot open /dev/null: {e}"))?;
    for fd in 0..3 {
        // SAFETY: dup2 onto the standard descriptors of our own process.
        unsafe {
            libc::dup2(std::os::fd::AsRawFd::as_raw_fd(&null), fd);
        }
    }
    Ok(())
}

pub fn write_pidfile(path: &Path) -> io::Result<()> {
    let mut f = fs::File::create(path)?;
    writeln!(f, "{}", std::process::id())
}

/// Become a child subreaper so orphaned grandchildren are re-parented to us and reaped,
/// instead of lingering under init or as zombies.
pub fn become_subreaper() -> io::Result<()> {
    // SAFETY: prctl with integer arguments only.
    let rc = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
