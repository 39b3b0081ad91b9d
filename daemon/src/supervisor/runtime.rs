//! The tokio loop around [`Core`]: it turns the outside world (children exiting, pipes
//! becoming readable, timers, signals, control commands) into calls on the core, and carries
//! out the actions the core returns (spawn, kill, log). It makes no supervision decision itself.
//!
//! Everything runs on one current-thread runtime inside a `LocalSet`, so shared state is plain
//! `Rc<RefCell<..>>` and there are no locks.
//!
//! Events: the loop owns the [`EventBus`]. It publishes PROCESS_STATE_* from the core's
//! `StateChange` actions, PROCESS_GROUP_* and SUPERVISOR_STATE_CHANGE_* around startup, group
//! changes and shutdown, REMOTE_COMMUNICATION from the RPC layer, and ticks; the pipe pumps
//! queue PROCESS_LOG / PROCESS_COMMUNICATION events and listener stdout bytes into a shared
//! queue that the loop drains ([`PumpQueue`]). Like upstream's `drain()` before `finish()`, a
//! reaped process's pipes are read synchronously before its exit is processed, so its last
//! output (and a listener's last result) comes before the exit. Dispatch runs once per loop
//! iteration. The global event serial lives in a static so it survives in-process restarts.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet, VecDeque};
use std::ffi::OsString;
use std::io;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use tokio::net::unix::pipe;
use tokio::signal::unix::{signal as unix_signal, SignalKind};
use tokio::sync::{mpsc, oneshot, Notify};

use supervisor_protocol::events::{Event, OutputChannel};

use crate::config::model::GroupKind;
use crate::config::model::{HealthCheck, Probe};
use crate::config::{Config, GroupConfig, LogFile, ProcessConfig};
use crate::events::EventBus;
use crate::health;
use crate::logs::auto_create::{AutoFile, AutoLogCreator, AutoSlot, Created};
use crate::logs::{
    self, Channel, LineSplitter, LogLevel, MainLog, OutputItem, OutputProcessor, RotatingFile,
    StdoutSink,
};
use crate::process::socket::FcgiSockets;
use crate::process::spawn::{self, SpawnContext};
use crate::process::state::{Action, CheckKind, CommandError, ExitStatus};
use crate::process::{cgroup, registry};
use crate::supervisor::core::{Core, Output, ProcKey, Target};
use crate::supervisor::host::{Host, Request, StdinError};
use crate::supervisor::pacing::SpawnPacer;
use crate::supervisor::pipes::{BurstDetector, PipeEnd};
use crate::supervisor::stdin::StdinQueue;

/// How soon the child record is looked at again while a command line is still unknown.
const RECORD_POLL: Duration = Duration::from_millis(10);

/// How often waiting RPC calls (`startProcess(name, wait=True)`) are re-evaluated at most.
const PENDING_POLL: Duration = Duration::from_millis(50);

/// A start-up takes at least about this many loop iterations: between two batches of spawns
/// the loop answers its clients, so `supervisorctl status` works from the first moment (the
/// processes not started yet show STOPPED).
const STARTUP_ITERATIONS: usize = 64;

/// The most automatic starts (autostart, autorestart, retries; and AUTO log creations without
/// the worker thread) per loop iteration for `n` processes. Every iteration walks all
/// processes (the core's tick and next deadline, `waitpid`), so with a fixed small batch a
/// start-up would cost O(n²); batches of up to n / [`STARTUP_ITERATIONS`] keep it O(n). The
/// [`SpawnPacer`] makes them smaller when spawns are slow, so a client waits tens of ms.
fn spawn_budget(n: usize) -> usize {
    (n / STARTUP_ITERATIONS).max(crate::supervisor::pacing::MIN_BATCH)
}

// AUTO child logs are created in the background, by a worker thread
// ([`crate::logs::auto_create`]; without it, [`spawn_budget`] per loop iteration). Their
// names are chosen at start-up without I/O; a process's files are created before its first
// spawn, or at once when a client asks for them, so the socket answers while thousands are
// created.

/// Size of one read from a child's pipe (Supervisor reads up to 128 KiB at a time).
const READ_CHUNK: usize = 128 * 1024;

/// The global event serial, kept across in-process restarts like upstream's `GlobalSerial`.
static NEXT_EVENT_SERIAL: AtomicU64 = AtomicU64::new(0);

/// What the pumps hand to the loop.
#[derive(Debug)]
enum PumpMsg {
    /// A PROCESS_LOG / PROCESS_COMMUNICATION event.
    Publish(Event),
    /// Bytes a listener wrote on stdout during its run with `pid`.
    Listener {
        key: ProcKey,
        pid: i32,
        data: Vec<u8>,
    },
    /// Extension (checks): the result of one check of the run with `pid`.
    Check {
        key: ProcKey,
        pid: i32,
        kind: CheckKind,
        ok: bool,
        detail: String,
    },
    /// Extension (checks): a `STATUS=` line from the run with `pid` (sd_notify).
    NotifyStatus {
        key: ProcKey,
        pid: i32,
        text: String,
    },
    /// Extension (checks): time for an `exec:` check of the run with `pid` (the loop spawns it
    /// and its reaper collects the status).
    ExecCheck {
        key: ProcKey,
        pid: i32,
        kind: CheckKind,
    },
}

/// Extension (cgroups): processes left in a program's cgroup after its process was reaped.
/// They got the program's `stopsignal`; SIGKILL (`cgroup.kill`) follows at `kill_at`.
struct Leftover {
    name: String,
    kill_at: Instant,
    killed_at: Option<Instant>,
}

/// How often a cgroup with leftovers is looked at (removed once empty).
const LEFTOVER_POLL: Duration = Duration::from_millis(100);

/// How long a cgroup is watched after its `cgroup.kill` before it is given up on (a process in
/// uninterruptible sleep).
const LEFTOVER_GIVE_UP: Duration = Duration::from_secs(10);

/// An `exec:` check in flight: a child of supervisord, reaped by [`Runtime::reap`].
struct ExecProbe {
    key: ProcKey,
    /// The run it checks.
    run_pid: i32,
    kind: CheckKind,
    deadline: Instant,
    timeout: Duration,
    /// Killed at its deadline (already reported as failed); its reap is only collected.
    timed_out: bool,
}

/// Messages from the pumps, in order, plus a wake-up for the loop.
#[derive(Default)]
struct PumpQueue {
    items: RefCell<VecDeque<PumpMsg>>,
    notify: Notify,
}

impl PumpQueue {
    fn push(&self, msg: PumpMsg) {
        self.items.borrow_mut().push_back(msg);
        self.notify.notify_one();
    }

    fn pop(&self) -> Option<PumpMsg> {
        self.items.borrow_mut().pop_front()
    }
}

/// One output pipe of one run, shared by its reader task and the synchronous drain at reap.
type PumpHandle = (Rc<RefCell<Pump>>, Rc<PipeEnd>);

/// Why [`run`] returned.
#[derive(Debug)]
pub enum Outcome {
    /// SIGTERM/SIGINT/SIGQUIT or a shutdown command: exit the daemon.
    Shutdown,
    /// An `essential` / `exit_on_fatal` process ended the daemon (extension): exit with this
    /// code.
    Exit(i32),
    /// SIGHUP or a reload command: run again in the same process with this configuration,
    /// which was read and validated before anything was stopped.
    Restart(Box<Config>),
}

/// Re-reads the configuration for a restart; the error text is logged and the running
/// configuration is kept.
pub type Reloader = Box<dyn Fn() -> Result<Config, String>>;

/// What the loop is winding down for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    Shutdown,
    Restart,
}

/// Requests from the control plane (the HTTP server, tests). Each carries its reply channel.
pub enum Command {
    /// One control-plane request (an XML-RPC call); it answers itself when done (possibly
    /// after a wait).
    Request(Box<dyn Request>),
    /// The log file behind `/logtail/<namespec>/<channel>`, if there is one.
    LogPath {
        namespec: String,
        channel: String,
        reply: oneshot::Sender<Option<PathBuf>>,
    },
    /// The main log file, for `/mainlogtail`.
    MainLogPath {
        reply: oneshot::Sender<Option<PathBuf>>,
    },
    /// A metrics snapshot for `/metrics` (without `/proc` figures, which the caller adds).
    Metrics {
        reply: oneshot::Sender<crate::metrics::Snapshot>,
    },
    Shutdown,
    Restart,
    ReopenLogs,
}

/// A cloneable handle to send [`Command`]s into a running loop.
#[derive(Debug, Clone)]
pub struct Handle {
    tx: mpsc::UnboundedSender<Command>,
}

impl Handle {
    pub fn send(&self, command: Command) -> bool {
        self.tx.send(command).is_ok()
    }
}

type SharedLog = Rc<RefCell<RotatingFile>>;

/// The I/O that belongs to one process and outlives its individual runs.
#[derive(Default)]
struct ProcIo {
    stdout_log: Option<SharedLog>,
    stderr_log: Option<SharedLog>,
    /// The current run's stdin: the bare pipe until something is sent, then a queue and its
    /// writer task.
    stdin: Option<Stdin>,
    /// The current run's output pipes.
    pumps: Vec<PumpHandle>,
    /// Output bytes received on stdout and stderr over every run.
    bytes: [Rc<Cell<u64>>; 2],
    /// stdout, stderr: an AUTO log whose name is chosen but whose file the loop has not
    /// seen created yet (by the worker or itself).
    auto_pending: [RefCell<Option<Arc<AutoSlot>>>; 2],
    /// Extension (checks): the current run's check tasks, aborted when it ends.
    checks: Vec<tokio::task::AbortHandle>,
}

/// A run's stdin. Most programs never get input: their pipe costs no task, channel or
/// registration until the first `sendProcessStdin` (or event, for a listener).
enum Stdin {
    Idle(OwnedFd),
    Open(StdinQueue),
}

impl ProcIo {
    /// The current run's stdin queue, started on first use; `None` without a stdin.
    fn stdin_queue(&mut self) -> Option<&StdinQueue> {
        if let Some(Stdin::Idle(_)) = self.stdin {
            let Some(Stdin::Idle(fd)) = self.stdin.take() else {
                return None;
            };
            self.stdin = pipe::Sender::from_owned_fd(fd)
                .ok()
                .map(|sender| Stdin::Open(StdinQueue::spawn(sender)));
        }
        match &self.stdin {
            Some(Stdin::Open(q)) => Some(q),
            _ => None,
        }
    }
}

struct Runtime {
    core: Core,
    log: Rc<RefCell<MainLog>>,
    /// The running configuration without its groups (the core owns those).
    config: Config,
    spawn_ctx: SpawnContext,
    io: HashMap<ProcKey, ProcIo>,
    strip_ansi: bool,
    /// `[supervisord] child_output=stdout` (a program's own option wins); off when
    /// supervisord daemonized (its stdout is /dev/null).
    child_output: bool,
    child_output_style: logs::Style,
    reload: Reloader,
    /// The config to restart with, read before the restart began.
    next_config: Option<Box<Config>>,
    /// Processes whose AUTO logs are still to be created, in priority order.
    pending_logs: VecDeque<ProcKey>,
    /// The worker thread that creates AUTO files while the loop spawns; `None` if it could
    /// not be started (the loop then creates them, [`spawn_budget`] per iteration).
    auto_creator: Option<AutoLogCreator>,
    /// The last config read by `reloadConfig` (initially the running one).
    stored: Config,
    ending: Option<Ending>,
    pending: Vec<Box<dyn Request>>,
    bus: EventBus<ProcKey>,
    queue: Rc<PumpQueue>,
    /// SUPERVISOR_STATE_CHANGE_STOPPING was published.
    stopping_published: bool,
    /// UNIX time this loop started.
    started_at: f64,
    /// The listening sockets of the fcgi groups (handed back to the caller at the end).
    sockets: FcgiSockets,
    /// Extension (checks): `exec:` checks in flight, by their pid.
    exec_probes: HashMap<i32, ExecProbe>,
    /// Extension (checks): the notification socket of the run being attached.
    pending_notify: Option<health::notify::NotifySocket>,
    /// Extension (cgroups): cgroups that still held processes when their program's process
    /// was reaped, by directory. Bounded by the number of programs with a cgroup.
    cgroup_leftovers: HashMap<PathBuf, Leftover>,
    /// Extension (cgroups): cgroups whose processes got the stop signal of the current run
    /// (`stopasgroup`), so that its leftovers do not get it twice.
    signalled_cgroups: HashSet<PathBuf>,
}

/// The signals supervisord handles. Installed once, before the daemon announces itself, so a
/// SIGTERM that follows the "started" line is never taken by the default action; kept across
/// in-process restarts.
pub struct Signals {
    chld: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    quit: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
    usr2: tokio::signal::unix::Signal,
}

impl Signals {
    /// Must be called inside the tokio runtime (its I/O driver delivers them).
    pub fn install() -> io::Result<Signals> {
        Ok(Signals {
            chld: unix_signal(SignalKind::child())?,
            term: unix_signal(SignalKind::terminate())?,
            int: unix_signal(SignalKind::interrupt())?,
            quit: unix_signal(SignalKind::quit())?,
            hup: unix_signal(SignalKind::hangup())?,
            usr2: unix_signal(SignalKind::user_defined2())?,
        })
    }
}

/// Create a command channel; pass the receiver to [`run`].
pub fn channel() -> (Handle, mpsc::UnboundedReceiver<Command>) {
    let (tx, rx) = mpsc::unbounded_channel();
    (Handle { tx }, rx)
}

/// Run the supervisor until shutdown or restart is requested and every process is down.
/// Must be called inside a `LocalSet` on a current-thread runtime.
///
/// `sockets` holds the fcgi groups' listening sockets, normally already opened by the caller
/// (so a bad socket stops start-up before the daemon detaches); the loop opens and closes them
/// as groups are added and removed, and leaves them open at the end: the caller closes them at
/// shutdown, or keeps the unchanged ones across a restart.
pub async fn run(
    mut config: Config,
    log: Rc<RefCell<MainLog>>,
    commands: &mut mpsc::UnboundedReceiver<Command>,
    signals: &mut Signals,
    reload: Reloader,
    sockets: &mut FcgiSockets,
) -> io::Result<Outcome> {
    let Signals {
        chld: sigchld,
        term: sigterm,
        int: sigint,
        quit: sigquit,
        hup: sighup,
        usr2: sigusr2,
    } = signals;

    let server_url = default_server_url(&config);
    let identifier = config.supervisord.identifier.clone();
    let queue = Rc::new(PumpQueue::default());
    // The stored config (what `reloadConfig` diffs against) keeps the groups; the core owns the
    // running ones; the loop's own copy needs only the daemon-wide settings.
    let stored = config.clone();
    let core = Core::new(std::mem::take(&mut config.groups));
    let batch = spawn_budget(core.processes().count());
    let mut pacer = SpawnPacer::new(batch);
    let mut rt = Runtime {
        core,
        log,
        strip_ansi: config.supervisord.strip_ansi,
        child_output: config.supervisord.child_output,
        child_output_style: logs::Style {
            format: config.supervisord.log_format,
            timestamps: config.supervisord.child_output_timestamps,
        },
        spawn_ctx: SpawnContext::from_current_process(server_url),
        stored,
        config,
        io: HashMap::new(),
        pending_logs: VecDeque::new(),
        auto_creator: None,
        reload,
        next_config: None,
        ending: None,
        pending: Vec::new(),
        bus: EventBus::new(&identifier, NEXT_EVENT_SERIAL.load(Ordering::Relaxed)),
        queue: queue.clone(),
        stopping_published: false,
        started_at: unix_now(),
        sockets: std::mem::take(sockets),
        exec_probes: HashMap::new(),
        pending_notify: None,
        cgroup_leftovers: HashMap::new(),
        signalled_cgroups: HashSet::new(),
    };
    rt.open_child_logs();
    rt.start_events();
    let mut startup_done = false;

    loop {
        // Let the other tasks of the LocalSet (HTTP connections, output pumps) run once per
        // iteration: when something is always ready (children exiting in a storm), the loop
        // would otherwise never return Pending and starve them.
        tokio::task::yield_now().await;
        rt.drain_pump_queue();
        rt.create_pending_logs(batch);
        rt.expire_exec_probes();
        rt.sweep_cgroups(Instant::now());
        let now = Instant::now();
        rt.core.set_spawn_budget(pacer.budget());
        let actions = rt.core.tick(now);
        let spawns = actions
            .iter()
            .filter(|(_, a)| matches!(a, Action::Spawn))
            .count();
        rt.apply(actions);
        pacer.record(spawns, now.elapsed());
        rt.reap();
        // Command lines of children spawned before their exec had finished.
        let _ = registry::resolve_pending();
        rt.follow_core_shutdown();
        rt.poll_pending();
        rt.tick_and_dispatch();
        if !startup_done && !rt.core.starts_deferred() {
            // The start-up is over: hand the memory of parsing the configuration and of the
            // start-up itself back to the system.
            startup_done = true;
            crate::supervisor::memory::release_startup_memory();
        }
        NEXT_EVENT_SERIAL.store(rt.bus.next_serial(), Ordering::Relaxed);
        if let Some(e) = rt.ending {
            // Processes left in cgroups get their stopwaitsecs too (then SIGKILL).
            if rt.core.shutdown_complete() && rt.cgroup_leftovers.is_empty() {
                *sockets = std::mem::take(&mut rt.sockets);
                return Ok(match (e, rt.next_config.take(), rt.core.exit_code()) {
                    (Ending::Restart, Some(config), _) => Outcome::Restart(config),
                    (_, _, Some(code)) => Outcome::Exit(code),
                    _ => Outcome::Shutdown,
                });
            }
        }
        let mut deadline = rt
            .core
            .next_deadline()
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
        if !rt.pending.is_empty() {
            deadline = deadline.min(Instant::now() + PENDING_POLL);
        }
        deadline = deadline.min(next_tick_deadline());
        if registry::has_pending() {
            deadline = deadline.min(Instant::now() + RECORD_POLL);
        }
        if let Some(retry) = rt.bus.next_retry() {
            deadline = deadline.min(retry);
        }
        if let Some(probe) = rt.next_probe_deadline() {
            deadline = deadline.min(probe);
        }
        if let Some(at) = rt.next_leftover_deadline() {
            deadline = deadline.min(at);
        }
        // Pumps always leave a Notify permit behind, so queued output wakes us at once.
        // Control commands come first: reaping also happens at the top of every iteration, so
        // a storm of exiting children cannot starve the RPC.
        tokio::select! {
            biased;
            Some(cmd) = commands.recv() => rt.command(cmd),
            _ = sigchld.recv() => {
                // Upstream reaps, then handles the signal.
                rt.reap();
                rt.log(LogLevel::Debug, "received SIGCHLD indicating a child quit");
            }
            _ = sigterm.recv() => rt.request_stop(Ending::Shutdown, "SIGTERM"),
            _ = sigint.recv() => rt.request_stop(Ending::Shutdown, "SIGINT"),
            _ = sigquit.recv() => rt.request_stop(Ending::Shutdown, "SIGQUIT"),
            _ = sighup.recv() => rt.request_stop(Ending::Restart, "SIGHUP"),
            _ = sigusr2.recv() => {
                rt.log(LogLevel::Info, "received SIGUSR2 indicating log reopen request");
                rt.reopen_logs();
            }
            _ = queue.notify.notified() => {}
            _ = tokio::time::sleep_until(deadline.into()) => {}
        }
    }
}

/// Write what result handlers printed (supervisor_stdout / supervisor_stdlog echo) on our own
/// stdout or stderr, like upstream's handlers print from inside supervisord.
fn write_relays(relays: Vec<crate::events::handlers::Relay>) {
    use crate::events::handlers::Stream;
    use std::io::Write as _;
    for (stream, bytes) in relays {
        // Nowhere to report a failure to write our own stdout/stderr.
        let _ = match stream {
            Stream::Stdout => {
                let mut out = io::stdout().lock();
                out.write_all(&bytes).and_then(|()| out.flush())
            }
            Stream::Stderr => io::stderr().lock().write_all(&bytes),
        };
    }
}

/// Wall-clock UNIX time in seconds.
fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// When the next TICK_5 slice begins (ticks are checked at least then).
fn next_tick_deadline() -> Instant {
    let now = unix_now();
    let wait = (EventBus::<ProcKey>::next_tick_at(now) - now).clamp(0.0, 5.0);
    // A hair late, so the slice has surely changed when we look.
    Instant::now() + Duration::from_secs_f64(wait) + Duration::from_millis(2)
}

/// SUPERVISOR_SERVER_URL when a program does not set `serverurl=`: the first unix server,
/// else the first inet server, else none.
fn default_server_url(config: &Config) -> Option<String> {
    if let Some(u) = config.unix_http_servers.first() {
        return Some(format!("unix://{}", u.file.display()));
    }
    config.inet_http_servers.first().map(|i| {
        let host = if i.host.is_empty() {
            "localhost"
        } else {
            &i.host
        };
        format!("http://{host}:{}", i.port)
    })
}

impl Runtime {
    fn log(&self, level: LogLevel, message: &str) {
        self.log.borrow_mut().log(level, message);
    }

    fn log_all(&self, lines: Vec<crate::events::Log>) {
        for (level, message) in lines {
            self.log(level, &message);
        }
    }

    fn publish(&mut self, event: Event) {
        let logs = self.bus.publish(event);
        self.log_all(logs);
    }

    /// Create the pools and announce every group, then the daemon itself (upstream: each
    /// `add_process_group` subscribes the pool and notifies PROCESS_GROUP_ADDED, then
    /// `runforever` notifies SUPERVISOR_STATE_CHANGE_RUNNING).
    fn start_events(&mut self) {
        let names: Vec<String> = self.core.group_names().map(str::to_string).collect();
        for name in names {
            self.add_pool_for(&name);
            self.publish(Event::process_group(true, &name));
        }
        self.publish(Event::supervisor_state_change(true));
    }

    /// If group `name` is an event listener pool, create its pool on the bus.
    fn add_pool_for(&mut self, name: &str) {
        let Some(g) = self.core.group(name) else {
            return;
        };
        let GroupKind::EventListenerPool(pool) = g.kind else {
            return;
        };
        let pool = pool.clone();
        let members: Vec<(ProcKey, String)> = g
            .members
            .iter()
            .filter_map(|k| self.core.process(*k).map(|p| (*k, p.name().to_string())))
            .collect();
        self.bus.add_pool(name, &pool, members);
    }

    fn publish_stopping(&mut self) {
        if !self.stopping_published {
            self.stopping_published = true;
            self.publish(Event::supervisor_state_change(false));
            let state = match self.ending {
                Some(Ending::Restart) => "RELOADING=1\nSTATUS=supervisord is restarting\n",
                _ => "STOPPING=1\nSTATUS=supervisord is stopping\n",
            };
            if let Err(e) = super::sd_notify::notify(state) {
                self.log(
                    LogLevel::Warn,
                    &format!("could not notify systemd through $NOTIFY_SOCKET: {e}"),
                );
            }
        }
    }

    /// Handle everything the pumps queued.
    fn drain_pump_queue(&mut self) {
        while let Some(msg) = self.queue.pop() {
            match msg {
                PumpMsg::Publish(event) => self.publish(event),
                PumpMsg::Listener { key, pid, data } => {
                    let current = self.core.process(key).and_then(|p| p.pid());
                    if current == Some(pid) {
                        let logs = self.bus.listener_output(key, &data, Instant::now());
                        self.log_all(logs);
                        write_relays(self.bus.take_relays());
                    }
                }
                PumpMsg::Check {
                    key,
                    pid,
                    kind,
                    ok,
                    detail,
                } => {
                    let out = self
                        .core
                        .check_result(key, pid, kind, ok, &detail, Instant::now());
                    self.apply(out);
                }
                PumpMsg::ExecCheck { key, pid, kind } => self.start_exec_probe(key, pid, kind),
                PumpMsg::NotifyStatus { key, pid, text } => self.core.notify_status(key, pid, text),
            }
        }
    }

    /// Upstream `drain()`: read whatever a process's pipes hold right now, then handle it.
    fn drain_process_output(&mut self, key: ProcKey) {
        if let Some(io) = self.io.get(&key) {
            for (pump, receiver) in &io.pumps {
                drain_now(pump, receiver);
            }
        }
        self.drain_pump_queue();
    }

    /// Fire ticks whose slice changed, then hand buffered events to ready listeners.
    fn tick_and_dispatch(&mut self) {
        let logs = self.bus.tick(unix_now());
        self.log_all(logs);
        let core = &self.core;
        let io = &mut self.io;
        let running = |key: ProcKey| {
            core.process(key)
                .is_some_and(|p| p.state() == supervisor_protocol::ProcessState::Running)
        };
        let mut send = |key: ProcKey, bytes: Vec<u8>| {
            io.get_mut(&key)
                .and_then(ProcIo::stdin_queue)
                .is_some_and(|q| q.send(bytes))
        };
        let logs = self.bus.dispatch(Instant::now(), &running, &mut send);
        self.log_all(logs);
    }

    /// The core began a shutdown on its own (an `essential` / `exit_on_fatal` process): wind
    /// down like after SIGTERM.
    fn follow_core_shutdown(&mut self) {
        if self.ending.is_none() && self.core.exit_code().is_some() {
            self.ending = Some(Ending::Shutdown);
            self.publish_stopping();
        }
    }

    fn request_stop(&mut self, wanted: Ending, signame: &str) {
        match (wanted, self.ending) {
            (Ending::Restart, Some(_)) => self.log(
                LogLevel::Warn,
                &format!("ignored {signame} indicating restart request (shutdown in progress)"),
            ),
            (Ending::Restart, None) => {
                self.log(
                    LogLevel::Warn,
                    &format!("received {signame} indicating restart request"),
                );
                // Read the new configuration before stopping anything: a broken file must
                // not take down a running system.
                match (self.reload)() {
                    Ok(config) => self.next_config = Some(Box::new(config)),
                    Err(e) => {
                        self.log(
                            LogLevel::Error,
                            &format!("restart aborted, keeping the running configuration: {e}"),
                        );
                        return;
                    }
                }
                self.ending = Some(Ending::Restart);
                self.publish_stopping();
                let actions = self.core.begin_shutdown(Instant::now(), true);
                self.apply(actions);
            }
            (Ending::Shutdown, previous) => {
                self.log(
                    LogLevel::Warn,
                    &format!("received {signame} indicating exit request"),
                );
                self.ending = Some(Ending::Shutdown);
                if previous.is_none() {
                    self.publish_stopping();
                    let actions = self.core.begin_shutdown(Instant::now(), false);
                    self.apply(actions);
                }
            }
        }
    }

    /// Create (or attach) the log files of every process. AUTO names are generated once per
    /// process and kept across its restarts, like Supervisor.
    fn open_child_logs(&mut self) {
        let keys: Vec<ProcKey> = self.core.processes().map(|(k, _)| k).collect();
        for key in keys {
            if self.io.contains_key(&key) {
                continue;
            }
            let Some(config) = self.core.process(key).map(|p| p.config.clone()) else {
                continue;
            };
            let (stdout_log, out_pending) = self.open_channel_log(&config, Channel::Stdout);
            let (stderr_log, err_pending) = if config.redirect_stderr {
                (None, None)
            } else {
                self.open_channel_log(&config, Channel::Stderr)
            };
            if out_pending.is_some() || err_pending.is_some() {
                self.pending_logs.push_back(key);
            }
            for slot in [&out_pending, &err_pending].into_iter().flatten() {
                self.submit_auto_log(slot.clone());
            }
            self.io.insert(
                key,
                ProcIo {
                    stdout_log,
                    stderr_log,
                    stdin: None,
                    pumps: Vec::new(),
                    bytes: Default::default(),
                    auto_pending: [RefCell::new(out_pending), RefCell::new(err_pending)],
                    checks: Vec::new(),
                },
            );
        }
    }

    /// Queue an AUTO file for the worker thread, started at the first one.
    fn submit_auto_log(&mut self, slot: Arc<AutoSlot>) {
        if self.auto_creator.is_none() {
            match AutoLogCreator::start() {
                Ok(c) => self.auto_creator = Some(c),
                Err(e) => {
                    self.log(
                        LogLevel::Warn,
                        &format!(
                            "cannot start the AUTO log thread ({e}); creating them in the loop"
                        ),
                    );
                    return;
                }
            }
        }
        if let Some(c) = &self.auto_creator {
            c.submit(slot);
        }
    }

    /// Take the outcomes of AUTO files the worker created, in order; without a worker,
    /// create the files of up to `max` processes here.
    fn create_pending_logs(&mut self, max: usize) {
        let mut created_here = 0;
        while let Some(&key) = self.pending_logs.front() {
            if self.auto_creator.is_some() {
                if !self.take_created_logs(key) {
                    return;
                }
            } else {
                if created_here == max {
                    return;
                }
                created_here += 1;
                self.create_logs_of(key);
            }
            self.pending_logs.pop_front();
        }
    }

    /// Apply what the worker did for `key`'s AUTO files; `false` while one is not done.
    fn take_created_logs(&self, key: ProcKey) -> bool {
        let Some(io) = self.io.get(&key) else {
            return true;
        };
        let mut all = true;
        for (i, channel) in [Channel::Stdout, Channel::Stderr].into_iter().enumerate() {
            let mut pending = io.auto_pending[i].borrow_mut();
            let Some(slot) = pending.as_ref() else {
                continue;
            };
            match slot.try_take() {
                Some(created) => {
                    *pending = None;
                    drop(pending);
                    self.apply_created(key, channel, created);
                }
                None => all = false,
            }
        }
        all
    }

    /// Create the AUTO log files of `key` chosen at start-up, if not done yet (exclusive create,
    /// mode 0600; a taken name is replaced by a new one), or wait for the one the worker is
    /// creating.
    fn create_logs_of(&self, key: ProcKey) {
        let Some(io) = self.io.get(&key) else {
            return;
        };
        for (i, channel) in [Channel::Stdout, Channel::Stderr].into_iter().enumerate() {
            let Some(slot) = io.auto_pending[i].borrow_mut().take() else {
                continue;
            };
            self.apply_created(key, channel, slot.create_now());
        }
    }

    /// Log a failed AUTO file; follow a replacement name.
    fn apply_created(&self, key: ProcKey, channel: Channel, created: Created) {
        let Some(io) = self.io.get(&key) else {
            return;
        };
        let log = match channel {
            Channel::Stdout => io.stdout_log.as_ref(),
            Channel::Stderr => io.stderr_log.as_ref(),
        };
        if let Err(e) = &created.result {
            let name = self.core.process(key).map(|p| p.name().to_string());
            self.log(
                LogLevel::Error,
                &format!(
                    "could not create {} log for '{}' in {}: {e}",
                    channel.name(),
                    name.unwrap_or_default(),
                    self.config.supervisord.childlogdir.display()
                ),
            );
        }
        if let Some(log) = log {
            let mut f = log.borrow_mut();
            if f.path() != created.path {
                let (maxbytes, backups) = f.limits();
                *f = RotatingFile::closed(&created.path, maxbytes, backups);
            }
        }
    }

    /// The log of one channel, and the file to create when it is an AUTO log
    /// ([`Runtime::create_logs_of`]).
    fn open_channel_log(
        &self,
        config: &ProcessConfig,
        channel: Channel,
    ) -> (Option<SharedLog>, Option<Arc<AutoSlot>>) {
        let chan = match channel {
            Channel::Stdout => &config.stdout,
            Channel::Stderr => &config.stderr,
        };
        let path = match &chan.logfile {
            LogFile::None | LogFile::Syslog => return (None, None),
            LogFile::Path(p) => p.clone(),
            LogFile::Auto => {
                // Only the name now; the file is created before the first spawn.
                let p = logs::auto_log_name(
                    &self.config.supervisord.childlogdir,
                    &config.name,
                    channel,
                    &self.config.supervisord.identifier,
                );
                let f = RotatingFile::closed(&p, chan.logfile_maxbytes, chan.logfile_backups);
                let slot = AutoSlot::new(AutoFile {
                    path: p,
                    childlogdir: self.config.supervisord.childlogdir.clone(),
                    process: config.name.clone(),
                    channel,
                    identifier: self.config.supervisord.identifier.clone(),
                });
                return (Some(Rc::new(RefCell::new(f))), Some(slot));
            }
        };
        match RotatingFile::open(&path, chan.logfile_maxbytes, chan.logfile_backups) {
            Ok(mut f) => {
                // Created now (so it exists for tail), opened again at the first output.
                f.release();
                (Some(Rc::new(RefCell::new(f))), None)
            }
            Err(e) => {
                self.log(
                    LogLevel::Error,
                    &format!(
                        "could not open {} log for '{}' at {}: {e}",
                        channel.name(),
                        config.name,
                        path.display()
                    ),
                );
                (None, None)
            }
        }
    }

    fn reopen_logs(&mut self) {
        if let Err(e) = self.log.borrow_mut().reopen() {
            eprintln!("supervisord: could not reopen main log: {e}");
        }
        self.log(LogLevel::Info, "supervisord logreopen");
        for io in self.io.values() {
            for f in [&io.stdout_log, &io.stderr_log].into_iter().flatten() {
                let mut f = f.borrow_mut();
                if let Err(e) = f.reopen() {
                    let msg = format!("could not reopen {}: {e}", f.path().display());
                    drop(f);
                    self.log(LogLevel::Error, &msg);
                }
            }
        }
    }

    /// Reap every exited child without blocking.
    fn reap(&mut self) {
        loop {
            let status = match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => return,
                Err(Errno::EINTR) => continue,
                Err(e) => {
                    self.log(LogLevel::Error, &format!("waitpid failed: {e}"));
                    return;
                }
                Ok(s) => s,
            };
            let (pid, exit) = match status {
                WaitStatus::Exited(pid, code) => (pid, ExitStatus::Code(code)),
                WaitStatus::Signaled(pid, sig, core_dumped) => (
                    pid,
                    ExitStatus::Signaled {
                        signal: sig as i32,
                        core_dumped,
                    },
                ),
                // Stopped/continued children are not exits; keep reaping.
                _ => continue,
            };
            registry::exited(pid.as_raw());
            if let Some(probe) = self.exec_probes.remove(&pid.as_raw()) {
                if !probe.timed_out {
                    let ok = exit == ExitStatus::Code(0);
                    let out = self.core.check_result(
                        probe.key,
                        probe.run_pid,
                        probe.kind,
                        ok,
                        &format!("check command {}", exit.message()),
                        Instant::now(),
                    );
                    self.apply(out);
                }
                continue;
            }
            let key = self.core.find_by_pid(pid.as_raw());
            if let Some(key) = key {
                self.drain_process_output(key);
            }
            let actions = self.core.reaped(pid.as_raw(), exit, Instant::now());
            if let Some(key) = key {
                self.remove_cgroup(key);
            }
            // The run is over: close our end of its stdin (a restart gets a new pipe).
            if let Some(io) = key.and_then(|k| self.io.get_mut(&k)) {
                io.stdin = None;
                io.pumps.clear();
                // No descriptor for the logs of a process that is down (a pump still reading
                // a grandchild's output opens them again if it writes).
                for f in [&io.stdout_log, &io.stderr_log].into_iter().flatten() {
                    f.borrow_mut().release();
                }
                for task in io.checks.drain(..) {
                    task.abort();
                }
            }
            if let Some(key) = key {
                // A listener that died while BUSY: its event goes back to the head of its
                // pool. Done before the actions, which may already respawn the listener.
                let logs = self.bus.listener_exited(key);
                self.log_all(logs);
            }
            self.apply(actions);
            // Before anything else runs (a SIGHUP restart, say), adopt a shutdown that an
            // essential process's exit started.
            self.follow_core_shutdown();
        }
    }

    fn apply(&mut self, actions: Output) {
        let mut queue: VecDeque<(Option<ProcKey>, Action)> = actions.into();
        while let Some((key, action)) = queue.pop_front() {
            match (key, action) {
                (_, Action::Log { level, message }) => self.log(level, &message),
                (Some(key), Action::Spawn) => {
                    self.create_logs_of(key);
                    let now = Instant::now();
                    let Some(group) = self.core.process(key).map(|p| p.group().to_string()) else {
                        continue;
                    };
                    let socket = match self.fcgi_socket(&group) {
                        Ok(s) => s,
                        Err(msg) => {
                            let more = self.core.spawn_failed(key, msg, now);
                            queue.extend(more);
                            continue;
                        }
                    };
                    let Some(process) = self.core.process(key) else {
                        continue;
                    };
                    let fd = socket.and_then(|g| self.sockets.fd(&g));
                    // Extension: a `notify` check gets the run its own NOTIFY_SOCKET.
                    let notify = match uses_notify(&process.config) {
                        false => None,
                        true => match health::notify::NotifySocket::bind() {
                            Ok(s) => Some(s),
                            Err(e) => {
                                let msg = format!("cannot create the notification socket: {e}");
                                let more = self.core.spawn_failed(key, msg, now);
                                queue.extend(more);
                                continue;
                            }
                        },
                    };
                    let extra_env: Vec<(OsString, OsString)> = notify
                        .iter()
                        .map(|n| ("NOTIFY_SOCKET".into(), n.env_value.clone().into()))
                        .collect();
                    if let Some(Ok(dir)) = cgroup::dir(&process.config) {
                        // The spawn kills what is left in the cgroup before the child joins.
                        self.cgroup_leftovers.remove(&dir);
                        self.signalled_cgroups.remove(&dir);
                    }
                    let spawned =
                        spawn::spawn_with_env(&process.config, &self.spawn_ctx, fd, &extra_env);
                    let more = match spawned {
                        Ok(child) => {
                            let pid = child.pid;
                            self.pending_notify = notify;
                            self.attach_pipes(key, child);
                            self.core.spawned(key, pid, now)
                        }
                        Err(msg) => self.core.spawn_failed(key, msg, now),
                    };
                    queue.extend(more);
                }
                (Some(key), Action::Kill { pid, signal, group }) => {
                    let target = if group { -pid } else { pid };
                    let result = Signal::try_from(signal)
                        .map_err(|e| e.to_string())
                        .and_then(|s| match kill(Pid::from_raw(target), s) {
                            Ok(()) | Err(Errno::ESRCH) => Ok(()),
                            Err(e) => Err(e.to_string()),
                        });
                    if group {
                        self.signal_cgroup(key, signal, pid);
                    }
                    if let Err(msg) = result {
                        let more = self.core.signal_error(key, Instant::now(), &msg);
                        queue.extend(more);
                    }
                }
                (Some(key), Action::StateChange(change)) => {
                    if change.to == supervisor_protocol::ProcessState::Running {
                        if let Some(pid) = change.pid {
                            // A wrapper may have exec'd the real program by now.
                            let _ = registry::refresh(pid);
                        }
                    }
                    let Some(p) = self.core.process(key) else {
                        continue;
                    };
                    let event = Event::process_state(
                        p.name(),
                        p.group(),
                        change.from,
                        change.to,
                        change.tries,
                        change.expected,
                        change.pid,
                    );
                    self.publish(event);
                }
                (Some(key), Action::Health(change)) => {
                    let Some(p) = self.core.process(key) else {
                        continue;
                    };
                    let event = Event::process_health(
                        p.name(),
                        p.group(),
                        change.healthy,
                        p.pid().unwrap_or(0),
                        change.failures,
                        &change.detail,
                    );
                    self.publish(event);
                }
                (None, _) => {}
            }
        }
    }

    /// `stopasgroup`/`killasgroup` with a cgroup (extension): the signal also reaches the
    /// processes that left the process group (setsid) but not the cgroup.
    /// The process group `pgid` (the process's own) has had the signal already.
    fn signal_cgroup(&mut self, key: ProcKey, signal: i32, pgid: i32) {
        let Some(Ok(dir)) = self.core.process(key).and_then(|p| cgroup::dir(&p.config)) else {
            return;
        };
        let Ok(sig) = Signal::try_from(signal) else {
            return;
        };
        // Its leftovers are not signalled a second time when the process exits.
        self.signalled_cgroups.insert(dir.clone());
        if let Err(e) = cgroup::signal_all_but(&dir, sig, Some(pgid)) {
            if e.kind() != std::io::ErrorKind::NotFound {
                let msg = format!("cannot signal the cgroup {}: {e}", dir.display());
                self.log(LogLevel::Warn, &msg);
            }
        }
    }

    /// The process is gone: remove its cgroup (extension). Processes still in it get the
    /// program's `stopsignal` now and SIGKILL `stopwaitsecs` later ([`Self::sweep_cgroups`]),
    /// like systemd's stop of a unit's control group.
    fn remove_cgroup(&mut self, key: ProcKey) {
        let Some(p) = self.core.process(key) else {
            return;
        };
        let Some(Ok(dir)) = cgroup::dir(&p.config) else {
            return;
        };
        let name = format!("{}:{}", p.config.group_name, p.config.name);
        let (stopsignal, wait) = (p.config.stopsignal, p.config.stopwaitsecs);
        let signalled = self.signalled_cgroups.remove(&dir);
        match cgroup::remove(&dir) {
            Ok(true) => {}
            Ok(false) => {
                let sig = Signal::try_from(stopsignal).unwrap_or(Signal::SIGTERM);
                let sent = if signalled {
                    // The stop (stopasgroup) reached them already.
                    "already signalled".to_string()
                } else {
                    let n = cgroup::signal_all(&dir, sig).unwrap_or(0);
                    format!("sent {} to {n}", sig.as_str())
                };
                self.log(
                    LogLevel::Info,
                    &format!(
                        "processes left in the cgroup {} of {name}: {sent}, SIGKILL in {wait}s",
                        dir.display(),
                    ),
                );
                let now = Instant::now();
                self.cgroup_leftovers.insert(
                    dir,
                    Leftover {
                        name,
                        kill_at: now + Duration::from_secs(wait),
                        killed_at: None,
                    },
                );
            }
            Err(e) => {
                let msg = format!("cannot remove the cgroup {}: {e}", dir.display());
                self.log(LogLevel::Warn, &msg);
            }
        }
    }

    /// Extension (cgroups): remove the cgroups whose leftovers are gone; SIGKILL those past
    /// their time.
    fn sweep_cgroups(&mut self, now: Instant) {
        if self.cgroup_leftovers.is_empty() {
            return;
        }
        let mut logs = Vec::new();
        self.cgroup_leftovers.retain(|dir, l| {
            match cgroup::remove(dir) {
                Ok(true) => return false,
                Ok(false) => {}
                Err(e) => {
                    logs.push((
                        LogLevel::Warn,
                        format!("cannot remove the cgroup {}: {e}", dir.display()),
                    ));
                    return false;
                }
            }
            match l.killed_at {
                None if now >= l.kill_at => {
                    l.killed_at = Some(now);
                    if let Err(e) = cgroup::signal_all(dir, Signal::SIGKILL) {
                        logs.push((
                            LogLevel::Warn,
                            format!("cannot kill the cgroup {}: {e}", dir.display()),
                        ));
                    } else {
                        logs.push((
                            LogLevel::Warn,
                            format!(
                                "killing what is left in the cgroup {} of {} (SIGKILL)",
                                dir.display(),
                                l.name
                            ),
                        ));
                    }
                    true
                }
                Some(at) if now >= at + LEFTOVER_GIVE_UP => {
                    logs.push((
                        LogLevel::Warn,
                        format!(
                        "the cgroup {} of {} still holds processes after SIGKILL; left in place",
                        dir.display(),
                        l.name
                    ),
                    ));
                    false
                }
                _ => true,
            }
        });
        for (level, msg) in logs {
            self.log(level, &msg);
        }
    }

    /// Extension (cgroups): when [`Self::sweep_cgroups`] should run next.
    fn next_leftover_deadline(&self) -> Option<Instant> {
        let poll = Instant::now() + LEFTOVER_POLL;
        self.cgroup_leftovers
            .values()
            .map(|l| match l.killed_at {
                None => l.kill_at.min(poll),
                Some(_) => poll,
            })
            .min()
    }

    /// For a process of an fcgi group: the group's name, after making sure its socket is open
    /// (it normally is: it opens with the group; this retries one that failed to open).
    /// `Ok(None)` for every other process.
    fn fcgi_socket(&mut self, group: &str) -> Result<Option<String>, String> {
        let Some((lines, result)) = self.sockets.ensure(group) else {
            return Ok(None);
        };
        for line in lines {
            self.log(LogLevel::Info, &line);
        }
        result.map(|()| Some(group.to_string()))
    }

    /// Keep the stdin pipe and start one reader task per output pipe.
    fn attach_pipes(&mut self, key: ProcKey, child: spawn::Spawned) {
        let Some(p) = self.core.process(key) else {
            return;
        };
        let name = p.config.name.clone();
        let group = p.group().to_string();
        let (stdout_cfg, stderr_cfg) = (p.config.stdout.clone(), p.config.stderr.clone());
        // Extension: `ready_check=log:REGEX` watches this run's output.
        let log_matcher = match p.config.ext.ready_check.as_ref().map(|c| &c.probe) {
            Some(Probe::Log(re)) => health::LogMatcher::new(re).map(|m| Rc::new(RefCell::new(m))),
            _ => None,
        };
        let to_stdout = self.config.supervisord.nodaemon
            && p.config.ext.child_output.unwrap_or(self.child_output);
        let is_listener = self.bus.is_listener(key);
        if is_listener {
            self.bus.listener_spawned(key);
        }
        let pid = child.pid;
        let io = self.io.entry(key).or_default();
        io.pumps.clear();
        // An fcgi program has no stdin channel (its fd 0 is the group's socket).
        io.stdin = child.stdin.map(Stdin::Idle);
        let mirror = self.log.borrow().enabled(LogLevel::Debug);
        let pumps = [
            (
                Some(child.stdout),
                Channel::Stdout,
                io.stdout_log.clone(),
                // A listener's stdout is the protocol channel: no capture, no events.
                if is_listener {
                    0
                } else {
                    stdout_cfg.capture_maxbytes
                },
                stdout_cfg.events_enabled && !is_listener,
            ),
            (
                child.stderr,
                Channel::Stderr,
                io.stderr_log.clone(),
                stderr_cfg.capture_maxbytes,
                stderr_cfg.events_enabled,
            ),
        ];
        let mut handles = Vec::new();
        let counters = io.bytes.clone();
        for (fd, channel, file, capture, events_enabled) in pumps {
            let Some(fd) = fd else { continue };
            let receiver = match pipe::Receiver::from_owned_fd(fd) {
                Ok(r) => r,
                Err(e) => {
                    self.log(
                        LogLevel::Error,
                        &format!("cannot watch {} of '{name}': {e}", channel.name()),
                    );
                    continue;
                }
            };
            let pump = Pump {
                name: name.clone(),
                group: group.clone(),
                key,
                pid,
                channel,
                // Upstream's listener dispatcher never strips ANSI from the protocol channel.
                processor: OutputProcessor::new(
                    capture,
                    self.strip_ansi && !(is_listener && channel == Channel::Stdout),
                ),
                // A listener's stdout is its protocol channel: never copied to stdout.
                passthrough: (to_stdout && !(is_listener && channel == Channel::Stdout))
                    .then(|| Passthrough::new(self.child_output_style)),
                file,
                log: self.log.clone(),
                mirror,
                events_enabled,
                listener: is_listener && channel == Channel::Stdout,
                queue: self.queue.clone(),
                bytes: match channel {
                    Channel::Stdout => counters[0].clone(),
                    Channel::Stderr => counters[1].clone(),
                },
                ready_log: log_matcher.clone(),
            };
            let handle: PumpHandle = (Rc::new(RefCell::new(pump)), Rc::new(PipeEnd::new(receiver)));
            tokio::task::spawn_local(pump_task(handle.0.clone(), handle.1.clone()));
            handles.push(handle);
        }
        if let Some(io) = self.io.get_mut(&key) {
            io.pumps = handles;
        }
        self.start_checks(key, pid, log_matcher);
    }

    /// Extension (checks): start the check tasks of the run `pid` of `key`.
    fn start_checks(
        &mut self,
        key: ProcKey,
        pid: i32,
        log_matcher: Option<Rc<RefCell<health::LogMatcher>>>,
    ) {
        let Some(p) = self.core.process(key) else {
            return;
        };
        let checks = [
            (CheckKind::Ready, p.config.ext.ready_check.clone()),
            (CheckKind::Health, p.config.ext.health_check.clone()),
        ];
        let mut handles = Vec::new();
        let notify = self.pending_notify.take();
        if let Some(socket) = notify {
            let uid = program_uid(&p.config);
            let pick = |c: &Option<HealthCheck>| c.clone().filter(|c| c.probe == Probe::Notify);
            let task = tokio::task::spawn_local(notify_task(
                self.queue.clone(),
                key,
                pid,
                socket,
                uid,
                pick(&checks[0].1),
                pick(&checks[1].1),
            ));
            handles.push(task.abort_handle());
        }
        for (kind, check) in checks {
            let Some(check) = check.filter(|c| c.probe != Probe::Notify) else {
                continue;
            };
            let task = tokio::task::spawn_local(check_task(
                self.queue.clone(),
                key,
                pid,
                kind,
                check,
                log_matcher.clone(),
            ));
            handles.push(task.abort_handle());
        }
        if let Some(io) = self.io.get_mut(&key) {
            for old in io.checks.drain(..) {
                old.abort();
            }
            io.checks = handles;
        }
    }

    /// Extension (checks): spawn an `exec:` check of the run `pid` of `key`, unless one of the
    /// same kind is still in flight (so a slow check never piles up).
    fn start_exec_probe(&mut self, key: ProcKey, pid: i32, kind: CheckKind) {
        if self
            .exec_probes
            .values()
            .any(|e| e.key == key && e.kind == kind && !e.timed_out)
        {
            return;
        }
        let Some(p) = self.core.process(key) else {
            return;
        };
        if p.pid() != Some(pid) {
            return;
        }
        let check = match kind {
            CheckKind::Ready => p.config.ext.ready_check.as_ref(),
            CheckKind::Health => p.config.ext.health_check.as_ref(),
        };
        let Some(HealthCheck {
            probe: Probe::Exec(command),
            timeout,
            ..
        }) = check
        else {
            return;
        };
        // The check sees the program's environment, as the program does.
        let mut env = self.spawn_ctx.base_env.clone();
        for (k, v) in &p.config.environment {
            let k = OsString::from(k);
            env.retain(|(ek, _)| *ek != k);
            env.push((k, OsString::from(v)));
        }
        let timeout = Duration::from_secs(*timeout);
        match health::spawn_exec(command, &env) {
            Ok(probe_pid) => {
                self.exec_probes.insert(
                    probe_pid,
                    ExecProbe {
                        key,
                        run_pid: pid,
                        kind,
                        deadline: Instant::now() + timeout,
                        timeout,
                        timed_out: false,
                    },
                );
            }
            Err(e) => {
                let out = self.core.check_result(
                    key,
                    pid,
                    kind,
                    false,
                    &format!("cannot run the check command: {e}"),
                    Instant::now(),
                );
                self.apply(out);
            }
        }
    }

    /// Extension (checks): kill the `exec:` checks past their timeout and count them failed.
    fn expire_exec_probes(&mut self) {
        let now = Instant::now();
        let expired: Vec<i32> = self
            .exec_probes
            .iter()
            .filter(|(_, e)| !e.timed_out && now >= e.deadline)
            .map(|(pid, _)| *pid)
            .collect();
        for probe_pid in expired {
            let Some(e) = self.exec_probes.get_mut(&probe_pid) else {
                continue;
            };
            e.timed_out = true;
            let (key, run_pid, kind, timeout) = (e.key, e.run_pid, e.kind, e.timeout);
            // Its own process group: the shell and whatever it started.
            let _ = kill(Pid::from_raw(-probe_pid), Signal::SIGKILL);
            let out = self.core.check_result(
                key,
                run_pid,
                kind,
                false,
                &format!("check command timed out after {}s", timeout.as_secs()),
                now,
            );
            self.apply(out);
        }
    }

    /// Extension (checks): the earliest `exec:` check timeout.
    fn next_probe_deadline(&self) -> Option<Instant> {
        self.exec_probes
            .values()
            .filter(|e| !e.timed_out)
            .map(|e| e.deadline)
            .min()
    }

    fn command(&mut self, cmd: Command) {
        match cmd {
            Command::Request(mut request) => {
                if !request.poll(self) {
                    self.pending.push(request);
                }
            }
            Command::LogPath {
                namespec,
                channel,
                reply,
            } => {
                let channel = match channel.as_str() {
                    "stdout" => Some(Channel::Stdout),
                    "stderr" => Some(Channel::Stderr),
                    _ => None,
                };
                let path = match (self.core.resolve_target(&namespec), channel) {
                    (Ok(Target::Process(key)), Some(c)) => self.log_path(key, c),
                    _ => None,
                };
                let _ = reply.send(path.filter(|p| p.exists()));
            }
            Command::MainLogPath { reply } => {
                let _ = reply.send(self.main_log_path().filter(|p| p.exists()));
            }
            Command::Metrics { reply } => {
                let _ = reply.send(self.metrics_snapshot());
            }
            Command::Shutdown => self.request_stop(Ending::Shutdown, "shutdown command"),
            Command::Restart => self.request_stop(Ending::Restart, "restart command"),
            Command::ReopenLogs => self.reopen_logs(),
        }
    }

    /// Re-evaluate waiting RPC calls; answer those that are done.
    fn poll_pending(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let mut waiting = std::mem::take(&mut self.pending);
        waiting.retain_mut(|request| !request.abandoned() && !request.poll(self));
        // Calls that arrived while polling were pushed to `self.pending`.
        waiting.append(&mut self.pending);
        self.pending = waiting;
    }

    /// Everything `/metrics` shows that the loop knows.
    fn metrics_snapshot(&self) -> crate::metrics::Snapshot {
        let (now, wall) = (Instant::now(), unix_now());
        let ago = |t: Instant| now.saturating_duration_since(t).as_secs_f64();
        let mut processes: Vec<crate::metrics::ProcessMetrics> = self
            .core
            .processes()
            .map(|(key, p)| {
                let bytes = self
                    .io
                    .get(&key)
                    .map_or([0, 0], |io| [io.bytes[0].get(), io.bytes[1].get()]);
                let state = p.state();
                crate::metrics::ProcessMetrics {
                    group: p.group().to_string(),
                    name: p.name().to_string(),
                    state,
                    pid: p.pid(),
                    start_time: p.laststart().map(|t| wall - ago(t)),
                    uptime: p
                        .laststart()
                        .filter(|_| state == supervisor_protocol::ProcessState::Running)
                        .map(ago),
                    exit_status: p.last_exit_status().unwrap_or(0),
                    restarts: p.restarts(),
                    stdout_bytes: bytes[0],
                    stderr_bytes: bytes[1],
                    resources: None,
                    next_start: self.core.scheduled_start(key).map(|t| {
                        let ahead = t.saturating_duration_since(now).as_secs_f64();
                        wall - ago(t) + ahead
                    }),
                    fatal_retries: p.config.ext.retry_fatal.map(|_| p.fatal_retries()),
                    healthy: match (p.health(), &p.config.ext.health_check) {
                        (crate::process::state::Health::Healthy, Some(_)) => Some(true),
                        (crate::process::state::Health::Unhealthy, Some(_)) => Some(false),
                        _ => None,
                    },
                    check_failures: (p.config.ext.ready_check.is_some()
                        || p.config.ext.health_check.is_some())
                    .then(|| p.check_failures()),
                }
            })
            .collect();
        processes.sort_by(|a, b| (&a.group, &a.name).cmp(&(&b.group, &b.name)));
        crate::metrics::Snapshot {
            processes,
            pools: self.bus.pool_stats(),
            daemon: crate::metrics::DaemonMetrics {
                start_time: self.started_at,
                ..Default::default()
            },
        }
    }

    fn channel_log(&self, key: ProcKey, channel: Channel) -> Option<&SharedLog> {
        // A client asks for it: it must exist (empty) like every other log.
        self.create_logs_of(key);
        let io = self.io.get(&key)?;
        match channel {
            Channel::Stdout => io.stdout_log.as_ref(),
            Channel::Stderr => io.stderr_log.as_ref(),
        }
    }
}

impl Host for Runtime {
    fn core(&self) -> &Core {
        &self.core
    }

    fn core_mut(&mut self) -> &mut Core {
        &mut self.core
    }

    fn apply(&mut self, out: Output) {
        Runtime::apply(self, out);
    }

    fn identifier(&self) -> &str {
        &self.config.supervisord.identifier
    }

    fn base_env(&self) -> &[(OsString, OsString)] {
        &self.spawn_ctx.base_env
    }

    fn main_log_path(&self) -> Option<PathBuf> {
        self.log.borrow().path().map(PathBuf::from)
    }

    fn clear_main_log(&mut self) -> io::Result<()> {
        self.log.borrow_mut().clear()
    }

    fn log_path(&self, key: ProcKey, channel: Channel) -> Option<PathBuf> {
        self.channel_log(key, channel)
            .map(|f| f.borrow().path().to_path_buf())
    }

    fn log_name(&self, key: ProcKey, channel: Channel) -> Option<PathBuf> {
        // Only the name: `getAllProcessInfo` during a large start-up must not create every
        // AUTO file at once.
        let io = self.io.get(&key)?;
        let log = match channel {
            Channel::Stdout => io.stdout_log.as_ref(),
            Channel::Stderr => io.stderr_log.as_ref(),
        }?;
        Some(log.borrow().path().to_path_buf())
    }

    fn clear_process_logs(&mut self, key: ProcKey) -> io::Result<()> {
        for channel in [Channel::Stdout, Channel::Stderr] {
            if let Some(f) = self.channel_log(key, channel) {
                f.borrow_mut().clear()?;
            }
        }
        Ok(())
    }

    fn send_stdin(&mut self, key: ProcKey, data: Vec<u8>) -> Result<(), StdinError> {
        match self.io.get_mut(&key).and_then(ProcIo::stdin_queue) {
            Some(queue) => queue.send_bounded(data),
            None => Err(StdinError::Closed),
        }
    }

    fn request_shutdown(&mut self) {
        self.request_stop(Ending::Shutdown, "shutdown request");
    }

    fn request_restart(&mut self) {
        self.request_stop(Ending::Restart, "restart request");
    }

    fn reread(&mut self) -> Result<(), String> {
        self.stored = (self.reload)()?;
        Ok(())
    }

    fn stored_config(&self) -> &Config {
        &self.stored
    }

    fn add_group(&mut self, config: GroupConfig) -> Result<(), CommandError> {
        let name = config.name.clone();
        if self.core.group(&name).is_some() {
            return Err(CommandError::AlreadyAdded(name));
        }
        // Upstream creates an fcgi group's socket with the group and refuses the group when
        // that fails.
        if let GroupKind::FcgiProgram(socket) = &config.kind {
            let (lines, result) = self.sockets.open(&name, socket);
            for line in lines {
                self.log(LogLevel::Info, &line);
            }
            if let Err(e) = result {
                self.sockets.close(&name);
                self.log(LogLevel::Error, &format!("[fcgi-program:{name}] {e}"));
                return Err(CommandError::Failed(e));
            }
        }
        if let Err(e) = self.core.add_group(config) {
            if let Some(line) = self.sockets.close(&name) {
                self.log(LogLevel::Info, &line);
            }
            return Err(e);
        }
        self.open_child_logs();
        self.add_pool_for(&name);
        self.publish(Event::process_group(true, &name));
        Ok(())
    }

    fn remove_group(&mut self, name: &str) -> Result<(), CommandError> {
        let keys: Vec<ProcKey> = self
            .core
            .group(name)
            .map(|g| g.members.to_vec())
            .unwrap_or_default();
        self.core.remove_group(name)?;
        for key in keys {
            if let Some(io) = self.io.remove(&key) {
                // Its AUTO files are not wanted any more.
                for slot in io.auto_pending.iter().filter_map(|s| s.borrow_mut().take()) {
                    slot.cancel();
                }
            }
        }
        if let Some(line) = self.sockets.close(name) {
            self.log(LogLevel::Info, &line);
        }
        self.bus.remove_pool(name);
        self.publish(Event::process_group(false, name));
        Ok(())
    }

    fn remote_comm_event(&mut self, kind: &str, data: &str) {
        self.publish(Event::remote_communication(kind, data));
    }
}

/// Reads one pipe of one run of a process until EOF and writes what it reads to the log file;
/// queues PROCESS_LOG / PROCESS_COMMUNICATION events and, for a listener's stdout, the bytes
/// for the protocol parser.
struct Pump {
    name: String,
    group: String,
    key: ProcKey,
    pid: i32,
    channel: Channel,
    processor: OutputProcessor,
    /// `child_output=stdout`: lines also go to supervisord's stdout.
    passthrough: Option<Passthrough>,
    file: Option<SharedLog>,
    log: Rc<RefCell<MainLog>>,
    mirror: bool,
    /// `*_events_enabled`: emit PROCESS_LOG events.
    events_enabled: bool,
    /// This is an event listener's stdout.
    listener: bool,
    queue: Rc<PumpQueue>,
    /// Output bytes of this channel over every run (a listener's protocol bytes excluded).
    bytes: Rc<Cell<u64>>,
    /// Extension: the run's `ready_check=log:` matcher, shared by its two pipes.
    ready_log: Option<Rc<RefCell<health::LogMatcher>>>,
}

/// One channel's `child_output=stdout` state.
struct Passthrough {
    splitter: LineSplitter,
    style: logs::Style,
}

impl Passthrough {
    fn new(style: logs::Style) -> Passthrough {
        Passthrough {
            splitter: LineSplitter::new(logs::passthrough::MAX_LINE),
            style,
        }
    }
}

thread_local! {
    /// One read buffer shared by every pump: reads never await while holding it.
    static READ_BUF: RefCell<Vec<u8>> = RefCell::new(vec![0; READ_CHUNK]);
}

/// Outcome of one non-blocking read.
enum ReadStep {
    /// This many bytes were read and handled.
    Data(usize),
    Eof,
    WouldBlock,
    Failed(io::Error),
}

/// Read one chunk (if any) and handle it. `direct` reads the descriptor itself instead of
/// going through tokio, whose `try_read` answers WouldBlock until its reactor has seen the
/// pipe become readable: a drain right after a reap must get the output a child wrote just
/// before it exited even when the loop has not polled since.
fn read_once(pump: &RefCell<Pump>, end: &PipeEnd, direct: bool) -> ReadStep {
    let read = READ_BUF.with(|buf| {
        let mut buf = buf.borrow_mut();
        let n = if direct {
            end.read_direct(&mut buf)
        } else {
            end.read(&mut buf)
        };
        match n {
            Ok(0) => Ok(None),
            Ok(n) => Ok(Some(buf[..n].to_vec())),
            Err(e) => Err(e),
        }
    });
    match read {
        Ok(Some(data)) => {
            let mut p = pump.borrow_mut();
            let items = p.processor.feed(&data);
            p.handle(items);
            ReadStep::Data(data.len())
        }
        Ok(None) => ReadStep::Eof,
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => ReadStep::WouldBlock,
        Err(e) if e.kind() == io::ErrorKind::Interrupted => ReadStep::Data(0),
        Err(e) => ReadStep::Failed(e),
    }
}

/// Reads one pipe may make in a row before its task yields to the rest of the loop (the main
/// loop, other pipes, RPC connections): a child that writes without pause must not
/// monopolise a loop turn.
const READS_PER_TURN: usize = 4;

/// The reader task of one pipe: until EOF. A pipe that feeds PROCESS_LOG events is parked
/// during bursts of small writes (see [`crate::supervisor::pipes`]).
async fn pump_task(pump: Rc<RefCell<Pump>>, end: Rc<PipeEnd>) {
    let gathers = {
        let p = pump.borrow();
        p.events_enabled && !p.listener
    };
    let mut bursts = BurstDetector::default();
    let mut in_a_row = 0;
    loop {
        if let Err(e) = end.readable().await {
            pump.borrow().warn(&format!("read error: {e}"));
            break;
        }
        match read_once(&pump, &end, false) {
            ReadStep::Data(n) => {
                if gathers && !end.parked() && bursts.read(n, Instant::now()) {
                    if let Err(e) = end.park() {
                        pump.borrow().warn(&format!("read error: {e}"));
                        break;
                    }
                }
                if end.parked() {
                    tokio::time::sleep(crate::supervisor::pipes::GATHER_DELAY).await;
                    continue;
                }
                in_a_row += 1;
                if in_a_row >= READS_PER_TURN {
                    in_a_row = 0;
                    tokio::task::yield_now().await;
                }
            }
            ReadStep::WouldBlock => {
                in_a_row = 0;
                // The burst is over: let the reactor wake us again.
                if let Err(e) = end.watch() {
                    pump.borrow().warn(&format!("read error: {e}"));
                    break;
                }
            }
            ReadStep::Eof => break,
            ReadStep::Failed(e) => {
                pump.borrow().warn(&format!("read error: {e}"));
                break;
            }
        }
    }
    let mut p = pump.borrow_mut();
    let rest = p.processor.finish();
    p.handle(rest);
    p.finish_passthrough();
}

/// Extension (checks): a program with a `notify` check.
fn uses_notify(config: &ProcessConfig) -> bool {
    [&config.ext.ready_check, &config.ext.health_check]
        .into_iter()
        .flatten()
        .any(|c| c.probe == Probe::Notify)
}

/// The uid a program runs as (`user=`, else ours): the only sender (with root) whose
/// notifications count.
fn program_uid(config: &ProcessConfig) -> u32 {
    let ours = nix::unistd::geteuid().as_raw();
    let Some(user) = &config.user else {
        return ours;
    };
    match user.parse::<u32>() {
        Ok(uid) => uid,
        Err(_) => nix::unistd::User::from_name(user)
            .ok()
            .flatten()
            .map_or(ours, |u| u.uid.as_raw()),
    }
}

/// Extension (checks): the sd_notify side of one run. READY=1 passes a `notify` readiness
/// check (each `interval` without it, after `start_delay`, is a failed check); a `notify`
/// liveness check passes at each `interval` if a WATCHDOG=1 came within the last interval.
/// STATUS= lines are shown in the status. Ends with the run (aborted) or a socket error.
async fn notify_task(
    queue: Rc<PumpQueue>,
    key: ProcKey,
    pid: i32,
    socket: health::notify::NotifySocket,
    uid: u32,
    ready: Option<HealthCheck>,
    health_check: Option<HealthCheck>,
) {
    use tokio::time::Instant as TokioInstant;
    let start = TokioInstant::now();
    let period = |c: &HealthCheck| Duration::from_secs(c.interval.max(1));
    let first = |c: &HealthCheck| start + Duration::from_secs(c.start_delay) + period(c);
    let mut ready_at = ready.as_ref().map(first);
    let mut health_at = health_check.as_ref().map(first);
    let mut last_watchdog: Option<TokioInstant> = None;
    let push = |kind, ok, detail: String| {
        queue.push(PumpMsg::Check {
            key,
            pid,
            kind,
            ok,
            detail,
        });
    };
    loop {
        let next = [ready_at, health_at].into_iter().flatten().min();
        let timer = async {
            match next {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            got = socket.recv(uid) => {
                let Ok(datagram) = got else { return };
                let notice = health::notify::parse(&datagram);
                if notice.ready && ready_at.is_some() {
                    ready_at = None;
                    push(CheckKind::Ready, true, "READY=1".to_string());
                }
                if notice.watchdog {
                    last_watchdog = Some(TokioInstant::now());
                }
                if let Some(text) = notice.status {
                    queue.push(PumpMsg::NotifyStatus { key, pid, text });
                }
            }
            () = timer => {
                let now = TokioInstant::now();
                if let (Some(at), Some(c)) = (ready_at, &ready) {
                    if now >= at {
                        push(CheckKind::Ready, false, "no READY=1 yet".to_string());
                        ready_at = Some(at + period(c));
                    }
                }
                if let (Some(at), Some(c)) = (health_at, &health_check) {
                    if now >= at {
                        let fresh = last_watchdog.is_some_and(|t| now.duration_since(t) <= period(c));
                        let detail = if fresh {
                            "WATCHDOG=1".to_string()
                        } else {
                            format!("no WATCHDOG=1 within {}s", period(c).as_secs())
                        };
                        push(CheckKind::Health, fresh, detail);
                        health_at = Some(at + period(c));
                    }
                }
            }
        }
    }
}

/// Extension (checks): the schedule of one check of one run: wait `start_delay`, then probe
/// every `interval` and queue the result. A readiness check ends at its first pass; the task
/// is aborted when the run ends. `exec:` probes are handed to the loop (it owns the children).
async fn check_task(
    queue: Rc<PumpQueue>,
    key: ProcKey,
    pid: i32,
    kind: CheckKind,
    check: HealthCheck,
    log_matcher: Option<Rc<RefCell<health::LogMatcher>>>,
) {
    tokio::time::sleep(Duration::from_secs(check.start_delay)).await;
    let interval = Duration::from_secs(check.interval.max(1));
    let timeout = Duration::from_secs(check.timeout.max(1));
    loop {
        let result = match &check.probe {
            Probe::Tcp { host, port } => Some(health::tcp(host, *port, timeout).await),
            Probe::Http {
                host,
                port,
                path,
                status,
            } => Some(health::http(host, *port, path, *status, timeout).await),
            Probe::Exec(_) => {
                queue.push(PumpMsg::ExecCheck { key, pid, kind });
                None
            }
            // Handled by notify_task.
            Probe::Notify => return,
            Probe::Log(re) => {
                // A match is reported by the pump at once; here only the misses count.
                if log_matcher.as_ref().is_some_and(|m| m.borrow().matched()) {
                    return;
                }
                Some(Err(format!("no line of the output matched log:{re} yet")))
            }
        };
        if let Some(result) = result {
            let ok = result.is_ok();
            queue.push(PumpMsg::Check {
                key,
                pid,
                kind,
                ok,
                detail: result.err().unwrap_or_default(),
            });
            if ok && kind == CheckKind::Ready {
                return;
            }
        }
        tokio::time::sleep(interval).await;
    }
}

/// Read what the pipe holds right now without waiting (the task still sees EOF later).
fn drain_now(pump: &RefCell<Pump>, end: &PipeEnd) {
    // Bounded, so a child writing continuously cannot hold the loop.
    for _ in 0..64 {
        match read_once(pump, end, true) {
            ReadStep::Data(_) => continue,
            _ => break,
        }
    }
}

impl Pump {
    fn handle(&mut self, items: Vec<OutputItem>) {
        for item in items {
            if self.mirror && self.listener {
                // Upstream formats the listener's bytes with `%s`, i.e. their repr.
                if let Some(data) = item.log_file_data() {
                    let msg = format!(
                        "{} stdout output:\n{}",
                        logs::output::py_repr_str(&self.name),
                        supervisor_protocol::events::py_repr_bytes(data)
                    );
                    self.log.borrow_mut().log(LogLevel::Debug, &msg);
                }
            } else if self.mirror {
                if let Some(data) = item.process_log_data() {
                    let msg = logs::output_debug_message(&self.name, self.channel, data);
                    self.log.borrow_mut().log(LogLevel::Debug, &msg);
                }
                if let OutputItem::Communication(_) = item {
                    let msg = logs::comm_event_debug_message(&self.name, self.channel);
                    self.log.borrow_mut().log(LogLevel::Debug, &msg);
                }
            }
            let chan = match self.channel {
                Channel::Stdout => OutputChannel::Stdout,
                Channel::Stderr => OutputChannel::Stderr,
            };
            if self.listener {
                if let Some(data) = item.log_file_data() {
                    self.queue.push(PumpMsg::Listener {
                        key: self.key,
                        pid: self.pid,
                        data: data.to_vec(),
                    });
                }
            } else {
                if self.events_enabled {
                    if let Some(data) = item.process_log_data() {
                        self.queue.push(PumpMsg::Publish(Event::process_log(
                            chan,
                            &self.name,
                            &self.group,
                            self.pid,
                            data,
                        )));
                    }
                }
                if let OutputItem::Communication(data) = &item {
                    self.queue
                        .push(PumpMsg::Publish(Event::process_communication(
                            chan,
                            &self.name,
                            &self.group,
                            self.pid,
                            data,
                        )));
                }
            }
            let Some(data) = item.log_file_data() else {
                continue;
            };
            if !self.listener {
                let n = u64::try_from(data.len()).unwrap_or(u64::MAX);
                self.bytes.set(self.bytes.get().saturating_add(n));
                let channel = match self.channel {
                    Channel::Stdout => 0,
                    Channel::Stderr => 1,
                };
                let matched = self
                    .ready_log
                    .as_ref()
                    .is_some_and(|m| m.borrow_mut().feed(channel, data));
                if matched {
                    self.queue.push(PumpMsg::Check {
                        key: self.key,
                        pid: self.pid,
                        kind: CheckKind::Ready,
                        ok: true,
                        detail: format!("a line of {} matched", self.channel.name()),
                    });
                }
            }
            if let Some(pt) = self.passthrough.as_mut() {
                let lines = pt.splitter.feed(data);
                self.pass_lines(lines);
            }
            if let Some(file) = &self.file {
                let result = file.borrow_mut().write(data);
                let resumed = file.borrow_mut().take_resumed();
                let path = || file.borrow().path().display().to_string();
                if let Err(e) = result {
                    self.warn(&format!("could not write to {}: {e}", path()));
                } else if let Some(lost) = resumed {
                    self.warn(&format!(
                        "writing to {} resumed; {lost} bytes were lost",
                        path()
                    ));
                }
            }
        }
    }

    /// `child_output=stdout`: queue whole lines for supervisord's stdout (never blocks; a
    /// full queue drops lines, with a warning when it starts and a count when it ends).
    fn pass_lines(&mut self, lines: Vec<logs::passthrough::Line>) {
        let Some(pt) = self.passthrough.as_ref() else {
            return;
        };
        if lines.is_empty() {
            return;
        }
        let now = chrono::Local::now();
        let sink = StdoutSink::get();
        for line in lines {
            let rendered = logs::passthrough::format_line(
                pt.style,
                now,
                &self.name,
                &self.group,
                self.channel,
                &line,
            );
            match sink.push(rendered) {
                logs::passthrough::Pushed::Queued { dropped_before: 0 } => {}
                logs::passthrough::Pushed::Queued { dropped_before } => {
                    self.log.borrow_mut().log(
                        LogLevel::Warn,
                        &format!(
                            "child_output: stdout is writable again; {dropped_before} lines of \
                             child output were not copied to it"
                        ),
                    );
                }
                logs::passthrough::Pushed::Dropped { first: true } => {
                    self.log.borrow_mut().log(
                        LogLevel::Warn,
                        &format!(
                            "child_output: stdout is not keeping up ({} KiB queued); dropping \
                             child output lines for stdout until it drains (log files are \
                             unaffected)",
                            logs::passthrough::QUEUE_BYTES / 1024
                        ),
                    );
                }
                logs::passthrough::Pushed::Dropped { first: false } => {}
            }
        }
    }

    /// At EOF: the trailing partial line.
    fn finish_passthrough(&mut self) {
        if let Some(line) = self
            .passthrough
            .as_mut()
            .and_then(|pt| pt.splitter.finish())
        {
            self.pass_lines(vec![line]);
        }
    }

    fn warn(&self, msg: &str) {
        self.log.borrow_mut().log(
            LogLevel::Error,
            &format!("'{}' {} {msg}", self.name, self.channel.name()),
        );
    }
}
