//! A minimal XML-RPC client over a unix socket (HTTP/1.1 keep-alive), enough to drive both
//! daemons the same way. The bytes are protocol's [`CallExchange`], the one client all of
//! supervisor-rs uses.

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;

use supervisor_protocol::xmlrpc::{CallExchange, Value};

pub struct Conn {
    stream: UnixStream,
}

impl Conn {
    pub fn open(path: &Path) -> io::Result<Conn> {
        Ok(Conn {
            stream: UnixStream::connect(path)?,
        })
    }

    pub fn call(&mut self, method: &str, params: &[Value]) -> Result<Value, String> {
        let (mut exchange, request) =
            CallExchange::start("/RPC2", "localhost", None, method, params, usize::MAX);
        self.stream.write_all(&request).map_err(|e| e.to_string())?;
        let mut chunk = vec![0u8; 65536];
        let result = loop {
            let n = self.stream.read(&mut chunk).map_err(|e| e.to_string())?;
            let step = if n == 0 {
                exchange.finish()
            } else {
                exchange.feed(&chunk[..n])
            };
            match step.map_err(|e| e.to_string())? {
                Some(result) => break result,
                None if n == 0 => return Err("connection closed".to_string()),
                None => {}
            }
        };
        result.map_err(|f| format!("fault {}: {}", f.code, f.string))
    }
}

/// One call on a fresh connection.
pub fn call(path: &Path, method: &str, params: &[Value]) -> Result<Value, String> {
    Conn::open(path)
        .map_err(|e| e.to_string())?
        .call(method, params)
}
