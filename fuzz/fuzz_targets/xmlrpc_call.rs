//! The XML-RPC `methodCall` parser the daemon runs on every POST /RPC2 body, and the
//! `methodResponse` parser the clients run. Malformed bodies must be errors, never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use supervisor_protocol::xmlrpc::{
    encode_method_call, parse_method_call, parse_method_response, DEFAULT_MAX_CALL_BYTES,
};

fuzz_target!(|data: &[u8]| {
    match parse_method_call(data, DEFAULT_MAX_CALL_BYTES) {
        Ok(call) => {
            // What we accept we can encode again, and read back to the same call.
            let body = encode_method_call(&call.name, &call.params);
            let again = parse_method_call(&body, usize::MAX).expect("re-encoded call must parse");
            assert_eq!(again.name, call.name);
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
    let _ = parse_method_response(data, DEFAULT_MAX_CALL_BYTES);
});
