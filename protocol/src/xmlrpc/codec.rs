//! `methodCall` / `methodResponse` bodies: parsing (with limits) and Python-identical encoding.
//!
//! Parsing is a small recursive-descent parser over a token stream from `quick-xml`. The
//! tokenizer does the XML syntax (tags, end-tag matching, comments, CDATA, character
//! references); this module owns every decision that matters for safety:
//!
//! * the caller's body size limit is checked before anything else;
//! * the body must be UTF-8 (an ASCII-compatible declared encoding is accepted only for
//!   all-ASCII bodies, where every such encoding agrees);
//! * `<!DOCTYPE ...>` is rejected outright, so there are no entity declarations and no
//!   expansion attacks; only the five predefined entities and character references resolve;
//! * arrays/structs nest at most [`MAX_DEPTH`] levels, which bounds the parser's recursion;
//! * every failure is a [`ParseError`] naming what was wrong; nothing panics.
//!
//! Encoding reproduces Python's `xmlrpc.client.dumps` byte for byte (that is what Supervisor's
//! `xmlrpc_marshal` sends), including its newline placement and `repr()` of floats.

use std::fmt;

use quick_xml::events::Event;
use quick_xml::Reader;

use super::b64;
use super::faults::Fault;
use super::value::Value;

/// Deepest allowed nesting of arrays/structs inside one value.
pub const MAX_DEPTH: usize = 64;

/// Element nesting the tokenizer tolerates before the grammar even looks at it
/// (`methodCall/params/param/value` plus three elements per container level, plus slack).
const MAX_ELEMENT_DEPTH: usize = 4 + 3 * MAX_DEPTH + 4;

/// A reasonable request body limit for a server: large enough for `sendProcessStdin` with
/// generous input, small enough that a hostile client cannot make us buffer much.
pub const DEFAULT_MAX_CALL_BYTES: usize = 4 * 1024 * 1024;

/// A reasonable response body limit for a client (`readLog` can return a lot).
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;

const XML_HEADER: &str = "<?xml version='1.0'?>\n";

/// A parsed `methodCall`.
#[derive(Debug, Clone, PartialEq)]
pub struct MethodCall {
    pub name: String,
    /// Empty when `<params>` is missing (Supervisor accepts that).
    pub params: Vec<Value>,
}

/// Why a body was rejected. The server answers HTTP 400 for any of these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// The body is larger than the caller's limit.
    TooLarge { size: usize, limit: usize },
    /// The body is not valid UTF-8; `offset` is the first bad byte.
    NotUtf8 { offset: usize },
    /// The XML declaration names an encoding we cannot decode (and the body is not ASCII).
    UnsupportedEncoding(String),
    /// A `<!DOCTYPE>` (and with it any entity declaration) is present.
    Doctype,
    /// The tokenizer found invalid XML syntax.
    Malformed { offset: u64, message: String },
    /// `&name;` other than `lt gt amp apos quot`, or an invalid character reference.
    UnknownEntity(String),
    /// The document ended while `expected` was still required.
    Truncated { expected: String },
    /// Something other than `expected` was found.
    Unexpected { found: String, expected: String },
    /// Non-whitespace text next to a type element inside `<value>`, or text where only
    /// elements belong.
    StrayText { text: String, context: String },
    /// Something other than whitespace, comments or processing instructions after the root.
    TrailingContent { found: String },
    /// Arrays/structs nested deeper than [`MAX_DEPTH`] (or elements nested absurdly deep).
    TooDeep { limit: usize },
    /// `methodCall` without `<methodName>`.
    MissingMethodName,
    /// `<methodName></methodName>` or `<methodName/>`.
    EmptyMethodName,
    /// A type element we do not know, e.g. `<value><float32>`.
    UnknownType(String),
    /// Not an integer (`tag` is the element name).
    InvalidInt { tag: String, text: String },
    /// An integer that does not fit in 32 bits.
    IntOutOfRange { tag: String, text: String },
    /// `<boolean>` other than `0` or `1`.
    InvalidBoolean(String),
    /// `<double>` that is not a number.
    InvalidDouble(String),
    /// `<base64>` that does not decode; the string says why.
    InvalidBase64(String),
    /// `<fault>` whose value is not `{faultCode: int, faultString: string}`.
    InvalidFault(String),
    /// A `methodResponse` whose `<params>` does not hold exactly one value.
    ResponseParamCount(usize),
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::TooLarge { size, limit } => {
                write!(f, "body too large: {size} bytes (limit {limit})")
            }
            ParseError::NotUtf8 { offset } => write!(f, "body is not UTF-8 (byte {offset})"),
            ParseError::UnsupportedEncoding(e) => write!(f, "unsupported encoding {e:?}"),
            ParseError::Doctype => f.write_str("DOCTYPE declarations are not allowed"),
            ParseError::Malformed { offset, message } => {
                write!(f, "malformed XML at byte {offset}: {message}")
            }
            ParseError::UnknownEntity(e) => write!(f, "unknown or invalid entity &{e};"),
            ParseError::Truncated { expected } => {
                write!(f, "truncated document: expected {expected}")
            }
            ParseError::Unexpected { found, expected } => {
                write!(f, "expected {expected}, found {found}")
            }
            ParseError::StrayText { text, context } => {
                write!(f, "unexpected text {text:?} {context}")
            }
            ParseError::TrailingContent { found } => {
                write!(f, "trailing content after the document: {found}")
            }
            ParseError::TooDeep { limit } => write!(f, "nesting deeper than {limit} levels"),
            ParseError::MissingMethodName => f.write_str("missing <methodName>"),
            ParseError::EmptyMethodName => f.write_str("empty <methodName>"),
            ParseError::UnknownType(t) => write!(f, "unknown value type <{t}>"),
            ParseError::InvalidInt { tag, text } => write!(f, "invalid <{tag}> value {text:?}"),
            ParseError::IntOutOfRange { tag, text } => {
                write!(f, "<{tag}> value {text:?} does not fit in 32 bits")
            }
            ParseError::InvalidBoolean(t) => write!(f, "invalid <boolean> value {t:?}"),
            ParseError::InvalidDouble(t) => write!(f, "invalid <double> value {t:?}"),
            ParseError::InvalidBase64(why) => write!(f, "invalid <base64> value: {why}"),
            ParseError::InvalidFault(why) => write!(f, "invalid <fault>: {why}"),
            ParseError::ResponseParamCount(n) => {
                write!(f, "methodResponse must carry exactly one param, found {n}")
            }
        }
    }
}

impl std::error::Error for ParseError {}

type Result<T> = std::result::Result<T, ParseError>;

// ------------------------------------------------------------------------------------------
// Tokens

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Start(String),
    End(String),
    /// Character data with entities resolved; adjacent pieces (text, references, CDATA) merged.
    Text(String),
    Eof,
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Start(n) => format!("<{n}>"),
            Tok::End(n) => format!("</{n}>"),
            Tok::Text(t) => {
                let short: String = t.chars().take(32).collect();
                if short.len() < t.len() {
                    format!("text {short:?}...")
                } else {
                    format!("text {short:?}")
                }
            }
            Tok::Eof => "end of document".to_owned(),
        }
    }
}

fn is_ws(s: &str) -> bool {
    s.bytes().all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
}

fn unexpected(tok: Tok, expected: &str) -> ParseError {
    match tok {
        Tok::Eof => ParseError::Truncated {
            expected: expected.to_owned(),
        },
        other => ParseError::Unexpected {
            found: other.describe(),
            expected: expected.to_owned(),
        },
    }
}

struct Lexer<'a> {
    reader: Reader<&'a [u8]>,
    /// The input is entirely ASCII (decides whether a non-UTF-8 declared encoding is harmless).
    ascii: bool,
    peeked: Option<Tok>,
    pending: Option<Tok>,
    depth: usize,
    started: bool,
}

impl<'a> Lexer<'a> {
    fn new(text: &'a str) -> Self {
        let mut reader = Reader::from_str(text);
        let config = reader.config_mut();
        config.expand_empty_elements = true;
        config.check_end_names = true;
        config.trim_text(false);
        Lexer {
            reader,
            ascii: text.is_ascii(),
            peeked: None,
            pending: None,
            depth: 0,
            started: false,
        }
    }

    fn malformed(&self, message: impl fmt::Display) -> ParseError {
        ParseError::Malformed {
            offset: self.reader.error_position(),
            message: message.to_string(),
        }
    }

    /// One token, text pieces not yet merged; comments and PIs skipped.
    fn raw(&mut self) -> Result<Tok> {
        loop {
            let event = match self.reader.read_event() {
                Ok(e) => e,
                Err(e) => return Err(self.malformed(e)),
            };
            let first = !self.started;
            self.started = true;
            let tok = match event {
                Event::Decl(decl) => {
                    if !first {
                        return Err(ParseError::Malformed {
                            offset: self.reader.buffer_position(),
                            message: "XML declaration not at the start".to_owned(),
                        });
                    }
                    if let Some(enc) = decl.encoding() {
                        let enc = enc.map_err(|e| self.malformed(e))?;
                        let enc = String::from_utf8_lossy(&enc).to_ascii_lowercase();
                        let utf8 = matches!(enc.as_str(), "utf-8" | "utf8" | "us-ascii" | "ascii");
                        if !utf8 && !self.ascii {
                            return Err(ParseError::UnsupportedEncoding(enc));
                        }
                    }
                    continue;
                }
                Event::DocType(_) => return Err(ParseError::Doctype),
                Event::Comment(_) | Event::PI(_) => continue,
                Event::Start(e) => {
                    self.depth += 1;
                    if self.depth > MAX_ELEMENT_DEPTH {
                        return Err(ParseError::TooDeep { limit: MAX_DEPTH });
                    }
                    Tok::Start(String::from_utf8_lossy(e.name().as_ref()).into_owned())
                }
                Event::End(e) => {
                    self.depth = self.depth.saturating_sub(1);
                    Tok::End(String::from_utf8_lossy(e.name().as_ref()).into_owned())
                }
                // Never produced with expand_empty_elements; an error rather than a panic.
                Event::Empty(_) => return Err(self.malformed("unexpanded empty element")),
                Event::Text(t) => Tok::Text(
                    t.xml10_content()
                        .map_err(|e| self.malformed(e))?
                        .into_owned(),
                ),
                Event::CData(t) => Tok::Text(
                    t.xml10_content()
                        .map_err(|e| self.malformed(e))?
                        .into_owned(),
                ),
                Event::GeneralRef(r) => {
                    let name = r.decode().map_err(|e| self.malformed(e))?.into_owned();
                    let ch = match name.as_str() {
                        "lt" => '<',
                        "gt" => '>',
                        "amp" => '&',
                        "apos" => '\'',
                        "quot" => '"',
                        _ => match r.resolve_char_ref() {
                            Ok(Some(c)) => c,
                            _ => return Err(ParseError::UnknownEntity(name)),
                        },
                    };
                    Tok::Text(ch.to_string())
                }
                Event::Eof => Tok::Eof,
            };
            return Ok(tok);
        }
    }

    fn next(&mut self) -> Result<Tok> {
        if let Some(t) = self.peeked.take() {
            return Ok(t);
        }
        let mut text: Option<String> = None;
        loop {
            let tok = match self.pending.take() {
                Some(t) => t,
                None => self.raw()?,
            };
            match tok {
                Tok::Text(piece) => match &mut text {
                    Some(acc) => acc.push_str(&piece),
                    None => text = Some(piece),
                },
                other => {
                    if let Some(acc) = text {
                        self.pending = Some(other);
                        return Ok(Tok::Text(acc));
                    }
                    return Ok(other);
                }
            }
        }
    }

    fn peek(&mut self) -> Result<&Tok> {
        let tok = match self.peeked.take() {
            Some(t) => t,
            None => self.next()?,
        };
        Ok(self.peeked.insert(tok))
    }
}

// ------------------------------------------------------------------------------------------
// Grammar

struct Parser<'a> {
    lx: Lexer<'a>,
}

impl<'a> Parser<'a> {
    fn new(body: &'a [u8], limit: usize) -> Result<Self> {
        if body.len() > limit {
            return Err(ParseError::TooLarge {
                size: body.len(),
                limit,
            });
        }
        let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
        let text = std::str::from_utf8(body).map_err(|e| ParseError::NotUtf8 {
            offset: e.valid_up_to(),
        })?;
        Ok(Parser {
            lx: Lexer::new(text),
        })
    }

    /// Consumes whitespace-only text; other text is an error naming `context`.
    fn skip_ws(&mut self, context: &str) -> Result<()> {
        if let Tok::Text(t) = self.lx.peek()? {
            if !is_ws(t) {
                let text: String = t.chars().take(32).collect();
                return Err(ParseError::StrayText {
                    text,
                    context: context.to_owned(),
                });
            }
            self.lx.next()?;
        }
        Ok(())
    }

    fn expect_start(&mut self, name: &str) -> Result<()> {
        self.skip_ws(&format!("where <{name}> belongs"))?;
        match self.lx.next()? {
            Tok::Start(n) if n == name => Ok(()),
            other => Err(unexpected(other, &format!("<{name}>"))),
        }
    }

    fn expect_end(&mut self, name: &str) -> Result<()> {
        self.skip_ws(&format!("before </{name}>"))?;
        match self.lx.next()? {
            Tok::End(n) if n == name => Ok(()),
            other => Err(unexpected(other, &format!("</{name}>"))),
        }
    }

    /// The text content of an element whose start tag was consumed, through its end tag.
    fn text_until_end(&mut self, name: &str) -> Result<String> {
        let mut text = String::new();
        let mut tok = self.lx.next()?;
        if let Tok::Text(t) = tok {
            text = t;
            tok = self.lx.next()?;
        }
        match tok {
            Tok::End(n) if n == name => Ok(text),
            other => Err(unexpected(other, &format!("text or </{name}>"))),
        }
    }

    fn end_of_document(&mut self) -> Result<()> {
        self.skip_ws("after the document")
            .map_err(|_| ParseError::TrailingContent {
                found: "text".to_owned(),
            })?;
        match self.lx.next()? {
            Tok::Eof => Ok(()),
            other => Err(ParseError::TrailingContent {
                found: other.describe(),
            }),
        }
    }

    fn method_call(&mut self) -> Result<MethodCall> {
        self.expect_start("methodCall")?;
        let mut name: Option<String> = None;
        let mut params: Option<Vec<Value>> = None;
        loop {
            self.skip_ws("inside <methodCall>")?;
            match self.lx.next()? {
                Tok::Start(n) if n == "methodName" && name.is_none() => {
                    name = Some(self.text_until_end("methodName")?);
                }
                Tok::Start(n) if n == "params" && params.is_none() => {
                    params = Some(self.params()?);
                }
                Tok::End(n) if n == "methodCall" => break,
                other => {
                    return Err(unexpected(other, "<methodName>, <params> or </methodCall>"));
                }
            }
        }
        self.end_of_document()?;
        match name {
            None => Err(ParseError::MissingMethodName),
            Some(n) if n.is_empty() => Err(ParseError::EmptyMethodName),
            Some(name) => Ok(MethodCall {
                name,
                params: params.unwrap_or_default(),
            }),
        }
    }

    fn method_response(&mut self) -> Result<std::result::Result<Value, Fault>> {
        self.expect_start("methodResponse")?;
        self.skip_ws("inside <methodResponse>")?;
        let result = match self.lx.next()? {
            Tok::Start(n) if n == "params" => {
                let mut params = self.params()?;
                if params.len() != 1 {
                    return Err(ParseError::ResponseParamCount(params.len()));
                }
                Ok(params.remove(0))
            }
            Tok::Start(n) if n == "fault" => {
                self.expect_start("value")?;
                let value = self.value_after_start(0)?;
                self.expect_end("fault")?;
                Err(Fault::from_value(&value).map_err(ParseError::InvalidFault)?)
            }
            other => return Err(unexpected(other, "<params> or <fault>")),
        };
        self.expect_end("methodResponse")?;
        self.end_of_document()?;
        Ok(result)
    }

    /// After `<params>`: any number of `<param><value>..</value></param>`, then `</params>`.
    fn params(&mut self) -> Result<Vec<Value>> {
        let mut params = Vec::new();
        loop {
            self.skip_ws("inside <params>")?;
            match self.lx.next()? {
                Tok::Start(n) if n == "param" => {
                    self.expect_start("value")?;
                    params.push(self.value_after_start(0)?);
                    self.expect_end("param")?;
                }
                Tok::End(n) if n == "params" => return Ok(params),
                other => return Err(unexpected(other, "<param> or </params>")),
            }
        }
    }

    /// After `<value>`: an untyped string or one type element, then `</value>`.
    fn value_after_start(&mut self, depth: usize) -> Result<Value> {
        let mut tok = self.lx.next()?;
        let mut leading: Option<String> = None;
        if let Tok::Text(t) = tok {
            leading = Some(t);
            tok = self.lx.next()?;
        }
        match tok {
            Tok::End(n) if n == "value" => Ok(Value::String(leading.unwrap_or_default())),
            Tok::Start(type_name) => {
                if let Some(text) = leading.filter(|t| !is_ws(t)) {
                    return Err(ParseError::StrayText {
                        text: text.chars().take(32).collect(),
                        context: format!("before <{type_name}> inside <value>"),
                    });
                }
                let value = self.typed(&type_name, depth)?;
                self.expect_end("value")?;
                Ok(value)
            }
            other => Err(unexpected(other, "a type element or </value>")),
        }
    }

    fn typed(&mut self, tag: &str, depth: usize) -> Result<Value> {
        // Python accepts Apache's namespaced extensions (`<ex:nil/>`, `<ex:i8>`).
        let local = tag.rsplit(':').next().unwrap_or(tag);
        match local {
            "string" => Ok(Value::String(self.text_until_end(tag)?)),
            "int" | "i4" | "i8" | "i1" | "i2" | "biginteger" => {
                let text = self.text_until_end(tag)?;
                parse_int(local, &text).map(Value::Int)
            }
            "boolean" => match self.text_until_end(tag)?.trim() {
                "1" => Ok(Value::Boolean(true)),
                "0" => Ok(Value::Boolean(false)),
                other => Err(ParseError::InvalidBoolean(other.to_owned())),
            },
            "double" | "float" | "bigdecimal" => {
                let text = self.text_until_end(tag)?;
                let trimmed = text.trim();
                trimmed
                    .parse::<f64>()
                    .map(Value::Double)
                    .map_err(|_| ParseError::InvalidDouble(trimmed.to_owned()))
            }
            "dateTime.iso8601" => Ok(Value::DateTime(self.text_until_end(tag)?.trim().to_owned())),
            "base64" => {
                let text = self.text_until_end(tag)?;
                b64::decode(&text)
                    .map(Value::Base64)
                    .map_err(ParseError::InvalidBase64)
            }
            "nil" => {
                let text = self.text_until_end(tag)?;
                if !is_ws(&text) {
                    return Err(ParseError::StrayText {
                        text,
                        context: "inside <nil>".to_owned(),
                    });
                }
                Ok(Value::Nil)
            }
            "array" => {
                if depth >= MAX_DEPTH {
                    return Err(ParseError::TooDeep { limit: MAX_DEPTH });
                }
                self.array(tag, depth)
            }
            "struct" => {
                if depth >= MAX_DEPTH {
                    return Err(ParseError::TooDeep { limit: MAX_DEPTH });
                }
                self.structure(tag, depth)
            }
            _ => Err(ParseError::UnknownType(tag.to_owned())),
        }
    }

    fn array(&mut self, tag: &str, depth: usize) -> Result<Value> {
        let mut items = Vec::new();
        self.skip_ws("inside <array>")?;
        match self.lx.next()? {
            Tok::Start(n) if n == "data" => loop {
                self.skip_ws("inside <data>")?;
                match self.lx.next()? {
                    Tok::Start(n) if n == "value" => {
                        items.push(self.value_after_start(depth + 1)?);
                    }
                    Tok::End(n) if n == "data" => {
                        self.expect_end(tag)?;
                        break;
                    }
                    other => return Err(unexpected(other, "<value> or </data>")),
                }
            },
            // Lenient: `<array></array>` without `<data>` is an empty array.
            Tok::End(n) if n == tag => {}
            other => return Err(unexpected(other, "<data>")),
        }
        Ok(Value::Array(items))
    }

    fn structure(&mut self, tag: &str, depth: usize) -> Result<Value> {
        let mut members: Vec<(String, Value)> = Vec::new();
        loop {
            self.skip_ws("inside <struct>")?;
            match self.lx.next()? {
                Tok::Start(n) if n == "member" => {
                    self.expect_start("name")?;
                    let name = self.text_until_end("name")?;
                    self.expect_start("value")?;
                    let value = self.value_after_start(depth + 1)?;
                    self.expect_end("member")?;
                    match members.iter_mut().find(|(k, _)| *k == name) {
                        Some((_, slot)) => *slot = value,
                        None => members.push((name, value)),
                    }
                }
                Tok::End(n) if n == tag => return Ok(Value::Struct(members)),
                other => return Err(unexpected(other, &format!("<member> or </{tag}>"))),
            }
        }
    }
}

fn parse_int(tag: &str, text: &str) -> Result<i32> {
    let t = text.trim();
    let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ParseError::InvalidInt {
            tag: tag.to_owned(),
            text: t.to_owned(),
        });
    }
    t.parse::<i64>()
        .ok()
        .and_then(|v| i32::try_from(v).ok())
        .ok_or_else(|| ParseError::IntOutOfRange {
            tag: tag.to_owned(),
            text: t.to_owned(),
        })
}

/// Parses a `methodCall` body (what a server receives). `max_len` is the caller's body limit;
/// see [`DEFAULT_MAX_CALL_BYTES`].
pub fn parse_method_call(body: &[u8], max_len: usize) -> Result<MethodCall> {
    Parser::new(body, max_len)?.method_call()
}

/// Parses a `methodResponse` body (what a client receives): `Ok(Ok(value))` for a result,
/// `Ok(Err(fault))` for a fault. `max_len`: see [`DEFAULT_MAX_RESPONSE_BYTES`].
pub fn parse_method_response(
    body: &[u8],
    max_len: usize,
) -> Result<std::result::Result<Value, Fault>> {
    Parser::new(body, max_len)?.method_response()
}

// ------------------------------------------------------------------------------------------
// Encoding

/// `xmlrpc.client.escape`: only `&`, `<` and `>`.
fn escape_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
}

/// Python's `repr(float)`: shortest round-trip digits, fixed notation for exponents -4..16,
/// otherwise `d.ddde+XX`; `inf`, `-inf`, `nan`.
pub(crate) fn python_float_repr(v: f64) -> String {
    if v.is_nan() {
        return "nan".to_owned();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf" } else { "-inf" }.to_owned();
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0.0" } else { "0.0" }.to_owned();
    }
    let sci = format!("{v:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let n = digits.len() as i32;
    let mut out = String::from(sign);
    if (-4..16).contains(&exp) {
        let point = exp + 1; // digits before the decimal point
        if point <= 0 {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', (-point) as usize));
            out.push_str(&digits);
        } else if point >= n {
            out.push_str(&digits);
            out.extend(std::iter::repeat_n('0', (point - n) as usize));
            out.push_str(".0");
        } else {
            let (int_part, frac) = digits.split_at(point as usize);
            out.push_str(int_part);
            out.push('.');
            out.push_str(frac);
        }
    } else {
        let (first, rest) = digits.split_at(1.min(digits.len()));
        out.push_str(first);
        if !rest.is_empty() {
            out.push('.');
            out.push_str(rest);
        }
        out.push_str(&format!(
            "e{}{:02}",
            if exp < 0 { '-' } else { '+' },
            exp.abs()
        ));
    }
    out
}

/// Replaces characters XML 1.0 forbids (C0 controls other than tab/LF/CR, U+FFFE, U+FFFF)
/// with U+FFFD. The encoder, like Python's, writes strings as they are, so a log slice holding
/// e.g. an ANSI escape (`\x1b`) makes Python's expat reject the whole response, exactly as
/// with Supervisor. A server that prefers a readable answer can pass text through this first.
pub fn sanitize_xml_text(s: &str) -> std::borrow::Cow<'_, str> {
    let bad = |c: char| matches!(c, '\u{0}'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}');
    if s.chars().any(bad) {
        std::borrow::Cow::Owned(
            s.chars()
                .map(|c| if bad(c) { '\u{fffd}' } else { c })
                .collect(),
        )
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

/// An upper bound of the bytes [`write_value`] produces for `value` (exact but for integers,
/// doubles and a few bytes of tags), in one walk without building anything. A server uses it
/// to refuse a response too large to send before it encodes it.
pub fn encoded_len_bound(value: &Value) -> usize {
    fn text(s: &str) -> usize {
        s.len()
            + 4 * s
                .bytes()
                .filter(|b| matches!(b, b'&' | b'<' | b'>'))
                .count()
    }
    match value {
        Value::Int(_) => 38,
        Value::Boolean(_) => 37,
        Value::String(s) => 34 + text(s),
        Value::Double(_) => 60,
        Value::DateTime(s) => 50 + text(s),
        Value::Base64(b) => 40 + b.len().div_ceil(3) * 4 * 77 / 76 + 1,
        Value::Array(items) => 45usize.saturating_add(
            items
                .iter()
                .fold(0usize, |n, v| n.saturating_add(encoded_len_bound(v))),
        ),
        Value::Struct(members) => {
            34usize.saturating_add(members.iter().fold(0usize, |n, (k, v)| {
                n.saturating_add(32 + text(k))
                    .saturating_add(encoded_len_bound(v))
            }))
        }
        Value::Nil => 21,
    }
}

/// Appends one `<value>` exactly as `xmlrpc.client.Marshaller` writes it.
fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Int(i) => {
            out.push_str("<value><int>");
            out.push_str(&i.to_string());
            out.push_str("</int></value>\n");
        }
        Value::Boolean(b) => {
            out.push_str(if *b {
                "<value><boolean>1</boolean></value>\n"
            } else {
                "<value><boolean>0</boolean></value>\n"
            });
        }
        Value::String(s) => {
            out.push_str("<value><string>");
            escape_into(out, s);
            out.push_str("</string></value>\n");
        }
        Value::Double(d) => {
            out.push_str("<value><double>");
            out.push_str(&python_float_repr(*d));
            out.push_str("</double></value>\n");
        }
        Value::DateTime(s) => {
            out.push_str("<value><dateTime.iso8601>");
            escape_into(out, s);
            out.push_str("</dateTime.iso8601></value>\n");
        }
        Value::Base64(bytes) => {
            out.push_str("<value><base64>\n");
            out.push_str(&b64::encode_lines(bytes));
            out.push_str("</base64></value>\n");
        }
        Value::Array(items) => {
            out.push_str("<value><array><data>\n");
            for item in items {
                write_value(out, item);
            }
            out.push_str("</data></array></value>\n");
        }
        Value::Struct(members) => {
            out.push_str("<value><struct>\n");
            for (name, v) in members {
                out.push_str("<member>\n<name>");
                escape_into(out, name);
                out.push_str("</name>\n");
                write_value(out, v);
                out.push_str("</member>\n");
            }
            out.push_str("</struct></value>\n");
        }
        // Python writes no newline after nil; kept for byte compatibility.
        Value::Nil => out.push_str("<value><nil/></value>"),
    }
}

fn write_params(out: &mut String, params: &[Value]) {
    out.push_str("<params>\n");
    for p in params {
        out.push_str("<param>\n");
        write_value(out, p);
        out.push_str("</param>\n");
    }
    out.push_str("</params>\n");
}

/// `xmlrpc.client.dumps(params, name)`.
pub fn encode_method_call(name: &str, params: &[Value]) -> Vec<u8> {
    let mut out = String::from(XML_HEADER);
    out.push_str("<methodCall>\n<methodName>");
    escape_into(&mut out, name);
    out.push_str("</methodName>\n");
    write_params(&mut out, params);
    out.push_str("</methodCall>\n");
    out.into_bytes()
}

/// `xmlrpc.client.dumps((value,), methodresponse=True)`, i.e. Supervisor's `xmlrpc_marshal`.
pub fn encode_method_response(value: &Value) -> Vec<u8> {
    let mut out = String::from(XML_HEADER);
    out.push_str("<methodResponse>\n");
    write_params(&mut out, std::slice::from_ref(value));
    out.push_str("</methodResponse>\n");
    out.into_bytes()
}

/// `xmlrpc.client.dumps(Fault(code, string))`.
pub fn encode_fault(fault: &Fault) -> Vec<u8> {
    let mut out = String::from(XML_HEADER);
    out.push_str("<methodResponse>\n<fault>\n");
    write_value(&mut out, &fault.to_value());
    out.push_str("</fault>\n</methodResponse>\n");
    out.into_bytes()
}

/// Either a result or a fault, as one response body.
pub fn encode_response(result: &std::result::Result<Value, Fault>) -> Vec<u8> {
    match result {
        Ok(v) => encode_method_response(v),
        Err(f) => encode_fault(f),
    }
}
