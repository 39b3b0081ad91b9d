//! Terminal input for supervisorctl: the Ctrl-C flag and the line readers that the shell and
//! the commands (`fg`, confirmations, the credentials prompt) share.
//!
//! Lines are read straight from fd 0, byte by byte, so a command that reads stdin itself sees
//! the rest; SIGINT is installed without `SA_RESTART`, so a blocking read returns `EINTR` and
//! the readers report [`LineRead::Interrupted`] (Python's `KeyboardInterrupt`).

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};

/// Set by SIGINT (installed without `SA_RESTART`, so blocking reads return `EINTR`).
pub static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigint(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Turns Ctrl-C into a flag that reads and streams check (Python's `KeyboardInterrupt`).
pub fn install_sigint_handler() {
    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
    // Like Python, which installs its KeyboardInterrupt handler only over the default action:
    // started with SIGINT ignored (a background job of a script), we keep ignoring it.
    // SAFETY: `sigaction` is plain data; with a null new action the call only reads the
    // current one.
    let ignored = unsafe {
        let mut current: libc::sigaction = std::mem::zeroed();
        libc::sigaction(libc::SIGINT, std::ptr::null(), &mut current) == 0
            && current.sa_sigaction == libc::SIG_IGN
    };
    if ignored {
        return;
    }
    let action = SigAction::new(
        SigHandler::Handler(on_sigint),
        SaFlags::empty(),
        SigSet::empty(),
    );
    // SAFETY: the handler only stores to an atomic.
    unsafe {
        let _ = sigaction(Signal::SIGINT, &action);
    }
}

/// The outcome of reading one line.
#[derive(Debug, PartialEq)]
pub enum LineRead {
    Line(String),
    Eof,
    Interrupted,
}

/// Reads one line from fd 0, without buffering past the newline (so commands such as `fg`
/// that read stdin themselves see the rest).
pub fn read_line_raw() -> LineRead {
    if INTERRUPTED.swap(false, Ordering::SeqCst) {
        return LineRead::Interrupted;
    }
    let mut bytes = Vec::new();
    loop {
        let mut b = 0u8;
        // SAFETY: reading one byte into a valid, live buffer.
        let n = unsafe { libc::read(0, (&mut b as *mut u8).cast(), 1) };
        if n == 1 {
            if b == b'\n' {
                break;
            }
            bytes.push(b);
        } else if n == 0 {
            if bytes.is_empty() {
                return LineRead::Eof;
            }
            break;
        } else {
            let err = std::io::Error::last_os_error();
            if err.kind() == std::io::ErrorKind::Interrupted {
                if INTERRUPTED.swap(false, Ordering::SeqCst) {
                    return LineRead::Interrupted;
                }
                continue;
            }
            if bytes.is_empty() {
                return LineRead::Eof;
            }
            break;
        }
    }
    if bytes.last() == Some(&b'\r') {
        bytes.pop();
    }
    LineRead::Line(String::from_utf8_lossy(&bytes).into_owned())
}

/// Writes `prompt` to stdout (as Python's `input()` does) and reads a line.
pub fn read_line_prompt(prompt: &str) -> LineRead {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(prompt.as_bytes());
    let _ = out.flush();
    drop(out);
    read_line_raw()
}

/// Python's `getpass`: the prompt on the terminal side (stderr here), echo off while the
/// password is typed when stdin is a terminal.
pub fn read_password(prompt: &str) -> LineRead {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(prompt.as_bytes());
    let _ = err.flush();
    drop(err);
    if !std::io::stdin().is_terminal() {
        return read_line_raw();
    }
    // SAFETY: termios is plain data; tcgetattr fills it, and we restore what we read.
    let mut saved: libc::termios = unsafe { std::mem::zeroed() };
    let have = unsafe { libc::tcgetattr(0, &mut saved) } == 0;
    if have {
        let mut quiet = saved;
        quiet.c_lflag &= !libc::ECHO;
        // SAFETY: fd 0 is a terminal and `quiet` a valid termios.
        unsafe {
            libc::tcsetattr(0, libc::TCSAFLUSH, &quiet);
        }
    }
    let line = read_line_raw();
    if have {
        // SAFETY: restores the settings read above.
        unsafe {
            libc::tcsetattr(0, libc::TCSAFLUSH, &saved);
        }
        eprintln!();
    }
    line
}
