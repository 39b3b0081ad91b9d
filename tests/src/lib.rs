//! Harness for the end-to-end tests: finds the built binaries and the Python venv, writes
//! configs into temporary directories, starts daemons and waits on what they log.
//!
//! Every scenario is meant to be written once against [`Kind`] and run for both
//! implementations: the Python run proves the assertion is right, the Rust run proves we match.
//!
//! Cleanup: each daemon is started in its own process group and with a unique
//! `SUPERVISOR_RS_TEST_TAG` environment variable, which supervisord passes on to every child.
//! Dropping a [`Daemon`] SIGKILLs the daemon's group and then every process on the machine
//! whose initial environment carries that tag (children lead their own process groups, and
//! orphaned grandchildren are reparented away, so the group alone would not be enough).
//! A failing test's temp dir is kept (and its path printed) when `SUPERVISOR_RS_KEEP_TMP=1`.

pub mod rpc;

use std::fmt;
use std::fs;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// Placeholder replaced by the test's temporary directory in config texts.
pub const DIR: &str = "{dir}";

/// How often wait loops poll.
const POLL: Duration = Duration::from_millis(25);

/// Shorthand for `Duration::from_secs_f64`.
pub fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

// ---------------------------------------------------------------------------------------------
// Locating binaries
// ---------------------------------------------------------------------------------------------

/// Which supervisord implementation a test runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Our Rust build (`target/<profile>/supervisord`).
    Ours,
    /// Python Supervisor 4.3.0 from the venv.
    Python,
}

impl Kind {
    /// Path of this implementation's executable `name` (e.g. `supervisord`, `supervisorctl`).
    pub fn bin(self, name: &str) -> PathBuf {
        match self {
            Kind::Ours => ours_bin(name),
            Kind::Python => python_bin(name),
        }
    }

    /// Path of this implementation's `supervisord`.
    pub fn supervisord(self) -> PathBuf {
        self.bin("supervisord")
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Ours => "ours",
            Kind::Python => "python",
        })
    }
}

/// The workspace root (parent of the `tests` crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests crate has a parent directory")
        .to_path_buf()
}

/// Directory of the test fixtures (`tests/fixtures`).
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// Our binary `name`: in `$SUPERVISOR_RS_BIN_DIR` when set (the benchmark points it at
/// `target/release`), else next to the running test executable
/// (`target/<profile>/deps/<test>` → `target/<profile>/<name>`).
#[track_caller]
pub fn ours_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let profile_dir = match std::env::var_os("SUPERVISOR_RS_BIN_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => exe
            .parent()
            .and_then(Path::parent)
            .expect("test executable lives in target/<profile>/deps")
            .to_path_buf(),
    };
    let path = profile_dir.join(name);
    assert!(
        path.is_file(),
        "our binary {} is missing: run scripts/test.sh (or cargo build --workspace --bins) first",
        path.display()
    );
    path
}

/// The venv holding Python supervisor 4.3.0: `$SUPERVISOR_RS_VENV`, else `<workspace>/.venv`.
pub fn venv_dir() -> PathBuf {
    match std::env::var_os("SUPERVISOR_RS_VENV") {
        Some(v) if !v.is_empty() => PathBuf::from(v),
        _ => workspace_root().join(".venv"),
    }
}

/// Python's executable `name` from the venv's `bin/`; panics (a failure, not a skip) if absent.
#[track_caller]
pub fn python_bin(name: &str) -> PathBuf {
    let path = venv_dir().join("bin").join(name);
    assert!(
        path.is_file(),
        "Python reference binary {} is missing: run scripts/test.sh (it creates the venv with \
         supervisor==4.3.0), or point SUPERVISOR_RS_VENV at such a venv",
        path.display()
    );
    path
}

/// The venv's Python interpreter (for fixture scripts).
pub fn venv_python() -> PathBuf {
    python_bin("python")
}

// ---------------------------------------------------------------------------------------------
// Running a binary to completion
// ---------------------------------------------------------------------------------------------

/// What a finished (or timed-out) command produced.
#[derive(Debug)]
pub struct RunOutput {
    /// Exit status; `None` if it had to be killed at the timeout.
    pub status: Option<ExitStatus>,
    pub stdout: String,
    pub stderr: String,
    /// How long it ran.
    pub elapsed: Duration,
}

impl RunOutput {
    /// Exit code if it exited normally.
    pub fn code(&self) -> Option<i32> {
        self.status.and_then(|s| s.code())
    }

    /// stdout and stderr together (stdout first).
    pub fn combined(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

impl fmt::Display for RunOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "status: {:?} after {:.2?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.status, self.elapsed, self.stdout, self.stderr
        )
    }
}

/// Runs `program args` in `cwd`, with stdin closed, capturing stdout/stderr; kills its whole
/// process group if it is still running after `timeout`.
pub fn run(program: &Path, args: &[&str], cwd: &Path, timeout: Duration) -> RunOutput {
    let mut cmd = Command::new(program);
    cmd.args(args).current_dir(cwd);
    run_command(cmd, timeout)
}

/// [`run`] for a prepared command (its stdio is overridden).
pub fn run_command(mut cmd: Command, timeout: Duration) -> RunOutput {
    let start = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let out = reader_thread(child.stdout.take().expect("piped stdout"));
    let err = reader_thread(child.stderr.take().expect("piped stderr"));
    let pgid = child.id() as i32;
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break Some(status);
        }
        if start.elapsed() >= timeout {
            kill_group(pgid, libc::SIGKILL);
            let _ = child.wait();
            break None;
        }
        thread::sleep(POLL);
    };
    let elapsed = start.elapsed();
    // Grandchildren may still hold the pipes; don't let them hang us.
    kill_group(pgid, libc::SIGKILL);
    RunOutput {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
        elapsed,
    }
}

fn reader_thread<R: Read + Send + 'static>(mut r: R) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    })
}

// ---------------------------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------------------------

fn kill_group(pgid: i32, sig: i32) {
    if pgid > 1 {
        // SAFETY: plain syscall; ESRCH is fine.
        unsafe {
            libc::kill(-pgid, sig);
        }
    }
}

/// Sends `sig` to a single process.
pub fn kill_pid(pid: i32, sig: i32) -> bool {
    // SAFETY: plain syscall.
    pid > 0 && unsafe { libc::kill(pid, sig) } == 0
}

/// Fields of `/proc/<pid>/stat` after the command name.
fn proc_stat_fields(pid: i32) -> Option<Vec<String>> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    Some(rest.split_whitespace().map(str::to_owned).collect())
}

/// True if `pid` exists and is not a zombie.
pub fn pid_alive(pid: i32) -> bool {
    matches!(proc_stat_fields(pid), Some(f) if f.first().map(String::as_str) != Some("Z"))
}

/// Process group id of `pid`, if it exists.
pub fn pgid_of(pid: i32) -> Option<i32> {
    proc_stat_fields(pid)?.get(2)?.parse().ok()
}

/// Parent pid of `pid`, if it exists.
pub fn ppid_of(pid: i32) -> Option<i32> {
    proc_stat_fields(pid)?.get(1)?.parse().ok()
}

/// Live (non-zombie) pids whose process group is `pgid`.
pub fn group_members(pgid: i32) -> Vec<i32> {
    all_pids()
        .into_iter()
        .filter(|&p| pgid_of(p) == Some(pgid) && pid_alive(p))
        .collect()
}

fn all_pids() -> Vec<i32> {
    let Ok(rd) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    rd.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}

/// Live (non-zombie) pids whose initial environment contains `KEY=VALUE` exactly.
pub fn pids_with_env(key: &str, value: &str) -> Vec<i32> {
    let needle = format!("{key}={value}");
    all_pids()
        .into_iter()
        .filter(|&pid| {
            fs::read(format!("/proc/{pid}/environ"))
                .map(|env| env.split(|&b| b == 0).any(|kv| kv == needle.as_bytes()))
                .unwrap_or(false)
                && pid_alive(pid)
        })
        .collect()
}

/// Polls `cond` every 25 ms until it returns `Some` or `timeout` passes.
pub fn wait_for<T>(timeout: Duration, mut cond: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = cond() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(POLL);
    }
}

// ---------------------------------------------------------------------------------------------
// Daemon
// ---------------------------------------------------------------------------------------------

/// A `[supervisord]` section that keeps everything inside the test directory.
/// Append program sections to it; `{dir}` is replaced by [`Daemon`].
pub const SUPERVISORD_SECTION: &str = "\
[supervisord]
logfile={dir}/supervisord.log
pidfile={dir}/supervisord.pid
childlogdir={dir}
loglevel=info
";

/// [`SUPERVISORD_SECTION`] followed by `sections`.
pub fn config_with(sections: &str) -> String {
    format!("{SUPERVISORD_SECTION}\n{sections}")
}

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// Where [`Daemon::spawn_with`] sends the daemon's stdout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Capture {
    /// Straight into `<dir>/stdout.txt` (a regular file).
    File,
    /// Into a pipe whose contents a thread appends to `<dir>/stdout.txt`.
    Pipe,
}

/// One supervisord run in its own temporary directory.
pub struct Daemon {
    pub kind: Kind,
    dir: Option<tempfile::TempDir>,
    dir_path: PathBuf,
    conf: PathBuf,
    main_log: PathBuf,
    tag: String,
    child: Option<Child>,
    exit: Option<ExitStatus>,
    run_as: Option<(u32, u32)>,
}

impl Daemon {
    /// Writes `config` (with `{dir}` replaced) to `<tmp>/supervisord.conf` without starting.
    /// The `[supervisord]` section must set `logfile=` (use [`config_with`]).
    pub fn prepare(kind: Kind, config: &str) -> Daemon {
        let dir = tempfile::Builder::new()
            .prefix(&format!("sv-{kind}-"))
            .tempdir()
            .expect("create temp dir");
        let dir_path = dir.path().to_path_buf();
        let text = config.replace(DIR, dir_path.to_str().expect("utf-8 temp dir"));
        let conf = dir_path.join("supervisord.conf");
        fs::write(&conf, &text).expect("write config");
        let main_log = PathBuf::from(
            ini_value(&text, "supervisord", "logfile")
                .expect("test config must set logfile= in [supervisord] (see config_with)"),
        );
        let tag = format!(
            "{}-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::SeqCst),
            dir_path.file_name().unwrap().to_string_lossy()
        );
        Daemon {
            kind,
            dir: Some(dir),
            dir_path,
            conf,
            main_log,
            tag,
            child: None,
            exit: None,
            run_as: None,
        }
    }

    /// [`Daemon::prepare`] then [`Daemon::spawn`].
    pub fn start(kind: Kind, config: &str) -> Daemon {
        let mut d = Daemon::prepare(kind, config);
        d.spawn();
        d
    }

    /// Starts `supervisord -n -c <conf>` in the temp dir, stdout/stderr to `stdout.txt` and
    /// `stderr.txt` there, in a new process group.
    pub fn spawn(&mut self) {
        self.spawn_with(&["-n"], Capture::File);
    }

    /// Starts `supervisord <args> -c <conf>` (no implicit `-n`: without it the daemon forks
    /// away and the started process is only the launcher; the daemon still carries the
    /// environment tag, so dropping cleans it up). stderr goes to `stderr.txt`; stdout to
    /// `stdout.txt` directly ([`Capture::File`]) or through a pipe copied into it
    /// ([`Capture::Pipe`], for tests that need a non-regular stdout).
    pub fn spawn_with(&mut self, args: &[&str], stdout: Capture) {
        assert!(self.child.is_none(), "daemon already started");
        let exe = self.kind.supervisord();
        // O_APPEND, like `>>`: a child log opened on /dev/stdout gets its own file offset,
        // and without append the daemon's own writes would overwrite the child's output.
        let open = |name: &str| {
            fs::OpenOptions::new()
                .create(true)
                .truncate(true)
                .write(true)
                .open(self.dir_path.join(name))
                .and_then(|f| {
                    drop(f);
                    fs::OpenOptions::new()
                        .append(true)
                        .open(self.dir_path.join(name))
                })
                .unwrap_or_else(|e| panic!("{name}: {e}"))
        };
        let out = open("stdout.txt");
        let err = open("stderr.txt");
        let mut cmd = Command::new(&exe);
        cmd.args(args)
            .arg("-c")
            .arg(&self.conf)
            .current_dir(&self.dir_path)
            .env("SUPERVISOR_RS_TEST_TAG", &self.tag)
            .stdin(Stdio::null())
            .stderr(err)
            .process_group(0);
        if let Some((uid, gid)) = self.run_as {
            // std drops root's supplementary groups (setgroups(0)) before setuid.
            cmd.uid(uid).gid(gid);
        }
        match stdout {
            Capture::File => {
                cmd.stdout(out.try_clone().expect("clone stdout.txt handle"));
            }
            Capture::Pipe => {
                cmd.stdout(Stdio::piped());
            }
        }
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", exe.display()));
        if let Some(mut pipe) = child.stdout.take() {
            let mut out = out;
            // Ends when every writer (daemon and children) has closed the pipe.
            thread::spawn(move || {
                let _ = std::io::copy(&mut pipe, &mut out);
            });
        }
        self.child = Some(child);
    }

    /// Makes the next spawn run supervisord as `uid`/`gid` (needs root). The temp dir is
    /// made world-writable so that the daemon can create its logs there.
    pub fn run_as(&mut self, uid: u32, gid: u32) {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&self.dir_path, fs::Permissions::from_mode(0o777))
            .expect("chmod temp dir");
        self.run_as = Some((uid, gid));
    }

    /// The temporary directory (what `{dir}` was replaced with).
    pub fn dir(&self) -> &Path {
        &self.dir_path
    }

    /// `<dir>/<name>`.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir_path.join(name)
    }

    /// The `SUPERVISOR_RS_TEST_TAG` value this daemon and its children carry.
    pub fn tag(&self) -> &str {
        &self.tag
    }

    /// The daemon's pid (panics if not started).
    pub fn pid(&self) -> i32 {
        self.child.as_ref().expect("daemon not started").id() as i32
    }

    /// Current contents of the main log file ("" if it does not exist yet).
    pub fn log_text(&self) -> String {
        read_lossy(&self.main_log)
    }

    /// What the daemon wrote to stdout so far.
    pub fn stdout_text(&self) -> String {
        read_lossy(&self.path("stdout.txt"))
    }

    /// What the daemon wrote to stderr so far.
    pub fn stderr_text(&self) -> String {
        read_lossy(&self.path("stderr.txt"))
    }

    /// Main log, stdout and stderr, for failure messages.
    pub fn diagnostics(&self) -> String {
        format!(
            "[{} supervisord, dir {}]\n--- main log ---\n{}--- stdout ---\n{}--- stderr ---\n{}",
            self.kind,
            self.dir_path.display(),
            self.log_text(),
            self.stdout_text(),
            self.stderr_text()
        )
    }

    /// Parsed main-log entries.
    pub fn entries(&self) -> Vec<LogEntry> {
        parse_log(&self.log_text())
    }

    /// Normalised state events of the main log (see [`state_events`]).
    pub fn events(&self) -> Vec<StateEvent> {
        state_events(&self.log_text())
    }

    /// Polls the main log until `pred(log)` holds; returns the log text, or an error with the
    /// diagnostics. Fails early if the daemon exits meanwhile.
    pub fn wait_log_for(
        &mut self,
        what: &str,
        timeout: Duration,
        mut pred: impl FnMut(&str) -> bool,
    ) -> Result<String, String> {
        let deadline = Instant::now() + timeout;
        loop {
            let log = self.log_text();
            if pred(&log) {
                return Ok(log);
            }
            let exited = self.try_exit();
            if exited.is_some() {
                // One last look: the line may have been written just before exiting.
                let log = self.log_text();
                if pred(&log) {
                    return Ok(log);
                }
            }
            if exited.is_some() || Instant::now() >= deadline {
                return Err(format!(
                    "waited {timeout:?} for {what}: {}\n{}",
                    match exited {
                        Some(st) => format!("daemon exited ({st})"),
                        None => "timed out".to_owned(),
                    },
                    self.diagnostics()
                ));
            }
            thread::sleep(POLL);
        }
    }

    /// Polls the main log until it contains `needle`.
    pub fn wait_log(&mut self, needle: &str, timeout: Duration) -> Result<String, String> {
        self.wait_log_for(&format!("{needle:?} in the main log"), timeout, |l| {
            l.contains(needle)
        })
    }

    /// Polls the main log until it contains `needle` at least `n` times.
    pub fn wait_log_count(
        &mut self,
        needle: &str,
        n: usize,
        timeout: Duration,
    ) -> Result<String, String> {
        self.wait_log_for(&format!("{n} x {needle:?} in the main log"), timeout, |l| {
            l.matches(needle).count() >= n
        })
    }

    /// [`Daemon::wait_log`] that panics with the diagnostics on failure.
    #[track_caller]
    pub fn expect_log(&mut self, needle: &str, timeout: Duration) -> String {
        match self.wait_log(needle, timeout) {
            Ok(log) => log,
            Err(e) => panic!("{e}"),
        }
    }

    /// Starts supervisord again (`-n`, same directory and config) once the previous run has
    /// exited, e.g. after it was SIGKILLed. stdout.txt/stderr.txt start afresh; the main log
    /// is kept (the daemon appends to it).
    #[track_caller]
    pub fn respawn(&mut self) {
        assert!(
            self.try_exit().is_some(),
            "respawn: the previous daemon is still running"
        );
        self.child = None;
        self.exit = None;
        self.spawn();
    }

    /// Sends `sig` to the daemon process.
    #[track_caller]
    pub fn signal(&self, sig: i32) {
        assert!(
            kill_pid(self.pid(), sig),
            "kill({}, {sig}) failed",
            self.pid()
        );
    }

    /// Exit status if the daemon has exited (reaps it).
    pub fn try_exit(&mut self) -> Option<ExitStatus> {
        if self.exit.is_none() {
            if let Some(child) = self.child.as_mut() {
                self.exit = child.try_wait().expect("try_wait");
            }
        }
        self.exit
    }

    /// Waits up to `timeout` for the daemon to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        wait_for(timeout, || self.try_exit())
    }

    /// SIGTERM, then waits up to `timeout` for exit; panics with the diagnostics if it
    /// does not exit in time.
    #[track_caller]
    pub fn stop_within(&mut self, timeout: Duration) -> ExitStatus {
        if let Some(st) = self.try_exit() {
            return st;
        }
        self.signal(libc::SIGTERM);
        match self.wait_exit(timeout) {
            Some(st) => st,
            None => panic!(
                "daemon did not exit within {timeout:?} of SIGTERM\n{}",
                self.diagnostics()
            ),
        }
    }

    /// [`Daemon::stop_within`] with a 15 s timeout.
    #[track_caller]
    pub fn stop(&mut self) -> ExitStatus {
        self.stop_within(secs(15.0))
    }

    /// Live processes started by this daemon (found by the environment tag), not counting
    /// the daemon itself. Relies on supervisord passing its environment to children.
    pub fn descendants(&self) -> Vec<i32> {
        let me = self.child.as_ref().map(|c| c.id() as i32);
        pids_with_env("SUPERVISOR_RS_TEST_TAG", &self.tag)
            .into_iter()
            .filter(|&p| Some(p) != me)
            .collect()
    }

    /// Runs `supervisord -n -c <conf>` (not via [`Daemon::spawn`]) to completion or `timeout`,
    /// capturing stdout/stderr; for configurations that must be rejected.
    pub fn run_to_exit(&self, timeout: Duration) -> RunOutput {
        let mut cmd = Command::new(self.kind.supervisord());
        cmd.arg("-n")
            .arg("-c")
            .arg(&self.conf)
            .current_dir(&self.dir_path)
            .env("SUPERVISOR_RS_TEST_TAG", &self.tag);
        run_command(cmd, timeout)
    }

    /// Kills the daemon's process group and everything carrying this daemon's tag.
    pub fn kill_all(&mut self) {
        if let Some(child) = self.child.as_mut() {
            kill_group(child.id() as i32, libc::SIGKILL);
            let _ = child.kill();
            if let Ok(st) = child.wait() {
                self.exit.get_or_insert(st);
            }
        }
        for _ in 0..3 {
            let pids = pids_with_env("SUPERVISOR_RS_TEST_TAG", &self.tag);
            if pids.is_empty() {
                break;
            }
            for pid in pids {
                kill_pid(pid, libc::SIGKILL);
            }
            thread::sleep(POLL);
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill_all();
        if thread::panicking() {
            let keep = std::env::var_os("SUPERVISOR_RS_KEEP_TMP").is_some_and(|v| !v.is_empty());
            match self.dir.take() {
                Some(dir) if keep => {
                    let kept = dir.keep();
                    eprintln!("[{}] test failed; kept {}", self.kind, kept.display());
                }
                _ => eprintln!(
                    "[{}] test failed; set SUPERVISOR_RS_KEEP_TMP=1 to keep its temp dir",
                    self.kind
                ),
            }
        }
    }
}

fn read_lossy(p: &Path) -> String {
    fs::read(p)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

/// Cuts a value at the first `;` or `#` preceded by whitespace (an inline comment).
fn strip_inline_comment(v: &str) -> &str {
    let b = v.as_bytes();
    for i in 1..b.len() {
        if (b[i] == b';' || b[i] == b'#') && b[i - 1].is_ascii_whitespace() {
            return &v[..i];
        }
    }
    v
}

/// Minimal INI lookup: the last `key=`/`key:` value in `[section]` (no continuation lines).
pub fn ini_value(text: &str, section: &str, key: &str) -> Option<String> {
    let mut current = String::new();
    let mut found = None;
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('[') && t.ends_with(']') {
            current = t[1..t.len() - 1].to_owned();
        } else if current == section && !line.starts_with(char::is_whitespace) {
            if let Some(i) = t.find(['=', ':']) {
                if t[..i].trim().eq_ignore_ascii_case(key) {
                    found = Some(strip_inline_comment(&t[i + 1..]).trim().to_owned());
                }
            }
        }
    }
    found
}

// ---------------------------------------------------------------------------------------------
// Main log parsing
// ---------------------------------------------------------------------------------------------

/// One main-log entry: `YYYY-MM-DD HH:MM:SS,mmm LEVL message` (continuation lines, e.g.
/// child output at loglevel=debug, are appended to `message` with `\n`).
#[derive(Clone, Debug, PartialEq)]
pub struct LogEntry {
    /// Seconds since 1970-01-01 of the local timestamp (only differences are meaningful).
    pub time: f64,
    /// Four-letter level tag (`INFO`, `WARN`, ...).
    pub level: String,
    pub message: String,
}

/// Parses a main log; lines before the first timestamped line are dropped.
pub fn parse_log(log: &str) -> Vec<LogEntry> {
    let mut out: Vec<LogEntry> = Vec::new();
    for line in log.lines() {
        match parse_log_line(line) {
            Some(e) => out.push(e),
            None => {
                if let Some(last) = out.last_mut() {
                    last.message.push('\n');
                    last.message.push_str(line);
                }
            }
        }
    }
    out
}

/// Parses one `YYYY-MM-DD HH:MM:SS,mmm LEVL message` line.
pub fn parse_log_line(line: &str) -> Option<LogEntry> {
    let b = line.as_bytes();
    if b.len() < 28 || b[4] != b'-' || b[7] != b'-' || b[10] != b' ' || b[13] != b':' {
        return None;
    }
    if b[16] != b':' || b[19] != b',' || b[23] != b' ' || b.get(28) != Some(&b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> { line.get(r)?.parse().ok() };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s, ms) = (num(11..13)?, num(14..16)?, num(17..19)?, num(20..23)?);
    let days = days_from_civil(y, mo, d);
    let time = (days * 86400 + h * 3600 + mi * 60 + s) as f64 + ms as f64 / 1000.0;
    Some(LogEntry {
        time,
        level: line[24..28].to_owned(),
        message: line[29..].to_owned(),
    })
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// `(process, kind, detail)`: `kind` is one of `spawned`, `success`, `exited`, `gave up`,
/// `stopped`, `killing`, `waiting`; `detail` is `"<LEVL> <rest of message>"` with pids
/// replaced by `<pid>` (e.g. `"WARN (exit status 3; not expected)"`, `"INFO with pid <pid>"`).
pub type StateEvent = (String, String, String);

/// The per-process state lines of a main log, normalised so that two runs (or Python's and
/// our daemon) can be compared: no timestamps, no pids.
pub fn state_events(log: &str) -> Vec<StateEvent> {
    parse_log(log)
        .into_iter()
        .filter_map(|e| {
            let (name, kind, rest) = classify(&e.message)?;
            Some((name, kind.to_owned(), format!("{} {}", e.level, rest)))
        })
        .collect()
}

/// Like [`LogEntry`] but classified as a [`StateEvent`], keeping the time and the raw pid.
#[derive(Clone, Debug, PartialEq)]
pub struct TimedEvent {
    pub time: f64,
    pub process: String,
    pub kind: String,
    pub detail: String,
    /// The pid in `spawned:`/`killing` lines.
    pub pid: Option<i32>,
}

/// State lines with their times and pids.
pub fn timed_events(log: &str) -> Vec<TimedEvent> {
    parse_log(log)
        .into_iter()
        .filter_map(|e| {
            let (process, kind, rest) = classify(&e.message)?;
            Some(TimedEvent {
                time: e.time,
                process,
                kind: kind.to_owned(),
                detail: format!("{} {}", e.level, rest),
                pid: first_pid(&e.message),
            })
        })
        .collect()
}

/// The events of one process, in log order.
pub fn events_of<'a>(events: &'a [StateEvent], process: &str) -> Vec<&'a StateEvent> {
    events.iter().filter(|e| e.0 == process).collect()
}

fn first_pid(msg: &str) -> Option<i32> {
    if let Some(i) = msg.find(" with pid ") {
        return msg[i + 10..].trim().parse().ok();
    }
    if msg.starts_with("killing '") {
        let open = msg.find("' (")? + 3;
        let close = open + msg[open..].find(')')?;
        return msg[open..close].parse().ok();
    }
    None
}

fn classify(msg: &str) -> Option<(String, &'static str, String)> {
    let first_line = msg.lines().next().unwrap_or("");
    // `spawned: 'x' with pid N`, `killing 'x' (N) with SIGKILL`
    if let Some(rest) = first_line.strip_prefix("spawned: '") {
        let (name, _) = rest.split_once('\'')?;
        return Some((name.to_owned(), "spawned", "with pid <pid>".to_owned()));
    }
    if let Some(rest) = first_line.strip_prefix("killing '") {
        let (name, after) = rest.split_once("' (")?;
        let (_, tail) = after.split_once(')')?;
        return Some((name.to_owned(), "killing", format!("(<pid>){tail}")));
    }
    if let Some(rest) = first_line.strip_prefix("waiting for ") {
        let name = rest.strip_suffix(" to stop")?;
        if name.contains(' ') {
            return None;
        }
        return Some((name.to_owned(), "waiting", "to stop".to_owned()));
    }
    for (prefix, kind) in [
        ("success: ", "success"),
        ("exited: ", "exited"),
        ("gave up: ", "gave up"),
        ("stopped: ", "stopped"),
    ] {
        if let Some(rest) = first_line.strip_prefix(prefix) {
            let (name, tail) = rest.split_once(' ')?;
            return Some((name.to_owned(), kind, tail.to_owned()));
        }
    }
    None
}

#[cfg(test)]
mod unit {
    use super::*;

    const LOG: &str = "\
2026-11-25 21:14:34,401 CRIT Supervisor is running as root.  Privileges were not dropped.
2026-11-25 21:14:35,409 INFO spawned: 'crash' with pid 4777
2026-11-25 21:14:35,423 WARN exited: crash (exit status 3; not expected)
2026-11-25 21:14:36,428 INFO success: up entered RUNNING state, process has stayed up for > than 1 seconds (startsecs)
2026-11-25 21:14:38,470 INFO gave up: crash entered FATAL state, too many start retries too quickly
2026-11-25 21:14:41,468 INFO waiting for crash, ign, up to die
2026-11-25 21:14:41,469 INFO waiting for ign to stop
2026-11-25 21:14:43,472 WARN killing 'ign' (4778) with SIGKILL
2026-11-25 21:14:44,474 WARN stopped: ign (terminated by SIGKILL)
2026-11-25 21:14:44,475 DEBG 'up' stdout output:
hello
world
";

    #[test]
    fn parses_entries_and_continuations() {
        let e = parse_log(LOG);
        assert_eq!(e.len(), 10);
        assert_eq!(e[1].level, "INFO");
        assert_eq!(e[1].message, "spawned: 'crash' with pid 4777");
        assert!((e[2].time - e[1].time - 0.014).abs() < 1e-6);
        assert_eq!(e[9].message, "'up' stdout output:\nhello\nworld");
    }

    #[test]
    fn normalises_state_events() {
        let ev = state_events(LOG);
        let s = |a: &str, b: &str, c: &str| (a.to_owned(), b.to_owned(), c.to_owned());
        assert_eq!(
            ev,
            vec![
                s("crash", "spawned", "INFO with pid <pid>"),
                s("crash", "exited", "WARN (exit status 3; not expected)"),
                s(
                    "up",
                    "success",
                    "INFO entered RUNNING state, process has stayed up for > than 1 seconds (startsecs)"
                ),
                s(
                    "crash",
                    "gave up",
                    "INFO entered FATAL state, too many start retries too quickly"
                ),
                s("ign", "waiting", "INFO to stop"),
                s("ign", "killing", "WARN (<pid>) with SIGKILL"),
                s("ign", "stopped", "WARN (terminated by SIGKILL)"),
            ]
        );
        let t = timed_events(LOG);
        assert_eq!(t[0].pid, Some(4777));
        assert_eq!(t[5].pid, Some(4778));
    }

    #[test]
    fn days_from_civil_matches_known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11017);
        assert_eq!(days_from_civil(2026, 11, 25), 20782);
    }

    #[test]
    fn ini_value_finds_last_value_in_section() {
        let t = "[supervisord]\nlogfile = /a\n[program:x]\nlogfile=/b\n[supervisord]\nlogfile:/c\n";
        assert_eq!(
            ini_value(t, "supervisord", "logfile").as_deref(),
            Some("/c")
        );
        assert_eq!(ini_value(t, "program:x", "LOGFILE").as_deref(), Some("/b"));
        assert_eq!(ini_value(t, "nope", "logfile"), None);
        let c = "[supervisord]\nlogfile=/tmp/a.log ; main log;x\npidfile=/p#1\n";
        assert_eq!(
            ini_value(c, "supervisord", "logfile").as_deref(),
            Some("/tmp/a.log")
        );
        assert_eq!(
            ini_value(c, "supervisord", "pidfile").as_deref(),
            Some("/p#1")
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Listener tests: SMTP and HTTP receivers, a listener driven through its stdin
// ---------------------------------------------------------------------------------------------

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind 127.0.0.1:0")
}

/// A real SMTP server: `python -m aiosmtpd` from the venv with the `smtp_sink.DirHandler`
/// fixture, which writes every message to its own file. Killed on drop.
pub struct SmtpSink {
    pub port: u16,
    pub dir: tempfile::TempDir,
    child: Child,
}

impl SmtpSink {
    #[track_caller]
    pub fn start() -> SmtpSink {
        let dir = tempfile::Builder::new()
            .prefix("smtp-sink-")
            .tempdir()
            .expect("temp dir");
        let port = free_port();
        let log = fs::File::create(dir.path().join("aiosmtpd.log")).expect("log file");
        let child = Command::new(venv_python())
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "smtp_sink.DirHandler"])
            .arg(dir.path())
            .env("PYTHONPATH", fixtures_dir())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup"))
            .stderr(log)
            .process_group(0)
            .spawn()
            .expect("start aiosmtpd (needs aiosmtpd in the venv)");
        let sink = SmtpSink { port, dir, child };
        let up = wait_for(secs(15.0), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).ok()
        });
        assert!(
            up.is_some(),
            "aiosmtpd did not listen on {port}: {}",
            read_lossy(&sink.dir.path().join("aiosmtpd.log"))
        );
        sink
    }

    /// Messages received so far (envelope lines + raw message), in order.
    pub fn messages(&self) -> Vec<String> {
        let mut names: Vec<PathBuf> = fs::read_dir(self.dir.path())
            .map(|rd| {
                rd.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "eml"))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names.iter().map(|p| read_lossy(p)).collect()
    }

    /// Waits until at least `n` messages arrived; returns them (possibly fewer on timeout).
    pub fn wait_messages(&self, n: usize, timeout: Duration) -> Vec<String> {
        wait_for(timeout, || {
            let m = self.messages();
            (m.len() >= n).then_some(m)
        })
        .unwrap_or_else(|| self.messages())
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        kill_group(self.child.id() as i32, libc::SIGKILL);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One request received by an [`HttpSink`].
#[derive(Clone, Debug)]
pub struct HttpRequest {
    pub method: String,
    pub path: String,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// An HTTP/1.1 receiver on 127.0.0.1 in a thread: records every request and answers with the
/// status currently set (200 unless [`HttpSink::set_status`]), one request per connection.
pub struct HttpSink {
    pub port: u16,
    requests: std::sync::Arc<std::sync::Mutex<Vec<HttpRequest>>>,
    status: std::sync::Arc<std::sync::atomic::AtomicU16>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl HttpSink {
    pub fn start() -> HttpSink {
        use std::io::{BufRead, BufReader, Write};
        use std::sync::atomic::{AtomicBool, AtomicU16};
        use std::sync::{Arc, Mutex};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("addr").port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let status = Arc::new(AtomicU16::new(200));
        let stop = Arc::new(AtomicBool::new(false));
        let (r, s, st) = (requests.clone(), status.clone(), stop.clone());
        thread::spawn(move || {
            while !st.load(Ordering::SeqCst) {
                let (stream, _) = match listener.accept() {
                    Ok(c) => c,
                    Err(_) => {
                        thread::sleep(Duration::from_millis(10));
                        continue;
                    }
                };
                let _ = stream.set_nonblocking(false);
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let mut reader = BufReader::new(stream);
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    continue;
                }
                let mut parts = line.split_whitespace();
                let method = parts.next().unwrap_or("").to_owned();
                let path = parts.next().unwrap_or("").to_owned();
                let mut headers = Vec::new();
                let mut len = 0usize;
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
                        break;
                    }
                    if let Some((k, v)) = h.split_once(':') {
                        let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_owned());
                        if k == "content-length" {
                            len = v.parse().unwrap_or(0);
                        }
                        headers.push((k, v));
                    }
                }
                let mut body = vec![0u8; len];
                let _ = std::io::Read::read_exact(&mut reader, &mut body);
                r.lock().expect("lock").push(HttpRequest {
                    method,
                    path,
                    headers,
                    body: String::from_utf8_lossy(&body).into_owned(),
                });
                let code = s.load(Ordering::SeqCst);
                let mut stream = reader.into_inner();
                let _ = write!(
                    stream,
                    "HTTP/1.1 {code} X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
                );
            }
        });
        HttpSink {
            port,
            requests,
            status,
            stop,
        }
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn set_status(&self, code: u16) {
        self.status.store(code, Ordering::SeqCst);
    }

    pub fn requests(&self) -> Vec<HttpRequest> {
        self.requests.lock().expect("lock").clone()
    }

    /// Waits until at least `n` requests arrived; returns them (possibly fewer on timeout).
    pub fn wait_requests(&self, n: usize, timeout: Duration) -> Vec<HttpRequest> {
        wait_for(timeout, || {
            let r = self.requests();
            (r.len() >= n).then_some(r)
        })
        .unwrap_or_else(|| self.requests())
    }
}

impl Drop for HttpSink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// A listener binary driven directly through its stdin/stdout, without a daemon: the test
/// plays supervisord's side of the protocol. stderr is collected for assertions.
pub struct ListenerProc {
    child: Child,
    stdin: Option<std::process::ChildStdin>,
    stdout: std::process::ChildStdout,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
    serial: u64,
}

impl ListenerProc {
    /// Starts `program args` with `SUPERVISOR_SERVER_URL` set (to an unused socket unless
    /// `env` sets it) and waits for its first `READY\n`.
    #[track_caller]
    pub fn start(program: &Path, args: &[&str], env: &[(&str, &str)]) -> ListenerProc {
        let mut cmd = Command::new(program);
        cmd.args(args)
            .env(
                "SUPERVISOR_SERVER_URL",
                "unix:///nonexistent/supervisor.sock",
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("stdout");
        let mut err = child.stderr.take().expect("stderr");
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let sink = stderr.clone();
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            loop {
                match err.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => sink
                        .lock()
                        .expect("lock")
                        .push_str(&String::from_utf8_lossy(&buf[..n])),
                }
            }
        });
        let mut l = ListenerProc {
            child,
            stdin,
            stdout,
            stderr,
            serial: 0,
        };
        let ready = l.read_exact_bytes(6);
        assert_eq!(ready, b"READY\n", "stderr: {}", l.stderr());
        l
    }

    fn read_exact_bytes(&mut self, n: usize) -> Vec<u8> {
        let mut buf = vec![0u8; n];
        self.stdout
            .read_exact(&mut buf)
            .unwrap_or_else(|e| panic!("listener stdout ended ({e}); stderr:\n{}", self.stderr()));
        buf
    }

    /// Sends one raw notification (header line built here, `len` in characters) and returns
    /// the result body (`OK`/`FAIL`) after also consuming the next `READY\n`.
    pub fn send(&mut self, eventname: &str, payload: &str) -> String {
        self.serial += 1;
        let header = format!(
            "ver:3.0 server:supervisor serial:{s} pool:test poolserial:{s} eventname:{eventname} \
             len:{}\n",
            payload.chars().count(),
            s = self.serial
        );
        self.send_raw(format!("{header}{payload}").as_bytes())
    }

    /// Writes raw bytes and reads one `RESULT n\n<body>` and the following `READY\n`.
    pub fn send_raw(&mut self, bytes: &[u8]) -> String {
        use std::io::Write;
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(bytes).expect("write event");
        stdin.flush().expect("flush");
        let mut line = Vec::new();
        loop {
            let b = self.read_exact_bytes(1)[0];
            if b == b'\n' {
                break;
            }
            line.push(b);
        }
        let line = String::from_utf8_lossy(&line).into_owned();
        let n: usize = line
            .strip_prefix("RESULT ")
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("bad result line {line:?}; stderr:\n{}", self.stderr()));
        let body = String::from_utf8_lossy(&self.read_exact_bytes(n)).into_owned();
        let ready = self.read_exact_bytes(6);
        assert_eq!(ready, b"READY\n");
        body
    }

    /// A PROCESS_STATE_EXITED notification for `name` in group `name`.
    pub fn exited(&mut self, name: &str, expected: bool, pid: i32) -> String {
        self.send(
            "PROCESS_STATE_EXITED",
            &format!(
                "processname:{name} groupname:{name} from_state:RUNNING expected:{} pid:{pid}",
                u8::from(expected)
            ),
        )
    }

    /// What the listener wrote on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().expect("lock").clone()
    }

    /// Waits until stderr contains `needle`.
    pub fn wait_stderr(&self, needle: &str, timeout: Duration) -> Option<String> {
        wait_for(timeout, || {
            let s = self.stderr();
            s.contains(needle).then_some(s)
        })
    }

    /// Closes stdin (as supervisord going away) and waits for the exit.
    pub fn close(mut self, timeout: Duration) -> Option<ExitStatus> {
        self.stdin.take();
        let st = wait_for(timeout, || self.child.try_wait().ok().flatten());
        if st.is_none() {
            let _ = self.child.kill();
        }
        st
    }
}

impl Drop for ListenerProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `[unix_http_server]` + `[rpcinterface:supervisor]` so listeners get a
/// `SUPERVISOR_SERVER_URL` and can call back.
pub const RPC_SECTIONS: &str = "\
[unix_http_server]
file={dir}/supervisor.sock

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
";

impl SmtpSink {
    /// An SMTP server that requires TLS and AUTH (`tests/fixtures/smtp_tls_sink.py`):
    /// `implicit` for TLS from the first byte, else STARTTLS. Uses a fresh self-signed
    /// certificate made with the `openssl` command. Messages carry `X-Auth-Login:`.
    #[track_caller]
    pub fn start_tls(implicit: bool, user: &str, password: &str) -> SmtpSink {
        let dir = tempfile::Builder::new()
            .prefix("smtp-tls-sink-")
            .tempdir()
            .expect("temp dir");
        let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        let out = Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            ])
            .args(["-subj", "/CN=localhost", "-keyout"])
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .output()
            .expect("run openssl to make a test certificate");
        assert!(out.status.success(), "openssl: {out:?}");
        let port = free_port();
        let log = fs::File::create(dir.path().join("aiosmtpd.log")).expect("log file");
        let child = Command::new(venv_python())
            .arg(fixtures_dir().join("smtp_tls_sink.py"))
            .arg(port.to_string())
            .arg(dir.path())
            .arg(&cert)
            .arg(&key)
            .arg(if implicit { "implicit" } else { "starttls" })
            .args([user, password])
            .env("PYTHONPATH", fixtures_dir())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup"))
            .stderr(log)
            .process_group(0)
            .spawn()
            .expect("start smtp_tls_sink.py");
        let sink = SmtpSink { port, dir, child };
        let up = wait_for(secs(15.0), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).ok()
        });
        assert!(
            up.is_some(),
            "smtp_tls_sink did not listen on {port}: {}",
            read_lossy(&sink.dir.path().join("aiosmtpd.log"))
        );
        sink
    }
}

impl ListenerProc {
    /// The listener's pid.
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Waits for the exit without closing stdin (e.g. after a signal).
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        wait_for(timeout, || self.child.try_wait().ok().flatten())
    }
}
