//! Intrinsic functions (`States.Format(...)` and the rest of the documented set), evaluated in
//! Parameters and ResultSelector values of `.$` keys. Arguments are string literals in single
//! quotes (`\'`, `\{`, `\}`, `\\` escapes), numbers, booleans, `null`, paths, or nested calls.

use base64::Engine;
use serde_json::{Map, Value, json};

use super::paths;

/// Why an intrinsic failed: `States.Runtime`, or `States.IntrinsicFailure` as AWS names it.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct IntrinsicError {
    /// Error name.
    pub error: &'static str,
    /// What went wrong.
    pub message: String,
}

fn fail(message: impl Into<String>) -> IntrinsicError {
    IntrinsicError { error: "States.IntrinsicFailure", message: message.into() }
}

#[derive(Debug, Clone)]
enum Arg {
    Literal(Value),
    Path(String),
    Call(String, Vec<Arg>),
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn expect(&mut self, c: char) -> Result<(), IntrinsicError> {
        self.skip_ws();
        if self.peek() == Some(c) {
            self.pos += c.len_utf8();
            Ok(())
        } else {
            Err(fail(format!("expected '{c}' at offset {} of {}", self.pos, self.text)))
        }
    }

    fn call(&mut self) -> Result<Arg, IntrinsicError> {
        self.skip_ws();
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || c == '.') {
            self.pos += 1;
        }
        let name = self.text[start..self.pos].to_string();
        self.expect('(')?;
        let mut args = Vec::new();
        self.skip_ws();
        if self.peek() == Some(')') {
            self.pos += 1;
            return Ok(Arg::Call(name, args));
        }
        loop {
            args.push(self.arg()?);
            self.skip_ws();
            match self.peek() {
                Some(',') => self.pos += 1,
                Some(')') => {
                    self.pos += 1;
                    return Ok(Arg::Call(name, args));
                }
                _ => return Err(fail(format!("expected ',' or ')' in {}", self.text))),
            }
        }
    }

    fn arg(&mut self) -> Result<Arg, IntrinsicError> {
        self.skip_ws();
        let rest = &self.text[self.pos..];
        if rest.starts_with('\'') {
            let mut out = String::new();
            let mut chars = rest.char_indices().skip(1);
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            // Keep \{ and \} escaped for States.Format; others become the char.
                            if n == '{' || n == '}' {
                                out.push('\\');
                            }
                            out.push(n);
                        }
                    }
                    '\'' => {
                        self.pos += i + 1;
                        return Ok(Arg::Literal(Value::String(out)));
                    }
                    c => out.push(c),
                }
            }
            return Err(fail(format!("unterminated string in {}", self.text)));
        }
        if rest.starts_with('$') {
            let end = rest.find([',', ')']).unwrap_or(rest.len());
            self.pos += end;
            return Ok(Arg::Path(rest[..end].trim().to_string()));
        }
        if rest.starts_with("States.") {
            return self.call();
        }
        let end = rest.find([',', ')']).unwrap_or(rest.len());
        let token = rest[..end].trim();
        self.pos += end;
        serde_json::from_str(token)
            .map(Arg::Literal)
            .map_err(|_| fail(format!("invalid argument {token:?} in {}", self.text)))
    }
}

/// Whether a `.$` value is an intrinsic call rather than a path.
pub fn is_intrinsic(text: &str) -> bool {
    text.trim_start().starts_with("States.")
}

/// Evaluates an intrinsic expression against the state's input and the context object.
pub fn evaluate(text: &str, input: &Value, context: &Value) -> Result<Value, IntrinsicError> {
    let mut p = Parser { text, pos: 0 };
    let call = p.call()?;
    p.skip_ws();
    if p.pos != text.len() {
        return Err(fail(format!("unexpected text after the call in {text}")));
    }
    eval(&call, input, context)
}

fn eval(arg: &Arg, input: &Value, ctx: &Value) -> Result<Value, IntrinsicError> {
    match arg {
        Arg::Literal(v) => Ok(v.clone()),
        Arg::Path(p) => paths::select(p, input, ctx, "intrinsic argument")
            .map_err(|e| IntrinsicError { error: "States.Runtime", message: e.message }),
        Arg::Call(name, args) => {
            let values = args.iter().map(|a| eval(a, input, ctx)).collect::<Result<Vec<_>, _>>()?;
            call(name, values)
        }
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn want_str<'a>(name: &str, v: &'a Value) -> Result<&'a str, IntrinsicError> {
    v.as_str().ok_or_else(|| fail(format!("{name}: expected a string argument, got {v}")))
}

fn want_int(name: &str, v: &Value) -> Result<i64, IntrinsicError> {
    v.as_i64()
        .or_else(|| v.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
        .ok_or_else(|| fail(format!("{name}: expected an integer, got {v}")))
}

fn arity(name: &str, args: &[Value], n: std::ops::RangeInclusive<usize>) -> Result<(), IntrinsicError> {
    if n.contains(&args.len()) {
        Ok(())
    } else {
        Err(fail(format!("{name} takes {n:?} arguments, got {}", args.len())))
    }
}

fn call(name: &str, args: Vec<Value>) -> Result<Value, IntrinsicError> {
    match name {
        "States.Format" => {
            arity(name, &args, 1..=usize::MAX)?;
            let template = want_str(name, &args[0])?;
            let mut out = String::new();
            let mut rest = args[1..].iter();
            let mut chars = template.chars().peekable();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => out.extend(chars.next()),
                    '{' if chars.peek() == Some(&'}') => {
                        chars.next();
                        let v = rest.next().ok_or_else(|| fail("States.Format: more {} than arguments"))?;
                        if v.is_object() || v.is_array() {
                            return Err(fail("States.Format arguments must be strings, numbers, booleans or null"));
                        }
                        out.push_str(&text(v));
                    }
                    c => out.push(c),
                }
            }
            if rest.next().is_some() {
                return Err(fail("States.Format: more arguments than {}"));
            }
            Ok(Value::String(out))
        }
        "States.StringToJson" => {
            arity(name, &args, 1..=1)?;
            serde_json::from_str(want_str(name, &args[0])?).map_err(|e| fail(format!("{name}: {e}")))
        }
        "States.JsonToString" => {
            arity(name, &args, 1..=1)?;
            Ok(Value::String(args[0].to_string()))
        }
        "States.Array" => Ok(Value::Array(args)),
        "States.ArrayPartition" => {
            arity(name, &args, 2..=2)?;
            let items = args[0].as_array().ok_or_else(|| fail("States.ArrayPartition: expected an array"))?;
            let size = want_int(name, &args[1])?;
            if size <= 0 {
                return Err(fail("States.ArrayPartition: chunk size must be positive"));
            }
            Ok(Value::Array(items.chunks(size as usize).map(|c| Value::Array(c.to_vec())).collect()))
        }
        "States.ArrayContains" => {
            arity(name, &args, 2..=2)?;
            let items = args[0].as_array().ok_or_else(|| fail("States.ArrayContains: expected an array"))?;
            Ok(Value::Bool(items.contains(&args[1])))
        }
        "States.ArrayRange" => {
            arity(name, &args, 3..=3)?;
            let (a, b, step) = (want_int(name, &args[0])?, want_int(name, &args[1])?, want_int(name, &args[2])?);
            if step == 0 {
                return Err(fail("States.ArrayRange: step must not be 0"));
            }
            let mut out = Vec::new();
            let mut i = a;
            while (step > 0 && i <= b) || (step < 0 && i >= b) {
                out.push(json!(i));
                if out.len() > 1000 {
                    return Err(fail("States.ArrayRange: at most 1000 items"));
                }
                match i.checked_add(step) {
                    Some(next) => i = next,
                    None => break,
                }
            }
            Ok(Value::Array(out))
        }
        "States.ArrayGetItem" => {
            arity(name, &args, 2..=2)?;
            let items = args[0].as_array().ok_or_else(|| fail("States.ArrayGetItem: expected an array"))?;
            let i = want_int(name, &args[1])?;
            items.get(i as usize).cloned().ok_or_else(|| fail(format!("States.ArrayGetItem: index {i} out of bounds")))
        }
        "States.ArrayLength" => {
            arity(name, &args, 1..=1)?;
            Ok(json!(args[0].as_array().ok_or_else(|| fail("States.ArrayLength: expected an array"))?.len()))
        }
        "States.ArrayUnique" => {
            arity(name, &args, 1..=1)?;
            let items = args[0].as_array().ok_or_else(|| fail("States.ArrayUnique: expected an array"))?;
            let mut out: Vec<Value> = Vec::new();
            for v in items {
                if !out.contains(v) {
                    out.push(v.clone());
                }
            }
            Ok(Value::Array(out))
        }
        "States.Base64Encode" => {
            arity(name, &args, 1..=1)?;
            Ok(Value::String(base64::engine::general_purpose::STANDARD.encode(want_str(name, &args[0])?)))
        }
        "States.Base64Decode" => {
            arity(name, &args, 1..=1)?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(want_str(name, &args[0])?)
                .map_err(|e| fail(format!("{name}: {e}")))?;
            String::from_utf8(bytes).map(Value::String).map_err(|e| fail(format!("{name}: {e}")))
        }
        "States.Hash" => {
            arity(name, &args, 2..=2)?;
            let data = text(&args[0]);
            use sha2::Digest;
            let digest = match want_str(name, &args[1])? {
                "MD5" => hex::encode(md5::Md5::digest(data.as_bytes())),
                "SHA-1" => hex::encode(sha1::Sha1::digest(data.as_bytes())),
                "SHA-256" => hex::encode(sha2::Sha256::digest(data.as_bytes())),
                "SHA-384" => hex::encode(sha2::Sha384::digest(data.as_bytes())),
                "SHA-512" => hex::encode(sha2::Sha512::digest(data.as_bytes())),
                other => {
                    return Err(fail(format!(
                        "States.Hash: unsupported algorithm {other} (MD5, SHA-1, SHA-256, SHA-384, SHA-512)"
                    )));
                }
            };
            Ok(Value::String(digest))
        }
        "States.JsonMerge" => {
            arity(name, &args, 3..=3)?;
            if args[2] != Value::Bool(false) {
                return Err(fail("States.JsonMerge: only shallow merges (false) are supported, as in AWS"));
            }
            let (Some(a), Some(b)) = (args[0].as_object(), args[1].as_object()) else {
                return Err(fail("States.JsonMerge: expected two objects"));
            };
            let mut out: Map<String, Value> = a.clone();
            out.extend(b.clone());
            Ok(Value::Object(out))
        }
        "States.MathRandom" => {
            arity(name, &args, 2..=3)?;
            let (lo, hi) = (want_int(name, &args[0])?, want_int(name, &args[1])?);
            if hi <= lo {
                return Err(fail("States.MathRandom: end must be greater than start"));
            }
            let span = (hi as i128 - lo as i128) as u128;
            Ok(json!((lo as i128 + (uuid::Uuid::new_v4().as_u128() % span) as i128) as i64))
        }
        "States.MathAdd" => {
            arity(name, &args, 2..=2)?;
            let (a, b) = (want_int(name, &args[0])?, want_int(name, &args[1])?);
            // Found by the state_machine fuzz target: an i64 sum could overflow.
            a.checked_add(b).map(|n| json!(n)).ok_or_else(|| fail("States.MathAdd: the sum is out of range"))
        }
        "States.StringSplit" => {
            arity(name, &args, 2..=2)?;
            let (s, sep) = (want_str(name, &args[0])?, want_str(name, &args[1])?);
            let parts: Vec<Value> = s
                .split(|c: char| sep.contains(c))
                .filter(|p| !p.is_empty())
                .map(|p| Value::String(p.to_string()))
                .collect();
            Ok(Value::Array(parts))
        }
        "States.UUID" => {
            arity(name, &args, 0..=0)?;
            Ok(Value::String(uuid::Uuid::new_v4().to_string()))
        }
        other => Err(fail(format!("unknown intrinsic function {other}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(text: &str, input: Value) -> Value {
        evaluate(text, &input, &json!({"Execution": {"Id": "arn:x"}})).unwrap()
    }

    /// Regressions from the state_machine fuzz target: sums and ranges at the ends of i64.
    #[test]
    fn integer_extremes_fail_or_stop_instead_of_overflowing() {
        let ctx = json!({});
        let err = evaluate("States.MathAdd($.n, 1)", &json!({"n": i64::MAX}), &ctx).unwrap_err();
        assert!(err.message.contains("out of range"), "{}", err.message);
        assert_eq!(
            ev("States.ArrayRange($.a, $.b, 5)", json!({"a": i64::MAX - 1, "b": i64::MAX})),
            json!([i64::MAX - 1])
        );
        let r = ev("States.MathRandom($.lo, $.hi)", json!({"lo": i64::MIN, "hi": i64::MAX}));
        assert!(r.is_i64(), "{r}");
    }

    #[test]
    fn documented_examples() {
        assert_eq!(
            ev("States.Format('Hello, my name is {}.', $.name)", json!({"name": "Arnav"})),
            json!("Hello, my name is Arnav.")
        );
        assert_eq!(ev("States.StringToJson($.s)", json!({"s": "{\"number\": 20}"})), json!({"number": 20}));
        assert_eq!(ev("States.JsonToString($.o)", json!({"o": {"a": 1}})), json!("{\"a\":1}"));
        assert_eq!(ev("States.Array('Foo', 2020, $.x, null)", json!({"x": true})), json!(["Foo", 2020, true, null]));
        assert_eq!(
            ev("States.ArrayPartition($.a, 4)", json!({"a": [1, 2, 3, 4, 5, 6, 7, 8, 9]})),
            json!([[1, 2, 3, 4], [5, 6, 7, 8], [9]])
        );
        assert_eq!(ev("States.ArrayContains($.a, 5)", json!({"a": [1, 5]})), json!(true));
        assert_eq!(ev("States.ArrayRange(1, 9, 2)", json!({})), json!([1, 3, 5, 7, 9]));
        assert_eq!(ev("States.ArrayGetItem($.a, 1)", json!({"a": [1, 2, 3]})), json!(2));
        assert_eq!(ev("States.ArrayLength($.a)", json!({"a": [1, 2, 3]})), json!(3));
        assert_eq!(ev("States.ArrayUnique($.a)", json!({"a": [1, 2, 1, 3, 3]})), json!([1, 2, 3]));
        assert_eq!(ev("States.Base64Encode($.s)", json!({"s": "Data to encode"})), json!("RGF0YSB0byBlbmNvZGU="));
        assert_eq!(ev("States.Base64Decode('RGF0YSB0byBlbmNvZGU=')", json!({})), json!("Data to encode"));
        assert_eq!(
            ev("States.Hash($.d, 'SHA-1')", json!({"d": "input data"})),
            json!("aaff4a450a104cd177d28d18d74485e8cae074b7")
        );
        assert_eq!(
            ev("States.JsonMerge($.a, $.b, false)", json!({"a": {"x": 1, "y": 1}, "b": {"y": 2}})),
            json!({"x": 1, "y": 2})
        );
        assert_eq!(ev("States.MathAdd($.n, -1)", json!({"n": 111})), json!(110));
        assert_eq!(ev("States.StringSplit($.s, ',')", json!({"s": "1,2,3,4,5"})), json!(["1", "2", "3", "4", "5"]));
        assert_eq!(ev("States.UUID()", json!({})).as_str().unwrap().len(), 36);
        assert_eq!(ev("States.Format('{}', $$.Execution.Id)", json!({})), json!("arn:x"));
    }

    #[test]
    fn nesting_and_escapes() {
        let id = ev(
            "States.Hash(States.Format('{}/{}#{}', $.b, $.k, $.v), 'SHA-256')",
            json!({"b": "b", "k": "k", "v": ""}),
        );
        use sha2::Digest;
        assert_eq!(id, json!(hex::encode(sha2::Sha256::digest(b"b/k#"))));
        assert_eq!(ev(r"States.Format('a \{\} {} it\'s', $.x)", json!({"x": 1})), json!("a {} 1 it's"));
    }

    #[test]
    fn errors_are_named() {
        assert_eq!(evaluate("States.Nope()", &json!({}), &json!({})).unwrap_err().error, "States.IntrinsicFailure");
        assert_eq!(
            evaluate("States.Format('{}', $.missing)", &json!({}), &json!({})).unwrap_err().error,
            "States.Runtime"
        );
    }
}
