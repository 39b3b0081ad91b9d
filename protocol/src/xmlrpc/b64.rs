//! Standard base64 (RFC 4648 alphabet, `=` padding), written by hand.
//!
//! Two users need it: XML-RPC `<base64>` values and HTTP Basic auth. Both need only the standard
//! alphabet, and the decoder must be tolerant of the line breaks Python's `base64.encodebytes`
//! puts every 76 characters, so ~80 lines here beat another dependency.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Encodes `data` on one line (what HTTP Basic auth needs).
pub fn encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b0 = chunk[0];
        let b1 = chunk.get(1).copied().unwrap_or(0);
        let b2 = chunk.get(2).copied().unwrap_or(0);
        let n = (u32::from(b0) << 16) | (u32::from(b1) << 8) | u32::from(b2);
        let sextet = |shift: u32| char::from(ALPHABET[((n >> shift) & 0x3f) as usize]);
        out.push(sextet(18));
        out.push(sextet(12));
        out.push(if chunk.len() > 1 { sextet(6) } else { '=' });
        out.push(if chunk.len() > 2 { sextet(0) } else { '=' });
    }
    out
}

/// Encodes like Python's `base64.encodebytes`: lines of at most 76 characters, each ending in
/// `\n`; empty input gives an empty string. This is what `xmlrpc.client` puts inside `<base64>`.
pub fn encode_lines(data: &[u8]) -> String {
    let flat = encode(data);
    let mut out = String::with_capacity(flat.len() + flat.len() / 76 + 1);
    let mut rest = flat.as_str();
    while !rest.is_empty() {
        let (line, tail) = rest.split_at(rest.len().min(76));
        out.push_str(line);
        out.push('\n');
        rest = tail;
    }
    out
}

fn sextet_of(c: u8) -> Option<u32> {
    let v = match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    };
    Some(u32::from(v))
}

/// Decodes standard base64. ASCII whitespace anywhere is skipped; padding may be present or
/// omitted, but nothing may follow it. Any other character is an error (described in the `Err`).
pub fn decode(text: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let mut acc: u32 = 0;
    let mut count = 0usize; // sextets in the current quantum
    let mut padding = 0usize;
    for (i, c) in text.bytes().enumerate() {
        if c.is_ascii_whitespace() {
            continue;
        }
        if c == b'=' {
            padding += 1;
            continue;
        }
        if padding > 0 {
            return Err(format!("data after padding at offset {i}"));
        }
        let Some(v) = sextet_of(c) else {
            return Err(format!(
                "invalid character {:?} at offset {i}",
                char::from(c)
            ));
        };
        acc = (acc << 6) | v;
        count += 1;
        if count == 4 {
            out.extend_from_slice(&[(acc >> 16) as u8, (acc >> 8) as u8, acc as u8]);
            acc = 0;
            count = 0;
        }
    }
    match count {
        0 if padding == 0 => {}
        2 if padding == 0 || padding == 2 => out.push((acc >> 4) as u8),
        3 if padding == 0 || padding == 1 => {
            out.extend_from_slice(&[(acc >> 10) as u8, (acc >> 2) as u8]);
        }
        1 => return Err("truncated input (one character in the last group)".into()),
        _ => return Err("wrong amount of padding".into()),
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4648_vectors() {
        let cases: [(&[u8], &str); 7] = [
            (b"", ""),
            (b"f", "Zg=="),
            (b"fo", "Zm8="),
            (b"foo", "Zm9v"),
            (b"foob", "Zm9vYg=="),
            (b"fooba", "Zm9vYmE="),
            (b"foobar", "Zm9vYmFy"),
        ];
        for (raw, enc) in cases {
            assert_eq!(encode(raw), enc);
            assert_eq!(decode(enc).as_deref(), Ok(raw));
        }
        assert_eq!(decode("Zm9vYg").as_deref(), Ok(&b"foob"[..]));
        assert_eq!(decode(" Zm9v\nYmE=\n").as_deref(), Ok(&b"fooba"[..]));
    }

    #[test]
    fn all_bytes_round_trip_with_python_line_breaks() {
        let data: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let lines = encode_lines(&data);
        assert!(lines.lines().all(|l| l.len() <= 76));
        assert!(lines.ends_with('\n'));
        assert_eq!(decode(&lines), Ok(data));
        assert_eq!(encode_lines(b""), "");
    }

    #[test]
    fn rejects_garbage() {
        assert!(decode("Zm9v!").unwrap_err().contains("'!'"));
        assert!(decode("Zg==Zg==").is_err());
        assert!(decode("Z").is_err());
        assert!(decode("Zm9v=").is_err());
        assert!(decode("Zg=").is_err()); // Python says "Incorrect padding" too
        assert!(decode("é").is_err());
    }
}
