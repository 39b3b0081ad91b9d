//! The listening sockets of `[fcgi-program:x]` groups (upstream's `SocketManager`).
//!
//! Each fcgi group has one socket, bound and listening in supervisord and handed to every
//! process of the group as its fd 0 (the processes `accept()` on it). This module only does
//! the socket I/O: create, bind, chown, chmod, listen, close and unlink. *When* a socket opens
//! and closes is the callers' decision: it lives as long as its group (see docs/compat.md,
//! "FastCGI programs"), so connections wait in the backlog across process restarts instead of
//! being refused.
//!
//! The sockets stay blocking (the children inherit the open file description, and with it the
//! `O_NONBLOCK` flag) and close-on-exec (a child gets only its own dup on fd 0).

use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use socket2::{Domain, SockAddr, Socket, Type};

use crate::config::model::{FcgiAddress, FcgiSocketConfig};
use crate::config::{Config, GroupKind};

/// One open listening socket.
struct Listening {
    socket: Socket,
    /// For a unix socket: its path and the (device, inode) we created there, so closing never
    /// unlinks a file that someone else put in its place.
    unix_file: Option<(PathBuf, u64, u64)>,
}

impl Drop for Listening {
    fn drop(&mut self) {
        if let Some((path, dev, ino)) = &self.unix_file {
            if std::fs::symlink_metadata(path).is_ok_and(|m| m.dev() == *dev && m.ino() == *ino) {
                let _ = std::fs::remove_file(path);
            }
        }
    }
}

/// One fcgi group's socket: its settings, and the socket when it is open (it is not when the
/// last attempt to create it failed; the next spawn retries).
struct Entry {
    config: FcgiSocketConfig,
    listening: Option<Listening>,
}

/// The sockets of the fcgi groups, by group name.
#[derive(Default)]
pub struct FcgiSockets {
    groups: HashMap<String, Entry>,
}

/// Main-log lines (INFO) to write, and the outcome.
pub type Opened = (Vec<String>, Result<(), String>);

impl FcgiSockets {
    pub fn new() -> FcgiSockets {
        FcgiSockets::default()
    }

    /// Group `group` has a socket with `config`: open it. A socket already open with the same
    /// config is kept; one with another config is closed first. The log lines are upstream's
    /// `Closing socket <url>` and `Creating socket <url>`; the error is upstream's
    /// `Could not create FastCGI socket <url>: <reason>`. After an error the group stays
    /// known, and [`FcgiSockets::ensure`] retries.
    pub fn open(&mut self, group: &str, config: &FcgiSocketConfig) -> Opened {
        let mut lines = Vec::new();
        if self.groups.get(group).is_some_and(|e| e.config != *config) {
            lines.extend(self.close(group));
        }
        let entry = self.groups.entry(group.to_string()).or_insert(Entry {
            config: config.clone(),
            listening: None,
        });
        if entry.listening.is_some() {
            return (lines, Ok(()));
        }
        lines.push(format!("Creating socket {}", config.url));
        match create(config) {
            Ok(l) => {
                entry.listening = Some(l);
                (lines, Ok(()))
            }
            Err(e) => (
                lines,
                Err(format!(
                    "Could not create FastCGI socket {}: {e}",
                    config.url
                )),
            ),
        }
    }

    /// Before a spawn: `None` if `group` has no socket (not an fcgi group), else the outcome
    /// of making sure it is open.
    pub fn ensure(&mut self, group: &str) -> Option<Opened> {
        let config = self.groups.get(group)?.config.clone();
        Some(self.open(group, &config))
    }

    /// Forget group `group`, closing its socket (and unlinking its unix path). Returns the log
    /// line if a socket was open.
    pub fn close(&mut self, group: &str) -> Option<String> {
        let entry = self.groups.remove(group)?;
        let l = entry.listening?;
        drop(l);
        Some(format!("Closing socket {}", entry.config.url))
    }

    /// Close every socket, in group-name order.
    pub fn close_all(&mut self) -> Vec<String> {
        let mut names: Vec<String> = self.groups.keys().cloned().collect();
        names.sort();
        names.iter().filter_map(|n| self.close(n)).collect()
    }

    /// Bring the set in line with `config`: close the sockets of groups that are gone or whose
    /// socket changed, then open every fcgi group's socket. Returns the log lines and the
    /// errors (one per group that could not get its socket).
    pub fn sync(&mut self, config: &Config) -> (Vec<String>, Vec<String>) {
        let wanted: HashMap<&str, &FcgiSocketConfig> = config
            .groups
            .iter()
            .filter_map(|g| match &g.kind {
                GroupKind::FcgiProgram(s) => Some((g.name.as_str(), s)),
                _ => None,
            })
            .collect();
        let mut stale: Vec<String> = self
            .groups
            .iter()
            .filter(|(name, e)| wanted.get(name.as_str()) != Some(&&e.config))
            .map(|(name, _)| name.clone())
            .collect();
        stale.sort();
        let mut lines: Vec<String> = stale.iter().filter_map(|n| self.close(n)).collect();
        let mut errors = Vec::new();
        // In config order (priority, name), like upstream's group creation.
        for g in &config.groups {
            if let GroupKind::FcgiProgram(s) = &g.kind {
                let (more, result) = self.open(&g.name, s);
                lines.extend(more);
                if let Err(e) = result {
                    errors.push(format!("[fcgi-program:{}] {e}", g.name));
                }
            }
        }
        (lines, errors)
    }

    /// The listening socket of `group`, to become a child's fd 0.
    pub fn fd(&self, group: &str) -> Option<BorrowedFd<'_>> {
        let l = self.groups.get(group)?.listening.as_ref()?;
        Some(l.socket.as_fd())
    }

    pub fn is_open(&self, group: &str) -> bool {
        self.fd(group).is_some()
    }
}

/// Python's `str(OSError)`: `[Errno 98] Address already in use`.
fn os_error(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => format!("[Errno {n}] {}", nix::errno::Errno::from_raw(n).desc()),
        None => e.to_string(),
    }
}

fn create(config: &FcgiSocketConfig) -> Result<Listening, String> {
    let backlog = config
        .backlog
        .map_or(libc::SOMAXCONN, |b| i32::try_from(b).unwrap_or(i32::MAX));
    match &config.address {
        FcgiAddress::Tcp { host, port } => {
            let addr = resolve_ipv4(host, *port)?;
            let socket = Socket::new(Domain::IPV4, Type::STREAM, None).map_err(|e| os_error(&e))?;
            socket.set_reuse_address(true).map_err(|e| os_error(&e))?;
            socket.bind(&addr.into()).map_err(|e| os_error(&e))?;
            socket.listen(backlog).map_err(|e| os_error(&e))?;
            Ok(Listening {
                socket,
                unix_file: None,
            })
        }
        FcgiAddress::Unix { path, mode, owner } => {
            // As upstream: whatever is at the path goes (a stale socket from a crash).
            if std::fs::symlink_metadata(path).is_ok() {
                std::fs::remove_file(path).map_err(|e| {
                    format!("{} (removing the old {})", os_error(&e), path.display())
                })?;
            }
            let socket = Socket::new(Domain::UNIX, Type::STREAM, None).map_err(|e| os_error(&e))?;
            let addr = SockAddr::unix(path).map_err(|e| os_error(&e))?;
            socket.bind(&addr).map_err(|e| os_error(&e))?;
            let meta = std::fs::symlink_metadata(path).map_err(|e| os_error(&e))?;
            // From here on, dropping `l` unlinks the path: a failed chown/chmod leaves nothing.
            let l = Listening {
                socket,
                unix_file: Some((path.clone(), meta.dev(), meta.ino())),
            };
            // Change the inode we bound, never what a hostile user may have swapped in at the
            // path since: open it without following links, check it is ours, and change it
            // through /proc/self/fd.
            let pinned = std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_PATH | libc::O_NOFOLLOW)
                .open(path)
                .and_then(|f| {
                    let m = f.metadata()?;
                    if m.dev() == meta.dev() && m.ino() == meta.ino() {
                        Ok(f)
                    } else {
                        Err(io::Error::from_raw_os_error(libc::EEXIST))
                    }
                })
                .map_err(|e| format!("{}: {}", os_error(&e), quoted(path)))?;
            let proc_path = PathBuf::from(format!("/proc/self/fd/{}", pinned.as_raw_fd()));
            if let Some((uid, gid)) = owner {
                std::os::unix::fs::chown(&proc_path, Some(*uid), *gid).map_err(|e| {
                    format!(
                        "Could not change ownership of socket file: {}: {}",
                        os_error(&e),
                        quoted(path)
                    )
                })?;
            }
            std::fs::set_permissions(&proc_path, std::fs::Permissions::from_mode(*mode)).map_err(
                |e| {
                    format!(
                        "Could not change permissions of socket file: {}: {}",
                        os_error(&e),
                        quoted(path)
                    )
                },
            )?;
            l.socket.listen(backlog).map_err(|e| os_error(&e))?;
            Ok(l)
        }
    }
}

fn quoted(path: &Path) -> String {
    crate::process::spawn::py_repr(&path.display().to_string())
}

/// The first IPv4 address of `host` (upstream binds an AF_INET socket to `(host, port)`).
fn resolve_ipv4(host: &str, port: u16) -> Result<SocketAddr, String> {
    let addrs = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve host {host}: {e}"))?;
    addrs
        .into_iter()
        .find(SocketAddr::is_ipv4)
        .ok_or_else(|| format!("host {host} has no IPv4 address"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::FileTypeExt;

    fn tcp(port: u16) -> FcgiSocketConfig {
        FcgiSocketConfig {
            url: format!("tcp://127.0.0.1:{port}"),
            address: FcgiAddress::Tcp {
                host: "127.0.0.1".into(),
                port,
            },
            backlog: Some(5),
        }
    }

    fn unix(path: &Path, mode: u32) -> FcgiSocketConfig {
        FcgiSocketConfig {
            url: format!("unix://{}", path.display()),
            address: FcgiAddress::Unix {
                path: path.to_path_buf(),
                mode,
                owner: None,
            },
            backlog: None,
        }
    }

    #[test]
    fn unix_socket_mode_and_unlink() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sock");
        std::fs::write(&path, b"stale").unwrap();
        let mut s = FcgiSockets::new();
        let (lines, r) = s.open("g", &unix(&path, 0o660));
        r.unwrap();
        assert_eq!(
            lines,
            [format!("Creating socket unix://{}", path.display())]
        );
        let meta = std::fs::metadata(&path).unwrap();
        assert!(meta.file_type().is_socket());
        assert_eq!(meta.permissions().mode() & 0o777, 0o660);
        // Connections queue in the backlog while nobody accepts.
        std::os::unix::net::UnixStream::connect(&path).unwrap();
        // Same config: kept as is.
        let (lines, r) = s.open("g", &unix(&path, 0o660));
        r.unwrap();
        assert!(lines.is_empty());
        assert_eq!(
            s.close("g"),
            Some(format!("Closing socket unix://{}", path.display()))
        );
        assert!(!path.exists());
        assert_eq!(s.close("g"), None);
    }

    #[test]
    fn unlink_spares_a_replaced_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sock");
        let mut s = FcgiSockets::new();
        s.open("g", &unix(&path, 0o700)).1.unwrap();
        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, b"someone else's").unwrap();
        s.close_all();
        assert!(path.exists());
    }

    #[test]
    fn tcp_errors_read_like_upstream() {
        let mut s = FcgiSockets::new();
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        let (_, r) = s.open("g", &tcp(port));
        assert_eq!(
            r.unwrap_err(),
            format!(
                "Could not create FastCGI socket tcp://127.0.0.1:{port}: [Errno 98] Address \
                 already in use"
            )
        );
        assert!(!s.is_open("g"));
        // The group stays known: the next spawn retries, and succeeds once the port is free.
        assert!(s.ensure("g").is_some_and(|(_, r)| r.is_err()));
        assert!(s.ensure("not-fcgi").is_none());
        drop(taken);
        let (lines, r) = s.ensure("g").unwrap();
        r.unwrap();
        assert_eq!(lines, [format!("Creating socket tcp://127.0.0.1:{port}")]);
        assert!(s.fd("g").is_some());
        std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no/such/dir/s.sock");
        let (_, r) = s.open("u", &unix(&missing, 0o700));
        assert!(
            r.as_ref()
                .unwrap_err()
                .ends_with(": [Errno 2] No such file or directory"),
            "{r:?}"
        );
        assert_eq!(s.close_all().len(), 1);
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
    }
}
