//! The typed configuration produced by the parser. Everything here is already validated and
//! expanded; other modules never see raw INI text.
//!
//! Types derive `PartialEq` so that a reload can tell which programs changed.

use std::path::PathBuf;

use supervisor_protocol::ProcessState;

use crate::logs::LogLevel;

/// A whole `supervisord.conf` (with its `[include]`d files) after validation.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Absolute path of the main config file.
    pub path: PathBuf,
    pub supervisord: SupervisordConfig,
    /// `[unix_http_server]` and `[unix_http_server:name]` sections, in file order.
    pub unix_http_servers: Vec<UnixHttpServerConfig>,
    /// `[inet_http_server]` and `[inet_http_server:name]` sections, in file order.
    pub inet_http_servers: Vec<InetHttpServerConfig>,
    /// Names of the `[rpcinterface:x]` sections (`x`), in file order. The `supervisor`
    /// namespace is served whatever they say; the names are only reported at start-up.
    pub rpcinterfaces: Vec<String>,
    /// Every process group, sorted by (priority, name): homogeneous groups made from one
    /// `[program:x]`, heterogeneous `[group:x]`, event listener pools and fcgi programs.
    pub groups: Vec<GroupConfig>,
    /// `[metrics] port=host:port`: serve `/metrics` there without authentication (a
    /// supervisor-rs extension; Python Supervisor ignores the section).
    pub metrics: Option<MetricsConfig>,
    /// Non-fatal problems found while parsing (replayed into the main log at startup).
    pub warnings: Vec<String>,
    /// What parsing did that the main log reports at INFO after the warnings (upstream's
    /// `parse_infos`: `Included extra file "<path>" during parsing`, one per included file).
    pub infos: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SupervisordConfig {
    /// `None` for `logfile=syslog`... kept as a path otherwise (absolute).
    pub logfile: LogFile,
    pub logfile_maxbytes: u64,
    pub logfile_backups: u32,
    pub loglevel: LogLevel,
    pub pidfile: PathBuf,
    pub umask: u32,
    pub nodaemon: bool,
    pub silent: bool,
    pub minfds: u64,
    pub minprocs: u64,
    pub nocleanup: bool,
    pub childlogdir: PathBuf,
    pub user: Option<String>,
    pub directory: Option<PathBuf>,
    pub strip_ansi: bool,
    /// `child_output=stdout` (extension): copy every child line to supervisord's stdout
    /// (a program's own `child_output=` wins).
    pub child_output: bool,
    /// `log_format=text|json` (extension): the format of those lines and of the main log's
    /// stdout mirror.
    pub log_format: crate::logs::LogFormat,
    /// `child_output_timestamps=true` (extension): prefix text lines with the time.
    pub child_output_timestamps: bool,
    /// `[supervisord] environment=`, in the order written.
    pub environment: Vec<(String, String)>,
    pub identifier: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct UnixHttpServerConfig {
    /// Section name as written, e.g. `unix_http_server`.
    pub section: String,
    /// Absolute socket path.
    pub file: PathBuf,
    /// Socket file mode (default 0o700).
    pub chmod: u32,
    /// `chown=user[:group]` resolved to ids.
    pub chown: Option<(u32, Option<u32>)>,
    pub username: Option<String>,
    pub password: Option<String>,
    /// `supervisor_rs_max_connections` (extension): concurrent connections served.
    pub max_connections: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct InetHttpServerConfig {
    pub section: String,
    /// Lower-cased host; empty string means all interfaces (`*` or empty in the file).
    pub host: String,
    pub port: u16,
    pub username: Option<String>,
    pub password: Option<String>,
    /// `supervisor_rs_max_connections` (extension): concurrent connections served.
    pub max_connections: usize,
}

/// `[metrics]`: an extra listener that serves only `/metrics`, without authentication.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsConfig {
    /// Lower-cased host; empty means all interfaces.
    pub host: String,
    pub port: u16,
}

#[derive(Debug, Clone, PartialEq)]
pub enum GroupKind {
    /// The implicit group of one `[program:x]` section.
    Program,
    /// A `[group:x]` section listing programs.
    Heterogeneous,
    /// An `[eventlistener:x]` pool.
    EventListenerPool(PoolConfig),
    /// An `[fcgi-program:x]` section: its processes share one listening socket as fd 0.
    FcgiProgram(FcgiSocketConfig),
}

/// The listening socket of an `[fcgi-program:x]` group (`socket`, `socket_backlog`,
/// `socket_owner`, `socket_mode`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FcgiSocketConfig {
    /// Supervisor's canonical URL (`tcp://<lower-cased host>:<port>`,
    /// `unix://<normalised path>`), used in log lines and errors.
    pub url: String,
    pub address: FcgiAddress,
    /// `socket_backlog` (1-65535); `None` = the system's SOMAXCONN.
    pub backlog: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FcgiAddress {
    /// `tcp://host:port`: an IPv4 socket bound to `host` (a name is resolved when the socket
    /// is created, as upstream's AF_INET bind does).
    Tcp { host: String, port: u16 },
    /// `unix:///path`.
    Unix {
        path: PathBuf,
        /// `socket_mode`, default 0o700.
        mode: u32,
        /// `socket_owner` as (uid, gid); `None` = leave as created. Defaults to the program's
        /// `user` (and its primary group) when that differs from supervisord's uid at parse time.
        owner: Option<(u32, Option<u32>)>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct GroupConfig {
    pub name: String,
    pub priority: i32,
    pub kind: GroupKind,
    /// Processes sorted by (priority, name).
    pub processes: Vec<ProcessConfig>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PoolConfig {
    /// Event type names as written (validated against the known types).
    pub events: Vec<String>,
    pub buffer_size: usize,
    pub result_handler: ResultHandler,
}

/// `[eventlistener:x] result_handler=`: upstream imports a Python callable; we implement the
/// handlers real listeners use natively (docs/compat.md, "Events") and refuse any other value
/// at load time, as upstream does when it cannot import one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResultHandler {
    /// `supervisor.dispatchers:default_handler`: `OK` accepts, anything else rejects.
    #[default]
    Default,
    /// `supervisor_stdout:event_handler` (supervisor-stdout 0.1.1): the listener echoes the
    /// event payload as its result; supervisord prints `<process> <channel> | <data>` on its
    /// stdout and accepts.
    SupervisorStdout,
    /// `supervisor_stdlog:log_handler` (supervisor-stdlog 0.7.9): the same echo, printed one
    /// coloured `<process> | <line>` per line on supervisord's stdout or stderr.
    SupervisorStdlog,
}

impl ResultHandler {
    /// The handler named by an upstream `module:callable` reference, if we implement it.
    pub fn from_spec(spec: &str) -> Option<ResultHandler> {
        match spec {
            "supervisor.dispatchers:default_handler" => Some(ResultHandler::Default),
            "supervisor_stdout:event_handler" => Some(ResultHandler::SupervisorStdout),
            "supervisor_stdlog:log_handler" => Some(ResultHandler::SupervisorStdlog),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoRestart {
    Never,
    Unexpected,
    Always,
}

/// One process to supervise (one per `numprocs`).
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessConfig {
    /// Process name after `process_name` expansion (unique within its group).
    pub name: String,
    /// The `[program:x]` / `[eventlistener:x]` section suffix.
    pub program_name: String,
    pub group_name: String,
    pub process_num: u32,
    /// The command line as written (expanded); split with shell rules at spawn time.
    pub command: String,
    pub priority: i32,
    pub autostart: bool,
    pub autorestart: AutoRestart,
    pub startsecs: u64,
    pub startretries: u32,
    pub exitcodes: Vec<i32>,
    /// Signal number.
    pub stopsignal: i32,
    pub stopwaitsecs: u64,
    pub stopasgroup: bool,
    pub killasgroup: bool,
    pub user: Option<String>,
    pub directory: Option<PathBuf>,
    pub umask: Option<u32>,
    /// `[supervisord] environment`, then `environment_file=` (extension), then the program's
    /// own, merged (later wins), in order.
    pub environment: Vec<(String, String)>,
    pub redirect_stderr: bool,
    pub stdout: ChannelConfig,
    pub stderr: ChannelConfig,
    /// Value for SUPERVISOR_SERVER_URL; `None` = AUTO.
    pub serverurl: Option<String>,
    /// supervisor-rs extension options (docs/extensions.md); all off by default.
    pub ext: Extensions,
}

/// The supervisor-rs extension options of one process (docs/extensions.md). The default is
/// Supervisor's behaviour; Python Supervisor ignores these options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extensions {
    /// `restart_delay=`: seconds to wait after an exit before an automatic restart (0 = none).
    pub restart_delay: u64,
    /// `backoff_max=`: cap in seconds of the growing BACKOFF retry delay (`None` = no cap).
    pub backoff_max: Option<u64>,
    /// `retry_fatal_after=` / `retry_fatal_limit=`: leave FATAL and start again.
    pub retry_fatal: Option<RetryFatal>,
    /// `environment_file=`, as given (already merged into `environment`): the files a reread
    /// reads again.
    pub environment_files: Vec<PathBuf>,
    /// `exit_on_fatal=true`: supervisord shuts down when this process goes FATAL.
    pub exit_on_fatal: bool,
    /// `essential=true`: supervisord shuts down when this process goes FATAL or exits.
    pub essential: bool,
    /// `depends_on=` and `dependent_startup_wait_for=`: what must be up before this process
    /// starts (docs/extensions.md, Dependencies). Validated: every name resolves and there is
    /// no cycle.
    pub dependencies: Vec<Dependency>,
    /// `dependent_startup=true` (the supervisord-dependent-startup plugin's option): started
    /// automatically once its dependencies allow it, whatever `autostart` says.
    pub dependent_startup: bool,
    /// `dependent_startup_inherit_priority=true`: read and reported (the plugin orders starts
    /// that become possible at the same moment by it; see docs/extensions.md).
    pub dependent_startup_inherit_priority: bool,
    /// `ready_check=` and its `ready_check_*` options: the process becomes RUNNING when the
    /// check passes (instead of after `startsecs`).
    pub ready_check: Option<HealthCheck>,
    /// `health_check=` and its `health_check_*` options: a liveness check while RUNNING.
    pub health_check: Option<HealthCheck>,
    /// `child_output=stdout|none` in the program's section: `None` follows `[supervisord]`.
    pub child_output: Option<bool>,
    /// `rlimit_*=`, `memory_max=`, `cpu_max=`, `cgroup=`, `cgroup_parent=` (docs/extensions.md,
    /// Limits).
    pub limits: Limits,
}

/// A readiness or liveness check (docs/extensions.md, "Readiness and liveness checks").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCheck {
    /// The value of `ready_check=` / `health_check=` as written.
    pub spec: String,
    pub probe: Probe,
    /// Seconds between two probes.
    pub interval: u64,
    /// Seconds a probe may take before it counts as failed.
    pub timeout: u64,
    /// Seconds after the spawn before the first probe.
    pub start_delay: u64,
    /// Consecutive failed probes that trigger `action` (0: never).
    pub failures: u32,
    pub action: CheckAction,
}

/// What a check probes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// `tcp://host:port`: a TCP connection is accepted.
    Tcp { host: String, port: u16 },
    /// `exec:command`: `/bin/sh -c command` exits 0.
    Exec(String),
    /// `log:regex`: a line of the process's stdout or stderr matches (readiness only).
    Log(String),
    /// `http://host[:port]/path`: a GET is answered with a status in `status` (inclusive).
    Http {
        host: String,
        port: u16,
        /// Path and query, starting with `/`.
        path: String,
        status: (u16, u16),
    },
    /// `notify`: the sd_notify protocol on the run's own `NOTIFY_SOCKET`: READY=1 (readiness),
    /// WATCHDOG=1 at least every interval (liveness).
    Notify,
}

/// What happens when a check fails `failures` times in a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckAction {
    /// Stop the process and start it again (a failed readiness check counts as a failed
    /// start: BACKOFF, then FATAL after `startretries`).
    Restart,
    /// Stop the process.
    Stop,
    /// Only report it (status, events, log).
    Nothing,
}

/// Resource limits of one process: applied in the child before exec.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Limits {
    /// `rlimit_nofile=`, `rlimit_nproc=`, `rlimit_core=`, `rlimit_as=`, in that order.
    pub rlimits: Vec<Rlimit>,
    /// A cgroup v2 of its own (`cgroup=true`, `memory_max=` or `cpu_max=`).
    pub cgroup: Option<CgroupLimits>,
}

/// One `rlimit_*=` option. `None` is `infinity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rlimit {
    pub resource: RlimitResource,
    pub soft: Option<u64>,
    pub hard: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RlimitResource {
    Nofile,
    Nproc,
    Core,
    As,
}

impl RlimitResource {
    pub const ALL: [RlimitResource; 4] = [Self::Nofile, Self::Nproc, Self::Core, Self::As];

    /// The config option (and `supervisor_rs.getProcessInfo` member).
    pub fn option(self) -> &'static str {
        match self {
            Self::Nofile => "rlimit_nofile",
            Self::Nproc => "rlimit_nproc",
            Self::Core => "rlimit_core",
            Self::As => "rlimit_as",
        }
    }

    /// Sizes in bytes (these take `KB`/`MB`/`GB`).
    pub fn is_bytes(self) -> bool {
        matches!(self, Self::Core | Self::As)
    }
}

impl std::fmt::Display for Rlimit {
    /// `soft:hard`, each a number or `infinity`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let show = |v: Option<u64>| v.map_or_else(|| "infinity".to_string(), |n| n.to_string());
        write!(f, "{}:{}", show(self.soft), show(self.hard))
    }
}

/// The per-process cgroup (cgroup v2): `<parent>/supervisor-rs/<group>:<name>`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CgroupLimits {
    /// `cgroup_parent=`: an absolute path in the cgroup2 file system; `None` = supervisord's
    /// own cgroup.
    pub parent: Option<PathBuf>,
    /// `memory_max=`: what is written to `memory.max` (`max` or bytes).
    pub memory_max: Option<String>,
    /// `cpu_max=`: what is written to `cpu.max` (`<quota|max> <period>`, microseconds).
    pub cpu_max: Option<String>,
}

/// One entry of `depends_on=` or `dependent_startup_wait_for=`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    /// The entry as written, for messages: `db`, `cache:*`, `init:exited`.
    pub spec: String,
    pub target: DepTarget,
    /// `None` (`depends_on`): every target must be RUNNING (ready, with a readiness check) or
    /// have EXITED with an expected exit code. `Some(states)` (`dependent_startup_wait_for`):
    /// every target must have reached one of these states since supervisord started.
    pub states: Option<Vec<ProcessState>>,
}

/// What a dependency names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DepTarget {
    /// `name`: every process of the group `name` if there is one, else every process made
    /// from the section `[program:name]` (which may sit in a `[group:x]`).
    Name(String),
    /// `group:*` or `group:`: every process of the group.
    Group(String),
    /// `group:process`.
    Process { group: String, name: String },
}

/// `retry_fatal_after=SECONDS` with `retry_fatal_limit=N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryFatal {
    /// Seconds spent in FATAL before the next start.
    pub after: u64,
    /// How many times in a row (without reaching RUNNING) to retry; `None` = forever.
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChannelConfig {
    pub logfile: LogFile,
    pub logfile_maxbytes: u64,
    pub logfile_backups: u32,
    pub capture_maxbytes: u64,
    pub events_enabled: bool,
    pub syslog: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogFile {
    /// `NONE` / `off`: discard.
    None,
    /// `AUTO`: a generated name under childlogdir, resolved when the process is created.
    Auto,
    /// `syslog` (deprecated spelling kept for compatibility).
    Syslog,
    /// A path (`~` expanded; may be relative to supervisord's cwd, or `/dev/stdout`).
    Path(PathBuf),
}
