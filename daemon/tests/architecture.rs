//! The dependency rules ARCHITECTURE.md states, checked on the source text so that breaking
//! one fails `cargo test` instead of going unnoticed. Each test names the invariant it holds.

use std::fs;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// Every `.rs` file under `dir` (relative to the repository root), recursively.
fn rust_files(dir: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![repo().join(dir)];
    while let Some(d) = todo.pop() {
        let Ok(entries) = fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The text of a file without its unit tests (whatever follows the first `#[cfg(test)]`)
/// and without comments, which may name anything.
fn code(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let text = text.split("#[cfg(test)]").next().unwrap_or("");
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every (file, needle) where a file under `dirs` contains one of `needles`.
fn offenders(files: &[PathBuf], needles: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for f in files {
        let text = code(f);
        for n in needles {
            if text.contains(n) {
                let rel = f.strip_prefix(repo()).unwrap_or(f);
                found.push(format!("{} uses `{n}`", rel.display()));
            }
        }
    }
    found
}

fn files(paths: &[&str]) -> Vec<PathBuf> {
    paths.iter().map(|p| repo().join(p)).collect()
}

/// `[dependencies]` of a Cargo.toml (up to the next section).
fn dependencies(manifest: &str) -> String {
    let text = fs::read_to_string(repo().join(manifest)).unwrap_or_default();
    let Some(start) = text.find("[dependencies]") else {
        return String::new();
    };
    let rest = &text[start + "[dependencies]".len()..];
    rest.split("\n[").next().unwrap_or("").to_string()
}

#[test]
fn decision_core_does_no_io_and_reads_no_clock() {
    let core = files(&[
        "daemon/src/process/state.rs",
        "daemon/src/supervisor/core.rs",
        "daemon/src/supervisor/deps.rs",
        "daemon/src/events/mod.rs",
        "daemon/src/events/handlers.rs",
    ]);
    let io = [
        "Instant::now",
        "SystemTime::now",
        "std::fs",
        "std::net",
        "std::process",
        "std::os::",
        "std::thread",
        "tokio",
        "nix::",
        "libc::",
    ];
    let found = offenders(&core, &io);
    assert!(
        found.is_empty(),
        "the decision core must stay pure: {found:#?}"
    );
}

#[test]
fn supervisor_never_names_the_control_plane() {
    let found = offenders(
        &rust_files("daemon/src/supervisor"),
        &[
            "crate::rpc",
            "crate::ctl",
            "crate::web",
            "xmlrpc",
            "MethodCall",
        ],
    );
    assert!(
        found.is_empty(),
        "supervisor/ must not depend on rpc/: {found:#?}"
    );
}

#[test]
fn supervisorctl_uses_only_config_from_the_daemon() {
    let found = offenders(
        &rust_files("daemon/src/ctl"),
        &[
            "crate::supervisor",
            "crate::rpc",
            "crate::process",
            "crate::events",
            "crate::logs",
        ],
    );
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn protocol_has_no_runtime_and_no_workspace_dependency() {
    let deps = dependencies("protocol/Cargo.toml");
    for forbidden in ["tokio", "supervisor-"] {
        assert!(
            !deps.contains(forbidden),
            "protocol depends on {forbidden}: {deps}"
        );
    }
    let found = offenders(
        &rust_files("protocol/src"),
        &["tokio", "std::net", "std::fs"],
    );
    assert!(found.is_empty(), "protocol is sans-IO: {found:#?}");
}

#[test]
fn listeners_never_depend_on_the_daemon() {
    let deps = dependencies("listeners/Cargo.toml");
    assert!(!deps.contains("supervisor-daemon"), "{deps}");
    let found = offenders(&rust_files("listeners/src"), &["supervisor_daemon"]);
    assert!(found.is_empty(), "{found:#?}");
}
