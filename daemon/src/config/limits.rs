//! `rlimit_nofile=`, `rlimit_nproc=`, `rlimit_core=`, `rlimit_as=` and the cgroup v2 options
//! `cgroup=`, `cgroup_parent=`, `memory_max=`, `cpu_max=` of `[program:x]` (an extension,
//! docs/extensions.md "Limits"). Only the values are read here; the child applies them
//! (`process::limits`).

use std::path::PathBuf;

use super::Ctx;
use crate::config::error::ConfigError;
use crate::config::expand::Expansions;
use crate::config::model::{CgroupLimits, Limits, Rlimit, RlimitResource};
use crate::config::values::{self, py_repr};

/// The cgroup v2 default period of `cpu.max` (microseconds).
pub const CPU_PERIOD_US: u64 = 100_000;

/// The smallest `cpu.max` quota and period the kernel accepts (microseconds).
const CPU_MIN_US: u64 = 1_000;

/// The largest `cpu.max` period the kernel accepts (microseconds).
const CPU_MAX_PERIOD_US: u64 = 1_000_000;

pub(super) fn process_options(
    ctx: &Ctx,
    section: &str,
    exp: &Expansions,
) -> Result<Limits, ConfigError> {
    let mut rlimits = Vec::new();
    for resource in RlimitResource::ALL {
        if let Some(limit) = ctx.opt_typed(section, resource.option(), exp, |s| {
            parse_rlimit(resource, s)
        })? {
            rlimits.push(limit);
        }
    }
    let enabled = ctx.typed(section, "cgroup", exp, "false", values::parse_bool)?;
    let memory_max = ctx.opt_typed(section, "memory_max", exp, parse_memory_max)?;
    let cpu_max = ctx.opt_typed(section, "cpu_max", exp, parse_cpu_max)?;
    let parent = ctx.opt_typed(section, "cgroup_parent", exp, |s| {
        let p = PathBuf::from(s.trim());
        if p.is_absolute() {
            Ok(values::normalize_path(&p))
        } else {
            Err(format!(
                "{} is not an absolute path (the directory of a cgroup in the cgroup2 file \
                 system, such as /sys/fs/cgroup/supervisor.slice)",
                py_repr(s)
            ))
        }
    })?;
    let cgroup = (enabled || memory_max.is_some() || cpu_max.is_some()).then_some(CgroupLimits {
        parent,
        memory_max,
        cpu_max,
    });
    Ok(Limits { rlimits, cgroup })
}

/// One side of an rlimit: a number (a byte size for `rlimit_core`/`rlimit_as`), or
/// `infinity`/`unlimited` (`None`).
fn rlimit_side(resource: RlimitResource, s: &str) -> Result<Option<u64>, String> {
    let t = s.trim();
    if t.eq_ignore_ascii_case("infinity") || t.eq_ignore_ascii_case("unlimited") {
        return Ok(None);
    }
    let n = if resource.is_bytes() {
        values::parse_byte_size_signed(t)?
    } else {
        values::parse_int(t)?
    };
    match u64::try_from(n) {
        // RLIM_INFINITY is the all-ones value: a number that large is `infinity`.
        Ok(n) => Ok(Some(n)),
        Err(_) => Err(format!("{} is negative", py_repr(t))),
    }
}

/// `N` (soft and hard), `soft:hard`; each side a number or `infinity`/`unlimited`.
pub fn parse_rlimit(resource: RlimitResource, s: &str) -> Result<Rlimit, String> {
    let (soft, hard) = match s.split_once(':') {
        Some((soft, hard)) => (rlimit_side(resource, soft)?, rlimit_side(resource, hard)?),
        None => {
            let v = rlimit_side(resource, s)?;
            (v, v)
        }
    };
    if let (Some(soft), hard) = (soft, hard) {
        if hard.is_some_and(|h| soft > h) {
            return Err(format!(
                "{}: the soft limit {soft} is above the hard limit {}",
                py_repr(s),
                hard.unwrap_or_default()
            ));
        }
    }
    if soft.is_none() && hard.is_some() {
        return Err(format!(
            "{}: the soft limit infinity is above the hard limit {}",
            py_repr(s),
            hard.unwrap_or_default()
        ));
    }
    Ok(Rlimit {
        resource,
        soft,
        hard,
    })
}

fn is_max(t: &str) -> bool {
    ["max", "infinity", "unlimited"]
        .iter()
        .any(|m| t.eq_ignore_ascii_case(m))
}

/// `memory_max=`: a byte size (`KB`/`MB`/`GB`) or `max`/`infinity`; the text for `memory.max`.
pub fn parse_memory_max(s: &str) -> Result<String, String> {
    let t = s.trim();
    if is_max(t) {
        return Ok("max".to_string());
    }
    match values::parse_byte_size_signed(t)? {
        n if n > 0 => Ok(n.to_string()),
        _ => Err(format!(
            "{} must be a positive byte size or 'max'",
            py_repr(s)
        )),
    }
}

/// `cpu_max=`: `50%` (of one CPU; `200%` is two), `QUOTA PERIOD` or `QUOTA` in microseconds
/// as cgroup's `cpu.max`, or `max`. The text for `cpu.max`.
pub fn parse_cpu_max(s: &str) -> Result<String, String> {
    let t = s.trim();
    let bad = |why: &str| format!("{} is not a valid CPU limit: {why}", py_repr(s));
    if is_max(t) {
        return Ok(format!("max {CPU_PERIOD_US}"));
    }
    if let Some(pct) = t.strip_suffix('%') {
        let p: f64 = pct
            .trim()
            .parse()
            .map_err(|_| bad("expected a percentage such as 50% (of one CPU)"))?;
        if !p.is_finite() || p <= 0.0 || p > 1_000_000.0 {
            return Err(bad("the percentage must be above 0 (and at most 1000000)"));
        }
        let quota = (p / 100.0 * CPU_PERIOD_US as f64).round() as u64;
        if quota < CPU_MIN_US {
            return Err(bad(
                "the smallest limit is 1% (1000 microseconds per 100000)",
            ));
        }
        return Ok(format!("{quota} {CPU_PERIOD_US}"));
    }
    let mut parts = t.split_whitespace();
    let (quota, period) = (parts.next(), parts.next());
    if parts.next().is_some() {
        return Err(bad(
            "expected 'QUOTA PERIOD' (microseconds), a percentage or 'max'",
        ));
    }
    let micros = |v: &str| -> Result<u64, String> {
        values::parse_int_as::<u64>(v).map_err(|_| {
            bad("expected 'QUOTA PERIOD' (microseconds), a percentage such as 50%, or 'max'")
        })
    };
    let period = match period {
        Some(p) => micros(p)?,
        None => CPU_PERIOD_US,
    };
    if !(CPU_MIN_US..=CPU_MAX_PERIOD_US).contains(&period) {
        return Err(bad("the period must be 1000 to 1000000 microseconds"));
    }
    let quota = match quota {
        Some(q) if is_max(q) => "max".to_string(),
        Some(q) => match micros(q)? {
            q if q >= CPU_MIN_US => q.to_string(),
            _ => return Err(bad("the quota must be at least 1000 microseconds")),
        },
        None => return Err(bad("empty")),
    };
    Ok(format!("{quota} {period}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rl(resource: RlimitResource, s: &str) -> (Option<u64>, Option<u64>) {
        let r = parse_rlimit(resource, s).unwrap_or_else(|e| panic!("{s}: {e}"));
        (r.soft, r.hard)
    }

    #[test]
    fn rlimit_values() {
        use RlimitResource::*;
        assert_eq!(rl(Nofile, "4096"), (Some(4096), Some(4096)));
        assert_eq!(rl(Nofile, "1024:4096"), (Some(1024), Some(4096)));
        assert_eq!(rl(Nofile, " 1024 : infinity "), (Some(1024), None));
        assert_eq!(rl(Nproc, "unlimited"), (None, None));
        assert_eq!(rl(Nproc, "Infinity:unlimited"), (None, None));
        assert_eq!(rl(Core, "0"), (Some(0), Some(0)));
        assert_eq!(rl(Core, "1MB:1GB"), (Some(1 << 20), Some(1 << 30)));
        assert_eq!(rl(As, "512mb"), (Some(512 << 20), Some(512 << 20)));
        assert_eq!(
            parse_rlimit(Nofile, "1024:4096").map(|r| r.to_string()),
            Ok("1024:4096".into())
        );
        assert_eq!(
            parse_rlimit(As, "1KB:unlimited").map(|r| r.to_string()),
            Ok("1024:infinity".into())
        );
    }

    #[test]
    fn rlimit_errors() {
        use RlimitResource::*;
        for (res, bad, want) in [
            (Nofile, "4096:1024", "above the hard limit 1024"),
            (Nofile, "infinity:10", "soft limit infinity is above"),
            (Nofile, "-1", "negative"),
            (Nofile, "lots", "'lots'"),
            (Nofile, "1MB", "'1MB'"),
            (Core, "5XB", "not a valid byte size"),
            (As, "1:2:3", "'2:3'"),
        ] {
            let e = parse_rlimit(res, bad).expect_err(bad);
            assert!(e.contains(want), "{bad}: {e}");
        }
    }

    #[test]
    fn memory_values() {
        assert_eq!(parse_memory_max("512MB").as_deref(), Ok("536870912"));
        assert_eq!(parse_memory_max("4096").as_deref(), Ok("4096"));
        assert_eq!(parse_memory_max("MAX").as_deref(), Ok("max"));
        assert_eq!(parse_memory_max("infinity").as_deref(), Ok("max"));
        assert!(parse_memory_max("0").is_err());
        assert!(parse_memory_max("-5").is_err());
        assert!(parse_memory_max("big").is_err());
    }

    #[test]
    fn cpu_values() {
        assert_eq!(parse_cpu_max("50%").as_deref(), Ok("50000 100000"));
        assert_eq!(parse_cpu_max("150%").as_deref(), Ok("150000 100000"));
        assert_eq!(parse_cpu_max("2.5%").as_deref(), Ok("2500 100000"));
        assert_eq!(parse_cpu_max("max").as_deref(), Ok("max 100000"));
        assert_eq!(parse_cpu_max("20000 50000").as_deref(), Ok("20000 50000"));
        assert_eq!(parse_cpu_max("20000").as_deref(), Ok("20000 100000"));
        assert_eq!(parse_cpu_max("max 50000").as_deref(), Ok("max 50000"));
        for bad in [
            "0%",
            "0.5%",
            "-3%",
            "x%",
            "100",
            "1000 100",
            "1000 2000000",
            "a b",
            "1 2 3",
            "",
            "NaN%",
        ] {
            assert!(parse_cpu_max(bad).is_err(), "{bad}");
        }
    }
}
