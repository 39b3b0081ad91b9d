//! The web dashboard served at `/`: one HTML page with its stylesheet and script embedded in
//! the binary (no external network), plus `/api/status`, the process list as JSON.
//!
//! The page reads `/api/status` about once a second, acts through XML-RPC on `/RPC2` (the
//! same methods `supervisorctl` uses) and tails logs through the streaming `/logtail`
//! endpoint, so it needs nothing the daemon does not already serve and it honours the same
//! authentication.

use supervisor_protocol::xmlrpc::Value;

pub const INDEX_HTML: &str = include_str!("assets/index.html");
pub const DASHBOARD_JS: &str = include_str!("assets/dashboard.js");
pub const DASHBOARD_CSS: &str = include_str!("assets/dashboard.css");

/// An embedded asset for a request path: (content type, body).
pub fn asset(path: &str) -> Option<(&'static str, &'static str)> {
    match path {
        "/" | "/index.html" => Some(("text/html; charset=utf-8", INDEX_HTML)),
        "/dashboard.js" => Some(("application/javascript; charset=utf-8", DASHBOARD_JS)),
        "/dashboard.css" => Some(("text/css; charset=utf-8", DASHBOARD_CSS)),
        _ => None,
    }
}

/// A JSON string literal, with `<` escaped too so the text can never close a script element
/// it is embedded in.
pub fn json_string(s: &str, out: &mut String) {
    // Serialising a str cannot fail; `<` only occurs inside the literal.
    let literal = serde_json::to_string(s).unwrap_or_default();
    out.push_str(&literal.replace('<', "\\u003c"));
}

/// An XML-RPC value as JSON (base64 as a string of its bytes, dates as their text).
pub fn to_json(v: &Value, out: &mut String) {
    match v {
        Value::Int(n) => out.push_str(&n.to_string()),
        Value::Boolean(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::String(s) | Value::DateTime(s) => json_string(s, out),
        Value::Double(d) if d.is_finite() => out.push_str(&d.to_string()),
        Value::Double(_) | Value::Nil => out.push_str("null"),
        Value::Base64(b) => json_string(&String::from_utf8_lossy(b), out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                to_json(item, out);
            }
            out.push(']');
        }
        Value::Struct(members) => {
            out.push('{');
            for (i, (k, item)) in members.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_string(k, out);
                out.push(':');
                to_json(item, out);
            }
            out.push('}');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_of_values() {
        let v = Value::Array(vec![
            Value::new_struct([
                ("name", Value::from("a\"b</script>")),
                ("pid", Value::Int(7)),
                ("ok", Value::Boolean(true)),
            ]),
            Value::Double(f64::NAN),
            Value::Nil,
        ]);
        let mut out = String::new();
        to_json(&v, &mut out);
        assert_eq!(
            out,
            r#"[{"name":"a\"b\u003c/script>","pid":7,"ok":true},null,null]"#
        );
    }

    #[test]
    fn assets_are_self_contained() {
        assert!(asset("/")
            .is_some_and(|(t, b)| t.starts_with("text/html") && b.contains("dashboard.js")));
        assert!(asset("/nope").is_none());
        for (_, body) in ["/", "/dashboard.js", "/dashboard.css"]
            .iter()
            .filter_map(|p| asset(p))
        {
            assert!(
                !body.contains("http://") && !body.contains("https://"),
                "no external URLs"
            );
        }
    }
}
