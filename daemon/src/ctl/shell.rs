//! The interactive shell (`supervisorctl` with no action, or `-i`): prompt, one command per
//! line, `status` first, `quit`/`exit`/EOF/Ctrl-C leave, exit status always 0.
//!
//! On a terminal, lines are read with `rustyline` (line editing, history, and Tab completion
//! of actions, groups and processes as Python's readline completer offers them); the history
//! file (`-r` / `history_file`) is read at start and rewritten at exit as plain lines, the
//! format GNU readline uses. Otherwise lines are read straight from fd 0, byte by byte, so
//! commands that read stdin themselves (`fg`, confirmations) see the rest, and no history is
//! written (Python writes none then either).

use std::borrow::Cow;
use std::cell::RefCell;
use std::io::IsTerminal;
use std::path::Path;
use std::sync::atomic::Ordering;

use rustyline::completion::Completer;
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::DefaultHistory;
use rustyline::validate::Validator;
use rustyline::{Context, Editor, Helper};
use supervisor_protocol::xmlrpc::ProcessInfo;

use super::client::Client;

use super::commands::Controller;
use super::term::{install_sigint_handler, read_line_prompt, LineRead, INTERRUPTED};

/// Runs the shell until the user leaves.
pub fn run(ctl: &mut Controller) {
    install_sigint_handler();
    INTERRUPTED.store(false, Ordering::SeqCst);
    let tty = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let editor = if tty {
        // No bracketed-paste or synchronized-update escapes around each prompt: tools that
        // drive the shell through a pty (pexpect, expect) read what they would read from
        // Python's supervisorctl, apart from rustyline's line redraw.
        let config = rustyline::Config::builder().bracketed_paste(false).build();
        Editor::<CtlHelper, DefaultHistory>::with_config(config)
            .ok()
            .map(|mut rl| {
                rustyline::config::Configurer::enable_synchronized_output(&mut rl, false);
                rl
            })
    } else {
        None
    };
    match editor {
        Some(mut rl) => run_editor(ctl, &mut rl),
        None => run_plain(ctl),
    }
}

fn run_plain(ctl: &mut Controller) {
    let mut leave = ctl.onecmd("status");
    while !leave {
        let prompt = ctl.prompt();
        leave = match read_line_prompt(&prompt) {
            LineRead::Line(l) => ctl.onecmd(&l),
            LineRead::Eof => ctl.onecmd("EOF"),
            LineRead::Interrupted => {
                ctl.output("");
                true
            }
        };
    }
}

fn run_editor(ctl: &mut Controller, rl: &mut Editor<CtlHelper, DefaultHistory>) {
    let history_file = ctl.options.history_file.clone();
    let mut history: Vec<String> = Vec::new();
    if let Some(path) = &history_file {
        if let Ok(text) = std::fs::read_to_string(path) {
            for line in text.lines().filter(|l| !l.is_empty()) {
                let _ = rl.add_history_entry(line);
                history.push(line.to_string());
            }
        }
    }
    let mut leave = ctl.onecmd("status");
    while !leave {
        rl.set_helper(ctl.client_for_completion().map(CtlHelper::new));
        let prompt = ctl.prompt();
        leave = match rl.readline(&prompt) {
            Ok(l) => {
                if !l.trim().is_empty() {
                    let _ = rl.add_history_entry(l.as_str());
                    history.push(l.clone());
                }
                ctl.onecmd(&l)
            }
            Err(ReadlineError::Eof) => ctl.onecmd("EOF"),
            Err(ReadlineError::Interrupted) => {
                ctl.output("");
                true
            }
            Err(_) => ctl.onecmd("EOF"),
        };
    }
    if let Some(path) = &history_file {
        save_history(path, history.iter().map(String::as_str));
    }
}

/// Writes the history as plain lines (what readline's `write_history_file` produces).
fn save_history<'a>(path: &Path, lines: impl Iterator<Item = &'a str>) {
    let mut text = String::new();
    for l in lines {
        text.push_str(l);
        text.push('\n');
    }
    let _ = std::fs::write(path, text);
}

/// Tab completion like Python's: actions for the first word (and after `help`), group names
/// after `add`/`remove`/`update`, process names after the process commands. Process
/// information is fetched once per prompt.
pub struct CtlHelper {
    client: Client,
    infos: RefCell<Option<Vec<ProcessInfo>>>,
}

/// What the completer offers as actions (Python's `vocab`).
const VOCAB: &[&str] = &[
    "help", "add", "avail", "clear", "exit", "fg", "maintail", "open", "pid", "quit", "reload",
    "remove", "reread", "restart", "shutdown", "signal", "start", "status", "stop", "tail",
    "update", "version",
];

impl CtlHelper {
    fn new(client: Client) -> CtlHelper {
        CtlHelper {
            client,
            infos: RefCell::new(None),
        }
    }

    fn infos(&self) -> Vec<ProcessInfo> {
        let mut cache = self.infos.borrow_mut();
        if cache.is_none() {
            *cache = Some(self.client.get_all_process_info().unwrap_or_default());
        }
        cache.clone().unwrap_or_default()
    }

    /// The candidates for `text` (the word being completed) on `line`.
    pub fn candidates(&self, line: &str, text: &str) -> Vec<String> {
        let words: Vec<&str> = line.split_whitespace().collect();
        let actions = || -> Vec<String> {
            VOCAB
                .iter()
                .filter(|a| a.starts_with(text))
                .map(|a| format!("{a} "))
                .collect()
        };
        if line.trim().is_empty() || (words.len() == 1 && !line.ends_with(' ')) {
            return actions();
        }
        match words.first().copied().unwrap_or("") {
            "help" => actions(),
            "add" | "remove" | "update" => {
                let mut groups: Vec<String> = Vec::new();
                for i in self.infos() {
                    if !groups.contains(&i.group) {
                        groups.push(i.group);
                    }
                }
                groups
                    .into_iter()
                    .filter(|g| g.starts_with(text))
                    .map(|g| format!("{g} "))
                    .collect()
            }
            "clear" | "fg" | "pid" | "restart" | "signal" | "start" | "status" | "stop"
            | "tail" => {
                let mut names: Vec<String> = Vec::new();
                for i in self.infos() {
                    if text.contains(':') || i.name != i.group {
                        names.push(format!("{}:{}", i.group, i.name));
                        let all = format!("{}:*", i.group);
                        if !names.contains(&all) {
                            names.push(all);
                        }
                    } else {
                        names.push(i.name);
                    }
                }
                names
                    .into_iter()
                    .filter(|n| n.starts_with(text))
                    .map(|n| format!("{n} "))
                    .collect()
            }
            _ => Vec::new(),
        }
    }
}

impl Completer for CtlHelper {
    type Candidate = String;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<String>)> {
        let before = line.get(..pos).unwrap_or(line);
        let start = before
            .rfind(char::is_whitespace)
            .map(|i| i + before[i..].chars().next().map_or(1, char::len_utf8))
            .unwrap_or(0);
        Ok((start, self.candidates(before, &before[start..])))
    }
}

impl Hinter for CtlHelper {
    type Hint = String;
}

impl Highlighter for CtlHelper {
    fn highlight<'l>(&self, line: &'l str, _pos: usize) -> Cow<'l, str> {
        Cow::Borrowed(line)
    }
}

impl Validator for CtlHelper {}

impl Helper for CtlHelper {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ctl::transport::{ServerUrl, Transport};

    fn helper() -> CtlHelper {
        let url = ServerUrl::parse("unix:///nonexistent/ctl-test.sock").unwrap();
        CtlHelper::new(Client::new(Transport {
            url,
            username: None,
            password: None,
            timeout: None,
        }))
    }

    #[test]
    fn ctl_completes_actions_like_python() {
        let h = helper();
        assert_eq!(h.candidates("vers", "vers"), vec!["version "]);
        assert_eq!(h.candidates("st", "st"), vec!["start ", "status ", "stop "]);
        assert_eq!(
            h.candidates("help re", "re"),
            vec!["reload ", "remove ", "reread ", "restart "]
        );
        // Unreachable server: no process names, no error.
        assert!(h.candidates("start sl", "sl").is_empty());
        assert!(h.candidates("frobnicate x", "x").is_empty());
    }
}
