//! One XML-RPC call as a sans-IO exchange, for `supervisorctl` and the listeners.
//!
//! [`CallExchange::start`] gives the bytes to write; then every chunk read from the socket
//! goes into [`CallExchange::feed`] until it yields the result or fault. Whether the socket is
//! blocking, tokio, a Unix socket or a test buffer is the caller's business, so one tested
//! implementation of status handling, body framing, size limits and decoding serves all of
//! them. A non-200 status is an error like Python's `xmlrpc.client.ProtocolError`.

use std::fmt;

use super::codec::{encode_method_call, parse_method_response, ParseError};
use super::faults::Fault;
use super::http::{
    encode_get_request, encode_request, BodyFraming, ChunkedDecoder, HttpError, ResponseHead,
    ResponseHeadParser,
};
use super::value::Value;

/// Where a `serverurl` points (`[supervisorctl] serverurl`, `SUPERVISOR_SERVER_URL`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerAddress {
    /// `unix:///path/to/supervisor.sock`
    Unix(String),
    /// `http://host[:port]` (port 80 if absent); any path in the URL is ignored, as
    /// Supervisor's transport always posts to `/RPC2`.
    Tcp { host: String, port: u16 },
}

impl ServerAddress {
    /// Parses a serverurl the way `SupervisorTransport` does.
    pub fn parse(url: &str) -> Result<ServerAddress, String> {
        if let Some(path) = url.strip_prefix("unix://") {
            if path.is_empty() {
                return Err(format!("no socket path in serverurl {url}"));
            }
            return Ok(ServerAddress::Unix(path.to_owned()));
        }
        let Some(rest) = url.strip_prefix("http://") else {
            return Err(format!("Unknown protocol for serverurl {url}"));
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        let authority = authority.rsplit('@').next().unwrap_or(authority);
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6
                .split_once(']')
                .ok_or_else(|| format!("bad IPv6 host in serverurl {url}"))?;
            (host, after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        // An empty host is the local one, as for Python's HTTPConnection.
        let host = if host.is_empty() { "localhost" } else { host };
        let port = match port {
            None | Some("") => 80,
            Some(p) => p
                .parse::<u16>()
                .map_err(|_| format!("bad port {p:?} in serverurl {url}"))?,
        };
        Ok(ServerAddress::Tcp {
            host: host.to_owned(),
            port,
        })
    }

    /// The `Host` header to send: `localhost` over a Unix socket (as Supervisor does),
    /// `host:port` over TCP.
    pub fn host_header(&self) -> String {
        match self {
            ServerAddress::Unix(_) => "localhost".to_owned(),
            ServerAddress::Tcp { host, port } if host.contains(':') => format!("[{host}]:{port}"),
            ServerAddress::Tcp { host, port } => format!("{host}:{port}"),
        }
    }
}

/// Why a call produced neither a result nor a fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// The response head was not valid HTTP.
    Http(HttpError),
    /// The server answered with a status other than 200 (e.g. 401 without credentials).
    Status { status: u16, reason: String },
    /// The body is larger than the exchange's limit.
    BodyTooLarge { limit: usize },
    /// The connection ended before the response was complete.
    Truncated,
    /// The body is not a valid `methodResponse`.
    Parse(ParseError),
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Http(e) => write!(f, "bad HTTP response: {e}"),
            CallError::Status { status, reason } => write!(f, "HTTP {status} {reason}"),
            CallError::BodyTooLarge { limit } => {
                write!(f, "response body larger than {limit} bytes")
            }
            CallError::Truncated => f.write_str("connection closed before the response ended"),
            CallError::Parse(e) => write!(f, "bad XML-RPC response: {e}"),
        }
    }
}

impl std::error::Error for CallError {}

impl From<HttpError> for CallError {
    fn from(e: HttpError) -> Self {
        CallError::Http(e)
    }
}

/// The outcome of a call: a value or a fault.
pub type CallResult = Result<Value, Fault>;

/// Feeds `data` to a response head parser: `Ok(None)` until the head is complete, then the
/// head and the bytes after it. A status other than 200 is [`CallError::Status`], like
/// Python's `xmlrpc.client.ProtocolError`.
fn ok_head(
    parser: &mut ResponseHeadParser,
    data: &[u8],
) -> Result<Option<(ResponseHead, Vec<u8>)>, CallError> {
    let Some((head, rest)) = parser.feed(data)? else {
        return Ok(None);
    };
    if head.status != 200 {
        return Err(CallError::Status {
            status: head.status,
            reason: head.reason,
        });
    }
    Ok(Some((head, rest)))
}

/// Progress of one request/response exchange.
#[derive(Debug)]
pub struct CallExchange {
    max_body: usize,
    head_parser: ResponseHeadParser,
    head: Option<ResponseHead>,
    framing: BodyFraming,
    chunked: ChunkedDecoder,
    body: Vec<u8>,
    finished: bool,
}

impl CallExchange {
    /// Encodes the call as an HTTP POST to `path` and returns the exchange waiting for the
    /// response with the bytes to write. `max_body` bounds the response body (see
    /// [`super::DEFAULT_MAX_RESPONSE_BYTES`]).
    pub fn start(
        path: &str,
        host: &str,
        basic_auth: Option<(&str, &str)>,
        method: &str,
        params: &[Value],
        max_body: usize,
    ) -> (CallExchange, Vec<u8>) {
        let body = encode_method_call(method, params);
        let request = encode_request(path, host, &body, basic_auth);
        (CallExchange::new(max_body), request)
    }

    /// An exchange for a request the caller wrote itself.
    pub fn new(max_body: usize) -> CallExchange {
        CallExchange {
            max_body,
            head_parser: ResponseHeadParser::new(),
            head: None,
            framing: BodyFraming::Empty,
            chunked: ChunkedDecoder::new(),
            body: Vec::new(),
            finished: false,
        }
    }

    /// Whether the connection may carry another request after this response.
    pub fn keep_alive(&self) -> bool {
        self.finished
            && self.framing != BodyFraming::UntilClose
            && self.head.as_ref().is_some_and(ResponseHead::keep_alive)
    }

    /// Feeds bytes read from the connection. Returns `Ok(Some(..))` exactly once, when the
    /// response is complete; bytes after the response are ignored.
    pub fn feed(&mut self, data: &[u8]) -> Result<Option<CallResult>, CallError> {
        if self.finished {
            return Ok(None);
        }
        let data: Vec<u8> = match self.head {
            Some(_) => data.to_vec(),
            None => {
                let head = ok_head(&mut self.head_parser, data);
                self.finished = head.is_err();
                let Some((head, rest)) = head? else {
                    return Ok(None);
                };
                self.framing = head.body_framing(false);
                if let BodyFraming::Length(n) = self.framing {
                    if n > self.max_body as u64 {
                        self.finished = true;
                        return Err(CallError::BodyTooLarge {
                            limit: self.max_body,
                        });
                    }
                }
                self.head = Some(head);
                rest
            }
        };
        match self.framing {
            BodyFraming::Empty => return self.complete().map(Some),
            BodyFraming::Length(n) => {
                let want = usize::try_from(n).unwrap_or(usize::MAX) - self.body.len();
                self.body.extend_from_slice(&data[..want.min(data.len())]);
                if self.body.len() as u64 == n {
                    return self.complete().map(Some);
                }
            }
            BodyFraming::Chunked => {
                self.chunked.feed(&data, &mut self.body)?;
                self.check_size()?;
                if self.chunked.is_done() {
                    return self.complete().map(Some);
                }
            }
            BodyFraming::UntilClose => {
                self.body.extend_from_slice(&data);
                self.check_size()?;
            }
        }
        Ok(None)
    }

    /// Call when the peer closed the connection: completes a response delimited by close,
    /// otherwise reports truncation (or `Ok(None)` if the response was already returned).
    pub fn finish(&mut self) -> Result<Option<CallResult>, CallError> {
        if self.finished {
            return Ok(None);
        }
        if self.head.is_some() && self.framing == BodyFraming::UntilClose {
            return self.complete().map(Some);
        }
        self.finished = true;
        Err(CallError::Truncated)
    }

    fn check_size(&mut self) -> Result<(), CallError> {
        if self.body.len() > self.max_body {
            self.finished = true;
            return Err(CallError::BodyTooLarge {
                limit: self.max_body,
            });
        }
        Ok(())
    }

    fn complete(&mut self) -> Result<CallResult, CallError> {
        self.finished = true;
        let body = std::mem::take(&mut self.body);
        parse_method_response(&body, self.max_body).map_err(CallError::Parse)
    }
}

/// A streaming `GET` (the `/logtail/...` and `/mainlogtail` endpoints behind `tail -f`), as a
/// sans-IO exchange like [`CallExchange`]: the body is handed out as it arrives, never
/// collected, so an endless stream costs no memory. A non-200 status is
/// [`CallError::Status`].
#[derive(Debug)]
pub struct StreamExchange {
    head_parser: ResponseHeadParser,
    head: Option<ResponseHead>,
    framing: BodyFraming,
    chunked: ChunkedDecoder,
    /// Body bytes still expected with `Content-Length` framing.
    remaining: u64,
    finished: bool,
}

impl StreamExchange {
    /// The exchange and the request bytes to write.
    pub fn start(
        path: &str,
        host: &str,
        basic_auth: Option<(&str, &str)>,
    ) -> (StreamExchange, Vec<u8>) {
        let exchange = StreamExchange {
            head_parser: ResponseHeadParser::new(),
            head: None,
            framing: BodyFraming::Empty,
            chunked: ChunkedDecoder::new(),
            remaining: 0,
            finished: false,
        };
        (exchange, encode_get_request(path, host, basic_auth))
    }

    /// Feeds bytes read from the connection and appends the body bytes among them to `out`.
    /// `Ok(true)` once the body is complete (bytes after it are ignored).
    pub fn feed(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<bool, CallError> {
        if self.finished {
            return Ok(true);
        }
        let rest;
        let data = match self.head {
            Some(_) => data,
            None => {
                let head = ok_head(&mut self.head_parser, data);
                self.finished = head.is_err();
                let Some((head, after)) = head? else {
                    return Ok(false);
                };
                self.framing = head.body_framing(false);
                if let BodyFraming::Length(n) = self.framing {
                    self.remaining = n;
                }
                self.head = Some(head);
                rest = after;
                &rest[..]
            }
        };
        match self.framing {
            BodyFraming::Empty => self.finished = true,
            BodyFraming::Length(_) => {
                let take = usize::try_from(self.remaining)
                    .unwrap_or(usize::MAX)
                    .min(data.len());
                out.extend_from_slice(&data[..take]);
                self.remaining -= take as u64;
                self.finished = self.remaining == 0;
            }
            BodyFraming::Chunked => {
                self.chunked.feed(data, out)?;
                self.finished = self.chunked.is_done();
            }
            BodyFraming::UntilClose => out.extend_from_slice(data),
        }
        Ok(self.finished)
    }

    /// Call when the peer closed the connection: fine for a body delimited by close (or one
    /// already complete), [`CallError::Truncated`] otherwise.
    pub fn finish(&mut self) -> Result<(), CallError> {
        if self.finished || (self.head.is_some() && self.framing == BodyFraming::UntilClose) {
            self.finished = true;
            return Ok(());
        }
        self.finished = true;
        Err(CallError::Truncated)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xmlrpc::codec::{encode_fault, encode_method_response, parse_method_call};
    use crate::xmlrpc::faults::FaultCode;
    use crate::xmlrpc::http::{encode_chunk, encode_response, RequestHeadParser, LAST_CHUNK};

    const LIMIT: usize = 1 << 20;

    #[test]
    fn server_urls() {
        assert_eq!(
            ServerAddress::parse("unix:///tmp/supervisor.sock"),
            Ok(ServerAddress::Unix("/tmp/supervisor.sock".into()))
        );
        assert_eq!(
            ServerAddress::parse("http://127.0.0.1:9001"),
            Ok(ServerAddress::Tcp {
                host: "127.0.0.1".into(),
                port: 9001
            })
        );
        assert_eq!(
            ServerAddress::parse("http://localhost/RPC2"),
            Ok(ServerAddress::Tcp {
                host: "localhost".into(),
                port: 80
            })
        );
        let v6 = ServerAddress::parse("http://[::1]:9001/").expect("valid");
        assert_eq!(v6.host_header(), "[::1]:9001");
        assert_eq!(ServerAddress::Unix("/x".into()).host_header(), "localhost");
        assert!(ServerAddress::parse("ftp://x")
            .unwrap_err()
            .starts_with("Unknown protocol"));
        assert!(ServerAddress::parse("unix://").is_err());
        assert_eq!(
            ServerAddress::parse("http://:9001"),
            Ok(ServerAddress::Tcp {
                host: "localhost".into(),
                port: 9001
            })
        );
        assert!(ServerAddress::parse("http://h:99999").is_err());
    }

    /// Our request, read by our server-side parsers; our response, fed back in every split.
    #[test]
    fn round_trip_through_both_sides() {
        let (_, request) = CallExchange::start(
            "/RPC2",
            "localhost",
            Some(("user", "123")),
            "supervisor.getState",
            &[],
            LIMIT,
        );
        let (head, body) = RequestHeadParser::new()
            .feed(&request)
            .expect("valid")
            .expect("complete");
        assert_eq!(head.basic_auth(), Some(("user".into(), "123".into())));
        let call = parse_method_call(&body, LIMIT).expect("valid call");
        assert_eq!(call.name, "supervisor.getState");

        let value = Value::new_struct([
            ("statecode", Value::Int(1)),
            ("statename", Value::from("RUNNING")),
        ]);
        let response = encode_response(
            200,
            &[("Content-Type", "text/xml")],
            &encode_method_response(&value),
        );
        for split in 0..response.len() {
            let mut ex = CallExchange::new(LIMIT);
            let (a, b) = response.split_at(split);
            assert_eq!(ex.feed(a), Ok(None));
            assert_eq!(ex.feed(b), Ok(Some(Ok(value.clone()))));
            assert!(ex.keep_alive());
            assert_eq!(ex.feed(b"more"), Ok(None));
        }
    }

    #[test]
    fn faults_chunked_and_until_close() {
        let fault = Fault::new(FaultCode::BadName, Some("nope"));
        let body = encode_fault(&fault);

        let mut chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        let (a, b) = body.split_at(10);
        chunked.extend(encode_chunk(a));
        chunked.extend(encode_chunk(b));
        chunked.extend_from_slice(LAST_CHUNK);
        let mut ex = CallExchange::new(LIMIT);
        assert_eq!(ex.feed(&chunked), Ok(Some(Err(fault.clone()))));

        let mut until_close = b"HTTP/1.0 200 OK\r\nContent-Type: text/xml\r\n\r\n".to_vec();
        until_close.extend_from_slice(&body);
        let mut ex = CallExchange::new(LIMIT);
        assert_eq!(ex.feed(&until_close), Ok(None));
        assert_eq!(ex.finish(), Ok(Some(Err(fault))));
        assert!(!ex.keep_alive());
        assert_eq!(ex.finish(), Ok(None));
    }

    #[test]
    fn errors() {
        let mut ex = CallExchange::new(LIMIT);
        assert_eq!(
            ex.feed(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n"),
            Err(CallError::Status {
                status: 401,
                reason: "Unauthorized".into()
            })
        );
        assert_eq!(ex.feed(b"x"), Ok(None));

        let mut ex = CallExchange::new(LIMIT);
        assert_eq!(
            ex.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc"),
            Ok(None)
        );
        assert_eq!(ex.finish(), Err(CallError::Truncated));

        let mut ex = CallExchange::new(10);
        assert_eq!(
            ex.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"),
            Err(CallError::BodyTooLarge { limit: 10 })
        );
        let mut ex = CallExchange::new(10);
        assert_eq!(
            ex.feed(b"HTTP/1.1 200 OK\r\n\r\n0123456789ab"),
            Err(CallError::BodyTooLarge { limit: 10 })
        );

        let mut ex = CallExchange::new(LIMIT);
        assert!(matches!(
            ex.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"),
            Err(CallError::Parse(_))
        ));
        let mut ex = CallExchange::new(LIMIT);
        assert!(matches!(
            ex.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
            Err(CallError::Parse(ParseError::Truncated { .. }))
        ));
        let mut ex = CallExchange::new(LIMIT);
        assert!(matches!(
            ex.feed(b"SSH-2.0-OpenSSH\r\n\r\n"),
            Err(CallError::Http(_))
        ));
        let mut ex = CallExchange::new(LIMIT);
        assert_eq!(ex.finish(), Err(CallError::Truncated));
        assert_eq!(
            CallError::Status {
                status: 401,
                reason: "Unauthorized".into()
            }
            .to_string(),
            "HTTP 401 Unauthorized"
        );
    }

    /// Against Python's own SimpleXMLRPCServer on loopback: our request must be accepted and
    /// its response (HTTP/1.0, from BaseHTTPServer) understood.
    #[test]
    fn python_server_interop() {
        use std::io::{BufRead, BufReader, Read, Write};
        use std::net::TcpStream;
        use std::process::{Command, Stdio};
        use std::time::Duration;

        let script = r#"
import sys, xmlrpc.client
from xmlrpc.server import SimpleXMLRPCServer, SimpleXMLRPCRequestHandler
class Quiet(SimpleXMLRPCRequestHandler):
    def log_message(self, *a): pass
s = SimpleXMLRPCServer(('127.0.0.1', 0), requestHandler=Quiet, allow_none=True, logRequests=False)
def echo(*args): return list(args)
def fail(name): raise xmlrpc.client.Fault(10, 'BAD_NAME: ' + name)
s.register_function(echo, 'test.echo')
s.register_function(fail, 'test.fail')
print(s.server_address[1], flush=True)
s.timeout = 20
s.handle_request()
s.handle_request()
"#;
        let mut child = match Command::new("python3")
            .arg("-c")
            .arg(script)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
        {
            Ok(c) => c,
            Err(e) => panic!("this test needs python3 on PATH (Python's XML-RPC server): {e}"),
        };
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout piped"))
            .read_line(&mut line)
            .expect("port line");
        let port: u16 = line.trim().parse().expect("port number");

        let call = |method: &str, params: &[Value]| -> Result<CallResult, CallError> {
            let mut sock = TcpStream::connect(("127.0.0.1", port)).expect("connect");
            sock.set_read_timeout(Some(Duration::from_secs(20)))
                .expect("timeout");
            let (mut ex, request) = CallExchange::start(
                "/RPC2",
                &format!("127.0.0.1:{port}"),
                None,
                method,
                params,
                LIMIT,
            );
            sock.write_all(&request).expect("write");
            let mut buf = [0u8; 512];
            loop {
                let n = sock.read(&mut buf).expect("read");
                if n == 0 {
                    return ex.finish().map(|r| r.expect("not yet returned"));
                }
                if let Some(result) = ex.feed(&buf[..n])? {
                    return Ok(result);
                }
            }
        };
        let params = vec![
            Value::from("héllo <&>"),
            Value::Int(-3),
            Value::Boolean(true),
            Value::Double(0.5),
            Value::Nil,
            Value::Base64(vec![0, 1, 2, 255]),
            Value::new_struct([("k", Value::Array(vec![Value::from("")]))]),
        ];
        assert_eq!(
            call("test.echo", &params),
            Ok(Ok(Value::Array(params.clone())))
        );
        assert_eq!(
            call("test.fail", &[Value::from("web")]),
            Ok(Err(Fault::new(FaultCode::BadName, Some("web"))))
        );
        let status = child.wait().expect("python exits");
        assert!(status.success());
    }

    #[test]
    fn stream_exchange_hands_out_the_body_as_it_comes() {
        let (_, request) =
            StreamExchange::start("/logtail/a b/stdout", "localhost", Some(("u", "p")));
        let (head, _) = RequestHeadParser::new()
            .feed(&request)
            .expect("valid")
            .expect("complete");
        assert_eq!(head.basic_auth(), Some(("u".into(), "p".into())));
        assert!(
            String::from_utf8_lossy(&request).starts_with("GET /logtail/a%20b/stdout HTTP/1.1\r\n")
        );

        let mut response = encode_response_head_for_test(&[("Transfer-Encoding", "chunked")]);
        response.extend(encode_chunk(b"hello "));
        response.extend(encode_chunk(b"world"));
        response.extend_from_slice(LAST_CHUNK);
        for split in 0..response.len() {
            let (mut ex, _) = StreamExchange::start("/x", "h", None);
            let mut out = Vec::new();
            let (a, b) = response.split_at(split);
            let done_a = ex.feed(a, &mut out).expect("valid");
            let done_b = ex.feed(b, &mut out).expect("valid");
            assert!(!done_a || b.is_empty());
            assert!(done_b, "split {split}");
            assert_eq!(out, b"hello world");
        }

        // Until close: every byte is body; closing ends it.
        let (mut ex, _) = StreamExchange::start("/x", "h", None);
        let mut out = Vec::new();
        assert_eq!(ex.feed(b"HTTP/1.0 200 OK\r\n\r\nabc", &mut out), Ok(false));
        assert_eq!(ex.finish(), Ok(()));
        assert_eq!(out, b"abc");

        // A refusal.
        let (mut ex, _) = StreamExchange::start("/x", "h", None);
        let err = ex.feed(
            b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n",
            &mut out,
        );
        assert!(matches!(err, Err(CallError::Status { status: 401, .. })));

        // Cut short.
        let (mut ex, _) = StreamExchange::start("/x", "h", None);
        assert_eq!(
            ex.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nab", &mut out),
            Ok(false)
        );
        assert_eq!(ex.finish(), Err(CallError::Truncated));
    }

    fn encode_response_head_for_test(headers: &[(&str, &str)]) -> Vec<u8> {
        crate::xmlrpc::http::encode_response_head(200, headers)
    }
}
