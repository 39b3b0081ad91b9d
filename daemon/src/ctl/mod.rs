//! `supervisorctl`: the command-line client of supervisord's XML-RPC interface, compatible
//! with Python Supervisor 4.3.0's (upstream-reference §5).
//!
//! * [`transport`]: HTTP over a UNIX socket or TCP (RPC POSTs and streamed log tails).
//! * [`client`]: typed XML-RPC calls.
//! * [`commands`]: the command interpreter (`status`, `start`, ...): argument parsing, output
//!   lines and exit statuses exactly as Python prints them.
//! * [`format`]: the status table and other fixed-width output.
//! * [`shell`]: the interactive loop.
//! * [`term`]: terminal input (line readers, password prompt) and the Ctrl-C flag.
//!
//! This module is synchronous: one request at a time, blocking sockets.

pub mod client;
pub mod commands;
pub mod fleet;
pub mod format;
pub mod shell;
pub mod term;
pub mod transport;

use std::path::{Path, PathBuf};

use crate::config::expand::{expand, ExpVal, Expansions};
use crate::config::ini::Ini;
use crate::config::values::{expand_user, normalize_path};

/// Effective client options (command line over `[supervisorctl]` over defaults).
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    pub serverurl: String,
    pub username: Option<String>,
    pub password: Option<String>,
    pub prompt: String,
    pub history_file: Option<PathBuf>,
    pub interactive: bool,
    /// The action and its arguments (joined with spaces into one command line).
    pub args: Vec<String>,
    /// Several servers (`-s` repeated, or `[supervisorctl] serverurls=`): `status` asks
    /// them all. Empty for the usual single server.
    pub fleet: Vec<String>,
    /// Colour the state column (`--color`, `[supervisorctl] color=`); off by default, as
    /// upstream, so tools reading the output through a pty see plain text.
    pub color: Color,
}

/// When `status` colours its state column (a supervisor-rs extension).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Color {
    /// Plain text, as Python's supervisorctl (the default).
    #[default]
    Never,
    /// Colour when stdout is a terminal and `NO_COLOR` is unset.
    Auto,
    /// Colour whatever stdout is.
    Always,
}

impl Color {
    /// `auto`/`always`/`never`, or a boolean (`true` = `auto`).
    fn parse(value: &str) -> Option<Color> {
        match value.trim().to_ascii_lowercase().as_str() {
            "auto" | "true" | "yes" | "on" | "1" => Some(Color::Auto),
            "always" => Some(Color::Always),
            "never" | "false" | "no" | "off" | "0" => Some(Color::Never),
            _ => None,
        }
    }

    /// Whether output to stdout gets colour codes now.
    pub fn enabled(self) -> bool {
        use std::io::IsTerminal;
        match self {
            Color::Never => false,
            Color::Always => true,
            Color::Auto => {
                std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
            }
        }
    }
}

/// What the command line asked for.
#[derive(Debug, Default)]
struct Cli {
    configuration: Option<String>,
    serverurl: Option<String>,
    username: Option<String>,
    password: Option<String>,
    history_file: Option<String>,
    interactive: bool,
    help: bool,
    args: Vec<String>,
    /// `-s` given again (a supervisor-rs extension: several servers).
    more_servers: Vec<String>,
    /// `--color[=WHEN]` (a supervisor-rs extension).
    color: Option<Color>,
    /// Options in command-line order, as typed (`-c`, `--serverurl`), with their values.
    opts: Vec<(String, Option<String>)>,
}

/// A usage error: printed as `Error: <msg>` + `For help, use <prog> -h` on stderr, exit 2.
#[derive(Debug, PartialEq)]
pub struct UsageError(pub String);

const LONG: &[(&str, bool)] = &[
    ("configuration", true),
    ("help", false),
    ("interactive", false),
    ("serverurl", true),
    ("username", true),
    ("password", true),
    ("history_file", true),
];

fn short_takes_arg(c: char) -> Option<bool> {
    match c {
        'c' | 's' | 'u' | 'p' | 'r' => Some(true),
        'h' | '?' | 'i' => Some(false),
        _ => None,
    }
}

/// Records one option as getopt returns it: `-c` for short ones, the full `--name` for long
/// ones (even when abbreviated). [`process_opts`] applies them in order afterwards.
fn set_opt(cli: &mut Cli, name: &str, value: Option<String>) {
    let typed = if name.len() == 1 {
        format!("-{name}")
    } else {
        format!("--{name}")
    };
    cli.opts.push((typed, value));
}

/// Python's `Options.realize` second stage: options in command-line order; `-h` prints the
/// help at once; a value fails its check or repeats an option ⇒ usage error.
fn process_opts(cli: &mut Cli) -> Result<(), UsageError> {
    let opts = std::mem::take(&mut cli.opts);
    for (typed, value) in opts {
        let slot = match typed.as_str() {
            "-h" | "-?" | "--help" => {
                cli.help = true;
                return Ok(());
            }
            "-c" | "--configuration" => &mut cli.configuration,
            "-s" | "--serverurl" => {
                if let Some(v) = &value {
                    check_url(v, &typed)?;
                }
                if cli.serverurl.is_some() {
                    cli.more_servers.extend(value);
                    continue;
                }
                &mut cli.serverurl
            }
            "-u" | "--username" => &mut cli.username,
            "-p" | "--password" => &mut cli.password,
            "-r" | "--history_file" => &mut cli.history_file,
            _ => {
                if cli.interactive {
                    return Err(UsageError(format!(
                        "conflicting command line option {}",
                        client::py_str_repr(&typed)
                    )));
                }
                cli.interactive = true;
                continue;
            }
        };
        if slot.is_some() {
            return Err(UsageError(format!(
                "conflicting command line option {}",
                client::py_str_repr(&typed)
            )));
        }
        *slot = value;
    }
    Ok(())
}

/// getopt (not gnu_getopt): options stop at the first positional argument or `--`; long
/// options may be abbreviated to a unique prefix.
fn parse_cli(args: &[String]) -> Result<Cli, UsageError> {
    let mut cli = Cli::default();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if a == "--" {
            i += 1;
            break;
        }
        if let Some(long) = a.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            // Our extension is matched in full only, so `--c` stays Python's unique prefix
            // of `--configuration`.
            if name == "color" {
                let value = inline.as_deref().unwrap_or("auto");
                cli.color = Some(Color::parse(value).ok_or_else(|| {
                    UsageError(format!(
                        "invalid value for --color {}: use auto, always or never",
                        client::py_str_repr(value)
                    ))
                })?);
                i += 1;
                continue;
            }
            let exact = LONG.iter().find(|(n, _)| *n == name);
            let matches: Vec<&(&str, bool)> = match exact {
                Some(e) => vec![e],
                None => LONG.iter().filter(|(n, _)| n.starts_with(name)).collect(),
            };
            let (full, takes) = match matches.as_slice() {
                [] => return Err(UsageError(format!("option --{name} not recognized"))),
                [one] => **one,
                _ => return Err(UsageError(format!("option --{name} not a unique prefix"))),
            };
            if takes {
                let value = match inline {
                    Some(v) => v,
                    None => {
                        i += 1;
                        match args.get(i) {
                            Some(v) => v.clone(),
                            None => {
                                return Err(UsageError(format!(
                                    "option --{full} requires argument"
                                )))
                            }
                        }
                    }
                };
                set_opt(&mut cli, full, Some(value));
            } else {
                if inline.is_some() {
                    return Err(UsageError(format!(
                        "option --{full} must not have an argument"
                    )));
                }
                set_opt(&mut cli, full, None);
            }
            i += 1;
            continue;
        }
        if a.len() > 1 && a.starts_with('-') {
            let chars: Vec<char> = a[1..].chars().collect();
            let mut j = 0;
            while j < chars.len() {
                let c = chars[j];
                match short_takes_arg(c) {
                    None => return Err(UsageError(format!("option -{c} not recognized"))),
                    Some(false) => set_opt(&mut cli, &c.to_string(), None),
                    Some(true) => {
                        let rest: String = chars[j + 1..].iter().collect();
                        let value = if !rest.is_empty() {
                            rest
                        } else {
                            i += 1;
                            match args.get(i) {
                                Some(v) => v.clone(),
                                None => {
                                    return Err(UsageError(format!(
                                        "option -{c} requires argument"
                                    )))
                                }
                            }
                        };
                        set_opt(&mut cli, &c.to_string(), Some(value));
                        break;
                    }
                }
                j += 1;
            }
            i += 1;
            continue;
        }
        break;
    }
    cli.args = args[i..].to_vec();
    process_opts(&mut cli)?;
    Ok(cli)
}

/// Python's `datatypes.url`: a scheme and a netloc or path.
fn check_url(value: &str, opt: &str) -> Result<(), UsageError> {
    let ok = match value.split_once("://") {
        Some((scheme, rest)) => {
            !scheme.is_empty()
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
                && !rest.is_empty()
        }
        None => match value.split_once(':') {
            Some((scheme, rest)) => {
                !scheme.is_empty()
                    && scheme
                        .chars()
                        .next()
                        .is_some_and(|c| c.is_ascii_alphabetic())
                    && scheme
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
                    && !rest.is_empty()
            }
            None => false,
        },
    };
    if ok {
        Ok(())
    } else {
        let r = client::py_str_repr(value);
        Err(UsageError(format!(
            "invalid value for {opt} {r}: value {r} is not a URL"
        )))
    }
}

/// The `[supervisorctl]` section of `path`, with `ENV_*` expansion everywhere and
/// `%(here)s` in `serverurl` and `history_file`, as Python's `ClientOptions.read_config`.
#[derive(Debug, Default, PartialEq)]
struct FileSettings {
    serverurl: Option<String>,
    username: Option<String>,
    password: Option<String>,
    prompt: Option<String>,
    history_file: Option<PathBuf>,
    /// `serverurls=`: several servers, separated by whitespace or commas.
    serverurls: Vec<String>,
    /// `color=`: auto, always, never or a boolean.
    color: Option<Color>,
}

fn read_config(path: &Path) -> Result<FileSettings, UsageError> {
    if !path.exists() {
        return Err(UsageError(format!(
            "could not find config file {}",
            path.display()
        )));
    }
    let bytes = std::fs::read(path)
        .map_err(|_| UsageError(format!("could not read config file {}", path.display())))?;
    let text = String::from_utf8_lossy(&bytes);
    let mut ini = Ini::new();
    ini.read_str(&text, path)
        .map_err(|e| UsageError(e.to_string()))?;
    if !ini.has_section("supervisorctl") {
        return Err(UsageError(
            ".ini file does not include supervisorctl section".to_string(),
        ));
    }
    let abs = normalize_path(path);
    let here = abs
        .parent()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let mut env = Expansions::new();
    for (k, v) in std::env::vars_os() {
        env.insert(
            format!("ENV_{}", k.to_string_lossy()),
            ExpVal::Str(v.to_string_lossy().into_owned()),
        );
    }
    let mut with_here = env.clone();
    with_here.insert("here".to_string(), ExpVal::Str(here));
    let get = |opt: &str, exp: &Expansions| -> Result<Option<String>, UsageError> {
        match ini.get("supervisorctl", opt) {
            None => Ok(None),
            Some(v) => expand(&v.text, exp, &format!("supervisorctl.{opt}"))
                .map(Some)
                .map_err(UsageError),
        }
    };
    let serverurl = get("serverurl", &with_here)?.map(|u| match u.strip_prefix("unix://") {
        Some(p) => format!("unix://{}", normalize_path(Path::new(p)).display()),
        None => u,
    });
    let history_file = get("history_file", &with_here)?
        .filter(|h| !h.is_empty())
        .map(|h| normalize_path(Path::new(&expand_user(&h))));
    let serverurls = get("serverurls", &with_here)?
        .map(|v| {
            v.split(|c: char| c.is_whitespace() || c == ',')
                .filter(|u| !u.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let color = match get("color", &env)? {
        None => None,
        Some(v) => Some(Color::parse(&v).ok_or_else(|| {
            UsageError(format!(
                "invalid value for supervisorctl.color {}: use auto, always, never, true or false",
                client::py_str_repr(&v)
            ))
        })?),
    };
    Ok(FileSettings {
        color,
        serverurls,
        serverurl,
        username: get("username", &env)?,
        password: get("password", &env)?,
        prompt: get("prompt", &env)?,
        history_file,
    })
}

/// Resolves the effective options from the command line (without the program name).
/// `Ok(None)` means `-h` was given.
pub fn resolve_options(args: &[String]) -> Result<Option<Options>, UsageError> {
    let cli = parse_cli(args)?;
    if cli.help {
        return Ok(None);
    }
    let config = match &cli.configuration {
        Some(c) => Some(PathBuf::from(expand_user(c))),
        None => crate::config::search_paths()
            .into_iter()
            .find(|p| p.exists()),
    };
    let file = match &config {
        Some(p) => read_config(p)?,
        None => FileSettings::default(),
    };
    let interactive = cli.interactive || cli.args.is_empty();
    let fleet = match (&cli.serverurl, cli.more_servers.is_empty()) {
        (Some(first), false) => std::iter::once(first.clone())
            .chain(cli.more_servers.iter().cloned())
            .collect(),
        (None, _) if file.serverurls.len() > 1 => file.serverurls.clone(),
        _ => Vec::new(),
    };
    let serverurl = cli
        .serverurl
        .clone()
        .or_else(|| file.serverurls.first().cloned());
    Ok(Some(Options {
        color: cli.color.or(file.color).unwrap_or_default(),
        fleet,
        serverurl: serverurl
            .or(file.serverurl)
            .unwrap_or_else(|| "http://localhost:9001".to_string()),
        username: cli.username.or(file.username),
        password: cli.password.or(file.password),
        prompt: file.prompt.unwrap_or_else(|| "supervisor".to_string()),
        history_file: cli
            .history_file
            .map(|h| normalize_path(Path::new(&expand_user(&h))))
            .or(file.history_file),
        interactive,
        args: cli.args,
    }))
}

/// The `-h` text (Python's module docstring with the program name filled in).
pub fn help_text(prog: &str) -> String {
    format!(
        "supervisorctl -- control applications run by supervisord from the cmd line.

Usage: {prog} [options] [action [arguments]]

Options:
-c/--configuration FILENAME -- configuration file path (searches if not given)
-h/--help -- print usage message and exit
-i/--interactive -- start an interactive shell after executing commands
-s/--serverurl URL -- URL on which supervisord server is listening
     (default \"http://localhost:9001\").
-u/--username USERNAME -- username to use for authentication with server
-p/--password PASSWORD -- password to use for authentication with server
-r/--history-file -- keep a readline history (if readline is available)

action [arguments] -- see below

Actions are commands like \"tail\" or \"stop\".  If -i is specified or no action is
specified on the command line, a \"shell\" interpreting actions typed
interactively is started.  Use the action \"help\" to find out about available
actions.
"
    )
}

/// The whole program: returns the exit status.
pub fn main(argv: Vec<String>) -> i32 {
    let prog = argv
        .first()
        .cloned()
        .unwrap_or_else(|| "supervisorctl".to_string());
    let args = argv.get(1..).unwrap_or(&[]).to_vec();
    let options = match resolve_options(&args) {
        Ok(Some(o)) => o,
        Ok(None) => {
            print!("{}", help_text(&prog));
            println!();
            return 0;
        }
        Err(UsageError(msg)) => {
            eprintln!("Error: {msg}");
            eprintln!("For help, use {prog} -h");
            return 2;
        }
    };
    if !options.fleet.is_empty() {
        let words: Vec<&str> = options.args.iter().map(String::as_str).collect();
        return match words.split_first() {
            Some((&"status", rest)) if !options.interactive => fleet::status(&options, rest),
            _ => {
                eprintln!(
                    "Error: with several servers ({}) only `status` is supported",
                    options.fleet.join(", ")
                );
                eprintln!("For help, use {prog} -h");
                2
            }
        };
    }
    let mut ctl = commands::Controller::new(options.clone());
    if !options.args.is_empty() {
        ctl.onecmd(&options.args.join(" "));
        return ctl.exitstatus;
    }
    shell::run(&mut ctl);
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn ctl_getopt_rules() {
        let c = parse_cli(&v(&[
            "-c",
            "f",
            "-sunix:///x",
            "--user=bob",
            "status",
            "-x",
        ]))
        .unwrap();
        assert_eq!(c.configuration.as_deref(), Some("f"));
        assert_eq!(c.serverurl.as_deref(), Some("unix:///x"));
        assert_eq!(c.username.as_deref(), Some("bob"));
        assert_eq!(c.args, v(&["status", "-x"]));
        assert_eq!(
            parse_cli(&v(&["-x"])).unwrap_err(),
            UsageError("option -x not recognized".into())
        );
        assert_eq!(
            parse_cli(&v(&["-c"])).unwrap_err(),
            UsageError("option -c requires argument".into())
        );
        assert!(
            parse_cli(&v(&["--history_file", "h", "-i"]))
                .unwrap()
                .interactive
        );
        assert!(parse_cli(&v(&["-h"])).unwrap().help);
    }

    #[test]
    fn ctl_color_is_opt_in_and_matched_in_full() {
        assert_eq!(parse_cli(&v(&["status"])).unwrap().color, None);
        assert_eq!(
            parse_cli(&v(&["--color", "status"])).unwrap().color,
            Some(Color::Auto)
        );
        assert_eq!(
            parse_cli(&v(&["--color=always"])).unwrap().color,
            Some(Color::Always)
        );
        assert!(parse_cli(&v(&["--color=x"])).is_err());
        // `--c` is still Python's abbreviation of --configuration.
        let c = parse_cli(&v(&["--c", "f", "status"])).unwrap();
        assert_eq!(c.configuration.as_deref(), Some("f"));
        assert_eq!(c.color, None);
        assert!(!Color::Never.enabled());
        assert!(Color::Always.enabled());
    }

    #[test]
    fn ctl_url_check() {
        assert!(check_url("unix:///tmp/x", "-s").is_ok());
        assert!(check_url("http://localhost:9001", "-s").is_ok());
        assert_eq!(
            check_url("foo", "-s").unwrap_err().0,
            "invalid value for -s 'foo': value 'foo' is not a URL"
        );
    }

    #[test]
    fn ctl_reads_supervisorctl_section() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.conf");
        std::fs::write(
            &p,
            "[supervisorctl]\nserverurl=unix://%(here)s/../x/s.sock\nprompt=hey\nusername=u\n",
        )
        .unwrap();
        let f = read_config(&p).unwrap();
        let parent = dir.path().parent().unwrap().display().to_string();
        assert_eq!(f.serverurl, Some(format!("unix://{parent}/x/s.sock")));
        assert_eq!(f.prompt.as_deref(), Some("hey"));
        assert_eq!(f.username.as_deref(), Some("u"));
        std::fs::write(&p, "[supervisord]\n").unwrap();
        assert_eq!(
            read_config(&p).unwrap_err().0,
            ".ini file does not include supervisorctl section"
        );
    }

    #[test]
    fn ctl_reads_the_sample_config() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("supervisord.conf");
        std::fs::write(&p, crate::config::sample::SAMPLE_CONFIG).unwrap();
        let f = read_config(&p).unwrap();
        assert_eq!(f.serverurl.as_deref(), Some("unix:///tmp/supervisor.sock"));
    }

    #[test]
    fn ctl_fleet_from_repeated_s_or_serverurls() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.conf");
        std::fs::write(&p, "[supervisorctl]\nserverurl=http://one:9001\n").unwrap();
        let conf = p.display().to_string();
        let o = resolve_options(&v(&["-c", &conf, "-s", "http://a:1", "status"]))
            .unwrap()
            .unwrap();
        assert_eq!(o.serverurl, "http://a:1");
        assert!(o.fleet.is_empty());
        let o = resolve_options(&v(&[
            "-c",
            &conf,
            "-s",
            "http://a:1",
            "--serverurl=http://b:2",
            "status",
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(o.fleet, v(&["http://a:1", "http://b:2"]));
        std::fs::write(
            &p,
            "[supervisorctl]\nserverurls=http://x:1, http://y:2\n  unix://%(here)s/s.sock\n",
        )
        .unwrap();
        let o = resolve_options(&v(&["-c", &conf, "status"]))
            .unwrap()
            .unwrap();
        let sock = format!("unix://{}/s.sock", dir.path().display());
        assert_eq!(o.fleet, v(&["http://x:1", "http://y:2", &sock]));
        assert_eq!(o.serverurl, "http://x:1");
        // An explicit single -s wins over the list.
        let o = resolve_options(&v(&["-c", &conf, "-s", "http://z:3", "status"]))
            .unwrap()
            .unwrap();
        assert!(o.fleet.is_empty());
        assert_eq!(o.serverurl, "http://z:3");
    }
}
