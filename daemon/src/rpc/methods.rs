//! Supervisor's XML-RPC methods (`supervisor.*` and `system.*`), as plain functions over a
//! [`Host`]: the runtime implements `Host`, tests can implement it without sockets.
//!
//! A call either answers at once ([`Reply::Ready`]) or, for `wait=True` starts and stops, gives
//! a [`Pending`] that is polled until it yields the answer. [`command`] wraps a call and its
//! reply channel as a [`Request`] for the supervision loop, which polls it after every loop
//! iteration (and at least every 50 ms, like Supervisor's deferred callbacks).

use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::{Instant, SystemTime};

use tokio::sync::oneshot;

use supervisor_protocol::xmlrpc::structs::{clamp_int, RpcStruct};
use supervisor_protocol::xmlrpc::{
    encoded_len_bound, ConfigInfo, Fault, FaultCode, GroupResult, MethodCall, MulticallCall,
    ProcessInfo, Value, DEFAULT_MAX_RESPONSE_BYTES,
};
use supervisor_protocol::{ProcessState, SupervisorState, API_VERSION, SUPERVISOR_VERSION};

use crate::config::{values, LogFile, ProcessConfig};
use crate::logs::{self, Channel, ReadError};
use crate::process::spawn;
use crate::process::state::CommandError;
use crate::supervisor::core::{ProcKey, Target};
use crate::supervisor::host::{Host, Request, StdinError};
use crate::supervisor::runtime::Command;

/// Largest answer built: what our own clients read. Bigger ones become
/// [`response_too_large`] (a multicall stops building as soon as it is over).
pub const MAX_RESPONSE: usize = DEFAULT_MAX_RESPONSE_BYTES;

/// How much of a `system.multicall` one poll may build (estimated encoded bytes) before it
/// lets the loop serve others; the rest follows on the next polls.
const MULTICALL_SLICE: usize = 1024 * 1024;
/// What each call of a multicall counts for in [`MULTICALL_SLICE`] besides its result.
const MULTICALL_CALL_COST: usize = 1024;

/// The fault for an answer over [`MAX_RESPONSE`].
pub fn response_too_large() -> Fault {
    Fault::new(
        FaultCode::Failed,
        Some(&format!(
            "response larger than {MAX_RESPONSE} bytes; ask for less at a time"
        )),
    )
}

/// The outcome of one call.
pub enum Reply {
    Ready(Result<Value, Fault>),
    Pending(Pending),
}

/// A call waiting for processes to reach a state.
pub struct Pending(PendingKind);

enum PendingKind {
    /// `startProcess(name, True)`: until RUNNING, or a failure.
    Start { key: ProcKey, name: String },
    /// `stopProcess(name, True)`: until a stopped state.
    Stop { key: ProcKey, name: String },
    /// Group/all variants: results so far (in the order they came), and the calls still
    /// waiting (with process and group names); answered when none is left waiting.
    Batch {
        done: Vec<GroupResult>,
        waiting: Vec<(Box<Pending>, String, String)>,
    },
    /// `system.multicall`: calls run one after the other, each awaited, at most
    /// [`MULTICALL_SLICE`] of work per poll; `size` bounds what the results encode to.
    Multicall {
        current: Option<Box<Pending>>,
        remaining: VecDeque<Value>,
        results: Vec<Value>,
        size: usize,
    },
}

impl Pending {
    /// `Some(answer)` once the wait is over.
    pub fn poll(&mut self, host: &mut dyn Host) -> Option<Result<Value, Fault>> {
        match &mut self.0 {
            PendingKind::Start { key, name } => poll_start(host, *key, name),
            PendingKind::Stop { key, name } => poll_stop(host, *key, name),
            PendingKind::Batch { done, waiting } => {
                waiting.retain_mut(|(p, name, group)| match p.poll(host) {
                    Some(r) => {
                        done.push(group_result(name, group, r));
                        false
                    }
                    None => true,
                });
                if !waiting.is_empty() {
                    return None;
                }
                Some(Ok(Value::Array(
                    done.iter().map(RpcStruct::to_value).collect(),
                )))
            }
            PendingKind::Multicall {
                current,
                remaining,
                results,
                size,
            } => {
                let mut work = 0usize;
                let mut push = |results: &mut Vec<Value>, r| {
                    let v = multicall_value(r);
                    let n = encoded_len_bound(&v);
                    *size = size.saturating_add(n);
                    work = work.saturating_add(n + MULTICALL_CALL_COST);
                    results.push(v);
                    (*size > MAX_RESPONSE, work > MULTICALL_SLICE)
                };
                if let Some(p) = current {
                    match p.poll(host) {
                        Some(r) => {
                            *current = None;
                            if push(results, r).0 {
                                drop_elsewhere(std::mem::take(results));
                                return Some(Err(response_too_large()));
                            }
                        }
                        None => return None,
                    }
                }
                while let Some(call) = remaining.pop_front() {
                    match multicall_one(host, &call) {
                        Reply::Ready(r) => {
                            let (too_large, slice_used) = push(results, r);
                            if too_large {
                                drop_elsewhere(std::mem::take(results));
                                remaining.clear();
                                return Some(Err(response_too_large()));
                            }
                            if slice_used && !remaining.is_empty() {
                                return None;
                            }
                        }
                        Reply::Pending(p) => {
                            *current = Some(Box::new(p));
                            return None;
                        }
                    }
                }
                Some(Ok(Value::Array(std::mem::take(results))))
            }
        }
    }
}

/// Free up to [`MAX_RESPONSE`] worth of values on another thread: on the loop's thread it
/// would hold up every other client for a noticeable time.
fn drop_elsewhere(values: Vec<Value>) {
    if std::thread::Builder::new()
        .name("drop".into())
        .spawn(move || drop(values))
        .is_err()
    {
        // No thread to be had: the values were moved into the failed closure and are freed
        // here after all.
    }
}

fn multicall_value(r: Result<Value, Fault>) -> Value {
    match r {
        Ok(v) => v,
        Err(f) => f.to_value(),
    }
}

fn group_result(name: &str, group: &str, r: Result<Value, Fault>) -> GroupResult {
    match r {
        Ok(_) => GroupResult::success(name, group),
        Err(f) => GroupResult::failed(name, group, &f),
    }
}

fn fault(e: CommandError) -> Fault {
    Fault::new(e.fault_code(), e.detail())
}

fn fault_of(code: FaultCode, extra: &str) -> Fault {
    Fault::new(code, Some(extra))
}

fn bad_params() -> Fault {
    Fault::new(FaultCode::IncorrectParameters, None)
}

/// Every method `system.listMethods` returns, with its signature and help text.
/// (name, signature [return, params...], help). The help is the method's Python docstring as
/// Supervisor 4.3.0 returns it from `system.methodHelp`: raw, with its source indentation.
const METHODS: &[(&str, &[&str], &str)] = &[
    ("supervisor.addProcessGroup", &["boolean", "string"], " Update the config for a running process from config file.\n\n        @param string name         name of process group to add\n        @return boolean result     true if successful\n        "),
    ("supervisor.clearAllProcessLogs", &["array"], " Clear all process log files\n\n        @return array result   An array of process status info structs\n        "),
    ("supervisor.clearLog", &["boolean"], " Clear the main log.\n\n        @return boolean result always returns True unless error\n        "),
    ("supervisor.clearProcessLog", &["boolean", "string"], " Clear the stdout and stderr logs for the named process and\n        reopen them.\n\n        @param string name   The name of the process (or 'group:name')\n        @return boolean result      Always True unless error\n        "),
    ("supervisor.clearProcessLogs", &["boolean", "string"], " Clear the stdout and stderr logs for the named process and\n        reopen them.\n\n        @param string name   The name of the process (or 'group:name')\n        @return boolean result      Always True unless error\n        "),
    ("supervisor.getAPIVersion", &["string"], " Return the version of the RPC API used by supervisord\n\n        @return string version id\n        "),
    ("supervisor.getAllConfigInfo", &["array"], " Get info about all available process configurations. Each struct\n        represents a single process (i.e. groups get flattened).\n\n        @return array result  An array of process config info structs\n        "),
    ("supervisor.getAllProcessInfo", &["array"], " Get info about all processes\n\n        @return array result  An array of process status results\n        "),
    ("supervisor.getIdentification", &["string"], " Return identifying string of supervisord\n\n        @return string identifier identifying string\n        "),
    ("supervisor.getPID", &["int"], " Return the PID of supervisord\n\n        @return int PID\n        "),
    ("supervisor.getProcessInfo", &["struct", "string"], " Get info about a process named name\n\n        @param string name The name of the process (or 'group:name')\n        @return struct result     A structure containing data about the process\n        "),
    ("supervisor.getState", &["struct"], " Return current state of supervisord as a struct\n\n        @return struct A struct with keys int statecode, string statename\n        "),
    ("supervisor.getSupervisorVersion", &["string"], " Return the version of the supervisor package in use by supervisord\n\n        @return string version id\n        "),
    ("supervisor.getVersion", &["string"], " Return the version of the RPC API used by supervisord\n\n        @return string version id\n        "),
    ("supervisor.readLog", &["string", "int", "int"], " Read length bytes from the main log starting at offset\n\n        @param int offset         offset to start reading from.\n        @param int length         number of bytes to read from the log.\n        @return string result     Bytes of log\n        "),
    ("supervisor.readMainLog", &["string", "int", "int"], " Read length bytes from the main log starting at offset\n\n        @param int offset         offset to start reading from.\n        @param int length         number of bytes to read from the log.\n        @return string result     Bytes of log\n        "),
    ("supervisor.readProcessLog", &["string", "string", "int", "int"], " Read length bytes from name's stdout log starting at offset\n\n        @param string name        the name of the process (or 'group:name')\n        @param int offset         offset to start reading from.\n        @param int length         number of bytes to read from the log.\n        @return string result     Bytes of log\n        "),
    ("supervisor.readProcessStderrLog", &["string", "string", "int", "int"], " Read length bytes from name's stderr log starting at offset\n\n        @param string name        the name of the process (or 'group:name')\n        @param int offset         offset to start reading from.\n        @param int length         number of bytes to read from the log.\n        @return string result     Bytes of log\n        "),
    ("supervisor.readProcessStdoutLog", &["string", "string", "int", "int"], " Read length bytes from name's stdout log starting at offset\n\n        @param string name        the name of the process (or 'group:name')\n        @param int offset         offset to start reading from.\n        @param int length         number of bytes to read from the log.\n        @return string result     Bytes of log\n        "),
    ("supervisor.reloadConfig", &["array"], "\n        Reload the configuration.\n\n        The result contains three arrays containing names of process\n        groups:\n\n        * `added` gives the process groups that have been added\n        * `changed` gives the process groups whose contents have\n          changed\n        * `removed` gives the process groups that are no longer\n          in the configuration\n\n        @return array result  [[added, changed, removed]]\n\n        "),
    ("supervisor.removeProcessGroup", &["boolean", "string"], " Remove a stopped process from the active configuration.\n\n        @param string name         name of process group to remove\n        @return boolean result     Indicates whether the removal was successful\n        "),
    ("supervisor.restart", &["boolean"], " Restart the supervisor process\n\n        @return boolean result  always return True unless error\n        "),
    ("supervisor.sendProcessStdin", &["boolean", "string", "string"], " Send a string of chars to the stdin of the process name.\n        If non-7-bit data is sent (unicode), it is encoded to utf-8\n        before being sent to the process' stdin.  If chars is not a\n        string or is not unicode, raise INCORRECT_PARAMETERS.  If the\n        process is not running, raise NOT_RUNNING.  If the process'\n        stdin cannot accept input (e.g. it was closed by the child\n        process), raise NO_FILE.\n\n        @param string name        The process name to send to (or 'group:name')\n        @param string chars       The character data to send to the process\n        @return boolean result    Always return True unless error\n        "),
    ("supervisor.sendRemoteCommEvent", &["boolean", "string", "string"], " Send an event that will be received by event listener\n        subprocesses subscribing to the RemoteCommunicationEvent.\n\n        @param  string  type  String for the \"type\" key in the event header\n        @param  string  data  Data for the event body\n        @return boolean       Always return True unless error\n        "),
    ("supervisor.shutdown", &["boolean"], " Shut down the supervisor process\n\n        @return boolean result always returns True unless error\n        "),
    ("supervisor.signalAllProcesses", &["array", "string"], " Send a signal to all processes in the process list\n\n        @param string signal  Signal to send, as name ('HUP') or number ('1')\n        @return array         An array of process status info structs\n        "),
    ("supervisor.signalProcess", &["boolean", "string", "string"], " Send an arbitrary UNIX signal to the process named by name\n\n        @param string name    Name of the process to signal (or 'group:name')\n        @param string signal  Signal to send, as name ('HUP') or number ('1')\n        @return boolean\n        "),
    ("supervisor.signalProcessGroup", &["array", "string", "string"], " Send a signal to all processes in the group named 'name'\n\n        @param string name    The group name\n        @param string signal  Signal to send, as name ('HUP') or number ('1')\n        @return array\n        "),
    ("supervisor.startAllProcesses", &["array", "boolean"], " Start all processes listed in the configuration file\n\n        @param boolean wait    Wait for each process to be fully started\n        @return array result   An array of process status info structs\n        "),
    ("supervisor.startProcess", &["boolean", "string", "boolean"], " Start a process\n\n        @param string name Process name (or ``group:name``, or ``group:*``)\n        @param boolean wait Wait for process to be fully started\n        @return boolean result     Always true unless error\n\n        "),
    ("supervisor.startProcessGroup", &["array", "string", "boolean"], " Start all processes in the group named 'name'\n\n        @param string name     The group name\n        @param boolean wait    Wait for each process to be fully started\n        @return array result   An array of process status info structs\n        "),
    ("supervisor.stopAllProcesses", &["array", "boolean"], " Stop all processes in the process list\n\n        @param  boolean wait   Wait for each process to be fully stopped\n        @return array result   An array of process status info structs\n        "),
    ("supervisor.stopProcess", &["boolean", "string", "boolean"], " Stop a process named by name\n\n        @param string name  The name of the process to stop (or 'group:name')\n        @param boolean wait        Wait for the process to be fully stopped\n        @return boolean result     Always return True unless error\n        "),
    ("supervisor.stopProcessGroup", &["array", "string", "boolean"], " Stop all processes in the process group named 'name'\n\n        @param string name     The group name\n        @param boolean wait    Wait for each process to be fully stopped\n        @return array result   An array of process status info structs\n        "),
    ("supervisor.tailProcessLog", &["array", "string", "int", "int"], "\n        Provides a more efficient way to tail the (stdout) log than\n        readProcessStdoutLog().  Use readProcessStdoutLog() to read\n        chunks and tailProcessStdoutLog() to tail.\n\n        Requests (length) bytes from the (name)'s log, starting at\n        (offset).  If the total log size is greater than (offset +\n        length), the overflow flag is set and the (offset) is\n        automatically increased to position the buffer at the end of\n        the log.  If less than (length) bytes are available, the\n        maximum number of available bytes will be returned.  (offset)\n        returned is always the last offset in the log +1.\n\n        @param string name         the name of the process (or 'group:name')\n        @param int offset          offset to start reading from\n        @param int length          maximum number of bytes to return\n        @return array result       [string bytes, int offset, bool overflow]\n        "),
    ("supervisor.tailProcessStderrLog", &["array", "string", "int", "int"], "\n        Provides a more efficient way to tail the (stderr) log than\n        readProcessStderrLog().  Use readProcessStderrLog() to read\n        chunks and tailProcessStderrLog() to tail.\n\n        Requests (length) bytes from the (name)'s log, starting at\n        (offset).  If the total log size is greater than (offset +\n        length), the overflow flag is set and the (offset) is\n        automatically increased to position the buffer at the end of\n        the log.  If less than (length) bytes are available, the\n        maximum number of available bytes will be returned.  (offset)\n        returned is always the last offset in the log +1.\n\n        @param string name         the name of the process (or 'group:name')\n        @param int offset          offset to start reading from\n        @param int length          maximum number of bytes to return\n        @return array result       [string bytes, int offset, bool overflow]\n        "),
    ("supervisor.tailProcessStdoutLog", &["array", "string", "int", "int"], "\n        Provides a more efficient way to tail the (stdout) log than\n        readProcessStdoutLog().  Use readProcessStdoutLog() to read\n        chunks and tailProcessStdoutLog() to tail.\n\n        Requests (length) bytes from the (name)'s log, starting at\n        (offset).  If the total log size is greater than (offset +\n        length), the overflow flag is set and the (offset) is\n        automatically increased to position the buffer at the end of\n        the log.  If less than (length) bytes are available, the\n        maximum number of available bytes will be returned.  (offset)\n        returned is always the last offset in the log +1.\n\n        @param string name         the name of the process (or 'group:name')\n        @param int offset          offset to start reading from\n        @param int length          maximum number of bytes to return\n        @return array result       [string bytes, int offset, bool overflow]\n        "),
    ("system.listMethods", &["array"], " Return an array listing the available method names\n\n        @return array result  An array of method names available (strings).\n        "),
    ("system.methodHelp", &["string", "string"], " Return a string showing the method's documentation\n\n        @param string name   The name of the method.\n        @return string result The documentation for the method name.\n        "),
    ("system.methodSignature", &["array", "string"], " Return an array describing the method signature in the\n        form [rtype, ptype, ptype...] where rtype is the return data type\n        of the method, and ptypes are the parameter data types that the\n        method accepts in method argument order.\n\n        @param string name  The name of the method.\n        @return array result  The result.\n        "),
    ("system.multicall", &["array", "array"], "Process an array of calls, and return an array of\n        results. Calls should be structs of the form {'methodName':\n        string, 'params': array}. Each result will either be a\n        single-item array containing the result value, or a struct of\n        the form {'faultCode': int, 'faultString': string}. This is\n        useful when you need to make lots of small calls without lots\n        of round trips.\n\n        @param array calls  An array of call requests\n        @return array result  An array of results\n        "),
];

/// Parameters with Python-style defaults: `min` required, the rest optional.
struct Args<'a> {
    params: &'a [Value],
}

impl<'a> Args<'a> {
    fn new(params: &'a [Value], min: usize, max: usize) -> Result<Args<'a>, Fault> {
        if params.len() < min || params.len() > max {
            return Err(bad_params());
        }
        Ok(Args { params })
    }

    fn string(&self, i: usize) -> Result<&'a str, Fault> {
        self.params
            .get(i)
            .and_then(Value::as_str)
            .ok_or_else(bad_params)
    }

    /// An int; like Python's `int(x)`, a bool or a numeric string is accepted too.
    fn int(&self, i: usize) -> Result<i32, Fault> {
        self.params
            .get(i)
            .and_then(|v| match v {
                Value::Int(n) => Some(*n),
                Value::Boolean(b) => Some(i32::from(*b)),
                Value::String(s) => s.trim().parse().ok(),
                _ => None,
            })
            .ok_or_else(bad_params)
    }

    /// A boolean with a default; Python truthiness for ints.
    fn flag(&self, i: usize, default: bool) -> Result<bool, Fault> {
        match self.params.get(i) {
            None => Ok(default),
            Some(Value::Boolean(b)) => Ok(*b),
            Some(Value::Int(n)) => Ok(*n != 0),
            Some(_) => Err(bad_params()),
        }
    }
}

/// The answer to one call, sent when the call is done.
pub type ReplySender = oneshot::Sender<Result<Value, Fault>>;

/// One call for the supervision loop: `call` runs there, its answer goes to `reply`.
pub fn command(call: MethodCall, reply: ReplySender) -> Command {
    Command::Request(Box::new(CallRequest {
        call: Some(call),
        pending: None,
        reply: Some(reply),
    }))
}

/// A call on its way through the loop: not yet run, waiting, or answered.
struct CallRequest {
    call: Option<MethodCall>,
    pending: Option<Pending>,
    reply: Option<ReplySender>,
}

impl Request for CallRequest {
    fn poll(&mut self, host: &mut dyn Host) -> bool {
        let answer = if let Some(call) = self.call.take() {
            match dispatch(host, &call) {
                Reply::Ready(result) => Some(result),
                Reply::Pending(p) => {
                    self.pending = Some(p);
                    None
                }
            }
        } else {
            self.pending.as_mut().and_then(|p| p.poll(host))
        };
        let Some(answer) = answer else {
            return self.pending.is_none();
        };
        self.pending = None;
        if let Some(reply) = self.reply.take() {
            let _ = reply.send(answer);
        }
        true
    }

    fn abandoned(&self) -> bool {
        self.reply.as_ref().is_none_or(|r| r.is_closed())
    }
}

/// Run one call.
pub fn dispatch(host: &mut dyn Host, call: &MethodCall) -> Reply {
    match dispatch_inner(host, &call.name, &call.params) {
        Ok(reply) => reply,
        Err(f) => Reply::Ready(Err(f)),
    }
}

fn ready(v: Value) -> Result<Reply, Fault> {
    Ok(Reply::Ready(Ok(v)))
}

fn check_mood(host: &dyn Host) -> Result<(), Fault> {
    if host.core().mood() == SupervisorState::Running {
        Ok(())
    } else {
        Err(Fault::new(FaultCode::ShutdownState, None))
    }
}

fn dispatch_inner(host: &mut dyn Host, name: &str, params: &[Value]) -> Result<Reply, Fault> {
    // `namespace.method` with exactly one dot (the CVE-2017-11610 rule); `_` methods hidden.
    let unknown = || Fault::new(FaultCode::UnknownMethod, None);
    let Some((ns, method)) = name.split_once('.') else {
        return Err(unknown());
    };
    if method.contains('.') || method.starts_with('_') {
        return Err(unknown());
    }
    match ns {
        "system" => system_method(host, method, params),
        // supervisor-rs extensions: callable, but kept out of `system.listMethods` so that
        // its answer stays identical to Python Supervisor's.
        EXTENSION_NAMESPACE => extension_method(host, method, params),
        "supervisor" => {
            if !METHODS.iter().any(|(n, _, _)| *n == name) {
                return Err(unknown());
            }
            let exempt = matches!(
                method,
                "sendRemoteCommEvent" | "signalProcessGroup" | "signalAllProcesses"
            );
            if !exempt {
                check_mood(host)?;
            }
            supervisor_method(host, method, params)
        }
        _ => Err(unknown()),
    }
}

/// The namespace of supervisor-rs's own XML-RPC methods.
pub const EXTENSION_NAMESPACE: &str = "supervisor_rs";

/// `supervisor_rs.*`.
fn extension_method(host: &mut dyn Host, method: &str, params: &[Value]) -> Result<Reply, Fault> {
    match method {
        // Memory and CPU of every process from /proc: an array of structs {name, group,
        // pid, rss_kb (int), cpu_seconds (double)}, in getAllProcessInfo order; zeros for a
        // process that is not running.
        "getAllProcessResources" => {
            Args::new(params, 0, 0)?;
            let mut procs: Vec<(String, String, i32)> = host
                .core()
                .processes()
                .map(|(_, p)| {
                    (
                        p.group().to_string(),
                        p.name().to_string(),
                        p.pid().unwrap_or(0),
                    )
                })
                .collect();
            procs.sort();
            ready(Value::Array(
                procs
                    .into_iter()
                    .map(|(group, name, pid)| {
                        let r = crate::metrics::procfs::read_pid(pid);
                        let kb = r.map_or(0, |r| r.resident_memory_bytes / 1024);
                        Value::new_struct([
                            ("name", Value::from(name.as_str())),
                            ("group", Value::from(group.as_str())),
                            ("pid", Value::Int(pid)),
                            (
                                "rss_kb",
                                Value::Int(clamp_int(i64::try_from(kb).unwrap_or(i64::MAX))),
                            ),
                            (
                                "cpu_seconds",
                                Value::Double(r.map_or(0.0, |r| r.cpu_seconds)),
                            ),
                        ])
                    })
                    .collect(),
            ))
        }
        // getProcessInfo plus the extension options and their state (docs/extensions.md).
        "getProcessInfo" => {
            let a = Args::new(params, 1, 1)?;
            let key = single_process(host, a.string(0)?)?;
            ready(extended_process_info(host, key))
        }
        "getAllProcessInfo" => {
            Args::new(params, 0, 0)?;
            let mut keys: Vec<(String, String, ProcKey)> = host
                .core()
                .processes()
                .map(|(k, p)| (p.group().to_string(), p.name().to_string(), k))
                .collect();
            keys.sort();
            ready(Value::Array(
                keys.into_iter()
                    .map(|(_, _, k)| extended_process_info(host, k))
                    .collect(),
            ))
        }
        _ => Err(Fault::new(FaultCode::UnknownMethod, None)),
    }
}

/// `supervisor.getProcessInfo` with the members of [`crate::rpc::extensions`] appended.
fn extended_process_info(host: &dyn Host, key: ProcKey) -> Value {
    let mut value = process_info(host, key).to_value();
    if let (Value::Struct(members), Some(p)) = (&mut value, host.core().process(key)) {
        let next_start = host.core().scheduled_start(key);
        members.extend(crate::rpc::extensions::process_extras(
            p,
            next_start,
            Instant::now(),
            SystemTime::now(),
        ));
    }
    value
}

fn system_method(host: &mut dyn Host, method: &str, params: &[Value]) -> Result<Reply, Fault> {
    let lookup = |name: &str| {
        METHODS
            .iter()
            .find(|(n, _, _)| *n == name)
            .ok_or_else(|| Fault::new(FaultCode::SignatureUnsupported, None))
    };
    match method {
        "listMethods" => {
            Args::new(params, 0, 0)?;
            ready(Value::Array(
                METHODS.iter().map(|(n, _, _)| Value::from(*n)).collect(),
            ))
        }
        "methodHelp" => {
            let a = Args::new(params, 1, 1)?;
            let (_, _, help) = lookup(a.string(0)?)?;
            ready(Value::from(*help))
        }
        "methodSignature" => {
            let a = Args::new(params, 1, 1)?;
            let (_, sig, _) = lookup(a.string(0)?)?;
            ready(Value::Array(sig.iter().map(|s| Value::from(*s)).collect()))
        }
        "multicall" => {
            let a = Args::new(params, 1, 1)?;
            let calls = a
                .params
                .first()
                .and_then(Value::as_array)
                .ok_or_else(bad_params)?;
            let mut pending = Pending(PendingKind::Multicall {
                current: None,
                remaining: calls.iter().cloned().collect(),
                results: Vec::new(),
                size: 0,
            });
            Ok(match pending.poll(host) {
                Some(r) => Reply::Ready(r),
                None => Reply::Pending(pending),
            })
        }
        _ => Err(Fault::new(FaultCode::UnknownMethod, None)),
    }
}

fn multicall_one(host: &mut dyn Host, call: &Value) -> Reply {
    let call = match MulticallCall::from_value(call) {
        Ok(c) => c,
        Err(f) => return Reply::Ready(Err(f)),
    };
    if call.method_name == "system.multicall" {
        return Reply::Ready(Err(Fault::new(
            FaultCode::IncorrectParameters,
            Some("Recursive system.multicall forbidden"),
        )));
    }
    match dispatch_inner(host, &call.method_name, &call.params) {
        Ok(r) => r,
        Err(f) => Reply::Ready(Err(f)),
    }
}

fn supervisor_method(host: &mut dyn Host, method: &str, params: &[Value]) -> Result<Reply, Fault> {
    match method {
        "getAPIVersion" | "getVersion" => {
            Args::new(params, 0, 0)?;
            ready(Value::from(API_VERSION))
        }
        "getSupervisorVersion" => {
            Args::new(params, 0, 0)?;
            ready(Value::from(SUPERVISOR_VERSION))
        }
        "getIdentification" => {
            Args::new(params, 0, 0)?;
            ready(Value::from(host.identifier()))
        }
        "getState" => {
            Args::new(params, 0, 0)?;
            let mood = host.core().mood();
            ready(Value::new_struct([
                ("statecode", Value::Int(mood.code())),
                ("statename", Value::from(mood.name())),
            ]))
        }
        "getPID" => {
            Args::new(params, 0, 0)?;
            ready(Value::Int(clamp_int(i64::from(std::process::id()))))
        }
        "readLog" | "readMainLog" => {
            let a = Args::new(params, 2, 2)?;
            let path = host.main_log_path();
            read_log(path, a.int(0)?, a.int(1)?)
        }
        "clearLog" => {
            Args::new(params, 0, 0)?;
            // Supervisor: `RPCError(NO_FILE)` when there is no log or it does not exist, a
            // bare `FAILED` when it cannot be removed.
            if !host.main_log_path().is_some_and(|p| p.exists()) {
                return Err(Fault::new(FaultCode::NoFile, None));
            }
            host.clear_main_log()
                .map_err(|_| Fault::new(FaultCode::Failed, None))?;
            ready(Value::Boolean(true))
        }
        "shutdown" => {
            Args::new(params, 0, 0)?;
            host.request_shutdown();
            ready(Value::Boolean(true))
        }
        "restart" => {
            Args::new(params, 0, 0)?;
            host.request_restart();
            ready(Value::Boolean(true))
        }
        "reloadConfig" => {
            Args::new(params, 0, 0)?;
            host.reread()
                .map_err(|e| fault_of(FaultCode::CantReread, &e))?;
            let (added, changed, removed) = diff_to_active(host);
            let names = |v: Vec<String>| Value::Array(v.into_iter().map(Value::from).collect());
            ready(Value::Array(vec![Value::Array(vec![
                names(added),
                names(changed),
                names(removed),
            ])]))
        }
        "addProcessGroup" => {
            let a = Args::new(params, 1, 1)?;
            let name = a.string(0)?;
            // Supervisor looks the name up in the config first: a group that is active but no
            // longer configured is BAD_NAME, not ALREADY_ADDED.
            let config = host
                .stored_config()
                .groups
                .iter()
                .find(|g| g.name == name)
                .cloned()
                .ok_or_else(|| fault_of(FaultCode::BadName, name))?;
            if host.core().group(name).is_some() {
                return Err(fault_of(FaultCode::AlreadyAdded, name));
            }
            host.add_group(config).map_err(fault)?;
            ready(Value::Boolean(true))
        }
        "removeProcessGroup" => {
            let a = Args::new(params, 1, 1)?;
            host.remove_group(a.string(0)?).map_err(fault)?;
            ready(Value::Boolean(true))
        }
        "getProcessInfo" => {
            let a = Args::new(params, 1, 1)?;
            let key = single_process(host, a.string(0)?)?;
            ready(process_info(host, key).to_value())
        }
        "getAllProcessInfo" => {
            Args::new(params, 0, 0)?;
            let mut keys: Vec<(String, String, ProcKey)> = host
                .core()
                .processes()
                .map(|(k, p)| (p.group().to_string(), p.name().to_string(), k))
                .collect();
            keys.sort();
            ready(Value::Array(
                keys.into_iter()
                    .map(|(_, _, k)| process_info(host, k).to_value())
                    .collect(),
            ))
        }
        "getAllConfigInfo" => {
            Args::new(params, 0, 0)?;
            ready(all_config_info(host))
        }
        "startProcess" => {
            let a = Args::new(params, 1, 2)?;
            let wait = a.flag(1, true)?;
            let name = a.string(0)?;
            match host.core().resolve_target(name).map_err(fault)? {
                Target::Group { name: g, .. } => batch(host, Some(&g), Op::Start, wait),
                Target::Process(key) => Ok(start_one(host, key, name, wait)),
            }
        }
        "startProcessGroup" => {
            let a = Args::new(params, 1, 2)?;
            let wait = a.flag(1, true)?;
            let group = a.string(0)?;
            batch(host, Some(group), Op::Start, wait)
        }
        "startAllProcesses" => {
            let a = Args::new(params, 0, 1)?;
            batch(host, None, Op::Start, a.flag(0, true)?)
        }
        "stopProcess" => {
            let a = Args::new(params, 1, 2)?;
            let wait = a.flag(1, true)?;
            let name = a.string(0)?;
            match host.core().resolve_target(name).map_err(fault)? {
                Target::Group { name: g, .. } => batch(host, Some(&g), Op::Stop, wait),
                Target::Process(key) => Ok(stop_one(host, key, name, wait)),
            }
        }
        "stopProcessGroup" => {
            let a = Args::new(params, 1, 2)?;
            let wait = a.flag(1, true)?;
            let group = a.string(0)?;
            batch(host, Some(group), Op::Stop, wait)
        }
        "stopAllProcesses" => {
            let a = Args::new(params, 0, 1)?;
            batch(host, None, Op::Stop, a.flag(0, true)?)
        }
        "signalProcess" => {
            let a = Args::new(params, 2, 2)?;
            let name = a.string(0)?;
            // Supervisor resolves the name first; a group spec delegates to the group call,
            // which reports a bad signal per process.
            let sig = parse_signal(a.params.get(1));
            match host.core().resolve_target(name).map_err(fault)? {
                Target::Group { name: g, .. } => batch(host, Some(&g), Op::Signal(sig), false),
                Target::Process(key) => {
                    let sig = sig?;
                    let out = host.core_mut().signal(key, sig).map_err(fault)?;
                    host.apply(out);
                    ready(Value::Boolean(true))
                }
            }
        }
        "signalProcessGroup" => {
            let a = Args::new(params, 2, 2)?;
            let group = a.string(0)?;
            // A bad signal is reported per process (`BAD_SIGNAL` result structs), like
            // Supervisor, whose group call runs `signalProcess` for each member.
            let sig = parse_signal(a.params.get(1));
            let reply = batch(host, Some(group), Op::Signal(sig), false)?;
            check_mood(host)?;
            Ok(reply)
        }
        "signalAllProcesses" => {
            let a = Args::new(params, 1, 1)?;
            let sig = parse_signal(a.params.first());
            let reply = batch(host, None, Op::Signal(sig), false)?;
            check_mood(host)?;
            Ok(reply)
        }
        "sendProcessStdin" => {
            let a = Args::new(params, 2, 2)?;
            let name = a.string(0)?;
            let chars = match a.params.get(1) {
                Some(Value::String(s)) => s.as_bytes().to_vec(),
                Some(Value::Base64(b)) => b.clone(),
                // `RPCError(INCORRECT_PARAMETERS, chars)`: Python's str() of the value.
                Some(Value::Int(n)) => {
                    return Err(fault_of(FaultCode::IncorrectParameters, &n.to_string()))
                }
                Some(Value::Boolean(b)) => {
                    let text = if *b { "True" } else { "False" };
                    return Err(fault_of(FaultCode::IncorrectParameters, text));
                }
                _ => return Err(bad_params()),
            };
            let key = single_process(host, name)?;
            let p = host
                .core()
                .process(key)
                .ok_or_else(|| fault_of(FaultCode::BadName, name))?;
            if p.pid().is_none() || p.state() == ProcessState::Stopping {
                return Err(fault_of(FaultCode::NotRunning, name));
            }
            // Supervisor: `RPCError(NO_FILE, name)` when the stdin cannot take the bytes;
            // a full queue (a child that does not read) is the same fault with the reason.
            match host.send_stdin(key, chars) {
                Ok(()) => {}
                Err(StdinError::Closed) => return Err(fault_of(FaultCode::NoFile, name)),
                Err(StdinError::Full { queued, limit }) => {
                    return Err(fault_of(
                        FaultCode::NoFile,
                        &format!(
                            "{name}: stdin not accepting input ({queued} bytes already queued, \
                             limit {limit})"
                        ),
                    ))
                }
            }
            ready(Value::Boolean(true))
        }
        "sendRemoteCommEvent" => {
            let a = Args::new(params, 2, 2)?;
            let (kind, data) = (a.string(0)?, a.string(1)?);
            host.remote_comm_event(kind, data);
            ready(Value::Boolean(true))
        }
        "readProcessLog" | "readProcessStdoutLog" | "readProcessStderrLog" => {
            let a = Args::new(params, 3, 3)?;
            let channel = if method == "readProcessStderrLog" {
                Channel::Stderr
            } else {
                Channel::Stdout
            };
            let key = single_process(host, a.string(0)?)?;
            read_log(host.log_path(key, channel), a.int(1)?, a.int(2)?)
        }
        "tailProcessLog" | "tailProcessStdoutLog" | "tailProcessStderrLog" => {
            let a = Args::new(params, 3, 3)?;
            let channel = if method == "tailProcessStderrLog" {
                Channel::Stderr
            } else {
                Channel::Stdout
            };
            let key = single_process(host, a.string(0)?)?;
            let (offset, length) = (a.int(1)?, a.int(2)?);
            let empty =
                || Value::Array(vec![Value::from(""), Value::Int(0), Value::Boolean(false)]);
            let Some(path) = host.log_path(key, channel) else {
                return ready(empty());
            };
            match logs::tail(
                &path,
                u64::try_from(offset).unwrap_or(0),
                u64::try_from(length).unwrap_or(0),
                MAX_RESPONSE as u64,
            ) {
                Ok((data, size, overflow)) => ready(Value::Array(vec![
                    Value::from(String::from_utf8_lossy(&data).into_owned()),
                    Value::Int(clamp_int(i64::try_from(size).unwrap_or(i64::MAX))),
                    Value::Boolean(overflow),
                ])),
                Err(e) if e.kind() == std::io::ErrorKind::FileTooLarge => Err(response_too_large()),
                Err(_) => ready(Value::Array(vec![
                    Value::from(""),
                    Value::Int(offset),
                    Value::Boolean(false),
                ])),
            }
        }
        "clearProcessLog" | "clearProcessLogs" => {
            let a = Args::new(params, 1, 1)?;
            let name = a.string(0)?;
            let key = single_process(host, name)?;
            // Supervisor: `RPCError(FAILED, name)`.
            host.clear_process_logs(key)
                .map_err(|_| fault_of(FaultCode::Failed, name))?;
            ready(Value::Boolean(true))
        }
        "clearAllProcessLogs" => {
            Args::new(params, 0, 0)?;
            let keys: Vec<ProcKey> = host.core().processes().map(|(k, _)| k).collect();
            let mut results = Vec::new();
            for key in keys {
                let Some(p) = host.core().process(key) else {
                    continue;
                };
                let (name, group, namespec) =
                    (p.name().to_string(), p.group().to_string(), p.namespec());
                let r = match host.clear_process_logs(key) {
                    Ok(()) => GroupResult::success(name, group),
                    Err(_) => {
                        GroupResult::failed(name, group, &fault_of(FaultCode::Failed, &namespec))
                    }
                };
                results.push(r.to_value());
            }
            ready(Value::Array(results))
        }
        _ => Err(Fault::new(FaultCode::UnknownMethod, None)),
    }
}

fn parse_signal(v: Option<&Value>) -> Result<i32, Fault> {
    let text = match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Int(n)) => n.to_string(),
        _ => return Err(bad_params()),
    };
    values::parse_signal(&text).map_err(|_| fault_of(FaultCode::BadSignal, &text))
}

/// A namespec that must name one process (a group spec is BAD_NAME).
fn single_process(host: &dyn Host, name: &str) -> Result<ProcKey, Fault> {
    match host.core().resolve_target(name).map_err(fault)? {
        Target::Process(k) => Ok(k),
        Target::Group { .. } => Err(fault_of(FaultCode::BadName, name)),
    }
}

fn read_log(path: Option<PathBuf>, offset: i32, length: i32) -> Result<Reply, Fault> {
    let Some(path) = path else {
        // `RPCError(NO_FILE, None)`: no detail.
        return Err(Fault::new(FaultCode::NoFile, None));
    };
    match logs::read_range(
        &path,
        i64::from(offset),
        i64::from(length),
        MAX_RESPONSE as u64,
    ) {
        Ok(data) => ready(Value::from(String::from_utf8_lossy(&data).into_owned())),
        Err(ReadError::NoFile) => Err(fault_of(FaultCode::NoFile, &path.display().to_string())),
        Err(ReadError::BadArguments) => Err(Fault::new(FaultCode::BadArguments, None)),
        Err(ReadError::Failed(e)) => Err(fault_of(FaultCode::Failed, &e.to_string())),
        Err(ReadError::TooLarge(_)) => Err(response_too_large()),
    }
}

enum Op {
    Start,
    Stop,
    /// The parsed signal, or the fault each process reports.
    Signal(Result<i32, Fault>),
}

/// Group (`Some(group)`) or all-process variants: only processes the operation applies to,
/// in priority order; results as `{name, group, status, description}` structs. As in
/// Supervisor's `make_allfunc`, the results of calls answered at once come first (in priority
/// order), then those of waiting calls in the order they finish.
fn batch(host: &mut dyn Host, group: Option<&str>, op: Op, wait: bool) -> Result<Reply, Fault> {
    let keys: Vec<ProcKey> = match group {
        Some(g) => host
            .core()
            .group(g)
            .ok_or_else(|| fault_of(FaultCode::BadName, g))?
            .members
            .to_vec(),
        None => host.core().processes().map(|(k, _)| k).collect(),
    };
    let (mut done, mut waiting) = (Vec::new(), Vec::new());
    for key in keys {
        let Some(p) = host.core().process(key) else {
            continue;
        };
        let state = p.state();
        let applies = match &op {
            Op::Start => !state.is_running(),
            // Extension (dependencies): a start waiting for dependencies can be cancelled.
            Op::Stop => state.is_running() || p.start_waiting(),
            Op::Signal(_) => state.is_signallable(),
        };
        if !applies {
            continue;
        }
        let (name, group_name, namespec) =
            (p.name().to_string(), p.group().to_string(), p.namespec());
        let reply = match &op {
            Op::Start => start_one(host, key, &namespec, wait),
            Op::Stop => stop_one(host, key, &namespec, wait),
            Op::Signal(Err(f)) => Reply::Ready(Err(f.clone())),
            Op::Signal(Ok(sig)) => Reply::Ready(match host.core_mut().signal(key, *sig) {
                Ok(out) => {
                    host.apply(out);
                    Ok(Value::Boolean(true))
                }
                Err(e) => Err(fault(e)),
            }),
        };
        match reply {
            Reply::Ready(r) => done.push(group_result(&name, &group_name, r)),
            Reply::Pending(p) => waiting.push((Box::new(p), name, group_name)),
        }
    }
    let mut pending = Pending(PendingKind::Batch { done, waiting });
    Ok(match pending.poll(host) {
        Some(r) => Reply::Ready(r),
        None => Reply::Pending(pending),
    })
}

/// `startProcess` for one process (upstream-reference §4.5).
fn start_one(host: &mut dyn Host, key: ProcKey, name: &str, wait: bool) -> Reply {
    let Some(p) = host.core().process(key) else {
        return Reply::Ready(Err(fault_of(FaultCode::BadName, name)));
    };
    // Check the command before trying: a missing or non-executable program is reported as
    // NO_FILE / NOT_EXECUTABLE instead of a spawn error.
    if let Err(msg) = spawn::resolve_command(&p.config, host.base_env()) {
        let code = if msg.starts_with("can't find command") {
            FaultCode::NoFile
        } else {
            FaultCode::NotExecutable
        };
        return Reply::Ready(Err(fault_of(code, &msg)));
    }
    match host.core_mut().start(key, Instant::now()) {
        Ok(out) => host.apply(out),
        Err(e) => return Reply::Ready(Err(fault(e))),
    }
    // Supervisor calls `process.transition()` once right after the spawn, so a `startsecs=0`
    // program is RUNNING before the call answers (and a group call lists it at once).
    let out = host.core_mut().tick(Instant::now());
    host.apply(out);
    if let Some(p) = host.core().process(key) {
        if p.spawnerr().is_some() && p.state() != ProcessState::Running {
            return Reply::Ready(Err(fault_of(FaultCode::SpawnError, name)));
        }
    }
    if !wait {
        return Reply::Ready(Ok(Value::Boolean(true)));
    }
    let mut pending = Pending(PendingKind::Start {
        key,
        name: name.to_string(),
    });
    match pending.poll(host) {
        Some(r) => Reply::Ready(r),
        None => Reply::Pending(pending),
    }
}

fn poll_start(host: &mut dyn Host, key: ProcKey, name: &str) -> Option<Result<Value, Fault>> {
    let Some(p) = host.core().process(key) else {
        return Some(Err(fault_of(FaultCode::AbnormalTermination, name)));
    };
    if p.spawnerr().is_some() && p.state() != ProcessState::Running {
        return Some(Err(fault_of(FaultCode::SpawnError, name)));
    }
    match p.state() {
        ProcessState::Running => Some(Ok(Value::Boolean(true))),
        ProcessState::Starting => None,
        // Extension (dependencies): waiting for its dependencies to come up.
        _ if p.start_waiting() => None,
        _ => Some(Err(fault_of(FaultCode::AbnormalTermination, name))),
    }
}

/// `stopProcess` for one process.
fn stop_one(host: &mut dyn Host, key: ProcKey, name: &str, wait: bool) -> Reply {
    match host.core_mut().stop(key, Instant::now()) {
        Ok(out) => host.apply(out),
        Err(e) => return Reply::Ready(Err(fault(e))),
    }
    if !wait {
        return Reply::Ready(Ok(Value::Boolean(true)));
    }
    let mut pending = Pending(PendingKind::Stop {
        key,
        name: name.to_string(),
    });
    match pending.poll(host) {
        Some(r) => Reply::Ready(r),
        None => Reply::Pending(pending),
    }
}

fn poll_stop(host: &mut dyn Host, key: ProcKey, _name: &str) -> Option<Result<Value, Fault>> {
    let Some(p) = host.core().process(key) else {
        return Some(Ok(Value::Boolean(true)));
    };
    if p.state().is_stopped() {
        return Some(Ok(Value::Boolean(true)));
    }
    let out = host.core_mut().stop_report(key, Instant::now());
    host.apply(out);
    None
}

fn process_info(host: &dyn Host, key: ProcKey) -> ProcessInfo {
    let (now, wall) = (Instant::now(), SystemTime::now());
    let wall_s = wall
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let path = |c| {
        host.log_name(key, c)
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    };
    let Some(p) = host.core().process(key) else {
        return ProcessInfo {
            name: String::new(),
            group: String::new(),
            description: String::new(),
            start: 0,
            stop: 0,
            now: clamp_int(wall_s),
            state: ProcessState::Unknown.code(),
            statename: ProcessState::Unknown.name().to_string(),
            spawnerr: String::new(),
            exitstatus: 0,
            logfile: String::new(),
            stdout_logfile: String::new(),
            stderr_logfile: String::new(),
            pid: 0,
        };
    };
    let mut snap = p.snapshot();
    snap.scheduled_start = host.core().scheduled_start(key);
    let stdout = path(Channel::Stdout);
    ProcessInfo {
        name: snap.name.clone(),
        group: snap.group.clone(),
        description: snap.description(now, wall),
        start: clamp_int(snap.start_unix(now, wall)),
        stop: clamp_int(snap.stop_unix(now, wall)),
        now: clamp_int(wall_s),
        state: snap.state.code(),
        statename: snap.state.name().to_string(),
        spawnerr: snap.spawnerr.clone(),
        exitstatus: snap.exitstatus,
        logfile: stdout.clone(),
        stdout_logfile: stdout,
        stderr_logfile: path(Channel::Stderr),
        pid: snap.pid,
    }
}

/// `reloadConfig`'s diff between the stored config and the active groups.
fn diff_to_active(host: &dyn Host) -> (Vec<String>, Vec<String>, Vec<String>) {
    let new = &host.stored_config().groups;
    let core = host.core();
    let mut added = Vec::new();
    let mut changed = Vec::new();
    for g in new {
        match core.group(&g.name) {
            None => added.push(g.name.clone()),
            Some(view) => {
                let active: Vec<&ProcessConfig> = view
                    .members
                    .iter()
                    .filter_map(|k| core.process(*k).map(|p| &p.config))
                    .collect();
                let same = view.priority == g.priority
                    && *view.kind == g.kind
                    && active.len() == g.processes.len()
                    && active.iter().zip(&g.processes).all(|(a, b)| *a == b);
                if !same {
                    changed.push(g.name.clone());
                }
            }
        }
    }
    let removed = core
        .group_names()
        .filter(|n| !new.iter().any(|g| g.name == *n))
        .map(str::to_string)
        .collect();
    (added, changed, removed)
}

fn logfile_text(host: &dyn Host, key: Option<ProcKey>, f: &LogFile, c: Channel) -> String {
    match f {
        LogFile::None => "none".to_string(),
        LogFile::Syslog => "syslog".to_string(),
        LogFile::Path(p) => p.display().to_string(),
        LogFile::Auto => key
            .and_then(|k| host.log_name(k, c))
            .map_or_else(|| "auto".to_string(), |p| p.display().to_string()),
    }
}

fn all_config_info(host: &dyn Host) -> Value {
    let core = host.core();
    let mut infos: Vec<ConfigInfo> = Vec::new();
    for g in &host.stored_config().groups {
        let inuse = core.group(&g.name).is_some();
        for pc in &g.processes {
            let key = core
                .resolve(&format!("{}:{}", g.name, pc.name))
                .ok()
                .and_then(|k| k.first().copied())
                .filter(|_| inuse);
            let int = |v: u64| clamp_int(i64::try_from(v).unwrap_or(i64::MAX));
            let uid = pc
                .user
                .as_deref()
                .and_then(|u| values::name_to_uid(u).ok())
                .map(|u| clamp_int(i64::from(u)));
            infos.push(ConfigInfo {
                autostart: pc.autostart,
                directory: pc
                    .directory
                    .as_ref()
                    .map_or_else(|| "none".to_string(), |d| d.display().to_string()),
                uid,
                command: pc.command.clone(),
                exitcodes: pc.exitcodes.clone(),
                group: g.name.clone(),
                group_prio: g.priority,
                inuse,
                killasgroup: pc.killasgroup,
                name: pc.name.clone(),
                process_prio: pc.priority,
                redirect_stderr: pc.redirect_stderr,
                startretries: clamp_int(i64::from(pc.startretries)),
                startsecs: int(pc.startsecs),
                stdout_capture_maxbytes: int(pc.stdout.capture_maxbytes),
                stdout_events_enabled: pc.stdout.events_enabled,
                stdout_logfile: logfile_text(host, key, &pc.stdout.logfile, Channel::Stdout),
                stdout_logfile_backups: clamp_int(i64::from(pc.stdout.logfile_backups)),
                stdout_logfile_maxbytes: int(pc.stdout.logfile_maxbytes),
                stdout_syslog: pc.stdout.syslog,
                stopsignal: pc.stopsignal,
                stopwaitsecs: int(pc.stopwaitsecs),
                stderr_capture_maxbytes: int(pc.stderr.capture_maxbytes),
                stderr_events_enabled: pc.stderr.events_enabled,
                stderr_logfile: logfile_text(host, key, &pc.stderr.logfile, Channel::Stderr),
                stderr_logfile_backups: clamp_int(i64::from(pc.stderr.logfile_backups)),
                stderr_logfile_maxbytes: int(pc.stderr.logfile_maxbytes),
                stderr_syslog: pc.stderr.syslog,
                // Supervisor stores `AUTO` (the default) as None, sent as `none`.
                serverurl: pc
                    .serverurl
                    .clone()
                    .filter(|u| !u.trim().eq_ignore_ascii_case("AUTO"))
                    .unwrap_or_else(|| "none".to_string()),
            });
        }
    }
    infos.sort_by(|a, b| a.name.cmp(&b.name));
    ConfigInfo::list_to_value(&infos)
}

#[cfg(test)]
#[path = "methods_tests.rs"]
mod tests;
