//! A tiny blocking XML-RPC / HTTP client for the end-to-end tests: plain std sockets, one
//! connection per request. XML-RPC calls are protocol's `CallExchange` (so Python's server
//! checks our client too); the raw helpers (`raw`, `post`, `get`, `Stream`) write requests by
//! hand on purpose, to send the server what a well-behaved client never would.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use supervisor_protocol::xmlrpc::{CallExchange, DEFAULT_MAX_RESPONSE_BYTES};
pub use supervisor_protocol::xmlrpc::{Fault, Value};

/// The result of one XML-RPC call.
pub type CallResult = Result<Value, Fault>;

/// Where a daemon's HTTP server listens.
#[derive(Clone, Debug)]
pub enum Endpoint {
    Unix(PathBuf),
    Tcp(u16),
}

/// A client for one server, optionally with Basic credentials.
#[derive(Clone, Debug)]
pub struct RpcClient {
    pub endpoint: Endpoint,
    pub auth: Option<(String, String)>,
    /// Read/write timeout of every request (a hung server fails the test, never hangs it).
    pub timeout: Duration,
}

/// A complete HTTP response.
#[derive(Clone, Debug)]
pub struct HttpResponse {
    pub status: u16,
    /// Header names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Something we can talk HTTP over.
pub trait Conn: Read + Write + Send {
    fn set_timeouts(&self, t: Option<Duration>);
}

impl Conn for UnixStream {
    fn set_timeouts(&self, t: Option<Duration>) {
        let _ = self.set_read_timeout(t);
        let _ = self.set_write_timeout(t);
    }
}

impl Conn for TcpStream {
    fn set_timeouts(&self, t: Option<Duration>) {
        let _ = self.set_read_timeout(t);
        let _ = self.set_write_timeout(t);
    }
}

impl RpcClient {
    pub fn unix(path: impl Into<PathBuf>) -> RpcClient {
        RpcClient {
            endpoint: Endpoint::Unix(path.into()),
            auth: None,
            timeout: Duration::from_secs(30),
        }
    }

    pub fn tcp(port: u16, auth: Option<(&str, &str)>) -> RpcClient {
        RpcClient {
            endpoint: Endpoint::Tcp(port),
            auth: auth.map(|(u, p)| (u.to_owned(), p.to_owned())),
            timeout: Duration::from_secs(30),
        }
    }

    /// A copy with other credentials.
    pub fn with_auth(&self, auth: Option<(&str, &str)>) -> RpcClient {
        RpcClient {
            auth: auth.map(|(u, p)| (u.to_owned(), p.to_owned())),
            ..self.clone()
        }
    }

    /// Opens a fresh connection.
    pub fn connect(&self) -> std::io::Result<Box<dyn Conn>> {
        let conn: Box<dyn Conn> = match &self.endpoint {
            Endpoint::Unix(p) => Box::new(UnixStream::connect(p)?),
            Endpoint::Tcp(port) => Box::new(TcpStream::connect(("127.0.0.1", *port))?),
        };
        conn.set_timeouts(Some(self.timeout));
        Ok(conn)
    }

    /// The request head for `method path` with `extra` headers (auth added when configured).
    pub fn head(&self, method: &str, path: &str, extra: &[(&str, String)]) -> String {
        let mut h = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\n");
        if let Some((u, p)) = &self.auth {
            h.push_str(&format!(
                "Authorization: {}\r\n",
                supervisor_protocol::xmlrpc::http::basic_auth_header(u, p)
            ));
        }
        for (k, v) in extra {
            h.push_str(&format!("{k}: {v}\r\n"));
        }
        h.push_str("\r\n");
        h
    }

    /// Sends raw bytes on a new connection and reads one response.
    pub fn raw(&self, request: &[u8]) -> Result<HttpResponse, String> {
        let mut conn = self.connect().map_err(|e| format!("connect: {e}"))?;
        conn.write_all(request).map_err(|e| format!("write: {e}"))?;
        read_response(&mut *conn)
    }

    /// `POST path` with `body` and a correct Content-Length.
    pub fn post(&self, path: &str, body: &[u8]) -> Result<HttpResponse, String> {
        let mut req = self
            .head(
                "POST",
                path,
                &[
                    ("Content-Type", "text/xml".to_owned()),
                    ("Content-Length", body.len().to_string()),
                ],
            )
            .into_bytes();
        req.extend_from_slice(body);
        self.raw(&req)
    }

    /// `GET path` (for non-streaming answers).
    pub fn get(&self, path: &str) -> Result<HttpResponse, String> {
        self.raw(self.head("GET", path, &[]).as_bytes())
    }

    /// One call; `Err` for transport or HTTP problems (not for faults). The bytes are
    /// protocol's [`CallExchange`], the client every part of supervisor-rs uses.
    pub fn try_call(&self, method: &str, params: &[Value]) -> Result<CallResult, String> {
        let auth = self.auth.as_ref().map(|(u, p)| (u.as_str(), p.as_str()));
        let (mut exchange, request) = CallExchange::start(
            "/RPC2",
            "localhost",
            auth,
            method,
            params,
            DEFAULT_MAX_RESPONSE_BYTES,
        );
        let mut conn = self
            .connect()
            .map_err(|e| format!("{method}: connect: {e}"))?;
        conn.write_all(&request)
            .map_err(|e| format!("{method}: write: {e}"))?;
        let mut chunk = [0u8; 16384];
        loop {
            let n = conn
                .read(&mut chunk)
                .map_err(|e| format!("{method}: read: {e}"))?;
            let step = if n == 0 {
                exchange.finish()
            } else {
                exchange.feed(&chunk[..n])
            };
            match step.map_err(|e| format!("{method}: {e}"))? {
                Some(result) => return Ok(result),
                None if n == 0 => return Err(format!("{method}: connection closed")),
                None => {}
            }
        }
    }

    /// One call; panics on transport problems.
    #[track_caller]
    pub fn call(&self, method: &str, params: &[Value]) -> CallResult {
        match self.try_call(method, params) {
            Ok(r) => r,
            Err(e) => panic!("XML-RPC call failed: {e}"),
        }
    }

    /// One call that must succeed.
    #[track_caller]
    pub fn ok(&self, method: &str, params: &[Value]) -> Value {
        match self.call(method, params) {
            Ok(v) => v,
            Err(f) => panic!("{method}{params:?} faulted: {f}"),
        }
    }

    /// One call that must fault; returns the fault.
    #[track_caller]
    pub fn fault(&self, method: &str, params: &[Value]) -> Fault {
        match self.call(method, params) {
            Ok(v) => panic!("{method}{params:?} returned {v:?}, expected a fault"),
            Err(f) => f,
        }
    }

    /// Polls `supervisor.getState` until the server answers.
    pub fn wait_ready(&self, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        let mut last = String::new();
        while Instant::now() < deadline {
            match self.try_call("supervisor.getState", &[]) {
                Ok(_) => return Ok(()),
                Err(e) => last = e,
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        Err(format!("server not ready after {timeout:?}: {last}"))
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A parsed response head: status, headers (names lower-cased), length of the head in bytes.
pub type ResponseHead = (u16, Vec<(String, String)>, usize);

/// Parses a response head (`None` until complete).
pub fn parse_head(buf: &[u8]) -> Option<Result<ResponseHead, String>> {
    let end = find(buf, b"\r\n\r\n")? + 4;
    let text = String::from_utf8_lossy(&buf[..end]);
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let mut parts = status_line.split(' ');
    let version = parts.next().unwrap_or("");
    let status = match parts.next().and_then(|s| s.parse().ok()) {
        Some(s) if version.starts_with("HTTP/") => s,
        _ => return Some(Err(format!("bad status line {status_line:?}"))),
    };
    let headers = lines
        .filter(|l| !l.is_empty())
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            Some((k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        })
        .collect();
    Some(Ok((status, headers, end)))
}

/// Reads one response: by Content-Length, chunked to the terminating chunk, else to EOF.
pub fn read_response(conn: &mut dyn Conn) -> Result<HttpResponse, String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16384];
    let (status, headers, head_len) = loop {
        if let Some(h) = parse_head(&buf) {
            break h?;
        }
        let n = conn
            .read(&mut chunk)
            .map_err(|e| format!("read head: {e}"))?;
        if n == 0 {
            return Err(format!(
                "connection closed before a complete head: {:?}",
                String::from_utf8_lossy(&buf)
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let mut resp = HttpResponse {
        status,
        headers,
        body: buf[head_len..].to_vec(),
    };
    if let Some(len) = resp.header("content-length") {
        let len: usize = len.parse().map_err(|_| format!("bad length {len:?}"))?;
        while resp.body.len() < len {
            let n = conn
                .read(&mut chunk)
                .map_err(|e| format!("read body: {e}"))?;
            if n == 0 {
                return Err(format!("EOF after {} of {len} body bytes", resp.body.len()));
            }
            resp.body.extend_from_slice(&chunk[..n]);
        }
        resp.body.truncate(len);
    } else if resp
        .header("transfer-encoding")
        .is_some_and(|t| t.contains("chunked"))
    {
        loop {
            let (data, done) = dechunk(&resp.body);
            if done {
                resp.body = data;
                break;
            }
            let n = conn
                .read(&mut chunk)
                .map_err(|e| format!("read chunks: {e}"))?;
            if n == 0 {
                resp.body = data;
                break;
            }
            resp.body.extend_from_slice(&chunk[..n]);
        }
    } else {
        loop {
            match conn.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => resp.body.extend_from_slice(&chunk[..n]),
                Err(e) => return Err(format!("read to EOF: {e}")),
            }
        }
    }
    Ok(resp)
}

/// Decodes as much of a chunked body as is complete; `true` once the last chunk was seen.
pub fn dechunk(mut raw: &[u8]) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    loop {
        let Some(eol) = find(raw, b"\r\n") else {
            return (out, false);
        };
        let size_text = String::from_utf8_lossy(&raw[..eol]);
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let Ok(size) = usize::from_str_radix(size_text, 16) else {
            return (out, false);
        };
        if size == 0 {
            return (out, true);
        }
        let start = eol + 2;
        if raw.len() < start + size + 2 {
            return (out, false);
        }
        out.extend_from_slice(&raw[start..start + size]);
        raw = &raw[start + size + 2..];
    }
}

/// A streaming GET (`/logtail/...`, `/mainlogtail`): the head, then body bytes as they come.
pub struct Stream {
    conn: Box<dyn Conn>,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    raw: Vec<u8>,
}

impl Stream {
    pub fn open(client: &RpcClient, path: &str) -> Result<Stream, String> {
        let mut conn = client.connect().map_err(|e| format!("connect: {e}"))?;
        conn.write_all(client.head("GET", path, &[]).as_bytes())
            .map_err(|e| format!("write: {e}"))?;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 8192];
        let (status, headers, head_len) = loop {
            if let Some(h) = parse_head(&buf) {
                break h?;
            }
            let n = conn
                .read(&mut chunk)
                .map_err(|e| format!("read head: {e}"))?;
            if n == 0 {
                return Err("closed before head".to_owned());
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        Ok(Stream {
            conn,
            status,
            headers,
            raw: buf[head_len..].to_vec(),
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn chunked(&self) -> bool {
        self.header("transfer-encoding")
            .is_some_and(|t| t.contains("chunked"))
    }

    /// The body so far (de-chunked when chunked).
    pub fn body(&self) -> Vec<u8> {
        if self.chunked() {
            dechunk(&self.raw).0
        } else {
            self.raw.clone()
        }
    }

    /// Reads until `pred(body)` holds or `timeout` passes; returns the body text either way.
    pub fn read_until(&mut self, timeout: Duration, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + timeout;
        self.conn.set_timeouts(Some(Duration::from_millis(100)));
        let mut chunk = [0u8; 8192];
        loop {
            let text = String::from_utf8_lossy(&self.body()).into_owned();
            if pred(&text) || Instant::now() >= deadline {
                return text;
            }
            match self.conn.read(&mut chunk) {
                Ok(0) => return text,
                Ok(n) => self.raw.extend_from_slice(&chunk[..n]),
                Err(_) => {}
            }
        }
    }
}

/// The unix socket path the config helpers use.
pub fn socket_path(dir: &Path) -> PathBuf {
    dir.join("supervisor.sock")
}

/// A free TCP port on 127.0.0.1 (bound and released; good enough for tests).
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    l.local_addr().expect("local addr").port()
}

/// `[unix_http_server]` at `{dir}/supervisor.sock`, `[rpcinterface:supervisor]`, optionally an
/// `[inet_http_server]` on 127.0.0.1:`port` with `username`/`password`, then `sections`, after
/// the harness's `[supervisord]` section.
pub fn rpc_config(sections: &str, inet: Option<(u16, Option<(&str, &str)>)>) -> String {
    let mut s = String::from(
        "[unix_http_server]\nfile={dir}/supervisor.sock\n\n\
         [rpcinterface:supervisor]\n\
         supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n",
    );
    if let Some((port, auth)) = inet {
        s.push_str(&format!("[inet_http_server]\nport=127.0.0.1:{port}\n"));
        if let Some((u, p)) = auth {
            s.push_str(&format!("username={u}\npassword={p}\n"));
        }
        s.push('\n');
    }
    s.push_str(sections);
    crate::config_with(&s)
}

/// Shorthands for building parameters.
pub fn s(v: &str) -> Value {
    Value::String(v.to_owned())
}

pub fn i(v: i32) -> Value {
    Value::Int(v)
}

pub fn b(v: bool) -> Value {
    Value::Boolean(v)
}
