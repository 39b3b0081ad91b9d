//! Reading log files for the XML-RPC API (upstream-reference §4.8): the byte-level primitives behind
//! `readLog` / `readProcess*Log` ([`read_range`]) and `tailProcess*Log` ([`tail`]).
//!
//! Why separate: both have odd but observable offset arithmetic (copied from Supervisor's
//! `readFile` / `tailFile`) that clients such as `supervisorctl tail -f` depend on. These
//! functions return raw bytes; the RPC layer decodes them lossily as UTF-8 (Supervisor answers
//! HTTP 500 when a slice cuts a multibyte character) and maps [`ReadError`] to faults.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

/// Why `read_range` gave no data; maps 1:1 to XML-RPC faults.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// NO_FILE: the log does not exist.
    #[error("no such file")]
    NoFile,
    /// BAD_ARGUMENTS: negative offset with a non-zero length, or a negative length.
    #[error("bad arguments")]
    BadArguments,
    /// FAILED: any other I/O error.
    #[error("read failed: {0}")]
    Failed(#[from] io::Error),
    /// The slice asked for is over the caller's limit (this many bytes); nothing was read.
    #[error("{0} bytes asked for")]
    TooLarge(u64),
}

fn read_at(file: &mut File, offset: u64, limit: Option<u64>) -> io::Result<Vec<u8>> {
    file.seek(SeekFrom::Start(offset))?;
    let mut data = Vec::new();
    match limit {
        Some(n) => {
            file.take(n).read_to_end(&mut data)?;
        }
        None => {
            file.read_to_end(&mut data)?;
        }
    }
    Ok(data)
}

/// `readLog` semantics: offset ≥ 0 and length 0 → offset..EOF; offset ≥ 0 and length > 0 →
/// up to `length` bytes from offset (empty past EOF); offset < 0 and length 0 → the last
/// `|offset|` bytes (whole file if shorter). Missing file → `NoFile` (checked first, like
/// Supervisor's `os.path.exists` before parsing the arguments). A slice of more than `max`
/// bytes is `TooLarge`, found from the file's size before anything is read.
pub fn read_range(path: &Path, offset: i64, length: i64, max: u64) -> Result<Vec<u8>, ReadError> {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(ReadError::NoFile),
        Err(e) => return Err(ReadError::Failed(e)),
    };
    if offset < 0 {
        if length != 0 {
            return Err(ReadError::BadArguments);
        }
        let size = file.seek(SeekFrom::End(0))?;
        let back = offset.unsigned_abs();
        let pos = size.saturating_sub(back);
        if size - pos > max {
            return Err(ReadError::TooLarge(size - pos));
        }
        return Ok(read_at(&mut file, pos, Some(back))?);
    }
    if length < 0 {
        return Err(ReadError::BadArguments);
    }
    let offset = offset.unsigned_abs();
    let limit = if length == 0 {
        None
    } else {
        Some(length.unsigned_abs())
    };
    let avail = file.seek(SeekFrom::End(0))?.saturating_sub(offset);
    let n = limit.map_or(avail, |l| l.min(avail));
    if n > max {
        return Err(ReadError::TooLarge(n));
    }
    Ok(read_at(&mut file, offset, limit)?)
}

/// `tailProcess*Log` semantics: returns `(bytes, new_offset, overflow)` where `new_offset` is
/// the file size. Supervisor's arithmetic, verbatim:
///
/// ```text
/// if sz > offset + length: overflow = true; offset = sz - 1
/// if offset + length > sz:
///     if offset > sz - 1: length = 0
///     offset = sz - length
/// offset = max(offset, 0); length = max(length, 0)
/// ```
///
/// A missing file gives `(empty, 0, false)` (what the RPC answers). Other I/O errors are
/// returned; Supervisor answers `['', offset, false]` (the caller's offset) for those. A slice
/// of more than `max` bytes is an error of kind `FileTooLarge`, before anything is read.
pub fn tail(path: &Path, offset: u64, length: u64, max: u64) -> io::Result<(Vec<u8>, u64, bool)> {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((Vec::new(), 0, false)),
        Err(e) => return Err(e),
    };
    let sz_u = file.seek(SeekFrom::End(0))?;
    let sz = i128::from(sz_u);
    let mut off = i128::from(offset);
    let mut len = i128::from(length);
    let mut overflow = false;
    if sz > off + len {
        overflow = true;
        off = sz - 1;
    }
    if off + len > sz {
        if off > sz - 1 {
            len = 0;
        }
        off = sz - len;
    }
    let off = u64::try_from(off.max(0)).unwrap_or(0);
    let len = u64::try_from(len.max(0)).unwrap_or(0);
    let n = len.min(sz_u.saturating_sub(off));
    if n > max {
        return Err(io::Error::new(
            io::ErrorKind::FileTooLarge,
            format!("{n} bytes asked for"),
        ));
    }
    let data = if len == 0 {
        Vec::new()
    } else {
        read_at(&mut file, off, Some(len))?
    };
    Ok((data, sz_u, overflow))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn file_with(content: &[u8]) -> io::Result<(tempfile::TempDir, std::path::PathBuf)> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("log");
        fs::write(&path, content)?;
        Ok((dir, path))
    }

    #[test]
    fn slices_over_the_limit_are_refused_before_reading() -> io::Result<()> {
        let (_d, p) = file_with(b"0123456789")?;
        assert!(matches!(
            read_range(&p, 0, 0, 9),
            Err(ReadError::TooLarge(10))
        ));
        assert!(matches!(
            read_range(&p, -10, 0, 9),
            Err(ReadError::TooLarge(10))
        ));
        assert_eq!(read_range(&p, 2, 0, 9).ok(), Some(b"23456789".to_vec()));
        assert_eq!(read_range(&p, 0, 5, 5).ok(), Some(b"01234".to_vec()));
        let err = tail(&p, 0, 10, 9).expect_err("over the limit");
        assert_eq!(err.kind(), io::ErrorKind::FileTooLarge);
        assert_eq!(tail(&p, 0, 1000, 10)?, (b"0123456789".to_vec(), 10, false));
        Ok(())
    }

    fn rr(path: &Path, o: i64, l: i64) -> Vec<u8> {
        read_range(path, o, l, u64::MAX).unwrap_or_else(|e| format!("ERR {e}").into_bytes())
    }

    #[test]
    fn read_range_semantics() -> io::Result<()> {
        let (_d, p) = file_with(b"0123456789")?;
        assert_eq!(rr(&p, 0, 0), b"0123456789");
        assert_eq!(rr(&p, 3, 0), b"3456789");
        assert_eq!(rr(&p, 3, 4), b"3456");
        assert_eq!(rr(&p, 8, 100), b"89");
        assert_eq!(rr(&p, 10, 0), b"");
        assert_eq!(rr(&p, 100, 5), b"");
        assert_eq!(rr(&p, -3, 0), b"789");
        assert_eq!(rr(&p, -100, 0), b"0123456789");
        assert!(matches!(
            read_range(&p, -3, 2, u64::MAX),
            Err(ReadError::BadArguments)
        ));
        assert!(matches!(
            read_range(&p, 0, -1, u64::MAX),
            Err(ReadError::BadArguments)
        ));
        assert!(matches!(
            read_range(&p, i64::MIN, 0, u64::MAX),
            Ok(ref d) if d == b"0123456789"
        ));
        assert_eq!(rr(&p, 0, i64::MAX), b"0123456789");
        Ok(())
    }

    #[test]
    fn read_range_missing_and_failed() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        assert!(matches!(
            read_range(&dir.path().join("nope"), 0, 0, u64::MAX),
            Err(ReadError::NoFile)
        ));
        // Missing file wins over bad arguments.
        assert!(matches!(
            read_range(&dir.path().join("nope"), -1, 1, u64::MAX),
            Err(ReadError::NoFile)
        ));
        // A directory: reading fails.
        assert!(matches!(
            read_range(dir.path(), 0, 0, u64::MAX),
            Err(ReadError::Failed(_))
        ));
        Ok(())
    }

    #[test]
    fn tail_observed_cases() -> io::Result<()> {
        let (_d, p) = file_with(b"abe\n")?;
        // Spec 4.8, observed on a 4-byte file.
        assert_eq!(tail(&p, 0, 2, u64::MAX)?, (b"e\n".to_vec(), 4, true));
        assert_eq!(tail(&p, 100, 2, u64::MAX)?, (Vec::new(), 4, false));
        // Typical supervisorctl tail: offset 0, length 1600 on a small file.
        assert_eq!(tail(&p, 0, 1600, u64::MAX)?, (b"abe\n".to_vec(), 4, false));
        // Follow: offset == size.
        assert_eq!(tail(&p, 4, 1600, u64::MAX)?, (Vec::new(), 4, false));
        // Grown beyond offset + length: overflow, last `length` bytes.
        assert_eq!(tail(&p, 1, 1, u64::MAX)?, (b"\n".to_vec(), 4, true));
        // length 0.
        assert_eq!(tail(&p, 0, 0, u64::MAX)?, (Vec::new(), 4, true));
        assert_eq!(tail(&p, 4, 0, u64::MAX)?, (Vec::new(), 4, false));
        // Huge values do not overflow.
        assert_eq!(
            tail(&p, u64::MAX, u64::MAX, u64::MAX)?,
            (Vec::new(), 4, false)
        );
        assert_eq!(
            tail(&p, 2, u64::MAX, u64::MAX)?,
            (b"abe\n".to_vec(), 4, false)
        );
        Ok(())
    }

    #[test]
    fn tail_empty_and_missing() -> io::Result<()> {
        let (d, p) = file_with(b"")?;
        assert_eq!(tail(&p, 0, 1600, u64::MAX)?, (Vec::new(), 0, false));
        assert_eq!(tail(&p, 10, 5, u64::MAX)?, (Vec::new(), 0, false));
        assert_eq!(
            tail(&d.path().join("nope"), 7, 5, u64::MAX)?,
            (Vec::new(), 0, false)
        );
        Ok(())
    }
}
