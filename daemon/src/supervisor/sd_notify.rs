//! systemd's service notification protocol for supervisord itself (`Type=notify` units,
//! `sd_notify(3)`): one unix datagram per state change to the socket named by
//! `$NOTIFY_SOCKET` (a path, or `@name` for an abstract socket).
//!
//! supervisord sends `READY=1` once its HTTP servers accept requests and the supervision loop
//! is about to start (and again after each SIGHUP restart), `RELOADING=1` when a restart
//! begins and `STOPPING=1` when a shutdown begins. Without `$NOTIFY_SOCKET` nothing is sent.

use std::io;
use std::os::unix::net::{SocketAddr, UnixDatagram};

/// The environment variable systemd sets for `Type=notify` services.
pub const NOTIFY_SOCKET: &str = "NOTIFY_SOCKET";

/// Send `state` (newline-separated `KEY=VALUE` assignments) to `$NOTIFY_SOCKET`.
/// `Ok(false)` when the variable is unset or empty.
pub fn notify(state: &str) -> io::Result<bool> {
    let Some(target) = std::env::var_os(NOTIFY_SOCKET).filter(|v| !v.is_empty()) else {
        return Ok(false);
    };
    let target = target.to_string_lossy().into_owned();
    send_to(&target, state)?;
    Ok(true)
}

/// Send one datagram to the notification socket `target`.
pub fn send_to(target: &str, state: &str) -> io::Result<()> {
    let addr = address(target)?;
    let sock = UnixDatagram::unbound()?;
    let sent = sock.send_to_addr(state.as_bytes(), &addr)?;
    if sent != state.len() {
        return Err(io::Error::other("short write to the notification socket"));
    }
    Ok(())
}

fn address(target: &str) -> io::Result<SocketAddr> {
    if let Some(name) = target.strip_prefix('@') {
        #[cfg(target_os = "linux")]
        {
            use std::os::linux::net::SocketAddrExt;
            return SocketAddr::from_abstract_name(name.as_bytes());
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = name;
            return Err(io::Error::other("abstract sockets need Linux"));
        }
    }
    if target.starts_with('/') {
        return SocketAddr::from_pathname(target);
    }
    Err(io::Error::other(format!(
        "unsupported {NOTIFY_SOCKET} address {target:?} (expected an absolute path or @name)"
    )))
}

/// The `READY=1` message, with a status line and our pid.
pub fn ready_message() -> String {
    format!(
        "READY=1\nSTATUS=supervisord is running\nMAINPID={}\n",
        std::process::id()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_one_datagram_to_a_path_and_to_an_abstract_socket() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("notify");
        let rx = UnixDatagram::bind(&path).expect("bind");
        send_to(path.to_str().expect("utf-8"), "READY=1\n").expect("send");
        let mut buf = [0u8; 64];
        let n = rx.recv(&mut buf).expect("recv");
        assert_eq!(&buf[..n], b"READY=1\n");

        let name = format!("supervisor-rs-test-{}", std::process::id());
        #[cfg(target_os = "linux")]
        {
            use std::os::linux::net::SocketAddrExt;
            let addr = SocketAddr::from_abstract_name(name.as_bytes()).expect("addr");
            let rx = UnixDatagram::bind_addr(&addr).expect("bind abstract");
            send_to(&format!("@{name}"), "STOPPING=1\n").expect("send");
            let n = rx.recv(&mut buf).expect("recv");
            assert_eq!(&buf[..n], b"STOPPING=1\n");
        }
    }

    #[test]
    fn bad_addresses_are_errors() {
        assert!(send_to("relative/path", "READY=1").is_err());
        assert!(send_to("/nonexistent/dir/sock", "READY=1").is_err());
        assert!(ready_message().starts_with("READY=1\n"));
    }
}
