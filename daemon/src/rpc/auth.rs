//! HTTP Basic authentication as Supervisor does it: plaintext passwords or `{SHA}<hex sha1>`,
//! compared in constant time.

use supervisor_protocol::xmlrpc::http::parse_basic_auth;

/// Credentials of one HTTP server section; `None` means no authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl Credentials {
    pub fn from_config(username: Option<&str>, password: Option<&str>) -> Option<Credentials> {
        Some(Credentials {
            username: username?.to_string(),
            password: password?.to_string(),
        })
    }

    /// Check an `Authorization` header value (parsed strictly, as RFC 7617 says, by
    /// [`parse_basic_auth`]).
    pub fn accepts(&self, header: Option<&str>) -> bool {
        let Some((user, pass)) = header.and_then(parse_basic_auth) else {
            return false;
        };
        let user_ok = constant_time_eq(user.as_bytes(), self.username.as_bytes());
        let pass_ok = match self.password.strip_prefix("{SHA}") {
            Some(hex) => {
                let digest = sha1_smol::Sha1::from(pass.as_bytes()).digest().to_string();
                constant_time_eq(digest.as_bytes(), hex.to_ascii_lowercase().as_bytes())
            }
            None => constant_time_eq(pass.as_bytes(), self.password.as_bytes()),
        };
        user_ok & pass_ok
    }
}

/// Compare without an early exit on the first differing byte.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = u8::from(a.len() != b.len());
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= x ^ y;
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use supervisor_protocol::xmlrpc::http::basic_auth_header;

    fn header(user: &str, pass: &str) -> String {
        basic_auth_header(user, pass)
    }

    #[test]
    fn plaintext_and_sha_passwords() {
        let c = Credentials::from_config(Some("user"), Some("123")).expect("both set");
        assert!(c.accepts(Some(&header("user", "123"))));
        assert!(!c.accepts(Some(&header("user", "124"))));
        assert!(!c.accepts(Some(&header("usr", "123"))));
        assert!(!c.accepts(None));
        assert!(!c.accepts(Some("Bearer abc")));
        assert!(!c.accepts(Some("Basic !!!")));
        // Strict RFC 7617 / 4648: no embedded whitespace, padding required.
        assert!(!c.accepts(Some("Basic dXNl cjoxMjM=")));
        assert!(!c.accepts(Some("Basic dXNlcjoxMjM")));
        assert!(c.accepts(Some("Basic dXNlcjoxMjM=")));
        // sha1("123")
        let c = Credentials::from_config(
            Some("user"),
            Some("{SHA}40bd001563085fc35165329ea1ff5c5ecbdbbeef"),
        )
        .expect("both set");
        assert!(c.accepts(Some(&header("user", "123"))));
        assert!(!c.accepts(Some(&header(
            "user",
            "{SHA}40bd001563085fc35165329ea1ff5c5ecbdbbeef"
        ))));
    }

    #[test]
    fn constant_time_eq_is_eq() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(constant_time_eq(b"", b""));
    }
}
