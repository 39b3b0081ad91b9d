//! The XML-RPC data model.
//!
//! One enum covers every type Python's `xmlrpc.client` can send or read. Structs keep their
//! members in wire order (a `Vec` of pairs), because Supervisor's structs are small, because
//! ordered output makes our responses diffable against Python's, and because a client printing a
//! struct should show what the server sent.

use std::fmt;

/// One XML-RPC value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `<int>` / `<i4>` (also accepted: `<i8>`, `<i1>`, `<i2>`, `<biginteger>` within range).
    Int(i32),
    /// `<boolean>0|1</boolean>`.
    Boolean(bool),
    /// `<string>` or a `<value>` with no type element.
    String(String),
    /// `<double>` (also accepted: `<float>`, `<bigdecimal>`).
    Double(f64),
    /// `<dateTime.iso8601>`, kept as the text that was sent (whitespace-trimmed), e.g.
    /// `20240102T03:04:05`. Supervisor never sends dates, so nothing here interprets them.
    DateTime(String),
    /// `<base64>`, decoded.
    Base64(Vec<u8>),
    /// `<array><data>...</data></array>`.
    Array(Vec<Value>),
    /// `<struct>` members in wire order. Parsing keeps the first position of a repeated name
    /// and the last value (what a Python dict does).
    Struct(Vec<(String, Value)>),
    /// `<nil/>`. Supervisor never sends it (it maps `None` to the string `none`); the codec
    /// only emits it when a caller puts one in a value.
    Nil,
}

impl Value {
    /// Builds a struct from `(name, value)` pairs, keeping their order.
    pub fn new_struct<K, I>(members: I) -> Value
    where
        K: Into<String>,
        I: IntoIterator<Item = (K, Value)>,
    {
        Value::Struct(members.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// The XML-RPC type name (`int`, `boolean`, `string`, `double`, `dateTime.iso8601`,
    /// `base64`, `array`, `struct`, `nil`), for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Int(_) => "int",
            Value::Boolean(_) => "boolean",
            Value::String(_) => "string",
            Value::Double(_) => "double",
            Value::DateTime(_) => "dateTime.iso8601",
            Value::Base64(_) => "base64",
            Value::Array(_) => "array",
            Value::Struct(_) => "struct",
            Value::Nil => "nil",
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_i32(&self) -> Option<i32> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Boolean(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Double(d) => Some(*d),
            _ => None,
        }
    }

    pub fn as_datetime(&self) -> Option<&str> {
        match self {
            Value::DateTime(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Base64(b) => Some(b),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    pub fn as_struct(&self) -> Option<&[(String, Value)]> {
        match self {
            Value::Struct(m) => Some(m),
            _ => None,
        }
    }

    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Nil)
    }

    /// The member `key` of a struct (`None` for a missing key or a non-struct).
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_struct()?
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// Sets `key` in a struct, replacing an existing member in place or appending a new one.
    /// Does nothing on a non-struct.
    pub fn set(&mut self, key: impl Into<String>, value: Value) {
        if let Value::Struct(members) = self {
            let key = key.into();
            match members.iter_mut().find(|(k, _)| *k == key) {
                Some((_, slot)) => *slot = value,
                None => members.push((key, value)),
            }
        }
    }
}

impl From<i32> for Value {
    fn from(v: i32) -> Value {
        Value::Int(v)
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Value {
        Value::Boolean(v)
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Value {
        Value::Double(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Value {
        Value::String(v.to_owned())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Value {
        Value::String(v)
    }
}

impl From<&String> for Value {
    fn from(v: &String) -> Value {
        Value::String(v.clone())
    }
}

impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Value {
        Value::Base64(v)
    }
}

impl From<&[u8]> for Value {
    fn from(v: &[u8]) -> Value {
        Value::Base64(v.to_vec())
    }
}

impl From<Vec<Value>> for Value {
    fn from(v: Vec<Value>) -> Value {
        Value::Array(v)
    }
}

impl From<Vec<(String, Value)>> for Value {
    fn from(v: Vec<(String, Value)>) -> Value {
        Value::Struct(v)
    }
}

/// `None` becomes the string `none`, as Supervisor does for every optional field
/// (`getAllConfigInfo`'s `uid`, `directory`, `serverurl`, ...).
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        match v {
            Some(v) => v.into(),
            None => Value::String("none".to_owned()),
        }
    }
}

impl fmt::Display for Value {
    /// A Python-repr-like rendering for logs and `supervisorctl` diagnostics.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(i) => write!(f, "{i}"),
            Value::Boolean(b) => f.write_str(if *b { "True" } else { "False" }),
            Value::String(s) => write!(f, "{s:?}"),
            Value::Double(d) => f.write_str(&super::codec::python_float_repr(*d)),
            Value::DateTime(s) => write!(f, "<DateTime {s:?}>"),
            Value::Base64(b) => write!(f, "<Binary {} bytes>", b.len()),
            Value::Array(items) => {
                f.write_str("[")?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
            Value::Struct(members) => {
                f.write_str("{")?;
                for (i, (k, v)) in members.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k:?}: {v}")?;
                }
                f.write_str("}")
            }
            Value::Nil => f.write_str("None"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accessors_and_conversions() {
        let mut s = Value::new_struct([("name", Value::from("web")), ("pid", 42.into())]);
        assert_eq!(s.get("name").and_then(Value::as_str), Some("web"));
        assert_eq!(s.get("pid").and_then(Value::as_i32), Some(42));
        assert_eq!(s.get("nope"), None);
        s.set("pid", Value::Int(7));
        s.set("extra", true.into());
        assert_eq!(s.get("pid"), Some(&Value::Int(7)));
        assert_eq!(s.as_struct().map(<[_]>::len), Some(3));
        assert_eq!(Value::from(None::<i32>), Value::from("none"));
        assert_eq!(Value::from(Some(3)), Value::Int(3));
        assert_eq!(Value::from(vec![1u8, 2]).as_bytes(), Some(&[1u8, 2][..]));
        assert_eq!(
            Value::from(vec![Value::Nil]).as_array().map(<[_]>::len),
            Some(1)
        );
        assert!(Value::Nil.is_nil());
        assert_eq!(Value::Int(1).as_str(), None);
        assert_eq!(Value::from(1.5).as_f64(), Some(1.5));
        assert_eq!(Value::Boolean(true).as_bool(), Some(true));
        assert_eq!(Value::Int(1).get("x"), None);
    }

    #[test]
    fn display_is_python_like() {
        let v = Value::Array(vec![
            Value::from("a"),
            Value::Int(1),
            Value::Boolean(false),
            Value::new_struct([("k", Value::Double(1e100))]),
            Value::Nil,
        ]);
        assert_eq!(v.to_string(), r#"["a", 1, False, {"k": 1e+100}, None]"#);
    }
}
