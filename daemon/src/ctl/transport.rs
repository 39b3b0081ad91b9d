//! HTTP/1.1 for supervisorctl: `POST /RPC2` and streaming `GET /logtail/...`, over a UNIX
//! socket (`unix:///path`) or TCP (`http://host[:port]`), with optional HTTP Basic auth.
//!
//! One connection per request (`Connection: close`), which is what Python's
//! `SupervisorTransport` effectively does for a command-line client. Responses are framed by
//! `Content-Length`, `Transfer-Encoding: chunked` or end of stream.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::Duration;

use supervisor_protocol::xmlrpc::http::basic_auth_header;

/// Where the server listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Unix(PathBuf),
    Tcp { host: String, port: u16 },
}

/// A parsed `serverurl`: the text as the user gave it (used verbatim in messages, as Python
/// does) and where to connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerUrl {
    pub text: String,
    pub endpoint: Endpoint,
}

impl ServerUrl {
    /// `unix:///abs/path` or `http://host[:port][/ignored]` (port defaults to 80).
    pub fn parse(text: &str) -> Result<ServerUrl, String> {
        if let Some(path) = text.strip_prefix("unix://") {
            if path.is_empty() {
                return Err(format!("value '{text}' is not a URL"));
            }
            return Ok(ServerUrl {
                text: text.to_string(),
                endpoint: Endpoint::Unix(PathBuf::from(path)),
            });
        }
        if let Some(rest) = text.strip_prefix("http://") {
            let hostport = rest.split('/').next().unwrap_or("");
            let (host, port) = match hostport.rsplit_once(':') {
                Some((h, p)) => {
                    let port = p
                        .parse::<u16>()
                        .map_err(|_| format!("bad port in server URL '{text}'"))?;
                    (h.to_string(), port)
                }
                None => (hostport.to_string(), 80),
            };
            let host = if host.is_empty() {
                "localhost".to_string()
            } else {
                host
            };
            return Ok(ServerUrl {
                text: text.to_string(),
                endpoint: Endpoint::Tcp { host, port },
            });
        }
        Err(format!("server URL '{text}' must be http:// or unix://"))
    }
}

/// Why a request did not produce an HTTP response body.
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
}

/// A connected byte stream of either kind.
pub enum Conn {
    Unix(UnixStream),
    Tcp(TcpStream),
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

/// The parsed head of a response.
#[derive(Debug)]
pub struct Head {
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
}

impl Head {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn chunked(&self) -> bool {
        self.header("transfer-encoding")
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
    }
}

const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 64 * 1024 * 1024;

impl Transport {
    pub fn connect(&self) -> Result<Conn, TransportError> {
        match &self.url.endpoint {
            Endpoint::Unix(path) => UnixStream::connect(path)
                .map(Conn::Unix)
                .map_err(TransportError::from_connect),
            Endpoint::Tcp { host, port } => TcpStream::connect((host.as_str(), *port))
                .map(Conn::Tcp)
                .map_err(TransportError::from_connect),
        }
    }

    fn auth_header(&self) -> String {
        match (&self.username, &self.password) {
            (Some(u), Some(p)) => {
                format!("Authorization: {}\r\n", basic_auth_header(u, p))
            }
            _ => String::new(),
        }
    }

    fn host_header(&self) -> String {
        match &self.url.endpoint {
            Endpoint::Unix(_) => "localhost".to_string(),
            Endpoint::Tcp { host, port } => format!("{host}:{port}"),
        }
    }

    /// POST `body` to `/RPC2` and return the 200 response body.
    pub fn post_rpc(&self, body: &[u8]) -> Result<Vec<u8>, TransportError> {
        let mut conn = self.connect()?;
        if let Conn::Unix(s) = &conn {
            s.set_read_timeout(self.timeout).ok();
        }
        if let Conn::Tcp(s) = &conn {
            s.set_read_timeout(self.timeout).ok();
        }
        let head = format!(
            "POST /RPC2 HTTP/1.1\r\nHost: {}\r\nAccept-Encoding: identity\r\n\
             User-Agent: supervisor-rs supervisorctl\r\nContent-Type: text/xml\r\n\
             Content-Length: {}\r\n{}Connection: close\r\n\r\n",
            self.host_header(),
            body.len(),
            self.auth_header()
        );
        let mut req = head.into_bytes();
        req.extend_from_slice(body);
        conn.write_all(&req).map_err(TransportError::Io)?;
        conn.flush().map_err(TransportError::Io)?;
        let mut reader = BufConn::new(conn);
        let head = reader.read_head()?;
        let body = reader.read_body(&head)?;
        if head.status != 200 {
            return Err(TransportError::Status {
                code: head.status,
                reason: head.reason,
            });
        }
        Ok(body)
    }

    /// GET `path` and stream the (usually endless, chunked) body to `sink` until the server
    /// closes the connection, `sink` fails, or `stop()` says so. Non-200 ⇒ `Status`.
    pub fn stream_get(
        &self,
        path: &str,
        sink: &mut dyn FnMut(&[u8]) -> io::Result<()>,
        stop: &dyn Fn() -> bool,
    ) -> Result<(), TransportError> {
        let mut conn = self.connect()?;
        let poll = Some(Duration::from_millis(200));
        match &conn {
            Conn::Unix(s) => s.set_read_timeout(poll).ok(),
            Conn::Tcp(s) => s.set_read_timeout(poll).ok(),
        };
        let head = format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\n{}\r\n",
            path,
            self.host_header(),
            self.auth_header()
        );
        conn.write_all(head.as_bytes())
            .map_err(TransportError::Io)?;
        let mut reader = BufConn::new(conn);
        reader.stop = Some(stop);
        let head = reader.read_head()?;
        if head.status != 200 {
            return Err(TransportError::Status {
                code: head.status,
                reason: head.reason,
            });
        }
        if head.chunked() {
            loop {
                let size = reader.chunk_size()?;
                if size == 0 {
                    return Ok(());
                }
                let data = reader.take(size)?;
                sink(&data).map_err(TransportError::Io)?;
                reader.take_crlf()?;
            }
        } else {
            loop {
                let data = reader.take_some()?;
                if data.is_empty() {
                    return Ok(());
                }
                sink(&data).map_err(TransportError::Io)?;
            }
        }
    }
}

/// A connection with a read buffer.
struct BufConn<'a> {
    conn: Conn,
    buf: Vec<u8>,
    eof: bool,
    stop: Option<&'a dyn Fn() -> bool>,
}

impl<'a> BufConn<'a> {
    fn new(conn: Conn) -> Self {
        BufConn {
            conn,
            buf: Vec::new(),
            eof: false,
            stop: None,
        }
    }

    /// Reads more bytes; false at EOF.
    fn fill(&mut self) -> Result<bool, TransportError> {
        if self.eof {
            return Ok(false);
        }
        let mut tmp = [0u8; 8192];
        loop {
            match self.conn.read(&mut tmp) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(false);
                }
                Ok(n) => {
                    self.buf.extend_from_slice(&tmp[..n]);
                    return Ok(true);
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::Interrupted
                            | io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                    ) =>
                {
                    match self.stop {
                        Some(stop) if stop() => return Err(TransportError::Io(e)),
                        // A stream with a stop check polls it between reads.
                        Some(_) => {}
                        None if e.kind() == io::ErrorKind::Interrupted => {}
                        None => return Err(TransportError::Io(e)),
                    }
                }
                Err(e) => return Err(TransportError::Io(e)),
            }
        }
    }

    fn read_head(&mut self) -> Result<Head, TransportError> {
        let end = loop {
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                break i;
            }
            if self.buf.len() > MAX_HEAD {
                return Err(TransportError::Protocol(
                    "response head too large".to_string(),
                ));
            }
            if !self.fill()? {
                return Err(TransportError::Protocol(
                    "connection closed before a complete response head".to_string(),
                ));
            }
        };
        let head_bytes: Vec<u8> = self.buf.drain(..end + 4).collect();
        let text = String::from_utf8_lossy(&head_bytes[..end]).into_owned();
        let mut lines = text.split("\r\n");
        let status_line = lines.next().unwrap_or("");
        let mut parts = status_line.splitn(3, ' ');
        let version = parts.next().unwrap_or("");
        if !version.starts_with("HTTP/") {
            return Err(TransportError::Protocol(format!(
                "bad status line: {status_line:?}"
            )));
        }
        let status = parts
            .next()
            .and_then(|s| s.parse::<u16>().ok())
            .ok_or_else(|| TransportError::Protocol(format!("bad status line: {status_line:?}")))?;
        let reason = parts.next().unwrap_or("").to_string();
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        Ok(Head {
            status,
            reason,
            headers,
        })
    }

    fn read_body(&mut self, head: &Head) -> Result<Vec<u8>, TransportError> {
        if head.chunked() {
            let mut body = Vec::new();
            loop {
                let size = self.chunk_size()?;
                if size == 0 {
                    return Ok(body);
                }
                if body.len() + size > MAX_BODY {
                    return Err(TransportError::Protocol("response too large".into()));
                }
                body.extend(self.take(size)?);
                self.take_crlf()?;
            }
        }
        if let Some(len) = head.header("content-length") {
            let len: usize = len
                .parse()
                .map_err(|_| TransportError::Protocol(format!("bad Content-Length {len:?}")))?;
            if len > MAX_BODY {
                return Err(TransportError::Protocol("response too large".into()));
            }
            return self.take(len);
        }
        while self.fill()? {
            if self.buf.len() > MAX_BODY {
                return Err(TransportError::Protocol("response too large".into()));
            }
        }
        Ok(std::mem::take(&mut self.buf))
    }

    fn take(&mut self, n: usize) -> Result<Vec<u8>, TransportError> {
        while self.buf.len() < n {
            if !self.fill()? {
                return Err(TransportError::Protocol(
                    "connection closed in the middle of the response body".into(),
                ));
            }
        }
        Ok(self.buf.drain(..n).collect())
    }

    fn take_some(&mut self) -> Result<Vec<u8>, TransportError> {
        if self.buf.is_empty() {
            self.fill()?;
        }
        Ok(std::mem::take(&mut self.buf))
    }

    fn line(&mut self) -> Result<String, TransportError> {
        loop {
            if let Some(i) = find(&self.buf, b"\r\n") {
                let l: Vec<u8> = self.buf.drain(..i + 2).collect();
                return Ok(String::from_utf8_lossy(&l[..i]).into_owned());
            }
            if self.buf.len() > MAX_HEAD {
                return Err(TransportError::Protocol("chunk header too long".into()));
            }
            if !self.fill()? {
                return Err(TransportError::Protocol(
                    "connection closed in the middle of a chunked body".into(),
                ));
            }
        }
    }

    fn chunk_size(&mut self) -> Result<usize, TransportError> {
        let l = self.line()?;
        let hex = l.split(';').next().unwrap_or("").trim();
        usize::from_str_radix(hex, 16)
            .map_err(|_| TransportError::Protocol(format!("bad chunk size {hex:?}")))
    }

    fn take_crlf(&mut self) -> Result<(), TransportError> {
        let l = self.line()?;
        if l.is_empty() {
            Ok(())
        } else {
            Err(TransportError::Protocol("missing CRLF after chunk".into()))
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctl_parse_urls() {
        let u = ServerUrl::parse("unix:///tmp/x.sock").unwrap();
        assert_eq!(u.endpoint, Endpoint::Unix(PathBuf::from("/tmp/x.sock")));
        let u = ServerUrl::parse("http://127.0.0.1:9001/foo").unwrap();
        assert_eq!(
            u.endpoint,
            Endpoint::Tcp {
                host: "127.0.0.1".into(),
                port: 9001
            }
        );
        let u = ServerUrl::parse("http://example").unwrap();
        assert_eq!(
            u.endpoint,
            Endpoint::Tcp {
                host: "example".into(),
                port: 80
            }
        );
        assert!(ServerUrl::parse("ftp://x").is_err());
        assert!(ServerUrl::parse("http://h:notaport").is_err());
    }

    #[test]
    fn ctl_chunked_and_length_bodies() {
        let (a, mut b) = UnixStream::pair().unwrap();
        std::thread::spawn(move || {
            b.write_all(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n",
            )
            .unwrap();
        });
        let mut r = BufConn::new(Conn::Unix(a));
        let h = r.read_head().unwrap();
        assert_eq!(h.status, 200);
        assert_eq!(r.read_body(&h).unwrap(), b"abcde");

        let (a, mut b) = UnixStream::pair().unwrap();
        std::thread::spawn(move || {
            b.write_all(b"HTTP/1.0 401 Unauthorized\r\nContent-Length: 4\r\n\r\nnope")
                .unwrap();
        });
        let mut r = BufConn::new(Conn::Unix(a));
        let h = r.read_head().unwrap();
        assert_eq!((h.status, h.reason.as_str()), (401, "Unauthorized"));
        assert_eq!(r.read_body(&h).unwrap(), b"nope");
    }
}
