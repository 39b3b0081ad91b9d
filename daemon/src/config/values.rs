//! Value types of `supervisord.conf` (upstream-reference §6.4), following `supervisor/datatypes.py` of 4.3.0.
//!
//! Every parser returns `Err(message)` with Supervisor's wording where one exists; callers add
//! the option, section and file.

use std::path::{Path, PathBuf};

/// Python `repr()` of a string, for error messages.
pub use supervisor_protocol::pyrepr::repr_str as py_repr;

/// Python `int(s, base)` for bases 8 and 10: surrounding whitespace, an optional sign,
/// underscores between digits, and (base 8) an optional `0o` prefix.
fn py_int_base(s: &str, base: u32) -> Option<i64> {
    let t = s.trim();
    let (neg, rest) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let rest = if base == 8 {
        rest.strip_prefix("0o")
            .or_else(|| rest.strip_prefix("0O"))
            .map(|r| r.strip_prefix('_').unwrap_or(r))
            .unwrap_or(rest)
    } else {
        rest
    };
    if rest.is_empty() || rest.starts_with('_') || rest.ends_with('_') || rest.contains("__") {
        return None;
    }
    let digits: String = rest.chars().filter(|c| *c != '_').collect();
    if !digits.chars().all(|c| c.is_digit(base)) {
        return None;
    }
    let v = i64::from_str_radix(&digits, base).ok()?;
    Some(if neg { -v } else { v })
}

/// Python `int()`.
pub fn parse_int(s: &str) -> Result<i64, String> {
    py_int_base(s, 10).ok_or_else(|| format!("{} is not an integer", py_repr(s)))
}

/// Python `int()` constrained to an integer type (e.g. `u32`, `i32`).
pub fn parse_int_as<T: TryFrom<i64>>(s: &str) -> Result<T, String> {
    let v = parse_int(s)?;
    T::try_from(v).map_err(|_| format!("{} is out of range", py_repr(s)))
}

/// `true/yes/on/1`, `false/no/off/0` (case-insensitive); anything else is an error.
pub fn parse_bool(s: &str) -> Result<bool, String> {
    match s.to_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Ok(true),
        "false" | "no" | "off" | "0" => Ok(false),
        _ => Err(format!("not a valid boolean value: {}", py_repr(s))),
    }
}

/// Byte size: integer with optional case-insensitive `KB`/`MB`/`GB` suffix (powers of 1024),
/// as Python's `int()` reads the rest (so `5 MB` works). Negative values are accepted,
/// like Supervisor, and returned as they are.
pub fn parse_byte_size_signed(s: &str) -> Result<i64, String> {
    let lower = s.to_lowercase();
    let err = || format!("{} is not a valid byte size", py_repr(s));
    for (suffix, mult) in [("kb", 1i64 << 10), ("mb", 1 << 20), ("gb", 1 << 30)] {
        if let Some(num) = lower.strip_suffix(suffix) {
            let n = py_int_base(num, 10).ok_or_else(err)?;
            return n.checked_mul(mult).ok_or_else(err);
        }
    }
    py_int_base(&lower, 10).ok_or_else(err)
}

/// Byte size as an unsigned count. A negative size is accepted (as Supervisor does) and
/// clamped to 0, which is what a negative size means everywhere Supervisor uses one
/// (rotation and capture are both disabled by a size <= 0). See `docs/compat.md`.
pub fn parse_byte_size(s: &str) -> Result<u64, String> {
    parse_byte_size_signed(s).map(|v| u64::try_from(v).unwrap_or(0))
}

/// Signal names known on Linux (without `SIG`), in number order, plus Python's aliases.
const SIGNALS: &[(&str, i32)] = &[
    ("HUP", libc::SIGHUP),
    ("INT", libc::SIGINT),
    ("QUIT", libc::SIGQUIT),
    ("ILL", libc::SIGILL),
    ("TRAP", libc::SIGTRAP),
    ("ABRT", libc::SIGABRT),
    ("BUS", libc::SIGBUS),
    ("FPE", libc::SIGFPE),
    ("KILL", libc::SIGKILL),
    ("USR1", libc::SIGUSR1),
    ("SEGV", libc::SIGSEGV),
    ("USR2", libc::SIGUSR2),
    ("PIPE", libc::SIGPIPE),
    ("ALRM", libc::SIGALRM),
    ("TERM", libc::SIGTERM),
    ("STKFLT", libc::SIGSTKFLT),
    ("CHLD", libc::SIGCHLD),
    ("CONT", libc::SIGCONT),
    ("STOP", libc::SIGSTOP),
    ("TSTP", libc::SIGTSTP),
    ("TTIN", libc::SIGTTIN),
    ("TTOU", libc::SIGTTOU),
    ("URG", libc::SIGURG),
    ("XCPU", libc::SIGXCPU),
    ("XFSZ", libc::SIGXFSZ),
    ("VTALRM", libc::SIGVTALRM),
    ("PROF", libc::SIGPROF),
    ("WINCH", libc::SIGWINCH),
    ("IO", libc::SIGIO),
    ("PWR", libc::SIGPWR),
    ("SYS", libc::SIGSYS),
    // Aliases accepted by name (Python's signal module has them too).
    ("IOT", libc::SIGABRT),
    ("CLD", libc::SIGCHLD),
    ("POLL", libc::SIGIO),
];

/// Real-time signal bounds (Python's `signal.SIGRTMIN` / `SIGRTMAX`).
fn rt_signals() -> [(&'static str, i32); 2] {
    [("RTMIN", libc::SIGRTMIN()), ("RTMAX", libc::SIGRTMAX())]
}

/// A signal name (with or without `SIG`, case-insensitive, stripped) or number.
pub fn parse_signal(s: &str) -> Result<i32, String> {
    let num = match py_int_base(s, 10) {
        Some(n) => n,
        None => {
            let upper = s.trim().to_uppercase();
            let name = upper.strip_prefix("SIG").unwrap_or(&upper);
            match SIGNALS
                .iter()
                .chain(rt_signals().iter())
                .find(|(n, _)| *n == name)
            {
                Some((_, num)) => return Ok(*num),
                None => return Err(format!("value {} is not a valid signal name", py_repr(s))),
            }
        }
    };
    match i32::try_from(num) {
        Ok(n) if signal_name(n).is_some() => Ok(n),
        _ => Err(format!("value {} is not a valid signal number", py_repr(s))),
    }
}

/// Name of a signal without `SIG` (`TERM`, `KILL`, ...).
pub fn signal_name(sig: i32) -> Option<&'static str> {
    SIGNALS
        .iter()
        .find(|(_, n)| *n == sig)
        .map(|(name, _)| *name)
}

/// Octal (umask, chmod, socket_mode): `022`, `0o22`, `777`.
pub fn parse_octal(s: &str) -> Result<u32, String> {
    py_int_base(s, 8)
        .and_then(|v| u32::try_from(v).ok())
        .ok_or_else(|| format!("{s} can not be converted to an octal type"))
}

/// Comma-separated exit codes 0-255; empty = `[]`.
pub fn parse_exitcodes(s: &str) -> Result<Vec<i32>, String> {
    let err = || format!("not a valid list of exit codes: {}", py_repr(s));
    if s.is_empty() {
        return Ok(Vec::new());
    }
    s.split(',')
        .map(|part| match py_int_base(part, 10) {
            Some(v) if (0..=255).contains(&v) => Ok(v as i32),
            _ => Err(err()),
        })
        .collect()
}

/// Comma-separated strings, each stripped; empty items dropped only when the whole value is
/// empty (Python `list_of_strings`).
pub fn parse_list_of_strings(s: &str) -> Vec<String> {
    if s.is_empty() {
        return Vec::new();
    }
    s.split(',').map(|x| x.trim().to_string()).collect()
}

/// `autorestart`: a boolean or `unexpected` (case-insensitive).
pub fn parse_autorestart(s: &str) -> Result<super::AutoRestart, String> {
    let lower = s.to_lowercase();
    if lower == "unexpected" {
        return Ok(super::AutoRestart::Unexpected);
    }
    match parse_bool(&lower) {
        Ok(true) => Ok(super::AutoRestart::Always),
        Ok(false) => Ok(super::AutoRestart::Never),
        Err(_) => Err(format!("invalid 'autorestart' value {}", py_repr(&lower))),
    }
}

/// `[host:]port`; host lower-cased, `*` or empty = `""` (all interfaces).
pub fn parse_inet_port(s: &str) -> Result<(String, u16), String> {
    let port_number = |p: &str| -> Result<u16, String> {
        match py_int_base(p, 10) {
            Some(v) if (1..=65535).contains(&v) => Ok(v as u16),
            Some(v) if v < 1 => Err(format!("{v} is below lower bound (1)")),
            Some(v) => Err(format!("{v} is above upper bound (65535)")),
            None => Err(format!("not a valid port number: {}", py_repr(p))),
        }
    };
    let (host, port) = match s.rsplit_once(':') {
        Some((host, port)) => {
            if port.is_empty() {
                return Err(format!("no port number specified in {}", py_repr(s)));
            }
            (host.to_lowercase(), port_number(port)?)
        }
        None => (
            String::new(),
            port_number(s).map_err(|_| format!("not a valid port number: {}", py_repr(s)))?,
        ),
    };
    let host = if host == "*" { String::new() } else { host };
    Ok((host, port))
}

/// Program/group/process names: stripped; no space, `:` or `/`.
pub fn process_or_group_name(name: &str) -> Result<String, String> {
    let s = name.trim();
    for c in [' ', ':', '/'] {
        if s.contains(c) {
            return Err(format!(
                "Invalid name: {} because of character: {}",
                py_repr(name),
                py_repr(&c.to_string())
            ));
        }
    }
    Ok(s.to_string())
}

/// A user name or numeric uid that exists in the password database.
pub fn name_to_uid(name: &str) -> Result<u32, String> {
    use nix::unistd::{Uid, User};
    match py_int_base(name, 10) {
        Some(n) => {
            let uid = u32::try_from(n).map_err(|_| format!("Invalid user id {name}"))?;
            match User::from_uid(Uid::from_raw(uid)) {
                Ok(Some(_)) => Ok(uid),
                _ => Err(format!("Invalid user id {name}")),
            }
        }
        None => match User::from_name(name) {
            Ok(Some(u)) => Ok(u.uid.as_raw()),
            _ => Err(format!("Invalid user name {name}")),
        },
    }
}

/// A group name or numeric gid that exists in the group database.
pub fn name_to_gid(name: &str) -> Result<u32, String> {
    use nix::unistd::{Gid, Group};
    match py_int_base(name, 10) {
        Some(n) => {
            let gid = u32::try_from(n).map_err(|_| format!("Invalid group id {name}"))?;
            match Group::from_gid(Gid::from_raw(gid)) {
                Ok(Some(_)) => Ok(gid),
                _ => Err(format!("Invalid group id {name}")),
            }
        }
        None => match Group::from_name(name) {
            Ok(Some(g)) => Ok(g.gid.as_raw()),
            _ => Err(format!("Invalid group name {name}")),
        },
    }
}

/// `user[:group]` resolved to ids.
pub fn parse_user_group(s: &str) -> Result<(u32, Option<u32>), String> {
    let err = |_| format!("Invalid user:group definition {s}");
    match s.split_once(':') {
        None => Ok((name_to_uid(s).map_err(err)?, None)),
        Some((u, g)) => Ok((
            name_to_uid(u).map_err(err)?,
            Some(name_to_gid(g).map_err(err)?),
        )),
    }
}

/// Python `os.path.expanduser`.
pub fn expand_user(s: &str) -> String {
    if !s.starts_with('~') {
        return s.to_string();
    }
    let end = s.find('/').unwrap_or(s.len());
    let (user, rest) = s.split_at(end);
    let home = if user == "~" {
        std::env::var("HOME").ok().or_else(|| {
            nix::unistd::User::from_uid(nix::unistd::getuid())
                .ok()
                .flatten()
                .map(|u| u.dir.to_string_lossy().into_owned())
        })
    } else {
        nix::unistd::User::from_name(&user[1..])
            .ok()
            .flatten()
            .map(|u| u.dir.to_string_lossy().into_owned())
    };
    match home {
        Some(h) => {
            let h = if h.len() > 1 {
                h.trim_end_matches('/')
            } else {
                &h
            };
            format!("{h}{rest}")
        }
        None => s.to_string(),
    }
}

/// Python `os.path.normpath(os.path.abspath(p))`, purely lexical.
pub fn normalize_path(p: &Path) -> PathBuf {
    let joined = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .unwrap_or_else(|_| PathBuf::from("/"))
            .join(p)
    };
    let mut out = PathBuf::from("/");
    for comp in joined.components() {
        match comp {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::Normal(c) => out.push(c),
            _ => {}
        }
    }
    out
}

/// `existing_dirpath`: `~` expanded; the directory part (if any) must exist.
pub fn existing_dirpath(s: &str) -> Result<PathBuf, String> {
    let nv = expand_user(s);
    let path = PathBuf::from(&nv);
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => {
            if dir.is_dir() {
                Ok(path)
            } else {
                Err(format!(
                    "The directory named as part of the path {s} does not exist"
                ))
            }
        }
        _ => Ok(path),
    }
}

/// `existing_directory`: `~` expanded; must be an existing directory.
pub fn existing_directory(s: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(expand_user(s));
    if path.is_dir() {
        Ok(path)
    } else {
        Err(format!("{s} is not an existing directory"))
    }
}

/// Logfile value: `NONE`/`off` => None, `AUTO` => Auto, `syslog` => Syslog, else a path whose
/// directory exists.
pub fn parse_logfile(s: &str) -> Result<super::LogFile, String> {
    match s.to_lowercase().as_str() {
        "none" | "off" => Ok(super::LogFile::None),
        "auto" => Ok(super::LogFile::Auto),
        "syslog" => Ok(super::LogFile::Syslog),
        _ => existing_dirpath(s).map(super::LogFile::Path),
    }
}

// ---------------------------------------------------------------------------------------------
// environment= (Python non-POSIX shlex, 4.3.0 semantics)

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || "/.+-():".contains(c)
}

/// Python `shlex.shlex(s)` (non-POSIX) with `wordchars += '/.+-():'`, iterated to the end.
fn shlex_nonposix(s: &str) -> Result<Vec<String>, String> {
    #[derive(PartialEq)]
    enum St {
        Space,
        Word,
        Quote(char),
    }
    let chars: Vec<char> = s.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    let mut pushback: Option<char> = None;
    let next = |i: &mut usize, pushback: &mut Option<char>| -> Option<char> {
        if let Some(c) = pushback.take() {
            return Some(c);
        }
        let c = chars.get(*i).copied();
        *i += 1;
        c
    };
    loop {
        let mut token = String::new();
        let mut state = St::Space;
        loop {
            let c = next(&mut i, &mut pushback);
            match state {
                St::Space => match c {
                    None => break,
                    Some(c) if " \t\r\n".contains(c) => {
                        if !token.is_empty() {
                            break;
                        }
                    }
                    Some('#') => {
                        // Comment: skip to end of line.
                        while let Some(c) = next(&mut i, &mut pushback) {
                            if c == '\n' {
                                break;
                            }
                        }
                    }
                    Some(c) if is_word_char(c) => {
                        token.push(c);
                        state = St::Word;
                    }
                    Some(c) if c == '\'' || c == '"' => {
                        token.push(c);
                        state = St::Quote(c);
                    }
                    Some(c) => {
                        token.push(c);
                        break;
                    }
                },
                St::Quote(q) => match c {
                    None => return Err("No closing quotation".to_string()),
                    Some(c) if c == q => {
                        token.push(c);
                        break;
                    }
                    Some(c) => token.push(c),
                },
                St::Word => match c {
                    None => break,
                    Some(c) if " \t\r\n".contains(c) => break,
                    Some('#') => {
                        // Non-POSIX: the rest of the line is skipped and the word continues.
                        while let Some(c) = next(&mut i, &mut pushback) {
                            if c == '\n' {
                                break;
                            }
                        }
                    }
                    Some(c) if is_word_char(c) || c == '\'' || c == '"' => token.push(c),
                    Some(c) => {
                        pushback = Some(c);
                        break;
                    }
                },
            }
        }
        if token.is_empty() {
            return Ok(tokens);
        }
        tokens.push(token);
    }
}

/// An environment under construction, as a Python dict: keys in first-seen order, a later
/// value replacing an earlier one in place. Each insert is O(1) (an index by key), so merging
/// environments of any size is linear.
#[derive(Debug, Default)]
pub struct EnvBuilder {
    pairs: Vec<(String, String)>,
    index: std::collections::HashMap<String, usize>,
}

impl EnvBuilder {
    pub fn new() -> Self {
        EnvBuilder::default()
    }

    pub fn set(&mut self, key: String, value: String) {
        match self.index.get(&key) {
            Some(&i) => self.pairs[i].1 = value,
            None => {
                self.index.insert(key.clone(), self.pairs.len());
                self.pairs.push((key, value));
            }
        }
    }

    pub fn extend(&mut self, pairs: impl IntoIterator<Item = (String, String)>) {
        for (k, v) in pairs {
            self.set(k, v);
        }
    }

    pub fn into_pairs(self) -> Vec<(String, String)> {
        self.pairs
    }
}

/// `environment=` of 4.3.0: tokens in groups of four (`KEY`, `=`, `VALUE`, separator); the
/// separator is skipped unchecked; values have surrounding quote characters stripped.
/// Later duplicates replace the earlier value in place (Python dict semantics).
pub fn parse_environment(s: &str) -> Result<Vec<(String, String)>, String> {
    let err = || format!("Unexpected end of key/value pairs in value '{s}'");
    let tokens = shlex_nonposix(s).map_err(|_| err())?;
    let mut out = EnvBuilder::new();
    let mut i = 0;
    while i < tokens.len() {
        if i + 3 > tokens.len() || tokens[i + 1] != "=" {
            return Err(err());
        }
        let key = tokens[i].clone();
        let value = tokens[i + 2]
            .trim_matches(|c| c == '\'' || c == '"')
            .to_string();
        out.set(key, value);
        i += 4;
    }
    Ok(out.into_pairs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{AutoRestart, LogFile};

    fn env(s: &str) -> Vec<(String, String)> {
        parse_environment(s).unwrap()
    }
    fn kv(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn booleans() {
        for t in ["true", "TRUE", "Yes", "on", "1"] {
            assert_eq!(parse_bool(t), Ok(true), "{t}");
        }
        for f in ["false", "No", "OFF", "0"] {
            assert_eq!(parse_bool(f), Ok(false), "{f}");
        }
        assert_eq!(
            parse_bool("maybe").unwrap_err(),
            "not a valid boolean value: 'maybe'"
        );
        assert!(parse_bool("").is_err());
        assert!(parse_bool("2").is_err());
    }

    #[test]
    fn integers_like_python_int() {
        assert_eq!(parse_int(" 42 "), Ok(42));
        assert_eq!(parse_int("-3"), Ok(-3));
        assert_eq!(parse_int("+3"), Ok(3));
        assert_eq!(parse_int("1_000"), Ok(1000));
        assert_eq!(parse_int("0"), Ok(0));
        assert_eq!(parse_int("abc").unwrap_err(), "'abc' is not an integer");
        assert!(parse_int("1.5").is_err());
        assert!(parse_int("").is_err());
        assert!(parse_int("1__0").is_err());
        assert_eq!(parse_int("010"), Ok(10));
        assert_eq!(
            parse_int_as::<u32>("-1").unwrap_err(),
            "'-1' is out of range"
        );
    }

    #[test]
    fn byte_sizes() {
        assert_eq!(parse_byte_size("1024"), Ok(1024));
        assert_eq!(parse_byte_size("1KB"), Ok(1024));
        assert_eq!(parse_byte_size("1kb"), Ok(1024));
        assert_eq!(parse_byte_size("50MB"), Ok(50 * 1024 * 1024));
        assert_eq!(parse_byte_size("5 MB"), Ok(5 * 1024 * 1024));
        assert_eq!(parse_byte_size("2Gb"), Ok(2 * 1024 * 1024 * 1024));
        assert_eq!(parse_byte_size("0"), Ok(0));
        assert_eq!(parse_byte_size_signed("-1KB"), Ok(-1024));
        assert_eq!(parse_byte_size("-5"), Ok(0));
        assert!(parse_byte_size("1B").is_err());
        assert!(parse_byte_size("1.5MB").is_err());
        assert!(parse_byte_size("MB").is_err());
        assert_eq!(
            parse_byte_size("x").unwrap_err(),
            "'x' is not a valid byte size"
        );
    }

    #[test]
    fn signals() {
        assert_eq!(parse_signal("TERM"), Ok(15));
        assert_eq!(parse_signal("sigkill"), Ok(9));
        assert_eq!(parse_signal(" int "), Ok(2));
        assert_eq!(parse_signal("SIGHUP"), Ok(1));
        assert_eq!(parse_signal("usr2"), Ok(12));
        assert_eq!(parse_signal("9"), Ok(9));
        assert_eq!(parse_signal("iot"), Ok(6));
        assert_eq!(
            parse_signal("FOO").unwrap_err(),
            "value 'FOO' is not a valid signal name"
        );
        assert_eq!(
            parse_signal("999").unwrap_err(),
            "value '999' is not a valid signal number"
        );
        assert!(parse_signal("0").is_err());
        assert_eq!(signal_name(15), Some("TERM"));
        assert_eq!(signal_name(9), Some("KILL"));
        assert_eq!(signal_name(6), Some("ABRT"));
        assert_eq!(signal_name(17), Some("CHLD"));
        assert_eq!(signal_name(0), None);
        assert_eq!(parse_signal("SIGRTMIN"), Ok(libc::SIGRTMIN()));
        assert_eq!(parse_signal("rtmax"), Ok(libc::SIGRTMAX()));
    }

    #[test]
    fn octal() {
        assert_eq!(parse_octal("022"), Ok(0o22));
        assert_eq!(parse_octal("0o22"), Ok(0o22));
        assert_eq!(parse_octal("777"), Ok(0o777));
        assert_eq!(parse_octal("0"), Ok(0));
        assert_eq!(
            parse_octal("8").unwrap_err(),
            "8 can not be converted to an octal type"
        );
        assert!(parse_octal("-1").is_err());
        assert!(parse_octal("").is_err());
    }

    #[test]
    fn exitcodes() {
        assert_eq!(parse_exitcodes("0"), Ok(vec![0]));
        assert_eq!(parse_exitcodes("0, 2 ,255"), Ok(vec![0, 2, 255]));
        assert_eq!(parse_exitcodes(""), Ok(vec![]));
        assert_eq!(
            parse_exitcodes("256").unwrap_err(),
            "not a valid list of exit codes: '256'"
        );
        assert!(parse_exitcodes("-1").is_err());
        assert!(parse_exitcodes("0,").is_err());
        assert!(parse_exitcodes("a").is_err());
    }

    #[test]
    fn autorestart_values() {
        assert_eq!(parse_autorestart("unexpected"), Ok(AutoRestart::Unexpected));
        assert_eq!(parse_autorestart("UNEXPECTED"), Ok(AutoRestart::Unexpected));
        assert_eq!(parse_autorestart("true"), Ok(AutoRestart::Always));
        assert_eq!(parse_autorestart("off"), Ok(AutoRestart::Never));
        assert_eq!(
            parse_autorestart("Sometimes").unwrap_err(),
            "invalid 'autorestart' value 'sometimes'"
        );
    }

    #[test]
    fn inet_ports() {
        assert_eq!(parse_inet_port("9001"), Ok((String::new(), 9001)));
        assert_eq!(parse_inet_port("*:9001"), Ok((String::new(), 9001)));
        assert_eq!(parse_inet_port(":9001"), Ok((String::new(), 9001)));
        assert_eq!(
            parse_inet_port("LocalHost:80"),
            Ok(("localhost".to_string(), 80))
        );
        assert_eq!(
            parse_inet_port("::1:80"),
            Ok(("::1".to_string(), 80)),
            "rsplit on the last colon"
        );
        assert!(parse_inet_port("host:").is_err());
        assert_eq!(
            parse_inet_port("h:0").unwrap_err(),
            "0 is below lower bound (1)"
        );
        assert_eq!(
            parse_inet_port("h:65536").unwrap_err(),
            "65536 is above upper bound (65535)"
        );
        assert_eq!(
            parse_inet_port("65536").unwrap_err(),
            "not a valid port number: '65536'"
        );
        assert!(parse_inet_port("abc").is_err());
    }

    #[test]
    fn names() {
        assert_eq!(process_or_group_name(" web "), Ok("web".to_string()));
        assert_eq!(
            process_or_group_name("a b").unwrap_err(),
            "Invalid name: 'a b' because of character: ' '"
        );
        assert_eq!(
            process_or_group_name("a:b").unwrap_err(),
            "Invalid name: 'a:b' because of character: ':'"
        );
        assert_eq!(
            process_or_group_name("a/b").unwrap_err(),
            "Invalid name: 'a/b' because of character: '/'"
        );
    }

    #[test]
    fn strings_lists_repr() {
        assert_eq!(parse_list_of_strings("a, b ,c"), vec!["a", "b", "c"]);
        assert!(parse_list_of_strings("").is_empty());
        assert_eq!(py_repr("it's"), "\"it's\"");
        assert_eq!(py_repr("a\nb"), "'a\\nb'");
    }

    #[test]
    fn users_and_groups() {
        assert_eq!(name_to_uid("root"), Ok(0));
        assert_eq!(name_to_uid("0"), Ok(0));
        assert_eq!(
            name_to_uid("no-such-user-xyz").unwrap_err(),
            "Invalid user name no-such-user-xyz"
        );
        assert_eq!(parse_user_group("root"), Ok((0, None)));
        assert_eq!(parse_user_group("0:0"), Ok((0, Some(0))));
        assert_eq!(
            parse_user_group("root:nogroupxyz").unwrap_err(),
            "Invalid user:group definition root:nogroupxyz"
        );
    }

    #[test]
    fn paths_and_logfiles() {
        assert_eq!(parse_logfile("NONE"), Ok(LogFile::None));
        assert_eq!(parse_logfile("off"), Ok(LogFile::None));
        assert_eq!(parse_logfile("Auto"), Ok(LogFile::Auto));
        assert_eq!(parse_logfile("syslog"), Ok(LogFile::Syslog));
        assert_eq!(
            parse_logfile("/tmp/x.log"),
            Ok(LogFile::Path(PathBuf::from("/tmp/x.log")))
        );
        assert_eq!(
            parse_logfile("rel.log"),
            Ok(LogFile::Path(PathBuf::from("rel.log")))
        );
        assert_eq!(
            parse_logfile("/nonexistent-dir-xyz/x.log").unwrap_err(),
            "The directory named as part of the path /nonexistent-dir-xyz/x.log does not exist"
        );
        assert!(existing_directory("/tmp").is_ok());
        assert_eq!(
            existing_directory("/nonexistent-dir-xyz").unwrap_err(),
            "/nonexistent-dir-xyz is not an existing directory"
        );
        assert_eq!(
            normalize_path(Path::new("/a/./b/../c//d")),
            PathBuf::from("/a/c/d")
        );
        assert!(normalize_path(Path::new("rel")).is_absolute());
        if let Ok(home) = std::env::var("HOME") {
            assert_eq!(
                expand_user("~/x"),
                format!("{}/x", home.trim_end_matches('/'))
            );
        }
        assert_eq!(expand_user("a~b"), "a~b");
    }

    #[test]
    fn environment_spec_examples() {
        assert_eq!(env("A=1,B=2"), kv(&[("A", "1"), ("B", "2")]));
        assert_eq!(env("A=1;B=2"), kv(&[("A", "1"), ("B", "2")]));
        assert_eq!(env("A=a b"), kv(&[("A", "a")]));
        assert_eq!(env("A=$HOME"), kv(&[("A", "$")]));
        assert_eq!(
            parse_environment("A=foo@bar").unwrap_err(),
            "Unexpected end of key/value pairs in value 'A=foo@bar'"
        );
        assert!(parse_environment("A=").is_err());
        assert!(parse_environment("A=x=y").is_err());
        assert_eq!(env("A=1,"), kv(&[("A", "1")]));
        assert_eq!(env("A=\"x,y\",B='z'"), kv(&[("A", "x,y"), ("B", "z")]));
        assert_eq!(env("A=\"\""), kv(&[("A", "")]));
    }

    #[test]
    fn environment_more() {
        assert_eq!(env(""), kv(&[]));
        assert_eq!(env("PATH=/usr/bin:/bin"), kv(&[("PATH", "/usr/bin:/bin")]));
        assert_eq!(env("A=x.y-z+(1)"), kv(&[("A", "x.y-z+(1)")]));
        assert_eq!(env("A=1,A=2"), kv(&[("A", "2")]));
        assert_eq!(env("B=1,A=2,B=3"), kv(&[("B", "3"), ("A", "2")]));
        assert_eq!(env("A = 1 , B = 2"), kv(&[("A", "1"), ("B", "2")]));
        // No escape processing inside quotes; quote characters stripped from both ends.
        assert_eq!(env("A='a\\b'"), kv(&[("A", "a\\b")]));
        assert_eq!(env("A=\"'x'\""), kv(&[("A", "x")]));
        // Quotes inside a word stay part of it (then stripped only at the ends).
        assert_eq!(env("A=x\"y"), kv(&[("A", "x\"y")]));
        // Comment character ends the line.
        assert_eq!(env("A=1 #,B=2"), kv(&[("A", "1")]));
        assert!(parse_environment("A='unterminated").is_err());
        assert!(parse_environment("=1").is_err());
        // Multi-line values (continuation lines) are plain whitespace.
        assert_eq!(env("A=1,\nB=2"), kv(&[("A", "1"), ("B", "2")]));
    }
}
