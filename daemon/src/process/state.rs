//! The pure state machine of one supervised process, with Supervisor 4.3.0's exact semantics
//! (`supervisor/process.py`, class `Subprocess`).
//!
//! Nothing here performs I/O, reads a clock or touches a real process. Every input carries the
//! current time as a `now: Instant`, and every decision comes back as a list of [`Action`]s for
//! the runtime to carry out, in order: fork/exec, send a signal, write a main-log line, emit a
//! `PROCESS_STATE_*` event. Unit tests drive it with a fake clock.
//!
//! # Contract with the runtime
//!
//! * Carry out the actions of one call in the order they are returned.
//! * After an [`Action::Spawn`], fork/exec immediately and report the outcome with
//!   [`Process::spawned`] or [`Process::spawn_failed`] before feeding anything else in.
//! * After a [`Action::Kill`] whose `kill()` fails with anything but `ESRCH`, call
//!   [`Process::signal_error`]. `ESRCH` is ignored: the reap fixes the state.
//! * Call `tick` after every input (it is idempotent in time: calling it more often never changes
//!   what happens), and otherwise sleep until [`Process::next_deadline`].
//!
//! # Timing of "next loop iteration" decisions
//!
//! Upstream takes two decisions only "at the next main-loop iteration" after a reap: the
//! autorestart of an EXITED process and the BACKOFF -> FATAL give-up. In an idle supervisord that
//! iteration comes up to one poll timeout (1 s) later, which is where the observed "FATAL at
//! t≈4.0" with `startretries=2` comes from. The give-up keeps that explicit 1 s deadline
//! ([`LOOP_INTERVAL`]). The autorestart does not wait for a loop: a process that crashes after
//! running for a while is restarted at once (restart latency is a headline figure), but never
//! sooner than [`AUTORESTART_FLOOR`] (1 s) after its previous start, so a `startsecs=0` program
//! that dies at once is restarted once a second instead of in a hot loop.

use std::fmt;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chrono::{Local, TimeZone};
use supervisor_protocol::xmlrpc::FaultCode;
use supervisor_protocol::{ProcessState, SupervisorState};

use crate::config::model::{AutoRestart, CheckAction, ProcessConfig};
use crate::logs::LogLevel;

/// Upstream's main-loop poll timeout: how long after a reap the "next iteration" decisions
/// (autorestart from EXITED, BACKOFF -> FATAL) are taken.
pub const LOOP_INTERVAL: Duration = Duration::from_secs(1);

/// The shortest time between two automatic starts of one process from EXITED. Upstream
/// restarts at its next loop iteration, which a dying child's closed pipes trigger at once, so a
/// crash-looping `startsecs=0` program spins; fifty of them keep a daemon too busy to answer
/// RPC. A run that lasted this long is restarted immediately; a shorter one waits until this
/// long after its start (at most one automatic start per second per process).
pub const AUTORESTART_FLOOR: Duration = Duration::from_secs(1);

/// The smallest step of `Instant`; used to turn upstream's strict `now > t` comparisons into the
/// earliest instant at which they hold.
const EPSILON: Duration = Duration::from_nanos(1);

/// `SIGKILL`, used for the stop escalation.
const SIGKILL: i32 = 9;

/// How a reaped child ended (decoded `waitpid` status).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// Exited normally with this code (0-255).
    Code(i32),
    /// Killed by a signal.
    Signaled { signal: i32, core_dumped: bool },
}

impl ExitStatus {
    /// Supervisor's `exitstatus`: the exit code, or -1 for a signal death (so that a signal death
    /// can never be listed in `exitcodes`).
    pub fn code(self) -> i32 {
        match self {
            ExitStatus::Code(c) => c,
            ExitStatus::Signaled { .. } => -1,
        }
    }

    /// Supervisor's `decode_wait_status` message: `exit status 1`, `terminated by SIGKILL`,
    /// `terminated by SIGSEGV (core dumped)`.
    pub fn message(self) -> String {
        match self {
            ExitStatus::Code(c) => format!("exit status {c}"),
            ExitStatus::Signaled {
                signal,
                core_dumped,
            } => {
                let core = if core_dumped { " (core dumped)" } else { "" };
                format!("terminated by {}{core}", signal_name(signal))
            }
        }
    }
}

/// Supervisor's `signame()` on Linux: `SIGTERM`, or `signal 40` for numbers without a name.
/// Aliases resolve the way CPython's `signal` module does (6 is `SIGABRT`, 29 is `SIGPOLL`).
pub fn signal_name(sig: i32) -> String {
    const NAMES: [&str; 31] = [
        "SIGHUP",
        "SIGINT",
        "SIGQUIT",
        "SIGILL",
        "SIGTRAP",
        "SIGABRT",
        "SIGBUS",
        "SIGFPE",
        "SIGKILL",
        "SIGUSR1",
        "SIGSEGV",
        "SIGUSR2",
        "SIGPIPE",
        "SIGALRM",
        "SIGTERM",
        "SIGSTKFLT",
        "SIGCHLD",
        "SIGCONT",
        "SIGSTOP",
        "SIGTSTP",
        "SIGTTIN",
        "SIGTTOU",
        "SIGURG",
        "SIGXCPU",
        "SIGXFSZ",
        "SIGVTALRM",
        "SIGPROF",
        "SIGWINCH",
        "SIGPOLL",
        "SIGPWR",
        "SIGSYS",
    ];
    match sig {
        1..=31 => NAMES
            .get((sig - 1) as usize)
            .map_or_else(|| format!("signal {sig}"), |n| (*n).to_string()),
        34 => "SIGRTMIN".to_string(),
        64 => "SIGRTMAX".to_string(),
        _ => format!("signal {sig}"),
    }
}

/// Supervisor's `make_namespec`: `name` when the group has the process's name, else `group:name`.
pub use supervisor_protocol::names::namespec as make_namespec;

/// One thing the runtime must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Fork/exec the process now, then call [`Process::spawned`] or [`Process::spawn_failed`].
    Spawn,
    /// `kill(pid, signal)`, or `kill(-pid, signal)` when `group` is set.
    Kill { pid: i32, signal: i32, group: bool },
    /// A main-log line, worded exactly as Supervisor writes it.
    Log { level: LogLevel, message: String },
    /// Emit the matching `PROCESS_STATE_<to>` event.
    StateChange(StateChange),
    /// Extension (`health_check=`): emit `PROCESS_HEALTH_HEALTHY` / `PROCESS_HEALTH_UNHEALTHY`.
    Health(HealthChange),
}

/// A change of the liveness of a RUNNING process (extension `health_check=`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthChange {
    pub healthy: bool,
    /// Consecutive failed checks (0 when healthy).
    pub failures: u32,
    /// What the last check said (`connection refused`, `exit status 1`...).
    pub detail: String,
}

/// Which check a result belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckKind {
    /// `ready_check=`: STARTING -> RUNNING.
    Ready,
    /// `health_check=`: liveness while RUNNING.
    Health,
}

/// The liveness of a process as `health_check=` last found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// No check has answered since the last start (or none is configured).
    Unknown,
    Healthy,
    Unhealthy,
}

impl Health {
    pub fn name(self) -> &'static str {
        match self {
            Health::Unknown => "unknown",
            Health::Healthy => "healthy",
            Health::Unhealthy => "unhealthy",
        }
    }
}

/// A process state change, carrying exactly the payload tokens of upstream-reference §2.3 for its target state,
/// captured at the moment of the change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateChange {
    pub from: ProcessState,
    pub to: ProcessState,
    /// `tries:` for STARTING (backoff before this start) and BACKOFF (already incremented).
    pub tries: Option<u32>,
    /// `pid:` for RUNNING, STOPPING, STOPPED (0 from BACKOFF) and EXITED.
    pub pid: Option<i32>,
    /// `expected:` for EXITED.
    pub expected: Option<bool>,
}

/// Refusals of a command, named after Supervisor's XML-RPC faults (upstream-reference §4.2).
///
/// The payload is the fault's extra text. For per-process refusals it is the process's namespec;
/// the RPC layer may substitute the name exactly as the client wrote it, as upstream does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandError {
    /// `SHUTDOWN_STATE` (6): supervisord is shutting down or restarting.
    ShutdownState,
    /// `BAD_NAME` (10).
    BadName(String),
    /// `BAD_SIGNAL` (11).
    BadSignal(String),
    /// `NO_FILE` (20).
    NoFile(String),
    /// `NOT_EXECUTABLE` (21).
    NotExecutable(String),
    /// `FAILED` (30), e.g. `web is in an unknown process state`.
    Failed(String),
    /// `ABNORMAL_TERMINATION` (40).
    AbnormalTermination(String),
    /// `SPAWN_ERROR` (50).
    SpawnError(String),
    /// `ALREADY_STARTED` (60).
    AlreadyStarted(String),
    /// `NOT_RUNNING` (70).
    NotRunning(String),
    /// `ALREADY_ADDED` (90).
    AlreadyAdded(String),
    /// `STILL_RUNNING` (91).
    StillRunning(String),
}

impl CommandError {
    /// The fault this refusal is.
    pub fn fault_code(&self) -> FaultCode {
        match self {
            CommandError::ShutdownState => FaultCode::ShutdownState,
            CommandError::BadName(_) => FaultCode::BadName,
            CommandError::BadSignal(_) => FaultCode::BadSignal,
            CommandError::NoFile(_) => FaultCode::NoFile,
            CommandError::NotExecutable(_) => FaultCode::NotExecutable,
            CommandError::Failed(_) => FaultCode::Failed,
            CommandError::AbnormalTermination(_) => FaultCode::AbnormalTermination,
            CommandError::SpawnError(_) => FaultCode::SpawnError,
            CommandError::AlreadyStarted(_) => FaultCode::AlreadyStarted,
            CommandError::NotRunning(_) => FaultCode::NotRunning,
            CommandError::AlreadyAdded(_) => FaultCode::AlreadyAdded,
            CommandError::StillRunning(_) => FaultCode::StillRunning,
        }
    }

    /// The XML-RPC fault code.
    pub fn code(&self) -> i32 {
        self.fault_code().code()
    }

    /// The fault name, the first part of `faultString`.
    pub fn fault_name(&self) -> &'static str {
        self.fault_code().name()
    }

    /// The extra text after `NAME: `, if any.
    pub fn detail(&self) -> Option<&str> {
        match self {
            CommandError::ShutdownState => None,
            CommandError::BadName(s)
            | CommandError::BadSignal(s)
            | CommandError::NoFile(s)
            | CommandError::NotExecutable(s)
            | CommandError::Failed(s)
            | CommandError::AbnormalTermination(s)
            | CommandError::SpawnError(s)
            | CommandError::AlreadyStarted(s)
            | CommandError::NotRunning(s)
            | CommandError::AlreadyAdded(s)
            | CommandError::StillRunning(s) => Some(s),
        }
    }
}

/// Formats as the XML-RPC `faultString`: `NAME` or `NAME: detail`.
impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.detail() {
            Some(d) => write!(f, "{}: {d}", self.fault_name()),
            None => f.write_str(self.fault_name()),
        }
    }
}

impl std::error::Error for CommandError {}

/// What `getProcessInfo` needs to know about a process, frozen at one instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessSnapshot {
    pub name: String,
    pub group: String,
    pub state: ProcessState,
    /// 0 when not running.
    pub pid: i32,
    /// When the last spawn was attempted; `None` if never (RPC `start` 0).
    pub laststart: Option<Instant>,
    /// When the last exit was reaped; `None` if never (RPC `stop` 0).
    pub laststop: Option<Instant>,
    /// Last exit status: 0 if none, -1 after a signal death.
    pub exitstatus: i32,
    /// `''` if none.
    pub spawnerr: String,
    /// An automatic start put off by an extension option ([`Process::scheduled_start`]).
    pub scheduled_start: Option<Instant>,
    /// Extension (dependencies): what a start waits for, or why it was not made.
    pub dependency_note: Option<String>,
    /// Extension (`ready_check=` / `health_check=`): what the checks say, for status.
    pub check_note: Option<String>,
}

impl ProcessSnapshot {
    /// RPC `start`: UNIX seconds of the last start, 0 if never.
    pub fn start_unix(&self, now: Instant, wall_now: SystemTime) -> i64 {
        self.laststart.map_or(0, |t| unix_seconds(t, now, wall_now))
    }

    /// RPC `stop`: UNIX seconds of the last stop, 0 if never.
    pub fn stop_unix(&self, now: Instant, wall_now: SystemTime) -> i64 {
        self.laststop.map_or(0, |t| unix_seconds(t, now, wall_now))
    }

    /// RPC `description` (upstream-reference §4.6), with stop times in the local time zone.
    pub fn description(&self, now: Instant, wall_now: SystemTime) -> String {
        self.description_in(now, wall_now, &Local)
    }

    /// [`ProcessSnapshot::description`] with an explicit time zone (tests use UTC).
    pub fn description_in<Tz: TimeZone>(
        &self,
        now: Instant,
        wall_now: SystemTime,
        tz: &Tz,
    ) -> String
    where
        Tz::Offset: fmt::Display,
    {
        let mut base = self.supervisor_description(now, wall_now, tz);
        if let Some(note) = &self.dependency_note {
            // Extension (dependencies): `Not started; waiting for dependencies: db`.
            base = format!("{base}; {note}");
        }
        if let Some(note) = &self.check_note {
            // Extension (checks): `pid 12, uptime 0:01:00; unhealthy (3 failed checks: ...)`.
            base = if base.is_empty() {
                note.clone()
            } else {
                format!("{base}; {note}")
            };
        }
        match self.scheduled_start {
            // Extension (restart_delay, retry_fatal_after): say when the next start comes.
            Some(at) => {
                let secs = at.saturating_duration_since(now).as_secs_f64().ceil();
                let why = if self.state == ProcessState::Fatal {
                    "retry_fatal_after"
                } else {
                    "restart_delay"
                };
                format!("{base}; next start in {secs:.0}s ({why})")
            }
            None => base,
        }
    }

    /// Upstream's description of the state.
    fn supervisor_description<Tz: TimeZone>(
        &self,
        now: Instant,
        wall_now: SystemTime,
        tz: &Tz,
    ) -> String
    where
        Tz::Offset: fmt::Display,
    {
        match self.state {
            ProcessState::Running => {
                // Upstream truncates both ends to whole UTC seconds before subtracting.
                let start = self.start_unix(now, wall_now);
                let now_s = unix_seconds(now, now, wall_now);
                let uptime = (now_s - start).max(0);
                format!("pid {}, uptime {}", self.pid, format_timedelta(uptime))
            }
            ProcessState::Fatal | ProcessState::Backoff => {
                if self.spawnerr.is_empty() {
                    format!("unknown error (try \"tail {}\")", self.name)
                } else {
                    self.spawnerr.clone()
                }
            }
            ProcessState::Stopped | ProcessState::Exited => {
                if self.laststart.is_none() {
                    return "Not started".to_string();
                }
                // A process that was started but never reaped (spawn failure then stop) has
                // stop 0, which upstream renders as the epoch: keep that.
                let stop = self.stop_unix(now, wall_now);
                match tz.timestamp_opt(stop, 0).single() {
                    Some(dt) => dt.format("%b %d %I:%M %p").to_string(),
                    None => String::new(),
                }
            }
            ProcessState::Starting | ProcessState::Stopping | ProcessState::Unknown => {
                String::new()
            }
        }
    }
}

/// Wall-clock UNIX seconds (truncated, like Python's `int(time)`) of the monotonic instant `t`,
/// given one pair of simultaneous readings of both clocks.
fn unix_seconds(t: Instant, now: Instant, wall_now: SystemTime) -> i64 {
    let wall = match wall_now.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    };
    let secs = if t <= now {
        wall - now.duration_since(t).as_secs_f64()
    } else {
        wall + t.duration_since(now).as_secs_f64()
    };
    // Python's capped_int: truncate toward zero, clamp to the XML-RPC int range.
    (secs.trunc() as i64).clamp(i64::from(i32::MIN), i64::from(i32::MAX))
}

/// Python's `str(datetime.timedelta(seconds=n))` for n >= 0: `0:00:17`, `1 day, 2:03:04`.
fn format_timedelta(secs: i64) -> String {
    let days = secs / 86_400;
    let rest = secs % 86_400;
    let hms = format!("{}:{:02}:{:02}", rest / 3600, (rest % 3600) / 60, rest % 60);
    match days {
        0 => hms,
        1 => format!("1 day, {hms}"),
        d => format!("{d} days, {hms}"),
    }
}

/// One supervised process and its state machine.
#[derive(Debug, Clone)]
pub struct Process {
    /// The process's configuration, used as is (never mutated by the state machine).
    pub config: ProcessConfig,
    state: ProcessState,
    /// The live child's pid; `None` whenever upstream's `pid` is 0.
    pid: Option<i32>,
    /// Last spawn attempt (upstream `laststart`); `None` = never started, which is what makes a
    /// STOPPED process eligible for autostart.
    laststart: Option<Instant>,
    /// Last reap (upstream `laststop`).
    laststop: Option<Instant>,
    /// Consecutive too-quick failures (upstream `backoff`): the `tries:` of events.
    backoff: u32,
    /// BACKOFF: the respawn is allowed strictly after this instant (upstream `delay`).
    retry_after: Option<Instant>,
    /// BACKOFF: when the give-up check runs if retries are exhausted (entry + [`LOOP_INTERVAL`]).
    give_up_at: Option<Instant>,
    /// STOPPING: when SIGKILL is (re)sent (upstream `delay` while stopping).
    kill_at: Option<Instant>,
    /// Set by a stop request: the next reap means STOPPING -> STOPPED whatever the status.
    killing: bool,
    /// Last exit status (`None` = upstream `None`, reported as 0).
    exitstatus: Option<i32>,
    /// Why the last start failed (upstream `spawnerr`).
    spawnerr: Option<String>,
    /// Throttle for `waiting for <name> to stop` (upstream `laststopreport`).
    laststopreport: Option<Instant>,
    /// Successful spawns since this process was created (for `restarts_total`).
    spawns: u64,
    /// Status of the last exit, kept across respawns (unlike `exitstatus`), for metrics.
    last_exit: Option<i32>,
    /// FATAL with `retry_fatal_after`: when the next start is due (extension).
    fatal_retry_at: Option<Instant>,
    /// Starts out of FATAL since the process last reached RUNNING (extension).
    fatal_retries: u32,
    /// How the current run's process ended (cleared at each spawn), for container exit codes.
    last_status: Option<ExitStatus>,
    /// Extension (dependencies): a requested start waits for the process's dependencies.
    start_pending: bool,
    /// Extension (dependencies): the automatic start was withdrawn (a dependency failed, or a
    /// stop request came while it waited).
    autostart_cancelled: bool,
    /// Extension (dependencies): what a start waits for, or why it was not made.
    dependency_note: Option<String>,
    /// Extension (dependencies): one bit per state this process has been in since it was
    /// created ([`state_bit`]), for `dependent_startup_wait_for`.
    reached: u8,
    /// Extension (checks): liveness as `health_check=` last found it.
    health: Health,
    /// Extension (checks): consecutive failed checks of the current phase (readiness while
    /// STARTING, liveness while RUNNING).
    check_failures: u32,
    /// Extension (checks): what the last failed check said.
    check_detail: Option<String>,
    /// Extension (checks): a failed readiness check is stopping the process; its exit is a
    /// failed start (BACKOFF) with this `spawnerr`.
    start_failure: Option<String>,
    /// Extension (checks): `health_check_action=restart` stopped the process; start it again
    /// once it is STOPPED.
    restart_after_stop: bool,
    /// Extension (`notify` checks): the last `STATUS=` of the current run.
    notify_status: Option<String>,
}

/// The bit of a state in [`Process::reached`].
fn state_bit(s: ProcessState) -> u8 {
    match s {
        ProcessState::Stopped => 1,
        ProcessState::Starting => 1 << 1,
        ProcessState::Running => 1 << 2,
        ProcessState::Backoff => 1 << 3,
        ProcessState::Stopping => 1 << 4,
        ProcessState::Exited => 1 << 5,
        ProcessState::Fatal => 1 << 6,
        ProcessState::Unknown => 1 << 7,
    }
}

impl Process {
    /// A STOPPED process that has never been started.
    pub fn new(config: ProcessConfig) -> Process {
        Process {
            config,
            state: ProcessState::Stopped,
            pid: None,
            laststart: None,
            laststop: None,
            backoff: 0,
            retry_after: None,
            give_up_at: None,
            kill_at: None,
            killing: false,
            exitstatus: None,
            spawnerr: None,
            laststopreport: None,
            spawns: 0,
            last_exit: None,
            fatal_retry_at: None,
            fatal_retries: 0,
            last_status: None,
            start_pending: false,
            autostart_cancelled: false,
            dependency_note: None,
            reached: state_bit(ProcessState::Stopped),
            health: Health::Unknown,
            check_failures: 0,
            check_detail: None,
            start_failure: None,
            restart_after_stop: false,
            notify_status: None,
        }
    }

    pub fn state(&self) -> ProcessState {
        self.state
    }

    pub fn pid(&self) -> Option<i32> {
        self.pid
    }

    pub fn name(&self) -> &str {
        &self.config.name
    }

    pub fn group(&self) -> &str {
        &self.config.group_name
    }

    /// `name`, or `group:name` when they differ.
    pub fn namespec(&self) -> String {
        make_namespec(self.group(), self.name())
    }

    /// The backoff counter (`tries:`).
    pub fn backoff(&self) -> u32 {
        self.backoff
    }

    /// Last exit status (`None` if never exited since the last spawn, or after a too-quick exit).
    pub fn exitstatus(&self) -> Option<i32> {
        self.exitstatus
    }

    pub fn spawnerr(&self) -> Option<&str> {
        self.spawnerr.as_deref()
    }

    pub fn laststart(&self) -> Option<Instant> {
        self.laststart
    }

    pub fn laststop(&self) -> Option<Instant> {
        self.laststop
    }

    /// How many times the process was started again after its first spawn (by autorestart,
    /// a backoff retry or a start request); a counter that only grows.
    pub fn restarts(&self) -> u64 {
        self.spawns.saturating_sub(1)
    }

    /// The status of the most recent exit, even after the process was started again.
    pub fn last_exit_status(&self) -> Option<i32> {
        self.last_exit
    }

    /// How the last run ended, if it ended since the last spawn attempt.
    pub fn last_status(&self) -> Option<ExitStatus> {
        self.last_status
    }

    /// Starts out of FATAL (`retry_fatal_after`) since the process last reached RUNNING.
    pub fn fatal_retries(&self) -> u32 {
        self.fatal_retries
    }

    /// When an extension option has put off the next automatic start: the end of a
    /// `restart_delay` pause in EXITED, or the `retry_fatal_after` retry in FATAL. `None` for
    /// everything Supervisor itself schedules (backoff retries, the 1 s autorestart floor).
    pub fn scheduled_start(&self) -> Option<Instant> {
        match self.state {
            ProcessState::Exited if self.config.ext.restart_delay > 0 => {
                if self.wants_autorestart() {
                    self.autorestart_due()
                } else {
                    None
                }
            }
            ProcessState::Fatal => self.fatal_retry_at,
            _ => None,
        }
    }

    /// EXITED: the earliest instant of the automatic restart (the 1 s floor after the last
    /// start, and `restart_delay` after the exit).
    fn autorestart_due(&self) -> Option<Instant> {
        let floor = self.laststart.map(|s| s + AUTORESTART_FLOOR);
        let delay = Duration::from_secs(self.config.ext.restart_delay);
        let pause = match (self.laststop, delay.is_zero()) {
            (Some(stop), false) => Some(stop + delay),
            _ => None,
        };
        floor.max(pause)
    }

    /// What `getProcessInfo` reports.
    pub fn snapshot(&self) -> ProcessSnapshot {
        ProcessSnapshot {
            name: self.config.name.clone(),
            group: self.config.group_name.clone(),
            state: self.state,
            pid: self.pid.unwrap_or(0),
            laststart: self.laststart,
            laststop: self.laststop,
            exitstatus: self.exitstatus.unwrap_or(0),
            spawnerr: self.spawnerr.clone().unwrap_or_default(),
            scheduled_start: self.scheduled_start(),
            dependency_note: self.dependency_note.clone(),
            check_note: self.check_note(),
        }
    }

    /// Extension (checks): liveness as `health_check=` last found it.
    pub fn health(&self) -> Health {
        self.health
    }

    /// Extension (checks): consecutive failed checks of the current phase.
    pub fn check_failures(&self) -> u32 {
        self.check_failures
    }

    /// Extension (`notify` checks): the `STATUS=` text the run sent last.
    pub fn set_notify_status(&mut self, text: String) {
        self.notify_status = Some(text);
    }

    /// Extension (checks): what the status line says about the checks, and the run's
    /// sd_notify `STATUS=` text.
    fn check_note(&self) -> Option<String> {
        let note = self.check_state_note();
        match (&self.notify_status, self.state.is_running()) {
            (Some(status), true) => Some(match note {
                Some(n) => format!("{n}; status: {status}"),
                None => format!("status: {status}"),
            }),
            _ => note,
        }
    }

    fn check_state_note(&self) -> Option<String> {
        let ext = &self.config.ext;
        let failures = |n: u32| {
            let detail = self.check_detail.as_deref().unwrap_or("");
            let s = if n == 1 { "" } else { "s" };
            format!("{n} failed check{s}: {detail}")
        };
        match self.state {
            ProcessState::Starting if ext.ready_check.is_some() => {
                Some(if self.check_failures > 0 {
                    format!("not ready yet ({})", failures(self.check_failures))
                } else {
                    "not ready yet".to_string()
                })
            }
            ProcessState::Running if ext.health_check.is_some() => Some(match self.health {
                Health::Unknown => "health unknown".to_string(),
                Health::Healthy if self.check_failures > 0 => {
                    format!("healthy ({})", failures(self.check_failures))
                }
                Health::Healthy => "healthy".to_string(),
                Health::Unhealthy => format!("unhealthy ({})", failures(self.check_failures)),
            }),
            _ => None,
        }
    }

    /// Extension (`ready_check=` / `health_check=`): the result of one check of the current
    /// run. A readiness result counts only while STARTING (a pass makes the process RUNNING),
    /// a liveness result only while RUNNING; anything else is ignored. `failures` failed
    /// checks in a row trigger the check's action.
    pub fn check_result(
        &mut self,
        kind: CheckKind,
        ok: bool,
        detail: &str,
        now: Instant,
    ) -> Vec<Action> {
        let mut out = Vec::new();
        let check = match kind {
            CheckKind::Ready => self.config.ext.ready_check.clone(),
            CheckKind::Health => self.config.ext.health_check.clone(),
        };
        let Some(check) = check else {
            return out;
        };
        let phase = match kind {
            CheckKind::Ready => ProcessState::Starting,
            CheckKind::Health => ProcessState::Running,
        };
        if self.state != phase || self.pid.is_none() || self.killing {
            return out;
        }
        let name = self.name().to_string();
        let option = match kind {
            CheckKind::Ready => "ready_check",
            CheckKind::Health => "health_check",
        };
        if ok {
            self.check_failures = 0;
            self.check_detail = None;
            match kind {
                CheckKind::Ready => {
                    self.retry_after = None;
                    self.backoff = 0;
                    let pid = self.pid;
                    self.change_state(ProcessState::Running, pid, now, &mut out);
                    out.push(log(
                        LogLevel::Info,
                        format!(
                            "success: {name} entered RUNNING state, process is ready ({option} {})",
                            check.spec
                        ),
                    ));
                }
                CheckKind::Health if self.health != Health::Healthy => {
                    self.health = Health::Healthy;
                    out.push(log(
                        LogLevel::Info,
                        format!("{name} is healthy ({option} {})", check.spec),
                    ));
                    out.push(Action::Health(HealthChange {
                        healthy: true,
                        failures: 0,
                        detail: detail.to_string(),
                    }));
                }
                CheckKind::Health => {}
            }
            return out;
        }
        self.check_failures = self.check_failures.saturating_add(1);
        self.check_detail = Some(detail.to_string());
        let n = self.check_failures;
        if check.failures == 0 || n < check.failures {
            return out;
        }
        let first = n == check.failures;
        match kind {
            CheckKind::Ready => {
                if first || check.action != CheckAction::Nothing {
                    out.push(log(
                        LogLevel::Warn,
                        format!(
                            "{name} not ready after {n} checks ({option} {}): {detail}{}",
                            check.spec,
                            action_words(check.action)
                        ),
                    ));
                }
                match check.action {
                    CheckAction::Restart => {
                        self.start_failure =
                            Some(format!("not ready after {n} checks ({option}): {detail}"));
                        out.extend(self.kill(self.config.stopsignal, now));
                    }
                    CheckAction::Stop => {
                        self.spawnerr =
                            Some(format!("not ready after {n} checks ({option}): {detail}"));
                        out.extend(self.kill(self.config.stopsignal, now));
                    }
                    CheckAction::Nothing => {}
                }
            }
            CheckKind::Health => {
                if self.health != Health::Unhealthy {
                    self.health = Health::Unhealthy;
                    out.push(log(
                        LogLevel::Warn,
                        format!(
                            "{name} is unhealthy: {n} failed checks ({option} {}): {detail}{}",
                            check.spec,
                            action_words(check.action)
                        ),
                    ));
                    out.push(Action::Health(HealthChange {
                        healthy: false,
                        failures: n,
                        detail: detail.to_string(),
                    }));
                    match check.action {
                        CheckAction::Restart => {
                            self.restart_after_stop = true;
                            out.extend(self.kill(self.config.stopsignal, now));
                        }
                        CheckAction::Stop => out.extend(self.kill(self.config.stopsignal, now)),
                        CheckAction::Nothing => {}
                    }
                }
            }
        }
        out
    }

    /// Extension (dependencies): the process has `depends_on=` / `dependent_startup=true`, so
    /// its automatic and requested starts wait for [`crate::supervisor::core::Core`] to
    /// release them.
    pub fn has_dependencies(&self) -> bool {
        !self.config.ext.dependencies.is_empty() || self.config.ext.dependent_startup
    }

    /// Whether the process has been in `state` since it was created.
    pub fn has_reached(&self, state: ProcessState) -> bool {
        self.reached & state_bit(state) != 0
    }

    /// EXITED with an exit code listed in `exitcodes`.
    pub fn exited_expectedly(&self) -> bool {
        self.state == ProcessState::Exited && self.exited_expected()
    }

    /// Extension (dependencies): a start waits for the dependencies: one was requested, or
    /// this is the automatic first start (`autostart`, or `dependent_startup`).
    pub fn start_waiting(&self) -> bool {
        if !self.has_dependencies() || !self.state.is_stopped() || self.pid.is_some() {
            return false;
        }
        if self.state == ProcessState::Unknown {
            return false;
        }
        let auto = self.state == ProcessState::Stopped
            && self.laststart.is_none()
            && (self.config.autostart || self.config.ext.dependent_startup)
            && !self.autostart_cancelled;
        self.start_pending || auto
    }

    /// Extension (dependencies): the waiting start stays waiting; `note` says for what. Logs
    /// the note when it changes.
    pub fn wait_for_dependencies(&mut self, note: String) -> Vec<Action> {
        if self.dependency_note.as_ref() == Some(&note) {
            return Vec::new();
        }
        let line = format!("{}: start {note}", self.name());
        self.dependency_note = Some(note);
        vec![log(LogLevel::Info, line)]
    }

    /// Extension (dependencies): the dependencies allow the waiting start: start now.
    pub fn start_after_dependencies(&mut self, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        if self.dependency_note.is_some() {
            out.push(log(
                LogLevel::Info,
                format!("{}: dependencies are up, starting", self.name()),
            ));
        }
        out.extend(self.spawn(now));
        out
    }

    /// Extension (dependencies): a dependency failed (FATAL), so the waiting start is not
    /// made: the process stays in its state (STOPPED) with `why` as its `spawnerr`.
    pub fn dependency_failed(&mut self, why: String) -> Vec<Action> {
        self.start_pending = false;
        self.autostart_cancelled = true;
        self.spawnerr = Some(why.clone());
        let line = format!("not starting {}: {why}", self.name());
        self.dependency_note = Some(why);
        vec![log(LogLevel::Warn, line)]
    }

    /// Extension (dependencies): an explicit start whose dependencies are not up yet: wait for
    /// them (the core starts them). Refused like [`Process::start`].
    pub fn request_start_after_dependencies(
        &mut self,
        note: String,
    ) -> Result<Vec<Action>, CommandError> {
        if self.state.is_running() || self.state == ProcessState::Stopping {
            return Err(CommandError::AlreadyStarted(self.namespec()));
        }
        if self.state == ProcessState::Unknown {
            return Err(CommandError::Failed(format!(
                "{} is in an unknown process state",
                self.namespec()
            )));
        }
        self.start_pending = true;
        self.autostart_cancelled = false;
        self.spawnerr = None;
        self.fatal_retry_at = None;
        self.dependency_note = None;
        Ok(self.wait_for_dependencies(note))
    }

    /// An explicit start request (`startProcess`).
    ///
    /// Refuses with ALREADY_STARTED in STARTING/RUNNING/BACKOFF and FAILED in UNKNOWN, like
    /// upstream's RPC. From STOPPING upstream's `spawn()` only warns that the process is already
    /// running; we do the same (the RPC then reports the outcome from the state).
    ///
    /// The backoff counter is not reset here, exactly as upstream: it is already 0 after EXITED
    /// and FATAL, and a start after a stop from BACKOFF continues the count (`tries:` shows it).
    pub fn start(&mut self, now: Instant) -> Result<Vec<Action>, CommandError> {
        if self.state.is_running() {
            return Err(CommandError::AlreadyStarted(self.namespec()));
        }
        if self.state == ProcessState::Unknown {
            return Err(CommandError::Failed(format!(
                "{} is in an unknown process state",
                self.namespec()
            )));
        }
        Ok(self.spawn(now))
    }

    /// Upstream `spawn()` up to the fork: reset the per-run fields, record `laststart`, enter
    /// STARTING and ask the runtime to fork.
    fn spawn(&mut self, now: Instant) -> Vec<Action> {
        if self.pid.is_some() {
            return vec![log(
                LogLevel::Warn,
                format!("process '{}' already running", self.name()),
            )];
        }
        self.killing = false;
        self.spawnerr = None;
        self.exitstatus = None;
        self.laststart = Some(now);
        self.retry_after = None;
        self.give_up_at = None;
        self.kill_at = None;
        self.fatal_retry_at = None;
        self.last_status = None;
        self.start_pending = false;
        self.dependency_note = None;
        self.health = Health::Unknown;
        self.check_failures = 0;
        self.check_detail = None;
        self.start_failure = None;
        self.restart_after_stop = false;
        self.notify_status = None;
        let mut out = Vec::new();
        self.change_state(ProcessState::Starting, None, now, &mut out);
        out.push(Action::Spawn);
        out
    }

    /// The fork succeeded: record the pid.
    pub fn spawned(&mut self, pid: i32, _now: Instant) -> Vec<Action> {
        // Record the pid whatever the state: a real child exists and must be found by its reap.
        self.pid = Some(pid);
        self.spawnerr = None;
        self.spawns += 1;
        vec![log(
            LogLevel::Info,
            format!("spawned: '{}' with pid {pid}", self.name()),
        )]
    }

    /// The spawn failed in the parent (command not found, not executable, pipe or fork error):
    /// STARTING -> BACKOFF with `spawnerr` set.
    pub fn spawn_failed(&mut self, message: String, now: Instant) -> Vec<Action> {
        let mut out = vec![log(LogLevel::Info, format!("spawnerr: {message}"))];
        self.spawnerr = Some(message);
        if self.state == ProcessState::Starting {
            self.change_state(ProcessState::Backoff, None, now, &mut out);
        }
        out
    }

    /// An explicit stop request (`stopProcess`), also used by shutdown.
    ///
    /// NOT_RUNNING unless STARTING/RUNNING/BACKOFF (so a STOPPING process is refused). BACKOFF goes
    /// straight to STOPPED with pid 0 and no signal; otherwise the stop signal is sent (to the
    /// process group with `stopasgroup`) and SIGKILL is scheduled after `stopwaitsecs`.
    pub fn stop(&mut self, now: Instant) -> Result<Vec<Action>, CommandError> {
        if self.state == ProcessState::Fatal && self.fatal_retry_at.take().is_some() {
            // Extension: a stop request cancels the pending `retry_fatal_after` start.
            return Ok(vec![log(
                LogLevel::Info,
                format!(
                    "{} stays FATAL: its retry (retry_fatal_after) was cancelled by a stop request",
                    self.name()
                ),
            )]);
        }
        if self.start_waiting() {
            // Extension (dependencies): a stop request cancels a start that waits.
            self.start_pending = false;
            self.autostart_cancelled = true;
            self.dependency_note = None;
            return Ok(vec![log(
                LogLevel::Info,
                format!(
                    "{}: start waiting for its dependencies cancelled by a stop request",
                    self.name()
                ),
            )]);
        }
        if !self.state.is_running() {
            return Err(CommandError::NotRunning(self.namespec()));
        }
        self.laststopreport = None;
        // An explicit stop wins over a check's restart.
        self.restart_after_stop = false;
        self.start_failure = None;
        Ok(self.kill(self.config.stopsignal, now))
    }

    /// Upstream `kill()`: signal the process with the intention to make it exit.
    fn kill(&mut self, sig: i32, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        if self.state == ProcessState::Backoff {
            out.push(log(
                LogLevel::Debug,
                format!(
                    "Attempted to kill {}, which is in BACKOFF state.",
                    self.name()
                ),
            ));
            self.retry_after = None;
            self.give_up_at = None;
            self.change_state(ProcessState::Stopped, Some(0), now, &mut out);
            return out;
        }
        let Some(pid) = self.pid else {
            out.push(log(
                LogLevel::Debug,
                format!(
                    "attempted to kill {} with sig {} but it wasn't running",
                    self.name(),
                    signal_name(sig)
                ),
            ));
            return out;
        };
        // Already STOPPING means this is the escalation.
        let as_group = if self.state == ProcessState::Stopping {
            self.config.killasgroup
        } else {
            self.config.stopasgroup
        };
        out.push(log(
            LogLevel::Debug,
            format!(
                "killing {} (pid {pid}) {}with signal {}",
                self.name(),
                if as_group { "process group " } else { "" },
                signal_name(sig)
            ),
        ));
        self.killing = true;
        self.kill_at = Some(now + Duration::from_secs(self.config.stopwaitsecs));
        self.change_state(ProcessState::Stopping, Some(pid), now, &mut out);
        out.push(Action::Kill {
            pid,
            signal: sig,
            group: as_group,
        });
        out
    }

    /// `signalProcess`: send an arbitrary signal, without any state change. Only in STARTING,
    /// RUNNING and STOPPING (NOT_RUNNING otherwise). Always to the process itself, never its group.
    pub fn signal(&mut self, sig: i32) -> Result<Vec<Action>, CommandError> {
        let pid = match self.pid {
            Some(pid) if self.state.is_signallable() => pid,
            _ => return Err(CommandError::NotRunning(self.namespec())),
        };
        Ok(vec![
            log(
                LogLevel::Debug,
                format!(
                    "sending {} (pid {pid}) sig {}",
                    self.name(),
                    signal_name(sig)
                ),
            ),
            Action::Kill {
                pid,
                signal: sig,
                group: false,
            },
        ])
    }

    /// `kill()` failed with an unexpected errno: log CRIT and enter UNKNOWN. Stop bookkeeping is
    /// dropped so no SIGKILL escalation follows; the pid is kept so the eventual reap is matched.
    pub fn signal_error(&mut self, now: Instant, message: &str) -> Vec<Action> {
        let pid = self.pid.unwrap_or(0);
        // Upstream words kill (stop/escalation) and signal failures differently; a kill always
        // leaves the process STOPPING.
        let text = if self.state == ProcessState::Stopping {
            format!("unknown problem killing {} ({pid}):{message}", self.name())
        } else {
            format!(
                "unknown problem sending sig {} ({pid}):{message}",
                self.name()
            )
        };
        let mut out = vec![log(LogLevel::Critical, text)];
        self.killing = false;
        self.kill_at = None;
        self.change_state(ProcessState::Unknown, None, now, &mut out);
        out
    }

    /// `waiting for <name> to stop` while STOPPING, at most every 2 s (driven by waiting RPCs).
    pub fn stop_report(&mut self, now: Instant) -> Vec<Action> {
        if self.state != ProcessState::Stopping {
            return Vec::new();
        }
        let due = self
            .laststopreport
            .is_none_or(|last| now.saturating_duration_since(last) > Duration::from_secs(2));
        if !due {
            return Vec::new();
        }
        self.laststopreport = Some(now);
        vec![log(
            LogLevel::Info,
            format!("waiting for {} to stop", self.name()),
        )]
    }

    /// The child was reaped (upstream `finish()`).
    ///
    /// * After a stop request: STOPPING -> STOPPED whatever the status (INFO if the status is in
    ///   `exitcodes`, else WARN).
    /// * Exited before `startsecs`: STARTING -> BACKOFF, `Exited too quickly ...`.
    /// * Otherwise: RUNNING -> EXITED (passing through RUNNING first if still STARTING, e.g.
    ///   `startsecs=0`), expected iff the status is in `exitcodes`; backoff resets.
    pub fn exited(&mut self, status: ExitStatus, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        let name = self.name().to_string();
        let pid = self.pid.unwrap_or(0);
        let es = status.code();
        let msg = status.message();
        self.laststop = Some(now);
        self.last_exit = Some(es);
        self.last_status = Some(status);
        // With a readiness check, any exit before it passed is a failed start.
        let too_quickly = self.config.ext.ready_check.is_some()
            || self.laststart.is_some_and(|start| {
                now.saturating_duration_since(start) < Duration::from_secs(self.config.startsecs)
            });
        let expected = self.config.exitcodes.contains(&es);

        if let Some(why) = self.start_failure.take().filter(|_| self.killing) {
            // Extension (ready_check_action=restart): a failed start, retried like one.
            self.killing = false;
            self.kill_at = None;
            self.exitstatus = None;
            self.spawnerr = Some(why);
            out.push(log(LogLevel::Info, format!("stopped: {name} ({msg})")));
            self.change_state(ProcessState::Backoff, None, now, &mut out);
        } else if self.killing {
            self.killing = false;
            self.kill_at = None;
            self.exitstatus = Some(es);
            self.change_state(ProcessState::Stopped, Some(pid), now, &mut out);
            let level = if expected {
                LogLevel::Info
            } else {
                LogLevel::Warn
            };
            out.push(log(level, format!("stopped: {name} ({msg})")));
        } else if too_quickly && self.state == ProcessState::Starting {
            self.exitstatus = None;
            self.spawnerr = Some("Exited too quickly (process log may have details)".to_string());
            self.change_state(ProcessState::Backoff, None, now, &mut out);
            out.push(log(
                LogLevel::Warn,
                format!("exited: {name} ({msg}; not expected)"),
            ));
        } else {
            // Upstream asserts RUNNING here (and crashes otherwise, e.g. from UNKNOWN); we treat
            // any other state as a plain exit so the process is never left with a dead pid.
            self.retry_after = None;
            self.backoff = 0;
            self.exitstatus = Some(es);
            if self.state == ProcessState::Starting {
                self.change_state(ProcessState::Running, Some(pid), now, &mut out);
            }
            if expected {
                self.change_state(ProcessState::Exited, Some(pid), now, &mut out);
                out.push(log(
                    LogLevel::Info,
                    format!("exited: {name} ({msg}; expected)"),
                ));
            } else {
                self.spawnerr = Some(format!("Bad exit code {es}"));
                self.change_state(ProcessState::Exited, Some(pid), now, &mut out);
                out.push(log(
                    LogLevel::Warn,
                    format!("exited: {name} ({msg}; not expected)"),
                ));
            }
        }
        self.pid = None;
        out
    }

    /// Whether an EXITED process is to be restarted under its `autorestart` policy.
    fn wants_autorestart(&self) -> bool {
        match self.config.autorestart {
            AutoRestart::Never => false,
            AutoRestart::Always => true,
            // Upstream compares the stored exitstatus (None never matches exitcodes).
            AutoRestart::Unexpected => self
                .exitstatus
                .is_none_or(|es| !self.config.exitcodes.contains(&es)),
        }
    }

    /// One main-loop `transition()` of this process at `now`, under the daemon's `mood`.
    ///
    /// Starts (autostart, autorestart, backoff retry) only happen while the mood is RUNNING.
    /// The decisions use the state as it was on entry, so one tick never chains two of them.
    pub fn tick(&mut self, now: Instant, mood: SupervisorState) -> Vec<Action> {
        let mut out = Vec::new();
        let state = self.state;
        let may_start = mood_allows_starts(mood);

        if may_start {
            match state {
                ProcessState::Exited => {
                    let due = self.autorestart_due().is_none_or(|at| now >= at);
                    if self.wants_autorestart() && due {
                        out.extend(self.spawn(now));
                    }
                }
                ProcessState::Fatal if self.fatal_retry_at.is_some_and(|at| now >= at) => {
                    self.fatal_retries = self.fatal_retries.saturating_add(1);
                    let limit = self
                        .config
                        .ext
                        .retry_fatal
                        .and_then(|r| r.limit)
                        .map_or(String::new(), |l| format!(" of {l}"));
                    out.push(log(
                        LogLevel::Info,
                        format!(
                            "retrying: {} leaves FATAL state (retry_fatal_after), attempt {}{limit}",
                            self.name(),
                            self.fatal_retries
                        ),
                    ));
                    out.extend(self.spawn(now));
                }
                // A process with dependencies is started by the core once they are up.
                ProcessState::Stopped
                    if self.laststart.is_none()
                        && self.config.autostart
                        && !self.has_dependencies() =>
                {
                    out.extend(self.spawn(now));
                }
                ProcessState::Backoff => {
                    let due = self.retry_after.is_none_or(|delay| now > delay);
                    if self.backoff <= self.config.startretries && due {
                        out.extend(self.spawn(now));
                    }
                }
                // Extension: health_check_action=restart stopped it; start it again.
                ProcessState::Stopped if self.restart_after_stop => {
                    out.push(log(
                        LogLevel::Info,
                        format!(
                            "{}: starting again (health_check_action=restart)",
                            self.name()
                        ),
                    ));
                    out.extend(self.spawn(now));
                }
                _ => {}
            }
        }

        match state {
            // With a readiness check only the check makes it RUNNING.
            ProcessState::Starting if self.config.ext.ready_check.is_none() => {
                let up = self
                    .laststart
                    .is_some_and(|start| now.saturating_duration_since(start) > self.startsecs());
                if up {
                    self.retry_after = None;
                    self.backoff = 0;
                    let pid = self.pid;
                    self.change_state(ProcessState::Running, Some(pid.unwrap_or(0)), now, &mut out);
                    out.push(log(
                        LogLevel::Info,
                        format!(
                            "success: {} entered RUNNING state, process has stayed up for > than {} seconds (startsecs)",
                            self.name(),
                            self.config.startsecs
                        ),
                    ));
                }
            }
            ProcessState::Backoff => {
                let due = self.give_up_at.is_none_or(|at| now >= at);
                if self.backoff > self.config.startretries && due {
                    out.extend(self.give_up(now));
                    out.push(log(
                        LogLevel::Info,
                        format!(
                            "gave up: {} entered FATAL state, too many start retries too quickly",
                            self.name()
                        ),
                    ));
                    out.extend(self.schedule_fatal_retry(now));
                }
            }
            ProcessState::Stopping if self.kill_at.is_some_and(|at| now >= at) => {
                out.push(log(
                    LogLevel::Warn,
                    format!(
                        "killing '{}' ({}) with SIGKILL",
                        self.name(),
                        self.pid.unwrap_or(0)
                    ),
                ));
                out.extend(self.kill(SIGKILL, now));
            }
            _ => {}
        }
        out
    }

    /// Extension `retry_fatal_after`: after giving up, schedule the next start out of FATAL
    /// unless `retry_fatal_limit` retries in a row have failed already.
    fn schedule_fatal_retry(&mut self, now: Instant) -> Vec<Action> {
        let Some(retry) = self.config.ext.retry_fatal else {
            return Vec::new();
        };
        if retry.limit.is_some_and(|limit| self.fatal_retries >= limit) {
            return vec![log(
                LogLevel::Info,
                format!(
                    "{} stays FATAL: {} retries (retry_fatal_limit) failed",
                    self.name(),
                    self.fatal_retries
                ),
            )];
        }
        self.fatal_retry_at = Some(now + Duration::from_secs(retry.after));
        vec![log(
            LogLevel::Info,
            format!(
                "{} will leave FATAL state in {} seconds (retry_fatal_after)",
                self.name(),
                retry.after
            ),
        )]
    }

    /// BACKOFF -> FATAL without waiting (upstream `give_up()`), used by shutdown; the backoff
    /// counter resets. Does nothing in any other state.
    pub fn give_up(&mut self, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        if self.state != ProcessState::Backoff {
            return out;
        }
        self.retry_after = None;
        self.give_up_at = None;
        self.backoff = 0;
        self.change_state(ProcessState::Fatal, None, now, &mut out);
        out
    }

    /// The earliest instant at which [`Process::tick`] would act on its own: startsecs expiry,
    /// backoff retry or give-up, SIGKILL escalation, autorestart. `None` if nothing is pending
    /// on a timer. Autostart of a never-started process is not timed: it happens on the first
    /// tick with a RUNNING mood.
    ///
    /// This ignores the mood; a deadline for a start that the mood forbids is harmless (the tick
    /// does nothing) but the runtime should not spin on it: [`crate::supervisor::core::Core`]
    /// filters those out.
    pub fn next_deadline(&self) -> Option<Instant> {
        match self.state {
            // `now - laststart > startsecs` first holds one tick of the clock after the boundary.
            ProcessState::Starting if self.config.ext.ready_check.is_some() => None,
            ProcessState::Starting => self.laststart.map(|s| s + self.startsecs() + EPSILON),
            ProcessState::Stopped if self.restart_after_stop => self.laststop,
            ProcessState::Backoff => {
                if self.backoff > self.config.startretries {
                    self.give_up_at
                } else {
                    self.retry_after.map(|d| d + EPSILON)
                }
            }
            ProcessState::Stopping => self.kill_at,
            ProcessState::Exited if self.wants_autorestart() => self.autorestart_due(),
            ProcessState::Fatal => self.fatal_retry_at,
            _ => None,
        }
    }

    /// Whether [`Process::next_deadline`] is a start that needs a RUNNING mood.
    pub(crate) fn deadline_needs_running_mood(&self) -> bool {
        match self.state {
            ProcessState::Exited | ProcessState::Fatal => true,
            ProcessState::Stopped => self.restart_after_stop,
            ProcessState::Backoff => self.backoff <= self.config.startretries,
            _ => false,
        }
    }

    fn startsecs(&self) -> Duration {
        Duration::from_secs(self.config.startsecs)
    }

    /// Upstream `change_state()`: same-state changes are suppressed; entering BACKOFF bumps the
    /// counter and schedules the retry (`now + backoff`) and the give-up check.
    fn change_state(
        &mut self,
        to: ProcessState,
        pid: Option<i32>,
        now: Instant,
        out: &mut Vec<Action>,
    ) {
        let from = self.state;
        if from == to {
            return;
        }
        self.state = to;
        self.reached |= state_bit(to);
        if to == ProcessState::Backoff {
            self.backoff = self.backoff.saturating_add(1);
            // Upstream waits `backoff` seconds; the `backoff_max` extension caps that.
            let mut delay = u64::from(self.backoff);
            if let Some(max) = self.config.ext.backoff_max {
                delay = delay.min(max);
            }
            self.retry_after = Some(now + Duration::from_secs(delay));
            self.give_up_at = Some(now + LOOP_INTERVAL);
        }
        if to == ProcessState::Running {
            self.fatal_retries = 0;
        }
        let (tries, pid, expected) = match to {
            ProcessState::Starting | ProcessState::Backoff => (Some(self.backoff), None, None),
            ProcessState::Running | ProcessState::Stopping | ProcessState::Stopped => {
                (None, Some(pid.unwrap_or(0)), None)
            }
            ProcessState::Exited => (None, Some(pid.unwrap_or(0)), Some(self.exited_expected())),
            ProcessState::Fatal | ProcessState::Unknown => (None, None, None),
        };
        out.push(Action::StateChange(StateChange {
            from,
            to,
            tries,
            pid,
            expected,
        }));
    }

    /// `expected:` of an EXITED event: the recorded status is in `exitcodes`.
    fn exited_expected(&self) -> bool {
        self.exitstatus
            .is_some_and(|es| self.config.exitcodes.contains(&es))
    }
}

/// `; restarting` / `; stopping` / `` for a check's log line.
fn action_words(action: CheckAction) -> &'static str {
    match action {
        CheckAction::Restart => "; restarting",
        CheckAction::Stop => "; stopping",
        CheckAction::Nothing => "",
    }
}

/// Whether processes may be (re)started under this daemon mood. Upstream tests
/// `mood > SupervisorStates.RESTARTING`: RUNNING, or the defined-but-never-entered FATAL.
pub fn mood_allows_starts(mood: SupervisorState) -> bool {
    mood.code() > SupervisorState::Restarting.code()
}

fn log(level: LogLevel, message: String) -> Action {
    Action::Log { level, message }
}

#[cfg(test)]
#[path = "state_tests.rs"]
pub(crate) mod tests;

#[cfg(test)]
#[path = "checks_tests.rs"]
mod checks_tests;
