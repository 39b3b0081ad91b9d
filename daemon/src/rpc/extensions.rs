//! What `supervisor_rs.getProcessInfo` and `supervisor_rs.getAllProcessInfo` add to
//! Supervisor's process info: the extension options of docs/extensions.md and their state.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use supervisor_protocol::xmlrpc::structs::clamp_int;
use supervisor_protocol::xmlrpc::Value;

use crate::config::RlimitResource;
use crate::process::state::Process;

/// UNIX seconds of a monotonic instant (0 for `None`).
fn unix(at: Option<Instant>, now: Instant, wall: SystemTime) -> i32 {
    let Some(at) = at else { return 0 };
    let wall_s = wall
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let secs = if at >= now {
        wall_s + (at - now).as_secs_f64()
    } else {
        wall_s - (now - at).as_secs_f64()
    };
    clamp_int(secs.ceil() as i64)
}

fn int(n: u64) -> Value {
    Value::Int(clamp_int(i64::try_from(n).unwrap_or(i64::MAX)))
}

/// The extra members, appended after Supervisor's own (same names as the config options).
/// `next_start` is the put-off start ([`crate::supervisor::core::Core::scheduled_start`]).
pub fn process_extras(
    p: &Process,
    next_start: Option<Instant>,
    now: Instant,
    wall: SystemTime,
) -> Vec<(String, Value)> {
    let ext = &p.config.ext;
    let retry = ext.retry_fatal;
    let members = [
        ("restart_delay", int(ext.restart_delay)),
        ("backoff_max", int(ext.backoff_max.unwrap_or(0))),
        ("retry_fatal_after", int(retry.map_or(0, |r| r.after))),
        (
            "retry_fatal_limit",
            int(retry.and_then(|r| r.limit).map_or(0, u64::from)),
        ),
        ("fatal_retries", int(u64::from(p.fatal_retries()))),
        ("next_start", Value::Int(unix(next_start, now, wall))),
        ("exit_on_fatal", Value::Boolean(ext.exit_on_fatal)),
        ("essential", Value::Boolean(ext.essential)),
        (
            "environment_files",
            Value::Array(
                ext.environment_files
                    .iter()
                    .map(|f| Value::from(f.display().to_string().as_str()))
                    .collect(),
            ),
        ),
    ];
    let specs = |wait_for: bool| {
        Value::Array(
            ext.dependencies
                .iter()
                .filter(|d| d.states.is_some() == wait_for)
                .map(|d| Value::from(d.spec.as_str()))
                .collect(),
        )
    };
    let dependencies = [
        ("depends_on", specs(false)),
        ("dependent_startup", Value::Boolean(ext.dependent_startup)),
        ("dependent_startup_wait_for", specs(true)),
        (
            "dependent_startup_inherit_priority",
            Value::Boolean(ext.dependent_startup_inherit_priority),
        ),
        (
            "dependency_status",
            Value::from(p.snapshot().dependency_note.unwrap_or_default().as_str()),
        ),
    ];
    let spec = |c: &Option<crate::config::model::HealthCheck>| {
        Value::from(c.as_ref().map_or("", |c| c.spec.as_str()))
    };
    let checks = [
        ("ready_check", spec(&ext.ready_check)),
        ("health_check", spec(&ext.health_check)),
        (
            "health",
            Value::from(if ext.health_check.is_some() {
                p.health().name()
            } else {
                ""
            }),
        ),
        ("check_failures", int(u64::from(p.check_failures()))),
    ];
    let limits = &ext.limits;
    let cg = limits.cgroup.as_ref();
    let rlimits = RlimitResource::ALL.map(|res| {
        let set = limits.rlimits.iter().find(|r| r.resource == res);
        (
            res.option(),
            Value::from(set.map(|r| r.to_string()).unwrap_or_default().as_str()),
        )
    });
    let text = |v: Option<&String>| Value::from(v.map_or("", String::as_str));
    let cgroup_dir = crate::process::cgroup::dir(&p.config)
        .map(|d| d.map_or_else(|e| e, |d| d.display().to_string()))
        .unwrap_or_default();
    let cgroups = [
        ("memory_max", text(cg.and_then(|c| c.memory_max.as_ref()))),
        ("cpu_max", text(cg.and_then(|c| c.cpu_max.as_ref()))),
        ("cgroup", Value::from(cgroup_dir.as_str())),
    ];
    members
        .into_iter()
        .chain(dependencies)
        .chain(checks)
        .chain(rlimits)
        .chain(cgroups)
        .map(|(k, v)| (k.to_string(), v))
        .collect()
}
