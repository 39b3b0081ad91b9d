//! The tokio loop around [`Core`]: it turns the outside world (children exiting, pipes
//! becoming readable, timers, signals, control commands) into calls on the core, and carries
//! out the actions the core returns (spawn, kill, log). It makes no supervision decision itself.
//!
//! Everything runs on one current-thread runtime inside a `LocalSet`, so shared state is plain
//! `Rc<RefCell<..>>` and there are no locks.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::io;
use std::os::fd::OwnedFd;
use std::rc::Rc;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use tokio::net::unix::pipe;
use tokio::signal::unix::{signal as unix_signal, SignalKind};
use tokio::sync::{mpsc, oneshot};

use crate::config::{Config, LogFile, ProcessConfig};
use crate::logs::{self, Channel, LogLevel, MainLog, OutputItem, OutputProcessor, RotatingFile};
use crate::process::spawn::{self, SpawnContext};
use crate::process::state::{Action, CommandError, ExitStatus, ProcessSnapshot};
use crate::supervisor::core::{Core, Output, ProcKey};

/// Size of one read from a child's pipe (Supervisor reads up to 128 KiB at a time).
const READ_CHUNK: usize = 128 * 1024;

/// Why [`run`] returned.
#[derive(Debug)]
pub enum Outcome {
    /// SIGTERM/SIGINT/SIGQUIT or a shutdown command: exit the daemon.
    Shutdown,
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

/// Requests from the control plane (XML-RPC, tests). Each carries its reply channel.
#[derive(Debug)]
pub enum Command {
    Start {
        namespec: String,
        reply: oneshot::Sender<Vec<(String, Result<(), CommandError>)>>,
    },
    Stop {
        namespec: String,
        reply: oneshot::Sender<Vec<(String, Result<(), CommandError>)>>,
    },
    Signal {
        namespec: String,
        signal: i32,
        reply: oneshot::Sender<Vec<(String, Result<(), CommandError>)>>,
    },
    Status {
        reply: oneshot::Sender<Vec<ProcessSnapshot>>,
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
    stdin: Option<OwnedFd>,
}

struct Runtime {
    core: Core,
    log: Rc<RefCell<MainLog>>,
    config: Config,
    spawn_ctx: SpawnContext,
    io: HashMap<ProcKey, ProcIo>,
    strip_ansi: bool,
    reload: Reloader,
    next_config: Option<Box<Config>>,
}

/// Create a command channel; pass the receiver to [`run`].
pub fn channel() -> (Handle, mpsc::UnboundedReceiver<Command>) {
    let (tx, rx) = mpsc::unbounded_channel();
    (Handle { tx }, rx)
}

/// Run the supervisor until shutdown or restart is requested and every process is down.
/// Must be called inside a `LocalSet` on a current-thread runtime.
pub async fn run(
    config: Config,
    log: Rc<RefCell<MainLog>>,
    mut commands: mpsc::UnboundedReceiver<Command>,
    reload: Reloader,
) -> io::Result<Outcome> {
    let mut sigchld = unix_signal(SignalKind::child())?;
    let mut sigterm = unix_signal(SignalKind::terminate())?;
    let mut sigint = unix_signal(SignalKind::interrupt())?;
    let mut sigquit = unix_signal(SignalKind::quit())?;
    let mut sighup = unix_signal(SignalKind::hangup())?;
    let mut sigusr2 = unix_signal(SignalKind::user_defined2())?;

    let server_url = default_server_url(&config);
    let mut rt = Runtime {
        core: Core::new(config.groups.clone()),
        log,
        strip_ansi: config.supervisord.strip_ansi,
        spawn_ctx: SpawnContext::from_current_process(server_url),
        config,
        io: HashMap::new(),
        reload,
        next_config: None,
    };
    rt.open_child_logs();

    let mut ending = None;
    loop {
        let now = Instant::now();
        let actions = rt.core.tick(now);
        rt.apply(actions);
        rt.reap();
        if let Some(e) = ending {
            if rt.core.shutdown_complete() {
                return Ok(match (e, rt.next_config.take()) {
                    (Ending::Restart, Some(config)) => Outcome::Restart(config),
                    _ => Outcome::Shutdown,
                });
            }
        }
        let deadline = rt
            .core
            .next_deadline()
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            biased;
            _ = sigchld.recv() => rt.reap(),
            _ = sigterm.recv() => rt.request_stop(&mut ending, Ending::Shutdown, "SIGTERM"),
            _ = sigint.recv() => rt.request_stop(&mut ending, Ending::Shutdown, "SIGINT"),
            _ = sigquit.recv() => rt.request_stop(&mut ending, Ending::Shutdown, "SIGQUIT"),
            _ = sighup.recv() => rt.request_stop(&mut ending, Ending::Restart, "SIGHUP"),
            _ = sigusr2.recv() => {
                rt.log(LogLevel::Info, "received SIGUSR2 indicating log reopen request");
                rt.reopen_logs();
            }
            Some(cmd) = commands.recv() => rt.command(cmd, &mut ending),
            _ = tokio::time::sleep_until(deadline.into()) => {}
        }
    }
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

    fn request_stop(&mut self, ending: &mut Option<Ending>, wanted: Ending, signame: &str) {
        match (wanted, *ending) {
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
                *ending = Some(Ending::Restart);
                let actions = self.core.begin_shutdown(Instant::now(), true);
                self.apply(actions);
            }
            (Ending::Shutdown, previous) => {
                self.log(
                    LogLevel::Warn,
                    &format!("received {signame} indicating exit request"),
                );
                *ending = Some(Ending::Shutdown);
                if previous.is_none() {
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
            let stdout_log = self.open_channel_log(&config, Channel::Stdout);
            let stderr_log = if config.redirect_stderr {
                None
            } else {
                self.open_channel_log(&config, Channel::Stderr)
            };
            self.io.insert(
                key,
                ProcIo {
                    stdout_log,
                    stderr_log,
                    stdin: None,
                },
            );
        }
    }

    fn open_channel_log(&self, config: &ProcessConfig, channel: Channel) -> Option<SharedLog> {
        let chan = match channel {
            Channel::Stdout => &config.stdout,
            Channel::Stderr => &config.stderr,
        };
        let path = match &chan.logfile {
            LogFile::None | LogFile::Syslog => return None,
            LogFile::Path(p) => p.clone(),
            LogFile::Auto => match logs::auto_log_path(
                &self.config.supervisord.childlogdir,
                &config.name,
                channel,
                &self.config.supervisord.identifier,
            ) {
                Ok(p) => p,
                Err(e) => {
                    self.log(
                        LogLevel::Error,
                        &format!(
                            "could not create {} log for '{}' in {}: {e}",
                            channel.name(),
                            config.name,
                            self.config.supervisord.childlogdir.display()
                        ),
                    );
                    return None;
                }
            },
        };
        match RotatingFile::open(&path, chan.logfile_maxbytes, chan.logfile_backups) {
            Ok(f) => Some(Rc::new(RefCell::new(f))),
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
                None
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
            let key = self.core.find_by_pid(pid.as_raw());
            let actions = self.core.reaped(pid.as_raw(), exit, Instant::now());
            // The run is over: close our end of its stdin (a restart gets a new pipe).
            if let Some(io) = key.and_then(|k| self.io.get_mut(&k)) {
                io.stdin = None;
            }
            self.apply(actions);
        }
    }

    fn apply(&mut self, actions: Output) {
        let mut queue: VecDeque<(Option<ProcKey>, Action)> = actions.into();
        while let Some((key, action)) = queue.pop_front() {
            match (key, action) {
                (_, Action::Log { level, message }) => self.log(level, &message),
                (Some(key), Action::Spawn) => {
                    let now = Instant::now();
                    let Some(process) = self.core.process(key) else {
                        continue;
                    };
                    let more = match spawn::spawn(&process.config, &self.spawn_ctx) {
                        Ok(child) => {
                            let pid = child.pid;
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
                    if let Err(msg) = result {
                        let more = self.core.signal_error(key, Instant::now(), &msg);
                        queue.extend(more);
                    }
                }
                (_, Action::StateChange(_change)) => {
                    // Event dispatch to listeners hooks in here.
                }
                (None, _) => {}
            }
        }
    }

    /// Keep the stdin pipe and start one reader task per output pipe.
    fn attach_pipes(&mut self, key: ProcKey, child: spawn::Spawned) {
        let Some(p) = self.core.process(key) else {
            return;
        };
        let name = p.config.name.clone();
        let (stdout_cfg, stderr_cfg) = (p.config.stdout.clone(), p.config.stderr.clone());
        let io = self.io.entry(key).or_default();
        io.stdin = Some(child.stdin);
        let mirror = self.log.borrow().enabled(LogLevel::Debug);
        let pumps = [
            (
                Some(child.stdout),
                Channel::Stdout,
                io.stdout_log.clone(),
                stdout_cfg.capture_maxbytes,
            ),
            (
                child.stderr,
                Channel::Stderr,
                io.stderr_log.clone(),
                stderr_cfg.capture_maxbytes,
            ),
        ];
        for (fd, channel, file, capture) in pumps {
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
                channel,
                processor: OutputProcessor::new(capture, self.strip_ansi),
                file,
                log: self.log.clone(),
                mirror,
            };
            tokio::task::spawn_local(pump.run(receiver));
        }
    }

    fn command(&mut self, cmd: Command, ending: &mut Option<Ending>) {
        let now = Instant::now();
        match cmd {
            Command::Start { namespec, reply } => {
                let r = self.per_process(&namespec, |core, key| core.start(key, now));
                let _ = reply.send(r);
            }
            Command::Stop { namespec, reply } => {
                let r = self.per_process(&namespec, |core, key| core.stop(key, now));
                let _ = reply.send(r);
            }
            Command::Signal {
                namespec,
                signal,
                reply,
            } => {
                let r = self.per_process(&namespec, |core, key| core.signal(key, signal));
                let _ = reply.send(r);
            }
            Command::Status { reply } => {
                let _ = reply.send(self.core.processes().map(|(_, p)| p.snapshot()).collect());
            }
            Command::Shutdown => self.request_stop(ending, Ending::Shutdown, "shutdown command"),
            Command::Restart => self.request_stop(ending, Ending::Restart, "restart command"),
            Command::ReopenLogs => self.reopen_logs(),
        }
    }

    fn per_process(
        &mut self,
        namespec: &str,
        mut op: impl FnMut(&mut Core, ProcKey) -> Result<Output, CommandError>,
    ) -> Vec<(String, Result<(), CommandError>)> {
        let keys = match self.core.resolve(namespec) {
            Ok(k) => k,
            Err(e) => return vec![(namespec.to_string(), Err(e))],
        };
        let mut results = Vec::new();
        for key in keys {
            let Some(name) = self.core.process(key).map(|p| p.namespec()) else {
                continue;
            };
            match op(&mut self.core, key) {
                Ok(actions) => {
                    self.apply(actions);
                    results.push((name, Ok(())));
                }
                Err(e) => results.push((name, Err(e))),
            }
        }
        results
    }
}

/// Reads one pipe of one run of a process until EOF and writes what it reads to the log file.
struct Pump {
    name: String,
    channel: Channel,
    processor: OutputProcessor,
    file: Option<SharedLog>,
    log: Rc<RefCell<MainLog>>,
    mirror: bool,
}

thread_local! {
    /// One read buffer shared by every pump: reads never await while holding it.
    static READ_BUF: RefCell<Vec<u8>> = RefCell::new(vec![0; READ_CHUNK]);
}

impl Pump {
    async fn run(mut self, receiver: pipe::Receiver) {
        loop {
            if let Err(e) = receiver.readable().await {
                self.warn(&format!("read error: {e}"));
                break;
            }
            let read = READ_BUF.with(|buf| {
                let mut buf = buf.borrow_mut();
                match receiver.try_read(&mut buf) {
                    Ok(0) => Ok(None),
                    Ok(n) => Ok(Some(self.processor.feed(&buf[..n]))),
                    Err(e) => Err(e),
                }
            });
            match read {
                Ok(Some(items)) => self.handle(items),
                Ok(None) => break,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.warn(&format!("read error: {e}"));
                    break;
                }
            }
        }
        let rest = self.processor.finish();
        self.handle(rest);
    }

    fn handle(&mut self, items: Vec<OutputItem>) {
        for item in items {
            if self.mirror {
                if let Some(data) = item.process_log_data() {
                    let msg = logs::output_debug_message(&self.name, self.channel, data);
                    self.log.borrow_mut().log(LogLevel::Debug, &msg);
                }
                if let OutputItem::Communication(_) = item {
                    let msg = logs::comm_event_debug_message(&self.name, self.channel);
                    self.log.borrow_mut().log(LogLevel::Debug, &msg);
                }
            }
            // PROCESS_LOG / PROCESS_COMMUNICATION events hook in here.
            let Some(data) = item.log_file_data() else {
                continue;
            };
            if let Some(file) = &self.file {
                let result = file.borrow_mut().write(data);
                if let Err(e) = result {
                    let path = file.borrow().path().display().to_string();
                    self.warn(&format!("could not write to {path}: {e}"));
                }
            }
        }
    }

    fn warn(&self, msg: &str) {
        self.log.borrow_mut().log(
            LogLevel::Error,
            &format!("'{}' {} {msg}", self.name, self.channel.name()),
        );
    }
}
