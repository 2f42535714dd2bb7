//! Durations as written in playbooks: `30s`, `5m`, `1h30m`, `500ms`, or a number of seconds.

use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, Deserialize, Deserializer, Visitor};
use serde::{Serialize, Serializer};

/// The longest duration accepted anywhere: timeouts, waits, intervals, retry delays, approval
/// timeouts, guard periods, schedule catch-up windows and `--lock-wait`.
///
/// A year (a leap year's 366 days) is longer than any wait an operational procedure has a use
/// for (the longest real ones are approval windows over a long weekend and yearly drills),
/// and it keeps `Instant::now() + d`, retry delays multiplied by their backoff, and the
/// conversions to whole seconds that Kubernetes and chrono take far from any overflow.
pub const MAX_DURATION_SECS: u64 = 366 * 24 * 3600;

/// [`MAX_DURATION_SECS`] as written in messages and docs.
pub const MAX_DURATION_TEXT: &str = "366d";

/// A duration of at most [`Duration::MAX`]: every way of reading one (YAML, `FromStr` for
/// command-line flags) rejects a longer one, so code that adds it to an `Instant` or
/// multiplies it cannot overflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(pub std::time::Duration);

impl Duration {
    /// The longest duration runbook accepts (366 days; see [`MAX_DURATION_SECS`]).
    pub const MAX: Duration = Duration(std::time::Duration::from_secs(MAX_DURATION_SECS));

    pub fn from_secs(s: u64) -> Self {
        Duration(std::time::Duration::from_secs(s))
    }

    /// `d`, unless it is longer than [`Duration::MAX`]; `written` is how the user wrote it.
    pub fn bounded(d: std::time::Duration, written: &str) -> Result<Self, String> {
        if d > Duration::MAX.0 {
            Err(too_long(written))
        } else {
            Ok(Duration(d))
        }
    }
    pub fn std(&self) -> std::time::Duration {
        self.0
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        // humantime prints "1h 30m"; playbooks write it without spaces.
        let s = humantime::format_duration(self.0).to_string().replace(' ', "");
        f.write_str(if s.is_empty() { "0s" } else { &s })
    }
}

impl std::str::FromStr for Duration {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
            // All digits, so the only way to fail is a number past u64.
            return match t.parse::<u64>() {
                Ok(secs) if secs <= MAX_DURATION_SECS => Ok(Duration::from_secs(secs)),
                _ => Err(too_long(t)),
            };
        }
        match humantime::parse_duration(t) {
            Ok(d) => Duration::bounded(d, t),
            Err(humantime::DurationError::NumberOverflow) => Err(too_long(t)),
            Err(_) => Err(format!(
                "`{s}` is not a duration: write it like 30s, 5m, 1h30m or 500ms"
            )),
        }
    }
}

fn too_long(written: &str) -> String {
    format!("`{written}` is longer than the longest duration runbook accepts ({MAX_DURATION_TEXT})")
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Duration;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration like 30s, 5m or 1h30m")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
                if v > MAX_DURATION_SECS {
                    return Err(E::custom(too_long(&v.to_string())));
                }
                Ok(Duration::from_secs(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
                match u64::try_from(v) {
                    Ok(secs) => self.visit_u64(secs),
                    Err(_) => Err(E::custom(format!("a duration cannot be negative ({v})"))),
                }
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
                v.parse().map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for Duration {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A duration: 30s, 5m, 1h30m, 500ms, or a number of seconds; at most 366d",
            "anyOf": [
                { "type": "string", "pattern": "^\\s*([0-9]+(\\.[0-9]+)?\\s*(ns|us|ms|s|sec|secs|m|min|mins|h|hr|hrs|d|days|w|weeks)\\s*)+$" },
                { "type": "integer", "minimum": 0, "maximum": MAX_DURATION_SECS }
            ]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_the_usual_forms() {
        for (text, shown) in [
            ("30s", "30s"),
            ("5m", "5m"),
            ("1h30m", "1h30m"),
            ("500ms", "500ms"),
            ("90", "1m30s"),
        ] {
            let d: Duration = text.parse().unwrap();
            assert_eq!(d.to_string(), shown, "{text}");
        }
        assert!("10x".parse::<Duration>().is_err());
        assert!("".parse::<Duration>().is_err());
    }

    #[test]
    fn longer_than_the_maximum_is_an_error_that_names_it() {
        for text in [
            "9300000000000000000s",
            "9300000000000000000",
            "99999999999999999999999s",
            "99999999999999999999999",
            "367d",
            "31622401",
            "1000years",
        ] {
            let e = text.parse::<Duration>().unwrap_err();
            assert_eq!(
                e,
                format!("`{text}` is longer than the longest duration runbook accepts (366d)")
            );
        }
        assert_eq!("366d".parse::<Duration>(), Ok(Duration::MAX));
        assert_eq!("31622400".parse::<Duration>(), Ok(Duration::MAX));
        // The maximum leaves room for the arithmetic the engine does with it.
        assert!(
            std::time::Instant::now()
                .checked_add(Duration::MAX.std() * 1000)
                .is_some()
        );
    }
}
