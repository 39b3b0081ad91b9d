//! HTTP request heads: the protocol crate's incremental `RequestHeadParser` (fed in two
//! pieces, at a split point taken from the input) and the daemon's own head parsing in
//! rpc/http.rs. Neither may panic; both must agree that a complete head is complete.
#![no_main]

use libfuzzer_sys::fuzz_target;
use supervisor_daemon::rpc::http::parse_request_head;
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
    let _ = parse_request_head(input);
});
