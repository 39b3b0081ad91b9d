//! Supervisor 4.3.0's own end-to-end suite (`supervisor/tests/test_end_to_end.py`, 27
//! pexpect tests shipped in the installed package) run against our binaries by
//! `scripts/upstream_e2e.py`, which swaps `python -m supervisor.supervisord`,
//! `python -m supervisor.supervisorctl` and Python's `confecho` for our supervisord,
//! supervisorctl and echo_supervisord_conf.
//!
//! Every upstream test must pass except those in [`EXPECTED_FAILURES`], each with its reason;
//! an expected failure that starts passing fails this test too (so the list cannot hide a
//! change), and `python_expected_failures_fail_too` checks that each one fails under Python
//! supervisord as well, i.e. that it is not a gap of ours. Tests that start none of our
//! binaries are listed in [`NOT_OURS`] and checked the same way. A test that fails
//! unexpectedly is rerun once on its own (upstream waits at most 30 s for each line, which a
//! loaded machine can miss); if it then passes, its first failure is printed as a warning.
//!
//! The fixtures use fixed paths (`/tmp/issue-*.sock`, `.log`, `.pid`), so the two tests take
//! a lock and never run the suite at the same time.

use std::path::Path;
use std::process::Command;
use std::sync::Mutex;

use supervisor_tests::{ours_bin, run_command, secs, venv_dir, venv_python, workspace_root};

/// Number of tests in Supervisor 4.3.0's test_end_to_end.py.
const SUITE_SIZE: usize = 27;

/// Upstream tests that fail against our binaries, and why. Each must fail under Python too.
const EXPECTED_FAILURES: &[(&str, &str)] = &[(
    "test_issue_565",
    "its fixture hello.sh is in neither the wheel nor the sdist of supervisor 4.3.0 on PyPI \
     (`command=bash %(here)s/hello.sh` exits at once, so `hello` goes FATAL instead of \
     RUNNING), and issue-565.conf has no `spew` program for the test's second half; it fails \
     the same way under Python supervisord",
)];

/// Upstream tests that start no binary of ours, and why (they pass, but say nothing about us).
const NOT_OURS: &[(&str, &str)] = &[
    (
        "test_issue_1418_pidproxy_cmd_with_no_args",
        "runs Python's pidproxy, which supervisor-rs does not replace",
    ),
    (
        "test_issue_1418_pidproxy_cmd_with_args",
        "runs Python's pidproxy, which supervisor-rs does not replace",
    ),
];

static SUITE_LOCK: Mutex<()> = Mutex::new(());

/// One `upstream-result:` line of the runner.
struct Outcome {
    name: String,
    outcome: String,
    programs: Vec<String>,
}

/// Runs scripts/upstream_e2e.py (`upstream`: Python's binaries instead of ours) on `tests`
/// (all when empty); returns the per-test outcomes and the runner's whole output.
fn run_suite(upstream: bool, tests: &[&str]) -> (Vec<Outcome>, String) {
    let _guard = SUITE_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let venv_bin = venv_dir().join("bin");
    let path = match std::env::var_os("PATH") {
        Some(p) => {
            let mut dirs = vec![venv_bin.clone()];
            dirs.extend(std::env::split_paths(&p));
            std::env::join_paths(dirs).expect("PATH")
        }
        None => venv_bin.clone().into_os_string(),
    };
    let bin_dir = ours_bin("supervisord")
        .parent()
        .map(Path::to_path_buf)
        .expect("binary dir");
    // The programs of the fixtures are started as `python ...`: the venv's, first on PATH.
    let mut cmd = Command::new(venv_python());
    cmd.arg(workspace_root().join("scripts/upstream_e2e.py"))
        .args(tests)
        .current_dir(workspace_root())
        .env("PATH", path)
        .env("SUPERVISOR_RS_VENV", venv_dir())
        .env("SUPERVISOR_RS_BIN_DIR", &bin_dir)
        .env("PYTHONUNBUFFERED", "1");
    if upstream {
        cmd.env("UPSTREAM", "1");
    } else {
        cmd.env_remove("UPSTREAM");
    }
    let out = run_command(cmd, secs(900.0));
    let transcript = out.to_string();
    assert!(
        out.status.is_some(),
        "the upstream suite did not finish within 900 s\n{transcript}"
    );
    assert!(
        !out.stderr.contains("No module named 'pexpect'"),
        "pexpect is missing from the venv {}: run scripts/test.sh (it installs the pins)\n{transcript}",
        venv_dir().display()
    );
    let outcomes = out
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("upstream-result: "))
        .map(|l| {
            let mut f = l.split(' ');
            let name = f.next().unwrap_or_default().to_string();
            let outcome = f.next().unwrap_or_default().to_string();
            let programs = f
                .next()
                .unwrap_or_default()
                .split(',')
                .filter(|p| *p != "-")
                .map(str::to_string)
                .collect();
            Outcome {
                name,
                outcome,
                programs,
            }
        })
        .collect();
    (outcomes, transcript)
}

fn listed(list: &[(&str, &str)], name: &str) -> bool {
    list.iter().any(|(n, _)| *n == name)
}

#[test]
fn ours_upstream_end_to_end_suite() {
    let (mut outcomes, mut transcript) = run_suite(false, &[]);
    // Upstream's tests wait at most 30 s for a line; on a loaded machine one can miss that.
    // A test that failed unexpectedly runs once more on its own, and the first failure is
    // printed (not hidden) when the rerun passes; a test that fails twice is a failure.
    let unexpected: Vec<String> = outcomes
        .iter()
        .filter(|o| o.outcome != "ok" && !listed(EXPECTED_FAILURES, &o.name))
        .map(|o| o.name.clone())
        .collect();
    if !unexpected.is_empty() {
        let names: Vec<&str> = unexpected.iter().map(String::as_str).collect();
        let (rerun, rerun_transcript) = run_suite(false, &names);
        for o in &mut outcomes {
            if let Some(r) = rerun.iter().find(|r| r.name == o.name) {
                if r.outcome == "ok" {
                    eprintln!(
                        "warning: upstream test {} failed once and passed when rerun alone; \
                         the first run:\n{transcript}",
                        o.name
                    );
                }
                o.outcome = r.outcome.clone();
            }
        }
        transcript = format!("{transcript}\n--- rerun of {names:?} ---\n{rerun_transcript}");
    }
    let mut problems = Vec::new();
    if outcomes.len() != SUITE_SIZE {
        problems.push(format!(
            "expected {SUITE_SIZE} upstream tests, the runner reported {}",
            outcomes.len()
        ));
    }
    for o in &outcomes {
        let expected_fail = listed(EXPECTED_FAILURES, &o.name);
        match (o.outcome.as_str(), expected_fail) {
            ("ok", true) => problems.push(format!(
                "{} now passes: remove it from EXPECTED_FAILURES",
                o.name
            )),
            ("ok", false) | ("fail" | "error", true) => {}
            (other, _) => problems.push(format!("{}: {other}", o.name)),
        }
        let ran_ours = o.programs.iter().any(|p| p.starts_with("ours:"));
        match (ran_ours, listed(NOT_OURS, &o.name)) {
            (false, false) => problems.push(format!(
                "{} started none of our binaries ({:?}): the runner's swap missed it",
                o.name, o.programs
            )),
            (true, true) => problems.push(format!(
                "{} now starts our binaries: remove it from NOT_OURS",
                o.name
            )),
            _ => {}
        }
    }
    for (name, _) in EXPECTED_FAILURES.iter().chain(NOT_OURS) {
        if !outcomes.iter().any(|o| o.name == *name) {
            problems.push(format!(
                "{name} is listed here but the suite has no such test"
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "upstream end-to-end suite against our binaries:\n  {}\n\n{transcript}",
        problems.join("\n  ")
    );
}

/// Each expected failure fails under Python supervisord 4.3.0 as well.
#[test]
fn python_expected_failures_fail_too() {
    let names: Vec<&str> = EXPECTED_FAILURES.iter().map(|(n, _)| *n).collect();
    let (outcomes, transcript) = run_suite(true, &names);
    for name in names {
        let o = outcomes
            .iter()
            .find(|o| o.name == name)
            .unwrap_or_else(|| panic!("no result for {name}\n{transcript}"));
        assert!(
            o.outcome == "fail" || o.outcome == "error",
            "{name} is an expected failure of ours but {} under Python: it is a gap of \
             ours, not of the fixture\n{transcript}",
            o.outcome
        );
        assert!(
            o.programs.iter().all(|p| !p.starts_with("ours:")),
            "UPSTREAM=1 still ran ours: {:?}",
            o.programs
        );
    }
}
