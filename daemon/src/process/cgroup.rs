//! The per-process cgroup (cgroup v2) of a program with `cgroup=true`, `memory_max=` or
//! `cpu_max=` (docs/extensions.md, "Limits"): `<parent>/supervisor-rs/<group>:<name>`, where
//! the parent is `cgroup_parent=` or supervisord's own cgroup (found through
//! `/proc/self/cgroup` and the cgroup2 mount in `/proc/self/mountinfo`).
//!
//! The parent prepares the directory and its limits before the spawn ([`prepare`]), the child
//! joins it before exec (`process::limits`), [`signal_all`] signals every process in it
//! (`cgroup.kill` for SIGKILL), and [`remove`] removes the directory once it is empty. When to
//! do which is the runtime's business (`supervisor::runtime`).
//!
//! Nothing here follows a symbolic link: the parent must itself be a directory of a cgroup2
//! file system (checked with `statfs`), which cannot hold links or other mounts, and every file
//! is opened with `O_NOFOLLOW`.

use std::fs;
use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::config::{CgroupLimits, ProcessConfig};

/// The directory under the parent that holds every per-process cgroup.
pub const SUBTREE: &str = "supervisor-rs";

/// A bound on what is read from a cgroup file (`cgroup.procs` of a fork bomb...).
const READ_MAX: u64 = 4 << 20;

/// supervisord's own cgroup v2 directory, from the texts of `/proc/self/mountinfo` and
/// `/proc/self/cgroup`: the `0::/path` line joined to the mount point of the cgroup2 file
/// system (`/sys/fs/cgroup` on a v2 host, `/sys/fs/cgroup/unified` on a hybrid one).
pub fn own_dir_from(mountinfo: &str, proc_cgroup: &str) -> Result<PathBuf, String> {
    let rel = proc_cgroup
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .ok_or("supervisord is in no cgroup v2 hierarchy (no '0::' line in /proc/self/cgroup)")?
        .trim_end();
    let mut mounts = mountinfo.lines().filter_map(|line| {
        let (before, after) = line.split_once(" - ")?;
        if after.split_whitespace().next()? != "cgroup2" {
            return None;
        }
        let mut f = before.split_whitespace().skip(3);
        Some((unescape(f.next()?), unescape(f.next()?)))
    });
    let mut seen = None;
    for (root, mount) in mounts.by_ref() {
        let below = if root == "/" {
            Some(rel)
        } else {
            rel.strip_prefix(root.as_str())
                .filter(|r| r.is_empty() || r.starts_with('/'))
        };
        if let Some(below) = below {
            return Ok(Path::new(&mount).join(below.trim_start_matches('/')));
        }
        seen = Some(mount);
    }
    Err(match seen {
        Some(m) => format!("supervisord's cgroup {rel} is not visible under the cgroup2 mount {m}"),
        None => "no cgroup2 file system is mounted (/proc/self/mountinfo): this host has no \
                 cgroup v2"
            .to_string(),
    })
}

/// A mountinfo field: `\040` and the other octal escapes of the kernel undone.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let oct = b
            .get(i + 1..i + 4)
            .filter(|o| o.iter().all(|c| (b'0'..=b'7').contains(c)));
        match (b[i], oct) {
            (b'\\', Some(o)) => {
                let v = o.iter().fold(0u32, |v, c| v * 8 + u32::from(c - b'0'));
                out.push(u8::try_from(v).unwrap_or(b'?'));
                i += 4;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// [`own_dir_from`] for this process, read once.
fn own_cgroup() -> Result<PathBuf, String> {
    static OWN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    OWN.get_or_init(|| {
        let read = |p: &str| fs::read_to_string(p).map_err(|e| format!("cannot read {p}: {e}"));
        own_dir_from(&read("/proc/self/mountinfo")?, &read("/proc/self/cgroup")?)
    })
    .clone()
}

/// The cgroup directory of `config`'s process (`None` without the cgroup options).
pub fn dir(config: &ProcessConfig) -> Option<Result<PathBuf, String>> {
    let cg = config.ext.limits.cgroup.as_ref()?;
    Some(dir_in(cg, config))
}

fn dir_in(cg: &CgroupLimits, config: &ProcessConfig) -> Result<PathBuf, String> {
    let parent = match &cg.parent {
        Some(p) => p.clone(),
        None => own_cgroup()?,
    };
    // Group and process names never hold a '/' (the loader refuses them).
    Ok(parent
        .join(SUBTREE)
        .join(format!("{}:{}", config.group_name, config.name)))
}

fn is_cgroup2(path: &Path) -> bool {
    nix::sys::statfs::statfs(path)
        .map(|s| s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC)
        .unwrap_or(false)
}

fn write_file(path: &Path, text: &str) -> io::Result<()> {
    fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)?
        .write_all(text.as_bytes())
}

fn read_file(path: &Path) -> io::Result<String> {
    let mut s = String::new();
    fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)?
        .take(READ_MAX)
        .read_to_string(&mut s)?;
    Ok(s)
}

/// Make `controllers` available to the children of `dir` (`+memory` in its
/// `cgroup.subtree_control`), unless they already are.
fn enable_controllers(dir: &Path, controllers: &[&str]) -> Result<(), String> {
    let available_at = dir.join("cgroup.controllers");
    let available =
        read_file(&available_at).map_err(|e| format!("{}: {e}", available_at.display()))?;
    if let Some(c) = controllers
        .iter()
        .find(|c| !available.split_whitespace().any(|a| a == **c))
    {
        return Err(format!(
            "the {c} controller is not available in {} (cgroup.controllers: {}; on a hybrid \
             host it is still bound to cgroup v1)",
            dir.display(),
            match available.trim() {
                "" => "none",
                a => a,
            }
        ));
    }
    let control = dir.join("cgroup.subtree_control");
    let enabled = read_file(&control).map_err(|e| format!("{}: {e}", control.display()))?;
    let missing: Vec<String> = controllers
        .iter()
        .filter(|c| !enabled.split_whitespace().any(|e| e == **c))
        .map(|c| format!("+{c}"))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    write_file(&control, &missing.join(" ")).map_err(|e| {
        let hint = if e.raw_os_error() == Some(libc::EBUSY) {
            " (a cgroup that holds processes cannot pass controllers to its children: set \
             cgroup_parent= to a cgroup without processes of its own)"
        } else {
            ""
        };
        format!(
            "cannot enable the {} controller in {}: {e}{hint}",
            missing.join(" "),
            control.display()
        )
    })
}

/// Create `path` unless it is there; it must end up a cgroup2 directory (never a link).
fn mkdir(path: &Path) -> Result<(), String> {
    match fs::create_dir(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(format!("cannot create {}: {e}", path.display())),
    }
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() && is_cgroup2(path) => Ok(()),
        Ok(_) => Err(format!("{} is not a cgroup2 directory", path.display())),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// Create (or reuse) the process's cgroup, write its limits, and open its `cgroup.procs` for
/// the child to join. Processes still in a reused cgroup (left by an earlier run) are killed
/// first: the cgroup belongs to the program. `Err` is the spawn error, naming the program and
/// the path.
pub fn prepare(config: &ProcessConfig) -> Option<Result<(PathBuf, OwnedFd), String>> {
    let cg = config.ext.limits.cgroup.as_ref()?;
    Some(prepare_in(cg, config).map_err(|e| {
        format!(
            "cannot set up the cgroup of program {}:{} (cgroup=, memory_max=, cpu_max=): {e}",
            config.group_name, config.name
        )
    }))
}

fn prepare_in(cg: &CgroupLimits, config: &ProcessConfig) -> Result<(PathBuf, OwnedFd), String> {
    let dir = dir_in(cg, config)?;
    let base = dir.parent().unwrap_or(&dir).to_path_buf();
    let parent = base.parent().unwrap_or(&base).to_path_buf();
    if !is_cgroup2(&parent) {
        return Err(format!(
            "{} is not a directory of a cgroup v2 (unified) file system",
            parent.display()
        ));
    }
    let mut controllers = Vec::new();
    if cg.memory_max.is_some() {
        controllers.push("memory");
    }
    if cg.cpu_max.is_some() {
        controllers.push("cpu");
    }
    if !controllers.is_empty() {
        enable_controllers(&parent, &controllers)?;
    }
    mkdir(&base)?;
    if !controllers.is_empty() {
        enable_controllers(&base, &controllers)?;
    }
    mkdir(&dir)?;
    if populated(&dir) {
        // Left by an earlier run (or a supervisord that was killed): the new run starts alone.
        signal_all(&dir, nix::sys::signal::Signal::SIGKILL)
            .map_err(|e| format!("cannot kill what is left in {}: {e}", dir.display()))?;
    }
    // A reused cgroup keeps what an earlier configuration wrote: reset what is not set now.
    for (file, value) in [("memory.max", &cg.memory_max), ("cpu.max", &cg.cpu_max)] {
        let path = dir.join(file);
        match value {
            Some(v) => write_file(&path, v).map_err(|e| format!("{}: {e}", path.display()))?,
            None if path.exists() => {
                let _ = write_file(&path, "max");
            }
            None => {}
        }
    }
    let procs = dir.join("cgroup.procs");
    let file = fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&procs)
        .map_err(|e| format!("cannot open {}: {e}", procs.display()))?;
    Ok((dir, OwnedFd::from(file)))
}

/// Does the cgroup hold a process (itself or below)? `false` once it is gone.
pub fn populated(dir: &Path) -> bool {
    read_file(&dir.join("cgroup.events"))
        .map(|t| t.lines().any(|l| l.trim() == "populated 1"))
        .unwrap_or(false)
}

/// Send `signal` to every process in the cgroup (`cgroup.kill` for SIGKILL where the kernel
/// has it, 5.14+: that also reaches processes forked while it runs). Returns how many were
/// signalled (`cgroup.kill` counts as one).
pub fn signal_all(dir: &Path, signal: nix::sys::signal::Signal) -> io::Result<usize> {
    signal_all_but(dir, signal, None)
}

/// [`signal_all`], except the processes of process group `skip_pgid` (they were signalled
/// through their group already: a second SIGINT is "force quit" for many programs).
pub fn signal_all_but(
    dir: &Path,
    signal: nix::sys::signal::Signal,
    skip_pgid: Option<i32>,
) -> io::Result<usize> {
    use nix::sys::signal::Signal;
    use nix::unistd::{getpgid, Pid};
    if signal == Signal::SIGKILL && write_file(&dir.join("cgroup.kill"), "1").is_ok() {
        return Ok(1);
    }
    let me = std::process::id() as i32;
    let skip = |p: i32| {
        skip_pgid.is_some_and(|g| getpgid(Some(Pid::from_raw(p))).is_ok_and(|x| x.as_raw() == g))
    };
    let mut n = 0;
    for pid in read_file(&dir.join("cgroup.procs"))?
        .lines()
        .filter_map(|l| l.trim().parse::<i32>().ok())
        .filter(|p| *p > 1 && *p != me && !skip(*p))
    {
        if nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), signal).is_ok() {
            n += 1;
        }
    }
    Ok(n)
}

/// Remove the cgroup if it is empty. `Ok(false)`: it still holds processes.
pub fn remove(dir: &Path) -> io::Result<bool> {
    match fs::remove_dir(dir) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(true),
        Err(e) if e.raw_os_error() == Some(libc::EBUSY) => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V2: &str = "\
24 30 0:22 / /sys rw,nosuid shared:7 - sysfs sysfs rw
25 24 0:23 / /sys/fs/cgroup rw,nosuid shared:9 - cgroup2 cgroup2 rw,nsdelegate
";
    const HYBRID: &str = "\
25 24 0:23 / /sys/fs/cgroup ro,nosuid shared:9 - tmpfs tmpfs ro,mode=755
26 25 0:24 / /sys/fs/cgroup/unified rw shared:10 - cgroup2 cgroup2 rw,nsdelegate
27 25 0:25 / /sys/fs/cgroup/memory rw shared:11 - cgroup cgroup rw,memory
";

    #[test]
    fn own_cgroup_on_v2_hybrid_and_v1_hosts() {
        let svc = "0::/system.slice/supervisor.service\n";
        assert_eq!(
            own_dir_from(V2, svc),
            Ok("/sys/fs/cgroup/system.slice/supervisor.service".into())
        );
        assert_eq!(
            own_dir_from(HYBRID, "4:memory:/x\n0::/\n"),
            Ok("/sys/fs/cgroup/unified".into())
        );
        // A container whose cgroup2 mount shows only a part of the tree.
        let part = "30 1 0:23 /docker/abc /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
        assert_eq!(
            own_dir_from(part, "0::/docker/abc/app\n"),
            Ok("/sys/fs/cgroup/app".into())
        );
        assert_eq!(
            own_dir_from(part, "0::/docker/abcd\n"),
            Err(
                "supervisord's cgroup /docker/abcd is not visible under the cgroup2 mount \
                 /sys/fs/cgroup"
                    .into()
            )
        );
        let v1 = "27 25 0:25 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n";
        assert!(own_dir_from(v1, "0::/\n")
            .is_err_and(|e| e.contains("no cgroup2 file system is mounted")));
        assert!(own_dir_from(V2, "4:memory:/x\n").is_err_and(|e| e.contains("no '0::' line")));
        let spaced = "25 24 0:23 / /mnt/my\\040cg rw - cgroup2 none rw\n";
        assert_eq!(own_dir_from(spaced, "0::/a\n"), Ok("/mnt/my cg/a".into()));
    }

    #[test]
    fn mountinfo_escapes() {
        assert_eq!(unescape("a\\040b\\011c\\134d"), "a b\tc\\d");
        assert_eq!(unescape("trailing\\04"), "trailing\\04");
        assert_eq!(unescape("bad\\089"), "bad\\089");
    }
}
