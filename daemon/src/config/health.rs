//! `ready_check=` and `health_check=` with their `*_interval`, `*_timeout`, `*_start_delay`,
//! `*_failures` and `*_action` options (docs/extensions.md, "Readiness and liveness checks").

use super::Ctx;
use crate::config::error::ConfigError;
use crate::config::expand::Expansions;
use crate::config::model::{CheckAction, HealthCheck, Probe};
use crate::config::values::{self, py_repr};

/// Which of the two checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Ready,
    Health,
}

impl Kind {
    fn option(self) -> &'static str {
        match self {
            Kind::Ready => "ready_check",
            Kind::Health => "health_check",
        }
    }
}

/// The longest `log:` regex accepted, and the compiled size bound: a config cannot make
/// supervisord build a huge automaton.
const MAX_REGEX_LEN: usize = 1024;
use crate::config::health_limits::REGEX_SIZE_LIMIT;

/// Read one check of a `[program:x]` section (`None` when its option is absent).
pub(super) fn check_options(
    ctx: &Ctx,
    section: &str,
    exp: &Expansions,
    kind: Kind,
) -> Result<Option<HealthCheck>, ConfigError> {
    let opt = kind.option();
    if !section.starts_with("program:") {
        return Ok(None);
    }
    let Some((text, v)) = ctx.get(section, opt, exp)? else {
        for suffix in ["interval", "timeout", "start_delay", "failures", "action"] {
            let name = format!("{opt}_{suffix}");
            if let Some(v) = ctx.ini.get(section, &name) {
                return Err(ctx.err(section, format!("{name} is set but {opt} is not"), Some(v)));
            }
        }
        return Ok(None);
    };
    let spec = text.trim().to_string();
    let probe = parse_probe(&spec, kind).map_err(|e| {
        ctx.err(
            section,
            format!("invalid value for {}: {e}", py_repr(opt)),
            Some(&v),
        )
    })?;
    let status_opt = format!("{opt}_http_status");
    let probe = match probe {
        Probe::Http {
            host, port, path, ..
        } => {
            let status = ctx.typed(section, &status_opt, exp, "200-399", parse_status_range)?;
            Probe::Http {
                host,
                port,
                path,
                status,
            }
        }
        other => {
            if let Some(v) = ctx.ini.get(section, &status_opt) {
                return Err(ctx.err(
                    section,
                    format!("{status_opt} is set but {opt} is not an http:// check"),
                    Some(v),
                ));
            }
            other
        }
    };
    let (interval, timeout, failures, action) = match kind {
        Kind::Ready => ("1", "1", "60", "restart"),
        Kind::Health => ("10", "5", "3", "restart"),
    };
    let seconds = |s: &str| values::parse_int_as::<u32>(s).map(u64::from);
    let positive = |s: &str| {
        seconds(s).and_then(|n| match n {
            0 => Err(format!("{} must be at least 1 (seconds)", py_repr(s))),
            n => Ok(n),
        })
    };
    let interval = ctx.typed(section, &format!("{opt}_interval"), exp, interval, positive)?;
    let timeout = ctx.typed(section, &format!("{opt}_timeout"), exp, timeout, positive)?;
    let start_delay = ctx.typed(section, &format!("{opt}_start_delay"), exp, "0", seconds)?;
    let failures = ctx.typed(
        section,
        &format!("{opt}_failures"),
        exp,
        failures,
        values::parse_int_as::<u32>,
    )?;
    let action = ctx.typed(section, &format!("{opt}_action"), exp, action, |s| match s
        .to_ascii_lowercase()
        .as_str()
    {
        "restart" => Ok(CheckAction::Restart),
        "stop" => Ok(CheckAction::Stop),
        "nothing" | "none" => Ok(CheckAction::Nothing),
        _ => Err(format!("{} is not restart, stop or nothing", py_repr(s))),
    })?;
    Ok(Some(HealthCheck {
        spec,
        probe,
        interval,
        timeout,
        start_delay,
        failures,
        action,
    }))
}

/// `tcp://host:port`, `exec:command`, `log:regex`.
fn parse_probe(spec: &str, kind: Kind) -> Result<Probe, String> {
    if let Some(rest) = spec.strip_prefix("tcp://") {
        let (host, port) = rest
            .rsplit_once(':')
            .ok_or_else(|| format!("{} has no port (tcp://host:port)", py_repr(spec)))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(format!("{} has no host (tcp://host:port)", py_repr(spec)));
        }
        let port = port
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| format!("{} has no valid port (1-65535)", py_repr(spec)))?;
        return Ok(Probe::Tcp {
            host: host.to_string(),
            port,
        });
    }
    if let Some(cmd) = spec.strip_prefix("exec:") {
        let cmd = cmd.trim();
        if cmd.is_empty() {
            return Err("exec: needs a command (exec:/path/to/check args)".to_string());
        }
        return Ok(Probe::Exec(cmd.to_string()));
    }
    if spec == "notify" {
        return Ok(Probe::Notify);
    }
    if spec.starts_with("https://") {
        return Err(
            "https:// is not supported (the daemon carries no TLS stack); use http:// or \
             exec:curl -fsS https://..."
                .to_string(),
        );
    }
    if let Some(rest) = spec.strip_prefix("http://") {
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) if rest[i..].starts_with('/') => (&rest[..i], rest[i..].to_string()),
            Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
            None => (rest, "/".to_string()),
        };
        if authority.contains('@') {
            return Err(format!(
                "{} has credentials; they are not supported",
                py_repr(spec)
            ));
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(':') && !p.contains(']') => (
                h,
                p.parse::<u16>()
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(|| format!("{} has no valid port (1-65535)", py_repr(spec)))?,
            ),
            _ => (authority, 80),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() || path.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!("{} is not a valid http:// URL", py_repr(spec)));
        }
        return Ok(Probe::Http {
            host: host.to_string(),
            port,
            path,
            status: (200, 399),
        });
    }
    if let Some(re) = spec.strip_prefix("log:") {
        if kind == Kind::Health {
            return Err(
                "log: is a readiness check only (use it in ready_check=); a liveness check \
                 needs tcp://, exec: or http://"
                    .to_string(),
            );
        }
        if re.is_empty() || re.len() > MAX_REGEX_LEN {
            return Err(format!(
                "log: needs a regular expression of 1 to {MAX_REGEX_LEN} characters"
            ));
        }
        regex::RegexBuilder::new(re)
            .size_limit(REGEX_SIZE_LIMIT)
            .build()
            .map_err(|e| format!("bad regular expression {}: {e}", py_repr(re)))?;
        return Ok(Probe::Log(re.to_string()));
    }
    Err(format!(
        "{} is not a check (use tcp://host:port, http://host:port/path, exec:command, \
         log:regex or notify)",
        py_repr(spec)
    ))
}

/// `200`, or an inclusive range `200-299` (100-599).
fn parse_status_range(s: &str) -> Result<(u16, u16), String> {
    let code = |t: &str| {
        t.trim()
            .parse::<u16>()
            .ok()
            .filter(|c| (100..=599).contains(c))
            .ok_or_else(|| {
                format!(
                    "{} is not an HTTP status or range (200, 200-299)",
                    py_repr(s)
                )
            })
    };
    match s.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (code(a)?, code(b)?);
            if a > b {
                return Err(format!("{} is an empty range", py_repr(s)));
            }
            Ok((a, b))
        }
        None => code(s).map(|c| (c, c)),
    }
}
