//! The sockets under supervisorctl: XML-RPC calls (`POST /RPC2`) and streamed log tails
//! (`GET /logtail/...`, `/mainlogtail`) over a UNIX socket (`unix:///path`) or TCP
//! (`http://host[:port]`), with optional HTTP Basic auth.
//!
//! The bytes are protocol's sans-IO exchanges ([`CallExchange`], [`StreamExchange`]) and the
//! URL is protocol's [`ServerAddress`]; this file only connects, writes and reads. One
//! connection per request, which is what Python's `SupervisorTransport` effectively does for
//! a command-line client.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use supervisor_protocol::xmlrpc::{
    CallError, CallExchange, CallResult, ServerAddress, StreamExchange, Value,
    DEFAULT_MAX_RESPONSE_BYTES,
};

/// A parsed `serverurl`: the text as the user gave it (used verbatim in messages, as Python
/// does) and where to connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerUrl {
    pub text: String,
    pub address: ServerAddress,
}

impl ServerUrl {
    /// `unix:///abs/path` or `http://host[:port][/ignored]` (port defaults to 80).
    pub fn parse(text: &str) -> Result<ServerUrl, String> {
        Ok(ServerUrl {
            text: text.to_string(),
            address: ServerAddress::parse(text)?,
        })
    }
}

/// Why a request did not produce an answer.
#[derive(Debug)]
pub enum TransportError {
    /// `ECONNREFUSED`.
    Refused,
    /// The UNIX socket file does not exist (`ENOENT`).
    NoSuchFile,
    /// A non-200 status.
    Status { code: u16, reason: String },
    /// Any other socket error.
    Io(io::Error),
    /// The server's reply was not valid HTTP or XML-RPC.
    Protocol(String),
}

impl TransportError {
    fn from_connect(e: io::Error) -> TransportError {
        match e.raw_os_error() {
            Some(libc::ECONNREFUSED) => TransportError::Refused,
            Some(libc::ENOENT) => TransportError::NoSuchFile,
            _ => TransportError::Io(e),
        }
    }

    /// A failed exchange; `what` names the request in messages about a bad reply.
    fn from_exchange(e: CallError, what: &str) -> TransportError {
        match e {
            CallError::Status { status, reason } => TransportError::Status {
                code: status,
                reason,
            },
            CallError::Parse(e) => {
                TransportError::Protocol(format!("unexpected reply to {what}: {e}"))
            }
            e => TransportError::Protocol(e.to_string()),
        }
    }
}

/// A connected byte stream of either kind.
pub enum Conn {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Conn {
    fn set_read_timeout(&self, t: Option<Duration>) {
        let _ = match self {
            Conn::Unix(s) => s.set_read_timeout(t),
            Conn::Tcp(s) => s.set_read_timeout(t),
        };
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Unix(s) => s.read(buf),
            Conn::Tcp(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Unix(s) => s.write(buf),
            Conn::Tcp(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Conn::Unix(s) => s.flush(),
            Conn::Tcp(s) => s.flush(),
        }
    }
}

/// Credentials and server: everything needed to make a request.
#[derive(Debug, Clone)]
pub struct Transport {
    pub url: ServerUrl,
    pub username: Option<String>,
    pub password: Option<String>,
    /// Read timeout for RPC replies (`None` = wait forever; start/stop may take long).
    pub timeout: Option<Duration>,
}

/// How often a stream checks its stop condition while the server is quiet.
const STREAM_POLL: Duration = Duration::from_millis(200);

impl Transport {
    pub fn connect(&self) -> Result<Conn, TransportError> {
        match &self.url.address {
            ServerAddress::Unix(path) => UnixStream::connect(path)
                .map(Conn::Unix)
                .map_err(TransportError::from_connect),
            ServerAddress::Tcp { host, port } => TcpStream::connect((host.as_str(), *port))
                .map(Conn::Tcp)
                .map_err(TransportError::from_connect),
        }
    }

    /// Basic credentials, when both a user name and a password are set (as Python's
    /// transport sends them).
    fn basic_auth(&self) -> Option<(&str, &str)> {
        match (&self.username, &self.password) {
            (Some(u), Some(p)) => Some((u.as_str(), p.as_str())),
            _ => None,
        }
    }

    /// One XML-RPC call: the result or fault the server answered.
    pub fn call(&self, method: &str, params: &[Value]) -> Result<CallResult, TransportError> {
        let (mut exchange, request) = CallExchange::start(
            "/RPC2",
            &self.url.address.host_header(),
            self.basic_auth(),
            method,
            params,
            DEFAULT_MAX_RESPONSE_BYTES,
        );
        let mut conn = self.connect()?;
        conn.set_read_timeout(self.timeout);
        conn.write_all(&request).map_err(TransportError::Io)?;
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match conn.read(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(TransportError::Io(e)),
            };
            let step = if n == 0 {
                exchange.finish()
            } else {
                exchange.feed(&buf[..n])
            };
            match step.map_err(|e| TransportError::from_exchange(e, method))? {
                Some(result) => return Ok(result),
                None if n == 0 => {
                    let e = CallError::Truncated;
                    return Err(TransportError::from_exchange(e, method));
                }
                None => {}
            }
        }
    }

    /// GET `path` and stream the (usually endless, chunked) body to `sink` until the server
    /// closes the connection, `sink` fails, or `stop()` says so. Non-200 ⇒ `Status`.
    pub fn stream_get(
        &self,
        path: &str,
        sink: &mut dyn FnMut(&[u8]) -> io::Result<()>,
        stop: &dyn Fn() -> bool,
    ) -> Result<(), TransportError> {
        let (mut exchange, request) =
            StreamExchange::start(path, &self.url.address.host_header(), self.basic_auth());
        let mut conn = self.connect()?;
        conn.set_read_timeout(Some(STREAM_POLL));
        conn.write_all(&request).map_err(TransportError::Io)?;
        let mut buf = vec![0u8; 8 * 1024];
        let mut body = Vec::new();
        loop {
            let n = match conn.read(&mut buf) {
                Ok(n) => n,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::Interrupted
                            | io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                    ) =>
                {
                    if stop() {
                        return Err(TransportError::Io(e));
                    }
                    continue;
                }
                Err(e) => return Err(TransportError::Io(e)),
            };
            if n == 0 {
                return exchange
                    .finish()
                    .map_err(|e| TransportError::from_exchange(e, path));
            }
            body.clear();
            let done = exchange
                .feed(&buf[..n], &mut body)
                .map_err(|e| TransportError::from_exchange(e, path))?;
            if !body.is_empty() {
                sink(&body).map_err(TransportError::Io)?;
            }
            if done {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transport(path: &std::path::Path) -> Transport {
        Transport {
            url: ServerUrl::parse(&format!("unix://{}", path.display())).unwrap(),
            username: Some("u".into()),
            password: Some("p".into()),
            timeout: Some(Duration::from_secs(10)),
        }
    }

    /// A one-connection server answering with `response` after reading the request head.
    fn serve(response: Vec<u8>) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sock");
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut seen = Vec::new();
            let mut buf = [0u8; 4096];
            while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = s.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                seen.extend_from_slice(&buf[..n]);
            }
            assert!(String::from_utf8_lossy(&seen).contains("Authorization: Basic dTpw\r\n"));
            s.write_all(&response).unwrap();
        });
        (dir, path)
    }

    #[test]
    fn ctl_call_and_refusal() {
        use supervisor_protocol::xmlrpc::encode_method_response;
        use supervisor_protocol::xmlrpc::http::encode_chunk;
        let body = encode_method_response(&Value::from("3.0"));
        let mut response = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        let (a, b) = body.split_at(body.len() / 2);
        response.extend(encode_chunk(a));
        response.extend(encode_chunk(b));
        response.extend_from_slice(b"0\r\n\r\n");
        let (_d, path) = serve(response);
        let r = transport(&path).call("supervisor.getVersion", &[]).unwrap();
        assert_eq!(r, Ok(Value::from("3.0")));

        let (_d, path) =
            serve(b"HTTP/1.0 401 Unauthorized\r\nContent-Length: 4\r\n\r\nnope".to_vec());
        let e = transport(&path)
            .call("supervisor.getVersion", &[])
            .unwrap_err();
        assert!(
            matches!(&e, TransportError::Status { code: 401, reason } if reason == "Unauthorized"),
            "{e:?}"
        );
    }

    #[test]
    fn ctl_stream_until_close() {
        let (_d, path) = serve(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n"
                .to_vec(),
        );
        let mut got = Vec::new();
        let res = transport(&path).stream_get(
            "/logtail/p/stdout",
            &mut |d: &[u8]| {
                got.extend_from_slice(d);
                Ok(())
            },
            &|| false,
        );
        assert_eq!(got, b"abcde");
        // The server closed in the middle of the chunked body.
        assert!(matches!(res, Err(TransportError::Protocol(_))), "{res:?}");
    }
}
