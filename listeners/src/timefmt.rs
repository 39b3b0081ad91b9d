//! The few time formats the listeners print, through the C library (local time zone rules and
//! abbreviations as Python's `time` module gets them).

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the epoch as a float.
pub fn now_f64() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

extern "C" {
    fn tzset();
}

fn tm(secs: i64, utc: bool) -> libc::tm {
    let t: libc::time_t = secs as libc::time_t;
    // SAFETY: tm is plain old data; *_r write into it.
    unsafe {
        let mut out: libc::tm = std::mem::zeroed();
        if utc {
            libc::gmtime_r(&t, &mut out);
        } else {
            tzset();
            libc::localtime_r(&t, &mut out);
        }
        out
    }
}

/// `strftime` of `secs` in local time (or UTC).
pub fn strftime(fmt: &str, secs: i64, utc: bool) -> String {
    let tm = tm(secs, utc);
    let Ok(cfmt) = std::ffi::CString::new(fmt) else {
        return String::new();
    };
    let mut buf = vec![0u8; 256];
    // SAFETY: buf is writable for its length; cfmt is NUL-terminated.
    let n = unsafe { libc::strftime(buf.as_mut_ptr().cast(), buf.len(), cfmt.as_ptr(), &tm) };
    buf.truncate(n);
    String::from_utf8_lossy(&buf).into_owned()
}

/// `childutils.get_asctime()`: local `YYYY-MM-DD HH:MM:SS,mmm`.
pub fn asctime_ms(now: f64) -> String {
    let secs = now.floor() as i64;
    let ms = ((now - now.floor()) * 1000.0) as u32;
    format!("{},{ms:03}", strftime("%Y-%m-%d %H:%M:%S", secs, false))
}

/// Python `time.asctime()` followed by `time.strftime('%Z')`, as memmon writes it.
pub fn asctime_tz(now: f64) -> String {
    strftime("%a %b %e %H:%M:%S %Y %Z", now as i64, false)
}

/// RFC 3339 UTC with milliseconds (`2026-11-25T21:47:03.123Z`), for Alertmanager and JSON.
pub fn rfc3339(now: f64) -> String {
    let secs = now.floor() as i64;
    let ms = ((now - now.floor()) * 1000.0) as u32;
    format!("{}.{ms:03}Z", strftime("%Y-%m-%dT%H:%M:%S", secs, true))
}

/// The machine's host name.
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: buf is writable for its length.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "localhost".into();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(rfc3339(0.5), "1970-01-01T00:00:00.500Z");
        assert_eq!(asctime_ms(1.25).len(), 23);
        assert!(!hostname().is_empty());
    }
}
