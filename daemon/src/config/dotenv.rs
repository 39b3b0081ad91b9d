//! The dotenv syntax of `environment_file=` (docs/extensions.md): text in, pairs out, no I/O.
//!
//! ```text
//! # a comment
//! export PATH_EXTRA=/opt/bin      # `export ` is allowed and ignored; so is this comment
//! GREETING="hello\nworld"         # double quotes: \n \t \r \" \\ \$ escapes, may span lines
//! RAW='no $escapes \n here'       # single quotes: taken literally
//! EMPTY=
//! ```
//!
//! Keys are `[A-Za-z_][A-Za-z0-9_]*`. An unquoted value is trimmed and ends at ` #`. Nothing is
//! expanded (`$VAR` stays as written). A later line for the same key wins.

/// An error with its 1-based line number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DotenvError {
    pub line: usize,
    pub message: String,
}

fn err(line: usize, message: impl Into<String>) -> DotenvError {
    DotenvError {
        line,
        message: message.into(),
    }
}

fn valid_key(k: &str) -> bool {
    let mut chars = k.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Parse a whole file. Pairs come in first-seen key order; a repeated key keeps its first
/// position and its last value.
pub fn parse(text: &str) -> Result<Vec<(String, String)>, DotenvError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = super::values::EnvBuilder::new();
    let lines: Vec<&str> = text.split('\n').collect();
    let mut i = 0;
    while i < lines.len() {
        let lineno = i + 1;
        let line = lines[i].strip_suffix('\r').unwrap_or(lines[i]);
        i += 1;
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let body = trimmed
            .strip_prefix("export")
            .filter(|rest| rest.starts_with([' ', '\t']))
            .map_or(trimmed, str::trim_start);
        let Some((key, rest)) = body.split_once('=') else {
            return Err(err(lineno, "expected KEY=VALUE"));
        };
        let key = key.trim_end();
        if !valid_key(key) {
            return Err(err(
                lineno,
                format!("invalid variable name {key:?} (letters, digits and _, not first a digit)"),
            ));
        }
        let rest = rest.trim_start();
        let value = match rest.chars().next() {
            Some('\'') => {
                let inner = &rest[1..];
                let Some(end) = inner.find('\'') else {
                    return Err(err(lineno, "unterminated single quote"));
                };
                check_tail(&inner[end + 1..], lineno)?;
                inner[..end].to_string()
            }
            Some('"') => {
                let (value, tail, used) = double_quoted(&rest[1..], &lines[i..], lineno)?;
                i += used;
                check_tail(&tail, lineno + used)?;
                value
            }
            _ => {
                let end = rest
                    .char_indices()
                    .find(|&(j, c)| c == '#' && j > 0 && rest[..j].ends_with([' ', '\t']))
                    .map_or(rest.len(), |(j, _)| j);
                rest[..end].trim_end().to_string()
            }
        };
        out.set(key.to_string(), value);
    }
    Ok(out.into_pairs())
}

/// After a closing quote: only blanks or a `#` comment.
fn check_tail(tail: &str, lineno: usize) -> Result<(), DotenvError> {
    let t = tail.trim_start();
    if t.is_empty() || t.starts_with('#') {
        Ok(())
    } else {
        Err(err(
            lineno,
            format!("unexpected text after the closing quote: {t:?}"),
        ))
    }
}

/// A double-quoted value starting after the opening quote, possibly continued on the following
/// lines. Returns (value, text after the closing quote, extra lines consumed).
fn double_quoted(
    first: &str,
    more: &[&str],
    lineno: usize,
) -> Result<(String, String, usize), DotenvError> {
    let mut value = String::new();
    let mut used = 0;
    let mut line = first.to_string();
    loop {
        let mut chars = line.char_indices();
        while let Some((j, c)) = chars.next() {
            match c {
                '"' => return Ok((value, line[j + 1..].to_string(), used)),
                '\\' => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, 't')) => value.push('\t'),
                    Some((_, 'r')) => value.push('\r'),
                    Some((_, e @ ('"' | '\\' | '$' | '\''))) => value.push(e),
                    Some((_, other)) => {
                        value.push('\\');
                        value.push(other);
                    }
                    None => value.push('\\'),
                },
                c => value.push(c),
            }
        }
        let Some(next) = more.get(used) else {
            return Err(err(lineno, "unterminated double quote"));
        };
        used += 1;
        value.push('\n');
        line = next.strip_suffix('\r').unwrap_or(next).to_string();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(text: &str) -> Vec<(String, String)> {
        parse(text).unwrap_or_else(|e| panic!("{e:?}"))
    }

    fn kv(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn plain_quoted_exported_and_commented() {
        let text = "\u{feff}# comment\n\n  A=1\nexport B = two words  # trailing\r\n\
                    C='it''s'x\n";
        // `C='it''s'x` is text after a closing quote: an error.
        assert_eq!(parse(text).unwrap_err().line, 5);
        let text = "# comment\n\n  A=1\nexport B = two words  # trailing\r\nC='single $HOME \\n'\n\
                    D=\"tab\\there \\\"q\\\" \\$HOME\"  # c\nE=\nF=a#b\nexport=3\n";
        assert_eq!(
            pairs(text),
            kv(&[
                ("A", "1"),
                ("B", "two words"),
                ("C", "single $HOME \\n"),
                ("D", "tab\there \"q\" $HOME"),
                ("E", ""),
                ("F", "a#b"),
                ("export", "3"),
            ])
        );
    }

    #[test]
    fn multi_line_double_quotes_and_later_wins() {
        let text = "K=\"line1\nline2\"\nA=1\nA=2\n";
        assert_eq!(pairs(text), kv(&[("K", "line1\nline2"), ("A", "2")]));
    }

    #[test]
    fn errors_name_the_line() {
        assert_eq!(
            parse("A=1\nnot a pair\n").unwrap_err(),
            DotenvError {
                line: 2,
                message: "expected KEY=VALUE".into()
            }
        );
        assert_eq!(parse("1A=x\n").unwrap_err().line, 1);
        assert!(parse("A-B=x\n")
            .unwrap_err()
            .message
            .contains("invalid variable name"));
        assert_eq!(
            parse("A='x\n").unwrap_err().message,
            "unterminated single quote"
        );
        assert_eq!(parse("\nA=\"x\ny\n").unwrap_err().line, 2);
        assert_eq!(parse("A=\"x\" y\n").unwrap_err().line, 1);
    }
}
