//! Memory and CPU of a process from `/proc/<pid>/stat`, and the daemon's open descriptors.
//! The parsing is pure; the readers are thin wrappers.

use std::path::Path;

/// What `/proc` says about one process.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Resources {
    pub resident_memory_bytes: u64,
    /// utime + stime.
    pub cpu_seconds: f64,
}

/// Parse the text of `/proc/<pid>/stat` given the clock tick rate and the page size.
/// The command name (field 2) may contain spaces and parentheses, so fields are counted from
/// the last `)`.
pub fn parse_stat(text: &str, ticks_per_second: u64, page_size: u64) -> Option<Resources> {
    let rest = &text[text.rfind(')')? + 1..];
    // After ")": field 3 (state) is index 0, so field N is index N - 3.
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(14 - 3)?.parse().ok()?;
    let stime: u64 = fields.get(15 - 3)?.parse().ok()?;
    let rss_pages: i64 = fields.get(24 - 3)?.parse().ok()?;
    let ticks = ticks_per_second.max(1) as f64;
    Some(Resources {
        resident_memory_bytes: u64::try_from(rss_pages).unwrap_or(0) * page_size,
        cpu_seconds: (utime + stime) as f64 / ticks,
    })
}

fn sysconf(name: libc::c_int, default: u64) -> u64 {
    // SAFETY: sysconf has no memory-safety preconditions.
    let v = unsafe { libc::sysconf(name) };
    u64::try_from(v).ok().filter(|v| *v > 0).unwrap_or(default)
}

fn read_stat(path: &Path) -> Option<Resources> {
    let text = std::fs::read_to_string(path).ok()?;
    parse_stat(
        &text,
        sysconf(libc::_SC_CLK_TCK, 100),
        sysconf(libc::_SC_PAGESIZE, 4096),
    )
}

/// Resources of `pid`, or `None` if it is gone (or not Linux).
pub fn read_pid(pid: i32) -> Option<Resources> {
    if pid <= 0 {
        return None;
    }
    read_stat(Path::new(&format!("/proc/{pid}/stat")))
}

/// Resources of the calling process.
pub fn read_self() -> Option<Resources> {
    read_stat(Path::new("/proc/self/stat"))
}

/// Descriptors open in the calling process (the directory handle itself excluded).
pub fn open_fds() -> Option<u64> {
    let n = std::fs::read_dir("/proc/self/fd").ok()?.count() as u64;
    Some(n.saturating_sub(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_odd_command_names() {
        let text = "1234 (my (odd) prog) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0 \
                    5000 10000000 300 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0";
        let r = parse_stat(text, 100, 4096).expect("parses");
        assert_eq!(r.resident_memory_bytes, 300 * 4096);
        assert!((r.cpu_seconds - 3.0).abs() < 1e-9);
        assert_eq!(parse_stat("garbage", 100, 4096), None);
        assert_eq!(parse_stat("1 (x) S 1 2", 100, 4096), None);
    }

    #[test]
    fn reads_own_process() {
        let r = read_self().expect("/proc/self/stat");
        assert!(r.resident_memory_bytes > 0);
        assert!(open_fds().is_some_and(|n| n >= 3));
        assert_eq!(read_pid(0), None);
    }
}
