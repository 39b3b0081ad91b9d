//! `%(name)s` expansion with Python `%`-format semantics (`str % dict`), as Supervisor's
//! `expand()` does it, including its error wording.

use std::collections::BTreeMap;

use super::values::py_repr;

/// A value available for expansion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExpVal {
    Str(String),
    Int(i64),
}

impl From<&str> for ExpVal {
    fn from(s: &str) -> Self {
        ExpVal::Str(s.to_string())
    }
}

impl From<String> for ExpVal {
    fn from(s: String) -> Self {
        ExpVal::Str(s)
    }
}

/// Names available for expansion (sorted, so error messages list them like Supervisor).
pub type Expansions = BTreeMap<String, ExpVal>;

/// Where `%(name)s` names are looked up.
pub trait Names {
    fn lookup(&self, key: &str) -> Option<&ExpVal>;
    /// Every name, sorted, without duplicates (listed in the error for an unknown name).
    fn all_names(&self) -> Vec<&str>;
}

impl Names for Expansions {
    fn lookup(&self, key: &str) -> Option<&ExpVal> {
        self.get(key)
    }
    fn all_names(&self) -> Vec<&str> {
        self.keys().map(String::as_str).collect()
    }
}

/// `extra` laid over `base` (a name in `extra` wins) without copying either: expanding one
/// option costs the length of its text, not the size of the environment.
pub struct Over<'a> {
    pub base: &'a Expansions,
    pub extra: &'a Expansions,
}

impl Names for Over<'_> {
    fn lookup(&self, key: &str) -> Option<&ExpVal> {
        self.extra.get(key).or_else(|| self.base.get(key))
    }
    fn all_names(&self) -> Vec<&str> {
        let all: std::collections::BTreeSet<&str> = self
            .base
            .keys()
            .chain(self.extra.keys())
            .map(String::as_str)
            .collect();
        all.into_iter().collect()
    }
}

/// Largest accepted width or precision in a format specification.
const MAX_WIDTH: usize = 4096;

enum FmtError {
    Key(String),
    Bad(String),
}

/// Expand `s % expansions`. `name` is the option name used in error messages.
pub fn expand<N: Names + ?Sized>(s: &str, expansions: &N, name: &str) -> Result<String, String> {
    format(s, expansions).map_err(|e| match e {
        FmtError::Key(key) => {
            let available = expansions.all_names();
            format!(
                "Format string {} for {} contains names ({}) which cannot be expanded. \
                 Available names: {}",
                py_repr(s),
                py_repr(name),
                py_repr(&key),
                available.join(", ")
            )
        }
        FmtError::Bad(msg) => format!(
            "Format string {} for {} is badly formatted: {}",
            py_repr(s),
            py_repr(name),
            msg
        ),
    })
}

struct Spec {
    left: bool,
    zero: bool,
    plus: bool,
    space: bool,
    alt: bool,
    width: usize,
    precision: Option<usize>,
}

fn format<N: Names + ?Sized>(s: &str, exp: &N) -> Result<String, FmtError> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    let incomplete = || FmtError::Bad("incomplete format".to_string());
    while i < chars.len() {
        let c = chars[i];
        if c != '%' {
            out.push(c);
            i += 1;
            continue;
        }
        let start = i;
        i += 1;
        // `%%` is literal only when nothing stands between the two signs.
        if chars.get(i) == Some(&'%') {
            out.push('%');
            i += 1;
            continue;
        }
        let mut key: Option<&ExpVal> = None;
        if chars.get(i) == Some(&'(') {
            let mut depth = 1;
            let kstart = i + 1;
            i += 1;
            while i < chars.len() && depth > 0 {
                match chars[i] {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => {}
                }
                i += 1;
            }
            if depth > 0 {
                return Err(FmtError::Bad("incomplete format key".to_string()));
            }
            let name: String = chars[kstart..i - 1].iter().collect();
            // Python looks the key up before reading the rest of the specification.
            key = Some(exp.lookup(&name).ok_or(FmtError::Key(name))?);
        }
        let mut spec = Spec {
            left: false,
            zero: false,
            plus: false,
            space: false,
            alt: false,
            width: 0,
            precision: None,
        };
        while let Some(&f) = chars.get(i) {
            match f {
                '-' => spec.left = true,
                '0' => spec.zero = true,
                '+' => spec.plus = true,
                ' ' => spec.space = true,
                '#' => spec.alt = true,
                _ => break,
            }
            i += 1;
        }
        let digits = |i: &mut usize| -> Result<usize, FmtError> {
            if chars.get(*i) == Some(&'*') {
                return Err(FmtError::Bad("* wants int".to_string()));
            }
            let mut n: usize = 0;
            while let Some(d) = chars.get(*i).and_then(|c| c.to_digit(10)) {
                // Bounded so that a config value cannot make us allocate gigabytes.
                n = n * 10 + d as usize;
                if n > MAX_WIDTH {
                    return Err(FmtError::Bad("width too big".to_string()));
                }
                *i += 1;
            }
            Ok(n)
        };
        spec.width = digits(&mut i)?;
        if chars.get(i) == Some(&'.') {
            i += 1;
            spec.precision = Some(digits(&mut i)?);
        }
        while matches!(chars.get(i), Some('h' | 'l' | 'L')) {
            i += 1;
        }
        let conv = *chars.get(i).ok_or_else(incomplete)?;
        i += 1;
        let Some(value) = key else {
            if "sraduioxXeEfFgGc".contains(conv) {
                return Err(FmtError::Bad("format requires a mapping".to_string()));
            }
            return Err(unsupported(conv, start, i));
        };
        let body = convert(conv, value, &spec, start, i)?;
        out.push_str(&pad(body, &spec, "diuoxXeEfFgG".contains(conv)));
    }
    Ok(out)
}

fn unsupported(conv: char, _start: usize, end: usize) -> FmtError {
    FmtError::Bad(format!(
        "unsupported format character '{}' (0x{:x}) at index {}",
        if (' '..='~').contains(&conv) {
            conv
        } else {
            '?'
        },
        conv as u32,
        end - 1
    ))
}

fn pad(body: String, spec: &Spec, numeric: bool) -> String {
    let len = body.chars().count();
    if len >= spec.width {
        return body;
    }
    let fill = spec.width - len;
    if spec.left {
        format!("{body}{}", " ".repeat(fill))
    } else if spec.zero && numeric {
        // Zeros go after the sign / radix prefix.
        let sign_len = body.find(|c: char| c.is_ascii_alphanumeric()).unwrap_or(0);
        let rest = &body[sign_len..];
        let has_radix = ["0x", "0X", "0o"].iter().any(|p| rest.starts_with(p));
        let prefix_len = if has_radix { sign_len + 2 } else { sign_len };
        format!(
            "{}{}{}",
            &body[..prefix_len],
            "0".repeat(fill),
            &body[prefix_len..]
        )
    } else {
        format!("{}{body}", " ".repeat(fill))
    }
}

fn sign(n: f64, spec: &Spec) -> &'static str {
    if n < 0.0 {
        "-"
    } else if spec.plus {
        "+"
    } else if spec.space {
        " "
    } else {
        ""
    }
}

fn convert(
    conv: char,
    value: &ExpVal,
    spec: &Spec,
    start: usize,
    end: usize,
) -> Result<String, FmtError> {
    let int_required = |what: &str| {
        FmtError::Bad(match what {
            "real" => format!("%{conv} format: a real number is required, not str"),
            "float" => "must be real number, not str".to_string(),
            _ => format!("%{conv} format: an integer is required, not str"),
        })
    };
    match conv {
        's' | 'r' | 'a' => {
            let s = match (conv, value) {
                (_, ExpVal::Int(n)) => n.to_string(),
                ('s', ExpVal::Str(s)) => s.clone(),
                (_, ExpVal::Str(s)) => py_repr(s),
            };
            Ok(match spec.precision {
                Some(p) => s.chars().take(p).collect(),
                None => s,
            })
        }
        'd' | 'i' | 'u' | 'x' | 'X' | 'o' => {
            let n = match value {
                ExpVal::Int(n) => *n,
                ExpVal::Str(_) => {
                    return Err(int_required(if "diu".contains(conv) {
                        "real"
                    } else {
                        "int"
                    }))
                }
            };
            let mag = n.unsigned_abs();
            let mut digits = match conv {
                'x' => format!("{mag:x}"),
                'X' => format!("{mag:X}"),
                'o' => format!("{mag:o}"),
                _ => mag.to_string(),
            };
            if let Some(p) = spec.precision {
                if digits.len() < p {
                    digits = format!("{}{digits}", "0".repeat(p - digits.len()));
                }
            }
            let prefix = match (spec.alt, conv) {
                (true, 'x') => "0x",
                (true, 'X') => "0X",
                (true, 'o') => "0o",
                _ => "",
            };
            Ok(format!("{}{prefix}{digits}", sign(n as f64, spec)))
        }
        'e' | 'E' | 'f' | 'F' | 'g' | 'G' => {
            let n = match value {
                ExpVal::Int(n) => *n as f64,
                ExpVal::Str(_) => return Err(int_required("float")),
            };
            let p = spec.precision.unwrap_or(6);
            let mag = n.abs();
            let body = match conv {
                'f' | 'F' => format!("{mag:.p$}"),
                'e' | 'E' => {
                    let s = format!("{mag:.p$e}");
                    let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
                    let e: i32 = e.parse().unwrap_or(0);
                    let s = format!("{m}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs());
                    if conv == 'E' {
                        s.to_uppercase()
                    } else {
                        s
                    }
                }
                _ => {
                    // %g of an integer-valued number below 10**precision: plain digits.
                    let p = p.max(1);
                    if mag < 10f64.powi(p as i32) {
                        format!("{mag}")
                    } else {
                        let s = format!("{mag:.*e}", p - 1);
                        let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
                        let m = if m.contains('.') && !spec.alt {
                            m.trim_end_matches('0').trim_end_matches('.')
                        } else {
                            m
                        };
                        let e: i32 = e.parse().unwrap_or(0);
                        let s = format!("{m}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs());
                        if conv == 'G' {
                            s.to_uppercase()
                        } else {
                            s
                        }
                    }
                }
            };
            Ok(format!("{}{body}", sign(n, spec)))
        }
        'c' => match value {
            ExpVal::Int(n) => u32::try_from(*n)
                .ok()
                .and_then(char::from_u32)
                .map(|c| c.to_string())
                .ok_or_else(|| FmtError::Bad("%c arg not in range(0x110000)".to_string())),
            ExpVal::Str(s) if s.chars().count() == 1 => Ok(s.clone()),
            ExpVal::Str(_) => Err(FmtError::Bad("%c requires int or char".to_string())),
        },
        _ => Err(unsupported(conv, start, end)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exp() -> Expansions {
        let mut e = Expansions::new();
        e.insert("a".into(), "xyz".into());
        e.insert("b".into(), ExpVal::Int(65));
        e.insert("here".into(), "/etc".into());
        e
    }

    fn x(s: &str) -> String {
        expand(s, &exp(), "opt").unwrap()
    }

    #[test]
    fn plain_and_percent() {
        assert_eq!(x("no format"), "no format");
        assert_eq!(x("100%%"), "100%");
        assert_eq!(x("%%(a)s"), "%(a)s");
        assert_eq!(x("%(here)s/x"), "/etc/x");
        assert_eq!(x("é%(a)sé"), "éxyzé");
    }

    #[test]
    fn python_conversions() {
        // Checked against CPython 3.11:
        // '%(a)5.2s|%(b)+05d|%(b)#x|%(b)-4d|%(b).3d|%(b)c' % {'a':'xyz','b':65}
        assert_eq!(
            x("%(a)5.2s|%(b)+05d|%(b)#x|%(b)-4d|%(b).3d|%(b)c"),
            "   xy|+0065|0x41|65  |065|A"
        );
        assert_eq!(x("%(b)02d"), "65");
        assert_eq!(x("%(b)04d"), "0065");
        assert_eq!(x("%(b)s"), "65");
        assert_eq!(x("%(a)r"), "'xyz'");
        assert_eq!(x("%(b)e"), "6.500000e+01");
        assert_eq!(x("%(b)g"), "65");
        assert_eq!(x("%(b)f"), "65.000000");
        assert_eq!(x("%(b)o"), "101");
        assert_eq!(x("%(b)X"), "41");
    }

    #[test]
    fn unknown_name_lists_available() {
        let err = expand("%(nope)s", &exp(), "command").unwrap_err();
        assert_eq!(
            err,
            "Format string '%(nope)s' for 'command' contains names ('nope') which cannot \
             be expanded. Available names: a, b, here"
        );
    }

    #[test]
    fn badly_formatted() {
        let bad = |s: &str| expand(s, &exp(), "o").unwrap_err();
        assert!(bad("%").ends_with("is badly formatted: incomplete format"));
        assert!(bad("%(a)").ends_with("incomplete format"));
        assert!(bad("%(a").ends_with("incomplete format key"));
        assert!(bad("%(a)z").ends_with("unsupported format character 'z' (0x7a) at index 4"));
        // Checked against CPython 3.11: no repr, non-ASCII shown as '?', key looked up first.
        assert!(bad("%'").ends_with("unsupported format character ''' (0x27) at index 1"));
        assert!(bad("%é").ends_with("unsupported format character '?' (0xe9) at index 1"));
        assert!(bad("%(zz)").contains("contains names ('zz')"));
        assert!(bad("%(a)d").ends_with("%d format: a real number is required, not str"));
        assert!(bad("%s").ends_with("format requires a mapping"));
        // Checked against CPython 3.11: '%' with anything in between is not a literal.
        assert!(bad("%0%").ends_with("unsupported format character '%' (0x25) at index 2"));
        assert!(bad("%(a)%").ends_with("unsupported format character '%' (0x25) at index 4"));
        assert!(bad("%(b)99999999999999999999999d").ends_with("width too big"));
        assert!(bad("%(b).5000f").ends_with("width too big"));
        assert_eq!(
            bad("50%"),
            "Format string '50%' for 'o' is badly formatted: incomplete format"
        );
    }
}
