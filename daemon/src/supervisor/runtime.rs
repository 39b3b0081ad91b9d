//! The tokio loop around [`Core`]: it turns the outside world (children exiting, pipes
//! becoming readable, timers, signals, control commands) into calls on the core, and carries
//! out the actions the core returns (spawn, kill, log). It makes no supervision decision itself.
//!
//! Everything runs on one current-thread runtime inside a `LocalSet`, so shared state is plain
//! `Rc<RefCell<..>>` and there are no locks.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::ffi::OsString;
use std::io;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use tokio::net::unix::pipe;
use tokio::signal::unix::{signal as unix_signal, SignalKind};
use tokio::sync::{mpsc, oneshot};

use supervisor_protocol::xmlrpc::{Fault, MethodCall, Value};

use crate::config::{Config, GroupConfig, LogFile, ProcessConfig};
use crate::logs::{self, Channel, LogLevel, MainLog, OutputItem, OutputProcessor, RotatingFile};
use crate::process::spawn::{self, SpawnContext};
use crate::process::state::{Action, CommandError, ExitStatus};
use crate::rpc::methods::{self, Host, Pending, Reply};
use crate::supervisor::core::{Core, Output, ProcKey, Target};

/// How often waiting RPC calls (`startProcess(name, wait=True)`) are re-evaluated at most.
const PENDING_POLL: Duration = Duration::from_millis(50);

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

/// Requests from the control plane (the HTTP server, tests). Each carries its reply channel.
#[derive(Debug)]
pub enum Command {
    /// One XML-RPC call; the reply comes when the call is done (possibly after a wait).
    Rpc {
        call: MethodCall,
        reply: oneshot::Sender<Result<Value, Fault>>,
    },
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
    /// Bytes for the current run's stdin, written by a task so a full pipe never blocks us.
    stdin: Option<mpsc::UnboundedSender<Vec<u8>>>,
}

struct Runtime {
    core: Core,
    log: Rc<RefCell<MainLog>>,
    config: Config,
    spawn_ctx: SpawnContext,
    io: HashMap<ProcKey, ProcIo>,
    strip_ansi: bool,
    reload: Reloader,
    /// The config to restart with, read before the restart began.
    next_config: Option<Box<Config>>,
    /// The last config read by `reloadConfig` (initially the running one).
    stored: Config,
    ending: Option<Ending>,
    pending: Vec<(Pending, oneshot::Sender<Result<Value, Fault>>)>,
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
    commands: &mut mpsc::UnboundedReceiver<Command>,
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
        stored: config.clone(),
        config,
        io: HashMap::new(),
        reload,
        next_config: None,
        ending: None,
        pending: Vec::new(),
    };
    rt.open_child_logs();

    loop {
        let now = Instant::now();
        let actions = rt.core.tick(now);
        rt.apply(actions);
        rt.reap();
        rt.poll_pending();
        if let Some(e) = rt.ending {
            if rt.core.shutdown_complete() {
                return Ok(match (e, rt.next_config.take()) {
                    (Ending::Restart, Some(config)) => Outcome::Restart(config),
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
        tokio::select! {
            biased;
            _ = sigchld.recv() => rt.reap(),
            _ = sigterm.recv() => rt.request_stop(Ending::Shutdown, "SIGTERM"),
            _ = sigint.recv() => rt.request_stop(Ending::Shutdown, "SIGINT"),
            _ = sigquit.recv() => rt.request_stop(Ending::Shutdown, "SIGQUIT"),
            _ = sighup.recv() => rt.request_stop(Ending::Restart, "SIGHUP"),
            _ = sigusr2.recv() => {
                rt.log(LogLevel::Info, "received SIGUSR2 indicating log reopen request");
                rt.reopen_logs();
            }
            Some(cmd) = commands.recv() => rt.command(cmd),
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
        io.stdin = match pipe::Sender::from_owned_fd(child.stdin) {
            Ok(sender) => {
                let (tx, rx) = mpsc::unbounded_channel();
                tokio::task::spawn_local(write_stdin(sender, rx));
                Some(tx)
            }
            Err(_) => None,
        };
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

    fn command(&mut self, cmd: Command) {
        match cmd {
            Command::Rpc { call, reply } => match methods::dispatch(self, &call) {
                Reply::Ready(result) => {
                    let _ = reply.send(result);
                }
                Reply::Pending(p) => self.pending.push((p, reply)),
            },
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
        waiting.retain_mut(|(p, reply)| {
            if reply.is_closed() {
                return false;
            }
            match p.poll(self) {
                Some(result) => {
                    let (tx, _) = oneshot::channel();
                    let reply = std::mem::replace(reply, tx);
                    let _ = reply.send(result);
                    false
                }
                None => true,
            }
        });
        // Calls that arrived while polling were pushed to `self.pending`.
        waiting.append(&mut self.pending);
        self.pending = waiting;
    }

    fn channel_log(&self, key: ProcKey, channel: Channel) -> Option<&SharedLog> {
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

    fn clear_process_logs(&mut self, key: ProcKey) -> io::Result<()> {
        for channel in [Channel::Stdout, Channel::Stderr] {
            if let Some(f) = self.channel_log(key, channel) {
                f.borrow_mut().clear()?;
            }
        }
        Ok(())
    }

    fn send_stdin(&mut self, key: ProcKey, data: Vec<u8>) -> bool {
        self.io
            .get(&key)
            .and_then(|io| io.stdin.as_ref())
            .is_some_and(|sender| sender.send(data).is_ok())
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
        self.core.add_group(config)?;
        self.open_child_logs();
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
            self.io.remove(&key);
        }
        Ok(())
    }

    fn remote_comm_event(&mut self, kind: &str, data: &str) {
        // Delivered to listeners once event pools exist.
        self.log(
            LogLevel::Debug,
            &format!(
                "remote communication event: type {kind:?}, {} bytes",
                data.len()
            ),
        );
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

    fn warn(&self, msg: &str) {
        self.log.borrow_mut().log(
            LogLevel::Error,
            &format!("'{}' {} {msg}", self.name, self.channel.name()),
        );
    }
}

/// Feed one run's stdin. Ends (closing the pipe) when the sender is dropped at exit, or when
/// the child closed its end.
async fn write_stdin(mut pipe: pipe::Sender, mut rx: mpsc::UnboundedReceiver<Vec<u8>>) {
    use tokio::io::AsyncWriteExt;
    while let Some(data) = rx.recv().await {
        if pipe.write_all(&data).await.is_err() {
            rx.close();
            return;
        }
    }
}
