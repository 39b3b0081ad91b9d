//! Typed XML-RPC calls over [`Transport`].

use supervisor_protocol::xmlrpc::{ConfigInfo, Fault, GroupResult, ProcessInfo, RpcStruct, Value};

use super::transport::{Transport, TransportError};

/// A call failed: the server answered with a fault, or there was no usable answer.
#[derive(Debug)]
pub enum RpcError {
    Fault(Fault),
    Transport(TransportError),
}

impl From<TransportError> for RpcError {
    fn from(e: TransportError) -> Self {
        RpcError::Transport(e)
    }
}

impl RpcError {
    pub fn fault_code(&self) -> Option<i32> {
        match self {
            RpcError::Fault(f) => Some(f.code),
            RpcError::Transport(_) => None,
        }
    }

    pub fn is_401(&self) -> bool {
        matches!(
            self,
            RpcError::Transport(TransportError::Status { code: 401, .. })
        )
    }

    /// The line Python's supervisorctl prints for an exception it does not handle
    /// (`error: <class ...>, <message>: file: ... line: ...`). The file and line refer to our
    /// own code, so they cannot match Python's.
    pub fn python_error_line(&self, host: &str) -> String {
        let (class, msg) = match self {
            RpcError::Fault(f) => (
                "xmlrpc.client.Fault".to_string(),
                format!("<Fault {}: {}>", f.code, py_str_repr(&f.string)),
            ),
            RpcError::Transport(t) => match t {
                TransportError::Refused => (
                    "ConnectionRefusedError".to_string(),
                    "[Errno 111] Connection refused".to_string(),
                ),
                TransportError::NoSuchFile => (
                    "FileNotFoundError".to_string(),
                    "[Errno 2] No such file or directory".to_string(),
                ),
                TransportError::Status { code, reason } => (
                    "xmlrpc.client.ProtocolError".to_string(),
                    format!("<ProtocolError for {host}/RPC2: {code} {reason}>"),
                ),
                TransportError::Io(e) => {
                    let class = match e.kind() {
                        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => {
                            "TimeoutError"
                        }
                        std::io::ErrorKind::ConnectionReset => "ConnectionResetError",
                        std::io::ErrorKind::PermissionDenied => "PermissionError",
                        _ => "OSError",
                    };
                    let msg = match e.raw_os_error() {
                        Some(n) => {
                            let text = e.to_string();
                            let text = text.split(" (os error").next().unwrap_or("").to_string();
                            format!("[Errno {n}] {text}")
                        }
                        None => e.to_string(),
                    };
                    (class.to_string(), msg)
                }
                TransportError::Protocol(m) => {
                    ("xmlrpc.client.ResponseError".to_string(), m.clone())
                }
            },
        };
        format!("error: <class '{class}'>, {msg}: file: supervisorctl line: 0")
    }
}

/// Python's `repr()` of a str, for fault strings.
pub use supervisor_protocol::pyrepr::repr_str as py_str_repr;

pub type CallResult<T> = Result<T, RpcError>;

fn bad_reply(method: &str, what: impl std::fmt::Display) -> RpcError {
    RpcError::Transport(TransportError::Protocol(format!(
        "unexpected reply to {method}: {what}"
    )))
}

/// An XML-RPC client of one server.
#[derive(Debug, Clone)]
pub struct Client {
    pub transport: Transport,
}

impl Client {
    pub fn new(transport: Transport) -> Client {
        Client { transport }
    }

    pub fn call(&self, method: &str, params: &[Value]) -> CallResult<Value> {
        self.transport
            .call(method, params)?
            .map_err(RpcError::Fault)
    }

    fn call_str(&self, method: &str, params: &[Value]) -> CallResult<String> {
        let v = self.call(method, params)?;
        match v {
            Value::String(s) => Ok(s),
            other => Err(bad_reply(method, format!("a {}", other.type_name()))),
        }
    }

    fn call_int(&self, method: &str, params: &[Value]) -> CallResult<i32> {
        let v = self.call(method, params)?;
        v.as_i32()
            .ok_or_else(|| bad_reply(method, format!("a {}", v.type_name())))
    }

    fn call_results(&self, method: &str, params: &[Value]) -> CallResult<Vec<GroupResult>> {
        let v = self.call(method, params)?;
        GroupResult::list_from_value(&v).map_err(|e| bad_reply(method, e))
    }

    pub fn get_version(&self) -> CallResult<String> {
        self.call_str("supervisor.getVersion", &[])
    }
    pub fn get_supervisor_version(&self) -> CallResult<String> {
        self.call_str("supervisor.getSupervisorVersion", &[])
    }
    pub fn get_pid(&self) -> CallResult<i32> {
        self.call_int("supervisor.getPID", &[])
    }
    pub fn get_all_process_info(&self) -> CallResult<Vec<ProcessInfo>> {
        let v = self.call("supervisor.getAllProcessInfo", &[])?;
        ProcessInfo::list_from_value(&v).map_err(|e| bad_reply("getAllProcessInfo", e))
    }
    pub fn get_process_info(&self, name: &str) -> CallResult<ProcessInfo> {
        let v = self.call("supervisor.getProcessInfo", &[s(name)])?;
        ProcessInfo::from_value(&v).map_err(|e| bad_reply("getProcessInfo", e))
    }
    pub fn get_all_config_info(&self) -> CallResult<Vec<ConfigInfo>> {
        let v = self.call("supervisor.getAllConfigInfo", &[])?;
        ConfigInfo::list_from_value(&v).map_err(|e| bad_reply("getAllConfigInfo", e))
    }
    pub fn start_process(&self, name: &str) -> CallResult<Value> {
        self.call("supervisor.startProcess", &[s(name)])
    }
    pub fn start_process_group(&self, name: &str) -> CallResult<Vec<GroupResult>> {
        self.call_results("supervisor.startProcessGroup", &[s(name)])
    }
    pub fn start_all_processes(&self) -> CallResult<Vec<GroupResult>> {
        self.call_results("supervisor.startAllProcesses", &[])
    }
    pub fn stop_process(&self, name: &str) -> CallResult<Value> {
        self.call("supervisor.stopProcess", &[s(name)])
    }
    pub fn stop_process_group(&self, name: &str) -> CallResult<Vec<GroupResult>> {
        self.call_results("supervisor.stopProcessGroup", &[s(name)])
    }
    pub fn stop_all_processes(&self) -> CallResult<Vec<GroupResult>> {
        self.call_results("supervisor.stopAllProcesses", &[])
    }
    pub fn signal_process(&self, name: &str, sig: &str) -> CallResult<Value> {
        self.call("supervisor.signalProcess", &[s(name), s(sig)])
    }
    pub fn signal_process_group(&self, name: &str, sig: &str) -> CallResult<Vec<GroupResult>> {
        self.call_results("supervisor.signalProcessGroup", &[s(name), s(sig)])
    }
    pub fn signal_all_processes(&self, sig: &str) -> CallResult<Vec<GroupResult>> {
        self.call_results("supervisor.signalAllProcesses", &[s(sig)])
    }
    pub fn clear_process_logs(&self, name: &str) -> CallResult<Value> {
        self.call("supervisor.clearProcessLogs", &[s(name)])
    }
    pub fn clear_all_process_logs(&self) -> CallResult<Vec<GroupResult>> {
        self.call_results("supervisor.clearAllProcessLogs", &[])
    }
    pub fn read_process_log(&self, name: &str, stderr: bool, offset: i32) -> CallResult<String> {
        let method = if stderr {
            "supervisor.readProcessStderrLog"
        } else {
            "supervisor.readProcessStdoutLog"
        };
        self.call_str(method, &[s(name), Value::Int(offset), Value::Int(0)])
    }
    pub fn read_log(&self, offset: i32) -> CallResult<String> {
        self.call_str("supervisor.readLog", &[Value::Int(offset), Value::Int(0)])
    }
    /// `reloadConfig()` → `(added, changed, removed)`.
    pub fn reload_config(&self) -> CallResult<(Vec<String>, Vec<String>, Vec<String>)> {
        let v = self.call("supervisor.reloadConfig", &[])?;
        let bad = || bad_reply("reloadConfig", "not [[added, changed, removed]]");
        let outer = v.as_array().ok_or_else(bad)?;
        let inner = outer.first().and_then(Value::as_array).ok_or_else(bad)?;
        let list = |i: usize| -> CallResult<Vec<String>> {
            inner
                .get(i)
                .and_then(Value::as_array)
                .ok_or_else(bad)?
                .iter()
                .map(|x| x.as_str().map(String::from).ok_or_else(bad))
                .collect()
        };
        Ok((list(0)?, list(1)?, list(2)?))
    }
    pub fn add_process_group(&self, name: &str) -> CallResult<Value> {
        self.call("supervisor.addProcessGroup", &[s(name)])
    }
    pub fn remove_process_group(&self, name: &str) -> CallResult<Value> {
        self.call("supervisor.removeProcessGroup", &[s(name)])
    }
    pub fn shutdown(&self) -> CallResult<Value> {
        self.call("supervisor.shutdown", &[])
    }
    pub fn restart(&self) -> CallResult<Value> {
        self.call("supervisor.restart", &[])
    }
    pub fn send_process_stdin(&self, name: &str, chars: &str) -> CallResult<Value> {
        self.call("supervisor.sendProcessStdin", &[s(name), s(chars)])
    }
}

fn s(x: &str) -> Value {
    Value::String(x.to_string())
}
