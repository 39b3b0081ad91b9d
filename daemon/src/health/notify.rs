//! `ready_check=notify` / `health_check=notify`: the sd_notify protocol from a child. Each run
//! of such a program gets its own datagram socket, named in its `NOTIFY_SOCKET` (an abstract
//! Linux socket, `@supervisor-rs-notify/<daemon pid>/<64 random bits>`: no file to create or
//! clean up in a shared directory). Only datagrams whose kernel-checked sender uid is the
//! program's (or root) are read: abstract names are visible to every local user.

use std::io;
use std::os::fd::AsRawFd;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram as StdDatagram};

use nix::sys::socket::{
    recvmsg, setsockopt, sockopt::PassCred, ControlMessageOwned, MsgFlags, UnixAddr,
};
use tokio::io::Interest;
use tokio::net::UnixDatagram;

/// The largest datagram read; the rest of a longer one is dropped (sd_notify messages are a
/// few short lines).
pub const MAX_DATAGRAM: usize = 4096;

/// The longest `STATUS=` text kept.
pub const MAX_STATUS: usize = 256;

/// One run's notification socket.
pub struct NotifySocket {
    socket: UnixDatagram,
    /// The value of `NOTIFY_SOCKET` for the child.
    pub env_value: String,
}

impl NotifySocket {
    /// Bind a fresh abstract socket. Must be called inside the tokio runtime.
    pub fn bind() -> io::Result<NotifySocket> {
        let mut random = [0u8; 8];
        // SAFETY: getrandom writes at most `len` bytes into the buffer we own.
        let n = unsafe { libc::getrandom(random.as_mut_ptr().cast(), random.len(), 0) };
        if n != 8 {
            return Err(io::Error::other("getrandom failed"));
        }
        let name = format!(
            "supervisor-rs-notify/{}/{:016x}",
            std::process::id(),
            u64::from_ne_bytes(random)
        );
        let addr = SocketAddr::from_abstract_name(name.as_bytes())?;
        let std_socket = StdDatagram::bind_addr(&addr)?;
        std_socket.set_nonblocking(true)?;
        setsockopt(&std_socket, PassCred, &true).map_err(io::Error::from)?;
        Ok(NotifySocket {
            socket: UnixDatagram::from_std(std_socket)?,
            env_value: format!("@{name}"),
        })
    }

    /// The next datagram from a sender with uid `uid` (or root); others are dropped.
    pub async fn recv(&self, uid: u32) -> io::Result<Vec<u8>> {
        loop {
            self.socket.readable().await?;
            let got = self.socket.try_io(Interest::READABLE, || {
                let mut buf = vec![0u8; MAX_DATAGRAM];
                let mut cmsg = nix::cmsg_space!(libc::ucred);
                let mut iov = [io::IoSliceMut::new(&mut buf)];
                let msg = recvmsg::<UnixAddr>(
                    self.socket.as_raw_fd(),
                    &mut iov,
                    Some(&mut cmsg),
                    MsgFlags::MSG_DONTWAIT,
                )
                .map_err(io::Error::from)?;
                let mut sender = None;
                if let Ok(cmsgs) = msg.cmsgs() {
                    for c in cmsgs {
                        if let ControlMessageOwned::ScmCredentials(cred) = c {
                            sender = Some(cred.uid());
                        }
                    }
                }
                let len = msg.bytes;
                Ok((sender, len, buf))
            });
            match got {
                Ok((Some(sender), len, mut buf)) if sender == uid || sender == 0 => {
                    buf.truncate(len);
                    return Ok(buf);
                }
                Ok(_) => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

/// What one datagram says (`KEY=VALUE` lines; unknown keys are ignored).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Notice {
    pub ready: bool,
    pub watchdog: bool,
    pub status: Option<String>,
}

pub fn parse(datagram: &[u8]) -> Notice {
    let mut n = Notice::default();
    for line in String::from_utf8_lossy(datagram).lines() {
        match line.split_once('=') {
            Some(("READY", "1")) => n.ready = true,
            Some(("WATCHDOG", "1")) => n.watchdog = true,
            Some(("STATUS", text)) => {
                let text: String = text
                    .chars()
                    .filter(|c| !c.is_control())
                    .take(MAX_STATUS)
                    .collect();
                n.status = Some(text);
            }
            _ => {}
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datagrams() {
        assert_eq!(
            parse(b"READY=1\nSTATUS=Accepting connections\n"),
            Notice {
                ready: true,
                watchdog: false,
                status: Some("Accepting connections".into())
            }
        );
        assert_eq!(
            parse(b"WATCHDOG=1"),
            Notice {
                ready: false,
                watchdog: true,
                status: None
            }
        );
        assert_eq!(parse(b"READY=0\nMAINPID=12\n"), Notice::default());
        let long = format!("STATUS={}\x1b[31m", "x".repeat(1000));
        assert_eq!(
            parse(long.as_bytes()).status.map(|s| s.len()),
            Some(MAX_STATUS)
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_datagram_from_our_uid_is_read() {
        let s = NotifySocket::bind().expect("bind");
        let name = s.env_value.trim_start_matches('@').to_string();
        let client = StdDatagram::unbound().expect("client");
        let addr = SocketAddr::from_abstract_name(name.as_bytes()).expect("addr");
        client.send_to_addr(b"READY=1", &addr).expect("send");
        let uid = nix::unistd::geteuid().as_raw();
        let got = s.recv(uid).await.expect("recv");
        assert_eq!(got, b"READY=1");
    }
}
