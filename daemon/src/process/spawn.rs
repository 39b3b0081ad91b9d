//! Fork/exec of one child, the way Supervisor does it: the command is split with shell rules
//! (no shell runs), the program is looked up on `PATH` and checked in the parent so the common
//! mistakes become a clear `spawnerr`, and the child gets its own process group, the configured
//! user, directory and umask, and pipes for stdin, stdout and stderr.
//!
//! This module only performs the spawn; what a failure means for the process state is decided
//! by [`crate::process::state`].

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::{CString, OsStr, OsString};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::fcntl::OFlag;
use nix::unistd::{Gid, Uid, User};

use crate::config::ProcessConfig;

/// Used when neither the program's environment nor supervisord's has a `PATH`.
const DEFAULT_PATH: &str = "/bin:/usr/bin:/usr/local/bin";

/// A started child and the parent's ends of its pipes.
#[derive(Debug)]
pub struct Spawned {
    pub pid: i32,
    /// `None` for an fcgi program, whose fd 0 is its group's listening socket.
    pub stdin: Option<OwnedFd>,
    pub stdout: OwnedFd,
    /// `None` with `redirect_stderr=true` (the child's fd 2 is the stdout pipe).
    pub stderr: Option<OwnedFd>,
}

/// How long a `PATH` lookup is reused: a burst of spawns of the same command (a start-up of
/// thousands of programs) searches `PATH` once, and a program installed earlier in `PATH` is
/// found within this time, as Supervisor finds it at the next spawn.
const PATH_CACHE_TTL: Duration = Duration::from_secs(1);

/// Bound on the remembered lookups (cleared when full).
const PATH_CACHE_MAX: usize = 1024;

/// Everything about the daemon that a spawn needs besides the program's own config.
#[derive(Debug, Clone, Default)]
pub struct SpawnContext {
    /// supervisord's own environment at startup.
    pub base_env: Vec<(OsString, OsString)>,
    /// SUPERVISOR_SERVER_URL when the program does not set `serverurl=`.
    pub server_url: Option<String>,
    /// Recent `PATH` lookups: (PATH, program) -> the file found, and when.
    path_cache: RefCell<HashMap<(OsString, String), (PathBuf, Instant)>>,
}

impl SpawnContext {
    pub fn from_current_process(server_url: Option<String>) -> SpawnContext {
        SpawnContext {
            // supervisord's own systemd notification socket is not passed on (as sd_notify's
            // `unset_environment`): a child calling sd_notify would speak for supervisord.
            base_env: std::env::vars_os()
                .filter(|(k, _)| k != crate::supervisor::sd_notify::NOTIFY_SOCKET)
                .collect(),
            server_url,
            path_cache: RefCell::default(),
        }
    }
}

/// Split `command` like Python's `shlex.split` and resolve argv[0].
/// Errors carry Supervisor's wording; they become the process's `spawnerr`.
pub fn resolve_command(
    config: &ProcessConfig,
    base_env: &[(OsString, OsString)],
) -> Result<(PathBuf, Vec<String>), String> {
    resolve_with(config, base_env, None)
}

/// [`resolve_command`] reusing the `PATH` lookups of the last [`PATH_CACHE_TTL`].
fn resolve_cached(
    config: &ProcessConfig,
    ctx: &SpawnContext,
) -> Result<(PathBuf, Vec<String>), String> {
    resolve_with(config, &ctx.base_env, Some(&ctx.path_cache))
}

type PathCache = RefCell<HashMap<(OsString, String), (PathBuf, Instant)>>;

fn resolve_with(
    config: &ProcessConfig,
    base_env: &[(OsString, OsString)],
    cache: Option<&PathCache>,
) -> Result<(PathBuf, Vec<String>), String> {
    let argv = shlex::split(&config.command).ok_or_else(|| {
        format!(
            "can't parse command {}: No closing quotation",
            py_repr(&config.command)
        )
    })?;
    let Some(program) = argv.first() else {
        return Err("command is empty".to_string());
    };
    let filename = if program.contains('/') {
        PathBuf::from(program)
    } else {
        let path = config
            .environment
            .iter()
            .rev()
            .find(|(k, _)| k == "PATH")
            .map(|(_, v)| OsString::from(v))
            .or_else(|| {
                base_env
                    .iter()
                    .rev()
                    .find(|(k, _)| k == "PATH")
                    .map(|(_, v)| v.clone())
            })
            .unwrap_or_else(|| OsString::from(DEFAULT_PATH));
        let key = (path, program.clone());
        let now = Instant::now();
        let cached = cache.and_then(|c| {
            c.borrow()
                .get(&key)
                .filter(|(_, at)| now.saturating_duration_since(*at) < PATH_CACHE_TTL)
                .map(|(found, _)| found.clone())
        });
        if let Some(found) = cached {
            if check_executable(&found).is_ok() {
                return Ok((found, argv));
            }
            // Gone or changed since: search again.
        }
        let found = search_path(program, &key.0);
        if let (Some(c), Some(f)) = (cache, &found) {
            let mut c = c.borrow_mut();
            if c.len() >= PATH_CACHE_MAX {
                c.clear();
            }
            c.insert(key, (f.clone(), now));
        }
        found.unwrap_or_else(|| PathBuf::from(program))
    };
    check_executable(&filename)?;
    Ok((filename, argv))
}

fn search_path(program: &str, path: &OsStr) -> Option<PathBuf> {
    std::env::split_paths(path)
        .map(|dir| dir.join(program))
        .find(|candidate| std::fs::metadata(candidate).is_ok())
}

/// Supervisor's `check_execv_args`, in its order.
fn check_executable(filename: &Path) -> Result<(), String> {
    let shown = py_repr(&filename.to_string_lossy());
    let meta = std::fs::metadata(filename).map_err(|_| format!("can't find command {shown}"))?;
    if meta.is_dir() {
        return Err(format!("command at {shown} is a directory"));
    }
    if meta.permissions().mode() & 0o111 == 0 {
        return Err(format!("command at {shown} is not executable"));
    }
    if nix::unistd::access(filename, nix::unistd::AccessFlags::X_OK).is_err() {
        return Err(format!("no permission to run command {shown}"));
    }
    Ok(())
}

/// Python's `repr()` of a str, which is how Supervisor quotes names in messages.
pub use supervisor_protocol::pyrepr::repr_str as py_repr;

/// The child's environment, in Supervisor's order: supervisord's environment, then the
/// SUPERVISOR_* variables, then the merged `environment=` (which wins, as in 4.3.0).
pub fn child_environment(config: &ProcessConfig, ctx: &SpawnContext) -> Vec<(OsString, OsString)> {
    let mut env: Vec<(OsString, OsString)> = ctx.base_env.clone();
    let mut set = |k: &str, v: &str| {
        env.retain(|(ek, _)| ek != k);
        env.push((k.into(), v.into()));
    };
    set("SUPERVISOR_ENABLED", "1");
    if let Some(url) = config.serverurl.as_ref().or(ctx.server_url.as_ref()) {
        set("SUPERVISOR_SERVER_URL", url);
    }
    set("SUPERVISOR_PROCESS_NAME", &config.name);
    set("SUPERVISOR_GROUP_NAME", &config.group_name);
    for (k, v) in &config.environment {
        set(k, v);
    }
    env
}

struct Credentials {
    uid: Uid,
    gid: Gid,
    name: CString,
}

fn resolve_user(user: &str) -> Result<Credentials, String> {
    let found = match user.parse::<u32>() {
        Ok(uid) => User::from_uid(Uid::from_raw(uid)),
        Err(_) => User::from_name(user),
    };
    let entry = match found {
        Ok(Some(u)) => u,
        _ => return Err(format!("couldn't setuid to {user}: no such user")),
    };
    let current = nix::unistd::geteuid();
    if !current.is_root() && current != entry.uid {
        return Err(format!(
            "couldn't setuid to {}: Can't drop privilege as nonroot user",
            entry.uid
        ));
    }
    let name = CString::new(entry.name.as_bytes())
        .map_err(|_| format!("couldn't setuid to {user}: bad user name"))?;
    Ok(Credentials {
        uid: entry.uid,
        gid: entry.gid,
        name,
    })
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(io::Error::from)
}

/// Start the child. `Err` is the `spawnerr` text (the process then goes to BACKOFF).
pub fn spawn(config: &ProcessConfig, ctx: &SpawnContext) -> Result<Spawned, String> {
    spawn_with_stdin(config, ctx, None)
}

/// [`spawn`], with `socket` (an fcgi group's listening socket) as the child's fd 0 instead of
/// a stdin pipe, as upstream's `FastCGISubprocess`.
pub fn spawn_with_stdin(
    config: &ProcessConfig,
    ctx: &SpawnContext,
    socket: Option<BorrowedFd<'_>>,
) -> Result<Spawned, String> {
    spawn_with_env(config, ctx, socket, &[])
}

/// [`spawn_with_stdin`] with extra environment variables on top of the program's (extension
/// `notify` checks: `NOTIFY_SOCKET`).
pub fn spawn_with_env(
    config: &ProcessConfig,
    ctx: &SpawnContext,
    socket: Option<BorrowedFd<'_>>,
    extra_env: &[(OsString, OsString)],
) -> Result<Spawned, String> {
    let (filename, argv) = resolve_cached(config, ctx)?;
    // Switching to the user we already are is a no-op, as in Supervisor's drop_privileges().
    let creds = match &config.user {
        Some(u) => Some(resolve_user(u)?).filter(|c| c.uid != nix::unistd::geteuid()),
        None => None,
    };
    if let Some(dir) = &config.directory {
        // Checked here so the failure names the directory, not the command.
        let errno = match std::fs::metadata(dir) {
            Ok(m) if m.is_dir() => None,
            Ok(_) => Some(libc::ENOTDIR),
            Err(e) => Some(e.raw_os_error().unwrap_or(libc::ENOENT)),
        };
        if let Some(errno) = errno {
            return Err(format!(
                "couldn't chdir to {}: {}",
                dir.display(),
                errno_name(errno)
            ));
        }
    }
    let directory = match &config.directory {
        Some(d) => Some(
            CString::new(d.as_os_str().as_bytes())
                .map_err(|_| format!("couldn't chdir to {}: bad path", d.display()))?,
        ),
        None => None,
    };
    let umask = config.umask;
    // rlimit_*= and the cgroup (extensions): checked and prepared here, applied in the child.
    let (limits, limits_report) = match super::limits::prepare(config)? {
        Some((child, report)) => (Some(child), Some(report)),
        None => (None, None),
    };

    let (child_stdin, stdin_w) = match socket {
        // A dup for the child (closed here once it is spawned); the group keeps its own.
        Some(fd) => (
            fd.try_clone_to_owned()
                .map_err(|e| format!("cannot share the FastCGI socket: {e}"))?,
            None,
        ),
        None => {
            let (r, w) = pipe().map_err(|e| format!("pipe error: {e}"))?;
            (r, Some(w))
        }
    };
    let (stdout_r, stdout_w) = pipe().map_err(|e| format!("pipe error: {e}"))?;
    let (stderr_r, child_stderr) = if config.redirect_stderr {
        let dup = stdout_w
            .try_clone()
            .map_err(|e| format!("pipe error: {e}"))?;
        (None, dup)
    } else {
        let (r, w) = pipe().map_err(|e| format!("pipe error: {e}"))?;
        (Some(r), w)
    };

    let simple = creds.is_none() && umask.is_none() && limits.is_none();
    // The child's start time lies between the two readings of each spawn (see
    // `registry::record`).
    let (pid, window) = if simple && super::shared_table::available() {
        // The child gets a private table with only its three descriptors, instead of a copy
        // of ours (see `shared_table`).
        let stdio = [
            child_stdin.as_raw_fd(),
            stdout_w.as_raw_fd(),
            child_stderr.as_raw_fd(),
        ];
        let env = env_block(config, ctx, extra_env);
        let spawned = spawn_shared(&filename, &argv, &env, stdio, directory.as_deref());
        drop((child_stdin, stdout_w, child_stderr));
        spawned?
    } else {
        let mut cmd = Command::new(&filename);
        cmd.arg0(&argv[0])
            .args(&argv[1..])
            .env_clear()
            .envs(child_environment(config, ctx))
            .envs(extra_env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::from(child_stdin))
            .stdout(Stdio::from(stdout_w))
            .stderr(Stdio::from(child_stderr));
        // Own process group, like Supervisor's setpgrp(), so stopasgroup/killasgroup reach every
        // descendant.
        cmd.process_group(0);
        if simple {
            // Nothing that needs code in the child: std can use posix_spawn (vfork-speed), which
            // keeps spawning fast however large the daemon grows.
            if let Some(dir) = &config.directory {
                cmd.current_dir(dir);
            }
        } else {
            // SAFETY: the closure runs in the forked child before exec and only calls
            // async-signal-safe functions (sigaction, write, setrlimit, initgroups, setgid, setuid, chdir,
            // umask) on data prepared before the fork; it allocates nothing. Order: limits (cgroup,
            // rlimits; while still privileged), then as Supervisor: user, directory, umask.
            unsafe {
                cmd.pre_exec(move || {
                    // The daemon's own handlers (the event loop's) must not run in the child: a
                    // stop signal that reaches it before exec would be swallowed and the program
                    // would run until SIGKILL (upstream's quirk, docs/compat.md). std has just
                    // unblocked every signal; make the caught ones fatal again first.
                    super::shared_table::default_signal_dispositions();
                    if let Some(l) = &limits {
                        l.apply()?;
                    }
                    if let Some(c) = &creds {
                        if libc::initgroups(c.name.as_ptr(), c.gid.as_raw()) != 0
                            || libc::setgid(c.gid.as_raw()) != 0
                            || libc::setuid(c.uid.as_raw()) != 0
                        {
                            return Err(io::Error::last_os_error());
                        }
                    }
                    if let Some(dir) = &directory {
                        if libc::chdir(dir.as_ptr()) != 0 {
                            return Err(io::Error::last_os_error());
                        }
                    }
                    if let Some(mask) = umask {
                        libc::umask(mask as libc::mode_t);
                    }
                    Ok(())
                });
            }
        }
        let before = super::registry::boot_ticks();
        let spawned = cmd.spawn();
        let window = before.zip(super::registry::boot_ticks());
        let child = spawned.map_err(|e| {
            let errno = e.raw_os_error().unwrap_or(0);
            limits_report
                .as_ref()
                .and_then(|r| r.explain(errno))
                .unwrap_or_else(|| format!("couldn't exec {}: {}", argv[0], errno_name(errno)))
        })?;
        let pid = i32::try_from(child.id()).map_err(|_| "pid out of range".to_string())?;
        // The std handle is dropped on purpose: the daemon reaps with waitpid(-1) itself.
        drop(child);
        (pid, window)
    };
    // Best effort: a record that cannot be written only weakens the clean-up after a crash
    // of supervisord itself (the start-up already warned if the file is unwritable).
    let _ = super::registry::record(
        pid,
        &format!("{}:{}", config.group_name, config.name),
        window,
    );
    Ok(Spawned {
        pid,
        stdin: stdin_w,
        stdout: stdout_r,
        stderr: stderr_r,
    })
}

/// Start `filename` through [`super::shared_table`]: its pid and the boot-clock window of the
/// spawn, or the `spawnerr` text.
fn spawn_shared(
    filename: &Path,
    argv: &[String],
    env: &[CString],
    stdio: [std::os::fd::RawFd; 3],
    dir: Option<&std::ffi::CStr>,
) -> Result<(i32, Option<(u64, u64)>), String> {
    let exec_err = |what: &str| format!("couldn't exec {}: {what}", argv[0]);
    let path = CString::new(filename.as_os_str().as_bytes()).map_err(|_| exec_err("EINVAL"))?;
    let args = argv
        .iter()
        .map(|a| CString::new(a.as_bytes()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| exec_err("EINVAL"))?;
    let before = super::registry::boot_ticks();
    let spawned = super::shared_table::spawn(&super::shared_table::Request {
        path: &path,
        argv: &args,
        envp: env,
        stdio,
        dir,
    });
    let window = before.zip(super::registry::boot_ticks());
    let pid = spawned.map_err(|e| exec_err(&errno_name(e.raw_os_error().unwrap_or(0))))?;
    Ok((pid, window))
}

/// The child's environment as `KEY=VALUE` strings, as std's `Command` would pass it
/// (`env_clear` + `envs`: a later value wins, sorted by name).
fn env_block(
    config: &ProcessConfig,
    ctx: &SpawnContext,
    extra_env: &[(OsString, OsString)],
) -> Vec<CString> {
    let mut env = std::collections::BTreeMap::new();
    for (k, v) in child_environment(config, ctx)
        .into_iter()
        .chain(extra_env.iter().cloned())
    {
        env.insert(k, v);
    }
    env.into_iter()
        .filter_map(|(k, v)| {
            let mut kv = k.into_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            // A NUL cannot be passed; std's Command refuses the whole spawn instead.
            CString::new(kv).ok()
        })
        .collect()
}

/// `errno.errorcode` style name, as Supervisor prints in spawn failures.
pub fn errno_name(code: i32) -> String {
    let e = nix::errno::Errno::from_raw(code);
    let name = format!("{e:?}");
    if name
        .chars()
        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    {
        name
    } else {
        format!("errno {code}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn py_repr_quotes_like_python() {
        assert_eq!(py_repr("abc"), "'abc'");
        assert_eq!(py_repr("it's"), "\"it's\"");
        assert_eq!(py_repr("a\\b"), "'a\\\\b'");
    }

    #[test]
    fn check_messages() {
        let dir = std::env::temp_dir();
        let msg = check_executable(&dir).unwrap_err();
        assert!(msg.contains("is a directory"), "{msg}");
        let missing = dir.join("surely-not-here-xyz");
        let msg = check_executable(&missing).unwrap_err();
        assert!(msg.starts_with("can't find command '"), "{msg}");
        assert!(check_executable(Path::new("/bin/sh")).is_ok());
    }

    #[test]
    fn path_lookups_are_reused_and_searched_again_when_gone() {
        let dir = tempfile::tempdir().unwrap();
        let (first, second) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::create_dir_all(&first).unwrap();
        std::fs::create_dir_all(&second).unwrap();
        let install = |d: &Path| {
            let f = d.join("prog-xyz");
            std::fs::write(&f, "#!/bin/sh\n").unwrap();
            std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o755)).unwrap();
            f
        };
        let in_second = install(&second);
        let path = std::env::join_paths([&first, &second]).unwrap();
        let ctx = SpawnContext {
            base_env: vec![("PATH".into(), path)],
            ..SpawnContext::default()
        };
        let mut config = crate::process::state::tests::config("g", "p");
        config.command = "prog-xyz --flag".into();
        let (found, argv) = resolve_cached(&config, &ctx).unwrap();
        assert_eq!((found, argv[1].as_str()), (in_second.clone(), "--flag"));
        // Reused within the TTL even though an earlier directory now has it too...
        let in_first = install(&first);
        assert_eq!(resolve_cached(&config, &ctx).unwrap().0, in_second);
        // ...but not once the cached file is gone.
        std::fs::remove_file(&in_second).unwrap();
        assert_eq!(resolve_cached(&config, &ctx).unwrap().0, in_first);
        // The uncached lookup always searches.
        assert_eq!(resolve_command(&config, &ctx.base_env).unwrap().0, in_first);
    }

    #[test]
    fn errno_names() {
        assert_eq!(errno_name(libc::ENOENT), "ENOENT");
        assert_eq!(errno_name(libc::EACCES), "EACCES");
    }
}
