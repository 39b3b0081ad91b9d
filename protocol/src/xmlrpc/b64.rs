//! Base64 over the `base64` crate, in the three flavours the wire needs.
//!
//! * [`encode`]: standard alphabet, padded, one line (HTTP Basic credentials).
//! * [`encode_lines`] / [`decode`]: XML-RPC `<base64>` values. Python's `xmlrpc.client` writes
//!   them with `base64.encodebytes` (76-character lines) and reads them with the lenient
//!   `base64.decodebytes`, so the decoder skips ASCII whitespace, takes padding or its absence,
//!   and ignores non-zero trailing bits.
//! * [`decode_strict`]: RFC 4648 section 3 as RFC 7617 (Basic auth) requires: no whitespace,
//!   canonical padding, no trailing bits. A credential that a strict peer would reject is
//!   rejected here too.

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;

/// What Python's `base64.decodebytes` takes (after whitespace is removed).
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Encodes `data` on one line (what HTTP Basic auth needs).
pub fn encode(data: &[u8]) -> String {
    STANDARD.encode(data)
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

/// Decodes standard base64 leniently: ASCII whitespace anywhere is skipped, padding may be
/// present or omitted (but nothing may follow it). Any other character is an error.
pub fn decode(text: &str) -> Result<Vec<u8>, String> {
    let compact: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    LENIENT.decode(&compact).map_err(describe)
}

/// Decodes canonical standard base64 (RFC 4648 section 4 with padding, no whitespace, no
/// trailing bits), as RFC 7617 requires of Basic credentials.
pub fn decode_strict(text: &str) -> Result<Vec<u8>, String> {
    STANDARD.decode(text).map_err(describe)
}

/// The crate's error, with an invalid byte shown as a character (`'!'`) rather than a number.
fn describe(e: base64::DecodeError) -> String {
    match e {
        base64::DecodeError::InvalidByte(at, b) => {
            format!("invalid character {:?} at offset {at}", char::from(b))
        }
        other => other.to_string(),
    }
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
            assert_eq!(decode_strict(enc).as_deref(), Ok(raw));
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
        assert!(decode("é").is_err());
    }

    #[test]
    fn strict_rejects_what_rfc_7617_does_not_allow() {
        assert!(decode_strict("Zm9vYg").is_err()); // missing padding
        assert!(decode_strict("Zm9v Yg==").is_err()); // embedded space
        assert!(decode_strict(" Zm9vYg==").is_err());
        assert!(decode_strict("Zm9vYg==\n").is_err());
        assert!(decode_strict("Zm9vYh==").is_err()); // non-zero trailing bits
        assert!(decode_strict("Zm9vYg=").is_err());
        assert!(decode_strict("Zm9v=").is_err());
    }
}
