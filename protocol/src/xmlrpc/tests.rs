//! Codec tests against real bytes from Python 3.11's `xmlrpc.client`, plus a live check that
//! Python parses (and re-dumps identically) what we encode.

use super::codec::python_float_repr;
use super::*;

const LIMIT: usize = DEFAULT_MAX_CALL_BYTES;

// Captured with `xmlrpc.client.dumps(...)` under Python 3.11.7.
const START_PROCESS: &str = "<?xml version='1.0'?>\n<methodCall>\n<methodName>supervisor.startProcess</methodName>\n<params>\n<param>\n<value><string>web</string></value>\n</param>\n<param>\n<value><boolean>1</boolean></value>\n</param>\n</params>\n</methodCall>\n";
const MULTICALL: &str = "<?xml version='1.0'?>\n<methodCall>\n<methodName>system.multicall</methodName>\n<params>\n<param>\n<value><array><data>\n<value><struct>\n<member>\n<name>methodName</name>\n<value><string>supervisor.getState</string></value>\n</member>\n<member>\n<name>params</name>\n<value><array><data>\n</data></array></value>\n</member>\n</struct></value>\n<value><struct>\n<member>\n<name>methodName</name>\n<value><string>supervisor.stopProcess</string></value>\n</member>\n<member>\n<name>params</name>\n<value><array><data>\n<value><string>web</string></value>\n<value><boolean>0</boolean></value>\n</data></array></value>\n</member>\n</struct></value>\n</data></array></value>\n</param>\n</params>\n</methodCall>\n";
const UNICODE: &str = "<?xml version='1.0'?>\n<methodCall>\n<methodName>supervisor.sendProcessStdin</methodName>\n<params>\n<param>\n<value><string>héllo ☃ &lt;&amp;&gt; 𝄞</string></value>\n</param>\n</params>\n</methodCall>\n";
const BASE64: &str = "<?xml version='1.0'?>\n<methodCall>\n<methodName>x.b</methodName>\n<params>\n<param>\n<value><base64>\nAAFoZWxsb/8AAWhlbGxv/wABaGVsbG//AAFoZWxsb/8AAWhlbGxv/wABaGVsbG//AAFoZWxsb/8A\nAWhlbGxv/wABaGVsbG//AAFoZWxsb/8=\n</base64></value>\n</param>\n</params>\n</methodCall>\n";
const NIL_AND_EMPTY: &str = "<?xml version='1.0'?>\n<methodCall>\n<methodName>x.n</methodName>\n<params>\n<param>\n<value><nil/></value></param>\n<param>\n<value><string></string></value>\n</param>\n</params>\n</methodCall>\n";
const NESTED: &str = "<?xml version='1.0'?>\n<methodCall>\n<methodName>x.s</methodName>\n<params>\n<param>\n<value><struct>\n<member>\n<name>a</name>\n<value><struct>\n<member>\n<name>b</name>\n<value><array><data>\n<value><int>1</int></value>\n<value><int>2</int></value>\n<value><struct>\n<member>\n<name>c</name>\n<value><double>-3.5</double></value>\n</member>\n</struct></value>\n</data></array></value>\n</member>\n</struct></value>\n</member>\n<member>\n<name>d</name>\n<value><dateTime.iso8601>20240102T03:04:05</dateTime.iso8601></value>\n</member>\n</struct></value>\n</param>\n</params>\n</methodCall>\n";
const NO_ARGS: &str = "<?xml version='1.0'?>\n<methodCall>\n<methodName>supervisor.getAllProcessInfo</methodName>\n<params>\n</params>\n</methodCall>\n";
const NUMS: &str = "<?xml version='1.0'?>\n<methodCall>\n<methodName>x.nums</methodName>\n<params>\n<param>\n<value><int>2147483647</int></value>\n</param>\n<param>\n<value><int>-2147483648</int></value>\n</param>\n<param>\n<value><double>1.0</double></value>\n</param>\n<param>\n<value><double>1e+100</double></value>\n</param>\n<param>\n<value><double>0.1</double></value>\n</param>\n</params>\n</methodCall>\n";
const RESP_OK: &str = "<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n<value><string>ok</string></value>\n</param>\n</params>\n</methodResponse>\n";
const RESP_FAULT: &str = "<?xml version='1.0'?>\n<methodResponse>\n<fault>\n<value><struct>\n<member>\n<name>faultCode</name>\n<value><int>10</int></value>\n</member>\n<member>\n<name>faultString</name>\n<value><string>BAD_NAME: foo</string></value>\n</member>\n</struct></value>\n</fault>\n</methodResponse>\n";
const RESP_GROUP: &str = "<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n<value><array><data>\n<value><struct>\n<member>\n<name>name</name>\n<value><string>a</string></value>\n</member>\n<member>\n<name>group</name>\n<value><string>g</string></value>\n</member>\n<member>\n<name>status</name>\n<value><int>80</int></value>\n</member>\n<member>\n<name>description</name>\n<value><string>OK</string></value>\n</member>\n</struct></value>\n</data></array></value>\n</param>\n</params>\n</methodResponse>\n";

const CALL_VECTORS: [&str; 8] = [
    START_PROCESS,
    MULTICALL,
    UNICODE,
    BASE64,
    NIL_AND_EMPTY,
    NESTED,
    NO_ARGS,
    NUMS,
];

fn call(body: &str) -> MethodCall {
    match parse_method_call(body.as_bytes(), LIMIT) {
        Ok(c) => c,
        Err(e) => panic!("parse failed: {e}\n{body}"),
    }
}

fn call_err(body: &str) -> ParseError {
    match parse_method_call(body.as_bytes(), LIMIT) {
        Ok(c) => panic!("expected an error, parsed {c:?} from\n{body}"),
        Err(e) => e,
    }
}

fn wrap(value_xml: &str) -> String {
    format!("<methodCall><methodName>t.t</methodName><params><param>{value_xml}</param></params></methodCall>")
}

fn one(value_xml: &str) -> Value {
    let mut c = call(&wrap(value_xml));
    assert_eq!(c.params.len(), 1);
    c.params.remove(0)
}

fn one_err(value_xml: &str) -> ParseError {
    call_err(&wrap(value_xml))
}

#[test]
fn python_calls_parse_and_reencode_byte_for_byte() {
    let c = call(START_PROCESS);
    assert_eq!(c.name, "supervisor.startProcess");
    assert_eq!(c.params, vec![Value::from("web"), Value::Boolean(true)]);

    let c = call(MULTICALL);
    let calls: Vec<_> = c.params[0]
        .as_array()
        .expect("array")
        .iter()
        .map(MulticallCall::from_value)
        .collect();
    assert_eq!(
        calls,
        vec![
            Ok(MulticallCall::new("supervisor.getState", vec![])),
            Ok(MulticallCall::new(
                "supervisor.stopProcess",
                vec!["web".into(), false.into()]
            )),
        ]
    );

    assert_eq!(call(UNICODE).params, vec![Value::from("héllo ☃ <&> 𝄞")]);
    assert_eq!(
        call(BASE64).params,
        vec![Value::Base64(b"\x00\x01hello\xff".repeat(10))]
    );
    assert_eq!(
        call(NIL_AND_EMPTY).params,
        vec![Value::Nil, Value::from("")]
    );
    let nested = &call(NESTED).params[0];
    assert_eq!(
        nested.get("a").and_then(|a| a.get("b")),
        Some(&Value::Array(vec![
            Value::Int(1),
            Value::Int(2),
            Value::new_struct([("c", Value::Double(-3.5))]),
        ]))
    );
    assert_eq!(
        nested.get("d"),
        Some(&Value::DateTime("20240102T03:04:05".into()))
    );
    assert_eq!(call(NO_ARGS).params, vec![]);
    assert_eq!(
        call(NUMS).params,
        vec![
            Value::Int(i32::MAX),
            Value::Int(i32::MIN),
            Value::Double(1.0),
            Value::Double(1e100),
            Value::Double(0.1),
        ]
    );

    for vector in CALL_VECTORS {
        let c = call(vector);
        let ours = encode_method_call(&c.name, &c.params);
        assert_eq!(String::from_utf8_lossy(&ours), vector);
    }
}

#[test]
fn python_responses_parse_and_reencode_byte_for_byte() {
    let ok = parse_method_response(RESP_OK.as_bytes(), LIMIT).expect("parses");
    assert_eq!(ok, Ok(Value::from("ok")));
    assert_eq!(
        encode_method_response(&Value::from("ok")),
        RESP_OK.as_bytes()
    );

    let fault = parse_method_response(RESP_FAULT.as_bytes(), LIMIT).expect("parses");
    let expected = Fault::new(FaultCode::BadName, Some("foo"));
    assert_eq!(fault, Err(expected.clone()));
    assert_eq!(encode_fault(&expected), RESP_FAULT.as_bytes());
    assert_eq!(encode_response(&Err(expected)), RESP_FAULT.as_bytes());

    let group = parse_method_response(RESP_GROUP.as_bytes(), LIMIT)
        .expect("parses")
        .expect("not a fault");
    assert_eq!(encode_method_response(&group), RESP_GROUP.as_bytes());
}

#[test]
fn lenient_inputs_python_or_other_clients_may_send() {
    // Untyped values are strings, whitespace kept; empty forms of string.
    assert_eq!(one("<value>  spaced </value>"), Value::from("  spaced "));
    assert_eq!(one("<value></value>"), Value::from(""));
    assert_eq!(one("<value/>"), Value::from(""));
    assert_eq!(one("<value><string/></value>"), Value::from(""));
    // Whitespace around a typed element is ignored, inside a string it is kept.
    assert_eq!(
        one("<value>\n  <string> a\r\nb </string>\n</value>"),
        Value::from(" a\nb ")
    );
    // Integer spellings.
    assert_eq!(one("<value><i4>-7</i4></value>"), Value::Int(-7));
    assert_eq!(one("<value><int> +42 </int></value>"), Value::Int(42));
    assert_eq!(
        one("<value><i8>2147483647</i8></value>"),
        Value::Int(i32::MAX)
    );
    assert_eq!(one("<value><ex:i8>-5</ex:i8></value>"), Value::Int(-5));
    assert_eq!(
        one("<value><boolean>0</boolean></value>"),
        Value::Boolean(false)
    );
    assert_eq!(
        one("<value><double>1e3</double></value>"),
        Value::Double(1000.0)
    );
    assert_eq!(one("<value><ex:nil/></value>"), Value::Nil);
    assert_eq!(
        one("<value><base64></base64></value>"),
        Value::Base64(vec![])
    );
    assert_eq!(
        one("<value><array><data/></array></value>"),
        Value::Array(vec![])
    );
    assert_eq!(one("<value><array></array></value>"), Value::Array(vec![]));
    assert_eq!(one("<value><struct/></value>"), Value::Struct(vec![]));
    // Entities, character references, CDATA, comments.
    assert_eq!(
        one("<value>&lt;&gt;&amp;&quot;&apos;&#60;&#x3C;&#x1D11E;</value>"),
        Value::from("<>&\"'<<𝄞")
    );
    assert_eq!(
        one("<value><string><![CDATA[<raw & stuff>]]></string></value>"),
        Value::from("<raw & stuff>")
    );
    assert_eq!(
        one("<value><!-- hi --><int>1</int><!-- there --></value>"),
        Value::Int(1)
    );
    // Repeated struct member: first position, last value (Python dict semantics).
    assert_eq!(
        one("<value><struct><member><name>k</name><value>1</value></member><member><name>j</name><value>2</value></member><member><name>k</name><value>3</value></member></struct></value>"),
        Value::new_struct([("k", Value::from("3")), ("j", Value::from("2"))])
    );

    // Document-level leniency: BOM, declared UTF-8, pretty-printing, missing <params>,
    // <params/>, params before methodName.
    let pretty = "\u{feff}<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- c -->\n<methodCall>\n  <methodName>supervisor.getState</methodName>\n  <params>\n    <param>\n      <value>\n        <int>1</int>\n      </value>\n    </param>\n  </params>\n</methodCall>\n\n";
    assert_eq!(call(pretty).params, vec![Value::Int(1)]);
    let bare = call("<methodCall><methodName>supervisor.getPID</methodName></methodCall>");
    assert_eq!(
        (bare.name.as_str(), bare.params.len()),
        ("supervisor.getPID", 0)
    );
    assert_eq!(
        call("<methodCall><methodName>a.b</methodName><params/></methodCall>").params,
        vec![]
    );
    assert_eq!(
        call("<methodCall><params><param><value>x</value></param></params><methodName>a.b</methodName></methodCall>").name,
        "a.b"
    );
    // A non-UTF-8 declared encoding is fine for an all-ASCII body.
    assert_eq!(
        call("<?xml version='1.0' encoding='iso-8859-1'?><methodCall><methodName>a.b</methodName></methodCall>").name,
        "a.b"
    );
}

#[test]
fn nesting_limit() {
    let nest = |n: usize| {
        let open = "<value><array><data>".repeat(n);
        let close = "</data></array></value>".repeat(n);
        wrap(&format!("{open}<value>leaf</value>{close}"))
    };
    assert!(parse_method_call(nest(MAX_DEPTH).as_bytes(), LIMIT).is_ok());
    assert_eq!(
        call_err(&nest(MAX_DEPTH + 1)),
        ParseError::TooDeep { limit: MAX_DEPTH }
    );
    // Very deep garbage never recurses far (and never overflows the stack).
    assert_eq!(
        call_err(&nest(10_000)),
        ParseError::TooDeep { limit: MAX_DEPTH }
    );
    let structs = |n: usize| {
        let open = "<value><struct><member><name>k</name>".repeat(n);
        let close = "</member></struct></value>".repeat(n);
        wrap(&format!("{open}<value>leaf</value>{close}"))
    };
    assert!(parse_method_call(structs(MAX_DEPTH).as_bytes(), LIMIT).is_ok());
    assert_eq!(
        call_err(&structs(MAX_DEPTH + 1)),
        ParseError::TooDeep { limit: MAX_DEPTH }
    );
    let elements = format!("{}{}", "<a>".repeat(50_000), "</a>".repeat(50_000));
    assert!(parse_method_call(elements.as_bytes(), usize::MAX).is_err());
}

#[test]
fn malformed_inputs_name_the_problem() {
    use ParseError as E;

    // Size limit, checked before anything else.
    assert_eq!(
        parse_method_call(START_PROCESS.as_bytes(), 10),
        Err(E::TooLarge {
            size: START_PROCESS.len(),
            limit: 10
        })
    );
    // Non-UTF-8.
    let mut latin1 = wrap("<value>caf\u{e9}</value>").into_bytes();
    let pos = latin1.iter().position(|&b| b == 0xC3).expect("é");
    latin1.splice(pos..pos + 2, [0xE9]);
    assert_eq!(
        parse_method_call(&latin1, LIMIT),
        Err(E::NotUtf8 { offset: pos })
    );
    assert!(matches!(
        call_err("<?xml version='1.0' encoding='iso-8859-1'?><methodCall><methodName>é</methodName></methodCall>"),
        E::UnsupportedEncoding(e) if e == "iso-8859-1"
    ));
    // DOCTYPE / entity declarations (billion laughs) are refused before any expansion.
    let laughs = "<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;\">]><methodCall><methodName>&lol2;</methodName></methodCall>";
    assert_eq!(call_err(laughs), E::Doctype);
    assert!(matches!(
        call_err("<methodCall><methodName>&lol;</methodName></methodCall>"),
        E::UnknownEntity(e) if e == "lol"
    ));
    assert!(matches!(
        call_err("<methodCall><methodName>&#0;</methodName></methodCall>"),
        E::UnknownEntity(_)
    ));
    // Method name.
    assert_eq!(
        call_err("<methodCall><params/></methodCall>"),
        E::MissingMethodName
    );
    assert_eq!(
        call_err("<methodCall><methodName/></methodCall>"),
        E::EmptyMethodName
    );
    assert_eq!(
        call_err("<methodCall><methodName></methodName><params/></methodCall>"),
        E::EmptyMethodName
    );
    // Wrong tags.
    assert_eq!(
        call_err("<methodResponse><params/></methodResponse>"),
        E::Unexpected {
            found: "<methodResponse>".into(),
            expected: "<methodCall>".into()
        }
    );
    assert_eq!(
        call_err("<methodCall><methodName>a.b</methodName><params><value>1</value></params></methodCall>"),
        E::Unexpected {
            found: "<value>".into(),
            expected: "<param> or </params>".into()
        }
    );
    assert!(matches!(
        one_err("<value><struct><name>k</name></struct></value>"),
        E::Unexpected { found, .. } if found == "<name>"
    ));
    assert!(matches!(
        call_err("<methodCall><methodName>a<b/></methodName></methodCall>"),
        E::Unexpected { found, .. } if found == "<b>"
    ));
    assert!(matches!(
        call_err("<methodCall><methodName>a</methodName><methodName>b</methodName></methodCall>"),
        E::Unexpected { found, .. } if found == "<methodName>"
    ));
    // Mismatched end tag is a syntax error from the tokenizer.
    assert!(matches!(
        call_err("<methodCall><methodName>a.b</methodCall></methodName>"),
        E::Malformed { .. }
    ));
    assert!(matches!(call_err("<methodCall <"), E::Malformed { .. }));
    assert!(matches!(call_err(""), E::Truncated { .. }));
    assert!(matches!(call_err("   "), E::Truncated { .. }));
    assert!(matches!(call_err("garbage"), E::StrayText { .. }));
    // Stray text where only elements belong, mixed content in <value>.
    assert!(matches!(
        call_err("<methodCall>junk<methodName>a.b</methodName></methodCall>"),
        E::StrayText { text, .. } if text == "junk"
    ));
    assert!(matches!(
        one_err("<value>abc<int>1</int></value>"),
        E::StrayText { text, .. } if text == "abc"
    ));
    // Trailing content.
    assert_eq!(
        call_err("<methodCall><methodName>a.b</methodName></methodCall><x/>"),
        E::TrailingContent {
            found: "<x>".into()
        }
    );
    assert!(matches!(
        call_err("<methodCall><methodName>a.b</methodName></methodCall>tail"),
        E::TrailingContent { .. }
    ));
    // Scalars.
    assert_eq!(
        one_err("<value><int>12a</int></value>"),
        E::InvalidInt {
            tag: "int".into(),
            text: "12a".into()
        }
    );
    assert!(matches!(
        one_err("<value><int></int></value>"),
        E::InvalidInt { .. }
    ));
    assert!(matches!(
        one_err("<value><int>1.5</int></value>"),
        E::InvalidInt { .. }
    ));
    assert_eq!(
        one_err("<value><i8>2147483648</i8></value>"),
        E::IntOutOfRange {
            tag: "i8".into(),
            text: "2147483648".into()
        }
    );
    assert!(matches!(
        one_err("<value><int>99999999999999999999999</int></value>"),
        E::IntOutOfRange { .. }
    ));
    assert_eq!(
        one_err("<value><boolean>true</boolean></value>"),
        E::InvalidBoolean("true".into())
    );
    assert_eq!(
        one_err("<value><double>one</double></value>"),
        E::InvalidDouble("one".into())
    );
    assert!(matches!(
        one_err("<value><base64>AAF!</base64></value>"),
        E::InvalidBase64(why) if why.contains("'!'")
    ));
    assert!(matches!(
        one_err("<value><base64>A</base64></value>"),
        E::InvalidBase64(_)
    ));
    assert_eq!(
        one_err("<value><float32>1</float32></value>"),
        E::UnknownType("float32".into())
    );
    assert!(matches!(
        one_err("<value><nil>x</nil></value>"),
        E::StrayText { .. }
    ));
    assert!(matches!(
        one_err("<value><int><int>1</int></int></value>"),
        E::Unexpected { found, .. } if found == "<int>"
    ));
    // Errors render as readable messages.
    assert_eq!(
        one_err("<value><int>x</int></value>").to_string(),
        "invalid <int> value \"x\""
    );
}

#[test]
fn every_truncation_of_every_vector_is_an_error() {
    for vector in CALL_VECTORS {
        let end = vector.rfind("</methodCall>").expect("root end") + "</methodCall>".len();
        for cut in 0..end {
            if !vector.is_char_boundary(cut) {
                continue;
            }
            let r = parse_method_call(&vector.as_bytes()[..cut], LIMIT);
            assert!(r.is_err(), "prefix {cut} of {vector:?} parsed: {r:?}");
        }
        // Cutting inside a multibyte character gives NotUtf8.
        for cut in 0..end {
            if !vector.is_char_boundary(cut) {
                assert!(matches!(
                    parse_method_call(&vector.as_bytes()[..cut], LIMIT),
                    Err(ParseError::NotUtf8 { .. })
                ));
            }
        }
    }
    for vector in [RESP_OK, RESP_FAULT, RESP_GROUP] {
        let end = vector.rfind("</methodResponse>").expect("root end");
        for cut in 0..end {
            assert!(parse_method_response(&vector.as_bytes()[..cut], LIMIT).is_err());
        }
    }
}

#[test]
fn arbitrary_bytes_never_panic() {
    // A cheap deterministic fuzz: mutate the vectors byte by byte and splice fragments.
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut rand = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let pieces: [&[u8]; 10] = [
        b"<value>",
        b"</value>",
        b"<array><data>",
        b"<struct><member><name>",
        b"&#x",
        b"&",
        b"<![CDATA[",
        b"<!DOCTYPE",
        b"\xff",
        b"<?xml",
    ];
    for vector in CALL_VECTORS
        .iter()
        .chain([RESP_OK, RESP_FAULT, RESP_GROUP].iter())
    {
        for _ in 0..300 {
            let mut bytes = vector.as_bytes().to_vec();
            for _ in 0..(rand() % 4 + 1) {
                let at = (rand() as usize) % (bytes.len() + 1);
                match rand() % 3 {
                    0 if at < bytes.len() => bytes[at] = rand() as u8,
                    1 => {
                        let p = pieces[(rand() as usize) % pieces.len()];
                        bytes.splice(at..at, p.iter().copied());
                    }
                    _ => bytes.truncate(at),
                }
            }
            let _ = parse_method_call(&bytes, LIMIT);
            let _ = parse_method_response(&bytes, LIMIT);
        }
    }
}

#[test]
fn responses_reject_bad_shapes() {
    let r = |s: &str| parse_method_response(s.as_bytes(), LIMIT);
    assert_eq!(
        r("<methodResponse><params></params></methodResponse>"),
        Err(ParseError::ResponseParamCount(0))
    );
    assert_eq!(
        r("<methodResponse><params><param><value>a</value></param><param><value>b</value></param></params></methodResponse>"),
        Err(ParseError::ResponseParamCount(2))
    );
    assert!(matches!(
        r("<methodResponse><fault><value><struct><member><name>faultCode</name><value><string>x</string></value></member></struct></value></fault></methodResponse>"),
        Err(ParseError::InvalidFault(why)) if why == "faultCode is a string"
    ));
    assert!(matches!(
        r("<methodResponse><fault><value>oops</value></fault></methodResponse>"),
        Err(ParseError::InvalidFault(_))
    ));
    assert!(matches!(
        r("<methodResponse><bogus/></methodResponse>"),
        Err(ParseError::Unexpected { .. })
    ));
    assert!(matches!(
        r(START_PROCESS),
        Err(ParseError::Unexpected { found, .. }) if found == "<methodCall>"
    ));
}

#[test]
fn float_repr_matches_python() {
    let cases: [(f64, &str); 16] = [
        (1.0, "1.0"),
        (0.1, "0.1"),
        (-3.5, "-3.5"),
        (1e100, "1e+100"),
        (1e16, "1e+16"),
        (1e15, "1000000000000000.0"),
        (123456789.123, "123456789.123"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (1.5e-7, "1.5e-07"),
        (5e-324, "5e-324"),
        (f64::MAX, "1.7976931348623157e+308"),
        (-0.0, "-0.0"),
        (f64::INFINITY, "inf"),
        (f64::NEG_INFINITY, "-inf"),
        (f64::NAN, "nan"),
    ];
    for (v, s) in cases {
        assert_eq!(python_float_repr(v), s, "{v:e}");
    }
}

/// Runs `python3` with `script`, feeding `input` on stdin; returns stdout.
fn python(script: &str, input: &[u8]) -> Vec<u8> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = match Command::new("python3")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => panic!(
            "this test needs python3 on PATH to check that Python's xmlrpc.client reads our \
             output; could not run it: {e}"
        ),
    };
    let mut stdin = child.stdin.take().expect("stdin piped");
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().expect("python3 ran");
    writer.join().expect("writer thread").expect("wrote stdin");
    assert!(
        out.status.success(),
        "python3 failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Python loads every document we encode and dumps it again: the bytes must be identical,
/// which proves Python reads every value exactly as we meant it.
#[test]
fn python_reads_what_we_encode() {
    let info = Value::new_struct([
        ("name", Value::from("web")),
        ("group", Value::from("web")),
        ("description", Value::from("pid 42, uptime 0:00:17")),
        ("start", Value::Int(1_700_000_000)),
        ("state", Value::Int(20)),
        ("spawnerr", Value::from("")),
        ("pid", Value::Int(42)),
    ]);
    let tricky = Value::from("a < b && c > d ]]> 'q' \"dq\" \t tab é ☃ 𝄞 \u{7f}");
    let floats: Vec<Value> = [
        0.1,
        1e16,
        1e15,
        1e-5,
        -2.5e-300,
        5e-324,
        f64::MAX,
        123456789.123,
        f64::INFINITY,
        -0.0,
    ]
    .into_iter()
    .map(Value::Double)
    .collect();
    let docs: Vec<Vec<u8>> = vec![
        encode_method_response(&Value::from("ok")),
        encode_method_response(&Value::Boolean(true)),
        encode_method_response(&info),
        encode_method_response(&Value::Array(vec![info.clone(), info.clone()])),
        encode_method_response(&Value::Array(vec![])),
        encode_method_response(&Value::Struct(vec![])),
        encode_method_response(&tricky),
        encode_method_response(&Value::new_struct([("k&<>", tricky.clone())])),
        encode_method_response(&Value::Array(floats)),
        encode_method_response(&Value::Base64((0..=255).collect())),
        encode_method_response(&Value::Base64(vec![])),
        encode_method_response(&Value::DateTime("20240102T03:04:05".into())),
        encode_method_response(&Value::Array(vec![Value::Nil, Value::from("")])),
        encode_method_response(&Value::Array(vec![
            Value::Int(i32::MIN),
            Value::Int(i32::MAX),
        ])),
        encode_fault(&Fault::new(FaultCode::BadName, Some("x <&> y"))),
        encode_method_call("supervisor.startProcess", &["web".into(), true.into()]),
        encode_method_call("system.multicall", &[multicall_request_for_test()]),
        encode_method_call("supervisor.getAllProcessInfo", &[]),
        encode_method_call("x.n", &[Value::Nil, tricky]),
        encode_method_response(&Value::from(
            sanitize_xml_text("\u{1b}[31mred\u{1b}[0m\u{0}\n").into_owned(),
        )),
    ];
    let script = r#"
import sys, xmlrpc.client as x
out = []
for doc in sys.stdin.buffer.read().split(b"\0"):
    try:
        params, method = x.loads(doc)
        if method is None:
            out.append(x.dumps(params, methodresponse=True, allow_none=True))
        else:
            out.append(x.dumps(params, method, allow_none=True))
    except x.Fault as f:
        out.append(x.dumps(f))
sys.stdout.buffer.write(b"\0".join(s.encode("utf-8") for s in out))
"#;
    let output = python(script, &docs.join(&b"\0"[..]));
    let redumped: Vec<&[u8]> = output.split(|&b| b == 0).collect();
    assert_eq!(redumped.len(), docs.len());
    for (ours, theirs) in docs.iter().zip(redumped) {
        assert_eq!(
            String::from_utf8_lossy(ours),
            String::from_utf8_lossy(theirs),
            "Python re-dumped our document differently"
        );
    }
}

fn multicall_request_for_test() -> Value {
    faults::multicall_request(&[
        MulticallCall::new("supervisor.getState", vec![]),
        MulticallCall::new("supervisor.stopProcess", vec!["web".into(), false.into()]),
    ])
}

#[test]
fn sanitize_only_touches_forbidden_characters() {
    assert_eq!(sanitize_xml_text("a\tb\nc\r"), "a\tb\nc\r");
    assert!(matches!(
        sanitize_xml_text("plain é ☃"),
        std::borrow::Cow::Borrowed(_)
    ));
    assert_eq!(
        sanitize_xml_text("\u{1b}[0m\u{0}\u{ffff}"),
        "\u{fffd}[0m\u{fffd}\u{fffd}"
    );
}

/// And Python's dumps of arbitrary nested data parses to the same values on our side.
#[test]
fn we_read_what_python_generates() {
    let script = r#"
import sys, xmlrpc.client as x, datetime
docs = [
    x.dumps(({'a': [1, -2, 3.25, True, None, '', 'x&y', {'deep': [[[]]]}]},), 'a.b', allow_none=True),
    x.dumps((x.Binary(bytes(range(256))),), methodresponse=True),
    x.dumps(x.Fault(70, 'NOT_RUNNING: web')),
    x.dumps(('\u00e9\u2603\U0001d11e\t\n',), 'ns.m'),
]
sys.stdout.buffer.write(b"\0".join(d.encode("utf-8") for d in docs))
"#;
    let output = python(script, b"");
    let docs: Vec<&[u8]> = output.split(|&b| b == 0).collect();
    assert_eq!(docs.len(), 4);
    let c = parse_method_call(docs[0], LIMIT).expect("call parses");
    assert_eq!(c.name, "a.b");
    assert_eq!(
        c.params,
        vec![Value::new_struct([(
            "a",
            Value::Array(vec![
                Value::Int(1),
                Value::Int(-2),
                Value::Double(3.25),
                Value::Boolean(true),
                Value::Nil,
                Value::from(""),
                Value::from("x&y"),
                Value::new_struct([(
                    "deep",
                    Value::Array(vec![Value::Array(vec![Value::Array(vec![])])])
                )]),
            ])
        )])]
    );
    assert_eq!(
        parse_method_response(docs[1], LIMIT),
        Ok(Ok(Value::Base64((0..=255).collect())))
    );
    assert_eq!(
        parse_method_response(docs[2], LIMIT),
        Ok(Err(Fault::new(FaultCode::NotRunning, Some("web"))))
    );
    assert_eq!(
        parse_method_call(docs[3], LIMIT).map(|c| c.params),
        Ok(vec![Value::from("é☃𝄞\t\n")])
    );
}

#[test]
fn encoded_len_bound_is_an_upper_bound_and_close() {
    let values = [
        Value::Int(i32::MIN),
        Value::Boolean(true),
        Value::String("a<b>&c".repeat(50)),
        Value::Double(-1.234_567_890_123_456_7e-300),
        Value::DateTime("20240102T03:04:05".into()),
        Value::Base64((0..=255u8).collect()),
        Value::Nil,
        Value::Array(vec![
            Value::new_struct([("name<&>", Value::Int(3)), ("x", Value::from("y"))]),
            Value::Array(vec![]),
        ]),
    ];
    for v in values {
        let exact = encode_method_response(&v).len();
        let bound = encoded_len_bound(&v);
        // The envelope (`<?xml ...><methodResponse><params><param>`) is ~100 bytes.
        assert!(bound + 120 >= exact, "{v:?}: bound {bound} < {exact}");
        assert!(bound <= exact * 2, "{v:?}: bound {bound} far above {exact}");
    }
}
