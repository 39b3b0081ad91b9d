//! Process names as Supervisor spells them on the wire and in messages: the namespec
//! (`group:name`, or `name` alone when the group is named after its only process).

/// Supervisor's `make_namespec`: `name` when the group has the process's name, else
/// `group:name`.
pub fn namespec(group: &str, name: &str) -> String {
    if group == name {
        name.to_string()
    } else {
        format!("{group}:{name}")
    }
}

/// Supervisor's `split_namespec`: `group:` and `group:*` name the whole group (`None`),
/// `group:name` one process of it, and `name` the process `name` of the group `name`.
pub fn split_namespec(spec: &str) -> (&str, Option<&str>) {
    match spec.split_once(':') {
        Some((group, "" | "*")) => (group, None),
        Some((group, name)) => (group, Some(name)),
        None => (spec, Some(spec)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn make_and_split() {
        assert_eq!(namespec("g", "g"), "g");
        assert_eq!(namespec("g", "p"), "g:p");
        assert_eq!(split_namespec("g:*"), ("g", None));
        assert_eq!(split_namespec("g:"), ("g", None));
        assert_eq!(split_namespec("g:p"), ("g", Some("p")));
        assert_eq!(split_namespec("g:p:q"), ("g", Some("p:q")));
        assert_eq!(split_namespec("p"), ("p", Some("p")));
    }
}
