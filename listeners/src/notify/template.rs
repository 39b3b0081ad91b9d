//! `{name}` templates; an unknown name renders empty.

use std::collections::BTreeMap;

/// Renders `template`, each `{name}` (name = ASCII letters, digits, `_`) replaced by
/// `escape(vars[name])`. Any other brace is literal, so JSON bodies need no escaping.
pub fn render_with(
    template: &str,
    vars: &BTreeMap<String, String>,
    escape: impl Fn(&str) -> String,
) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(i) = rest.find('{') {
        out.push_str(&rest[..i]);
        let tail = &rest[i + 1..];
        let len = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        if len > 0 && tail[len..].starts_with('}') {
            if let Some(v) = vars.get(&tail[..len]) {
                out.push_str(&escape(v));
            }
            rest = &tail[len + 1..];
        } else {
            out.push('{');
            rest = tail;
        }
    }
    out.push_str(rest);
    out
}

/// Plain text rendering.
pub fn render(template: &str, vars: &BTreeMap<String, String>) -> String {
    render_with(template, vars, str::to_string)
}

/// Rendering into a JSON document: values are escaped as JSON string contents (the template
/// supplies the quotes).
pub fn render_json(template: &str, vars: &BTreeMap<String, String>) -> String {
    render_with(template, vars, |v| {
        let s = serde_json::to_string(v).unwrap_or_default();
        s[1..s.len() - 1].to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders() {
        let mut v = BTreeMap::new();
        v.insert("name".to_string(), "a\"b".to_string());
        assert_eq!(render("x {name} {y z} {missing}!", &v), "x a\"b {y z} !");
        assert_eq!(render_json("{\"t\":\"{name}\"}", &v), "{\"t\":\"a\\\"b\"}");
        assert_eq!(render("open {name", &v), "open {name");
    }
}
