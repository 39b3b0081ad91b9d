//! The HTTP side of the control plane: listeners on the unix socket and TCP, request framing,
//! Basic auth, and routing to `/RPC2` (answered by the supervision loop through a
//! [`methods::command`]) or to the streaming `/logtail` and `/mainlogtail` endpoints.
//!
//! Heads are parsed and responses framed by `supervisor_protocol::xmlrpc::http` (the one HTTP
//! implementation of the workspace); this module adds the sockets, deadlines and limits.
//!
//! Defences (docs/reliability.md, "HTTP server limits"): every connection is its own task, so
//! a slow client never holds up another one. A whole request head must arrive within
//! [`HEAD_TIMEOUT`] of the connection becoming idle, a body within [`BODY_TIMEOUT`], and a
//! response must be taken within [`WRITE_TIMEOUT`]. Each server serves at most
//! `supervisor_rs_max_connections` connections (half of them `/logtail` streams at most); at
//! the cap, the connection that has kept us waiting longest (over [`EVICT_AFTER`]) is closed
//! for the newcomer, else the newcomer waits up to [`ADMIT_WAIT`] for a slot (at most
//! [`MAX_WAITING`] wait at once; more are refused at once), then gets a 503. The same goes
//! for a connection that would leave fewer than a reserve of descriptors under RLIMIT_NOFILE,
//! so spawns always find descriptors. Answers over [`MAX_RESPONSE`] become a fault.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::oneshot;

use supervisor_protocol::xmlrpc::http::{
    encode_chunk, encode_response_head, reason_phrase, BodyFraming, HttpError, RequestHead,
    RequestHeadParser,
};
use supervisor_protocol::xmlrpc::{encode_response, encoded_len_bound, parse_method_call};

use crate::config::Config;
use crate::logs::{LogLevel, MainLog};
use crate::rpc::auth::Credentials;
use crate::rpc::methods;
use crate::supervisor::runtime::{Command, Handle};

/// Largest request head accepted.
pub const MAX_HEAD: usize = 64 * 1024;
/// Largest request body accepted (XML-RPC calls are small; multicalls of thousands fit).
pub const MAX_BODY: usize = 4 * 1024 * 1024;
/// Largest answer sent: what our own clients accept. A bigger one becomes a `FAILED` fault.
pub use methods::MAX_RESPONSE;
/// Answers estimated above this are encoded on a blocking thread, not the event loop's.
const ENCODE_INLINE_MAX: usize = 256 * 1024;
/// Responses larger than this are followed by a heap trim
/// ([`crate::supervisor::memory::trim_heap`]); `getAllProcessInfo` of 20 programs is 16 KiB.
const TRIM_AFTER: usize = 32 * 1024;
/// A whole request head (including the idle time before it on a kept-alive connection) must
/// arrive within this time.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// A declared body must arrive within this time.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// A response (or one `/logtail` chunk) must be taken by the client within this time.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// At the connection cap, a connection that has kept us waiting this long may be closed to
/// make room for a new one.
pub const EVICT_AFTER: Duration = Duration::from_millis(500);
/// How long a new connection may wait for a free slot before it is refused.
pub const ADMIT_WAIT: Duration = Duration::from_millis(500);
/// Connections that may wait for a slot at once, per server; more are refused at once.
pub const MAX_WAITING: usize = 64;
/// How often the daemon's open descriptors are counted (at most) when admitting connections.
const FD_COUNT_EVERY: Duration = Duration::from_secs(1);
/// Descriptors kept free for spawning: RLIMIT_NOFILE / 16, within these bounds.
const FD_RESERVE_MIN: u64 = 32;
const FD_RESERVE_MAX: u64 = 1024;
/// At most one "refused N connection(s)" line per this interval.
const REFUSAL_LOG_EVERY: Duration = Duration::from_secs(10);
/// How often `/logtail` looks for new output (Supervisor polls about every 0.1 s).
const TAIL_POLL: Duration = Duration::from_millis(100);
/// The `Server` header of every response.
const SERVER: &str = "supervisor-rs";

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
    /// Connections served at once (`supervisor_rs_max_connections`).
    pub max_connections: usize,
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
            max_connections: u.max_connections,
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
            max_connections: i.max_connections,
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
            max_connections: crate::config::load::DEFAULT_MAX_CONNECTIONS,
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
    let fds = Rc::new(FdGauge::default());
    for server in servers {
        let ctx = Rc::new(ConnCtx {
            handle: handle.clone(),
            auth: server.auth,
            log: log.clone(),
            metrics_only: server.metrics_only,
            section: server.section,
            slots: RefCell::new(Slots::new(server.max_connections)),
            freed: tokio::sync::Notify::new(),
            fds: fds.clone(),
            waiting: Cell::new(0),
            refusals: Cell::new((0, None)),
            accept_failures: Cell::new((0, None)),
        });
        match server.listener {
            Listener::Unix { listener, path } => {
                listener.set_nonblocking(true)?;
                let listener = tokio::net::UnixListener::from_std(listener)?;
                sockets.push(path);
                tokio::task::spawn_local(async move {
                    loop {
                        match listener.accept().await {
                            Ok((stream, _)) => on_accept(stream, &ctx),
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
                                on_accept(stream, &ctx);
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

/// Out of fds and the like: log (at most every [`REFUSAL_LOG_EVERY`], with a count), back
/// off briefly, keep serving.
async fn accept_failed(ctx: &ConnCtx, e: &io::Error) {
    let (count, last) = ctx.accept_failures.get();
    let now = Instant::now();
    if last.is_some_and(|t| now.duration_since(t) < REFUSAL_LOG_EVERY) {
        ctx.accept_failures.set((count + 1, last));
    } else {
        ctx.accept_failures.set((0, Some(now)));
        ctx.log.borrow_mut().log(
            LogLevel::Warn,
            &format!("[{}] accept failed {} time(s): {e}", ctx.section, count + 1),
        );
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// A freshly accepted stream: what [`admit`] needs besides reading and writing.
trait Accepted: AsyncRead + AsyncWrite + Unpin + AsRawFd + 'static {
    /// Write without waiting (for the refusal page).
    fn write_now(&self, bytes: &[u8]) -> io::Result<usize>;
}

impl Accepted for tokio::net::UnixStream {
    fn write_now(&self, bytes: &[u8]) -> io::Result<usize> {
        self.try_write(bytes)
    }
}

impl Accepted for tokio::net::TcpStream {
    fn write_now(&self, bytes: &[u8]) -> io::Result<usize> {
        self.try_write(bytes)
    }
}

/// A new connection: served at once when there is room; else it waits for room in its own
/// task (at most [`MAX_WAITING`] of them per server), else it is refused at once. The accept
/// loop itself never waits.
fn on_accept<S: Accepted>(stream: S, ctx: &Rc<ConnCtx>) {
    let fds_ok = ctx.fds.headroom(stream.as_raw_fd());
    let under_cap = {
        let slots = ctx.slots.borrow();
        slots.conns.len() < slots.max
    };
    if fds_ok && under_cap {
        serve(stream, ctx);
        return;
    }
    // Waiting holds a descriptor: short of them, only a few may wait (for an eviction).
    let may_wait = if fds_ok {
        MAX_WAITING
    } else {
        ctx.fds.waiting_allowance()
    };
    if ctx.waiting.get() >= may_wait {
        refuse(stream, ctx, refusal_reason(fds_ok));
        return;
    }
    ctx.waiting.set(ctx.waiting.get() + 1);
    // A waiting connection holds a descriptor too.
    ctx.fds.conns.set(ctx.fds.conns.get() + 1);
    let ctx = ctx.clone();
    tokio::task::spawn_local(async move {
        admit(stream, &ctx).await;
        ctx.waiting.set(ctx.waiting.get().saturating_sub(1));
        ctx.fds.conns.set(ctx.fds.conns.get().saturating_sub(1));
    });
}

fn refusal_reason(fds_ok: bool) -> &'static str {
    if fds_ok {
        "too many connections"
    } else {
        "file descriptors are reserved for spawning programs"
    }
}

/// Answer 503 with `why` without waiting, and close.
fn refuse<S: Accepted>(stream: S, ctx: &ConnCtx, why: &str) {
    refused(ctx, why);
    let page = error_page_bytes(503, why, true);
    // Best effort and never waiting: the point is to be rid of the connection.
    let _ = stream.write_now(&page);
}

/// Start serving a connection in its own task, with a slot.
fn serve<S: Accepted>(stream: S, ctx: &Rc<ConnCtx>) {
    let slot = Slot::new(ctx);
    let id = slot.id;
    let task = tokio::task::spawn_local(connection(stream, ctx.clone(), slot));
    ctx.slots.borrow_mut().set_abort(id, task.abort_handle());
}

/// Find room for a connection that arrived when there was none. It needs a slot under the
/// server's cap and descriptors to spare above the reserve for spawning: the connection that
/// has kept us waiting longest (a slow or idle client, for over [`EVICT_AFTER`]) is closed in
/// its favour, else it waits up to [`ADMIT_WAIT`] for another connection to end (so a burst of
/// honest clients is served, not refused), then gets a 503.
async fn admit<S: Accepted>(stream: S, ctx: &Rc<ConnCtx>) {
    let fd = stream.as_raw_fd();
    let give_up = Instant::now() + ADMIT_WAIT;
    let why = loop {
        let now = Instant::now();
        let fds_ok = ctx.fds.headroom(fd);
        let victim = {
            let mut slots = ctx.slots.borrow_mut();
            if fds_ok && slots.conns.len() < slots.max {
                break None;
            }
            slots.evict(now)
        };
        match victim {
            // Its slot and descriptor are freed when its task is dropped: wait for that.
            Some(abort) => abort.abort(),
            None if now >= give_up => break Some(refusal_reason(fds_ok)),
            None => {}
        }
        // Woken when a connection ends; re-checked at least every 100 ms for evictions.
        let wait = Duration::from_millis(100).min(give_up.saturating_duration_since(now));
        let _ =
            tokio::time::timeout(wait.max(Duration::from_millis(1)), ctx.freed.notified()).await;
    };
    match why {
        Some(why) => refuse(stream, ctx, why),
        None => serve(stream, ctx),
    }
}

/// Count refusals and log them at most every [`REFUSAL_LOG_EVERY`].
fn refused(ctx: &ConnCtx, why: &str) {
    let (count, last) = ctx.refusals.get();
    let count = count + 1;
    let now = Instant::now();
    if last.is_some_and(|t| now.duration_since(t) < REFUSAL_LOG_EVERY) {
        ctx.refusals.set((count, last));
        return;
    }
    ctx.refusals.set((0, Some(now)));
    ctx.log.borrow_mut().log(
        LogLevel::Warn,
        &format!(
            "[{}] refused {count} connection(s): {why} (limit {} connections)",
            ctx.section,
            ctx.slots.borrow().max
        ),
    );
}

struct ConnCtx {
    handle: Handle,
    auth: Option<Credentials>,
    log: Rc<RefCell<MainLog>>,
    metrics_only: bool,
    section: String,
    slots: RefCell<Slots>,
    /// Shared by every server.
    fds: Rc<FdGauge>,
    /// Signalled whenever a connection ends.
    freed: tokio::sync::Notify,
    /// Connections waiting for room ([`admit`]).
    waiting: Cell<usize>,
    /// Refusals not yet logged, and when the last refusal line was written.
    refusals: Cell<(u64, Option<Instant>)>,
    /// The same for failed `accept` calls.
    accept_failures: Cell<(u64, Option<Instant>)>,
}

/// What a connection is doing, for the cap and for eviction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting on the client (its head, its body, or for it to read our answer) since then.
    Client(Instant),
    /// Waiting on the daemon (an RPC in progress): never evicted.
    Server,
    /// A `/logtail` stream: never evicted, at most half the cap.
    Stream,
}

/// The live connections of one server.
struct Slots {
    max: usize,
    next_id: u64,
    conns: HashMap<u64, (Phase, Option<tokio::task::AbortHandle>)>,
}

impl Slots {
    fn new(max: usize) -> Slots {
        Slots {
            max: max.max(1),
            next_id: 0,
            conns: HashMap::new(),
        }
    }

    fn set_abort(&mut self, id: u64, abort: tokio::task::AbortHandle) {
        if let Some(entry) = self.conns.get_mut(&id) {
            entry.1 = Some(abort);
        }
    }

    /// Forget the connection that has kept us waiting longest (if over [`EVICT_AFTER`]) and
    /// return the handle that ends its task.
    fn evict(&mut self, now: Instant) -> Option<tokio::task::AbortHandle> {
        let (&id, _) = self
            .conns
            .iter()
            .filter_map(|(id, (phase, abort))| match phase {
                Phase::Client(since)
                    if abort.is_some() && now.saturating_duration_since(*since) >= EVICT_AFTER =>
                {
                    Some((id, *since))
                }
                _ => None,
            })
            .min_by_key(|(_, since)| *since)?;
        self.conns.remove(&id).and_then(|(_, abort)| abort)
    }

    fn streams(&self) -> usize {
        self.conns
            .values()
            .filter(|(p, _)| *p == Phase::Stream)
            .count()
    }
}

/// One connection's place in [`Slots`]; freed when the connection's task ends or is aborted.
struct Slot {
    ctx: Rc<ConnCtx>,
    id: u64,
}

impl Slot {
    fn new(ctx: &Rc<ConnCtx>) -> Slot {
        let mut slots = ctx.slots.borrow_mut();
        let id = slots.next_id;
        slots.next_id += 1;
        slots
            .conns
            .insert(id, (Phase::Client(Instant::now()), None));
        ctx.fds.conns.set(ctx.fds.conns.get() + 1);
        Slot {
            ctx: ctx.clone(),
            id,
        }
    }

    fn set(&self, phase: Phase) {
        if let Some(entry) = self.ctx.slots.borrow_mut().conns.get_mut(&self.id) {
            entry.0 = phase;
        }
    }

    fn waiting_on_client(&self) {
        self.set(Phase::Client(Instant::now()));
    }

    /// Become a `/logtail` stream, if fewer than half the slots already are.
    fn try_stream(&self) -> bool {
        let mut slots = self.ctx.slots.borrow_mut();
        if slots.streams() >= (slots.max / 2).max(1) {
            return false;
        }
        if let Some(entry) = slots.conns.get_mut(&self.id) {
            entry.0 = Phase::Stream;
        }
        true
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Ok(mut slots) = self.ctx.slots.try_borrow_mut() {
            slots.conns.remove(&self.id);
        }
        self.ctx
            .fds
            .conns
            .set(self.ctx.fds.conns.get().saturating_sub(1));
        self.ctx.freed.notify_one();
    }
}

/// The daemon's descriptors as the HTTP servers see them, shared by every server: how many
/// their connections hold, and how many everything else (pipes, logs, listeners) held at the
/// last count of `/proc/self/fd`.
#[derive(Default)]
struct FdGauge {
    conns: Cell<u64>,
    others: Cell<u64>,
    counted_at: Cell<Option<Instant>>,
}

impl FdGauge {
    /// Whether keeping the just-accepted connection `fd` leaves [`fd_reserve`] descriptors
    /// free under the soft RLIMIT_NOFILE (read at each check, so a limit changed at run time
    /// counts). The other descriptors are counted at most every [`FD_COUNT_EVERY`] (a tenth
    /// of it when `fd` is already in the reserve); in between, the reserve absorbs what spawns
    /// open.
    fn headroom(&self, fd: RawFd) -> bool {
        let limit = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
            .map_or(1024, |(soft, _)| soft);
        let reserve = fd_reserve(limit);
        // The kernel hands out the lowest free descriptor, so every one below `fd` is open: a
        // high `fd` means the count is due sooner.
        let fd = u64::try_from(fd).unwrap_or(0);
        let every = if fd.saturating_add(reserve) >= limit {
            FD_COUNT_EVERY / 10
        } else {
            FD_COUNT_EVERY
        };
        let now = Instant::now();
        let stale = self
            .counted_at
            .get()
            .is_none_or(|t| now.saturating_duration_since(t) >= every);
        if stale {
            if let Ok(entries) = std::fs::read_dir("/proc/self/fd") {
                // Less the directory's own handle, our connections and the one being admitted.
                let open = (entries.count() as u64).saturating_sub(1);
                self.others
                    .set(open.saturating_sub(self.conns.get().saturating_add(1)));
                self.counted_at.set(Some(now));
            }
        }
        self.others
            .get()
            .saturating_add(self.conns.get())
            .saturating_add(1)
            .saturating_add(reserve)
            <= limit
    }
}

impl FdGauge {
    /// How many connections may wait for room while descriptors are short: a quarter of the
    /// reserve, so waiting never eats into most of it.
    fn waiting_allowance(&self) -> usize {
        let limit = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
            .map_or(1024, |(soft, _)| soft);
        usize::try_from(fd_reserve(limit) / 4).unwrap_or(0)
    }
}

/// Descriptors kept free for spawning under a soft limit of `limit`.
fn fd_reserve(limit: u64) -> u64 {
    (limit / 16).clamp(FD_RESERVE_MIN, FD_RESERVE_MAX)
}

/// Why a request head did not arrive.
enum HeadError {
    /// EOF, a read error, or the head deadline passed: close without an answer.
    Closed,
    TooLarge,
    Malformed(HttpError),
}

/// Read one request head within `deadline` (one deadline for the whole head, however slowly
/// it trickles in); bytes after it stay in `buf`.
async fn read_head<S: AsyncRead + Unpin>(
    stream: &mut S,
    parser: &mut RequestHeadParser,
    buf: &mut Vec<u8>,
    deadline: Instant,
) -> Result<RequestHead, HeadError> {
    let mut input = std::mem::take(buf);
    let mut chunk = [0u8; 8192];
    loop {
        match parser.feed(&input) {
            Ok(Some((head, rest))) => {
                *buf = rest;
                return Ok(head);
            }
            Ok(None) => {}
            Err(HttpError::HeadTooLarge { .. }) => return Err(HeadError::TooLarge),
            Err(e) => return Err(HeadError::Malformed(e)),
        }
        let n = match tokio::time::timeout_at(deadline.into(), stream.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => n,
            _ => return Err(HeadError::Closed),
        };
        input.clear();
        input.extend_from_slice(&chunk[..n]);
    }
}

/// Read exactly `len` body bytes (some may already be in `buf`) within `deadline`; they are
/// left at the start of `buf`.
async fn read_body<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut Vec<u8>,
    len: usize,
    deadline: Instant,
) -> io::Result<()> {
    let read = async {
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
    match tokio::time::timeout_at(deadline.into(), read).await {
        Ok(r) => r,
        Err(_) => Err(io::Error::from(io::ErrorKind::TimedOut)),
    }
}

/// A whole response: Supervisor-rs's head (`Server`, `Content-Type`, `Content-Length`, the
/// `extra` headers, `Connection: close` when closing), then `body`.
fn response_bytes(
    status: u16,
    content_type: &str,
    extra: &[(&str, &str)],
    body: &[u8],
    close: bool,
) -> Vec<u8> {
    let length = body.len().to_string();
    let mut headers: Vec<(&str, &str)> = vec![
        ("Server", SERVER),
        ("Content-Type", content_type),
        ("Content-Length", &length),
    ];
    headers.extend_from_slice(extra);
    if close {
        headers.push(("Connection", "close"));
    }
    let mut out = encode_response_head(status, &headers);
    out.extend_from_slice(body);
    out
}

/// Write all of `bytes` within [`WRITE_TIMEOUT`] (a client that stops reading is dropped).
async fn send<S: AsyncWrite + Unpin>(stream: &mut S, bytes: &[u8]) -> io::Result<()> {
    let write = async {
        stream.write_all(bytes).await?;
        stream.flush().await
    };
    match tokio::time::timeout(WRITE_TIMEOUT, write).await {
        Ok(r) => r,
        Err(_) => Err(io::Error::from(io::ErrorKind::TimedOut)),
    }
}

async fn respond<S: AsyncWrite + Unpin>(
    stream: &mut S,
    status: u16,
    content_type: &str,
    extra: &[(&str, &str)],
    body: &[u8],
    close: bool,
) -> io::Result<()> {
    send(
        stream,
        &response_bytes(status, content_type, extra, body, close),
    )
    .await
}

/// An HTML error page that also says why (`detail`, HTML-escaped; empty for none).
fn error_page_bytes(status: u16, detail: &str, close: bool) -> Vec<u8> {
    let detail = if detail.is_empty() {
        String::new()
    } else {
        format!("<p>{}</p>", html_escape(detail))
    };
    let body = format!(
        "<html><head><title>Error response</title></head><body><h1>Error response</h1><p>{status} {}</p>{detail}</body></html>",
        reason_phrase(status)
    );
    response_bytes(status, "text/html", &[], body.as_bytes(), close)
}

async fn error_page<S: AsyncWrite + Unpin>(
    stream: &mut S,
    status: u16,
    close: bool,
) -> io::Result<()> {
    error_page_with(stream, status, "", close).await
}

async fn error_page_with<S: AsyncWrite + Unpin>(
    stream: &mut S,
    status: u16,
    detail: &str,
    close: bool,
) -> io::Result<()> {
    send(stream, &error_page_bytes(status, detail, close)).await
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// What to do with the body of a request that is not an XML-RPC call.
enum Discard {
    /// Read and dropped (or there was none): the connection can go on.
    Done,
    /// Answered with an error and must close.
    Closed,
}

/// Read and drop the body of a request whose handler has no use for it (a `GET` with a
/// `Content-Length`), so it is never taken for the next pipelined request.
async fn discard_body<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    buf: &mut Vec<u8>,
    head: &RequestHead,
) -> Discard {
    match head.body_framing() {
        BodyFraming::Empty | BodyFraming::UntilClose => Discard::Done,
        BodyFraming::Chunked => {
            let _ = error_page(stream, 411, true).await;
            Discard::Closed
        }
        BodyFraming::Length(n) => {
            let Some(len) = usize::try_from(n).ok().filter(|&l| l <= MAX_BODY) else {
                let _ = error_page(stream, 413, true).await;
                return Discard::Closed;
            };
            let deadline = Instant::now() + BODY_TIMEOUT;
            if read_body(stream, buf, len, deadline).await.is_err() {
                return Discard::Closed;
            }
            buf.drain(..len);
            Discard::Done
        }
    }
}

async fn connection<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    ctx: Rc<ConnCtx>,
    slot: Slot,
) {
    let mut parser = RequestHeadParser::with_limit(MAX_HEAD);
    let mut buf = Vec::new();
    loop {
        slot.waiting_on_client();
        let deadline = Instant::now() + HEAD_TIMEOUT;
        let head = match read_head(&mut stream, &mut parser, &mut buf, deadline).await {
            Ok(h) => h,
            Err(HeadError::Closed) => return,
            Err(HeadError::TooLarge) => {
                let _ = error_page(&mut stream, 431, true).await;
                return;
            }
            Err(HeadError::Malformed(e)) => {
                let _ = error_page_with(&mut stream, 400, &e.to_string(), true).await;
                return;
            }
        };
        let close = !head.keep_alive();
        if let Some(auth) = &ctx.auth {
            if !auth.accepts(head.header("Authorization")) {
                let _ = respond(
                    &mut stream,
                    401,
                    "text/html",
                    &[("WWW-Authenticate", "Basic realm=\"default\"")],
                    b"<html><head><title>Unauthorized</title></head><body><h1>Unauthorized</h1></body></html>",
                    true,
                )
                .await;
                return;
            }
        }
        let target = head.target.as_str();
        let path = target.split('?').next().unwrap_or("");
        let is_rpc = !ctx.metrics_only && target.starts_with("/RPC2");
        if !(is_rpc && head.method == "POST") {
            if let Discard::Closed = discard_body(&mut stream, &mut buf, &head).await {
                return;
            }
        }
        let result = if ctx.metrics_only {
            if head.method == "GET" && path == "/metrics" {
                metrics(&mut stream, &ctx, &slot, close).await
            } else {
                error_page(&mut stream, 404, close).await
            }
        } else if is_rpc {
            rpc(&mut stream, &mut buf, &head, &ctx, &slot, close).await
        } else if head.method == "GET" {
            if let Some(rest) = target.strip_prefix("/logtail/") {
                let (spec, channel) = match rest.rsplit_once('/') {
                    Some((s, c)) => (percent_decode(s), percent_decode(c)),
                    None => (percent_decode(rest), "stdout".to_string()),
                };
                let (tx, rx) = oneshot::channel();
                slot.set(Phase::Server);
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
                        tail(&mut stream, &slot, &p, true).await;
                        return;
                    }
                    None => error_page(&mut stream, 404, close).await,
                }
            } else if target == "/mainlogtail" {
                let (tx, rx) = oneshot::channel();
                slot.set(Phase::Server);
                let path = if ctx.handle.send(Command::MainLogPath { reply: tx }) {
                    rx.await.ok().flatten()
                } else {
                    None
                };
                match path {
                    Some(p) => {
                        tail(&mut stream, &slot, &p, false).await;
                        return;
                    }
                    None => error_page(&mut stream, 404, close).await,
                }
            } else if target == "/ok.html" {
                respond(&mut stream, 200, "text/html", &[], b"OK", close).await
            } else if path == "/metrics" {
                metrics(&mut stream, &ctx, &slot, close).await
            } else if path == "/api/status" {
                api_status(&mut stream, &ctx, &slot, close).await
            } else if let Some((content_type, body)) = crate::web::asset(path) {
                let extra = [("Cache-Control", "no-cache")];
                respond(
                    &mut stream,
                    200,
                    content_type,
                    &extra,
                    body.as_bytes(),
                    close,
                )
                .await
            } else {
                error_page(&mut stream, 404, close).await
            }
        } else {
            error_page(&mut stream, 400, close).await
        };
        if result.is_err() || close {
            return;
        }
    }
}

/// A `/logtail` stream, if the server has room for one more (at most half its slots).
async fn tail<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    slot: &Slot,
    path: &Path,
    accel: bool,
) {
    if slot.try_stream() {
        stream_log(stream, path, accel).await;
    } else {
        let _ = error_page_with(stream, 503, "too many log tails", true).await;
    }
}

async fn rpc<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    buf: &mut Vec<u8>,
    head: &RequestHead,
    ctx: &ConnCtx,
    slot: &Slot,
    close: bool,
) -> io::Result<()> {
    if head.method != "POST" {
        return error_page(stream, 400, close).await;
    }
    if head.chunked {
        return error_page(stream, 411, true).await;
    }
    let len = match head.content_length.map(usize::try_from) {
        None => 0,
        Some(Ok(n)) if n <= MAX_BODY => n,
        Some(_) => {
            error_page(stream, 413, true).await?;
            return Err(io::Error::other("body too large"));
        }
    };
    read_body(stream, buf, len, Instant::now() + BODY_TIMEOUT).await?;
    let body: Vec<u8> = buf.drain(..len).collect();
    let call = match parse_method_call(&body, MAX_BODY) {
        Ok(c) => c,
        Err(e) => {
            let reason = format!("rejected XML-RPC request: {e}");
            ctx.log.borrow_mut().log(LogLevel::Warn, &reason);
            return error_page_with(stream, 400, &reason, close).await;
        }
    };
    drop(body);
    let (tx, rx) = oneshot::channel();
    slot.set(Phase::Server);
    if !ctx.handle.send(methods::command(call, tx)) {
        return error_page(stream, 500, true).await;
    }
    let Ok(result) = rx.await else {
        return error_page(stream, 500, true).await;
    };
    let size = match &result {
        Ok(v) => encoded_len_bound(v),
        Err(_) => 0,
    };
    let result = if size > MAX_RESPONSE {
        Err(methods::response_too_large())
    } else {
        result
    };
    // A large answer is encoded (and its values freed) off the event loop's thread.
    let body = if size > ENCODE_INLINE_MAX {
        tokio::task::spawn_blocking(move || encode_response(&result))
            .await
            .map_err(io::Error::other)?
    } else {
        let body = encode_response(&result);
        drop(result);
        body
    };
    slot.waiting_on_client();
    let sent = respond(stream, 200, "text/xml", &[], &body, close).await;
    // A large answer (getAllProcessInfo, a multicall) leaves its freed value tree and buffers
    // scattered over the heap, which glibc keeps resident: give them back.
    if body.len() > TRIM_AFTER {
        drop(body);
        crate::supervisor::memory::trim_heap();
    }
    sent
}

/// `/metrics`: a snapshot from the loop, `/proc` figures added here, rendered as text.
async fn metrics<S: AsyncWrite + Unpin>(
    stream: &mut S,
    ctx: &ConnCtx,
    slot: &Slot,
    close: bool,
) -> io::Result<()> {
    let (tx, rx) = oneshot::channel();
    slot.set(Phase::Server);
    if !ctx.handle.send(Command::Metrics { reply: tx }) {
        return error_page(stream, 503, close).await;
    }
    let Ok(mut snapshot) = rx.await else {
        return error_page(stream, 503, close).await;
    };
    snapshot.collect_resources();
    let body = crate::metrics::render(&snapshot);
    slot.waiting_on_client();
    respond(
        stream,
        200,
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
    slot: &Slot,
    close: bool,
) -> io::Result<()> {
    slot.set(Phase::Server);
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
            return error_page(stream, 503, close).await;
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
    slot.waiting_on_client();
    respond(
        stream,
        200,
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
    let mut headers = vec![
        ("Server", SERVER),
        ("Content-Type", "text/plain;charset=utf-8"),
        ("Transfer-Encoding", "chunked"),
    ];
    if accel {
        headers.push(("X-Accel-Buffering", "no"));
    }
    if send(stream, &encode_response_head(200, &headers))
        .await
        .is_err()
    {
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
        if !out.is_empty() && send(stream, &encode_chunk(&out)).await.is_err() {
            return;
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
    fn responses_keep_their_bytes() {
        assert_eq!(
            response_bytes(200, "text/xml", &[], b"<x/>", false),
            b"HTTP/1.1 200 OK\r\nServer: supervisor-rs\r\nContent-Type: text/xml\r\nContent-Length: 4\r\n\r\n<x/>"
        );
        assert_eq!(
            response_bytes(401, "text/html", &[("WWW-Authenticate", "Basic realm=\"default\"")], b"", true),
            b"HTTP/1.1 401 Unauthorized\r\nServer: supervisor-rs\r\nContent-Type: text/html\r\nContent-Length: 0\r\nWWW-Authenticate: Basic realm=\"default\"\r\nConnection: close\r\n\r\n"
        );
        let page = String::from_utf8(error_page_bytes(431, "", true)).expect("ascii");
        assert!(page.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
        assert!(page.ends_with("<p>431 Request Header Fields Too Large</p></body></html>"));
        let page = String::from_utf8(error_page_bytes(400, "a<b", false)).expect("ascii");
        assert!(page.ends_with("<p>400 Bad Request</p><p>a&lt;b</p></body></html>"));
    }

    #[test]
    fn eviction_picks_the_longest_wait_over_the_grace() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let abort = || Some(tokio::spawn(std::future::pending::<()>()).abort_handle());
            let mut slots = Slots::new(3);
            let t0 = Instant::now();
            slots.conns.insert(1, (Phase::Client(t0), abort()));
            slots.conns.insert(2, (Phase::Server, abort()));
            slots.conns.insert(3, (Phase::Stream, abort()));
            // Only a connection whose task can be ended is a candidate.
            slots.conns.insert(5, (Phase::Client(t0), None));
            // Too recent: nobody goes.
            assert!(slots.evict(t0 + EVICT_AFTER / 2).is_none());
            assert_eq!(slots.conns.len(), 4);
            slots
                .conns
                .insert(4, (Phase::Client(t0 + Duration::from_millis(100)), abort()));
            assert!(slots.evict(t0 + EVICT_AFTER * 2).is_some());
            assert!(
                !slots.conns.contains_key(&1),
                "the oldest waiting one goes first"
            );
            assert!(slots.evict(t0 + EVICT_AFTER * 2).is_some());
            assert!(!slots.conns.contains_key(&4));
            // Busy and streaming connections stay.
            assert!(slots.evict(t0 + EVICT_AFTER * 100).is_none());
            assert_eq!(slots.streams(), 1);
            assert_eq!(Slots::new(0).max, 1);
        });
    }

    #[test]
    fn fd_budget() {
        assert_eq!(fd_reserve(1024), 64);
        assert_eq!(fd_reserve(100), FD_RESERVE_MIN);
        assert_eq!(fd_reserve(1 << 20), FD_RESERVE_MAX);
        let gauge = FdGauge::default();
        assert!(gauge.headroom(3));
        assert!(gauge.counted_at.get().is_some());
        // Pretend our connections hold all but the reserve.
        let limit = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
            .map_or(1024, |(soft, _)| soft);
        gauge
            .conns
            .set(limit - fd_reserve(limit) - gauge.others.get());
        assert!(!gauge.headroom(3));
        gauge.conns.set(0);
        assert!(gauge.headroom(3));
        // A descriptor number in the reserve makes it count again sooner (a tenth of the
        // interval), and the count still says there is room.
        gauge
            .counted_at
            .set(Some(Instant::now() - FD_COUNT_EVERY / 5));
        assert!(gauge.headroom(i32::try_from(limit).unwrap_or(i32::MAX) - 1));
        assert!(gauge
            .counted_at
            .get()
            .is_some_and(|t| t.elapsed() < FD_COUNT_EVERY / 5));
    }
}
