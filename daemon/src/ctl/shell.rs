//! The interactive shell (`supervisorctl` with no action, or `-i`): prompt, one command per
//! line, `status` first, `quit`/`exit`/EOF/Ctrl-C leave, exit status always 0.
//!
//! Lines are read straight from fd 0 (no line editing: a terminal's own cooked mode does the
//! basic editing), so that Ctrl-C interrupts a read the way Python's `KeyboardInterrupt`
//! does. With a history file and a terminal on stdin, the lines typed are appended to it at
//! exit (Python writes no history when stdin is not a terminal either).

use std::io::{IsTerminal, Write};
use std::sync::atomic::Ordering;

use super::commands::{install_sigint_handler, Controller, INTERRUPTED};

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

/// Runs the shell until the user leaves.
pub fn run(ctl: &mut Controller) {
    install_sigint_handler();
    INTERRUPTED.store(false, Ordering::SeqCst);
    let mut history: Vec<String> = Vec::new();
    let keep_history = std::io::stdin().is_terminal();
    let mut leave = ctl.onecmd("status");
    while !leave {
        let prompt = ctl.prompt();
        match read_line_prompt(&prompt) {
            LineRead::Line(l) => {
                if keep_history && !l.trim().is_empty() {
                    history.push(l.clone());
                }
                leave = ctl.onecmd(&l);
            }
            LineRead::Eof => leave = ctl.onecmd("EOF"),
            LineRead::Interrupted => {
                ctl.output("");
                leave = true;
            }
        }
    }
    if let Some(path) = &ctl.options.history_file {
        if !history.is_empty() {
            if let Ok(mut f) = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
            {
                for l in history {
                    let _ = writeln!(f, "{l}");
                }
            }
        }
    }
}
