//! The HTTP side of the control plane: listeners on the unix socket and TCP, request framing,
//! Basic auth, and routing to `/RPC2` (answered by the supervision loop through a
//! [`methods::command`]) or to the streaming `/logtail` and `/mainlogtail` endpoints.
//!
//! Every connection is its own task, so a slow client never holds up another one; heads must
//! arrive within [`HEAD_TIMEOUT`] and bodies are capped at [`MAX_BODY`].

use std::cell::RefCell;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::oneshot;

use supervisor_protocol::xmlrpc::{encode_response, parse_method_call};

use crate::config::Config;
use crate::logs::{LogLevel, MainLog};
use crate::rpc::auth::Credentials;
use crate::rpc::methods;
use crate::supervisor::runtime::{Command, Handle};

/// Largest request head accepted.
pub const MAX_HEAD: usize = 64 * 1024;
/// Largest request body accepted (XML-RPC calls are small; multicalls of thousands fit).
pub const MAX_BODY: usize = 4 * 1024 * 1024;
/// A request head (and an idle keep-alive connection) must arrive within this time.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(30);
/// A declared body must arrive within this time.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(60);
/// How often `/logtail` looks for new output (Supervisor polls about every 0.1 s).
const TAIL_POLL: Duration = Duration::from_millis(100);

/// A bound listener, created before the daemon forks so errors stop start-up.
pub enum Listener {
    Unix {
        listener: std::os::unix::net::UnixListener,
        path: PathBuf,
    },
    Tcp(std::net::TcpListener),
}

/// One `[unix_http_server]` / `[inet_http_server]` section, bound.
pub struct Server {
    pub section: String,
    pub listener: Listener,
    pub auth: Option<Credentials>,
    /// The `[metrics]` listener: serves `/metrics` only, without authentication.
    pub metrics_only: bool,
}

/// Supervisor's start-up lines for the HTTP servers, in its order (inet servers first): one
/// `RPC interface '<name>' initialized` per `[rpcinterface:x]`, then a CRIT for a server
/// without credentials.
pub fn log_servers(log: &mut MainLog, config: &Config) {
    let sections = config
        .inet_http_servers
        .iter()
        .map(|i| (&i.section, i.username.is_some()))
        .chain(
            config
                .unix_http_servers
                .iter()
                .map(|u| (&u.section, u.username.is_some())),
        );
    for (section, has_auth) in sections {
        for name in &config.rpcinterfaces {
            log.log(
                LogLevel::Info,
                &format!("RPC interface '{name}' initialized"),
            );
        }
        if !has_auth {
            log.log(
                LogLevel::Critical,
                &format!("Server '{section}' running without any HTTP authentication checking"),
            );
        }
    }
}

/// Bind every configured server. A live unix socket owned by another process is an error; a
/// stale socket file is replaced.
pub fn bind_all(config: &Config) -> Result<Vec<Server>, String> {
    let mut servers = Vec::new();
    for u in &config.unix_http_servers {
        let listener = bind_unix(&u.file, u.chmod, u.chown)?;
        servers.push(Server {
            section: u.section.clone(),
            listener: Listener::Unix {
                listener,
                path: u.file.clone(),
            },
            auth: Credentials::from_config(u.username.as_deref(), u.password.as_deref()),
            metrics_only: false,
        });
    }
    for i in &config.inet_http_servers {
        let host = if i.host.is_empty() || i.host == "*" {
            "0.0.0.0"
        } else {
            i.host.as_str()
        };
        let listener = std::net::TcpListener::bind((host, i.port)).map_err(|e| {
            if e.kind() == io::ErrorKind::AddrInUse {
                format!(
                    "Another program is already listening on a port that one of our HTTP \
                     servers is configured to use ([{}] port={}).  Shut this program down first \
                     before starting supervisord.",
                    i.section, i.port
                )
            } else {
                format!(
                    "Cannot open an HTTP server: [{}] port={}: {e}",
                    i.section, i.port
                )
            }
        })?;
        servers.push(Server {
            section: i.section.clone(),
            listener: Listener::Tcp(listener),
            auth: Credentials::from_config(i.username.as_deref(), i.password.as_deref()),
            metrics_only: false,
        });
    }
    if let Some(m) = &config.metrics {
        let host = if m.host.is_empty() {
            "0.0.0.0"
        } else {
            m.host.as_str()
        };
        let listener = std::net::TcpListener::bind((host, m.port)).map_err(|e| {
            format!(
                "Cannot open the metrics server: [metrics] port={}: {e}",
                m.port
            )
        })?;
        servers.push(Server {
            section: "metrics".to_string(),
            listener: Listener::Tcp(listener),
            auth: None,
            metrics_only: true,
        });
    }
    Ok(servers)
}

/// Supervisor's dance: bind `<file>.<pid>`, chmod, hard-link to `<file>`, chown; so the socket
/// never exists at its public path with the wrong mode.
fn bind_unix(
    path: &Path,
    mode: u32,
    chown: Option<(u32, Option<u32>)>,
) -> Result<std::os::unix::net::UnixListener, String> {
    let shown = path.display();
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(format!(
                "Another program is already listening on a port that one of our HTTP servers is \
                 configured to use ({shown}).  Shut this program down first before starting \
                 supervisord."
            ));
        }
        std::fs::remove_file(path)
            .map_err(|e| format!("could not remove stale socket {shown}: {e}"))?;
    }
    let tmp = PathBuf::from(format!("{}.{}", path.display(), std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    // The socket file is created by bind() with mode 0777 & ~umask and is connectable at once;
    // a umask of 0177 while binding keeps it owner-only until the chmod below, whatever the
    // daemon's umask is (single-threaded here: bind_all runs before the event loop).
    let old_umask = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o177));
    let bound = std::os::unix::net::UnixListener::bind(&tmp);
    nix::sys::stat::umask(old_umask);
    let listener =
        bound.map_err(|e| format!("Cannot open an HTTP server: socket file {shown}: {e}"))?;
    let result = (|| {
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode))
            .map_err(|e| format!("could not chmod {shown}: {e}"))?;
        std::fs::hard_link(&tmp, path).map_err(|e| format!("could not link {shown}: {e}"))?;
        if let Some((uid, gid)) = chown {
            nix::unistd::chown(
                path,
                Some(nix::unistd::Uid::from_raw(uid)),
                gid.map(nix::unistd::Gid::from_raw),
            )
            .map_err(|e| format!("could not chown {shown}: {e}"))?;
        }
        Ok(())
    })();
    let _ = std::fs::remove_file(&tmp);
    result.map(|()| listener)
}

/// Start accepting on every server (inside the daemon's `LocalSet`).
pub fn spawn_servers(
    servers: Vec<Server>,
    handle: Handle,
    log: Rc<RefCell<MainLog>>,
) -> io::Result<Vec<PathBuf>> {
    let mut sockets = Vec::new();
    for server in servers {
        let ctx = Rc::new(ConnCtx {
            handle: handle.clone(),
            auth: server.auth,
            log: log.clone(),
            metrics_only: server.metrics_only,
        });
        match server.listener {
            Listener::Unix { listener, path } => {
                listener.set_nonblocking(true)?;
                let listener = tokio::net::UnixListener::from_std(listener)?;
                sockets.push(path);
                tokio::task::spawn_local(async move {
                    loop {
                        match listener.accept().await {
                            Ok((stream, _)) => {
                                tokio::task::spawn_local(connection(stream, ctx.clone()));
                            }
                            Err(e) => accept_failed(&ctx, &e).await,
                        }
                    }
                });
            }
            Listener::Tcp(listener) => {
                listener.set_nonblocking(true)?;
                let listener = tokio::net::TcpListener::from_std(listener)?;
                tokio::task::spawn_local(async move {
                    loop {
                        match listener.accept().await {
                            Ok((stream, _)) => {
                                let _ = stream.set_nodelay(true);
                                tokio::task::spawn_local(connection(stream, ctx.clone()));
                            }
                            Err(e) => accept_failed(&ctx, &e).await,
                        }
                    }
                });
            }
        }
    }
    Ok(sockets)
}

/// Out of fds and the like: log, back off briefly, keep serving.
async fn accept_failed(ctx: &ConnCtx, e: &io::Error) {
    ctx.log
        .borrow_mut()
        .log(LogLevel::Warn, &format!("accept failed: {e}"));
    tokio::time::sleep(Duration::from_millis(100)).await;
}

struct ConnCtx {
    handle: Handle,
    auth: Option<Credentials>,
    log: Rc<RefCell<MainLog>>,
    metrics_only: bool,
}

/// A parsed request head.
struct Head {
    method: String,
    path: String,
    minor_version: u8,
    content_length: Option<usize>,
    chunked: bool,
    authorization: Option<Vec<u8>>,
    connection_close: bool,
    connection_keep_alive: bool,
}

enum HeadError {
    Closed,
    TooLarge,
    Malformed,
    Io,
}

/// Read one request head; leftover bytes stay in `buf`.
async fn read_head<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut Vec<u8>,
) -> Result<Head, HeadError> {
    loop {
        if let Some(head) = try_parse_head(buf)? {
            return Ok(head);
        }
        if buf.len() > MAX_HEAD {
            return Err(HeadError::TooLarge);
        }
        let mut chunk = [0u8; 8192];
        let n = match tokio::time::timeout(HEAD_TIMEOUT, stream.read(&mut chunk)).await {
            Err(_) => return Err(HeadError::Closed),
            Ok(Err(_)) => return Err(HeadError::Io),
            Ok(Ok(0)) => return Err(HeadError::Closed),
            Ok(Ok(n)) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn try_parse_head(buf: &mut Vec<u8>) -> Result<Option<Head>, HeadError> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut headers);
    let consumed = match req.parse(buf) {
        // A head that arrived complete in one read must still respect the limit.
        Ok(httparse::Status::Complete(n)) if n > MAX_HEAD => return Err(HeadError::TooLarge),
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(HeadError::TooLarge),
        Err(_) => return Err(HeadError::Malformed),
    };
    let mut head = Head {
        method: req.method.unwrap_or("").to_string(),
        path: req.path.unwrap_or("").to_string(),
        minor_version: req.version.unwrap_or(0),
        content_length: None,
        chunked: false,
        authorization: None,
        connection_close: false,
        connection_keep_alive: false,
    };
    for h in req.headers.iter() {
        let value = std::str::from_utf8(h.value).unwrap_or("").trim();
        if h.name.eq_ignore_ascii_case("content-length") {
            head.content_length = Some(value.parse().map_err(|_| HeadError::Malformed)?);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            head.chunked = value.to_ascii_lowercase().contains("chunked");
        } else if h.name.eq_ignore_ascii_case("authorization") {
            head.authorization = Some(h.value.to_vec());
        } else if h.name.eq_ignore_ascii_case("connection") {
            let v = value.to_ascii_lowercase();
            head.connection_close = v.contains("close");
            head.connection_keep_alive = v.contains("keep-alive");
        }
    }
    buf.drain(..consumed);
    Ok(Some(head))
}

/// Parse one request head at the start of `bytes` exactly as a connection does, for fuzzing
/// and tests: `Ok(None)` when more bytes are needed, `Ok(Some(n))` with the head's length,
/// `Err` with the reason the connection would answer 400/431 for.
pub fn parse_request_head(bytes: &[u8]) -> Result<Option<usize>, &'static str> {
    let mut buf = bytes.to_vec();
    match try_parse_head(&mut buf) {
        Ok(Some(_)) => Ok(Some(bytes.len() - buf.len())),
        Ok(None) => Ok(None),
        Err(HeadError::TooLarge) => Err("request head too large"),
        Err(HeadError::Malformed) => Err("malformed request head"),
        Err(HeadError::Closed) | Err(HeadError::Io) => Err("connection closed"),
    }
}

async fn respond<S: AsyncWrite + Unpin>(
    stream: &mut S,
    status: &str,
    content_type: &str,
    extra: &[(&str, &str)],
    body: &[u8],
    close: bool,
) -> io::Result<()> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nServer: supervisor-rs\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in extra {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    if close {
        out.push_str("Connection: close\r\n");
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    stream.write_all(&bytes).await?;
    stream.flush().await
}

async fn error_page<S: AsyncWrite + Unpin>(
    stream: &mut S,
    status: &str,
    close: bool,
) -> io::Result<()> {
    error_page_with(stream, status, "", close).await
}

/// An error page that also says why (`detail`, HTML-escaped; empty for none).
async fn error_page_with<S: AsyncWrite + Unpin>(
    stream: &mut S,
    status: &str,
    detail: &str,
    close: bool,
) -> io::Result<()> {
    let detail = if detail.is_empty() {
        String::new()
    } else {
        format!("<p>{}</p>", html_escape(detail))
    };
    let body = format!(
        "<html><head><title>Error response</title></head><body><h1>Error response</h1><p>{status}</p>{detail}</body></html>"
    );
    respond(stream, status, "text/html", &[], body.as_bytes(), close).await
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn connection<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, ctx: Rc<ConnCtx>) {
    let mut buf = Vec::new();
    loop {
        let head = match read_head(&mut stream, &mut buf).await {
            Ok(h) => h,
            Err(HeadError::Closed | HeadError::Io) => return,
            Err(HeadError::TooLarge) => {
                let _ = error_page(&mut stream, "431 Request Header Fields Too Large", true).await;
                return;
            }
            Err(HeadError::Malformed) => {
                let _ = error_page(&mut stream, "400 Bad Request", true).await;
                return;
            }
        };
        let keep_alive = if head.minor_version >= 1 {
            !head.connection_close
        } else {
            head.connection_keep_alive
        };
        let close = !keep_alive;
        if let Some(auth) = &ctx.auth {
            if !auth.accepts(head.authorization.as_deref()) {
                let _ = respond(
                    &mut stream,
                    "401 Unauthorized",
                    "text/html",
                    &[("WWW-Authenticate", "Basic realm=\"default\"")],
                    b"<html><head><title>Unauthorized</title></head><body><h1>Unauthorized</h1></body></html>",
                    true,
                )
                .await;
                return;
            }
        }
        let path = head.path.split('?').next().unwrap_or("");
        let result = if ctx.metrics_only {
            if head.method == "GET" && path == "/metrics" {
                metrics(&mut stream, &ctx, close).await
            } else {
                error_page(&mut stream, "404 Not Found", close).await
            }
        } else if head.path.starts_with("/RPC2") {
            rpc(&mut stream, &mut buf, &head, &ctx, close).await
        } else if head.method == "GET" {
            if let Some(rest) = head.path.strip_prefix("/logtail/") {
                let (spec, channel) = match rest.rsplit_once('/') {
                    Some((s, c)) => (percent_decode(s), percent_decode(c)),
                    None => (percent_decode(rest), "stdout".to_string()),
                };
                let (tx, rx) = oneshot::channel();
                let path = if ctx.handle.send(Command::LogPath {
                    namespec: spec,
                    channel,
                    reply: tx,
                }) {
                    rx.await.ok().flatten()
                } else {
                    None
                };
                match path {
                    Some(p) => {
                        stream_log(&mut stream, &p, true).await;
                        return;
                    }
                    None => error_page(&mut stream, "404 Not Found", close).await,
                }
            } else if head.path == "/mainlogtail" {
                let (tx, rx) = oneshot::channel();
                let path = if ctx.handle.send(Command::MainLogPath { reply: tx }) {
                    rx.await.ok().flatten()
                } else {
                    None
                };
                match path {
                    Some(p) => {
                        stream_log(&mut stream, &p, false).await;
                        return;
                    }
                    None => error_page(&mut stream, "404 Not Found", close).await,
                }
            } else if head.path == "/ok.html" {
                respond(&mut stream, "200 OK", "text/html", &[], b"OK", close).await
            } else if path == "/metrics" {
                metrics(&mut stream, &ctx, close).await
            } else if path == "/api/status" {
                api_status(&mut stream, &ctx, close).await
            } else if let Some((content_type, body)) = crate::web::asset(path) {
                let extra = [("Cache-Control", "no-cache")];
                respond(
                    &mut stream,
                    "200 OK",
                    content_type,
                    &extra,
                    body.as_bytes(),
                    close,
                )
                .await
            } else {
                error_page(&mut stream, "404 Not Found", close).await
            }
        } else {
            error_page(&mut stream, "400 Bad Request", close).await
        };
        if result.is_err() || close {
            return;
        }
    }
}

async fn rpc<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    buf: &mut Vec<u8>,
    head: &Head,
    ctx: &ConnCtx,
    close: bool,
) -> io::Result<()> {
    if head.method != "POST" {
        return error_page(stream, "400 Bad Request", close).await;
    }
    if head.chunked {
        return error_page(stream, "411 Length Required", true).await;
    }
    let len = head.content_length.unwrap_or(0);
    if len > MAX_BODY {
        error_page(stream, "413 Payload Too Large", true).await?;
        return Err(io::Error::other("body too large"));
    }
    let read_body = async {
        while buf.len() < len {
            let mut chunk = vec![0u8; (len - buf.len()).min(64 * 1024)];
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Err(io::Error::from(io::ErrorKind::UnexpectedEof));
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        Ok(())
    };
    match tokio::time::timeout(BODY_TIMEOUT, read_body).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(e),
        Err(_) => return Err(io::Error::from(io::ErrorKind::TimedOut)),
    }
    let body: Vec<u8> = buf.drain(..len).collect();
    let call = match parse_method_call(&body, MAX_BODY) {
        Ok(c) => c,
        Err(e) => {
            let reason = format!("rejected XML-RPC request: {e}");
            ctx.log.borrow_mut().log(LogLevel::Warn, &reason);
            return error_page_with(stream, "400 Bad Request", &reason, close).await;
        }
    };
    let (tx, rx) = oneshot::channel();
    if !ctx.handle.send(methods::command(call, tx)) {
        return error_page(stream, "500 Internal Server Error", true).await;
    }
    match rx.await {
        Ok(result) => {
            let body = encode_response(&result);
            respond(stream, "200 OK", "text/xml", &[], &body, close).await
        }
        Err(_) => error_page(stream, "500 Internal Server Error", true).await,
    }
}

/// `/metrics`: a snapshot from the loop, `/proc` figures added here, rendered as text.
async fn metrics<S: AsyncWrite + Unpin>(
    stream: &mut S,
    ctx: &ConnCtx,
    close: bool,
) -> io::Result<()> {
    let (tx, rx) = oneshot::channel();
    if !ctx.handle.send(Command::Metrics { reply: tx }) {
        return error_page(stream, "503 Service Unavailable", close).await;
    }
    let Ok(mut snapshot) = rx.await else {
        return error_page(stream, "503 Service Unavailable", close).await;
    };
    snapshot.collect_resources();
    let body = crate::metrics::render(&snapshot);
    respond(
        stream,
        "200 OK",
        crate::metrics::CONTENT_TYPE,
        &[],
        body.as_bytes(),
        close,
    )
    .await
}

/// `/api/status`: `getAllProcessInfo` plus the daemon state, as JSON, for the dashboard.
async fn api_status<S: AsyncWrite + Unpin>(
    stream: &mut S,
    ctx: &ConnCtx,
    close: bool,
) -> io::Result<()> {
    let mut results = Vec::new();
    for name in [
        "supervisor.getState",
        "supervisor.getAllProcessInfo",
        "supervisor.getIdentification",
    ] {
        let (tx, rx) = oneshot::channel();
        let call = supervisor_protocol::xmlrpc::MethodCall {
            name: name.to_string(),
            params: Vec::new(),
        };
        if !ctx.handle.send(methods::command(call, tx)) {
            return error_page(stream, "503 Service Unavailable", close).await;
        }
        results.push(match rx.await {
            Ok(Ok(v)) => v,
            _ => supervisor_protocol::xmlrpc::Value::Nil,
        });
    }
    let mut body = String::from("{\"state\":");
    crate::web::to_json(&results[0], &mut body);
    body.push_str(",\"processes\":");
    crate::web::to_json(&results[1], &mut body);
    body.push_str(",\"identification\":");
    crate::web::to_json(&results[2], &mut body);
    body.push('}');
    respond(
        stream,
        "200 OK",
        "application/json",
        &[("Cache-Control", "no-store")],
        body.as_bytes(),
        close,
    )
    .await
}

/// `/logtail` and `/mainlogtail`: the last 1 KiB, then whatever is appended, as a chunked
/// response that lasts until the client goes away.
/// The stream ends when the client closes its side, even while the log is quiet (a browser
/// tail that is closed must not keep a task and a descriptor until the next output).
async fn stream_log<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S, path: &Path, accel: bool) {
    let mut head = String::from(
        "HTTP/1.1 200 OK\r\nServer: supervisor-rs\r\nContent-Type: text/plain;charset=utf-8\r\nTransfer-Encoding: chunked\r\n",
    );
    if accel {
        head.push_str("X-Accel-Buffering: no\r\n");
    }
    head.push_str("\r\n");
    if stream.write_all(head.as_bytes()).await.is_err() {
        return;
    }
    let (mut offset, mut inode) = match std::fs::metadata(path) {
        Ok(m) => (m.len().saturating_sub(1024), m.ino()),
        Err(_) => (0, 0),
    };
    loop {
        let meta = std::fs::metadata(path).ok();
        let (size, ino) = meta.as_ref().map_or((0, 0), |m| (m.len(), m.ino()));
        let mut out = Vec::new();
        if ino != inode {
            // Rotated or recreated: follow the new file from its start.
            inode = ino;
            offset = 0;
        } else if size < offset {
            out.extend_from_slice(b"==> File truncated <==\n");
            offset = 0;
        }
        if size > offset {
            if let Ok(data) = read_at(path, offset, size - offset) {
                offset += data.len() as u64;
                out.extend_from_slice(&data);
            }
        }
        if !out.is_empty() {
            let mut chunk = format!("{:x}\r\n", out.len()).into_bytes();
            chunk.extend_from_slice(&out);
            chunk.extend_from_slice(b"\r\n");
            if stream.write_all(&chunk).await.is_err() || stream.flush().await.is_err() {
                return;
            }
        }
        let mut probe = [0u8; 512];
        tokio::select! {
            _ = tokio::time::sleep(TAIL_POLL) => {}
            // `read` is cancel-safe; anything the client sends is ignored, EOF ends the tail.
            r = stream.read(&mut probe) => {
                if matches!(r, Ok(0) | Err(_)) {
                    return;
                }
            }
        }
    }
}

fn read_at(path: &Path, offset: u64, len: u64) -> io::Result<Vec<u8>> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(path)?;
    f.seek(SeekFrom::Start(offset))?;
    let mut data = Vec::new();
    f.take(len.min(1024 * 1024)).read_to_end(&mut data)?;
    Ok(data)
}

/// `%XX` decoding of a URL path segment (invalid escapes are kept as written).
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("foo%3Abar"), "foo:bar");
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("%zz"), "%zz");
        assert_eq!(percent_decode("plain"), "plain");
    }

    #[test]
    fn head_parsing() {
        let mut buf =
            b"POST /RPC2 HTTP/1.1\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello".to_vec();
        let head = match try_parse_head(&mut buf) {
            Ok(Some(h)) => h,
            _ => panic!("head should parse"),
        };
        assert_eq!(head.method, "POST");
        assert_eq!(head.content_length, Some(5));
        assert!(head.connection_close);
        assert_eq!(buf, b"hello");
        let mut partial = b"GET / HTTP/1.1\r\nHost: x".to_vec();
        assert!(matches!(try_parse_head(&mut partial), Ok(None)));
        let mut garbage = b"\x00\x01 nonsense\r\n\r\n".to_vec();
        assert!(matches!(
            try_parse_head(&mut garbage),
            Err(HeadError::Malformed)
        ));
        // Found by tests/bad_input.rs: a head just over the limit that arrives complete.
        let mut big = b"GET / HTTP/1.1\r\nX: ".to_vec();
        big.extend(std::iter::repeat_n(b'a', MAX_HEAD));
        big.extend_from_slice(b"\r\n\r\n");
        assert!(matches!(try_parse_head(&mut big), Err(HeadError::TooLarge)));
        assert_eq!(parse_request_head(&big), Err("request head too large"));
        let mut bad_len = b"POST /RPC2 HTTP/1.1\r\nContent-Length: x\r\n\r\n".to_vec();
        assert!(matches!(
            try_parse_head(&mut bad_len),
            Err(HeadError::Malformed)
        ));
    }
}
