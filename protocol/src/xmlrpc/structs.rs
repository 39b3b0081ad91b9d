//! Typed views of the structs Supervisor's API returns (upstream-reference §4.4-4.7).
//!
//! The server builds these and turns them into [`Value`]s with members in Supervisor's own
//! dict order; clients read them back with [`RpcStruct::from_value`], which ignores members it
//! does not know (so a newer server's extra fields do not break an older client) and reports
//! a missing or mistyped member by name.

use std::fmt;

use super::faults::{Fault, FaultCode};
use super::value::Value;
use crate::states::{ProcessState, SupervisorState};

/// A struct member that is missing or of the wrong type; `path` is like `pid` or `[2].pid`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StructError {
    pub path: String,
    pub problem: String,
}

impl fmt::Display for StructError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.problem)
        } else {
            write!(f, "{}: {}", self.path, self.problem)
        }
    }
}

impl std::error::Error for StructError {}

/// Conversion between a typed struct and its XML-RPC [`Value`].
pub trait RpcStruct: Sized {
    fn to_value(&self) -> Value;
    fn from_value(value: &Value) -> Result<Self, StructError>;

    /// Reads an array of these (e.g. `getAllProcessInfo`); errors carry the index.
    fn list_from_value(value: &Value) -> Result<Vec<Self>, StructError> {
        let items = value.as_array().ok_or_else(|| StructError {
            path: String::new(),
            problem: format!("expected an array, found {}", value.type_name()),
        })?;
        items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                Self::from_value(item).map_err(|e| StructError {
                    path: if e.path.is_empty() {
                        format!("[{i}]")
                    } else {
                        format!("[{i}].{}", e.path)
                    },
                    problem: e.problem,
                })
            })
            .collect()
    }

    /// Writes an array of these.
    fn list_to_value(items: &[Self]) -> Value {
        Value::Array(items.iter().map(Self::to_value).collect())
    }
}

/// Clamps a wide integer (a UNIX timestamp, a byte count) into XML-RPC's 32-bit int, as
/// Supervisor does for times it reports.
pub fn clamp_int(v: i64) -> i32 {
    v.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
}

/// Typed member access with errors naming the member.
struct Fields<'a>(&'a Value);

impl<'a> Fields<'a> {
    fn new(value: &'a Value) -> Result<Self, StructError> {
        match value {
            Value::Struct(_) => Ok(Fields(value)),
            other => Err(StructError {
                path: String::new(),
                problem: format!("expected a struct, found {}", other.type_name()),
            }),
        }
    }

    fn get(&self, key: &str) -> Result<&'a Value, StructError> {
        self.0.get(key).ok_or_else(|| StructError {
            path: key.to_owned(),
            problem: "missing".to_owned(),
        })
    }

    fn wrong(key: &str, expected: &str, found: &Value) -> StructError {
        StructError {
            path: key.to_owned(),
            problem: format!("expected {expected}, found {}", found.type_name()),
        }
    }

    fn string(&self, key: &str) -> Result<String, StructError> {
        let v = self.get(key)?;
        v.as_str()
            .map(str::to_owned)
            .ok_or_else(|| Self::wrong(key, "string", v))
    }

    fn int(&self, key: &str) -> Result<i32, StructError> {
        let v = self.get(key)?;
        v.as_i32().ok_or_else(|| Self::wrong(key, "int", v))
    }

    fn boolean(&self, key: &str) -> Result<bool, StructError> {
        let v = self.get(key)?;
        v.as_bool().ok_or_else(|| Self::wrong(key, "boolean", v))
    }

    /// An int, or the string `none` (Supervisor's rendering of Python `None`).
    fn int_or_none(&self, key: &str) -> Result<Option<i32>, StructError> {
        match self.get(key)? {
            Value::Int(i) => Ok(Some(*i)),
            Value::String(s) if s == "none" => Ok(None),
            other => Err(Self::wrong(key, "int or 'none'", other)),
        }
    }

    fn int_list(&self, key: &str) -> Result<Vec<i32>, StructError> {
        let v = self.get(key)?;
        let items = v
            .as_array()
            .ok_or_else(|| Self::wrong(key, "array of int", v))?;
        items
            .iter()
            .map(|i| {
                i.as_i32()
                    .ok_or_else(|| Self::wrong(key, "array of int", i))
            })
            .collect()
    }
}

/// `supervisor.getState()`: `{statecode, statename}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateInfo {
    pub statecode: i32,
    pub statename: String,
}

impl From<SupervisorState> for StateInfo {
    fn from(s: SupervisorState) -> StateInfo {
        StateInfo {
            statecode: s.code(),
            statename: s.name().to_owned(),
        }
    }
}

impl RpcStruct for StateInfo {
    fn to_value(&self) -> Value {
        Value::new_struct([
            ("statecode", Value::Int(self.statecode)),
            ("statename", Value::from(&self.statename)),
        ])
    }

    fn from_value(value: &Value) -> Result<Self, StructError> {
        let f = Fields::new(value)?;
        Ok(StateInfo {
            statecode: f.int("statecode")?,
            statename: f.string("statename")?,
        })
    }
}

/// `supervisor.getProcessInfo(name)` (upstream-reference §4.6); `to_value` writes members in Supervisor's
/// wire order (`description` last).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessInfo {
    pub name: String,
    pub group: String,
    pub description: String,
    /// Last start time (UNIX seconds), 0 if never started.
    pub start: i32,
    /// Last stop time, 0 if never stopped.
    pub stop: i32,
    /// Server time when the struct was made.
    pub now: i32,
    /// Process state code; see [`ProcessInfo::process_state`].
    pub state: i32,
    pub statename: String,
    /// `''` when there is no spawn error.
    pub spawnerr: String,
    pub exitstatus: i32,
    /// Same as `stdout_logfile` (kept for old clients).
    pub logfile: String,
    pub stdout_logfile: String,
    pub stderr_logfile: String,
    /// 0 when not running.
    pub pid: i32,
}

impl ProcessInfo {
    /// The typed state, if the code is one Supervisor defines.
    pub fn process_state(&self) -> Option<ProcessState> {
        ProcessState::from_code(self.state)
    }

    /// `group:name`, or `name` when they are equal (Supervisor's `make_namespec`).
    pub fn namespec(&self) -> String {
        crate::names::namespec(&self.group, &self.name)
    }
}

impl RpcStruct for ProcessInfo {
    fn to_value(&self) -> Value {
        Value::new_struct([
            ("name", Value::from(&self.name)),
            ("group", Value::from(&self.group)),
            ("start", Value::Int(self.start)),
            ("stop", Value::Int(self.stop)),
            ("now", Value::Int(self.now)),
            ("state", Value::Int(self.state)),
            ("statename", Value::from(&self.statename)),
            ("spawnerr", Value::from(&self.spawnerr)),
            ("exitstatus", Value::Int(self.exitstatus)),
            ("logfile", Value::from(&self.logfile)),
            ("stdout_logfile", Value::from(&self.stdout_logfile)),
            ("stderr_logfile", Value::from(&self.stderr_logfile)),
            ("pid", Value::Int(self.pid)),
            // Supervisor adds the description last (it is computed from the other members).
            ("description", Value::from(&self.description)),
        ])
    }

    fn from_value(value: &Value) -> Result<Self, StructError> {
        let f = Fields::new(value)?;
        Ok(ProcessInfo {
            name: f.string("name")?,
            group: f.string("group")?,
            description: f.string("description")?,
            start: f.int("start")?,
            stop: f.int("stop")?,
            now: f.int("now")?,
            state: f.int("state")?,
            statename: f.string("statename")?,
            spawnerr: f.string("spawnerr")?,
            exitstatus: f.int("exitstatus")?,
            logfile: f.string("logfile")?,
            stdout_logfile: f.string("stdout_logfile")?,
            stderr_logfile: f.string("stderr_logfile")?,
            pid: f.int("pid")?,
        })
    }
}

/// One entry of `supervisor.getAllConfigInfo()` (upstream-reference §4.7), members in Supervisor's order.
///
/// String fields carry what Supervisor sends: a path, or `auto` / `none` for `AUTO` / `None`.
/// `uid` is the only int that can be `none`, so it is an `Option`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigInfo {
    pub autostart: bool,
    pub directory: String,
    pub uid: Option<i32>,
    pub command: String,
    pub exitcodes: Vec<i32>,
    pub group: String,
    pub group_prio: i32,
    /// The group is active (added), not just configured.
    pub inuse: bool,
    pub killasgroup: bool,
    pub name: String,
    pub process_prio: i32,
    pub redirect_stderr: bool,
    pub startretries: i32,
    pub startsecs: i32,
    pub stdout_capture_maxbytes: i32,
    pub stdout_events_enabled: bool,
    pub stdout_logfile: String,
    pub stdout_logfile_backups: i32,
    pub stdout_logfile_maxbytes: i32,
    pub stdout_syslog: bool,
    pub stopsignal: i32,
    pub stopwaitsecs: i32,
    pub stderr_capture_maxbytes: i32,
    pub stderr_events_enabled: bool,
    pub stderr_logfile: String,
    pub stderr_logfile_backups: i32,
    pub stderr_logfile_maxbytes: i32,
    pub stderr_syslog: bool,
    pub serverurl: String,
}

impl RpcStruct for ConfigInfo {
    fn to_value(&self) -> Value {
        Value::new_struct([
            ("autostart", Value::Boolean(self.autostart)),
            ("directory", Value::from(&self.directory)),
            ("uid", Value::from(self.uid)),
            ("command", Value::from(&self.command)),
            (
                "exitcodes",
                Value::Array(self.exitcodes.iter().map(|c| Value::Int(*c)).collect()),
            ),
            ("group", Value::from(&self.group)),
            ("group_prio", Value::Int(self.group_prio)),
            ("inuse", Value::Boolean(self.inuse)),
            ("killasgroup", Value::Boolean(self.killasgroup)),
            ("name", Value::from(&self.name)),
            ("process_prio", Value::Int(self.process_prio)),
            ("redirect_stderr", Value::Boolean(self.redirect_stderr)),
            ("startretries", Value::Int(self.startretries)),
            ("startsecs", Value::Int(self.startsecs)),
            (
                "stdout_capture_maxbytes",
                Value::Int(self.stdout_capture_maxbytes),
            ),
            (
                "stdout_events_enabled",
                Value::Boolean(self.stdout_events_enabled),
            ),
            ("stdout_logfile", Value::from(&self.stdout_logfile)),
            (
                "stdout_logfile_backups",
                Value::Int(self.stdout_logfile_backups),
            ),
            (
                "stdout_logfile_maxbytes",
                Value::Int(self.stdout_logfile_maxbytes),
            ),
            ("stdout_syslog", Value::Boolean(self.stdout_syslog)),
            ("stopsignal", Value::Int(self.stopsignal)),
            ("stopwaitsecs", Value::Int(self.stopwaitsecs)),
            (
                "stderr_capture_maxbytes",
                Value::Int(self.stderr_capture_maxbytes),
            ),
            (
                "stderr_events_enabled",
                Value::Boolean(self.stderr_events_enabled),
            ),
            ("stderr_logfile", Value::from(&self.stderr_logfile)),
            (
                "stderr_logfile_backups",
                Value::Int(self.stderr_logfile_backups),
            ),
            (
                "stderr_logfile_maxbytes",
                Value::Int(self.stderr_logfile_maxbytes),
            ),
            ("stderr_syslog", Value::Boolean(self.stderr_syslog)),
            ("serverurl", Value::from(&self.serverurl)),
        ])
    }

    fn from_value(value: &Value) -> Result<Self, StructError> {
        let f = Fields::new(value)?;
        Ok(ConfigInfo {
            autostart: f.boolean("autostart")?,
            directory: f.string("directory")?,
            uid: f.int_or_none("uid")?,
            command: f.string("command")?,
            exitcodes: f.int_list("exitcodes")?,
            group: f.string("group")?,
            group_prio: f.int("group_prio")?,
            inuse: f.boolean("inuse")?,
            killasgroup: f.boolean("killasgroup")?,
            name: f.string("name")?,
            process_prio: f.int("process_prio")?,
            redirect_stderr: f.boolean("redirect_stderr")?,
            startretries: f.int("startretries")?,
            startsecs: f.int("startsecs")?,
            stdout_capture_maxbytes: f.int("stdout_capture_maxbytes")?,
            stdout_events_enabled: f.boolean("stdout_events_enabled")?,
            stdout_logfile: f.string("stdout_logfile")?,
            stdout_logfile_backups: f.int("stdout_logfile_backups")?,
            stdout_logfile_maxbytes: f.int("stdout_logfile_maxbytes")?,
            stdout_syslog: f.boolean("stdout_syslog")?,
            stopsignal: f.int("stopsignal")?,
            stopwaitsecs: f.int("stopwaitsecs")?,
            stderr_capture_maxbytes: f.int("stderr_capture_maxbytes")?,
            stderr_events_enabled: f.boolean("stderr_events_enabled")?,
            stderr_logfile: f.string("stderr_logfile")?,
            stderr_logfile_backups: f.int("stderr_logfile_backups")?,
            stderr_logfile_maxbytes: f.int("stderr_logfile_maxbytes")?,
            stderr_syslog: f.boolean("stderr_syslog")?,
            serverurl: f.string("serverurl")?,
        })
    }
}

/// One entry of a group/all start, stop, signal or clear result:
/// `{name, group, status, description}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupResult {
    /// The process name (not the namespec).
    pub name: String,
    pub group: String,
    /// 80 (`SUCCESS`) or a fault code.
    pub status: i32,
    /// `OK`, or the fault string.
    pub description: String,
}

impl GroupResult {
    /// Status `SUCCESS` (80), description `OK`.
    pub fn success(name: impl Into<String>, group: impl Into<String>) -> GroupResult {
        GroupResult {
            name: name.into(),
            group: group.into(),
            status: FaultCode::Success.code(),
            description: "OK".to_owned(),
        }
    }

    /// The fault's code and string.
    pub fn failed(name: impl Into<String>, group: impl Into<String>, fault: &Fault) -> GroupResult {
        GroupResult {
            name: name.into(),
            group: group.into(),
            status: fault.code,
            description: fault.string.clone(),
        }
    }

    pub fn is_success(&self) -> bool {
        self.status == FaultCode::Success.code()
    }

    /// The failure as a fault (`None` on success).
    pub fn fault(&self) -> Option<Fault> {
        (!self.is_success()).then(|| Fault {
            code: self.status,
            string: self.description.clone(),
        })
    }
}

impl RpcStruct for GroupResult {
    fn to_value(&self) -> Value {
        Value::new_struct([
            ("name", Value::from(&self.name)),
            ("group", Value::from(&self.group)),
            ("status", Value::Int(self.status)),
            ("description", Value::from(&self.description)),
        ])
    }

    fn from_value(value: &Value) -> Result<Self, StructError> {
        let f = Fields::new(value)?;
        Ok(GroupResult {
            name: f.string("name")?,
            group: f.string("group")?,
            status: f.int("status")?,
            description: f.string("description")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xmlrpc::codec::{encode_method_response, parse_method_response};

    fn sample_process() -> ProcessInfo {
        ProcessInfo {
            name: "web".into(),
            group: "web".into(),
            description: "pid 4242, uptime 0:00:17".into(),
            start: 1_700_000_000,
            stop: 0,
            now: 1_700_000_017,
            state: 20,
            statename: "RUNNING".into(),
            spawnerr: String::new(),
            exitstatus: 0,
            logfile: "/tmp/web.log".into(),
            stdout_logfile: "/tmp/web.log".into(),
            stderr_logfile: String::new(),
            pid: 4242,
        }
    }

    fn sample_config() -> ConfigInfo {
        ConfigInfo {
            autostart: true,
            directory: "none".into(),
            uid: None,
            command: "/bin/cat".into(),
            exitcodes: vec![0],
            group: "cat".into(),
            group_prio: 999,
            inuse: true,
            killasgroup: false,
            name: "cat".into(),
            process_prio: 999,
            redirect_stderr: false,
            startretries: 3,
            startsecs: 1,
            stdout_capture_maxbytes: 0,
            stdout_events_enabled: false,
            stdout_logfile: "auto".into(),
            stdout_logfile_backups: 10,
            stdout_logfile_maxbytes: 52_428_800,
            stdout_syslog: false,
            stopsignal: 15,
            stopwaitsecs: 10,
            stderr_capture_maxbytes: 0,
            stderr_events_enabled: false,
            stderr_logfile: "auto".into(),
            stderr_logfile_backups: 10,
            stderr_logfile_maxbytes: 52_428_800,
            stderr_syslog: false,
            serverurl: "AUTO".into(),
        }
    }

    #[test]
    fn process_info_keys_in_supervisor_order_and_round_trip() {
        let p = sample_process();
        let v = p.to_value();
        let keys: Vec<&str> = v
            .as_struct()
            .expect("struct")
            .iter()
            .map(|(k, _)| k.as_str())
            .collect();
        assert_eq!(
            keys,
            [
                "name",
                "group",
                "start",
                "stop",
                "now",
                "state",
                "statename",
                "spawnerr",
                "exitstatus",
                "logfile",
                "stdout_logfile",
                "stderr_logfile",
                "pid",
                "description",
            ]
        );
        assert_eq!(ProcessInfo::from_value(&v), Ok(p.clone()));
        assert_eq!(p.process_state(), Some(ProcessState::Running));
        assert_eq!(p.namespec(), "web");
        let other = ProcessInfo {
            name: "w_0".into(),
            ..p.clone()
        };
        assert_eq!(other.namespec(), "web:w_0");

        // Through the wire and back, as a list.
        let body = encode_method_response(&ProcessInfo::list_to_value(&[p.clone(), other]));
        let back = parse_method_response(&body, 1 << 20)
            .expect("parses")
            .expect("no fault");
        let list = ProcessInfo::list_from_value(&back).expect("typed");
        assert_eq!(list.len(), 2);
        assert_eq!(list[0], p);
    }

    #[test]
    fn errors_name_the_member() {
        let mut v = sample_process().to_value();
        v.set("pid", Value::from("x"));
        assert_eq!(
            ProcessInfo::from_value(&v).unwrap_err().to_string(),
            "pid: expected int, found string"
        );
        let missing = Value::new_struct([("name", Value::from("a"))]);
        assert_eq!(
            ProcessInfo::from_value(&missing).unwrap_err().to_string(),
            "group: missing"
        );
        assert_eq!(
            StateInfo::from_value(&Value::Int(1))
                .unwrap_err()
                .to_string(),
            "expected a struct, found int"
        );
        let list = Value::Array(vec![sample_process().to_value(), Value::Int(1)]);
        assert_eq!(ProcessInfo::list_from_value(&list).unwrap_err().path, "[1]");
        let mut bad = sample_process().to_value();
        bad.set("now", Value::Boolean(true));
        let list = Value::Array(vec![bad]);
        assert_eq!(
            ProcessInfo::list_from_value(&list).unwrap_err().to_string(),
            "[0].now: expected int, found boolean"
        );
        assert!(ProcessInfo::list_from_value(&Value::Int(1)).is_err());
    }

    #[test]
    fn config_info_none_and_auto_and_order() {
        let c = sample_config();
        let v = c.to_value();
        assert_eq!(v.get("uid"), Some(&Value::from("none")));
        assert_eq!(v.as_struct().map(<[_]>::len), Some(29));
        assert_eq!(
            v.as_struct()
                .and_then(|m| m.first())
                .map(|(k, _)| k.as_str()),
            Some("autostart")
        );
        assert_eq!(
            v.as_struct()
                .and_then(|m| m.last())
                .map(|(k, _)| k.as_str()),
            Some("serverurl")
        );
        assert_eq!(ConfigInfo::from_value(&v), Ok(c.clone()));
        let with_uid = ConfigInfo {
            uid: Some(1000),
            ..c
        };
        let v = with_uid.to_value();
        assert_eq!(v.get("uid"), Some(&Value::Int(1000)));
        assert_eq!(ConfigInfo::from_value(&v), Ok(with_uid));
        let mut bad = v.clone();
        bad.set("exitcodes", Value::Array(vec![Value::from("0")]));
        assert_eq!(
            ConfigInfo::from_value(&bad).unwrap_err().to_string(),
            "exitcodes: expected array of int, found string"
        );
        let mut bad = v;
        bad.set("uid", Value::from("root"));
        assert!(ConfigInfo::from_value(&bad).is_err());
    }

    #[test]
    fn state_info_and_group_results() {
        let s = StateInfo::from(SupervisorState::Running);
        assert_eq!(
            s.to_value(),
            Value::new_struct([
                ("statecode", Value::Int(1)),
                ("statename", Value::from("RUNNING"))
            ])
        );
        assert_eq!(StateInfo::from_value(&s.to_value()), Ok(s));

        let ok = GroupResult::success("a", "g");
        // Same member order and values as Python's captured response (RESP_GROUP).
        assert_eq!(
            ok.to_value(),
            Value::new_struct([
                ("name", Value::from("a")),
                ("group", Value::from("g")),
                ("status", Value::Int(80)),
                ("description", Value::from("OK")),
            ])
        );
        assert!(ok.is_success() && ok.fault().is_none());
        let fault = Fault::new(FaultCode::SpawnError, Some("g:a"));
        let bad = GroupResult::failed("a", "g", &fault);
        assert_eq!(bad.fault(), Some(fault));
        assert_eq!(GroupResult::from_value(&bad.to_value()), Ok(bad.clone()));
        assert_eq!(
            GroupResult::list_from_value(&GroupResult::list_to_value(&[ok.clone(), bad.clone()])),
            Ok(vec![ok, bad])
        );
    }

    #[test]
    fn clamp() {
        assert_eq!(clamp_int(5), 5);
        assert_eq!(clamp_int(i64::MAX), i32::MAX);
        assert_eq!(clamp_int(i64::MIN), i32::MIN);
    }
}
