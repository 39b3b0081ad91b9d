//! End to end: the resource limits of docs/extensions.md ("Limits"): `rlimit_*=` applied in
//! the child before exec, the clear errors, and the per-process cgroup (v2) that stops a
//! whole process tree, grandchildren that called setsid included.

use std::path::Path;
use std::process::Command;

use supervisor_tests::rpc::{rpc_config, s, socket_path, RpcClient, Value};
use supervisor_tests::{secs, wait_for, Daemon, Kind};

fn client_at(sock: &Path) -> RpcClient {
    let c = RpcClient::unix(sock.to_path_buf());
    c.wait_ready(secs(10.0)).expect("daemon answers RPC");
    c
}

fn member<'a>(v: &'a Value, name: &str) -> &'a Value {
    match v {
        Value::Struct(m) => m
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
            .unwrap_or_else(|| panic!("no member {name} in {v:?}")),
        _ => panic!("not a struct: {v:?}"),
    }
}

fn string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        _ => panic!("not a string: {v:?}"),
    }
}

fn int(v: &Value) -> i32 {
    match v {
        Value::Int(n) => *n,
        _ => panic!("not an int: {v:?}"),
    }
}

/// Wait until `name` is in `state`; its process info.
fn wait_state(c: &RpcClient, name: &str, state: &str) -> Value {
    wait_for(secs(20.0), || {
        let info = c.ok("supervisor_rs.getProcessInfo", &[s(name)]);
        (string(member(&info, "statename")) == state).then_some(info)
    })
    .unwrap_or_else(|| {
        let info = c.ok("supervisor_rs.getProcessInfo", &[s(name)]);
        panic!("{name} never {state}: {info:?}")
    })
}

/// The (soft, hard) columns of one line of a `/proc/<pid>/limits` text.
fn limit_row(limits: &str, title: &str) -> (String, String) {
    let line = limits
        .lines()
        .find(|l| l.starts_with(title))
        .unwrap_or_else(|| panic!("no {title} in\n{limits}"));
    let mut cols = line[title.len()..].split_whitespace();
    let soft = cols.next().unwrap_or_default().to_string();
    let hard = cols.next().unwrap_or_default().to_string();
    (soft, hard)
}

#[test]
fn ours_rlimits_reach_the_child() {
    // The child prints its own limits (/proc/self/limits of the shell, before anything else
    // runs), then stays up so the limits of the live process can be read too.
    let mut d = Daemon::start(
        Kind::Ours,
        &rpc_config(
            "[program:limited]\ncommand=sh -c 'cat /proc/$$/limits; exec sleep 1000'\n\
             startsecs=1\nstdout_logfile={dir}/limited.out\n\
             rlimit_nofile=256:512\nrlimit_core=1MB:2MB\nrlimit_as=2GB:4GB\n\
             rlimit_nproc=500:1000\n\n\
             [program:plain]\ncommand=sleep 1001\nstartsecs=1\n",
            None,
        ),
    );
    let c = client_at(&socket_path(d.dir()));
    let info = wait_state(&c, "limited", "RUNNING");
    let pid = int(member(&info, "pid"));
    let printed = wait_for(secs(10.0), || {
        let t = std::fs::read_to_string(d.path("limited.out")).unwrap_or_default();
        t.contains("Max open files").then_some(t)
    })
    .unwrap_or_else(|| panic!("no limits printed\n{}", d.diagnostics()));
    let live = std::fs::read_to_string(format!("/proc/{pid}/limits")).expect("limits of pid");
    for limits in [&printed, &live] {
        assert_eq!(
            limit_row(limits, "Max open files"),
            ("256".into(), "512".into())
        );
        assert_eq!(
            limit_row(limits, "Max core file size"),
            ("1048576".into(), "2097152".into())
        );
        assert_eq!(
            limit_row(limits, "Max address space"),
            ("2147483648".into(), "4294967296".into())
        );
        assert_eq!(
            limit_row(limits, "Max processes"),
            ("500".into(), "1000".into())
        );
    }
    assert_eq!(string(member(&info, "rlimit_nofile")), "256:512");
    assert_eq!(string(member(&info, "rlimit_core")), "1048576:2097152");
    assert_eq!(string(member(&info, "cgroup")), "");
    // A program without the options keeps supervisord's own limits.
    let plain = wait_state(&c, "plain", "RUNNING");
    assert_eq!(string(member(&plain, "rlimit_nofile")), "");
    let ppid = int(member(&plain, "pid"));
    let theirs = std::fs::read_to_string(format!("/proc/{ppid}/limits")).expect("limits");
    let ours = std::fs::read_to_string(format!("/proc/{}/limits", d.pid())).expect("limits");
    assert_eq!(
        limit_row(&theirs, "Max open files"),
        limit_row(&ours, "Max open files")
    );
    assert!(d.stop().success());
}

#[test]
fn ours_impossible_rlimit_is_a_clear_spawn_error() {
    // No process may have infinitely many open files (fs.nr_open caps it, even for root).
    let mut d = Daemon::start(
        Kind::Ours,
        &rpc_config(
            "[program:greedy]\ncommand=sleep 1000\nstartsecs=0\nstartretries=0\n\
             rlimit_nofile=infinity\n",
            None,
        ),
    );
    let c = client_at(&socket_path(d.dir()));
    let info = wait_state(&c, "greedy", "FATAL");
    let err = string(member(&info, "spawnerr"));
    assert!(
        err.contains("couldn't set rlimit_nofile=infinity:infinity")
            && err.contains("/proc/sys/fs/nr_open"),
        "{err}"
    );
    assert!(
        d.log_text().contains("couldn't set rlimit_nofile"),
        "{}",
        d.log_text()
    );
    assert!(d.stop().success());
}

#[test]
fn ours_memory_max_without_writable_cgroup2_is_a_clear_error() {
    let mut d = Daemon::start(
        Kind::Ours,
        &rpc_config(
            "[program:capped]\ncommand=sleep 1000\nstartsecs=0\nstartretries=0\n\
             memory_max=64MB\ncpu_max=50%%\ncgroup_parent={dir}\n",
            None,
        ),
    );
    // {dir} is a plain directory: never a cgroup2 file system.
    let c = client_at(&socket_path(d.dir()));
    let info = wait_state(&c, "capped", "FATAL");
    let err = string(member(&info, "spawnerr"));
    let dir = d.dir().display().to_string();
    assert!(
        err.contains("cannot set up the cgroup of program capped:capped")
            && err.contains(&format!(
                "{dir} is not a directory of a cgroup v2 (unified) file system"
            )),
        "{err}"
    );
    assert_eq!(string(member(&info, "memory_max")), "67108864");
    assert_eq!(string(member(&info, "cpu_max")), "50000 100000");
    assert_eq!(
        string(member(&info, "cgroup")),
        format!("{dir}/supervisor-rs/capped:capped")
    );
    assert!(d.stop().success());
}

// ---------------------------------------------------------------------------------------------
// A cgroup2 hierarchy of our own: supervisord runs in a private mount namespace where cgroup2
// is mounted at <dir>/cg (works on hosts whose /sys/fs/cgroup is still v1).

struct Mounted {
    dir: tempfile::TempDir,
    child: std::process::Child,
    /// `group:name` of the programs: their cgroups are the only ones this test may touch (the
    /// hierarchy is shared with the tests that run at the same time).
    leaves: Vec<String>,
}

impl Mounted {
    fn start(programs: &str) -> Option<Mounted> {
        Self::start_with(programs, "")
    }

    /// `setup`: shell commands run in the namespace (cgroup2 at `$1`) before supervisord.
    fn start_with(programs: &str, setup: &str) -> Option<Mounted> {
        let dir = tempfile::Builder::new()
            .prefix("sv-cg-")
            .tempdir()
            .expect("temp dir");
        let cg = dir.path().join("cg");
        std::fs::create_dir(&cg).expect("mkdir cg");
        let probe = Command::new("unshare")
            .args(["-m", "sh", "-c", "mount -t cgroup2 none \"$1\"", "sh"])
            .arg(&cg)
            .output();
        if !probe.is_ok_and(|o| o.status.success()) {
            eprintln!("SKIPPED: cannot mount cgroup2 in a private mount namespace here");
            return None;
        }
        let conf = dir.path().join("supervisord.conf");
        let text = rpc_config(programs, None).replace("{dir}", dir.path().to_str()?);
        std::fs::write(&conf, text).expect("write config");
        let child = Command::new("unshare")
            .args([
                "-m",
                "sh",
                "-c",
                &format!(
                    "mount -t cgroup2 none \"$1\" && {{ {setup}\n true; }} && shift && exec \"$@\""
                ),
                "sh",
            ])
            .arg(&cg)
            .arg(Kind::Ours.supervisord())
            .arg("-n")
            .arg("-c")
            .arg(&conf)
            .current_dir(dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start unshare");
        let leaves = programs
            .split("[program:")
            .skip(1)
            .filter_map(|rest| rest.split_once(']'))
            .map(|(name, _)| format!("{name}:{name}"))
            .collect();
        Some(Mounted { dir, child, leaves })
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("supervisord.log")).unwrap_or_default()
    }

    /// A path inside supervisord's mount namespace.
    fn inside(&self, rel: &str) -> String {
        format!(
            "/proc/{}/root{}/{rel}",
            self.child.id(),
            self.dir.path().display()
        )
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        // The hierarchy outlives the mount namespace: leave no process or cgroup behind, even
        // when the test failed.
        let base = self.inside("cg/supervisor-rs");
        let leaves: Vec<_> = self
            .leaves
            .iter()
            .map(|l| Path::new(&base).join(l))
            .filter(|p| p.is_dir())
            .collect();
        for leaf in &leaves {
            let _ = std::fs::write(leaf.join("cgroup.kill"), "1");
        }
        for leaf in &leaves {
            let _ = wait_for(secs(5.0), || std::fs::remove_dir(leaf).ok());
        }
        // SAFETY: signalling the daemon this test started.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        if wait_for(secs(20.0), || self.child.try_wait().ok().flatten()).is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Pids whose command line is exactly `argv` (NUL-joined).
fn pids_running(argv: &[&str]) -> Vec<i32> {
    let want: Vec<u8> = argv
        .iter()
        .flat_map(|a| [a.as_bytes(), b"\0"].concat())
        .collect();
    std::fs::read_dir("/proc")
        .map(|rd| {
            rd.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
                .filter(|pid| {
                    std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c == want)
                })
                .filter(|pid| !is_zombie(*pid))
                .collect()
        })
        .unwrap_or_default()
}

fn is_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rfind(')').and_then(|i| s[i + 2..].chars().next()))
        .is_none_or(|state| state == 'Z' || state == 'X')
}

/// SIGKILL for a process the test leaves behind on purpose (or on failure).
struct KillOnDrop(i32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        // SAFETY: plain kill(2) of a process this test started.
        unsafe { libc::kill(self.0, libc::SIGKILL) };
    }
}

#[test]
fn ours_cgroup_stops_grandchildren_that_called_setsid() {
    // Names unique to this run: the cgroup2 hierarchy is shared by the whole machine.
    let tag = std::process::id();
    let (tree_secs, plain_secs) = (format!("71{tag}"), format!("72{tag}"));
    let Some(m) = Mounted::start(&format!(
        "[program:tree{tag}]\ncommand=sh -c 'setsid sleep {tree_secs} & exec sleep 1000'\n\
         startsecs=1\nstopasgroup=true\ncgroup=true\ncgroup_parent={{dir}}/cg\n\
         rlimit_nofile=300\n\n\
         [program:plain{tag}]\ncommand=sh -c 'setsid sleep {plain_secs} & exec sleep 1001'\n\
         startsecs=1\nstopasgroup=true\n"
    )) else {
        return;
    };
    let c = client_at(&m.dir.path().join("supervisor.sock"));
    let tree = format!("tree{tag}");
    let plain = format!("plain{tag}");
    let info = wait_state(&c, &tree, "RUNNING");
    wait_state(&c, &plain, "RUNNING");
    let cg_rel = format!("cg/supervisor-rs/{tree}:{tree}");
    assert_eq!(
        string(member(&info, "cgroup")),
        format!("{}/{cg_rel}", m.dir.path().display())
    );
    let grandchild = |arg: &str| {
        wait_for(secs(10.0), || {
            pids_running(&["sleep", arg]).first().copied()
        })
        .unwrap_or_else(|| panic!("no setsid grandchild 'sleep {arg}'\n{}", m.log()))
    };
    let tree_gc = grandchild(&tree_secs);
    let plain_gc = grandchild(&plain_secs);
    let _reap = KillOnDrop(plain_gc);
    // The grandchild left the process group but not the cgroup.
    let pid = int(member(&info, "pid"));
    assert_ne!(
        supervisor_tests::pgid_of(tree_gc),
        supervisor_tests::pgid_of(pid)
    );
    let cgroup_of =
        |p: i32| std::fs::read_to_string(format!("/proc/{p}/cgroup")).unwrap_or_default();
    assert!(
        cgroup_of(tree_gc).contains(&format!("0::/supervisor-rs/{tree}:{tree}")),
        "{}",
        cgroup_of(tree_gc)
    );
    let procs =
        std::fs::read_to_string(m.inside(&format!("{cg_rel}/cgroup.procs"))).expect("cgroup.procs");
    assert!(procs.lines().count() == 2, "{procs}");
    // rlimits and the cgroup together (both applied in the child).
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).expect("limits");
    assert_eq!(
        limit_row(&limits, "Max open files"),
        ("300".into(), "300".into())
    );

    for name in [&tree, &plain] {
        let stopped = c.call("supervisor.stopProcess", &[s(name)]);
        assert!(stopped.is_ok(), "{stopped:?}");
    }
    // stopasgroup alone misses the grandchild that called setsid; the cgroup reaches it.
    let gone = wait_for(secs(10.0), || is_zombie(tree_gc).then_some(()));
    assert!(
        gone.is_some(),
        "setsid grandchild {tree_gc} survived the stop\n{}",
        m.log()
    );
    assert!(
        !is_zombie(plain_gc),
        "the control grandchild should survive stopasgroup"
    );
    // The empty cgroup is removed once the process is gone.
    let removed = wait_for(secs(10.0), || {
        (!Path::new(&m.inside(&cg_rel)).exists()).then_some(())
    });
    assert!(removed.is_some(), "cgroup left behind\n{}", m.log());
}

/// Pids in a `cgroup.procs` text.
fn pids_in(text: &str) -> Vec<i32> {
    text.lines().filter_map(|l| l.trim().parse().ok()).collect()
}

#[test]
fn ours_cgroup_kills_leftovers_after_stopwaitsecs_without_stopasgroup() {
    // No stopasgroup: the stop signal goes to the process only. What is left in the cgroup
    // after its exit gets the stopsignal, then SIGKILL after stopwaitsecs: a grandchild that
    // ignores SIGTERM dies too.
    let tag = std::process::id();
    let (soft, stubborn) = (format!("73{tag}"), format!("74{tag}"));
    let name = format!("left{tag}");
    let Some(m) = Mounted::start(&format!(
        "[program:{name}]\ncommand=sh -c 'setsid sleep {soft} & \
         setsid sh -c \"trap \\\"\\\" TERM; exec sleep {stubborn}\" & exec sleep 1000'\n\
         startsecs=1\nstopwaitsecs=2\ncgroup=true\ncgroup_parent={{dir}}/cg\n"
    )) else {
        return;
    };
    let c = client_at(&m.dir.path().join("supervisor.sock"));
    wait_state(&c, &name, "RUNNING");
    let find = |arg: &str| {
        wait_for(secs(10.0), || {
            pids_running(&["sleep", arg]).first().copied()
        })
        .unwrap_or_else(|| panic!("no grandchild 'sleep {arg}'\n{}", m.log()))
    };
    let (soft_pid, stubborn_pid) = (find(&soft), find(&stubborn));
    let _k = (KillOnDrop(soft_pid), KillOnDrop(stubborn_pid));
    let stopped = std::time::Instant::now();
    let r = c.call("supervisor.stopProcess", &[s(&name)]);
    assert!(r.is_ok(), "{r:?}");
    wait_for(secs(10.0), || is_zombie(soft_pid).then_some(()))
        .unwrap_or_else(|| panic!("the grandchild that obeys SIGTERM survived\n{}", m.log()));
    // Still there while its stopwaitsecs run (it ignores SIGTERM)...
    if stopped.elapsed() < secs(1.5) {
        assert!(!is_zombie(stubborn_pid), "SIGKILL came before stopwaitsecs");
    }
    // ...then killed.
    wait_for(secs(10.0), || is_zombie(stubborn_pid).then_some(()))
        .unwrap_or_else(|| panic!("the grandchild that ignores SIGTERM survived\n{}", m.log()));
    assert!(
        stopped.elapsed() >= secs(1.5),
        "killed before stopwaitsecs\n{}",
        m.log()
    );
    let cg_rel = format!("cg/supervisor-rs/{name}:{name}");
    wait_for(secs(10.0), || {
        (!Path::new(&m.inside(&cg_rel)).exists()).then_some(())
    })
    .unwrap_or_else(|| panic!("cgroup left behind\n{}", m.log()));
    let log = m.log();
    assert!(
        log.contains("processes left in the cgroup")
            && log.contains(": sent SIGTERM to 2, SIGKILL in 2s"),
        "{log}"
    );
    assert!(log.contains("killing what is left in the cgroup"), "{log}");
}

#[test]
fn ours_failed_cgroup_join_names_the_step_and_the_cgroup() {
    // A cgroup that hands a domain controller to children cannot take processes itself
    // (cgroup v2's "no internal processes" rule): joining it fails in the child, between fork
    // and exec, and the spawn error says so instead of "couldn't exec".
    let tag = std::process::id();
    let name = format!("busy{tag}");
    let Some(m) = Mounted::start_with(
        &format!(
            "[program:{name}]\ncommand=sleep 1000\nstartsecs=0\nstartretries=0\n\
             cgroup=true\ncgroup_parent={{dir}}/cg\n"
        ),
        &format!(
            "grep -qw hugetlb \"$1/cgroup.controllers\" || exit 0; \
             mkdir -p \"$1/supervisor-rs/{name}:{name}/inner\" && \
             echo +hugetlb > \"$1/cgroup.subtree_control\" && \
             echo +hugetlb > \"$1/supervisor-rs/cgroup.subtree_control\" && \
             echo +hugetlb > \"$1/supervisor-rs/{name}:{name}/cgroup.subtree_control\""
        ),
    ) else {
        return;
    };
    let c = client_at(&m.dir.path().join("supervisor.sock"));
    let controllers =
        std::fs::read_to_string(m.inside("cg/cgroup.controllers")).unwrap_or_default();
    let leaf = format!("cg/supervisor-rs/{name}:{name}");
    let cleanup = || {
        let _ = std::fs::remove_dir(m.inside(&format!("{leaf}/inner")));
    };
    if !controllers.split_whitespace().any(|c| c == "hugetlb") {
        cleanup();
        eprintln!(
            "SKIPPED: no hugetlb controller in this cgroup2 hierarchy ({controllers:?}), so no \
             cgroup that refuses processes can be made"
        );
        return;
    }
    let info = wait_state(&c, &name, "FATAL");
    let err = string(member(&info, "spawnerr"));
    cleanup();
    let dir = format!("{}/{leaf}", m.dir.path().display());
    assert_eq!(err, format!("couldn't join the cgroup {dir}: EBUSY"));
}

#[test]
fn ours_memory_max_and_cpu_max_are_written_or_refused_clearly() {
    let tag = std::process::id();
    let name = format!("capped{tag}");
    let Some(m) = Mounted::start(&format!(
        "[program:{name}]\ncommand=sleep 1000\nstartsecs=1\nstartretries=0\n\
         memory_max=64MB\ncpu_max=50%%\ncgroup_parent={{dir}}/cg\n"
    )) else {
        return;
    };
    let c = client_at(&m.dir.path().join("supervisor.sock"));
    let controllers =
        std::fs::read_to_string(m.inside("cg/cgroup.controllers")).unwrap_or_default();
    let has = |c: &str| controllers.split_whitespace().any(|x| x == c);
    let leaf = format!("cg/supervisor-rs/{name}:{name}");
    if has("memory") && has("cpu") {
        wait_state(&c, &name, "RUNNING");
        let read =
            |f: &str| std::fs::read_to_string(m.inside(&format!("{leaf}/{f}"))).unwrap_or_default();
        assert_eq!(read("memory.max").trim(), "67108864");
        assert_eq!(read("cpu.max").trim(), "50000 100000");
        let info = c.ok("supervisor_rs.getProcessInfo", &[s(&name)]);
        assert_eq!(
            pids_in(&read("cgroup.procs")),
            vec![int(member(&info, "pid"))]
        );
    } else {
        // A hybrid host: memory and cpu are still bound to cgroup v1.
        let info = wait_state(&c, &name, "FATAL");
        let err = string(member(&info, "spawnerr"));
        let missing = if has("memory") { "cpu" } else { "memory" };
        assert!(
            err.starts_with(&format!(
                "cannot set up the cgroup of program {name}:{name} (cgroup=, memory_max=, \
                 cpu_max=): the {missing} controller is not available in {}/cg",
                m.dir.path().display()
            )),
            "{err}"
        );
        eprintln!(
            "NOTE: memory.max/cpu.max not written here (cgroup.controllers: {controllers:?}); \
             the refusal was tested instead"
        );
    }
}

/// supervisord's default parent: its own cgroup, found through /proc/self/mountinfo. The
/// precondition is checked by the test itself: a cgroup2 mount and a writable own cgroup.
fn own_cgroup_writable() -> Result<std::path::PathBuf, String> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").map_err(|e| e.to_string())?;
    let mount = mountinfo
        .lines()
        .filter_map(|l| l.split_once(" - "))
        .find(|(_, after)| after.starts_with("cgroup2 "))
        .and_then(|(before, _)| {
            let f: Vec<&str> = before.split_whitespace().collect();
            (f.get(3) == Some(&"/")).then(|| f.get(4).map(|m| m.to_string()))?
        })
        .ok_or("no cgroup2 file system mounted at its root")?;
    let cg = std::fs::read_to_string("/proc/self/cgroup").map_err(|e| e.to_string())?;
    let rel = cg
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .ok_or("no cgroup v2 line in /proc/self/cgroup")?;
    let own = Path::new(&mount).join(rel.trim_start_matches('/'));
    let probe = own.join(format!("sv-probe-{}", std::process::id()));
    std::fs::create_dir(&probe).map_err(|e| format!("{} is not writable: {e}", own.display()))?;
    let _ = std::fs::remove_dir(&probe);
    Ok(own)
}

#[test]
fn ours_default_cgroup_parent_is_supervisords_own_cgroup() {
    let own = match own_cgroup_writable() {
        Ok(o) => o,
        Err(why) => {
            eprintln!("SKIPPED: supervisord's own cgroup cannot hold sub-cgroups here: {why}");
            return;
        }
    };
    let tag = std::process::id();
    let name = format!("own{tag}");
    let mut d = Daemon::start(
        Kind::Ours,
        &rpc_config(
            &format!(
                "[program:{name}]\ncommand=sh -c 'setsid sleep 75{tag} & exec sleep 1000'\n\
                 startsecs=1\nstopasgroup=true\ncgroup=true\n"
            ),
            None,
        ),
    );
    let c = client_at(&socket_path(d.dir()));
    let info = wait_state(&c, &name, "RUNNING");
    let dir = own.join(format!("supervisor-rs/{name}:{name}"));
    assert_eq!(string(member(&info, "cgroup")), dir.display().to_string());
    let gc = wait_for(secs(10.0), || {
        pids_running(&["sleep", &format!("75{tag}")])
            .first()
            .copied()
    })
    .unwrap_or_else(|| panic!("no grandchild\n{}", d.diagnostics()));
    let _k = KillOnDrop(gc);
    let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
    assert!(pids_in(&procs).contains(&gc), "{procs}");
    let r = c.call("supervisor.stopProcess", &[s(&name)]);
    assert!(r.is_ok(), "{r:?}");
    wait_for(secs(10.0), || is_zombie(gc).then_some(()))
        .unwrap_or_else(|| panic!("grandchild survived\n{}", d.diagnostics()));
    wait_for(secs(10.0), || (!dir.exists()).then_some(()))
        .unwrap_or_else(|| panic!("cgroup left behind\n{}", d.diagnostics()));
    assert!(d.stop().success());
}

#[test]
fn ours_cgroup_stop_signals_each_process_once() {
    // stopasgroup with a cgroup: the process group gets the stop signal, the rest of the cgroup
    // (a setsid grandchild) too, and nobody twice (a second SIGINT is "force quit" for many
    // programs), not even the grandchild still there when the process has exited.
    let tag = std::process::id();
    let name = format!("once{tag}");
    let Some(m) = Mounted::start(&format!(
        "[program:{name}]\ncommand=sh -c 'setsid sh -c \"trap \\\"echo G >> {{dir}}/g\\\" TERM; \
         while :; do sleep 0.1; done\" & trap \"echo M >> {{dir}}/m; exit 0\" TERM; \
         while :; do sleep 0.1; done'\n\
         startsecs=1\nstopasgroup=true\nstopwaitsecs=2\ncgroup=true\ncgroup_parent={{dir}}/cg\n"
    )) else {
        return;
    };
    let c = client_at(&m.dir.path().join("supervisor.sock"));
    wait_state(&c, &name, "RUNNING");
    let r = c.call("supervisor.stopProcess", &[s(&name)]);
    assert!(r.is_ok(), "{r:?}");
    wait_state(&c, &name, "STOPPED");
    let leaf = format!("cg/supervisor-rs/{name}:{name}");
    wait_for(secs(10.0), || {
        (!Path::new(&m.inside(&leaf)).exists()).then_some(())
    })
    .unwrap_or_else(|| panic!("cgroup left behind\n{}", m.log()));
    let read = |f: &str| std::fs::read_to_string(m.dir.path().join(f)).unwrap_or_default();
    assert_eq!(read("m"), "M\n", "the process\n{}", m.log());
    assert_eq!(read("g"), "G\n", "the setsid grandchild\n{}", m.log());
    let log = m.log();
    assert!(log.contains(": already signalled, SIGKILL in 2s"), "{log}");
}
