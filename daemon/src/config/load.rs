//! From `supervisord.conf` text to the typed [`Config`], following `supervisor/options.py`
//! of Supervisor 4.3.0 (`ServerOptions.read_config`, `process_groups_from_parser`,
//! `processes_from_section`, `server_configs_from_parser`).

use std::collections::HashSet;
use std::fmt::Display;
use std::path::{Path, PathBuf};

use supervisor_protocol::events::EventKind;

use super::error::ConfigError;
use super::expand::{expand, ExpVal, Expansions, Over};
use super::ini::{Ini, Value};
use super::model::*;
use super::values::{self, py_repr};
use crate::logs::LogLevel;

/// The supervisor-rs extension options (a child module: it reads options through [`Ctx`]).
#[path = "extensions.rs"]
mod extensions;

/// `depends_on=` and the supervisord-dependent-startup options (an extension).
#[path = "dependencies.rs"]
mod dependencies;

/// `ready_check=` / `health_check=` (an extension).
#[path = "health.rs"]
mod health;

/// `rlimit_*=` and the cgroup options (an extension).
#[path = "limits.rs"]
mod limits;

/// Values given on the `supervisord` command line; `Some` wins over the file.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct CliOverrides {
    pub nodaemon: Option<bool>,
    pub silent: Option<bool>,
    pub user: Option<String>,
    pub umask: Option<u32>,
    pub directory: Option<PathBuf>,
    pub logfile: Option<PathBuf>,
    pub logfile_maxbytes: Option<u64>,
    pub logfile_backups: Option<u32>,
    pub loglevel: Option<LogLevel>,
    pub pidfile: Option<PathBuf>,
    pub identifier: Option<String>,
    pub childlogdir: Option<PathBuf>,
    pub nocleanup: Option<bool>,
    pub minfds: Option<u64>,
    pub minprocs: Option<u64>,
    pub strip_ansi: Option<bool>,
}

/// The warning Supervisor prints when root relies on the config search path.
pub const ROOT_SEARCH_WARNING: &str = "Supervisord is running as root and it is searching for \
its configuration file in default locations (including its current working directory); you \
probably want to specify a \"-c\" argument specifying an absolute path to a configuration file \
for improved security.";

/// The default search paths of upstream-reference §6.2, in order.
pub fn search_paths() -> Vec<PathBuf> {
    let argv0: PathBuf = std::env::args_os()
        .next()
        .map(PathBuf::from)
        .or_else(|| std::env::current_exe().ok())
        .unwrap_or_default();
    // Python: os.path.dirname(os.path.dirname(sys.argv[0])).
    let here = argv0
        .parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_default();
    vec![
        here.join("etc").join("supervisord.conf"),
        here.join("supervisord.conf"),
        PathBuf::from("supervisord.conf"),
        PathBuf::from("etc/supervisord.conf"),
        PathBuf::from("/etc/supervisord.conf"),
        PathBuf::from("/etc/supervisor/supervisord.conf"),
    ]
}

/// The first existing default config file (upstream-reference §6.2).
pub fn find_config_file() -> Result<PathBuf, ConfigError> {
    let paths = search_paths();
    if let Some(p) = paths.iter().find(|p| p.exists()) {
        return Ok(p.clone());
    }
    let list: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    Err(ConfigError::new(format!(
        "No config file found at default paths ({}); use the -c option to specify a config \
         file at a different path",
        list.join(", ")
    )))
}

/// Read and validate the config file at `path` (or the first one found by
/// [`find_config_file`]), then apply the command line overrides.
pub fn load(path: Option<&Path>, overrides: &CliOverrides) -> Result<Config, ConfigError> {
    let (path, searched) = match path {
        Some(p) => (p.to_path_buf(), false),
        None => (find_config_file()?, true),
    };
    let text = std::fs::read(&path).map_err(|e| {
        let msg = if e.kind() == std::io::ErrorKind::NotFound {
            format!("could not find config file {}", path.display())
        } else {
            format!("could not read config file {}: {e}", path.display())
        };
        ConfigError::in_file(msg, &path, None)
    })?;
    let text = String::from_utf8(text).map_err(|e| {
        ConfigError::in_file(
            format!("could not read config file {}: {e}", path.display()),
            &path,
            None,
        )
    })?;
    let mut config = parse_str(&text, &path, overrides)?;
    if searched && nix::unistd::geteuid().is_root() {
        config.warnings.insert(0, ROOT_SEARCH_WARNING.to_string());
    }
    Ok(config)
}

/// Parse config text as if read from `path` (used for `%(here)s` and `[include]`).
pub fn parse_str(text: &str, path: &Path, overrides: &CliOverrides) -> Result<Config, ConfigError> {
    let environ: Vec<(String, String)> = std::env::vars_os()
        .map(|(k, v)| {
            (
                k.to_string_lossy().into_owned(),
                v.to_string_lossy().into_owned(),
            )
        })
        .collect();
    parse_with_env(text, path, overrides, &environ)
}

/// `uname -n`.
pub fn host_node_name() -> String {
    // SAFETY: `uname` fills a zeroed, properly sized struct; `nodename` is NUL-terminated.
    unsafe {
        let mut u: libc::utsname = std::mem::zeroed();
        if libc::uname(&mut u) == 0 {
            return std::ffi::CStr::from_ptr(u.nodename.as_ptr())
                .to_string_lossy()
                .into_owned();
        }
    }
    String::new()
}

fn one(key: &str, value: impl Into<ExpVal>) -> Expansions {
    let mut e = Expansions::new();
    e.insert(key.to_string(), value.into());
    e
}

struct Ctx {
    ini: Ini,
    here: String,
    host: String,
    /// `ENV_*` of the process environment, then of `[supervisord] environment=`.
    env_exp: Expansions,
    warnings: Vec<String>,
    /// INFO lines for the main log (`Included extra file ...`).
    infos: Vec<String>,
    main: PathBuf,
}

impl Ctx {
    fn section_file(&self, section: &str) -> PathBuf {
        self.ini
            .section(section)
            .map(|s| s.file.clone())
            .unwrap_or_else(|| self.main.clone())
    }

    /// `<msg> in section '<section>' (file: '<file>')`.
    fn err(&self, section: &str, msg: impl Display, at: Option<&Value>) -> ConfigError {
        let (file, line) = match at {
            Some(v) => (v.file.clone(), Some(v.line)),
            None => (self.section_file(section), None),
        };
        ConfigError::in_file(
            format!(
                "{msg} in section {} (file: {})",
                py_repr(section),
                py_repr(&file.display().to_string())
            ),
            &file,
            line,
        )
    }

    /// `<msg> (file: '<file>')`, for messages that already name the section.
    fn err_file(&self, section: &str, msg: impl Display) -> ConfigError {
        let file = self.section_file(section);
        ConfigError::in_file(
            format!("{msg} (file: {})", py_repr(&file.display().to_string())),
            &file,
            None,
        )
    }

    fn raw(&self, section: &str, opt: &str) -> Option<Value> {
        self.ini.get(section, opt).cloned()
    }

    /// The option expanded once with ENV_* plus `extra` (Supervisor's `saneget`).
    fn get(
        &self,
        section: &str,
        opt: &str,
        extra: &Expansions,
    ) -> Result<Option<(String, Value)>, ConfigError> {
        let Some(v) = self.raw(section, opt) else {
            return Ok(None);
        };
        let text = expand(
            &v.text,
            &Over {
                base: &self.env_exp,
                extra,
            },
            &format!("{section}.{opt}"),
        )
        .map_err(|e| self.err(section, e, Some(&v)))?;
        Ok(Some((text, v)))
    }

    /// The option expanded and converted; `default` (unexpanded text) when absent.
    fn typed<T>(
        &self,
        section: &str,
        opt: &str,
        extra: &Expansions,
        default: &str,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<T, ConfigError> {
        match self.get(section, opt, extra)? {
            Some((text, v)) => parse(&text).map_err(|e| {
                self.err(
                    section,
                    format!("invalid value for {}: {e}", py_repr(opt)),
                    Some(&v),
                )
            }),
            None => parse(default).map_err(|e| {
                self.err(
                    section,
                    format!("invalid default for {}: {e}", py_repr(opt)),
                    None,
                )
            }),
        }
    }

    fn opt_typed<T>(
        &self,
        section: &str,
        opt: &str,
        extra: &Expansions,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<Option<T>, ConfigError> {
        match self.get(section, opt, extra)? {
            Some((text, v)) => parse(&text).map(Some).map_err(|e| {
                self.err(
                    section,
                    format!("invalid value for {}: {e}", py_repr(opt)),
                    Some(&v),
                )
            }),
            None => Ok(None),
        }
    }
}

/// [`parse_str`] with an explicit process environment (for `ENV_*`).
pub fn parse_with_env(
    text: &str,
    path: &Path,
    overrides: &CliOverrides,
    environ: &[(String, String)],
) -> Result<Config, ConfigError> {
    let main = values::normalize_path(path);
    let here = main
        .parent()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "/".to_string());
    let mut ini = Ini::new();
    ini.read_str(text, &main)?;
    let mut env_exp = Expansions::new();
    for (k, v) in environ {
        env_exp.insert(format!("ENV_{k}"), ExpVal::Str(v.clone()));
    }
    let mut ctx = Ctx {
        ini,
        here,
        host: host_node_name(),
        env_exp,
        warnings: Vec::new(),
        infos: Vec::new(),
        main: main.clone(),
    };
    read_includes(&mut ctx)?;
    extensions::apply_program_default(&mut ctx.ini);
    if !ctx.ini.has_section("supervisord") {
        return Err(ConfigError::in_file(
            format!(
                ".ini file does not include supervisord section (file: {})",
                py_repr(&main.display().to_string())
            ),
            &main,
            None,
        ));
    }
    let mut supervisord = supervisord_section(&mut ctx)?;
    apply_overrides(&mut supervisord, overrides)?;
    let rpcinterfaces = rpcinterfaces(&ctx)?;
    let mut groups = process_groups(&mut ctx, &supervisord.environment)?;
    let mut dep_warnings = Vec::new();
    dependencies::check(&ctx, &mut groups, &mut dep_warnings)?;
    ctx.warnings.extend(dep_warnings);
    let (inet_http_servers, unix_http_servers) = server_sections(&ctx)?;
    let metrics = metrics_section(&ctx)?;
    Ok(Config {
        path: main,
        supervisord,
        unix_http_servers,
        inet_http_servers,
        rpcinterfaces,
        metrics,
        groups,
        warnings: ctx.warnings,
        infos: ctx.infos,
    })
}

fn read_includes(ctx: &mut Ctx) -> Result<(), ConfigError> {
    if !ctx.ini.has_section("include") {
        return Ok(());
    }
    let here = ctx.here.clone();
    ctx.ini.expand_here(&here);
    let mut exp = one("here", here.as_str());
    exp.insert("host_node_name".into(), ctx.host.as_str().into());
    let Some((files, _)) = ctx.get("include", "files", &exp)? else {
        return Err(ctx.err_file(
            "include",
            ".ini file has [include] section, but no files setting",
        ));
    };
    let base = PathBuf::from(&here);
    let opts = glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: true,
    };
    for pattern in files.split_whitespace() {
        let joined = base.join(pattern).display().to_string();
        let mut matches: Vec<PathBuf> = match glob::glob_with(&joined, opts) {
            Ok(paths) => paths.filter_map(Result::ok).collect(),
            Err(e) => {
                return Err(ctx.err(
                    "include",
                    format!(
                        "invalid value for 'files': bad pattern {}: {e}",
                        py_repr(pattern)
                    ),
                    ctx.ini.get("include", "files"),
                ))
            }
        };
        if matches.is_empty() {
            ctx.warnings
                .push(format!("No file matches via include \"{joined}\""));
            continue;
        }
        matches.sort_by_key(|p| p.display().to_string());
        for file in matches {
            ctx.infos.push(format!(
                "Included extra file \"{}\" during parsing",
                file.display()
            ));
            if file.is_dir() {
                // Python's parser.read() silently skips what it cannot open.
                continue;
            }
            let text = match read_included(&file) {
                Ok(text) => text,
                Err(Unreadable::Io(e)) => {
                    return Err(ConfigError::in_file(
                        format!("could not read included file {}: {e}", file.display()),
                        &file,
                        None,
                    ))
                }
                Err(Unreadable::Refused(why)) => {
                    let msg = format!(
                        "included file {} (matched by 'files') {why}",
                        py_repr(&file.display().to_string())
                    );
                    return Err(ctx.err("include", msg, ctx.ini.get("include", "files")));
                }
            };
            let dir = values::normalize_path(file.parent().unwrap_or(Path::new("/")));
            ctx.ini
                .read_str_here(&text, &file, &dir.display().to_string())?;
        }
    }
    Ok(())
}

/// Largest included file we read (real ones are a few KB; Python has no bound).
const MAX_INCLUDE_BYTES: u64 = 64 << 20;

enum Unreadable {
    Io(String),
    /// Not something a config can be read from: the reason, as the end of a sentence.
    Refused(String),
}

/// An `[include]` match is read only if it is a regular file (after following symlinks) of
/// at most [`MAX_INCLUDE_BYTES`]: a FIFO would block start-up forever and a symlink to
/// `/dev/zero` would grow memory without end (both do under Python). The checks are made on
/// the opened descriptor (opened non-blocking, so a FIFO swapped in after the `stat` cannot
/// block either).
fn read_included(file: &Path) -> Result<String, Unreadable> {
    use std::io::Read;
    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
    let check = |meta: &std::fs::Metadata| -> Result<(), Unreadable> {
        let ft = meta.file_type();
        let what = if ft.is_file() {
            if meta.len() > MAX_INCLUDE_BYTES {
                return Err(Unreadable::Refused(format!(
                    "is larger than {} MiB",
                    MAX_INCLUDE_BYTES >> 20
                )));
            }
            return Ok(());
        } else if ft.is_fifo() {
            "a FIFO"
        } else if ft.is_char_device() {
            "a character device"
        } else if ft.is_block_device() {
            "a block device"
        } else if ft.is_socket() {
            "a socket"
        } else {
            "something else"
        };
        Err(Unreadable::Refused(format!(
            "is {what}, not a regular file"
        )))
    };
    let io = |e: std::io::Error| Unreadable::Io(e.to_string());
    check(&std::fs::metadata(file).map_err(io)?)?;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(file)
        .map_err(io)?;
    check(&f.metadata().map_err(io)?)?;
    let mut bytes = Vec::new();
    f.take(MAX_INCLUDE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_INCLUDE_BYTES {
        return Err(Unreadable::Refused(format!(
            "is larger than {} MiB",
            MAX_INCLUDE_BYTES >> 20
        )));
    }
    String::from_utf8(bytes).map_err(|e| Unreadable::Io(e.to_string()))
}

fn absolute_log_path(p: PathBuf) -> LogFile {
    if p.as_os_str() == "syslog" {
        LogFile::Syslog
    } else {
        LogFile::Path(values::normalize_path(&p))
    }
}

fn supervisord_section(ctx: &mut Ctx) -> Result<SupervisordConfig, ConfigError> {
    const S: &str = "supervisord";
    let exp = one("here", ctx.here.as_str());
    let minfds = ctx.typed(S, "minfds", &exp, "1024", values::parse_int_as::<u64>)?;
    let minprocs = ctx.typed(S, "minprocs", &exp, "200", values::parse_int_as::<u64>)?;
    let directory = ctx.opt_typed(S, "directory", &exp, values::existing_directory)?;
    let user = ctx.opt_typed(S, "user", &exp, |u| {
        values::name_to_uid(u).map(|_| u.to_string())
    })?;
    let umask = ctx.typed(S, "umask", &exp, "022", values::parse_octal)?;
    let logfile = ctx
        .typed(
            S,
            "logfile",
            &exp,
            "supervisord.log",
            values::existing_dirpath,
        )
        .map(absolute_log_path)?;
    let logfile_maxbytes =
        ctx.typed(S, "logfile_maxbytes", &exp, "50MB", values::parse_byte_size)?;
    let logfile_backups = ctx.typed(
        S,
        "logfile_backups",
        &exp,
        "10",
        values::parse_int_as::<u32>,
    )?;
    let loglevel = ctx.typed(S, "loglevel", &exp, "info", parse_loglevel)?;
    let pidfile = ctx.typed(S, "pidfile", &exp, "supervisord.pid", |s| {
        values::existing_dirpath(s).map(|p| values::normalize_path(&p))
    })?;
    let identifier = ctx
        .get(S, "identifier", &exp)?
        .map(|(t, _)| t)
        .unwrap_or_else(|| "supervisor".to_string());
    let nodaemon = ctx.typed(S, "nodaemon", &exp, "false", values::parse_bool)?;
    let silent = ctx.typed(S, "silent", &exp, "false", values::parse_bool)?;
    let tmp = std::env::temp_dir().display().to_string();
    let childlogdir = ctx.typed(S, "childlogdir", &exp, &tmp, values::existing_directory)?;
    let nocleanup = ctx.typed(S, "nocleanup", &exp, "false", values::parse_bool)?;
    let strip_ansi = ctx.typed(S, "strip_ansi", &exp, "false", values::parse_bool)?;
    let child_output = ctx.typed(S, "child_output", &exp, "none", extensions::child_output)?;
    let log_format = ctx.typed(S, "log_format", &exp, "text", crate::logs::LogFormat::parse)?;
    let child_output_timestamps = ctx.typed(
        S,
        "child_output_timestamps",
        &exp,
        "false",
        values::parse_bool,
    )?;

    // [quirk] expanded twice: first without host_node_name, then with it.
    let environment = match ctx.get(S, "environment", &exp)? {
        None => Vec::new(),
        Some((text, v)) => {
            let mut exp2 = exp.clone();
            exp2.insert("host_node_name".into(), ctx.host.as_str().into());
            let over = Over {
                base: &ctx.env_exp,
                extra: &exp2,
            };
            let text = expand(&text, &over, "environment").map_err(|e| ctx.err(S, e, Some(&v)))?;
            values::parse_environment(&text).map_err(|e| {
                ctx.err(S, format!("invalid value for 'environment': {e}"), Some(&v))
            })?
        }
    };
    for (k, v) in &environment {
        ctx.env_exp
            .insert(format!("ENV_{k}"), ExpVal::Str(v.clone()));
    }
    Ok(SupervisordConfig {
        logfile,
        logfile_maxbytes,
        logfile_backups,
        loglevel,
        pidfile,
        umask,
        nodaemon,
        silent,
        minfds,
        minprocs,
        nocleanup,
        childlogdir,
        user,
        directory,
        strip_ansi,
        child_output,
        log_format,
        child_output_timestamps,
        environment,
        identifier,
    })
}

/// Supervisor's `logging_level`: one of the seven names, case-insensitive, nothing else.
fn parse_loglevel(s: &str) -> Result<LogLevel, String> {
    const NAMES: [&str; 7] = [
        "critical", "error", "warn", "info", "debug", "trace", "blather",
    ];
    let lower = s.to_lowercase();
    match NAMES.contains(&lower.as_str()) {
        true => lower.parse::<LogLevel>(),
        false => Err(String::new()),
    }
    .map_err(|_| format!("bad logging level name {}", py_repr(s)))
}

fn apply_overrides(s: &mut SupervisordConfig, o: &CliOverrides) -> Result<(), ConfigError> {
    let flag_err = |flag: &str, e: String| {
        ConfigError::new(format!("invalid value for command line option {flag}: {e}"))
    };
    if let Some(v) = o.nodaemon {
        s.nodaemon = v;
    }
    if let Some(v) = o.silent {
        s.silent = v;
    }
    if let Some(v) = &o.user {
        values::name_to_uid(v).map_err(|e| flag_err("--user", e))?;
        s.user = Some(v.clone());
    }
    if let Some(v) = o.umask {
        s.umask = v;
    }
    if let Some(v) = &o.directory {
        s.directory = Some(
            values::existing_directory(&v.display().to_string())
                .map_err(|e| flag_err("--directory", e))?,
        );
    }
    if let Some(v) = &o.logfile {
        let p = values::existing_dirpath(&v.display().to_string())
            .map_err(|e| flag_err("--logfile", e))?;
        s.logfile = absolute_log_path(p);
    }
    if let Some(v) = o.logfile_maxbytes {
        s.logfile_maxbytes = v;
    }
    if let Some(v) = o.logfile_backups {
        s.logfile_backups = v;
    }
    if let Some(v) = o.loglevel {
        s.loglevel = v;
    }
    if let Some(v) = &o.pidfile {
        let p = values::existing_dirpath(&v.display().to_string())
            .map_err(|e| flag_err("--pidfile", e))?;
        s.pidfile = values::normalize_path(&p);
    }
    if let Some(v) = &o.identifier {
        s.identifier = v.clone();
    }
    if let Some(v) = &o.childlogdir {
        s.childlogdir = values::existing_directory(&v.display().to_string())
            .map_err(|e| flag_err("--childlogdir", e))?;
    }
    if let Some(v) = o.nocleanup {
        s.nocleanup = v;
    }
    if let Some(v) = o.minfds {
        s.minfds = v;
    }
    if let Some(v) = o.minprocs {
        s.minprocs = v;
    }
    if let Some(v) = o.strip_ansi {
        s.strip_ansi = v;
    }
    Ok(())
}

/// A group's name: the section suffix, validated like a process name.
fn group_name(ctx: &Ctx, section: &str) -> Result<String, ConfigError> {
    values::process_or_group_name(section_suffix(section)).map_err(|e| ctx.err(section, e, None))
}

/// A group's `priority=` (`default` differs: 999 for programs and groups, -1 for pools).
fn group_priority(
    ctx: &Ctx,
    section: &str,
    here: &Expansions,
    default: &str,
) -> Result<i32, ConfigError> {
    ctx.typed(
        section,
        "priority",
        here,
        default,
        values::parse_int_as::<i32>,
    )
}

/// `[rpcinterface:x]`: the factory is required; every value is expanded (as upstream, which
/// passes the other options to the factory). Factories are not imported here.
fn rpcinterfaces(ctx: &Ctx) -> Result<Vec<String>, ConfigError> {
    const KEY: &str = "supervisor.rpcinterface_factory";
    let none = Expansions::new();
    let mut names = Vec::new();
    for name in ctx.ini.section_names() {
        let Some(iface) = name.strip_prefix("rpcinterface:") else {
            continue;
        };
        names.push(iface.to_string());
        if ctx.get(name, KEY, &none)?.is_none() {
            return Err(ctx.err_file(name, format!("section [{name}] does not specify a {KEY}")));
        }
        if let Some(section) = ctx.ini.section(name) {
            for (opt, _) in &section.options {
                ctx.get(name, opt, &none)?;
            }
        }
    }
    Ok(names)
}

fn auth(ctx: &Ctx, section: &str) -> Result<(Option<String>, Option<String>), ConfigError> {
    let none = Expansions::new();
    let username = ctx.get(section, "username", &none)?.map(|(t, _)| t);
    let password = ctx.get(section, "password", &none)?.map(|(t, _)| t);
    if username.is_some() != password.is_some() {
        return Err(ctx.err_file(
            section,
            format!(
                "Section [{section}] contains incomplete authentication: If a username or a \
                 password is specified, both the username and password must be specified"
            ),
        ));
    }
    Ok((username, password))
}

type Servers = (Vec<InetHttpServerConfig>, Vec<UnixHttpServerConfig>);

fn server_sections(ctx: &Ctx) -> Result<Servers, ConfigError> {
    let none = Expansions::new();
    let mut inet = Vec::new();
    let mut unix = Vec::new();
    for section in ctx.ini.section_names() {
        if !section.starts_with("inet_http_server") {
            continue;
        }
        let (username, password) = auth(ctx, section)?;
        let Some((port, v)) = ctx.get(section, "port", &none)? else {
            return Err(ctx.err_file(section, format!("section [{section}] has no port value")));
        };
        let (host, port) = values::parse_inet_port(&port)
            .map_err(|e| ctx.err(section, format!("invalid value for 'port': {e}"), Some(&v)))?;
        let max_connections = max_connections(ctx, section)?;
        inet.push(InetHttpServerConfig {
            section: section.to_string(),
            host,
            port,
            username,
            password,
            max_connections,
        });
    }
    for section in ctx.ini.section_names() {
        if !section.starts_with("unix_http_server") {
            continue;
        }
        let Some((file, _)) = ctx.get(section, "file", &one("here", ctx.here.as_str()))? else {
            return Err(ctx.err_file(section, format!("section [{section}] has no file value")));
        };
        let file = values::normalize_path(Path::new(&values::expand_user(file.trim())));
        let (username, password) = auth(ctx, section)?;
        let chown = ctx.opt_typed(section, "chown", &none, |s| {
            values::parse_user_group(s).map_err(|_| format!("Invalid sockchown value {s}"))
        })?;
        let chmod = ctx
            .opt_typed(section, "chmod", &none, |s| {
                values::parse_octal(s).map_err(|_| format!("Invalid chmod value {s}"))
            })?
            .unwrap_or(0o700);
        let max_connections = max_connections(ctx, section)?;
        unix.push(UnixHttpServerConfig {
            section: section.to_string(),
            file,
            chmod,
            chown,
            username,
            password,
            max_connections,
        });
    }
    Ok((inet, unix))
}

/// Default of `supervisor_rs_max_connections`.
pub const DEFAULT_MAX_CONNECTIONS: usize = 256;

/// `supervisor_rs_max_connections=N` (a supervisor-rs extension; Python Supervisor ignores
/// unknown options in these sections): how many connections one HTTP server serves at once,
/// 1 to 65536.
fn max_connections(ctx: &Ctx, section: &str) -> Result<usize, ConfigError> {
    const KEY: &str = "supervisor_rs_max_connections";
    let parsed = ctx.opt_typed(
        section,
        KEY,
        &Expansions::new(),
        |s| match values::parse_int_as::<usize>(s) {
            Ok(n) if (1..=65536).contains(&n) => Ok(n),
            _ => Err(format!("{} is not an integer from 1 to 65536", py_repr(s))),
        },
    )?;
    Ok(parsed.unwrap_or(DEFAULT_MAX_CONNECTIONS))
}

/// `[metrics] port=host:port` (a supervisor-rs extension).
fn metrics_section(ctx: &Ctx) -> Result<Option<MetricsConfig>, ConfigError> {
    const S: &str = "metrics";
    if !ctx.ini.has_section(S) {
        return Ok(None);
    }
    let Some((port, v)) = ctx.get(S, "port", &Expansions::new())? else {
        return Err(ctx.err_file(S, format!("section [{S}] has no port value")));
    };
    let (host, port) = values::parse_inet_port(&port)
        .map_err(|e| ctx.err(S, format!("invalid value for 'port': {e}"), Some(&v)))?;
    Ok(Some(MetricsConfig { host, port }))
}

fn section_suffix(section: &str) -> &str {
    section.split_once(':').map(|(_, n)| n).unwrap_or("")
}

fn sort_processes(p: &mut [ProcessConfig]) {
    p.sort_by(|a, b| (a.priority, &a.name).cmp(&(b.priority, &b.name)));
}

fn process_groups(
    ctx: &mut Ctx,
    global_env: &[(String, String)],
) -> Result<Vec<GroupConfig>, ConfigError> {
    let sections: Vec<String> = ctx
        .ini
        .section_names()
        .into_iter()
        .map(String::from)
        .collect();
    let all: HashSet<&str> = sections.iter().map(String::as_str).collect();
    let here = one("here", ctx.here.as_str());
    let mut groups = Vec::new();
    let mut exclude: HashSet<String> = HashSet::new();

    // Heterogeneous groups.
    for section in sections.iter().filter(|s| s.starts_with("group:")) {
        let name = group_name(ctx, section)?;
        let Some((programs, _)) = ctx.get(section, "programs", &here)? else {
            return Err(ctx.err_file(
                section,
                format!("[{section}] section requires a \"programs\" line"),
            ));
        };
        let priority = group_priority(ctx, section, &here, "999")?;
        let mut processes = Vec::new();
        for program in values::parse_list_of_strings(&programs) {
            let psec = format!("program:{program}");
            let fsec = format!("fcgi-program:{program}");
            let target = match (all.contains(psec.as_str()), all.contains(fsec.as_str())) {
                (false, false) => {
                    return Err(ctx.err_file(
                        section,
                        format!("[{section}] names unknown program or fcgi-program {program}"),
                    ))
                }
                (true, true) => {
                    return Err(ctx.err_file(
                        section,
                        format!(
                            "[{section}] name {program} is ambiguous (exists as program and \
                             fcgi-program)"
                        ),
                    ))
                }
                (true, false) => psec,
                (false, true) => fsec,
            };
            processes.extend(processes_from_section(ctx, &target, &name, global_env)?);
            exclude.insert(target);
        }
        sort_processes(&mut processes);
        groups.push(GroupConfig {
            name,
            priority,
            kind: GroupKind::Heterogeneous,
            processes,
        });
    }

    // Homogeneous program groups.
    for section in sections.iter().filter(|s| s.starts_with("program:")) {
        if exclude.contains(section) {
            continue;
        }
        let name = group_name(ctx, section)?;
        let priority = group_priority(ctx, section, &here, "999")?;
        let mut processes = processes_from_section(ctx, section, &name, global_env)?;
        sort_processes(&mut processes);
        groups.push(GroupConfig {
            name,
            priority,
            kind: GroupKind::Program,
            processes,
        });
    }

    // Event listener pools.
    for section in sections.iter().filter(|s| s.starts_with("eventlistener:")) {
        let name = group_name(ctx, section)?;
        // Listeners start first and stop last by default.
        let priority = group_priority(ctx, section, &here, "-1")?;
        let buffer_size = ctx.typed(section, "buffer_size", &here, "10", values::parse_int)?;
        if buffer_size < 1 {
            return Err(ctx.err_file(
                section,
                format!("[{section}] section sets invalid buffer_size ({buffer_size})"),
            ));
        }
        let result_handler = match ctx.get(section, "result_handler", &here)? {
            None => ResultHandler::Default,
            Some((spec, _)) => ResultHandler::from_spec(&spec).ok_or_else(|| {
                ctx.err_file(
                    section,
                    format!("{spec} cannot be resolved within [{section}]"),
                )
            })?,
        };
        let events_raw = ctx
            .get(section, "events", &here)?
            .map(|(t, _)| t)
            .unwrap_or_default();
        let mut events: Vec<String> = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        for e in values::parse_list_of_strings(&events_raw) {
            let e = e.to_uppercase();
            if seen.insert(e.clone()) {
                events.push(e);
            }
        }
        if events.is_empty() {
            return Err(ctx.err_file(
                section,
                format!("[{section}] section requires an \"events\" line"),
            ));
        }
        if let Some(bad) = events.iter().find(|e| EventKind::from_name(e).is_none()) {
            return Err(ctx.err_file(
                section,
                format!("Unknown event type {bad} in [{section}] events"),
            ));
        }
        if ctx.typed(
            section,
            "redirect_stderr",
            &here,
            "false",
            values::parse_bool,
        )? {
            return Err(ctx.err_file(
                section,
                format!(
                    "[{section}] section sets redirect_stderr=true but this is not allowed \
                     because it will interfere with the eventlistener protocol"
                ),
            ));
        }
        let mut processes = processes_from_section(ctx, section, &name, global_env)?;
        sort_processes(&mut processes);
        groups.push(GroupConfig {
            name,
            priority,
            kind: GroupKind::EventListenerPool(PoolConfig {
                events,
                buffer_size: usize::try_from(buffer_size).unwrap_or(usize::MAX),
                result_handler,
            }),
            processes,
        });
    }

    // FastCGI programs.
    for section in sections.iter().filter(|s| s.starts_with("fcgi-program:")) {
        if exclude.contains(section) {
            continue;
        }
        let name = group_name(ctx, section)?;
        let priority = group_priority(ctx, section, &here, "999")?;
        let socket = fcgi_socket(ctx, section, &name)?;
        let mut processes = processes_from_section(ctx, section, &name, global_env)?;
        sort_processes(&mut processes);
        groups.push(GroupConfig {
            name,
            priority,
            kind: GroupKind::FcgiProgram(socket),
            processes,
        });
    }

    groups.sort_by(|a, b| (a.priority, &a.name).cmp(&(b.priority, &b.name)));
    Ok(groups)
}

/// The `socket*` options of an `[fcgi-program:x]` section, checked in upstream's order
/// (`user`, `socket_backlog`, `socket_owner`, `socket_mode`, `socket`). Errors about the
/// `socket` value itself end like upstream's: `... in [fcgi-program:x] socket`.
fn fcgi_socket(ctx: &Ctx, section: &str, program: &str) -> Result<FcgiSocketConfig, ConfigError> {
    let here = one("here", ctx.here.as_str());
    let proc_uid = ctx.opt_typed(section, "user", &here, values::name_to_uid)?;
    let mut backlog = None;
    if let Some(n) = ctx.opt_typed(section, "socket_backlog", &here, values::parse_int)? {
        match u32::try_from(n) {
            Ok(b) if (1..=65535).contains(&b) => backlog = Some(b),
            _ => {
                return Err(ctx.err(
                    section,
                    format!("Invalid socket_backlog value {n}"),
                    ctx.ini.get(section, "socket_backlog"),
                ))
            }
        }
    }
    let owner = ctx.opt_typed(section, "socket_owner", &here, |s| {
        values::parse_user_group(s).map_err(|_| format!("Invalid socket_owner value {s}"))
    })?;
    let mode = ctx.opt_typed(section, "socket_mode", &here, |s| {
        values::parse_octal(s).map_err(|_| format!("Invalid socket_mode value {s}"))
    })?;
    let mut exp = one("program_name", program);
    exp.insert("here".into(), ctx.here.as_str().into());
    let socket = ctx
        .get(section, "socket", &exp)?
        .map(|(t, _)| t)
        .unwrap_or_default();
    if socket.is_empty() {
        return Err(ctx.err_file(
            section,
            format!("[{section}] section requires a \"socket\" line"),
        ));
    }
    let at = ctx.ini.get(section, "socket");
    let bad = |msg: String| {
        let file = at.map_or_else(|| ctx.section_file(section), |v| v.file.clone());
        ConfigError::in_file(
            format!(
                "{msg} in [{section}] socket (file: {})",
                py_repr(&file.display().to_string())
            ),
            &file,
            at.map(|v| v.line),
        )
    };
    if let Some(path) = socket.strip_prefix("unix://") {
        if !Path::new(path).is_absolute() {
            return Err(bad(format!(
                "Unix socket path {path} is not an absolute path"
            )));
        }
        let path = values::normalize_path(Path::new(path));
        // Upstream: the program's user owns the socket when supervisord runs as someone else.
        let owner = owner.or_else(|| {
            let uid = proc_uid.filter(|u| *u != nix::unistd::getuid().as_raw())?;
            let gid = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
                .ok()
                .flatten()
                .map(|u| u.gid.as_raw());
            Some((uid, gid))
        });
        return Ok(FcgiSocketConfig {
            url: format!("unix://{}", path.display()),
            address: FcgiAddress::Unix {
                path,
                mode: mode.unwrap_or(0o700),
                owner,
            },
            backlog,
        });
    }
    if owner.is_some() || mode.is_some() {
        return Err(bad(
            "socket_owner and socket_mode params should only be used with a Unix domain socket"
                .to_string(),
        ));
    }
    let tcp = socket
        .strip_prefix("tcp://")
        .and_then(|rest| rest.rsplit_once(':'))
        .filter(|(host, port)| {
            !host.is_empty()
                && !host.contains(|c: char| c.is_whitespace() || c == ':')
                && !port.is_empty()
                && port.chars().all(|c| c.is_ascii_digit())
        });
    let Some((host, port)) = tcp else {
        return Err(bad(format!("Bad socket format {socket}")));
    };
    // Digits only (checked above): compare without overflowing, as Python's big ints do.
    let digits = port.trim_start_matches('0');
    if digits.is_empty() {
        return Err(bad("0 is below lower bound (1)".to_string()));
    }
    let Ok(port) = digits.parse::<u16>() else {
        return Err(bad(format!("{digits} is above upper bound (65535)")));
    };
    let host = host.to_lowercase();
    Ok(FcgiSocketConfig {
        url: format!("tcp://{host}:{port}"),
        address: FcgiAddress::Tcp { host, port },
        backlog,
    })
}

struct ChannelRaw {
    logfile: LogFile,
    backups: u32,
    maxbytes: u64,
    syslog: bool,
}

fn processes_from_section(
    ctx: &mut Ctx,
    section: &str,
    group_name: &str,
    global_env: &[(String, String)],
) -> Result<Vec<ProcessConfig>, ConfigError> {
    let program_name = values::process_or_group_name(section_suffix(section))
        .map_err(|e| ctx.err(section, e, None))?;
    let mut common = Expansions::new();
    common.insert("here".into(), ctx.here.as_str().into());
    common.insert("program_name".into(), program_name.as_str().into());
    common.insert("host_node_name".into(), ctx.host.as_str().into());
    common.insert("group_name".into(), group_name.into());
    let c = &*ctx;
    let int_i32 = values::parse_int_as::<i32>;
    let priority = c.typed(section, "priority", &common, "999", int_i32)?;
    let autostart = c.typed(section, "autostart", &common, "true", values::parse_bool)?;
    let autorestart = c.typed(
        section,
        "autorestart",
        &common,
        "unexpected",
        values::parse_autorestart,
    )?;
    let startsecs = c.typed(
        section,
        "startsecs",
        &common,
        "1",
        values::parse_int_as::<u64>,
    )?;
    let startretries = c.typed(
        section,
        "startretries",
        &common,
        "3",
        values::parse_int_as::<u32>,
    )?;
    let stopsignal = c.typed(section, "stopsignal", &common, "TERM", values::parse_signal)?;
    let stopwaitsecs = c.typed(
        section,
        "stopwaitsecs",
        &common,
        "10",
        values::parse_int_as::<u64>,
    )?;
    let stopasgroup = c.typed(section, "stopasgroup", &common, "false", values::parse_bool)?;
    let killasgroup = c.typed(
        section,
        "killasgroup",
        &common,
        if stopasgroup { "true" } else { "false" },
        values::parse_bool,
    )?;
    let exitcodes = c.typed(section, "exitcodes", &common, "0", values::parse_exitcodes)?;
    let redirect_stderr = c.typed(
        section,
        "redirect_stderr",
        &common,
        "false",
        values::parse_bool,
    )?;
    let numprocs = c.typed(section, "numprocs", &common, "1", values::parse_int)?;
    let numprocs_start = c.typed(section, "numprocs_start", &common, "0", values::parse_int)?;
    let environment_raw = c.raw(section, "environment");
    let stdout_cmax = c.typed(
        section,
        "stdout_capture_maxbytes",
        &common,
        "0",
        values::parse_byte_size,
    )?;
    let stdout_events = c.typed(
        section,
        "stdout_events_enabled",
        &common,
        "false",
        values::parse_bool,
    )?;
    let stderr_cmax = c.typed(
        section,
        "stderr_capture_maxbytes",
        &common,
        "0",
        values::parse_byte_size,
    )?;
    let stderr_events = c.typed(
        section,
        "stderr_events_enabled",
        &common,
        "false",
        values::parse_bool,
    )?;
    let serverurl = c
        .get(section, "serverurl", &common)?
        .map(|(t, _)| t)
        .filter(|u| !u.trim().eq_ignore_ascii_case("auto"));
    let user = c.opt_typed(section, "user", &common, |u| {
        values::name_to_uid(u).map(|_| u.to_string())
    })?;
    let umask = c.opt_typed(section, "umask", &common, values::parse_octal)?;
    let process_name_raw = c.raw(section, "process_name");
    let process_name = match &process_name_raw {
        Some(v) => {
            values::process_or_group_name(&v.text).map_err(|e| c.err(section, e, Some(v)))?
        }
        None => "%(program_name)s".to_string(),
    };
    if numprocs > 1 && !process_name.contains("%(process_num)") {
        return Err(c.err(
            section,
            "%(process_num) must be present within process_name when numprocs > 1",
            process_name_raw.as_ref(),
        ));
    }
    if stopasgroup && !killasgroup {
        return Err(c.err(
            section,
            "Cannot set stopasgroup=true and killasgroup=false",
            c.ini.get(section, "killasgroup"),
        ));
    }

    let mut processes = Vec::new();
    let mut exp = common;
    let count = numprocs.max(0);
    for process_num in numprocs_start..numprocs_start.saturating_add(count) {
        let c = &*ctx;
        let pnum = u32::try_from(process_num).map_err(|_| {
            c.err(
                section,
                format!("invalid value for 'numprocs_start': {numprocs_start} is out of range"),
                c.ini.get(section, "numprocs_start"),
            )
        })?;
        exp.insert("process_num".into(), ExpVal::Int(process_num));
        exp.insert("numprocs".into(), ExpVal::Int(numprocs));
        exp.extend(c.env_exp.iter().map(|(k, v)| (k.clone(), v.clone())));
        let program_env = match &environment_raw {
            None => Vec::new(),
            Some(v) if v.text.is_empty() => Vec::new(),
            Some(v) => {
                let text =
                    expand(&v.text, &exp, "environment").map_err(|e| c.err(section, e, Some(v)))?;
                values::parse_environment(&text).map_err(|e| {
                    c.err(
                        section,
                        format!("invalid value for 'environment': {e}"),
                        Some(v),
                    )
                })?
            }
        };
        // Extension: environment_file= sits between [supervisord] and the program's own.
        let (file_env, env_files) = extensions::environment_files(c, section, &exp)?;
        for (k, v) in global_env.iter().chain(&file_env).chain(&program_env) {
            exp.insert(format!("ENV_{k}"), ExpVal::Str(v.clone()));
        }
        let directory = c
            .get(section, "directory", &exp)?
            .map(|(t, _)| PathBuf::from(t));

        let mut channels = Vec::new();
        let mut warnings = Vec::new();
        for k in ["stdout", "stderr"] {
            let lf_key = format!("{k}_logfile");
            let mut logfile = match c.get(section, &lf_key, &exp)? {
                None => LogFile::Auto,
                Some((text, v)) => {
                    // [quirk] expanded a second time.
                    let text =
                        expand(&text, &exp, &lf_key).map_err(|e| c.err(section, e, Some(&v)))?;
                    values::parse_logfile(&text).map_err(|e| {
                        c.err(
                            section,
                            format!("invalid value for {}: {e}", py_repr(&lf_key)),
                            Some(&v),
                        )
                    })?
                }
            };
            let backups = c.typed(
                section,
                &format!("{k}_logfile_backups"),
                &exp,
                "10",
                values::parse_int_as::<u32>,
            )?;
            let maxbytes_signed = c.typed(
                section,
                &format!("{k}_logfile_maxbytes"),
                &exp,
                "50MB",
                values::parse_byte_size_signed,
            )?;
            let maxbytes = u64::try_from(maxbytes_signed).unwrap_or(0);
            let mut syslog = c.typed(
                section,
                &format!("{k}_syslog"),
                &exp,
                "false",
                values::parse_bool,
            )?;
            if logfile == LogFile::Syslog {
                warnings.push(format!(
                    "For [{section}], {lf_key}=syslog but this is deprecated and will be \
                     removed.  Use {k}_syslog=true to enable syslog instead."
                ));
                logfile = LogFile::None;
                syslog = true;
            }
            if logfile == LogFile::Auto && maxbytes_signed == 0 {
                warnings.push(format!(
                    "For [{section}], AUTO logging used for {lf_key} without rollover, set \
                     maxbytes > 0 to avoid filling up filesystem unintentionally"
                ));
            }
            channels.push(ChannelRaw {
                logfile,
                backups,
                maxbytes,
                syslog,
            });
        }
        let (Some(mut err_ch), Some(out_ch)) = (channels.pop(), channels.pop()) else {
            return Err(c.err(section, "internal error: missing channel", None));
        };
        if redirect_stderr {
            if !matches!(err_ch.logfile, LogFile::Auto | LogFile::None) {
                warnings.push(format!(
                    "For [{section}], redirect_stderr=true but stderr_logfile has also been \
                     set to a filename, the filename has been ignored"
                ));
            }
            err_ch.logfile = LogFile::None;
        }
        let Some((command, _)) = c.get(section, "command", &exp)? else {
            return Err(c.err(
                section,
                format!("program section [{section}] does not specify a command"),
                None,
            ));
        };
        let mut ext = extensions::process_options(c, section, &exp)?;
        ext.environment_files = env_files;
        let name = expand(&process_name, &exp, "process_name")
            .map_err(|e| c.err(section, e, process_name_raw.as_ref()))?;
        let name = values::process_or_group_name(&name)
            .map_err(|e| c.err(section, e, process_name_raw.as_ref()))?;

        // [supervisord] environment, then environment_file= (extension), then the program's
        // (program wins, dict order).
        let mut environment = values::EnvBuilder::new();
        environment.extend(global_env.iter().cloned());
        environment.extend(file_env.into_iter().chain(program_env));
        let environment = environment.into_pairs();
        let channel = |ch: &ChannelRaw, cmax: u64, events: bool| ChannelConfig {
            logfile: ch.logfile.clone(),
            logfile_maxbytes: ch.maxbytes,
            logfile_backups: ch.backups,
            capture_maxbytes: cmax,
            events_enabled: events,
            syslog: ch.syslog,
        };
        processes.push(ProcessConfig {
            name,
            program_name: program_name.clone(),
            group_name: group_name.to_string(),
            process_num: pnum,
            command,
            priority,
            autostart,
            autorestart,
            startsecs,
            startretries,
            exitcodes: exitcodes.clone(),
            stopsignal,
            stopwaitsecs,
            stopasgroup,
            killasgroup,
            user: user.clone(),
            directory,
            umask,
            environment,
            redirect_stderr,
            stdout: channel(&out_ch, stdout_cmax, stdout_events),
            stderr: channel(&err_ch, stderr_cmax, stderr_events),
            serverurl: serverurl.clone(),
            ext,
        });
        ctx.warnings.extend(warnings);
    }
    Ok(processes)
}
