//! The control plane: Supervisor's XML-RPC API at `/RPC2` and the log-tail endpoints.
//!
//! * `http`: listeners (unix socket, TCP), request framing, auth and routing. Bytes only.
//! * `extensions`: the extension members of `supervisor_rs.getProcessInfo`.
//! * `auth`: Basic authentication with plaintext or `{SHA}` passwords.
//! * `methods`: what each XML-RPC method does, over the [`crate::supervisor::host::Host`] trait
//!   the runtime implements; no sockets in there.

pub mod auth;
pub mod extensions;
pub mod http;
pub mod methods;
