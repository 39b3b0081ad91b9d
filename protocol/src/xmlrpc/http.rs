//! Sans-IO HTTP/1.x framing for both ends of `/RPC2` (and `/logtail`).
//!
//! Supervisor's server is Medusa speaking HTTP/1.0 and 1.1 with keep-alive; its clients are
//! Python's `http.client` (via `xmlrpc.client` or `SupervisorTransport`). That needs only a
//! small subset of HTTP, so it lives here as byte-level helpers instead of a framework:
//!
//! * [`encode_request`]: the POST a client sends;
//! * [`RequestHeadParser`] / [`ResponseHeadParser`]: feed bytes as they arrive, get the parsed
//!   head (plus the bytes after it) once the blank line is in; heads over the size limit
//!   (default [`DEFAULT_MAX_HEAD`]) and any syntax error are [`HttpError`]s, never panics;
//! * [`ChunkedDecoder`] for `Transfer-Encoding: chunked` bodies (`/logtail` streams them);
//! * [`encode_response`], [`encode_response_head`], [`encode_chunk`] for the server;
//! * Basic auth header encoding and parsing.
//!
//! Header values are kept as text (invalid UTF-8 replaced); names compare case-insensitively.

use std::fmt;

use super::b64;

/// Head size limit used by [`RequestHeadParser::new`] and [`ResponseHeadParser::new`].
pub const DEFAULT_MAX_HEAD: usize = 64 * 1024;

/// Longest chunk-size or trailer line [`ChunkedDecoder`] accepts.
const MAX_CHUNK_LINE: usize = 4096;
/// Most trailer bytes [`ChunkedDecoder`] accepts.
const MAX_TRAILERS: usize = 64 * 1024;

/// Why a head or chunked body was rejected (a server answers 400).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpError {
    /// No blank line within `limit` bytes.
    HeadTooLarge {
        limit: usize,
    },
    BadRequestLine(String),
    BadStatusLine(String),
    /// Only HTTP/1.0 and HTTP/1.1 are spoken.
    UnsupportedVersion(String),
    BadHeader(String),
    BadContentLength(String),
    /// Different Content-Length values, or Content-Length with chunked in a request.
    ConflictingLength,
    /// A request Transfer-Encoding whose last coding is not `chunked`.
    UnsupportedTransferEncoding(String),
    BadChunk(String),
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::HeadTooLarge { limit } => {
                write!(f, "HTTP head larger than {limit} bytes")
            }
            HttpError::BadRequestLine(l) => write!(f, "bad request line {l:?}"),
            HttpError::BadStatusLine(l) => write!(f, "bad status line {l:?}"),
            HttpError::UnsupportedVersion(v) => write!(f, "unsupported HTTP version {v:?}"),
            HttpError::BadHeader(l) => write!(f, "bad header line {l:?}"),
            HttpError::BadContentLength(v) => write!(f, "bad Content-Length {v:?}"),
            HttpError::ConflictingLength => f.write_str("conflicting message length headers"),
            HttpError::UnsupportedTransferEncoding(v) => {
                write!(f, "unsupported Transfer-Encoding {v:?}")
            }
            HttpError::BadChunk(why) => write!(f, "bad chunked encoding: {why}"),
        }
    }
}

impl std::error::Error for HttpError {}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    Http10,
    Http11,
}

impl Version {
    fn parse(s: &str) -> Option<Version> {
        match s {
            "HTTP/1.0" => Some(Version::Http10),
            "HTTP/1.1" => Some(Version::Http11),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
        }
    }
}

/// How the body after a head is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFraming {
    /// No body.
    Empty,
    /// Exactly this many bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`; use [`ChunkedDecoder`].
    Chunked,
    /// Everything until the peer closes (responses without a length only).
    UntilClose,
}

/// Header lines in arrival order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Headers(pub Vec<(String, String)>);

impl Headers {
    /// The first value of `name` (case-insensitive).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name`, in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether a comma-separated header (`Connection`, `Transfer-Encoding`) lists `token`.
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.get_all(name)
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }
}

/// A parsed request line and headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    pub method: String,
    /// The request target as sent (e.g. `/RPC2`, `/logtail/web/stderr?x`).
    pub target: String,
    pub version: Version,
    pub headers: Headers,
    pub content_length: Option<u64>,
    pub chunked: bool,
}

impl RequestHead {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)
    }

    /// HTTP/1.1 keeps the connection unless `Connection: close`; 1.0 only with `keep-alive`.
    pub fn keep_alive(&self) -> bool {
        keep_alive(self.version, &self.headers)
    }

    pub fn body_framing(&self) -> BodyFraming {
        if self.chunked {
            BodyFraming::Chunked
        } else {
            match self.content_length {
                Some(0) | None => BodyFraming::Empty,
                Some(n) => BodyFraming::Length(n),
            }
        }
    }

    /// Credentials from `Authorization: Basic ...`, if present and well-formed.
    pub fn basic_auth(&self) -> Option<(String, String)> {
        parse_basic_auth(self.header("Authorization")?)
    }
}

/// A parsed status line and headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    pub version: Version,
    pub status: u16,
    pub reason: String,
    pub headers: Headers,
    pub content_length: Option<u64>,
    pub chunked: bool,
}

impl ResponseHead {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)
    }

    pub fn keep_alive(&self) -> bool {
        keep_alive(self.version, &self.headers)
    }

    /// Body framing; `head_request` says the request was `HEAD` (never a body).
    pub fn body_framing(&self, head_request: bool) -> BodyFraming {
        if head_request || (100..200).contains(&self.status) || matches!(self.status, 204 | 304) {
            BodyFraming::Empty
        } else if self.chunked {
            BodyFraming::Chunked
        } else {
            match self.content_length {
                Some(0) => BodyFraming::Empty,
                Some(n) => BodyFraming::Length(n),
                None => BodyFraming::UntilClose,
            }
        }
    }
}

fn keep_alive(version: Version, headers: &Headers) -> bool {
    if headers.has_token("Connection", "close") {
        return false;
    }
    match version {
        Version::Http11 => true,
        Version::Http10 => headers.has_token("Connection", "keep-alive"),
    }
}

/// Raw head bytes (through the blank line) and whatever followed them.
type HeadAndRest = (Vec<u8>, Vec<u8>);

/// Accumulates bytes until the blank line that ends a head.
#[derive(Debug)]
struct HeadBuffer {
    buf: Vec<u8>,
    limit: usize,
    /// Where to resume looking for the blank line.
    scanned: usize,
    skip_leading_blank_lines: bool,
}

impl HeadBuffer {
    fn new(limit: usize, skip_leading_blank_lines: bool) -> Self {
        HeadBuffer {
            buf: Vec::new(),
            limit,
            scanned: 0,
            skip_leading_blank_lines,
        }
    }

    /// Returns `(head bytes, rest)` once complete; resets itself.
    fn feed(&mut self, data: &[u8]) -> Result<Option<HeadAndRest>, HttpError> {
        self.buf.extend_from_slice(data);
        if self.skip_leading_blank_lines && self.scanned == 0 {
            // RFC 9112 2.2: ignore empty lines before a request line.
            let blank = self
                .buf
                .iter()
                .take_while(|b| matches!(b, b'\r' | b'\n'))
                .count();
            self.buf.drain(..blank);
        }
        let mut i = self.scanned;
        let mut end = None;
        while i < self.buf.len() {
            if self.buf[i] == b'\n' {
                match (self.buf.get(i + 1), self.buf.get(i + 2)) {
                    (Some(b'\n'), _) => {
                        end = Some(i + 2);
                        break;
                    }
                    (Some(b'\r'), Some(b'\n')) => {
                        end = Some(i + 3);
                        break;
                    }
                    (None, _) | (Some(b'\r'), None) => break, // need more bytes
                    _ => {}
                }
            }
            i += 1;
        }
        match end {
            Some(end) if end <= self.limit => {
                let rest = self.buf.split_off(end);
                let head = std::mem::take(&mut self.buf);
                self.scanned = 0;
                Ok(Some((head, rest)))
            }
            Some(_) => Err(HttpError::HeadTooLarge { limit: self.limit }),
            None if self.buf.len() > self.limit => {
                Err(HttpError::HeadTooLarge { limit: self.limit })
            }
            None => {
                self.scanned = i;
                Ok(None)
            }
        }
    }
}

/// Splits head bytes into the first line and header fields.
fn split_head(head: &[u8]) -> Result<(String, Headers), HttpError> {
    let text = String::from_utf8_lossy(head);
    let mut lines = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .take_while(|l| !l.is_empty());
    let first = lines.next().unwrap_or("").to_owned();
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in lines {
        if line.starts_with([' ', '\t']) {
            // Obsolete line folding: continue the previous value.
            match headers.last_mut() {
                Some((_, v)) => {
                    v.push(' ');
                    v.push_str(line.trim_matches([' ', '\t']));
                }
                None => return Err(HttpError::BadHeader(line.to_owned())),
            }
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(HttpError::BadHeader(line.to_owned()));
        };
        let token_ok = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b));
        if !token_ok {
            return Err(HttpError::BadHeader(line.to_owned()));
        }
        headers.push((name.to_owned(), value.trim_matches([' ', '\t']).to_owned()));
    }
    Ok((first, Headers(headers)))
}

fn content_length(headers: &Headers) -> Result<Option<u64>, HttpError> {
    let mut found: Option<u64> = None;
    for v in headers.get_all("Content-Length") {
        if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
            return Err(HttpError::BadContentLength(v.to_owned()));
        }
        let n: u64 = v
            .parse()
            .map_err(|_| HttpError::BadContentLength(v.to_owned()))?;
        if found.is_some_and(|prev| prev != n) {
            return Err(HttpError::ConflictingLength);
        }
        found = Some(n);
    }
    Ok(found)
}

/// `Some(true)` when the last transfer coding is chunked, `Some(false)` for another coding,
/// `None` without the header.
fn transfer_chunked(headers: &Headers) -> Option<bool> {
    let codings: Vec<&str> = headers
        .get_all("Transfer-Encoding")
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect();
    let last = codings.last()?;
    Some(last.eq_ignore_ascii_case("chunked"))
}

/// Incremental request-head parser for a server.
#[derive(Debug)]
pub struct RequestHeadParser {
    inner: HeadBuffer,
}

impl Default for RequestHeadParser {
    fn default() -> Self {
        Self::new()
    }
}

impl RequestHeadParser {
    pub fn new() -> Self {
        Self::with_limit(DEFAULT_MAX_HEAD)
    }

    pub fn with_limit(limit: usize) -> Self {
        RequestHeadParser {
            inner: HeadBuffer::new(limit, true),
        }
    }

    /// Feeds bytes; once the head is complete returns it with the bytes that followed it
    /// (body, or a pipelined request), and the parser is ready for the next request.
    pub fn feed(&mut self, data: &[u8]) -> Result<Option<(RequestHead, Vec<u8>)>, HttpError> {
        let Some((head, rest)) = self.inner.feed(data)? else {
            return Ok(None);
        };
        Ok(Some((parse_request_head(&head)?, rest)))
    }
}

fn parse_request_head(head: &[u8]) -> Result<RequestHead, HttpError> {
    let (line, headers) = split_head(head)?;
    let parts: Vec<&str> = line.split(' ').collect();
    let [method, target, version] = parts[..] else {
        return Err(HttpError::BadRequestLine(line));
    };
    let method_ok = !method.is_empty() && method.bytes().all(|b| b.is_ascii_alphabetic());
    if !method_ok || target.is_empty() || line.contains('\u{fffd}') {
        return Err(HttpError::BadRequestLine(line));
    }
    let version =
        Version::parse(version).ok_or_else(|| HttpError::UnsupportedVersion(version.to_owned()))?;
    let content_length = content_length(&headers)?;
    let chunked = match transfer_chunked(&headers) {
        None => false,
        Some(true) if content_length.is_some() => return Err(HttpError::ConflictingLength),
        Some(true) => true,
        Some(false) => {
            let te = headers.get_all("Transfer-Encoding").collect::<Vec<_>>();
            return Err(HttpError::UnsupportedTransferEncoding(te.join(", ")));
        }
    };
    Ok(RequestHead {
        method: method.to_owned(),
        target: target.to_owned(),
        version,
        headers,
        content_length,
        chunked,
    })
}

/// Incremental response-head parser for a client.
#[derive(Debug)]
pub struct ResponseHeadParser {
    inner: HeadBuffer,
}

impl Default for ResponseHeadParser {
    fn default() -> Self {
        Self::new()
    }
}

impl ResponseHeadParser {
    pub fn new() -> Self {
        Self::with_limit(DEFAULT_MAX_HEAD)
    }

    pub fn with_limit(limit: usize) -> Self {
        ResponseHeadParser {
            inner: HeadBuffer::new(limit, false),
        }
    }

    /// Feeds bytes; once the head is complete returns it with the body bytes that followed.
    pub fn feed(&mut self, data: &[u8]) -> Result<Option<(ResponseHead, Vec<u8>)>, HttpError> {
        let Some((head, rest)) = self.inner.feed(data)? else {
            return Ok(None);
        };
        Ok(Some((parse_response_head(&head)?, rest)))
    }
}

fn parse_response_head(head: &[u8]) -> Result<ResponseHead, HttpError> {
    let (line, headers) = split_head(head)?;
    let mut parts = line.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    let status = parts.next().unwrap_or("");
    let reason = parts.next().unwrap_or("").to_owned();
    let version = Version::parse(version).ok_or_else(|| {
        if version.starts_with("HTTP/") {
            HttpError::UnsupportedVersion(version.to_owned())
        } else {
            HttpError::BadStatusLine(line.clone())
        }
    })?;
    if status.len() != 3 || !status.bytes().all(|b| b.is_ascii_digit()) {
        return Err(HttpError::BadStatusLine(line));
    }
    let status: u16 = status
        .parse()
        .map_err(|_| HttpError::BadStatusLine(line.clone()))?;
    let chunked = transfer_chunked(&headers) == Some(true);
    // With chunked framing the length is ignored (RFC 9112 6.3), so do not reject a bad one.
    let content_length = if chunked {
        None
    } else {
        content_length(&headers)?
    };
    Ok(ResponseHead {
        version,
        status,
        reason,
        headers,
        content_length,
        chunked,
    })
}

// ------------------------------------------------------------------------------------------
// Chunked bodies

#[derive(Debug, Clone, PartialEq, Eq)]
enum ChunkState {
    Size,
    Data(u64),
    DataEnd,
    Trailers,
    Done,
}

/// Decodes a `Transfer-Encoding: chunked` body incrementally.
#[derive(Debug)]
pub struct ChunkedDecoder {
    state: ChunkState,
    line: Vec<u8>,
    trailer_bytes: usize,
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl ChunkedDecoder {
    pub fn new() -> Self {
        ChunkedDecoder {
            state: ChunkState::Size,
            line: Vec::new(),
            trailer_bytes: 0,
        }
    }

    /// The last chunk and trailers have been read.
    pub fn is_done(&self) -> bool {
        self.state == ChunkState::Done
    }

    /// Appends decoded data from `input` to `out`; returns how many input bytes were used
    /// (fewer than `input.len()` only once done: the rest belongs to the next message).
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<usize, HttpError> {
        let mut i = 0;
        while i < input.len() {
            match self.state {
                ChunkState::Done => break,
                ChunkState::Data(remaining) => {
                    let take = usize::try_from(remaining)
                        .unwrap_or(usize::MAX)
                        .min(input.len() - i);
                    out.extend_from_slice(&input[i..i + take]);
                    i += take;
                    let left = remaining - take as u64;
                    self.state = if left == 0 {
                        ChunkState::DataEnd
                    } else {
                        ChunkState::Data(left)
                    };
                }
                ChunkState::Size | ChunkState::DataEnd | ChunkState::Trailers => {
                    let b = input[i];
                    i += 1;
                    if b != b'\n' {
                        self.line.push(b);
                        if self.line.len() > MAX_CHUNK_LINE {
                            return Err(HttpError::BadChunk("line too long".to_owned()));
                        }
                        continue;
                    }
                    let mut line = std::mem::take(&mut self.line);
                    if line.last() == Some(&b'\r') {
                        line.pop();
                    }
                    self.end_of_line(&line)?;
                }
            }
        }
        Ok(i)
    }

    fn end_of_line(&mut self, line: &[u8]) -> Result<(), HttpError> {
        match self.state {
            ChunkState::Size => {
                let size_text = line.split(|&b| b == b';').next().unwrap_or(&[]);
                let size_text = String::from_utf8_lossy(size_text);
                let size_text = size_text.trim_matches([' ', '\t']);
                if size_text.is_empty() || !size_text.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(HttpError::BadChunk(format!("bad chunk size {size_text:?}")));
                }
                let size = u64::from_str_radix(size_text, 16)
                    .map_err(|_| HttpError::BadChunk(format!("chunk size {size_text} too big")))?;
                self.state = if size == 0 {
                    ChunkState::Trailers
                } else {
                    ChunkState::Data(size)
                };
            }
            ChunkState::DataEnd => {
                if !line.is_empty() {
                    return Err(HttpError::BadChunk(
                        "missing CRLF after chunk data".to_owned(),
                    ));
                }
                self.state = ChunkState::Size;
            }
            ChunkState::Trailers => {
                if line.is_empty() {
                    self.state = ChunkState::Done;
                } else {
                    self.trailer_bytes += line.len();
                    if self.trailer_bytes > MAX_TRAILERS {
                        return Err(HttpError::BadChunk("trailers too large".to_owned()));
                    }
                }
            }
            ChunkState::Data(_) | ChunkState::Done => {}
        }
        Ok(())
    }
}

// ------------------------------------------------------------------------------------------
// Encoding

/// Drops CR, LF and other control characters so a value cannot split a header line.
fn header_safe(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).collect()
}

/// `Basic <base64(user:password)>`.
pub fn basic_auth_header(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        b64::encode(format!("{user}:{password}").as_bytes())
    )
}

/// Parses an `Authorization` value `Basic <base64(user:password)>` as RFC 7617 defines it:
/// the scheme (case-insensitive), one or more spaces, then one canonical base64 token
/// (padding required, no embedded whitespace, nothing after it). The password may contain
/// `:`; both parts must be UTF-8. `None` for another scheme or anything malformed.
pub fn parse_basic_auth(value: &str) -> Option<(String, String)> {
    let value = value.trim_matches([' ', '\t']);
    let (scheme, creds) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = b64::decode_strict(creds.trim_start_matches(' ')).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

/// The XML-RPC POST a client sends, like `supervisorctl`'s transport: `Content-Type: text/xml`,
/// `Content-Length`, optional Basic auth, `Accept-Encoding: identity` (we never want gzip).
/// Control characters are removed from `path` and `host` and spaces in `path` become `%20`,
/// so the head cannot be split.
pub fn encode_request(
    path: &str,
    host: &str,
    body: &[u8],
    basic_auth: Option<(&str, &str)>,
) -> Vec<u8> {
    let path = header_safe(path).replace(' ', "%20");
    let path = if path.is_empty() {
        "/".to_owned()
    } else {
        path
    };
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nHost: {}\r\nAccept-Encoding: identity\r\n",
        header_safe(host)
    );
    head.push_str(concat!(
        "User-Agent: supervisor-rs/",
        env!("CARGO_PKG_VERSION"),
        "\r\nContent-Type: text/xml\r\nAccept: text/xml\r\n"
    ));
    if let Some((user, password)) = basic_auth {
        head.push_str("Authorization: ");
        head.push_str(&basic_auth_header(user, password));
        head.push_str("\r\n");
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut out = head.into_bytes();
    out.extend_from_slice(body);
    out
}

/// A `GET` a client sends for a streamed body (`supervisorctl tail -f`: `/logtail/...`,
/// `/mainlogtail`), with optional Basic auth; `path` and `host` made safe as in
/// [`encode_request`].
pub fn encode_get_request(path: &str, host: &str, basic_auth: Option<(&str, &str)>) -> Vec<u8> {
    let path = header_safe(path).replace(' ', "%20");
    let mut head = format!("GET {path} HTTP/1.1\r\nHost: {}\r\n", header_safe(host));
    if let Some((user, password)) = basic_auth {
        head.push_str("Authorization: ");
        head.push_str(&basic_auth_header(user, password));
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    head.into_bytes()
}

/// The standard reason phrase for the statuses Supervisor's server uses.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        411 => "Length Required",
        413 => "Payload Too Large",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

/// An HTTP/1.1 status line and headers, ending with the blank line. The caller supplies every
/// header (use it for chunked streams with `Transfer-Encoding: chunked`).
pub fn encode_response_head(status: u16, headers: &[(&str, &str)]) -> Vec<u8> {
    let mut head = format!("HTTP/1.1 {status} {}\r\n", reason_phrase(status));
    for (name, value) in headers {
        head.push_str(&header_safe(name));
        head.push_str(": ");
        head.push_str(&header_safe(value));
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    head.into_bytes()
}

/// A complete response: `headers` plus `Content-Length`, then `body`.
pub fn encode_response(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let length = body.len().to_string();
    let mut all: Vec<(&str, &str)> = headers.to_vec();
    all.push(("Content-Length", &length));
    let mut out = encode_response_head(status, &all);
    out.extend_from_slice(body);
    out
}

/// One chunk of a chunked body (empty `data` gives nothing: use [`LAST_CHUNK`] to end).
pub fn encode_chunk(data: &[u8]) -> Vec<u8> {
    if data.is_empty() {
        return Vec::new();
    }
    let mut out = format!("{:x}\r\n", data.len()).into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
    out
}

/// Ends a chunked body.
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

#[cfg(test)]
mod tests {
    use super::*;

    /// Captured from Python 3.11: `ServerProxy('http://user:p%40ss@127.0.0.1:PORT/RPC2')
    /// .supervisor.startProcess('web', True)`.
    const PYTHON_REQUEST: &[u8] = b"POST /RPC2 HTTP/1.1\r\nHost: 127.0.0.1:49959\r\nAuthorization: Basic dXNlcjpwQHNz\r\nAccept-Encoding: gzip\r\nContent-Type: text/xml\r\nUser-Agent: Python-xmlrpc/3.11\r\nContent-Length: 223\r\n\r\n<?xml version='1.0'?>\n<methodCall>\n<methodName>supervisor.startProcess</methodName>\n<params>\n<param>\n<value><string>web</string></value>\n</param>\n<param>\n<value><boolean>1</boolean></value>\n</param>\n</params>\n</methodCall>\n";

    /// Shaped like Medusa's reply (Server, Date, then the handler's headers).
    const MEDUSA_RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nServer: Medusa/1.12\r\nDate: Wed, 25 Nov 2026 21:00:00 GMT\r\nContent-Type: text/xml\r\nContent-Length: 129\r\n\r\n<?xml";

    #[test]
    fn python_request_parses_in_any_split() {
        for split in 0..=PYTHON_REQUEST.len() {
            let mut p = RequestHeadParser::new();
            let (a, b) = PYTHON_REQUEST.split_at(split);
            let (head, rest) = match p.feed(a).expect("valid") {
                Some((head, rest)) => (head, [rest.as_slice(), b].concat()),
                None => p.feed(b).expect("valid").expect("complete"),
            };
            assert_eq!(head.method, "POST");
            assert_eq!(head.target, "/RPC2");
            assert_eq!(head.version, Version::Http11);
            assert_eq!(head.content_length, Some(223));
            assert!(!head.chunked && head.keep_alive());
            assert_eq!(head.body_framing(), BodyFraming::Length(223));
            assert_eq!(head.header("content-type"), Some("text/xml"));
            assert_eq!(head.basic_auth(), Some(("user".into(), "p@ss".into())));
            assert_eq!(rest.len(), 223);
            assert!(rest.starts_with(b"<?xml"));
        }
    }

    #[test]
    fn byte_at_a_time_and_pipelining() {
        let two = [PYTHON_REQUEST, b"GET /ok.html HTTP/1.0\r\n\r\n"].concat();
        let mut p = RequestHeadParser::new();
        let mut got = None;
        for (i, b) in two.iter().enumerate() {
            if let Some(done) = p.feed(std::slice::from_ref(b)).expect("valid") {
                got = Some((i, done));
                break;
            }
        }
        let (i, (head, rest)) = got.expect("complete");
        assert_eq!(i, PYTHON_REQUEST.len() - 224);
        assert!(rest.is_empty());
        assert_eq!(head.content_length, Some(223));
        // Feed the rest of the stream after skipping the body: the next head comes out.
        let after_body = &two[i + 1 + 223..];
        let (next, rest) = p.feed(after_body).expect("valid").expect("complete");
        assert_eq!(
            (next.method.as_str(), next.target.as_str()),
            ("GET", "/ok.html")
        );
        assert!(!next.keep_alive() && rest.is_empty());
        assert_eq!(next.body_framing(), BodyFraming::Empty);
    }

    #[test]
    fn lenient_forms() {
        let mut p = RequestHeadParser::new();
        let (h, _) = p
            .feed(b"\r\n\r\nGET / HTTP/1.0\nConnection: Keep-Alive\nX-Folded: a\n  b\n\n")
            .expect("valid")
            .expect("complete");
        assert!(h.keep_alive());
        assert_eq!(h.header("x-folded"), Some("a b"));
        assert_eq!(h.basic_auth(), None);
        let (h, _) = RequestHeadParser::new()
            .feed(b"POST /RPC2 HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\nConnection: close\r\n\r\n")
            .expect("valid")
            .expect("complete");
        assert!(h.chunked && !h.keep_alive());
        assert_eq!(h.body_framing(), BodyFraming::Chunked);
    }

    #[test]
    fn bad_requests() {
        let err = |bytes: &[u8]| {
            RequestHeadParser::new()
                .feed(bytes)
                .expect_err("should be rejected")
        };
        assert!(matches!(
            err(b"GET /\r\n\r\n"),
            HttpError::BadRequestLine(_)
        ));
        assert!(
            matches!(err(b"GET / HTTP/2.0\r\n\r\n"), HttpError::UnsupportedVersion(v) if v == "HTTP/2.0")
        );
        assert!(matches!(
            err(b"G3T / HTTP/1.1\r\n\r\n"),
            HttpError::BadRequestLine(_)
        ));
        assert!(matches!(
            err(b"GET  / HTTP/1.1\r\n\r\n"),
            HttpError::BadRequestLine(_)
        ));
        assert!(matches!(
            err(b"GET /\xff HTTP/1.1\r\n\r\n"),
            HttpError::BadRequestLine(_)
        ));
        assert!(matches!(
            err(b"GET / HTTP/1.1\r\nNoColon\r\n\r\n"),
            HttpError::BadHeader(_)
        ));
        assert!(matches!(
            err(b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n"),
            HttpError::BadHeader(_)
        ));
        assert!(matches!(
            err(b"GET / HTTP/1.1\r\n folded-first\r\n\r\n"),
            HttpError::BadHeader(_)
        ));
        assert!(matches!(
            err(b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"),
            HttpError::BadContentLength(_)
        ));
        assert!(matches!(
            err(b"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n"),
            HttpError::BadContentLength(_)
        ));
        assert_eq!(
            err(b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"),
            HttpError::ConflictingLength
        );
        assert_eq!(
            err(b"POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"),
            HttpError::ConflictingLength
        );
        assert!(matches!(
            err(b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n"),
            HttpError::UnsupportedTransferEncoding(_)
        ));
        // Size limit: without a terminator, and with one beyond the limit.
        let mut p = RequestHeadParser::with_limit(100);
        assert_eq!(p.feed(&[b'a'; 60]), Ok(None));
        assert_eq!(
            p.feed(&[b'a'; 60]),
            Err(HttpError::HeadTooLarge { limit: 100 })
        );
        let big = [
            b"GET / HTTP/1.1\r\nX: ".as_slice(),
            &[b'a'; 200],
            b"\r\n\r\n",
        ]
        .concat();
        assert_eq!(
            RequestHeadParser::with_limit(100).feed(&big),
            Err(HttpError::HeadTooLarge { limit: 100 })
        );
        assert_eq!(
            RequestHeadParser::new().feed(&vec![b'x'; DEFAULT_MAX_HEAD + 1]),
            Err(HttpError::HeadTooLarge {
                limit: DEFAULT_MAX_HEAD
            })
        );
    }

    #[test]
    fn garbage_never_panics() {
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..2000 {
            let mut bytes = PYTHON_REQUEST[..PYTHON_REQUEST.len() - 223].to_vec();
            for _ in 0..3 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let at = (seed as usize) % bytes.len();
                bytes[at] = (seed >> 32) as u8;
            }
            let _ = RequestHeadParser::new().feed(&bytes);
            let _ = ResponseHeadParser::new().feed(&bytes);
            let _ = ChunkedDecoder::new().feed(&bytes, &mut Vec::new());
        }
    }

    #[test]
    fn responses() {
        let (h, rest) = ResponseHeadParser::new()
            .feed(MEDUSA_RESPONSE)
            .expect("valid")
            .expect("complete");
        assert_eq!((h.status, h.reason.as_str()), (200, "OK"));
        assert_eq!(h.content_length, Some(129));
        assert_eq!(h.body_framing(false), BodyFraming::Length(129));
        assert_eq!(h.body_framing(true), BodyFraming::Empty);
        assert_eq!(h.header("server"), Some("Medusa/1.12"));
        assert_eq!(rest, b"<?xml");

        let parse = |b: &[u8]| ResponseHeadParser::new().feed(b);
        let (h, _) = parse(b"HTTP/1.0 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"default\"\r\nConnection: close\r\n\r\n")
            .expect("valid")
            .expect("complete");
        assert_eq!(h.status, 401);
        assert!(!h.keep_alive());
        assert_eq!(h.body_framing(false), BodyFraming::UntilClose);
        let (h, _) =
            parse(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: zz\r\n\r\n")
                .expect("valid")
                .expect("complete");
        assert_eq!(h.body_framing(false), BodyFraming::Chunked);
        let (h, _) = parse(b"HTTP/1.1 204\r\n\r\n")
            .expect("valid")
            .expect("complete");
        assert_eq!((h.status, h.reason.as_str()), (204, ""));
        assert_eq!(h.body_framing(false), BodyFraming::Empty);
        assert!(matches!(
            parse(b"HTTP/1.1 2000 OK\r\n\r\n"),
            Err(HttpError::BadStatusLine(_))
        ));
        assert!(matches!(
            parse(b"ICY 200 OK\r\n\r\n"),
            Err(HttpError::BadStatusLine(_))
        ));
        assert!(matches!(
            parse(b"HTTP/3 200 OK\r\n\r\n"),
            Err(HttpError::UnsupportedVersion(_))
        ));
        assert!(matches!(
            parse(b"\r\n\r\n"),
            Err(HttpError::BadStatusLine(_))
        ));
    }

    #[test]
    fn request_encoding_matches_what_servers_expect() {
        let body = b"<x/>";
        let req = encode_request("/RPC2", "localhost", body, Some(("user", "p@ss")));
        let text = String::from_utf8(req.clone()).expect("ascii");
        assert!(text.starts_with("POST /RPC2 HTTP/1.1\r\nHost: localhost\r\n"));
        assert!(text.contains("\r\nAuthorization: Basic dXNlcjpwQHNz\r\n"));
        assert!(text.contains("\r\nContent-Type: text/xml\r\n"));
        assert!(text.ends_with("\r\nContent-Length: 4\r\n\r\n<x/>"));
        let (head, rest) = RequestHeadParser::new()
            .feed(&req)
            .expect("valid")
            .expect("complete");
        assert_eq!(head.basic_auth(), Some(("user".into(), "p@ss".into())));
        assert_eq!(rest, body);

        // Injection attempts are defused.
        let req = encode_request("/RPC2\r\nX-Evil: 1", "h\r\nX: y", b"", None);
        let (head, _) = RequestHeadParser::new()
            .feed(&req)
            .expect("valid")
            .expect("complete");
        assert_eq!(head.target, "/RPC2X-Evil:%201");
        assert_eq!(head.header("X-Evil"), None);
        assert_eq!(head.header("host"), Some("hX: y"));
        assert_eq!(head.basic_auth(), None);
    }

    #[test]
    fn basic_auth_parsing() {
        assert_eq!(
            parse_basic_auth("basic dXNlcjpwOmFzcw=="),
            Some(("user".into(), "p:ass".into()))
        );
        assert_eq!(basic_auth_header("user", "p:ass"), "Basic dXNlcjpwOmFzcw==");
        assert_eq!(parse_basic_auth("Bearer abc"), None);
        assert_eq!(parse_basic_auth("Basic !!!"), None);
        assert_eq!(parse_basic_auth("Basic dXNlcg=="), None); // no colon
        assert_eq!(parse_basic_auth("Basic"), None);
        // RFC 7617 / RFC 4648: one canonical token; several spaces after the scheme are fine.
        assert_eq!(
            parse_basic_auth("Basic   dXNlcjpwOmFzcw=="),
            Some(("user".into(), "p:ass".into()))
        );
        assert_eq!(parse_basic_auth("Basic dXNlcjpw OmFzcw=="), None);
        assert_eq!(parse_basic_auth("Basic dXNlcjpwOmFzcw"), None);
        assert_eq!(parse_basic_auth("Basic dXNlcjpwOmFzcw== x"), None);
        assert_eq!(parse_basic_auth("Basic\tdXNlcjpwOmFzcw=="), None);
    }

    #[test]
    fn response_encoding() {
        let r = encode_response(200, &[("Content-Type", "text/xml")], b"<x/>");
        assert_eq!(
            r,
            b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: 4\r\n\r\n<x/>"
        );
        let r = encode_response(
            401,
            &[
                ("WWW-Authenticate", "Basic realm=\"default\""),
                ("Connection", "close"),
            ],
            b"",
        );
        let (h, _) = ResponseHeadParser::new()
            .feed(&r)
            .expect("valid")
            .expect("complete");
        assert_eq!((h.status, h.reason.as_str()), (401, "Unauthorized"));
        assert_eq!(h.body_framing(false), BodyFraming::Empty);
        assert_eq!(
            encode_response_head(200, &[("X", "a\r\nb")]),
            b"HTTP/1.1 200 OK\r\nX: ab\r\n\r\n"
        );
        assert_eq!(reason_phrase(599), "Unknown");
    }

    #[test]
    fn chunked_round_trip_any_split() {
        let mut wire = Vec::new();
        wire.extend(encode_chunk(b"hello "));
        wire.extend(encode_chunk(b""));
        wire.extend(encode_chunk(&[b'x'; 300]));
        wire.extend_from_slice(LAST_CHUNK);
        wire.extend_from_slice(b"NEXT");
        let expected = [b"hello ".as_slice(), &[b'x'; 300]].concat();
        for split in 0..wire.len() {
            let mut d = ChunkedDecoder::new();
            let mut out = Vec::new();
            let (a, b) = wire.split_at(split);
            let used_a = d.feed(a, &mut out).expect("valid");
            let leftover = if d.is_done() {
                [&a[used_a..], b].concat()
            } else {
                assert_eq!(used_a, a.len());
                let used_b = d.feed(b, &mut out).expect("valid");
                assert!(d.is_done());
                b[used_b..].to_vec()
            };
            assert_eq!(leftover, b"NEXT");
            assert_eq!(out, expected);
        }
        // Extensions, trailers, bare LF.
        let mut d = ChunkedDecoder::new();
        let mut out = Vec::new();
        d.feed(b"3;ext=1\nabc\n0\nTrailer: x\n\n", &mut out)
            .expect("valid");
        assert!(d.is_done());
        assert_eq!(out, b"abc");
    }

    #[test]
    fn bad_chunks() {
        let bad = |b: &[u8]| ChunkedDecoder::new().feed(b, &mut Vec::new());
        assert!(matches!(bad(b"zz\r\n"), Err(HttpError::BadChunk(_))));
        assert!(matches!(bad(b"\r\n"), Err(HttpError::BadChunk(_))));
        assert!(matches!(bad(b"3\r\nabcX\r\n"), Err(HttpError::BadChunk(_))));
        assert!(matches!(
            bad(b"fffffffffffffffffffff\r\n"),
            Err(HttpError::BadChunk(_))
        ));
        assert!(matches!(bad(&[b'1'; 5000]), Err(HttpError::BadChunk(_))));
        let mut trailers = b"0\r\n".to_vec();
        for _ in 0..100 {
            trailers.extend_from_slice(&[b'a'; 1000]);
            trailers.extend_from_slice(b"\r\n");
        }
        assert!(matches!(bad(&trailers), Err(HttpError::BadChunk(_))));
    }
}
