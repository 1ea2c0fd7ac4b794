//! Quantities as profiles and thresholds write them: byte sizes (`4KiB`, `1.5MB`, `1024`) and
//! durations (`250ms`, `2s`, `1m30s`, `1h`).

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer};

/// Why a quantity did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not a {what}: {hint}")]
pub struct QuantityError {
    text: String,
    what: &'static str,
    hint: &'static str,
}

/// A size in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, serde::Serialize)]
pub struct Bytes(pub u64);

/// A duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, serde::Serialize)]
pub struct Span(#[serde(with = "millis")] pub Duration);

mod millis {
    pub fn serialize<S: serde::Serializer>(d: &std::time::Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::Span(*d).to_string())
    }
}

const SIZE_HINT: &str = "write bytes as a number or with a unit: B, KB, MB, GB (1000s) or KiB, MiB, GiB (1024s)";
const SPAN_HINT: &str = "write a duration with units: us, ms, s, m, h (250ms, 2s, 1m30s)";

/// Splits `12.5MiB` into (12.5, "MiB").
fn number_and_unit(text: &str) -> Option<(f64, &str)> {
    let t = text.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let num: f64 = num.replace('_', "").parse().ok()?;
    (num.is_finite() && num >= 0.0).then_some((num, unit.trim()))
}

impl std::str::FromStr for Bytes {
    type Err = QuantityError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let err = || QuantityError { text: text.into(), what: "size", hint: SIZE_HINT };
        let (n, unit) = number_and_unit(text).ok_or_else(err)?;
        let scale: u64 = match unit {
            "" | "B" => 1,
            "KB" | "kB" => 1000,
            "MB" => 1000 * 1000,
            "GB" => 1000 * 1000 * 1000,
            "TB" => 1000u64.pow(4),
            "KiB" => 1 << 10,
            "MiB" => 1 << 20,
            "GiB" => 1 << 30,
            "TiB" => 1 << 40,
            _ => return Err(err()),
        };
        Ok(Bytes((n * scale as f64).round() as u64))
    }
}

impl std::fmt::Display for Bytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let b = self.0;
        let units = [(1u64 << 40, "TiB"), (1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
        for (scale, unit) in units {
            if b >= scale {
                let v = b as f64 / scale as f64;
                return if b.is_multiple_of(scale) {
                    write!(f, "{}{unit}", b / scale)
                } else {
                    write!(f, "{v:.1}{unit}")
                };
            }
        }
        write!(f, "{b}B")
    }
}

impl std::str::FromStr for Span {
    type Err = QuantityError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let err = || QuantityError { text: text.into(), what: "duration", hint: SPAN_HINT };
        let mut rest = text.trim();
        if rest.is_empty() {
            return Err(err());
        }
        let mut total = 0f64;
        while !rest.is_empty() {
            let split = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).ok_or_else(err)?;
            if split == 0 {
                return Err(err());
            }
            let (num, tail) = rest.split_at(split);
            let n: f64 = num.parse().map_err(|_| err())?;
            let unit_len = tail.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(tail.len());
            let (unit, tail) = tail.split_at(unit_len);
            let seconds = match unit.trim() {
                "us" | "µs" => 0.000_001,
                "ms" => 0.001,
                "s" => 1.0,
                "m" | "min" => 60.0,
                "h" => 3600.0,
                _ => return Err(err()),
            };
            total += n * seconds;
            rest = tail.trim_start();
        }
        Ok(Span(Duration::from_secs_f64(total)))
    }
}

impl std::fmt::Display for Span {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = self.0.as_secs_f64() * 1000.0;
        if ms < 1.0 {
            write!(f, "{}us", (ms * 1000.0).round())
        } else if ms < 1000.0 {
            write!(f, "{}ms", (ms * 100.0).round() / 100.0)
        } else if ms < 60_000.0 {
            write!(f, "{}s", (ms / 10.0).round() / 100.0)
        } else {
            let s = self.0.as_secs();
            write!(f, "{}m{}s", s / 60, s % 60)
        }
    }
}

/// A number, or a string with a unit.
#[derive(Deserialize)]
#[serde(untagged)]
enum Written {
    Number(u64),
    Text(String),
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Written::deserialize(d)? {
            Written::Number(n) => Ok(Bytes(n)),
            Written::Text(t) => t.parse().map_err(serde::de::Error::custom),
        }
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Written::deserialize(d)? {
            Written::Number(_) => Err(serde::de::Error::custom(SPAN_HINT)),
            Written::Text(t) => t.parse().map_err(serde::de::Error::custom),
        }
    }
}

impl JsonSchema for Bytes {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Bytes".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "Bytes: a number, or a string with a unit (4KiB, 1.5MB, 10MiB)",
            "anyOf": [
                { "type": "integer", "minimum": 0 },
                { "type": "string", "pattern": "^[0-9_.]+ *(B|KB|kB|MB|GB|TB|KiB|MiB|GiB|TiB)?$" }
            ]
        })
    }
}

impl JsonSchema for Span {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A duration with units: 250ms, 2s, 1m30s, 1h",
            "type": "string",
            "pattern": "^([0-9.]+ *(us|µs|ms|s|m|min|h) *)+$"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations_parse_as_written() {
        assert_eq!("4KiB".parse::<Bytes>().unwrap(), Bytes(4096));
        assert_eq!("1.5MB".parse::<Bytes>().unwrap(), Bytes(1_500_000));
        assert_eq!("10 MiB".parse::<Bytes>().unwrap(), Bytes(10 << 20));
        assert_eq!("1_000".parse::<Bytes>().unwrap(), Bytes(1000));
        assert_eq!("250ms".parse::<Span>().unwrap().0, Duration::from_millis(250));
        assert_eq!("1m30s".parse::<Span>().unwrap().0, Duration::from_secs(90));
        assert_eq!("1.5s".parse::<Span>().unwrap().0, Duration::from_millis(1500));
        let e = "2 parsecs".parse::<Span>().unwrap_err().to_string();
        assert!(e.contains("\"2 parsecs\" is not a duration") && e.contains("ms, s, m, h"), "{e}");
        assert!("4 KB!".parse::<Bytes>().is_err());
        assert!("".parse::<Span>().is_err());
        assert_eq!(Bytes(4096).to_string(), "4KiB");
        assert_eq!(Span(Duration::from_millis(1500)).to_string(), "1.5s");
    }
}
