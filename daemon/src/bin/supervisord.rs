//! `supervisord`: read a Supervisor configuration and supervise its programs.
//!
//! Start-up follows Supervisor 4.3.0: parse the config (any error exits 2 before anything
//! starts), drop privileges, raise rlimits, open the main log, clean old AUTO child logs,
//! daemonize unless `-n`, write the pidfile, then run the supervision loop. SIGHUP restarts
//! in-process with a freshly read config; SIGTERM, SIGINT and SIGQUIT shut down.

use std::cell::RefCell;
use std::path::PathBuf;
use std::process::ExitCode;
use std::rc::Rc;

use clap::Parser;

use supervisor_daemon::config::{self, values, CliOverrides, Config};
use supervisor_daemon::logs::{self, LogLevel, MainLog};
use supervisor_daemon::process::registry;
use supervisor_daemon::rpc::http;
use supervisor_daemon::supervisor::runtime::{self, Outcome};
use supervisor_daemon::supervisor::system;

/// The version reported by `-v` and to clients: the Supervisor release we are compatible with.
const COMPAT_VERSION: &str = "4.3.0";

/// How long leftovers of a killed supervisord get after SIGTERM (and again after SIGKILL).
const LEFTOVER_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

#[derive(Parser, Debug)]
#[command(
    name = "supervisord",
    about = "supervisord -- run a set of applications as daemons (supervisor-rs).",
    long_about = "supervisord -- run a set of applications as daemons.\n\n\
        A drop-in replacement for Python Supervisor 4.3.0's supervisord: it reads the same \
        supervisord.conf, supervises programs with the same state machine and writes the same \
        logs. Command-line values override the [supervisord] section.",
    disable_version_flag = true
)]
struct Cli {
    /// Configuration file path (searched for when not given).
    #[arg(short = 'c', long = "configuration", value_name = "FILENAME")]
    configuration: Option<PathBuf>,
    /// Run in the foreground (same as 'nodaemon=true' in the config file).
    #[arg(short = 'n', long)]
    nodaemon: bool,
    /// No logs to stdout (maps to 'silent=true' in the config file).
    #[arg(short = 's', long)]
    silent: bool,
    /// Print the supervisord version number and exit.
    #[arg(short = 'v', long)]
    version: bool,
    /// Run supervisord as this user (or numeric uid).
    #[arg(short = 'u', long, value_name = "USER")]
    user: Option<String>,
    /// Use this umask for daemon subprocess (default is 022).
    #[arg(short = 'm', long, value_name = "UMASK")]
    umask: Option<String>,
    /// Directory to chdir to when daemonized.
    #[arg(short = 'd', long, value_name = "DIRECTORY")]
    directory: Option<PathBuf>,
    /// Use FILENAME as the main log file path.
    #[arg(short = 'l', long, value_name = "FILENAME")]
    logfile: Option<PathBuf>,
    /// Rotate the main log after it reaches BYTES (e.g. 50MB).
    #[arg(short = 'y', long, value_name = "BYTES")]
    logfile_maxbytes: Option<String>,
    /// Number of main log backups to keep.
    #[arg(short = 'z', long, value_name = "NUM")]
    logfile_backups: Option<u32>,
    /// Log level (critical, error, warn, info, debug, trace, blather).
    #[arg(short = 'e', long, value_name = "LEVEL")]
    loglevel: Option<String>,
    /// Write the daemon's pid to FILENAME.
    #[arg(short = 'j', long, value_name = "FILENAME")]
    pidfile: Option<PathBuf>,
    /// Identifier used for this instance of supervisord.
    #[arg(short = 'i', long, value_name = "STR")]
    identifier: Option<String>,
    /// Directory for AUTO child log files.
    #[arg(short = 'q', long, value_name = "DIRECTORY")]
    childlogdir: Option<PathBuf>,
    /// Do not remove old AUTO child log files at startup.
    #[arg(short = 'k', long)]
    nocleanup: bool,
    /// Minimum number of file descriptors required to start.
    #[arg(short = 'a', long, value_name = "NUM")]
    minfds: Option<u64>,
    /// Minimum number of processes available required to start.
    #[arg(long, value_name = "NUM")]
    minprocs: Option<u64>,
    /// Strip ANSI escape sequences from child output.
    #[arg(short = 't', long)]
    strip_ansi: bool,
    /// Accepted for compatibility; profiling is not supported.
    #[arg(long, value_name = "OPTIONS", hide = true)]
    profile_options: Option<String>,
    /// Print a documented sample configuration and exit (like echo_supervisord_conf).
    #[arg(long)]
    echo_config: bool,
}

fn overrides(cli: &Cli) -> Result<CliOverrides, String> {
    Ok(CliOverrides {
        nodaemon: cli.nodaemon.then_some(true),
        silent: cli.silent.then_some(true),
        user: cli.user.clone(),
        umask: cli
            .umask
            .as_deref()
            .map(values::parse_octal)
            .transpose()
            .map_err(|e| format!("invalid value for -m/--umask: {e}"))?,
        directory: cli.directory.clone(),
        logfile: cli.logfile.clone(),
        logfile_maxbytes: cli
            .logfile_maxbytes
            .as_deref()
            .map(values::parse_byte_size)
            .transpose()
            .map_err(|e| format!("invalid value for -y/--logfile_maxbytes: {e}"))?,
        logfile_backups: cli.logfile_backups,
        loglevel: cli
            .loglevel
            .as_deref()
            .map(str::parse::<LogLevel>)
            .transpose()
            .map_err(|e| format!("invalid value for -e/--loglevel: {e}"))?,
        pidfile: cli.pidfile.clone(),
        identifier: cli.identifier.clone(),
        childlogdir: cli.childlogdir.clone(),
        nocleanup: cli.nocleanup.then_some(true),
        minfds: cli.minfds,
        minprocs: cli.minprocs,
        strip_ansi: cli.strip_ansi.then_some(true),
    })
}

fn usage_error(msg: &str) -> ExitCode {
    eprintln!("Error: {msg}");
    eprintln!("For help, use supervisord -h");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.version {
        println!("{COMPAT_VERSION}");
        return ExitCode::SUCCESS;
    }
    if cli.echo_config {
        print!("{}", config::SAMPLE_CONFIG);
        return ExitCode::SUCCESS;
    }
    let overrides = match overrides(&cli) {
        Ok(o) => o,
        Err(e) => return usage_error(&e),
    };
    let config = match load(cli.configuration.as_deref(), &overrides) {
        Ok(c) => c,
        Err(e) => return usage_error(&e),
    };
    match start(config, cli.configuration.clone(), overrides) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e}");
            ExitCode::from(2)
        }
    }
}

/// Read the configuration and refuse what this daemon cannot run yet.
fn load(path: Option<&std::path::Path>, overrides: &CliOverrides) -> Result<Config, String> {
    let config = config::load(path, overrides).map_err(|e| e.to_string())?;
    if let Some(g) = config
        .groups
        .iter()
        .find(|g| matches!(g.kind, config::GroupKind::FcgiProgram { .. }))
    {
        return Err(format!(
            "[fcgi-program:{}] is not supported yet by supervisor-rs (file: '{}')",
            g.name,
            config.path.display()
        ));
    }
    Ok(config)
}

fn start(
    config: Config,
    config_path: Option<PathBuf>,
    overrides: CliOverrides,
) -> Result<(), String> {
    let sd = &config.supervisord;
    let mut mainlog = MainLog::new(sd.loglevel);
    mainlog.set_stdout(sd.nodaemon && !sd.silent);

    let as_root_without_user = system::is_root() && sd.user.is_none();
    if let Some(user) = &sd.user {
        system::drop_privileges(user)?;
    }
    for msg in system::raise_limits(sd.minfds, sd.minprocs)? {
        mainlog.log(LogLevel::Info, &msg);
    }
    open_main_log(&mut mainlog, &config)?;
    announce(&mut mainlog, &config, as_root_without_user);
    clean_auto_logs(&mut mainlog, &config);
    // Bind the HTTP servers before forking so a busy port stops start-up with a clear error.
    let servers = http::bind_all(&config)?;
    http::log_servers(&mut mainlog, &config);
    if !sd.nodaemon {
        system::daemonize(sd.directory.as_deref(), sd.umask)?;
    }
    if let Err(e) = system::become_subreaper() {
        mainlog.log(
            LogLevel::Warn,
            &format!("could not become a child subreaper: {e}"),
        );
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(|e| format!("cannot start the event loop: {e}"))?;
    // Handlers first, then the pidfile and the "started" line (as Supervisor's setsignals()).
    let mut signals = {
        let _guard = rt.enter();
        runtime::Signals::install().map_err(|e| format!("cannot install signal handlers: {e}"))?
    };
    let mut pidfile = sd.pidfile.clone();
    write_pidfile(&mut mainlog, &pidfile);
    stop_leftovers(&mut mainlog, &pidfile);

    let log = Rc::new(RefCell::new(mainlog));
    let local = tokio::task::LocalSet::new();
    let mut sockets = Vec::new();
    let result = local.block_on(&rt, async {
        let (handle, mut commands) = runtime::channel();
        sockets = http::spawn_servers(servers, handle, log.clone())
            .map_err(|e| format!("cannot start the HTTP servers: {e}"))?;
        let mut config = config;
        loop {
            let path = config_path.clone();
            let ov = overrides.clone();
            let reload: runtime::Reloader = Box::new(move || load(path.as_deref(), &ov));
            let outcome = runtime::run(config, log.clone(), &mut commands, &mut signals, reload)
                .await
                .map_err(|e| format!("supervision loop failed: {e}"))?;
            match outcome {
                Outcome::Shutdown => return Ok::<(), String>(()),
                Outcome::Restart(next) => {
                    // Supervisor re-runs its start-up on a restart: new main log settings,
                    // the start-up messages, AUTO log cleanup and the (possibly moved) pidfile.
                    config = *next;
                    let mut l = log.borrow_mut();
                    l.set_level(config.supervisord.loglevel);
                    if let Err(e) = open_main_log(&mut l, &config) {
                        l.log(LogLevel::Error, &e);
                    }
                    announce(&mut l, &config, as_root_without_user);
                    clean_auto_logs(&mut l, &config);
                    http::log_servers(&mut l, &config);
                    if config.supervisord.pidfile != pidfile {
                        let _ = std::fs::remove_file(&pidfile);
                        pidfile = config.supervisord.pidfile.clone();
                        let record = registry::state_path(&pidfile);
                        if let Err(e) = registry::move_to(record.clone()) {
                            l.log(
                                LogLevel::Warn,
                                &format!(
                                    "could not write the child record {}: {e}",
                                    record.display()
                                ),
                            );
                        }
                    }
                    write_pidfile(&mut l, &pidfile);
                }
            }
        }
    });
    for socket in sockets {
        let _ = std::fs::remove_file(socket);
    }
    let _ = std::fs::remove_file(&pidfile);
    if result.is_ok() {
        // Every child was stopped: nothing is left over for the next start.
        registry::close();
    }
    result
}

/// Stop the children a previous supervisord with this pidfile left running when it was
/// killed (SIGKILL, OOM, crash), then start recording ours. See `process::registry`.
fn stop_leftovers(mainlog: &mut MainLog, pidfile: &std::path::Path) {
    let record = registry::state_path(pidfile);
    let cleanup = registry::kill_leftovers(&record, LEFTOVER_GRACE);
    for msg in &cleanup.warn {
        mainlog.log(LogLevel::Warn, msg);
    }
    for msg in &cleanup.info {
        mainlog.log(LogLevel::Info, msg);
    }
    if let Err(e) = registry::open(record.clone()) {
        mainlog.log(
            LogLevel::Warn,
            &format!(
                "could not write the child record {}: {e} (children left by a crash of \
                 supervisord will not be stopped at the next start)",
                record.display()
            ),
        );
    }
}

/// The CRIT root warning and the config warnings, as Supervisor logs them at each start.
fn announce(mainlog: &mut MainLog, config: &Config, as_root_without_user: bool) {
    if as_root_without_user {
        mainlog.log(
            LogLevel::Critical,
            "Supervisor is running as root.  Privileges were not dropped because no user is \
             specified in the config file.  If you intend to run as root, you can set user=root \
             in the config file to avoid this message.",
        );
    }
    for w in &config.warnings {
        mainlog.log(LogLevel::Warn, w);
    }
}

/// Delete AUTO child logs of earlier runs (unless `nocleanup`).
fn clean_auto_logs(mainlog: &mut MainLog, config: &Config) {
    let sd = &config.supervisord;
    if sd.nocleanup {
        return;
    }
    if let Err(e) = logs::cleanup_auto_logs(&sd.childlogdir, &sd.identifier) {
        mainlog.log(
            LogLevel::Warn,
            &format!(
                "could not clean up old AUTO logs in {}: {e}",
                sd.childlogdir.display()
            ),
        );
    }
}

/// Write `<pid>\n` and log the start line.
fn write_pidfile(mainlog: &mut MainLog, pidfile: &std::path::Path) {
    if let Err(e) = system::write_pidfile(pidfile) {
        mainlog.log(
            LogLevel::Critical,
            &format!("could not write pidfile {}: {e}", pidfile.display()),
        );
    }
    mainlog.log(
        LogLevel::Info,
        &format!("supervisord started with pid {}", std::process::id()),
    );
}

fn open_main_log(mainlog: &mut MainLog, config: &Config) -> Result<(), String> {
    let sd = &config.supervisord;
    match &sd.logfile {
        config::LogFile::Path(p) => mainlog
            .open_file(p, sd.logfile_maxbytes, sd.logfile_backups)
            .map_err(|e| format!("could not open the main log file {}: {e}", p.display())),
        // syslog and NONE: only stdout (when in the foreground).
        _ => Ok(()),
    }
}
