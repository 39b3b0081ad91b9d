//! A blocking XML-RPC client for supervisord, found the way
//! `supervisor.childutils.getRPCInterface(os.environ)` finds it: `SUPERVISOR_SERVER_URL`
//! (`unix://` or `http://`), with Basic credentials from `SUPERVISOR_USERNAME` /
//! `SUPERVISOR_PASSWORD` (supervisord never sets these; add them with `environment=`, or pass
//! them with the listeners' `--rpc-user` / `--rpc-password` flags).

use std::fmt;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use supervisor_protocol::xmlrpc::{
    CallExchange, Fault, ProcessInfo, RpcStruct, ServerAddress, Value, DEFAULT_MAX_RESPONSE_BYTES,
};

/// A call failed: the server answered with a fault, or it could not be reached or understood.
#[derive(Debug, Clone)]
pub enum RpcError {
    Fault(Fault),
    Transport(String),
}

impl fmt::Display for RpcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RpcError::Fault(fault) => write!(f, "<Fault {}: {:?}>", fault.code, fault.string),
            RpcError::Transport(e) => f.write_str(e),
        }
    }
}

impl std::error::Error for RpcError {}

/// Where supervisord listens and how to authenticate.
#[derive(Debug, Clone)]
pub struct Rpc {
    pub address: ServerAddress,
    pub auth: Option<(String, String)>,
    /// Connect/read timeout of quick calls; `stopProcess`/`startProcess` wait for the process,
    /// so they get [`Rpc::slow_timeout`].
    pub timeout: Duration,
    pub slow_timeout: Duration,
}

impl Rpc {
    /// From `SUPERVISOR_SERVER_URL` etc.; `Err` names what is missing or wrong.
    pub fn from_env() -> Result<Rpc, String> {
        let url = std::env::var("SUPERVISOR_SERVER_URL")
            .map_err(|_| "SUPERVISOR_SERVER_URL is not set".to_string())?;
        let mut rpc = Rpc::new(&url)?;
        if let Ok(user) = std::env::var("SUPERVISOR_USERNAME") {
            let password = std::env::var("SUPERVISOR_PASSWORD").unwrap_or_default();
            rpc.auth = Some((user, password));
        }
        Ok(rpc)
    }

    pub fn new(url: &str) -> Result<Rpc, String> {
        Ok(Rpc {
            address: ServerAddress::parse(url)?,
            auth: None,
            timeout: Duration::from_secs(30),
            slow_timeout: Duration::from_secs(300),
        })
    }

    /// Overrides the credentials (command-line flags win over the environment).
    pub fn with_auth(mut self, user: Option<String>, password: Option<String>) -> Rpc {
        if let Some(user) = user {
            let password = password
                .or_else(|| self.auth.take().map(|a| a.1))
                .unwrap_or_default();
            self.auth = Some((user, password));
        } else if let (Some(p), Some(auth)) = (password, self.auth.as_mut()) {
            auth.1 = p;
        }
        self
    }

    /// One call on a fresh connection.
    pub fn call(&self, method: &str, params: &[Value]) -> Result<Value, RpcError> {
        let timeout = if method.ends_with("stopProcess") || method.ends_with("startProcess") {
            self.slow_timeout
        } else {
            self.timeout
        };
        let auth = self.auth.as_ref().map(|(u, p)| (u.as_str(), p.as_str()));
        let (mut ex, request) = CallExchange::start(
            "/RPC2",
            &self.address.host_header(),
            auth,
            method,
            params,
            DEFAULT_MAX_RESPONSE_BYTES,
        );
        let transport =
            |e: std::io::Error| RpcError::Transport(format!("{method}: {}: {e}", self.describe()));
        let mut stream: Box<dyn ReadWrite> = match &self.address {
            ServerAddress::Unix(path) => {
                let s = UnixStream::connect(path).map_err(transport)?;
                s.set_read_timeout(Some(timeout)).map_err(transport)?;
                s.set_write_timeout(Some(timeout)).map_err(transport)?;
                Box::new(s)
            }
            ServerAddress::Tcp { host, port } => {
                let addrs = std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), *port))
                    .map_err(transport)?;
                let mut last = None;
                let mut found = None;
                for a in addrs {
                    match TcpStream::connect_timeout(&a, self.timeout) {
                        Ok(s) => {
                            found = Some(s);
                            break;
                        }
                        Err(e) => last = Some(e),
                    }
                }
                let s = found.ok_or_else(|| {
                    transport(last.unwrap_or_else(|| std::io::Error::other("no address")))
                })?;
                s.set_read_timeout(Some(timeout)).map_err(transport)?;
                s.set_write_timeout(Some(timeout)).map_err(transport)?;
                Box::new(s)
            }
        };
        stream.write_all(&request).map_err(transport)?;
        let mut buf = vec![0u8; 16384];
        let done = loop {
            let n = stream.read(&mut buf).map_err(transport)?;
            let step = if n == 0 {
                ex.finish()
            } else {
                ex.feed(&buf[..n])
            };
            match step {
                Ok(Some(result)) => break result,
                Ok(None) if n == 0 => {
                    return Err(RpcError::Transport(format!("{method}: connection closed")))
                }
                Ok(None) => {}
                Err(e) => {
                    return Err(RpcError::Transport(format!(
                        "{method}: {}: {e}",
                        self.describe()
                    )))
                }
            }
        };
        done.map_err(RpcError::Fault)
    }

    fn describe(&self) -> String {
        match &self.address {
            ServerAddress::Unix(p) => format!("unix://{p}"),
            ServerAddress::Tcp { host, port } => format!("http://{host}:{port}"),
        }
    }

    pub fn get_all_process_info(&self) -> Result<Vec<ProcessInfo>, RpcError> {
        let v = self.call("supervisor.getAllProcessInfo", &[])?;
        ProcessInfo::list_from_value(&v)
            .map_err(|e| RpcError::Transport(format!("getAllProcessInfo: {e}")))
    }

    pub fn get_process_info(&self, namespec: &str) -> Result<ProcessInfo, RpcError> {
        let v = self.call("supervisor.getProcessInfo", &[Value::from(namespec)])?;
        ProcessInfo::from_value(&v).map_err(|e| RpcError::Transport(format!("getProcessInfo: {e}")))
    }

    pub fn stop_process(&self, namespec: &str) -> Result<(), RpcError> {
        self.call(
            "supervisor.stopProcess",
            &[Value::from(namespec), Value::Boolean(true)],
        )
        .map(|_| ())
    }

    pub fn start_process(&self, namespec: &str) -> Result<(), RpcError> {
        self.call(
            "supervisor.startProcess",
            &[Value::from(namespec), Value::Boolean(true)],
        )
        .map(|_| ())
    }
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}
