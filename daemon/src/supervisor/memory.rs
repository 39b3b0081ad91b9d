//! Handing memory that only the start-up used back to the system.
//!
//! Two kinds of page stay resident after a start-up although the idle daemon never touches
//! them again:
//!
//! * freed heap: parsing the configuration and spawning every program allocate and free a
//!   lot, and glibc keeps freed pages mapped (`malloc_trim` returns them);
//! * code and read-only data of the binary and its libraries: the kernel maps a file's pages
//!   around every page fault (64 KiB at a time), so after a start-up nearly all of the
//!   daemon's code (config parser, clap, spawn paths) counts in its resident set. These pages
//!   are clean copies of the page cache: dropping our mapping of them (`MADV_DONTNEED`)
//!   frees nothing the file does not hold, and the next use faults them back in from the page
//!   cache. Only mappings that are file-backed, not writable and hold no private (copied)
//!   page qualify; relocated data (RELRO), `.data`, `.bss`, the heap and stacks never do.
//!
//! The parsing is plain logic ([`droppable_mappings`]); [`release_startup_memory`] is the
//! only function with system calls.

/// One mapping that may be dropped: start address and length in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub start: usize,
    pub len: usize,
}

/// The mappings in `/proc/self/smaps` text whose pages are clean copies of a file: a path
/// (not `[vdso]`, `[heap]`, ...), no `w` permission, not shared, and an `Anonymous: 0 kB`
/// line (no page was ever copied on write, as relocation does to RELRO data).
pub fn droppable_mappings(smaps: &str) -> Vec<Range> {
    let mut out = Vec::new();
    // (range, kind qualifies, an `Anonymous: 0 kB` line was seen)
    let mut current: Option<(Range, bool, bool)> = None;
    let flush = |entry: Option<(Range, bool, bool)>, out: &mut Vec<Range>| {
        if let Some((range, true, true)) = entry {
            out.push(range);
        }
    };
    for line in smaps.lines() {
        if let Some(header) = mapping_header(line) {
            flush(current.take(), &mut out);
            current = Some((header.0, header.1, false));
            continue;
        }
        if let Some(rest) = line.strip_prefix("Anonymous:") {
            if let Some((_, _, clean)) = current.as_mut() {
                *clean = rest.trim() == "0 kB";
            }
        }
    }
    flush(current, &mut out);
    out
}

/// A mapping's header line: its range, and whether its kind qualifies (the `Anonymous:` line
/// that follows decides the rest).
fn mapping_header(line: &str) -> Option<(Range, bool)> {
    let mut fields = line.split_whitespace();
    let (start, end) = fields.next()?.split_once('-')?;
    let start = usize::from_str_radix(start, 16).ok()?;
    let end = usize::from_str_radix(end, 16).ok()?;
    let perms = fields.next()?;
    let offset = fields.next()?;
    let dev = fields.next()?;
    let inode = fields.next()?;
    // A header has hex offset, `maj:min` device and a decimal inode; field lines don't.
    if perms.len() != 4 || !dev.contains(':') || inode.parse::<u64>().is_err() {
        return None;
    }
    u64::from_str_radix(offset, 16).ok()?;
    let path = fields.collect::<Vec<_>>().join(" ");
    let perms = perms.as_bytes();
    let qualifies = path.starts_with('/')
        && !path.ends_with(" (deleted)")
        && inode != "0"
        && perms[1] != b'w'
        && perms[3] == b'p';
    Some((
        Range {
            start,
            len: end.saturating_sub(start),
        },
        qualifies,
    ))
}

/// Return the heap's free pages to the system (glibc keeps them mapped otherwise). A walk
/// over the free lists: microseconds at the daemon's heap sizes.
pub fn trim_heap() {
    #[cfg(target_env = "gnu")]
    // SAFETY: plain libc call without pointers.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Return freed heap and the start-up's code pages to the system (see the module doc).
/// Best effort: nothing here can fail the daemon.
pub fn release_startup_memory() {
    trim_heap();
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
        return;
    };
    for range in droppable_mappings(&smaps) {
        // SAFETY: the range is a private, read-only, file-backed mapping of this process
        // with no privately modified page (checked above), so discarding our copies only
        // makes the next access fault the same bytes in again from the page cache. No
        // Rust object lives in such a mapping.
        unsafe {
            libc::madvise(
                range.start as *mut libc::c_void,
                range.len,
                libc::MADV_DONTNEED,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMAPS: &str = "\
55c60d463000-55c60d4e0000 r--p 00000000 fd:01 1234                       /usr/bin/supervisord
Size:                500 kB
Anonymous:             0 kB
55c60d4e0000-55c60d6a0000 r-xp 0007d000 fd:01 1234                       /usr/bin/supervisord
Size:               1792 kB
Anonymous:             0 kB
55c60d6a0000-55c60d6c6000 r--p 0023d000 fd:01 1234                       /usr/bin/supervisord
Size:                152 kB
Anonymous:           152 kB
55c60d6c6000-55c60d6c8000 rw-p 00263000 fd:01 1234                       /usr/bin/supervisord
Anonymous:             8 kB
55c60e000000-55c60e100000 rw-p 00000000 00:00 0                          [heap]
Anonymous:           812 kB
7f0000000000-7f0000010000 r-xp 00000000 fd:01 99                         /usr/lib/x86_64-linux-gnu/libc.so.6
Anonymous:             0 kB
7f0000020000-7f0000030000 r--s 00000000 fd:01 77                         /dev/shm/shared
Anonymous:             0 kB
7f0000030000-7f0000031000 r-xp 00000000 fd:01 78                         /tmp/old binary (deleted)
Anonymous:             0 kB
7fff15fb9000-7fff15fbb000 r-xp 00000000 00:00 0                          [vdso]
Anonymous:             0 kB
";

    #[test]
    fn only_clean_read_only_private_file_mappings() {
        let got = droppable_mappings(SMAPS);
        assert_eq!(
            got,
            vec![
                Range {
                    start: 0x55c60d463000,
                    len: 0x7d000
                },
                Range {
                    start: 0x55c60d4e0000,
                    len: 0x1c0000
                },
                Range {
                    start: 0x7f0000000000,
                    len: 0x10000
                },
            ]
        );
    }

    #[test]
    fn a_mapping_without_an_anonymous_line_is_kept() {
        assert!(droppable_mappings("1000-2000 r-xp 00000000 fd:01 5 /bin/x\n").is_empty());
    }

    #[test]
    fn garbage_is_ignored() {
        assert!(droppable_mappings("nonsense\n\nAnonymous: 4 kB\nzz-yy r-xp").is_empty());
    }

    #[test]
    fn the_running_process_has_droppable_code() {
        let smaps = std::fs::read_to_string("/proc/self/smaps").expect("read smaps");
        assert!(!droppable_mappings(&smaps).is_empty());
    }

    #[test]
    fn releasing_keeps_the_process_working() {
        release_startup_memory();
        // Code, constants and relocated data are all still there.
        let text = format!("{:?}", droppable_mappings(SMAPS));
        assert!(text.contains("Range"));
        release_startup_memory();
        assert_eq!(droppable_mappings(SMAPS).len(), 3);
    }
}
