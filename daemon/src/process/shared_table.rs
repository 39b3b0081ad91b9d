//! Spawning without copying the daemon's descriptor table into every child.
//!
//! Why: `fork`, `vfork` and `posix_spawn` all give the child a copy of the parent's descriptor
//! table, and `execve` then closes every close-on-exec descriptor in it again. A daemon that
//! supervises 5,000 programs holds 10,000 pipe ends, so each spawn copied and closed 10,000
//! descriptors in the kernel (`dup_fd`, `do_close_on_exec`, a flush per file): the cost of a
//! spawn grew with the number of programs, and a large start-up with its square.
//!
//! Here the child is cloned with `CLONE_VM | CLONE_VFORK | CLONE_FILES` (like `posix_spawn`,
//! plus a shared table), and its first act is `close_range(first, ~0, CLOSE_RANGE_UNSHARE)`,
//! which gives it a private table holding only the descriptors below `first`. For that the
//! three descriptors the child needs (stdin, stdout, stderr ends) must be low: the daemon
//! reserves three low slots at start-up ([`reserve`], pointing at /dev/null) and, for each
//! spawn, points them at the child's ends (`dup3`), clones, and points them back.
//!
//! The child runs on its own stack in our memory while the parent waits (vfork semantics), so
//! it only makes raw system calls on data prepared before the clone: reset every caught
//! signal (and SIGPIPE, which Rust ignores) to its default, new process group, unshare the
//! table, move the three descriptors to 0, 1, 2, close the rest, chdir, unblock signals,
//! `execve`. A failure is reported through memory shared with the parent, as `posix_spawn`
//! does. When the slots could not be reserved (descriptors 3.. taken by whoever started us)
//! or the kernel lacks `close_range` (before 5.9), [`available`] is false and the caller uses
//! `posix_spawn`.

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::RawFd;
use std::sync::{Mutex, OnceLock, PoisonError};

/// The reserved slots and the /dev/null they point at between spawns.
#[derive(Debug, Clone, Copy)]
struct Slots {
    null: RawFd,
    slots: [RawFd; 3],
}

static SLOTS: OnceLock<Option<Slots>> = OnceLock::new();
static SPAWN_LOCK: Mutex<()> = Mutex::new(());

/// The slots must be this low: the child's private table copies everything below the first
/// descriptor it closes.
const MAX_SLOT: RawFd = 64;

const CLOSE_RANGE_UNSHARE: libc::c_uint = 1 << 1;

/// Reserve the slots. Call once, early in `main` (before the runtime opens anything), in the
/// final process (after daemonizing). Later calls do nothing.
pub fn reserve() {
    SLOTS.get_or_init(open_slots);
}

/// Whether [`spawn`] can be used.
pub fn available() -> bool {
    SLOTS.get().copied().flatten().is_some()
}

fn open_null() -> RawFd {
    // SAFETY: a valid C string; the result is checked by the caller.
    unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) }
}

fn open_slots() -> Option<Slots> {
    // Does the kernel have close_range? Closing a range that holds nothing answers 0.
    // SAFETY: plain system call without pointers.
    let probe = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            libc::c_uint::MAX - 1,
            libc::c_uint::MAX - 1,
            0 as libc::c_uint,
        )
    };
    if probe != 0 {
        return None;
    }
    let fds = [open_null(), open_null(), open_null(), open_null()];
    let usable = fds.iter().all(|&fd| fd >= 3) && fds[1..].iter().all(|&fd| fd < MAX_SLOT);
    if !usable {
        for fd in fds.into_iter().filter(|&fd| fd >= 0) {
            // SAFETY: a descriptor we just opened.
            unsafe { libc::close(fd) };
        }
        return None;
    }
    Some(Slots {
        null: fds[0],
        slots: [fds[1], fds[2], fds[3]],
    })
}

/// What to start. The strings must outlive the call (the child reads them before `execve`).
pub struct Request<'a> {
    pub path: &'a CStr,
    pub argv: &'a [CString],
    pub envp: &'a [CString],
    /// The child's stdin, stdout and stderr (any descriptors; they are not consumed).
    pub stdio: [RawFd; 3],
    pub dir: Option<&'a CStr>,
}

/// What the child needs, in the parent's memory (shared with the child until it execs).
#[repr(C)]
struct ChildArgs {
    path: *const libc::c_char,
    argv: *const *const libc::c_char,
    envp: *const *const libc::c_char,
    dir: *const libc::c_char,
    slots: [RawFd; 3],
    /// Where the child writes the errno of the step that failed.
    error: *mut libc::c_int,
}

/// A NULL-terminated array of pointers to `strings`, as `execve` takes.
fn pointers(strings: &[CString]) -> Vec<*const libc::c_char> {
    strings
        .iter()
        .map(|s| s.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect()
}

/// Size of the child's stack: it only makes system calls through libc wrappers.
const STACK: usize = 64 * 1024;

/// Start the program; the child's pid, or the errno of the step that failed (the child, if
/// created, has exited and is reaped here).
pub fn spawn(req: &Request<'_>) -> io::Result<i32> {
    let Some(slots) = SLOTS.get().copied().flatten() else {
        return Err(io::Error::from_raw_os_error(libc::ENOSYS));
    };
    // One spawn at a time uses the slots (the daemon spawns from its loop only; tests do not).
    let _slots_taken = SPAWN_LOCK.lock().unwrap_or_else(PoisonError::into_inner);
    let argv = pointers(req.argv);
    let envp = pointers(req.envp);
    let mut error: libc::c_int = 0;
    let mut args = ChildArgs {
        path: req.path.as_ptr(),
        argv: argv.as_ptr(),
        envp: envp.as_ptr(),
        dir: req.dir.map_or(std::ptr::null(), CStr::as_ptr),
        slots: slots.slots,
        error: &mut error,
    };
    let mut stack = vec![0u8; STACK];
    // The stack grows down: start at its 16-byte aligned end.
    let top = {
        let end = stack.as_mut_ptr().wrapping_add(STACK) as usize;
        (end & !15) as *mut libc::c_void
    };

    // SAFETY: every pointer handed to the child points into `args`, `argv`, `envp`, `req` or
    // `stack`, all alive until `clone` returns, which with CLONE_VFORK is after the child has
    // exec'd or exited. The signal mask is restored before returning.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        // No handler of ours may run on the child's stack in our memory.
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
        let mut pointed = true;
        for (i, &fd) in req.stdio.iter().enumerate() {
            if libc::dup3(fd, slots.slots[i], libc::O_CLOEXEC) < 0 {
                pointed = false;
            }
        }
        let result = if pointed {
            let pid = libc::clone(
                child,
                top,
                libc::CLONE_VM | libc::CLONE_VFORK | libc::CLONE_FILES | libc::SIGCHLD,
                (&mut args as *mut ChildArgs).cast(),
            );
            if pid < 0 {
                Err(io::Error::last_os_error())
            } else {
                Ok(pid)
            }
        } else {
            Err(io::Error::last_os_error())
        };
        // Point the slots back at /dev/null: the child's ends are not ours to hold.
        for slot in slots.slots {
            libc::dup3(slots.null, slot, libc::O_CLOEXEC);
        }
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
        let failed = std::ptr::read_volatile(&error);
        match result {
            Ok(pid) if failed != 0 => {
                let mut status = 0;
                libc::waitpid(pid, &mut status, 0);
                Err(io::Error::from_raw_os_error(failed))
            }
            other => other,
        }
    }
}

/// The child, until `execve`. Only raw calls: it shares our memory and our descriptor table
/// (until it unshares it) while the parent waits.
extern "C" fn child(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` is the `ChildArgs` the parent keeps alive until we exec or exit; every
    // call is async-signal-safe and allocates nothing.
    unsafe {
        let args = &*(arg as *const ChildArgs);
        default_signal_dispositions();
        // Own process group, like Supervisor's setpgrp().
        if libc::setpgid(0, 0) != 0 {
            fail(args);
        }
        // A private table with only the descriptors below the highest slot.
        let first = args.slots.iter().copied().max().unwrap_or(2) + 1;
        if libc::syscall(
            libc::SYS_close_range,
            first as libc::c_uint,
            libc::c_uint::MAX,
            CLOSE_RANGE_UNSHARE,
        ) != 0
        {
            fail(args);
        }
        for (target, &slot) in args.slots.iter().enumerate() {
            if libc::dup2(slot, target as RawFd) < 0 {
                fail(args);
            }
        }
        if libc::syscall(
            libc::SYS_close_range,
            3 as libc::c_uint,
            libc::c_uint::MAX,
            0 as libc::c_uint,
        ) != 0
        {
            fail(args);
        }
        if !args.dir.is_null() && libc::chdir(args.dir) != 0 {
            fail(args);
        }
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        libc::pthread_sigmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
        libc::execve(args.path, args.argv, args.envp);
        fail(args)
    }
}

/// In a child before exec: every caught signal back to its default (the handlers are the
/// daemon's code on the daemon's data), and SIGPIPE, which Rust ignores, as std's spawn does.
/// Ignored signals stay ignored. Only `sigaction`, so async-signal-safe; signals glibc keeps
/// for itself answer EINVAL and are skipped.
pub fn default_signal_dispositions() {
    for sig in 1..=64 {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: sigaction with valid pointers to zero-initialised (plain C) structs.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(sig, std::ptr::null(), &mut sa) != 0 {
                continue;
            }
            let custom = sa.sa_sigaction != libc::SIG_DFL && sa.sa_sigaction != libc::SIG_IGN;
            if custom || sig == libc::SIGPIPE {
                let mut dfl: libc::sigaction = std::mem::zeroed();
                dfl.sa_sigaction = libc::SIG_DFL;
                libc::sigaction(sig, &dfl, std::ptr::null_mut());
            }
        }
    }
}

/// Report the errno of the failed step to the parent and exit.
///
/// # Safety
/// Only in the child, with the parent's `ChildArgs`.
unsafe fn fail(args: &ChildArgs) -> ! {
    // SAFETY: `error` points into the parent's frame, alive while we run.
    unsafe {
        std::ptr::write_volatile(args.error, errno().max(1));
        libc::_exit(127)
    }
}

fn errno() -> libc::c_int {
    // SAFETY: reading the calling thread's errno.
    unsafe { *libc::__errno_location() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

    fn pipe() -> (OwnedFd, OwnedFd) {
        let mut fds = [0; 2];
        // SAFETY: a valid out-array.
        assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
        // SAFETY: just created, owned by nobody else.
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
    }

    fn c(s: &str) -> CString {
        CString::new(s).expect("no NUL")
    }

    fn wait(pid: i32) -> i32 {
        let mut status = 0;
        // SAFETY: our own child.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        status
    }

    #[test]
    fn the_child_sees_only_its_stdio_and_its_environment() -> io::Result<()> {
        reserve();
        if !available() {
            eprintln!("NOTE: no close_range or no low slots here; skipped");
            return Ok(());
        }
        let (out_r, out_w) = pipe();
        let (in_r, _in_w) = pipe();
        let dir = tempfile::tempdir()?;
        let dir_c = c(dir.path().to_str().expect("utf-8"));
        let argv = [
            c("sh"),
            c("-c"),
            c("echo \"$GREETING $(pwd)\"; ls /proc/self/fd | sort -n | tr '\\n' ' '"),
        ];
        let envp = [c("GREETING=hello"), c("PATH=/usr/bin:/bin")];
        let pid = spawn(&Request {
            path: c"/bin/sh",
            argv: &argv,
            envp: &envp,
            stdio: [in_r.as_raw_fd(), out_w.as_raw_fd(), out_w.as_raw_fd()],
            dir: Some(&dir_c),
        })?;
        drop(out_w);
        let mut text = String::new();
        std::fs::File::from(out_r).read_to_string(&mut text)?;
        assert_eq!(wait(pid), 0);
        let canonical = dir.path().canonicalize()?;
        let mut lines = text.lines();
        assert_eq!(
            lines.next(),
            Some(format!("hello {}", canonical.display()).as_str())
        );
        // 0, 1, 2 and the descriptor `ls` opened for /proc/self/fd: nothing of ours.
        assert_eq!(lines.next().map(str::trim), Some("0 1 2 3"));
        Ok(())
    }

    /// The errno of a spawn that must fail, `None` where the fast spawn is unavailable.
    fn failed_spawn(path: &CStr, dir: Option<&CStr>) -> Option<i32> {
        reserve();
        if !available() {
            return None;
        }
        let argv = [c("x")];
        let null = open_null();
        let result = spawn(&Request {
            path,
            argv: &argv,
            envp: &[],
            stdio: [null, null, null],
            dir,
        });
        // SAFETY: ours.
        unsafe { libc::close(null) };
        Some(
            result
                .expect_err("the spawn must fail")
                .raw_os_error()
                .unwrap_or(0),
        )
    }

    #[test]
    fn an_exec_failure_is_its_errno() {
        if let Some(errno) = failed_spawn(c"/nonexistent/nope", None) {
            assert_eq!(errno, libc::ENOENT);
        }
        if let Some(errno) = failed_spawn(c"/etc", None) {
            assert_eq!(errno, libc::EACCES);
        }
    }

    #[test]
    fn a_missing_directory_is_reported() {
        if let Some(errno) = failed_spawn(c"/bin/true", Some(c"/nonexistent/dir")) {
            assert_eq!(errno, libc::ENOENT);
        }
    }

    #[test]
    fn signals_are_default_and_unblocked_in_the_child() -> io::Result<()> {
        reserve();
        if !available() {
            return Ok(());
        }
        let (out_r, out_w) = pipe();
        let null = open_null();
        // SigCgt (caught) and SigBlk (blocked) of the new program: none of ours.
        let argv = [
            c("sh"),
            c("-c"),
            c("grep -E '^Sig(Blk|Ign)' /proc/self/status"),
        ];
        let pid = spawn(&Request {
            path: c"/bin/sh",
            argv: &argv,
            envp: &[],
            stdio: [null, out_w.as_raw_fd(), out_w.as_raw_fd()],
            dir: None,
        })?;
        drop(out_w);
        let mut text = String::new();
        std::fs::File::from(out_r).read_to_string(&mut text)?;
        wait(pid);
        // SAFETY: ours.
        unsafe { libc::close(null) };
        assert!(text.contains("SigBlk:\t0000000000000000"), "{text}");
        // SIGPIPE (bit 13) is not ignored although the test harness ignores it.
        let ign = text
            .lines()
            .find_map(|l| l.strip_prefix("SigIgn:\t"))
            .and_then(|h| u64::from_str_radix(h.trim(), 16).ok())
            .unwrap_or(u64::MAX);
        assert_eq!(ign & (1 << (libc::SIGPIPE - 1)), 0, "{text}");
        Ok(())
    }
}
