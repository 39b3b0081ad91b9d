//! HTTP request heads: the protocol crate's incremental `RequestHeadParser` (fed in two
//! pieces, at a split point taken from the input), which is also what the daemon's server
//! (rpc/http.rs) parses heads with, and the Basic-auth and chunked decoding after it. None
//! may panic; feeding in two pieces must agree with feeding at once.
#![no_main]

use libfuzzer_sys::fuzz_target;
use supervisor_protocol::xmlrpc::http::{ChunkedDecoder, RequestHeadParser};

fuzz_target!(|data: &[u8]| {
    let (split, input) = match data.split_first() {
        Some((s, rest)) => (*s as usize, rest),
        None => return,
    };
    let cut = split.min(input.len());
    let mut parser = RequestHeadParser::with_limit(4096);
    let first = parser.feed(&input[..cut]);
    if let Ok(None) = first {
        if let Ok(Some((head, rest))) = parser.feed(&input[cut..]) {
            let _ = head.keep_alive();
            let _ = head.basic_auth();
            let _ = head.body_framing();
            let mut out = Vec::new();
            let _ = ChunkedDecoder::new().feed(&rest, &mut out);
        }
    }
    let whole = RequestHeadParser::with_limit(4096).feed(input);
    if let (Ok(Some((a, _))), Ok(Some((b, _)))) = (&first, &whole) {
        assert_eq!(a, b, "a head complete in its first piece parses the same whole");
    }
});
