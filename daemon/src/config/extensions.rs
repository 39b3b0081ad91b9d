//! The supervisor-rs extension options of `[program:x]` (docs/extensions.md).
//!
//! Python Supervisor 4.3.0 ignores options it does not know in a program section, so a config
//! using these still loads there (with Supervisor's behaviour). Each option is off by default:
//! a stock config gets [`Extensions::default`].

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use super::Ctx;
use crate::config::dotenv;
use crate::config::error::ConfigError;
use crate::config::expand::Expansions;
use crate::config::ini::Ini;
use crate::config::model::{Extensions, RetryFatal};
use crate::config::values::{self, py_repr};

/// Seconds in the extension's time options: a whole number from 0 to 2^32-1.
fn seconds(s: &str) -> Result<u64, String> {
    values::parse_int_as::<u32>(s).map(u64::from)
}

/// Read the extension options of `section` with the expansions of one process.
pub(super) fn process_options(
    ctx: &Ctx,
    section: &str,
    exp: &Expansions,
) -> Result<Extensions, ConfigError> {
    let restart_delay = ctx.typed(section, "restart_delay", exp, "0", seconds)?;
    let backoff_max = ctx.opt_typed(section, "backoff_max", exp, |s| {
        seconds(s).and_then(|n| match n {
            0 => Err(format!("{} must be at least 1 (seconds)", py_repr(s))),
            n => Ok(n),
        })
    })?;
    let after = ctx.typed(section, "retry_fatal_after", exp, "0", seconds)?;
    let limit = ctx.opt_typed(
        section,
        "retry_fatal_limit",
        exp,
        values::parse_int_as::<u32>,
    )?;
    let retry_fatal = match (after, limit) {
        (0, Some(_)) => {
            return Err(ctx.err(
                section,
                "retry_fatal_limit is set but retry_fatal_after is not (set retry_fatal_after \
                 to the seconds to wait in FATAL before each retry)",
                ctx.ini.get(section, "retry_fatal_limit"),
            ))
        }
        (0, None) => None,
        (after, limit) => Some(RetryFatal {
            after,
            limit: limit.filter(|n| *n > 0),
        }),
    };
    let exit_on_fatal = ctx.typed(section, "exit_on_fatal", exp, "false", values::parse_bool)?;
    let essential = ctx.typed(section, "essential", exp, "false", values::parse_bool)?;
    let deps = super::dependencies::process_options(ctx, section, exp)?;
    let ready_check = super::health::check_options(ctx, section, exp, super::health::Kind::Ready)?;
    let health_check =
        super::health::check_options(ctx, section, exp, super::health::Kind::Health)?;
    let child_output = ctx.opt_typed(section, "child_output", exp, child_output)?;
    Ok(Extensions {
        restart_delay,
        backoff_max,
        retry_fatal,
        environment_files: Vec::new(),
        exit_on_fatal,
        essential,
        dependencies: deps.dependencies,
        dependent_startup: deps.dependent_startup,
        dependent_startup_inherit_priority: deps.inherit_priority,
        ready_check,
        health_check,
        child_output,
        limits: super::limits::process_options(ctx, section, exp)?,
    })
}

/// `child_output=stdout|none`: whether child lines are copied to supervisord's stdout.
pub(super) fn child_output(s: &str) -> Result<bool, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "stdout" => Ok(true),
        "none" => Ok(false),
        _ => Err(format!(
            "{} is not a valid child_output (stdout or none)",
            py_repr(s)
        )),
    }
}

/// The largest environment file read (a bound on what a config can make supervisord load).
pub const MAX_ENVIRONMENT_FILE_BYTES: u64 = 1 << 20;

/// The variables read from environment files, and the files.
type EnvFiles = (Vec<(String, String)>, Vec<PathBuf>);

/// `environment_file=`: the variables of the listed files (later files win) and the files'
/// paths. Paths are separated by commas or newlines; a relative path is relative to the
/// directory of the config file that holds the option; a leading `-` makes a missing file
/// silently skipped (any other read error is still an error).
pub(super) fn environment_files(
    ctx: &Ctx,
    section: &str,
    exp: &Expansions,
) -> Result<EnvFiles, ConfigError> {
    const OPT: &str = "environment_file";
    let Some((text, v)) = ctx.get(section, OPT, exp)? else {
        return Ok((Vec::new(), Vec::new()));
    };
    let base = v
        .file
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("/"));
    let mut env = values::EnvBuilder::new();
    let mut paths = Vec::new();
    for entry in text
        .split([',', '\n'])
        .map(str::trim)
        .filter(|e| !e.is_empty())
    {
        let (optional, name) = match entry.strip_prefix('-') {
            Some(rest) => (true, rest.trim_start()),
            None => (false, entry),
        };
        let path = values::normalize_path(&base.join(values::expand_user(name)));
        let fail = |what: String| {
            ctx.err(
                section,
                format!("invalid value for {}: {what}", py_repr(OPT)),
                Some(&v),
            )
        };
        let bytes = match read_bounded(&path) {
            Ok(b) => b,
            Err(e) if optional && e.kind() == io::ErrorKind::NotFound => {
                paths.push(path);
                continue;
            }
            Err(e) => {
                let hint = if e.kind() == io::ErrorKind::NotFound {
                    " (prefix the path with '-' to skip a missing file)"
                } else {
                    ""
                };
                return Err(fail(format!(
                    "cannot read environment file {}: {e}{hint}",
                    path.display()
                )));
            }
        };
        let text = String::from_utf8(bytes).map_err(|_| {
            fail(format!(
                "environment file {} is not valid UTF-8",
                path.display()
            ))
        })?;
        let pairs = dotenv::parse(&text).map_err(|e| {
            fail(format!(
                "environment file {}, line {}: {}",
                path.display(),
                e.line,
                e.message
            ))
        })?;
        env.extend(pairs);
        paths.push(path);
    }
    Ok((env.into_pairs(), paths))
}

/// Read at most [`MAX_ENVIRONMENT_FILE_BYTES`]; a larger file is an error.
fn read_bounded(path: &Path) -> io::Result<Vec<u8>> {
    let file = std::fs::File::open(path)?;
    if file.metadata()?.is_dir() {
        return Err(io::Error::other("is a directory"));
    }
    let mut bytes = Vec::new();
    file.take(MAX_ENVIRONMENT_FILE_BYTES + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_ENVIRONMENT_FILE_BYTES {
        return Err(io::Error::other(format!(
            "larger than {MAX_ENVIRONMENT_FILE_BYTES} bytes"
        )));
    }
    Ok(bytes)
}

/// `[program-default]`: copy each of its options into every `[program:x]` section that does not
/// set it (the value keeps its file and line, so errors point at `[program-default]`).
/// `[eventlistener:x]`, `[fcgi-program:x]` and `[group:x]` do not inherit.
pub(super) fn apply_program_default(ini: &mut Ini) {
    let Some(defaults) = ini.section(PROGRAM_DEFAULT).map(|s| s.options.clone()) else {
        return;
    };
    for section in ini
        .sections_mut()
        .filter(|s| s.name.starts_with("program:"))
    {
        for (opt, value) in &defaults {
            if section.get(opt).is_none() {
                section.options.set(opt.clone(), value.clone());
            }
        }
    }
}

/// The section whose options every `[program:x]` inherits.
pub const PROGRAM_DEFAULT: &str = "program-default";
