//! A minimal XML-RPC client over a unix socket (HTTP/1.1 keep-alive), enough to drive both
//! daemons the same way.

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;

use supervisor_protocol::xmlrpc::{encode_method_call, parse_method_response, Value};

pub struct Conn {
    stream: UnixStream,
    buf: Vec<u8>,
}

impl Conn {
    pub fn open(path: &Path) -> io::Result<Conn> {
        Ok(Conn {
            stream: UnixStream::connect(path)?,
            buf: Vec::new(),
        })
    }

    pub fn call(&mut self, method: &str, params: &[Value]) -> Result<Value, String> {
        let body = encode_method_call(method, params);
        let mut req = format!(
            "POST /RPC2 HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        req.extend_from_slice(&body);
        self.stream.write_all(&req).map_err(|e| e.to_string())?;
        let (status, body) = self.read_response().map_err(|e| e.to_string())?;
        if status != 200 {
            return Err(format!("HTTP {status}"));
        }
        match parse_method_response(&body, usize::MAX) {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(f)) => Err(format!("fault {}: {}", f.code, f.string)),
            Err(e) => Err(format!("bad response: {e}")),
        }
    }

    fn read_response(&mut self) -> io::Result<(u16, Vec<u8>)> {
        loop {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut resp = httparse::Response::new(&mut headers);
            if let Ok(httparse::Status::Complete(n)) = resp.parse(&self.buf) {
                let status = resp.code.unwrap_or(0);
                let len: usize = resp
                    .headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                    .and_then(|h| std::str::from_utf8(h.value).ok()?.trim().parse().ok())
                    .ok_or_else(|| io::Error::other("response without Content-Length"))?;
                while self.buf.len() < n + len {
                    self.fill()?;
                }
                let body = self.buf[n..n + len].to_vec();
                self.buf.drain(..n + len);
                return Ok((status, body));
            }
            self.fill()?;
        }
    }

    fn fill(&mut self) -> io::Result<()> {
        let mut chunk = [0u8; 65536];
        let n = self.stream.read(&mut chunk)?;
        if n == 0 {
            return Err(io::Error::from(io::ErrorKind::UnexpectedEof));
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }
}

/// One call on a fresh connection.
pub fn call(path: &Path, method: &str, params: &[Value]) -> Result<Value, String> {
    Conn::open(path)
        .map_err(|e| e.to_string())?
        .call(method, params)
}
