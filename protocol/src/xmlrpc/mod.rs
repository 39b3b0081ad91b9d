//! XML-RPC as Supervisor speaks it, without I/O.
//!
//! Supervisor's whole control API (upstream-reference §4) is XML-RPC over HTTP POST to `/RPC2`. The
//! daemon's HTTP server, `supervisorctl` and the listener binaries all need the same three
//! things, so they live here as pure functions over bytes that tests can pin byte for byte:
//!
//! * [`value`]: the data model ([`Value`]).
//! * [`codec`]: parsing `methodCall`/`methodResponse` bodies with hard limits (size, nesting,
//!   no DTDs), and encoding bodies exactly as Python's `xmlrpc.client.dumps` does, which is what
//!   Supervisor sends, so Python clients (real `supervisorctl`, `childutils`, superlance) read our
//!   responses and our clients read Supervisor's.
//! * [`faults`]: Supervisor's fault codes and strings, and `system.multicall` helpers.
//! * [`structs`]: typed views of the structs Supervisor returns (`getProcessInfo`,
//!   `getAllConfigInfo`, `getState`, group start/stop results).
//! * [`http`]: HTTP/1.x head framing for both sides (request encoding, incremental head parsers
//!   with a size limit, chunked decoding, Basic auth).
//! * [`client`]: a sans-IO call exchange: bytes to write, then feed whatever the socket returns
//!   until a result or fault comes out. The caller owns the socket (blocking, tokio, a test
//!   buffer), so one implementation serves every binary.
//!
//! Nothing here panics on input: every malformed body or head is an error value.

mod b64;
pub mod client;
pub mod codec;
pub mod faults;
pub mod http;
pub mod structs;
pub mod value;

#[cfg(test)]
mod tests;

pub use client::{CallError, CallExchange, CallResult, ServerAddress, StreamExchange};
pub use codec::{
    encode_fault, encode_method_call, encode_method_response, encode_response, encoded_len_bound,
    parse_method_call, parse_method_response, sanitize_xml_text, MethodCall, ParseError,
    DEFAULT_MAX_CALL_BYTES, DEFAULT_MAX_RESPONSE_BYTES, MAX_DEPTH,
};
pub use faults::{fault_string, Fault, FaultCode, MulticallCall};
pub use structs::{
    clamp_int, ConfigInfo, GroupResult, ProcessInfo, RpcStruct, StateInfo, StructError,
};
pub use value::Value;
