//! Resident set sizes from `/proc` (memmon never runs `ps`).

use std::collections::HashMap;
use std::fs;

/// RSS of `pid` in bytes (`VmRSS` of `/proc/<pid>/status`, the number `ps -o rss=` prints,
/// times 1024), `None` if the process is gone or has no RSS (a zombie, a kernel thread).
pub fn rss(pid: i32) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map(|kb| kb * 1024)
}

/// Parent pid of every process on the machine.
pub fn parents() -> HashMap<i32, i32> {
    let mut out = HashMap::new();
    let Ok(rd) = fs::read_dir("/proc") else {
        return out;
    };
    for entry in rd.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // The command name may contain spaces and parentheses: fields follow the last ')'.
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            continue;
        };
        if let Some(ppid) = rest.split_whitespace().nth(1).and_then(|p| p.parse().ok()) {
            out.insert(pid, ppid);
        }
    }
    out
}

/// `pid` and all its descendants.
pub fn tree(pid: i32) -> Vec<i32> {
    let parents = parents();
    let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
    for (&p, &pp) in &parents {
        children.entry(pp).or_default().push(p);
    }
    let mut out = vec![pid];
    let mut i = 0;
    while i < out.len() {
        if let Some(c) = children.get(&out[i]) {
            for &c in c {
                if !out.contains(&c) {
                    out.push(c);
                }
            }
        }
        i += 1;
    }
    out
}

/// RSS of `pid` plus all its descendants (memmon `-c`); `None` if `pid` itself is gone.
pub fn cumulative_rss(pid: i32) -> Option<u64> {
    let own = rss(pid)?;
    Some(own + tree(pid).into_iter().skip(1).filter_map(rss).sum::<u64>())
}

/// Supervisor's `byte_size`: an integer with an optional case-insensitive `KB`, `MB` or `GB`
/// suffix (powers of 1024).
pub fn parse_byte_size(text: &str) -> Option<u64> {
    let t = text.trim();
    let lower = t.to_ascii_lowercase();
    let (num, mult) = if let Some(n) = lower.strip_suffix("kb") {
        (n, 1u64 << 10)
    } else if let Some(n) = lower.strip_suffix("mb") {
        (n, 1 << 20)
    } else if let Some(n) = lower.strip_suffix("gb") {
        (n, 1 << 30)
    } else {
        (lower.as_str(), 1)
    };
    num.trim().parse::<u64>().ok()?.checked_mul(mult)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_rss_and_tree() {
        let me = std::process::id() as i32;
        assert!(rss(me).unwrap() > 0);
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let t = tree(me);
        assert!(t.contains(&(child.id() as i32)), "{t:?}");
        // (Own RSS moves while other tests run, so compare with the quiet child instead.)
        let c = child.id() as i32;
        assert_eq!(tree(c), vec![c]);
        assert!(cumulative_rss(me).unwrap() > rss(c).unwrap());
        child.kill().unwrap();
        child.wait().unwrap();
    }

    #[test]
    fn byte_sizes() {
        assert_eq!(parse_byte_size("10000"), Some(10000));
        assert_eq!(parse_byte_size("200MB"), Some(200 << 20));
        assert_eq!(parse_byte_size("1gb"), Some(1 << 30));
        assert_eq!(parse_byte_size("5kB"), Some(5 << 10));
        assert_eq!(parse_byte_size("x"), None);
    }
}
