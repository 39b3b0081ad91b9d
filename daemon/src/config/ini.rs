//! INI reading with the rules of Python 3.11 `RawConfigParser` as Supervisor configures it
//! (`inline_comment_prefixes=(';', '#')`, non-strict, empty lines kept inside values).
//!
//! Every value keeps the file and line it came from.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::error::ConfigError;
use super::values::py_repr;

/// One option value with its origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Value {
    pub text: String,
    pub file: PathBuf,
    pub line: usize,
}

/// The options of a section in first-seen order, with an index by name: lookups and updates
/// are O(1), so a section with many options reads in linear time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    list: Vec<(String, Value)>,
    index: HashMap<String, usize>,
}

impl Options {
    pub fn get(&self, option: &str) -> Option<&Value> {
        self.index.get(option).map(|&i| &self.list[i].1)
    }

    fn get_mut(&mut self, option: &str) -> Option<&mut Value> {
        self.index.get(option).map(|&i| &mut self.list[i].1)
    }

    /// Set `option` (a later value replaces an earlier one in its first-seen place).
    pub fn set(&mut self, option: String, value: Value) {
        match self.index.get(&option) {
            Some(&i) => self.list[i].1 = value,
            None => {
                self.index.insert(option.clone(), self.list.len());
                self.list.push((option, value));
            }
        }
    }

    pub fn iter(&self) -> std::slice::Iter<'_, (String, Value)> {
        self.list.iter()
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

impl<'a> IntoIterator for &'a Options {
    type Item = &'a (String, Value);
    type IntoIter = std::slice::Iter<'a, (String, Value)>;
    fn into_iter(self) -> Self::IntoIter {
        self.list.iter()
    }
}

/// One section (duplicates merged; options keep first-seen order, later values win).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub name: String,
    /// The file that first defined the section (Supervisor's `section_to_file`).
    pub file: PathBuf,
    pub line: usize,
    pub options: Options,
}

impl Section {
    pub fn get(&self, option: &str) -> Option<&Value> {
        self.options.get(option)
    }
}

/// The parsed contents of one or more INI files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ini {
    /// Sections in order of first appearance (`DEFAULT` excluded).
    sections: Vec<Section>,
    /// Position of each section in `sections`, by name.
    index: HashMap<String, usize>,
    /// The `[DEFAULT]` section: fallback values for every section.
    pub defaults: Options,
}

/// Where the option lines currently go.
#[derive(Clone, Copy, PartialEq)]
enum Target {
    Default,
    Section(usize),
}

impl Ini {
    pub fn new() -> Self {
        Ini::default()
    }

    pub fn section(&self, name: &str) -> Option<&Section> {
        self.index.get(name).map(|&i| &self.sections[i])
    }

    pub fn has_section(&self, name: &str) -> bool {
        self.index.contains_key(name)
    }

    /// Sections in order of first appearance (no `DEFAULT`).
    pub fn sections(&self) -> &[Section] {
        &self.sections
    }

    /// Sections in order, mutable (their names stay as they are: the index keys on them).
    pub fn sections_mut(&mut self) -> impl Iterator<Item = &mut Section> {
        self.sections.iter_mut()
    }

    /// Section names in order (no `DEFAULT`).
    pub fn section_names(&self) -> Vec<&str> {
        self.sections.iter().map(|s| s.name.as_str()).collect()
    }

    /// An option of a section, falling back to `[DEFAULT]`.
    pub fn get(&self, section: &str, option: &str) -> Option<&Value> {
        self.section(section)?
            .get(option)
            .or_else(|| self.defaults.get(option))
    }

    /// Replace the literal text `%(here)s` in every value (Supervisor's `expand_here`).
    pub fn expand_here(&mut self, here: &str) {
        let all = self
            .sections
            .iter_mut()
            .flat_map(|s| s.options.list.iter_mut())
            .chain(self.defaults.list.iter_mut());
        for (_, v) in all {
            replace_here(v, here);
        }
    }

    /// [`Ini::read_str`], then [`Ini::expand_here`] limited to the values this file set (the
    /// others were expanded when their own file was read), so reading many include files
    /// stays linear.
    pub fn read_str_here(
        &mut self,
        text: &str,
        file: &Path,
        here: &str,
    ) -> Result<(), ConfigError> {
        let touched = self.read_touching(text, file)?;
        for (t, o) in touched {
            if let Some(v) = self.value_mut(t, &o) {
                replace_here(v, here);
            }
        }
        Ok(())
    }

    fn value_mut(&mut self, target: Target, option: &str) -> Option<&mut Value> {
        match target {
            Target::Default => self.defaults.get_mut(option),
            Target::Section(i) => self.sections.get_mut(i)?.options.get_mut(option),
        }
    }

    /// Parse `text` (the contents of `file`) into this document.
    pub fn read_str(&mut self, text: &str, file: &Path) -> Result<(), ConfigError> {
        self.read_touching(text, file).map(drop)
    }

    /// [`Ini::read_str`], returning the options it set.
    fn read_touching(
        &mut self,
        text: &str,
        file: &Path,
    ) -> Result<Vec<(Target, String)>, ConfigError> {
        let mut cursect: Option<Target> = None;
        let mut optname: Option<String> = None;
        let mut indent_level: usize = 0;
        let mut errors: Vec<(usize, String)> = Vec::new();
        let mut touched: Vec<(Target, String)> = Vec::new();

        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let lines: Vec<&str> = text
            .split('\n')
            .map(|l| l.strip_suffix('\r').unwrap_or(l))
            .collect();
        let last = lines.len().saturating_sub(1);
        // Python's line text includes its newline (shown by repr() in parse errors).
        let raw = |idx: usize, line: &str| {
            if idx < last {
                format!("{line}\n")
            } else {
                line.to_string()
            }
        };
        for (idx, &line) in lines.iter().enumerate() {
            let lineno = idx + 1;
            let comment_start = comment_start(line);
            let value = match comment_start {
                Some(i) => &line[..i],
                None => line,
            }
            .trim();
            if value.is_empty() {
                // Empty line: kept inside a value, only if there was no comment on it.
                if comment_start.is_none() {
                    if let (Some(t), Some(o)) = (cursect, optname.as_deref()) {
                        if let Some(v) = self.value_mut(t, o) {
                            v.text.push('\n');
                        }
                    }
                }
                continue;
            }
            let cur_indent = line
                .char_indices()
                .find(|(_, c)| !c.is_whitespace())
                .map(|(i, _)| i)
                .unwrap_or(0);
            if let (Some(t), Some(o), true) =
                (cursect, optname.as_deref(), cur_indent > indent_level)
            {
                if let Some(v) = self.value_mut(t, o) {
                    v.text.push('\n');
                    v.text.push_str(value);
                }
                continue;
            }
            indent_level = cur_indent;
            if let Some(name) = section_header(value) {
                if name == "DEFAULT" {
                    cursect = Some(Target::Default);
                } else if let Some(&i) = self.index.get(name) {
                    cursect = Some(Target::Section(i));
                } else {
                    self.index.insert(name.to_string(), self.sections.len());
                    self.sections.push(Section {
                        name: name.to_string(),
                        file: file.to_path_buf(),
                        line: lineno,
                        options: Options::default(),
                    });
                    cursect = Some(Target::Section(self.sections.len() - 1));
                }
                optname = None;
                continue;
            }
            let Some(target) = cursect else {
                return Err(ConfigError::in_file(
                    format!(
                        "File contains no section headers.\nfile: {}, line: {}\n{}",
                        py_repr(&file.display().to_string()),
                        lineno,
                        py_repr(&raw(idx, line))
                    ),
                    file,
                    Some(lineno),
                ));
            };
            match option_line(value) {
                Some((name, val)) if !name.is_empty() => {
                    let name = name.trim_end().to_lowercase();
                    let v = Value {
                        text: val.trim().to_string(),
                        file: file.to_path_buf(),
                        line: lineno,
                    };
                    match target {
                        Target::Default => self.defaults.set(name.clone(), v),
                        Target::Section(i) => {
                            if let Some(s) = self.sections.get_mut(i) {
                                s.options.set(name.clone(), v);
                            }
                        }
                    }
                    touched.push((target, name.clone()));
                    optname = Some(name);
                }
                _ => errors.push((lineno, raw(idx, line))),
            }
        }
        // Join: trailing empty lines are dropped (Python's `'\n'.join(lines).rstrip()`).
        for (t, o) in &touched {
            if let Some(v) = self.value_mut(*t, o) {
                let trimmed = v.text.trim_end().len();
                v.text.truncate(trimmed);
            }
        }
        if let Some((first_line, _)) = errors.first() {
            let mut msg = format!(
                "Source contains parsing errors: {}",
                py_repr(&file.display().to_string())
            );
            for (lineno, line) in &errors {
                msg.push_str(&format!("\n\t[line {lineno:2}]: {}", py_repr(line)));
            }
            return Err(ConfigError::in_file(msg, file, Some(*first_line)));
        }
        Ok(touched)
    }
}

fn replace_here(v: &mut Value, here: &str) {
    if v.text.contains("%(here)s") {
        v.text = v.text.replace("%(here)s", here);
    }
}

/// Start of a comment: a full-line comment (`#`/`;` first non-blank) or an inline one
/// (`;`/`#` at the start or preceded by whitespace), found with Python's round-based search.
fn comment_start(line: &str) -> Option<usize> {
    let trimmed = line.trim();
    if trimmed.starts_with('#') || trimmed.starts_with(';') {
        return Some(0);
    }
    // Python 3.11 `_read`: each round looks at the next occurrence of every prefix; the
    // search stops after the first round in which any occurrence qualifies.
    let mut prefixes: Vec<(char, Option<usize>)> = vec![(';', None), ('#', None)];
    loop {
        let mut found: Option<usize> = None;
        let mut next = Vec::new();
        for (p, last) in &prefixes {
            let from = last.map(|i| i + 1).unwrap_or(0);
            let Some(rel) = line.get(from..).and_then(|rest| rest.find(*p)) else {
                continue;
            };
            let index = from + rel;
            next.push((*p, Some(index)));
            let preceded = index == 0
                || line[..index]
                    .chars()
                    .next_back()
                    .is_some_and(char::is_whitespace);
            if preceded {
                found = Some(found.map_or(index, |f: usize| f.min(index)));
            }
        }
        if found.is_some() || next.is_empty() {
            return found;
        }
        prefixes = next;
    }
}

/// `\[(?P<header>.+)\]` matched at the start of the stripped line.
fn section_header(value: &str) -> Option<&str> {
    let rest = value.strip_prefix('[')?;
    let end = rest.rfind(']')?;
    if end == 0 {
        return None;
    }
    Some(&rest[..end])
}

/// `(?P<option>.*?)\s*(?P<vi>=|:)\s*(?P<value>.*)$`: split at the first `=` or `:`.
fn option_line(value: &str) -> Option<(&str, &str)> {
    let i = value.find(['=', ':'])?;
    Some((value[..i].trim_end(), &value[i + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Ini {
        let mut ini = Ini::new();
        ini.read_str(text, Path::new("/etc/test.conf")).unwrap();
        ini
    }
    fn get<'a>(ini: &'a Ini, s: &str, o: &str) -> Option<&'a str> {
        ini.get(s, o).map(|v| v.text.as_str())
    }

    #[test]
    fn comments() {
        let ini = parse(
            "# full\n; full\n[s]\n  ; indented comment\na = 1 ; inline\nb = 2 # inline\n\
             c = x;y#z\nd = ;starts\ne=#\n",
        );
        assert_eq!(get(&ini, "s", "a"), Some("1"));
        assert_eq!(get(&ini, "s", "b"), Some("2"));
        assert_eq!(get(&ini, "s", "c"), Some("x;y#z"));
        assert_eq!(get(&ini, "s", "d"), Some(""));
        assert_eq!(get(&ini, "s", "e"), Some("#"));
    }

    #[test]
    fn python_inline_comment_round_quirk() {
        // '#' qualifies in round 1 (index 11); the first qualifying ';' is only found in
        // round 2, so Python cuts at the '#'.
        let ini = parse("[s]\na = x;y ;z #c\nb = p;q #r ;s\nc = a;b;c;d ;x #y\n");
        assert_eq!(
            get(&ini, "s", "c"),
            Some("a;b;c;d ;x"),
            "checked against CPython 3.11"
        );
        assert_eq!(get(&ini, "s", "a"), Some("x;y ;z"));
        assert_eq!(get(&ini, "s", "b"), Some("p;q"));
    }

    #[test]
    fn delimiters_and_case() {
        let ini = parse("[Sect]\nKey: v1\nOther Key = a = b\nc:d=e\n");
        assert_eq!(get(&ini, "Sect", "key"), Some("v1"));
        assert_eq!(get(&ini, "Sect", "other key"), Some("a = b"));
        assert_eq!(get(&ini, "Sect", "c"), Some("d=e"));
        assert!(
            ini.section("sect").is_none(),
            "section names are case-sensitive"
        );
        assert_eq!(
            get(&ini, "Sect", "Key"),
            None,
            "lookups use lower-case names"
        );
    }

    #[test]
    fn continuation_lines() {
        let ini =
            parse("[s]\na = one\n  two\n\n\t three\n\n\nb = x\n   \n[t]\n  c = 1\n    more\n");
        assert_eq!(get(&ini, "s", "a"), Some("one\ntwo\n\nthree"));
        assert_eq!(get(&ini, "s", "b"), Some("x"));
        assert_eq!(get(&ini, "t", "c"), Some("1\nmore"));
        let ini = parse("[s]\na =\n  x\n  # comment inside\n  y\n");
        assert_eq!(
            get(&ini, "s", "a"),
            Some("\nx\ny"),
            "checked against CPython 3.11"
        );
    }

    #[test]
    fn duplicates_merge_later_wins() {
        let ini = parse("[s]\na = 1\nb = 2\n[t]\n[s]\na = 3\nc = 4\n");
        assert_eq!(ini.section_names(), vec!["s", "t"]);
        assert_eq!(get(&ini, "s", "a"), Some("3"));
        assert_eq!(get(&ini, "s", "b"), Some("2"));
        assert_eq!(get(&ini, "s", "c"), Some("4"));
        let v = ini.get("s", "a").unwrap();
        assert_eq!(v.line, 6);
        assert_eq!(v.file, PathBuf::from("/etc/test.conf"));
    }

    #[test]
    fn default_section_is_a_fallback() {
        let ini = parse("[DEFAULT]\nx = d\n[s]\ny = 1\n");
        assert_eq!(ini.section_names(), vec!["s"]);
        assert_eq!(get(&ini, "s", "x"), Some("d"));
    }

    #[test]
    fn headers() {
        let ini = parse("[program:a b]\n[ x ]\n[a]b]\n\r\n[crlf]\r\nk = v\r\n");
        assert_eq!(
            ini.section_names(),
            vec!["program:a b", " x ", "a]b", "crlf"]
        );
        assert_eq!(get(&ini, "crlf", "k"), Some("v"));
    }

    #[test]
    fn errors_name_file_and_line() {
        let mut ini = Ini::new();
        let err = ini
            .read_str("a = 1\n", Path::new("/etc/x.conf"))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "File contains no section headers.\nfile: '/etc/x.conf', line: 1\n'a = 1\\n'"
        );
        let err = ini
            .read_str("[s]\nok = 1\nbogus line\n= v\n", Path::new("/etc/x.conf"))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Source contains parsing errors: '/etc/x.conf'\n\t[line  3]: 'bogus line\\n'\n\t[line  4]: '= v\\n'"
        );
        assert_eq!(err.line, Some(3));
    }

    #[test]
    fn here_substitution() {
        let mut ini = parse("[s]\na = %(here)s/x %(here)s\nb = %(other)s\n");
        ini.expand_here("/d");
        assert_eq!(get(&ini, "s", "a"), Some("/d/x /d"));
        assert_eq!(get(&ini, "s", "b"), Some("%(other)s"));
    }
}
