//! The supervisor-rs extension options of `[program:x]` (docs/extensions.md).
//!
//! Python Supervisor 4.3.0 ignores options it does not know in a program section, so a config
//! using these still loads there (with Supervisor's behaviour). Each option is off by default:
//! a stock config gets [`Extensions::default`].

use super::Ctx;
use crate::config::error::ConfigError;
use crate::config::expand::Expansions;
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
    Ok(Extensions {
        restart_delay,
        backoff_max,
        retry_fatal,
        environment_files: Vec::new(),
        exit_on_fatal,
        essential,
    })
}
