//! Files an unprivileged local user can plant or shape (issue 12): the child record next to
//! the pidfile (`<pidfile>.children`, and its `.tmp`), and `[include]` globs that match things
//! other than regular files. Ours only (the child record is our own addition); the tests need
//! root (they plant files as `nobody` and use a pid namespace), as CI runs them.
//! docs/reliability.md lists them.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use supervisor_tests::{config_with, pid_alive, ppid_of, secs, wait_for, Daemon, Kind};

fn assert_root() {
    // SAFETY: geteuid has no preconditions.
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "these tests plant files as another user and need root"
    );
}

/// `(start time, cmdline)` of `pid` once its exec has finished (the arguments appear a few
/// microseconds after `spawn` returns).
fn identity(pid: i32) -> (u64, Vec<u8>) {
    wait_for(secs(5.0), || {
        let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let rest = &stat[stat.rfind(')')? + 2..];
        let start = rest.split_whitespace().nth(19)?.parse().ok()?;
        let cmd = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        (!cmd.is_empty()).then_some((start, cmd))
    })
    .unwrap_or_else(|| panic!("no identity for pid {pid}"))
}

/// The record's command-line encoding: printable ASCII but `%` as is, other bytes `%XX`.
fn encode(cmd: &[u8]) -> String {
    cmd.iter()
        .map(|&b| {
            if (0x21..=0x7e).contains(&b) && b != b'%' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A record line for `pid` as a crashed supervisord (pid 2^31-1, long gone) would leave it.
fn record_for(entries: &[(i32, u64, &[u8], &str)]) -> String {
    let mut text = "supervisord 2147483647 1 record=2\n".to_string();
    for (pid, start, cmd, name) in entries {
        text.push_str(&format!("{pid} {start} {} {name}\n", encode(cmd)));
    }
    text
}

/// A `sleep` in its own process group, not a child of any supervisord.
struct Victim(Child);

impl Victim {
    fn start(arg: &str) -> Victim {
        Victim(
            Command::new("sleep")
                .arg(arg)
                .process_group(0)
                .stdin(Stdio::null())
                .spawn()
                .expect("spawn sleep"),
        )
    }
    fn pid(&self) -> i32 {
        self.0.id() as i32
    }
    fn alive(&mut self) -> bool {
        self.0.try_wait().expect("try_wait").is_none()
    }
}

impl Drop for Victim {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn write_owned_record(path: &Path, text: &str) {
    fs::write(path, text).expect("write record");
    fs::set_permissions(path, fs::Permissions::from_mode(0o600)).expect("chmod record");
}

const PROGRAM: &str = "[program:a]\ncommand=sleep 1000\nstartsecs=0\n";

/// A record planted by `nobody` in a world-writable (sticky, like /tmp) pidfile directory,
/// naming a real process with its true identity: supervisord (root) refuses the file with a
/// WARN naming it, and the process lives.
#[test]
fn ours_child_record_planted_by_nobody_is_ignored() {
    assert_root();
    let mut d = Daemon::prepare(Kind::Ours, &config_with(PROGRAM));
    fs::set_permissions(d.dir(), fs::Permissions::from_mode(0o1777)).expect("chmod dir");
    let mut victim = Victim::start("1001");
    let (start, cmd) = identity(victim.pid());
    let record = d.path("supervisord.pid.children");
    let text = record_for(&[(victim.pid(), start, &cmd, "g:victim")]);
    let planted = Command::new("runuser")
        .args([
            "-u",
            "nobody",
            "--",
            "sh",
            "-c",
            "umask 022; printf '%s' \"$1\" > \"$2\"",
        ])
        .arg("sh")
        .arg(&text)
        .arg(&record)
        .status()
        .expect("runuser");
    assert!(planted.success(), "planting as nobody failed");
    assert_eq!(fs::metadata(&record).expect("planted").uid(), 65534);

    d.spawn();
    let log = d.expect_log("success: a", secs(15.0));
    assert!(
        victim.alive(),
        "a process named by a planted record was killed"
    );
    assert!(
        log.contains(&format!(
            "WARN ignoring the child record {}: owned by uid 65534",
            record.display()
        )),
        "{log}"
    );
    assert!(!log.contains("stopping leftover"), "{log}");
    // Our own record replaced the planted one.
    let meta = fs::symlink_metadata(&record).expect("own record");
    assert_eq!((meta.uid(), meta.mode() & 0o777), (0, 0o600));
    d.stop();
}

/// A record (ours, well-formed) naming a pid whose start time matches but that now runs
/// another command line: the process is left alone.
#[test]
fn ours_child_record_with_reused_pid_is_left_alone() {
    let mut d = Daemon::prepare(Kind::Ours, &config_with(PROGRAM));
    let mut victim = Victim::start("1002");
    let (start, _) = identity(victim.pid());
    let record = d.path("supervisord.pid.children");
    write_owned_record(
        &record,
        &record_for(&[(victim.pid(), start, b"sleep\x001003\x00", "g:gone")]),
    );
    d.spawn();
    let log = d.expect_log("success: a", secs(15.0));
    assert!(!log.contains("stopping leftover"), "{log}");
    assert!(
        victim.alive(),
        "a process with another command line was killed"
    );
    d.stop();
}

/// A symlink planted at `<pidfile>.children.tmp` pointing at another file: the record is
/// written without following it and the target stays untouched.
#[test]
fn ours_child_record_tmp_symlink_is_not_followed() {
    let mut d = Daemon::prepare(Kind::Ours, &config_with(PROGRAM));
    let precious = d.path("precious");
    fs::write(&precious, "keep me\n").expect("write target");
    std::os::unix::fs::symlink(&precious, d.path("supervisord.pid.children.tmp"))
        .expect("plant symlink");
    d.spawn();
    d.expect_log("success: a", secs(15.0));
    assert_eq!(
        fs::read_to_string(&precious).expect("target"),
        "keep me\n",
        "the symlink target was overwritten"
    );
    let record = d.path("supervisord.pid.children");
    let meta = fs::symlink_metadata(&record).expect("record");
    assert!(meta.file_type().is_file(), "{meta:?}");
    assert_eq!(meta.mode() & 0o777, 0o600);
    let text = fs::read_to_string(&record).expect("record");
    assert!(text.contains(" g:a") || text.contains(" a:a"), "{text}");
    d.stop();
}

/// Children of `pid` (outside pids).
fn children(pid: i32) -> Vec<i32> {
    let Ok(rd) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    rd.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|&p| ppid_of(p) == Some(pid) && pid_alive(p))
        .collect()
}

/// A record (ours, well-formed) naming pid 1 with pid 1's true start time and command line.
/// Before the fix this made supervisord call `kill(-1, SIGTERM)`: every process it may
/// signal. Run inside a new pid namespace so that such a bug would only reach the namespace:
/// its init is a shell (leading process group 1) that starts a sentinel `sleep`, waits for the record, then runs
/// supervisord. The record is refused with a WARN and the sentinel lives.
#[test]
fn ours_child_record_naming_pid_1_signals_nothing() {
    assert_root();
    let d = Daemon::prepare(Kind::Ours, &config_with(PROGRAM));
    let go = d.path("go");
    let script = format!(
        "sleep 1004 & while [ ! -e '{}' ]; do sleep 0.05; done; '{}' -n -c '{}'; sleep 1005",
        go.display(),
        Kind::Ours.supervisord().display(),
        d.path("supervisord.conf").display()
    );
    let mut unshare = Command::new("unshare")
        // setsid: the namespace's init leads process group 1, as init does on a host.
        .args([
            "--pid",
            "--fork",
            "--mount-proc",
            "setsid",
            "sh",
            "-c",
            &script,
        ])
        .env("SUPERVISOR_RS_TEST_TAG", d.tag())
        .current_dir(d.dir())
        .process_group(0)
        .stdin(Stdio::null())
        .spawn()
        .expect("unshare");
    let upid = unshare.id() as i32;
    let init = wait_for(secs(5.0), || children(upid).first().copied())
        .expect("the namespace's init shell");
    let sentinel = wait_for(secs(5.0), || {
        children(init).into_iter().find(|&p| {
            fs::read(format!("/proc/{p}/cmdline")).ok() == Some(b"sleep\x001004\x00".to_vec())
        })
    })
    .expect("sentinel sleep");
    let (start, cmd) = identity(init);
    write_owned_record(
        &d.path("supervisord.pid.children"),
        &record_for(&[(1, start, &cmd, "g:init")]),
    );
    fs::write(&go, "").expect("go");
    let log = wait_for(secs(15.0), || {
        let log = d.log_text();
        log.contains("success: a").then_some(log)
    });
    let log = log.unwrap_or_else(|| panic!("daemon did not start:\n{}", d.diagnostics()));
    let sentinel_alive = pid_alive(sentinel);
    // Killing the namespace's init ends every process in it.
    // SAFETY: plain syscall on a pid we started.
    unsafe {
        libc::kill(init, libc::SIGKILL);
    }
    let _ = unshare.wait();
    assert!(sentinel_alive, "kill(-1) reached the sentinel:\n{log}");
    assert!(!log.contains("stopping leftover"), "{log}");
    assert!(
        log.contains("names pid 1 (g:init); never signalling it"),
        "{log}"
    );
}

/// Record maintenance is an append journal: after many spawns the record holds at most two
/// lines per live child (compaction drops exited ones) and SIGKILL recovery still finds every
/// child.
#[test]
fn ours_child_record_tracks_restarts_without_growing() {
    let mut d = Daemon::start(
        Kind::Ours,
        &config_with(
            "[program:flap]\ncommand=/bin/sh -c 'sleep 0.1'\nautorestart=true\nstartsecs=0\n\
             numprocs=40\nprocess_name=%(program_name)s_%(process_num)s\n\n\
             [program:steady]\ncommand=sleep 1000\nnumprocs=3\n\
             process_name=%(program_name)s_%(process_num)s\n",
        ),
    );
    if let Err(e) = d.wait_log_count("success: flap_", 300, secs(60.0)) {
        panic!("{e}");
    }
    let record = d.path("supervisord.pid.children");
    let lines = fs::read_to_string(&record).expect("record").lines().count();
    // 43 live children: compaction at most at 2 x 43 lines.
    assert!(
        lines <= 1 + 2 * 43,
        "record grew to {lines} lines after 300 spawns"
    );
    let steady: Vec<i32> = d
        .descendants()
        .into_iter()
        .filter(|&p| {
            fs::read(format!("/proc/{p}/cmdline")).ok() == Some(b"sleep\x001000\x00".to_vec())
        })
        .collect();
    assert_eq!(steady.len(), 3, "{steady:?}");
    d.signal(libc::SIGKILL);
    d.wait_exit(secs(5.0)).expect("SIGKILL ends the daemon");
    d.respawn();
    d.expect_log("leftover process(es) of a previous supervisord", secs(20.0));
    let gone = wait_for(secs(10.0), || {
        steady.iter().all(|&p| !pid_alive(p)).then_some(())
    });
    assert!(gone.is_some(), "leftovers still running:\n{}", d.log_text());
    d.stop();
}

// ---------------------------------------------------------------------------------------------
// [include] matches that are not regular files
// ---------------------------------------------------------------------------------------------

/// `[include] files=conf.d/*.conf` matching `target`'s kind of file: start-up ends at once
/// with an error naming the file and the [include] section (Python 4.3.0 blocks forever on
/// the FIFO and reads /dev/zero until memory runs out).
fn include_refused(plant: impl FnOnce(&Path), what: &str) {
    let d = Daemon::prepare(
        Kind::Ours,
        &config_with("[include]\nfiles=conf.d/*.conf\n\n[program:a]\ncommand=sleep 1000\n"),
    );
    let confd = d.path("conf.d");
    fs::create_dir(&confd).expect("conf.d");
    fs::write(confd.join("a.conf"), "[program:b]\ncommand=sleep 1000\n").expect("a.conf");
    let bad = confd.join("b.conf");
    plant(&bad);
    let out = d.run_to_exit(secs(20.0));
    let text = out.combined();
    assert_eq!(out.code(), Some(2), "expected a config error:\n{text}");
    assert!(
        text.contains(&format!(
            "included file '{}' (matched by 'files') {what}",
            bad.display()
        )) && text.contains("in section 'include'"),
        "{text}"
    );
}

#[test]
fn ours_include_matching_a_fifo_is_refused() {
    include_refused(
        |p| {
            let status = Command::new("mkfifo").arg(p).status().expect("mkfifo");
            assert!(status.success());
        },
        "is a FIFO, not a regular file",
    );
}

#[test]
fn ours_include_matching_a_symlink_to_dev_zero_is_refused() {
    include_refused(
        |p| std::os::unix::fs::symlink("/dev/zero", p).expect("symlink"),
        "is a character device, not a regular file",
    );
}
