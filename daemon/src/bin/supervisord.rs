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
use supervisor_daemon::process::socket::FcgiSockets;
use supervisor_daemon::rpc::http;
use supervisor_daemon::supervisor::runtime::{self, Outcome};
use supervisor_daemon::supervisor::{sd_notify, system};

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
    disable_version_flag = true,
    infer_long_args = true
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
    #[arg(
        short = 'y',
        long = "logfile_maxbytes",
        alias = "logfile-maxbytes",
        value_name = "BYTES"
    )]
    logfile_maxbytes: Option<String>,
    /// Number of main log backups to keep.
    #[arg(
        short = 'z',
        long = "logfile_backups",
        alias = "logfile-backups",
        value_name = "NUM"
    )]
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
    #[arg(short = 't', long = "strip_ansi", alias = "strip-ansi")]
    strip_ansi: bool,
    /// Accepted for compatibility; profiling is not supported.
    #[arg(
        long = "profile_options",
        alias = "profile-options",
        value_name = "OPTIONS",
        hide = true
    )]
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

/// The `-h` / `-?` text: the same option lines as Supervisor 4.3.0's usage (tools and
/// upstream's `test_issue_1251` look for them), descriptions in our words. `--help` is
/// clap's longer help.
fn usage(prog: &str) -> String {
    format!(
        "supervisord -- run a set of applications as daemons.

Usage: {prog} [options]

Options:
-c/--configuration FILENAME -- configuration file path (searched for if not given)
-n/--nodaemon -- stay in the foreground (like 'nodaemon=true' in the config file)
-s/--silent -- do not copy the main log to stdout (like 'silent=true' in the config file)
-h/--help -- print this usage message and exit
-v/--version -- print the supervisord version number and exit
-u/--user USER -- run supervisord as this user (a name or a numeric uid)
-m/--umask UMASK -- umask of the daemon and its children (default is 022)
-d/--directory DIRECTORY -- directory to change to when daemonized
-l/--logfile FILENAME -- use FILENAME as the main log file path
-y/--logfile_maxbytes BYTES -- rotate the main log when it reaches BYTES
-z/--logfile_backups NUM -- number of rotated main logs to keep
-e/--loglevel LEVEL -- use LEVEL as log level (debug,info,warn,error,critical)
-j/--pidfile FILENAME -- write the daemon's pid to FILENAME
-i/--identifier STR -- identifier of this supervisord instance
-q/--childlogdir DIRECTORY -- directory for AUTO child log files
-k/--nocleanup -- keep the AUTO child log files of earlier runs
                  (they are removed at startup otherwise)
-a/--minfds NUM -- file descriptors that must be available to start
-t/--strip_ansi -- strip ANSI escape sequences from child output
--minprocs NUM  -- processes that must be available to start
--profile_options OPTIONS -- accepted for compatibility; supervisor-rs does not
                             run under a profiler
--echo-config -- print a sample configuration file and exit (supervisor-rs)
--help -- print a longer description of every option and exit
"
    )
}

/// Whether the command line asks for the `-h`/`-?` usage, read like getopt: short options
/// (clustered or not) up to the first argument that is not an option or `--`; option values
/// are skipped.
fn wants_usage(args: &[String]) -> bool {
    const SHORT_WITH_VALUE: &str = "cumdlyzejiqa";
    const LONG_WITH_VALUE: &[&str] = &[
        "configuration",
        "user",
        "umask",
        "directory",
        "logfile",
        "logfile_maxbytes",
        "logfile_backups",
        "loglevel",
        "pidfile",
        "identifier",
        "childlogdir",
        "minfds",
        "minprocs",
        "profile_options",
    ];
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if a == "--" || !a.starts_with('-') || a == "-" {
            return false;
        }
        if let Some(long) = a.strip_prefix("--") {
            // No flag's name shares a first letter with an option taking a value, so any
            // prefix of one of these takes a value (getopt accepts unique prefixes).
            let l = long.replace('-', "_");
            let takes_value = !l.is_empty()
                && !l.contains('=')
                && LONG_WITH_VALUE.iter().any(|n| n.starts_with(&l));
            i += if takes_value { 2 } else { 1 };
            continue;
        }
        for (j, c) in a[1..].char_indices() {
            if c == 'h' || c == '?' {
                return true;
            }
            if SHORT_WITH_VALUE.contains(c) {
                // The value is the rest of this argument or the next one.
                if j + c.len_utf8() == a.len() - 1 {
                    i += 1;
                }
                break;
            }
        }
        i += 1;
    }
    false
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().collect();
    if wants_usage(argv.get(1..).unwrap_or(&[])) {
        let prog = argv.first().map(String::as_str).unwrap_or("supervisord");
        print!("{}", usage(prog));
        return ExitCode::SUCCESS;
    }
    let cli = Cli::parse();
    if cli.version {
        println!("{}", supervisor_protocol::SUPERVISOR_VERSION);
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
    let result = start(config, cli.configuration.clone(), overrides);
    // child_output=stdout: lines still queued for stdout get a moment to be written.
    logs::StdoutSink::flush_if_started(std::time::Duration::from_secs(1));
    match result {
        // 0 after a normal shutdown; an essential / exit_on_fatal process's code otherwise.
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(e) => {
            eprintln!("Error: {e}");
            ExitCode::from(2)
        }
    }
}

/// Does `[supervisord]` or any process ask for `child_output=stdout`?
fn uses_child_output(config: &Config) -> bool {
    config.groups.iter().any(|g| {
        g.processes.iter().any(|p| {
            p.ext
                .child_output
                .unwrap_or(config.supervisord.child_output)
        })
    })
}

/// Read the configuration.
fn load(path: Option<&std::path::Path>, overrides: &CliOverrides) -> Result<Config, String> {
    config::load(path, overrides).map_err(|e| e.to_string())
}

/// Run the daemon until it exits; `Ok` carries its exit code.
fn start(
    config: Config,
    config_path: Option<PathBuf>,
    overrides: CliOverrides,
) -> Result<i32, String> {
    let sd = &config.supervisord;
    let mut mainlog = MainLog::new(sd.loglevel);
    mainlog.set_stdout(sd.nodaemon && !sd.silent);
    mainlog.set_stdout_json(sd.log_format == logs::LogFormat::Json);

    let as_root_without_user = system::is_root() && sd.user.is_none();
    // Upstream's parse_infos: the included files (from parsing), then these.
    let mut infos = Vec::new();
    if let Some(user) = &sd.user {
        let uid = system::drop_privileges(user)?;
        infos.push(format!("Set uid to user {uid} succeeded"));
    }
    infos.extend(system::raise_limits(sd.minfds, sd.minprocs)?);
    open_main_log(&mut mainlog, &config)?;
    announce(&mut mainlog, &config, as_root_without_user, &infos);
    clean_auto_logs(&mut mainlog, &config);
    // Bind the HTTP servers before forking so a busy port stops start-up with a clear error.
    let servers = http::bind_all(&config)?;
    // The fcgi groups' sockets too (upstream creates them with the groups, before it detaches).
    let mut fcgi = FcgiSockets::new();
    let (lines, errors) = fcgi.sync(&config);
    for line in lines {
        mainlog.log(LogLevel::Info, &line);
    }
    if let Some(e) = errors.into_iter().next() {
        return Err(e);
    }
    http::log_servers(&mut mainlog, &config);
    if !sd.nodaemon && uses_child_output(&config) {
        mainlog.log(
            LogLevel::Warn,
            "child_output=stdout is ignored: supervisord daemonizes and its stdout becomes \
             /dev/null (set nodaemon=true or run with -n to see child output on stdout)",
        );
    }
    if !sd.nodaemon {
        system::daemonize(sd.directory.as_deref(), sd.umask, &mut |level, msg| {
            mainlog.log(level, msg)
        })?;
    }
    if let Err(e) = system::become_subreaper() {
        mainlog.log(
            LogLevel::Warn,
            &format!("could not become a child subreaper: {e}"),
        );
    }
    // Three low descriptor slots for spawning without copying our descriptor table (taken
    // before the event loop opens anything).
    supervisor_daemon::process::shared_table::reserve();
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
        notify_systemd(&mut log.borrow_mut(), &sd_notify::ready_message());
        let mut config = config;
        loop {
            let path = config_path.clone();
            let ov = overrides.clone();
            let reload: runtime::Reloader = Box::new(move || load(path.as_deref(), &ov));
            let outcome = runtime::run(
                config,
                log.clone(),
                &mut commands,
                &mut signals,
                reload,
                &mut fcgi,
            )
            .await
            .map_err(|e| format!("supervision loop failed: {e}"))?;
            match outcome {
                Outcome::Shutdown | Outcome::Exit(_) => {
                    let mut l = log.borrow_mut();
                    for line in fcgi.close_all() {
                        l.log(LogLevel::Info, &line);
                    }
                    let code = match outcome {
                        Outcome::Exit(code) => code,
                        _ => 0,
                    };
                    return Ok::<i32, String>(code);
                }
                Outcome::Restart(next) => {
                    // Supervisor re-runs its start-up on a restart: new main log settings,
                    // the start-up messages, AUTO log cleanup and the (possibly moved) pidfile.
                    config = *next;
                    let mut l = log.borrow_mut();
                    l.set_level(config.supervisord.loglevel);
                    l.set_stdout_json(config.supervisord.log_format == logs::LogFormat::Json);
                    if let Err(e) = open_main_log(&mut l, &config) {
                        l.log(LogLevel::Error, &e);
                    }
                    // Upstream runs set_uid_or_exit again on a restart (rlimits only at the
                    // first start).
                    let sd = &config.supervisord;
                    let as_root_without_user = system::is_root() && sd.user.is_none();
                    let mut infos = Vec::new();
                    if let Some(user) = &sd.user {
                        match system::drop_privileges(user) {
                            Ok(uid) => infos.push(format!("Set uid to user {uid} succeeded")),
                            Err(e) => l.log(
                                LogLevel::Error,
                                &format!("could not set uid to user {user} on restart: {e}"),
                            ),
                        }
                    }
                    announce(&mut l, &config, as_root_without_user, &infos);
                    clean_auto_logs(&mut l, &config);
                    // Unchanged fcgi sockets stay open across the restart: connections wait
                    // in their backlog instead of being refused. A socket that cannot be
                    // opened now is retried at each spawn of its processes.
                    let (lines, errors) = fcgi.sync(&config);
                    for line in lines {
                        l.log(LogLevel::Info, &line);
                    }
                    for e in errors {
                        l.log(LogLevel::Error, &e);
                    }
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
                    notify_systemd(&mut l, &sd_notify::ready_message());
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

/// Tell systemd (`Type=notify`, `$NOTIFY_SOCKET`) about a state change; a failure is logged.
fn notify_systemd(mainlog: &mut MainLog, state: &str) {
    if let Err(e) = sd_notify::notify(state) {
        mainlog.log(
            LogLevel::Warn,
            &format!("could not notify systemd through $NOTIFY_SOCKET: {e}"),
        );
    }
}

/// The CRIT root warning, the config warnings and the INFO lines of parsing and set-up
/// (`Included extra file ...`, `Set uid to user <uid> succeeded`, `Increased ... limit`), in
/// Supervisor's order, at each start.
fn announce(mainlog: &mut MainLog, config: &Config, as_root_without_user: bool, infos: &[String]) {
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
    for i in config.infos.iter().chain(infos) {
        mainlog.log(LogLevel::Info, i);
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

#[cfg(test)]
mod tests {
    use super::wants_usage;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn usage_flags_read_like_getopt() {
        assert!(wants_usage(&v(&["-?"])));
        assert!(wants_usage(&v(&["-h"])));
        assert!(wants_usage(&v(&["-nh"])));
        assert!(wants_usage(&v(&["-c", "f", "-?"])));
        assert!(wants_usage(&v(&["--conf", "f", "-h"])));
        assert!(wants_usage(&v(&["--logfile_max=1MB", "-h"])));
        // Values are skipped: `-c -h` names a config file called `-h`.
        assert!(!wants_usage(&v(&["-c", "-h"])));
        assert!(!wants_usage(&v(&["-ch"])));
        assert!(!wants_usage(&v(&["--user", "-h"])));
        assert!(!wants_usage(&v(&["-n", "--", "-h"])));
        assert!(!wants_usage(&v(&["--help"])));
        assert!(!wants_usage(&v(&[])));
    }
}
