//! Supervisor's fault codes (upstream-reference §4.2), the `Fault` value, and `system.multicall` helpers.
//!
//! Supervisor builds every fault string the same way (`RPCError(code, extra)`): the fault's
//! name, plus `": <extra>"` when there is extra text, or `UNKNOWN` for a code it does not know.
//! [`Fault::new`] and [`fault_string`] reproduce that so messages match byte for byte.

use std::fmt;

use super::value::Value;

/// The numeric fault codes of `supervisor.xmlrpc.Faults` (there is no code 5), for matching on a code received over the wire
/// (`match r.status { code::BAD_NAME => ... }`). [`FaultCode::code`] returns these.
pub mod code {
    pub const UNKNOWN_METHOD: i32 = 1;
    pub const INCORRECT_PARAMETERS: i32 = 2;
    pub const BAD_ARGUMENTS: i32 = 3;
    pub const SIGNATURE_UNSUPPORTED: i32 = 4;
    pub const SHUTDOWN_STATE: i32 = 6;
    pub const BAD_NAME: i32 = 10;
    pub const BAD_SIGNAL: i32 = 11;
    pub const NO_FILE: i32 = 20;
    pub const NOT_EXECUTABLE: i32 = 21;
    pub const FAILED: i32 = 30;
    pub const ABNORMAL_TERMINATION: i32 = 40;
    pub const SPAWN_ERROR: i32 = 50;
    pub const ALREADY_STARTED: i32 = 60;
    pub const NOT_RUNNING: i32 = 70;
    pub const SUCCESS: i32 = 80;
    pub const ALREADY_ADDED: i32 = 90;
    pub const STILL_RUNNING: i32 = 91;
    pub const CANT_REREAD: i32 = 92;
}

/// The faults of `supervisor.xmlrpc.Faults`, typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FaultCode {
    UnknownMethod,
    IncorrectParameters,
    BadArguments,
    SignatureUnsupported,
    ShutdownState,
    BadName,
    BadSignal,
    NoFile,
    NotExecutable,
    Failed,
    AbnormalTermination,
    SpawnError,
    AlreadyStarted,
    NotRunning,
    /// Only used as `status` 80 in group result structs (description `OK`).
    Success,
    AlreadyAdded,
    StillRunning,
    CantReread,
}

impl FaultCode {
    pub const ALL: [FaultCode; 18] = [
        FaultCode::UnknownMethod,
        FaultCode::IncorrectParameters,
        FaultCode::BadArguments,
        FaultCode::SignatureUnsupported,
        FaultCode::ShutdownState,
        FaultCode::BadName,
        FaultCode::BadSignal,
        FaultCode::NoFile,
        FaultCode::NotExecutable,
        FaultCode::Failed,
        FaultCode::AbnormalTermination,
        FaultCode::SpawnError,
        FaultCode::AlreadyStarted,
        FaultCode::NotRunning,
        FaultCode::Success,
        FaultCode::AlreadyAdded,
        FaultCode::StillRunning,
        FaultCode::CantReread,
    ];

    pub fn code(self) -> i32 {
        match self {
            FaultCode::UnknownMethod => code::UNKNOWN_METHOD,
            FaultCode::IncorrectParameters => code::INCORRECT_PARAMETERS,
            FaultCode::BadArguments => code::BAD_ARGUMENTS,
            FaultCode::SignatureUnsupported => code::SIGNATURE_UNSUPPORTED,
            FaultCode::ShutdownState => code::SHUTDOWN_STATE,
            FaultCode::BadName => code::BAD_NAME,
            FaultCode::BadSignal => code::BAD_SIGNAL,
            FaultCode::NoFile => code::NO_FILE,
            FaultCode::NotExecutable => code::NOT_EXECUTABLE,
            FaultCode::Failed => code::FAILED,
            FaultCode::AbnormalTermination => code::ABNORMAL_TERMINATION,
            FaultCode::SpawnError => code::SPAWN_ERROR,
            FaultCode::AlreadyStarted => code::ALREADY_STARTED,
            FaultCode::NotRunning => code::NOT_RUNNING,
            FaultCode::Success => code::SUCCESS,
            FaultCode::AlreadyAdded => code::ALREADY_ADDED,
            FaultCode::StillRunning => code::STILL_RUNNING,
            FaultCode::CantReread => code::CANT_REREAD,
        }
    }

    /// The attribute name in `Faults`, which is also the start of every fault string.
    pub fn name(self) -> &'static str {
        match self {
            FaultCode::UnknownMethod => "UNKNOWN_METHOD",
            FaultCode::IncorrectParameters => "INCORRECT_PARAMETERS",
            FaultCode::BadArguments => "BAD_ARGUMENTS",
            FaultCode::SignatureUnsupported => "SIGNATURE_UNSUPPORTED",
            FaultCode::ShutdownState => "SHUTDOWN_STATE",
            FaultCode::BadName => "BAD_NAME",
            FaultCode::BadSignal => "BAD_SIGNAL",
            FaultCode::NoFile => "NO_FILE",
            FaultCode::NotExecutable => "NOT_EXECUTABLE",
            FaultCode::Failed => "FAILED",
            FaultCode::AbnormalTermination => "ABNORMAL_TERMINATION",
            FaultCode::SpawnError => "SPAWN_ERROR",
            FaultCode::AlreadyStarted => "ALREADY_STARTED",
            FaultCode::NotRunning => "NOT_RUNNING",
            FaultCode::Success => "SUCCESS",
            FaultCode::AlreadyAdded => "ALREADY_ADDED",
            FaultCode::StillRunning => "STILL_RUNNING",
            FaultCode::CantReread => "CANT_REREAD",
        }
    }

    pub fn from_code(code: i32) -> Option<FaultCode> {
        Self::ALL.into_iter().find(|f| f.code() == code)
    }
}

/// `getFaultDescription(code)`: the fault name, or `UNKNOWN`.
pub fn fault_description(code: i32) -> &'static str {
    FaultCode::from_code(code).map_or("UNKNOWN", FaultCode::name)
}

/// `RPCError(code, extra).text`: `BAD_NAME` or `BAD_NAME: foo`.
pub fn fault_string(code: FaultCode, extra: Option<&str>) -> String {
    match extra {
        Some(extra) => format!("{}: {extra}", code.name()),
        None => code.name().to_owned(),
    }
}

/// An XML-RPC fault: `{faultCode: int, faultString: string}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub code: i32,
    pub string: String,
}

impl Fault {
    /// Supervisor's `RPCError(code, extra)`.
    pub fn new(code: FaultCode, extra: Option<&str>) -> Fault {
        Fault {
            code: code.code(),
            string: fault_string(code, extra),
        }
    }

    /// Like [`Fault::new`] for a raw code; an unknown code gets the name `UNKNOWN`.
    pub fn from_code(code: i32, extra: Option<&str>) -> Fault {
        let name = fault_description(code);
        Fault {
            code,
            string: match extra {
                Some(extra) => format!("{name}: {extra}"),
                None => name.to_owned(),
            },
        }
    }

    /// The known fault code, if it is one.
    pub fn kind(&self) -> Option<FaultCode> {
        FaultCode::from_code(self.code)
    }

    /// The struct Python's marshaller writes for a fault (`faultCode` first).
    pub fn to_value(&self) -> Value {
        Value::Struct(vec![
            ("faultCode".to_owned(), Value::Int(self.code)),
            ("faultString".to_owned(), Value::String(self.string.clone())),
        ])
    }

    /// Reads `{faultCode: int, faultString: string}`; the error says what is wrong.
    pub fn from_value(value: &Value) -> Result<Fault, String> {
        if value.as_struct().is_none() {
            return Err(format!("expected a struct, found {}", value.type_name()));
        }
        let code = match value.get("faultCode") {
            Some(Value::Int(c)) => *c,
            Some(other) => return Err(format!("faultCode is a {}", other.type_name())),
            None => return Err("missing faultCode".to_owned()),
        };
        let string = match value.get("faultString") {
            Some(Value::String(s)) => s.clone(),
            Some(other) => return Err(format!("faultString is a {}", other.type_name())),
            None => return Err("missing faultString".to_owned()),
        };
        Ok(Fault { code, string })
    }
}

impl fmt::Display for Fault {
    /// Like Python's `<Fault 10: 'BAD_NAME: foo'>`, without the brackets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fault {}: {:?}", self.code, self.string)
    }
}

impl std::error::Error for Fault {}

impl From<FaultCode> for Fault {
    fn from(code: FaultCode) -> Fault {
        Fault::new(code, None)
    }
}

// ------------------------------------------------------------------------------------------
// system.multicall

/// One entry of a `system.multicall` argument: `{methodName, params}`.
#[derive(Debug, Clone, PartialEq)]
pub struct MulticallCall {
    pub method_name: String,
    pub params: Vec<Value>,
}

impl MulticallCall {
    pub fn new(method_name: impl Into<String>, params: Vec<Value>) -> MulticallCall {
        MulticallCall {
            method_name: method_name.into(),
            params,
        }
    }

    /// `{methodName: name, params: [...]}` as a client sends it.
    pub fn to_value(&self) -> Value {
        Value::Struct(vec![
            (
                "methodName".to_owned(),
                Value::String(self.method_name.clone()),
            ),
            ("params".to_owned(), Value::Array(self.params.clone())),
        ])
    }

    /// Server side: validates one call the way Supervisor 4.3.0 does (upstream-reference §4.5). The `Err`
    /// is the fault to put in that call's result slot:
    /// missing `methodName` → `INCORRECT_PARAMETERS: No methodName`; a nested multicall →
    /// `INCORRECT_PARAMETERS: Recursive system.multicall forbidden`; a call that is not a
    /// struct, or a `methodName`/`params` of the wrong type → `FAILED: <python-ish detail>`.
    /// A missing `params` means no arguments.
    pub fn from_value(call: &Value) -> Result<MulticallCall, Fault> {
        if call.as_struct().is_none() {
            return Err(Fault::new(
                FaultCode::Failed,
                Some(&format!(
                    "<class 'AttributeError'>:'{}' object has no attribute 'get'",
                    python_type(call)
                )),
            ));
        }
        let method_name = match call.get("methodName") {
            None => {
                return Err(Fault::new(
                    FaultCode::IncorrectParameters,
                    Some("No methodName"),
                ))
            }
            Some(Value::String(s)) => s.clone(),
            Some(other) => {
                return Err(Fault::new(
                    FaultCode::Failed,
                    Some(&format!(
                        "<class 'AttributeError'>:'{}' object has no attribute 'split'",
                        python_type(other)
                    )),
                ))
            }
        };
        if method_name == "system.multicall" {
            return Err(Fault::new(
                FaultCode::IncorrectParameters,
                Some("Recursive system.multicall forbidden"),
            ));
        }
        let params = match call.get("params") {
            None => Vec::new(),
            Some(Value::Array(items)) => items.clone(),
            Some(other) => {
                return Err(Fault::new(
                    FaultCode::Failed,
                    Some(&format!(
                        "<class 'TypeError'>:params must be an array, not '{}'",
                        python_type(other)
                    )),
                ))
            }
        };
        Ok(MulticallCall {
            method_name,
            params,
        })
    }
}

fn python_type(v: &Value) -> &'static str {
    match v {
        Value::Int(_) => "int",
        Value::Boolean(_) => "bool",
        Value::String(_) => "str",
        Value::Double(_) => "float",
        Value::DateTime(_) => "datetime.datetime",
        Value::Base64(_) => "bytes",
        Value::Array(_) => "list",
        Value::Struct(_) => "dict",
        Value::Nil => "NoneType",
    }
}

/// Client side: the single `system.multicall` argument for `calls`.
pub fn multicall_request(calls: &[MulticallCall]) -> Value {
    Value::Array(calls.iter().map(MulticallCall::to_value).collect())
}

/// Server side: one result slot. Supervisor puts the plain return value there (not the
/// one-element array of the classic multicall convention), or the fault struct.
pub fn multicall_result_value(result: &Result<Value, Fault>) -> Value {
    match result {
        Ok(v) => v.clone(),
        Err(f) => f.to_value(),
    }
}

/// Server side: the whole `system.multicall` return value.
pub fn multicall_results_value(results: &[Result<Value, Fault>]) -> Value {
    Value::Array(results.iter().map(multicall_result_value).collect())
}

/// Client side: splits a `system.multicall` result into values and faults. A struct with
/// exactly the members `faultCode` (int) and `faultString` (string) is taken as a fault; a
/// method returning such a struct cannot be told apart (no Supervisor method does).
pub fn parse_multicall_results(value: &Value) -> Result<Vec<Result<Value, Fault>>, String> {
    let items = value
        .as_array()
        .ok_or_else(|| format!("multicall result is a {}, not an array", value.type_name()))?;
    Ok(items
        .iter()
        .map(|item| match item.as_struct() {
            Some(members) if members.len() == 2 => match Fault::from_value(item) {
                Ok(fault) => Err(fault),
                Err(_) => Ok(item.clone()),
            },
            _ => Ok(item.clone()),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_strings_match_supervisor() {
        let table: Vec<(i32, &str)> = FaultCode::ALL
            .iter()
            .map(|c| (c.code(), c.name()))
            .collect();
        assert_eq!(
            table,
            [
                (1, "UNKNOWN_METHOD"),
                (2, "INCORRECT_PARAMETERS"),
                (3, "BAD_ARGUMENTS"),
                (4, "SIGNATURE_UNSUPPORTED"),
                (6, "SHUTDOWN_STATE"),
                (10, "BAD_NAME"),
                (11, "BAD_SIGNAL"),
                (20, "NO_FILE"),
                (21, "NOT_EXECUTABLE"),
                (30, "FAILED"),
                (40, "ABNORMAL_TERMINATION"),
                (50, "SPAWN_ERROR"),
                (60, "ALREADY_STARTED"),
                (70, "NOT_RUNNING"),
                (80, "SUCCESS"),
                (90, "ALREADY_ADDED"),
                (91, "STILL_RUNNING"),
                (92, "CANT_REREAD"),
            ]
        );
        assert_eq!(FaultCode::from_code(5), None);
        assert_eq!(fault_description(5), "UNKNOWN");
        assert_eq!(
            fault_string(FaultCode::BadName, Some("foo")),
            "BAD_NAME: foo"
        );
        assert_eq!(fault_string(FaultCode::Failed, None), "FAILED");
        assert_eq!(Fault::from_code(999, Some("x")).string, "UNKNOWN: x");
        let f = Fault::new(FaultCode::NotRunning, Some("web"));
        assert_eq!((f.code, f.string.as_str()), (70, "NOT_RUNNING: web"));
        assert_eq!(f.kind(), Some(FaultCode::NotRunning));
        assert_eq!(
            Fault::from(FaultCode::ShutdownState).string,
            "SHUTDOWN_STATE"
        );
        assert_eq!(f.to_string(), "Fault 70: \"NOT_RUNNING: web\"");
    }

    #[test]
    fn fault_value_round_trip_and_errors() {
        let f = Fault::new(FaultCode::BadName, Some("nope"));
        assert_eq!(Fault::from_value(&f.to_value()), Ok(f));
        assert!(Fault::from_value(&Value::Int(1))
            .unwrap_err()
            .contains("struct"));
        let no_code = Value::new_struct([("faultString", Value::from("x"))]);
        assert_eq!(
            Fault::from_value(&no_code).unwrap_err(),
            "missing faultCode"
        );
        let bad_code = Value::new_struct([
            ("faultCode", Value::from("1")),
            ("faultString", Value::from("x")),
        ]);
        assert_eq!(
            Fault::from_value(&bad_code).unwrap_err(),
            "faultCode is a string"
        );
    }

    #[test]
    fn multicall_call_validation_matches_spec() {
        let ok = MulticallCall::new("supervisor.stopProcess", vec!["web".into(), false.into()]);
        assert_eq!(MulticallCall::from_value(&ok.to_value()), Ok(ok));

        let no_params = Value::new_struct([("methodName", Value::from("supervisor.getState"))]);
        assert_eq!(
            MulticallCall::from_value(&no_params),
            Ok(MulticallCall::new("supervisor.getState", vec![]))
        );

        let missing = Value::new_struct([("params", Value::Array(vec![]))]);
        assert_eq!(
            MulticallCall::from_value(&missing),
            Err(Fault {
                code: 2,
                string: "INCORRECT_PARAMETERS: No methodName".into()
            })
        );

        let nested = MulticallCall::new("system.multicall", vec![]).to_value();
        assert_eq!(
            MulticallCall::from_value(&nested),
            Err(Fault {
                code: 2,
                string: "INCORRECT_PARAMETERS: Recursive system.multicall forbidden".into()
            })
        );

        let not_struct = MulticallCall::from_value(&Value::from("x")).unwrap_err();
        assert_eq!(not_struct.code, 30);
        assert!(not_struct
            .string
            .starts_with("FAILED: <class 'AttributeError'>:'str'"));
        let bad_params = Value::new_struct([
            ("methodName", Value::from("a.b")),
            ("params", Value::from("x")),
        ]);
        assert_eq!(MulticallCall::from_value(&bad_params).unwrap_err().code, 30);
    }

    #[test]
    fn multicall_results_both_ways() {
        let fault = Fault::new(FaultCode::BadName, Some("x"));
        let results = vec![
            Ok(Value::Boolean(true)),
            Err(fault.clone()),
            Ok(Value::new_struct([("statecode", Value::Int(1))])),
        ];
        let wire = multicall_results_value(&results);
        assert_eq!(
            wire.as_array().map(|a| a[0].clone()),
            Some(Value::Boolean(true))
        );
        assert_eq!(parse_multicall_results(&wire), Ok(results));
        assert!(parse_multicall_results(&Value::Int(1)).is_err());
        let req = multicall_request(&[MulticallCall::new("a.b", vec![])]);
        assert_eq!(req.as_array().map(<[_]>::len), Some(1));
    }
}
