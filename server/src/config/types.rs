//! Value types shared by every configuration section: Prometheus durations (`1d2h3m4s5ms`), byte sizes (`15MB`),
//! secrets that never print, and the label-name rules.

use std::fmt;

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};

/// A duration in Prometheus' notation: units `y w d h m s ms` in that order, each at most once, or `0`.
///
/// Stored as whole milliseconds; a year is 365 days, as upstream counts it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(u64);

/// Why a duration or size did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// The text is not a duration (units `y w d h m s ms`, descending, each once).
    #[error("not a valid duration string: {0:?}")]
    Duration(String),
    /// The duration does not fit in 64 bits of milliseconds.
    #[error("duration out of range: {0:?}")]
    DurationRange(String),
    /// The text is not a byte size (`512`-less forms like `1KB`, `1.5GiB`, `0`).
    #[error("not a valid size: {0:?} (expected a number with a unit B, KB, MB, GB, TB, PB, EB or KiB..EiB)")]
    Size(String),
}

const DURATION_UNITS: [(&str, u64); 7] = [
    ("y", 365 * 24 * 3_600_000),
    ("w", 7 * 24 * 3_600_000),
    ("d", 24 * 3_600_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1_000),
    ("ms", 1),
];

impl Duration {
    /// The zero duration (upstream's "unset").
    pub const ZERO: Duration = Duration(0);

    /// A duration of `ms` milliseconds.
    pub const fn from_millis(ms: u64) -> Duration {
        Duration(ms)
    }

    /// A duration of `s` seconds.
    pub const fn from_secs(s: u64) -> Duration {
        Duration(s * 1000)
    }

    /// The length in milliseconds.
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// Whether this is the zero duration.
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// Parses Prometheus' notation: `0`, or unit groups in descending order (`1d2h3m4s5ms`).
    pub fn parse(text: &str) -> Result<Duration, ValueError> {
        if text == "0" {
            return Ok(Duration(0));
        }
        if text.is_empty() {
            return Err(ValueError::Duration(text.to_owned()));
        }
        let bytes = text.as_bytes();
        let mut pos = 0;
        let mut next_unit = 0; // index into DURATION_UNITS: units must appear in this order
        let mut total: u64 = 0;
        while pos < bytes.len() {
            let start = pos;
            while pos < bytes.len() && bytes[pos].is_ascii_digit() {
                pos += 1;
            }
            if start == pos {
                return Err(ValueError::Duration(text.to_owned()));
            }
            let number: u64 = text[start..pos]
                .parse()
                .map_err(|_| ValueError::DurationRange(text.to_owned()))?;
            let unit_start = pos;
            while pos < bytes.len() && bytes[pos].is_ascii_alphabetic() {
                pos += 1;
            }
            let unit = &text[unit_start..pos];
            let Some(offset) = DURATION_UNITS[next_unit..].iter().position(|(u, _)| *u == unit) else {
                return Err(ValueError::Duration(text.to_owned()));
            };
            let index = next_unit + offset;
            next_unit = index + 1;
            let part = number
                .checked_mul(DURATION_UNITS[index].1)
                .ok_or_else(|| ValueError::DurationRange(text.to_owned()))?;
            total = total
                .checked_add(part)
                .ok_or_else(|| ValueError::DurationRange(text.to_owned()))?;
        }
        // Upstream keeps durations in a signed 64-bit nanosecond count.
        if total > (i64::MAX as u64) / 1_000_000 {
            return Err(ValueError::DurationRange(text.to_owned()));
        }
        Ok(Duration(total))
    }
}

impl fmt::Display for Duration {
    /// Formats like upstream: largest units first, zero units left out, `0s` for zero.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str("0s");
        }
        let mut rest = self.0;
        for (unit, size) in DURATION_UNITS {
            // Upstream never prints weeks unless the value is a whole number of weeks.
            if unit == "w" && rest % size != 0 {
                continue;
            }
            if rest >= size {
                write!(f, "{}{unit}", rest / size)?;
                rest %= size;
            }
        }
        Ok(())
    }
}

impl std::str::FromStr for Duration {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Duration, ValueError> {
        Duration::parse(s)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(deserializer)?;
        Duration::parse(&text).map_err(de::Error::custom)
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// A byte size with a unit (`1KB`, `15MB`, `1.5GiB`; `KB` is 1024 bytes as upstream counts it), or `0`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Size(u64);

const SIZE_UNITS: [(&str, u32); 14] = [
    ("B", 0),
    ("KB", 10),
    ("MB", 20),
    ("GB", 30),
    ("TB", 40),
    ("PB", 50),
    ("EB", 60),
    ("KiB", 10),
    ("MiB", 20),
    ("GiB", 30),
    ("TiB", 40),
    ("PiB", 50),
    ("EiB", 60),
    ("b", 0),
];

impl Size {
    /// A size of `bytes` bytes.
    pub const fn from_bytes(bytes: u64) -> Size {
        Size(bytes)
    }

    /// The size in bytes.
    pub const fn bytes(self) -> u64 {
        self.0
    }

    /// Parses `0` or one or more `<number><unit>` groups (`1GB512MB`); a unit is required.
    pub fn parse(text: &str) -> Result<Size, ValueError> {
        if text == "0" {
            return Ok(Size(0));
        }
        let err = || ValueError::Size(text.to_owned());
        if text.is_empty() {
            return Err(err());
        }
        let bytes = text.as_bytes();
        let mut pos = 0;
        let mut total: f64 = 0.0;
        while pos < bytes.len() {
            let start = pos;
            while pos < bytes.len() && (bytes[pos].is_ascii_digit() || bytes[pos] == b'.') {
                pos += 1;
            }
            let number: f64 = text[start..pos].parse().map_err(|_| err())?;
            let unit_start = pos;
            while pos < bytes.len() && bytes[pos].is_ascii_alphabetic() {
                pos += 1;
            }
            let unit = &text[unit_start..pos];
            let shift = SIZE_UNITS
                .iter()
                .find(|(u, _)| *u == unit)
                .map(|(_, s)| *s)
                .ok_or_else(err)?;
            total += number * (1u64 << shift) as f64;
        }
        if !total.is_finite() || total >= u64::MAX as f64 {
            return Err(err());
        }
        Ok(Size(total as u64))
    }
}

impl fmt::Display for Size {
    /// The largest binary unit that divides the size exactly (`15MB`), else bytes (`100B`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str("0B");
        }
        for (unit, shift) in SIZE_UNITS[..7].iter().rev() {
            let size = 1u64 << shift;
            if self.0 % size == 0 {
                return write!(f, "{}{unit}", self.0 / size);
            }
        }
        write!(f, "{}B", self.0)
    }
}

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Size, D::Error> {
        let text = String::deserialize(deserializer)?;
        Size::parse(&text).map_err(de::Error::custom)
    }
}

impl Serialize for Size {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// A secret from the configuration (password, token, key). Its `Display`, `Debug` and serialized forms are all
/// `<secret>`, so it cannot leak into logs, `/api/v1/status/config` or error messages; [`Secret::expose`] is the
/// one way to read it.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret text, for the code that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the secret is empty (unset).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<secret>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<secret>")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Secret, D::Error> {
        Ok(Secret(Option::<String>::deserialize(deserializer)?.unwrap_or_default()))
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("<secret>")
    }
}

/// Keys whose values are secrets in the sections kept as raw YAML (upstream types them as `Secret`).
const SECRET_KEYS: [&str; 15] = [
    "password",
    "token",
    "secret_key",
    "client_secret",
    "auth_token",
    "credentials",
    "key_passphrase",
    "application_secret",
    "consumer_key",
    "service_account_key",
    "private_key",
    "bearer_token",
    "key",
    "client_certificate_key",
    "api_key",
];

/// A section kept as raw YAML: a discovery mechanism or authentication method that is parsed but not run. Its
/// `Debug` and serialized forms print the values of secret-holding keys as `<secret>`.
#[derive(Clone, PartialEq, Deserialize)]
#[serde(transparent)]
pub struct RawSection(serde_json::Value);

impl RawSection {
    /// The YAML as parsed.
    pub fn value(&self) -> &serde_json::Value {
        &self.0
    }

    fn redacted(&self) -> serde_json::Value {
        fn walk(v: &serde_json::Value) -> serde_json::Value {
            match v {
                serde_json::Value::Object(map) => serde_json::Value::Object(
                    map.iter()
                        .map(|(k, v)| {
                            let secret = SECRET_KEYS.contains(&k.as_str()) && !v.is_null() && !v.is_object();
                            let v = if secret {
                                serde_json::Value::String("<secret>".into())
                            } else {
                                walk(v)
                            };
                            (k.clone(), v)
                        })
                        .collect(),
                ),
                serde_json::Value::Array(items) => serde_json::Value::Array(items.iter().map(walk).collect()),
                other => other.clone(),
            }
        }
        walk(&self.0)
    }
}

impl fmt::Debug for RawSection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.redacted())
    }
}

impl Serialize for RawSection {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.redacted().serialize(serializer)
    }
}

/// Whether `name` is a label name under the legacy rules (`[a-zA-Z_][a-zA-Z0-9_]*`).
pub fn is_legacy_label_name(name: &str) -> bool {
    let mut chars = name.bytes();
    matches!(chars.next(), Some(b'a'..=b'z' | b'A'..=b'Z' | b'_'))
        && chars.all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

/// Whether `name` is a label name under the UTF-8 rules of Prometheus 3 (any non-empty UTF-8 text).
pub fn is_utf8_label_name(name: &str) -> bool {
    !name.is_empty()
}

/// Whether `name` is a metric name under the legacy rules (`[a-zA-Z_:][a-zA-Z0-9_:]*`).
pub fn is_legacy_metric_name(name: &str) -> bool {
    let mut chars = name.bytes();
    matches!(chars.next(), Some(b'a'..=b'z' | b'A'..=b'Z' | b'_' | b':'))
        && chars.all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b':')
}

/// Expands `$VAR` and `${VAR}` from `lookup` in the way Go's `os.Expand` does; `$$` is a literal `$`.
///
/// Prometheus applies this to external label values.
pub fn expand_env(text: &str, lookup: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(stripped) = after.strip_prefix('$') {
            out.push('$');
            rest = stripped;
        } else if let Some(body) = after.strip_prefix('{') {
            match body.find('}') {
                Some(0) => {
                    // `${}` is malformed: Go drops the three characters.
                    rest = &body[1..];
                }
                Some(end) => {
                    out.push_str(&lookup(&body[..end]).unwrap_or_default());
                    rest = &body[end + 1..];
                }
                None => {
                    // Unterminated `${`: Go drops the `${` and everything after it.
                    rest = "";
                }
            }
        } else {
            let len = after
                .bytes()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == b'_')
                .count();
            if len == 0 {
                // A lone `$` followed by a special character: Go takes that one character as the name.
                match after.chars().next() {
                    Some(c) if "*#$@!?-0123456789".contains(c) => {
                        out.push_str(&lookup(&after[..c.len_utf8()]).unwrap_or_default());
                        rest = &after[c.len_utf8()..];
                    }
                    _ => {
                        out.push('$');
                        rest = after;
                    }
                }
            } else {
                out.push_str(&lookup(&after[..len]).unwrap_or_default());
                rest = &after[len..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let cases: &[(&str, Option<u64>)] = &[
            ("0", Some(0)),
            ("0s", Some(0)),
            ("15s", Some(15_000)),
            ("1d2h3m4s5ms", Some(((24 + 2) * 3600 + 3 * 60 + 4) * 1000 + 5)),
            ("1y", Some(365 * 86_400_000)),
            ("2w", Some(14 * 86_400_000)),
            ("1h30m", Some(5_400_000)),
            ("", None),
            ("-1h", None),
            ("1.5h", None),
            ("1m1h", None),
            ("1s1s", None),
            ("10", None),
            ("5 m", None),
            ("1x", None),
            ("99999999999999999999y", None),
        ];
        for (text, want) in cases {
            assert_eq!(Duration::parse(text).ok().map(Duration::as_millis), *want, "{text:?}");
        }
    }

    #[test]
    fn duration_display() {
        for (ms, text) in [
            (0, "0s"),
            (15_000, "15s"),
            (5_400_000, "1h30m"),
            (14 * 86_400_000, "2w"),
            (15 * 86_400_000, "15d"),
            (1_005, "1s5ms"),
        ] {
            assert_eq!(Duration::from_millis(ms).to_string(), text);
            assert_eq!(Duration::parse(text).map(Duration::as_millis), Ok(ms));
        }
    }

    #[test]
    fn sizes() {
        let cases: &[(&str, Option<u64>)] = &[
            ("0", Some(0)),
            ("1KB", Some(1024)),
            ("15MB", Some(15 << 20)),
            ("1GB", Some(1 << 30)),
            ("1.5KiB", Some(1536)),
            ("1GB512MB", Some((1 << 30) + (512 << 20))),
            ("100", None),
            ("-1GB", None),
            ("1XB", None),
            ("", None),
        ];
        for (text, want) in cases {
            assert_eq!(Size::parse(text).ok().map(Size::bytes), *want, "{text:?}");
        }
        assert_eq!(Size::from_bytes(15 << 20).to_string(), "15MB");
    }

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("hunter2");
        assert_eq!(s.to_string(), "<secret>");
        assert_eq!(format!("{s:?}"), "<secret>");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn raw_sections_hide_secrets() {
        let raw: RawSection =
            serde_saphyr::from_str("{server: x, token: t0ps3cret, basic_auth: {password: pw1}, tags: [a]}")
                .expect("parses");
        let debug = format!("{raw:?}");
        let yaml = serde_saphyr::to_string(&raw).expect("serializes");
        for text in [&debug, &yaml] {
            assert!(!text.contains("t0ps3cret") && !text.contains("pw1"), "{text}");
            assert!(text.contains("<secret>") && text.contains("server"), "{text}");
        }
        assert_eq!(raw.value()["token"], "t0ps3cret");
    }

    #[test]
    fn env_expansion_like_go() {
        let lookup = |name: &str| (name == "TEST").then(|| "TestValue".to_owned());
        for (text, want) in [
            ("${TEST}", "TestValue"),
            ("foo${TEST}bar", "fooTestValuebar"),
            ("foo$${TEST}", "foo${TEST}"),
            ("foo$$bar", "foo$bar"),
            ("$TEST-x", "TestValue-x"),
            ("${UNSET}", ""),
            ("a$", "a$"),
        ] {
            assert_eq!(expand_env(text, lookup), want, "{text:?}");
        }
    }

    #[test]
    fn label_names() {
        assert!(is_legacy_label_name("__name__"));
        assert!(!is_legacy_label_name("0abc"));
        assert!(!is_legacy_label_name("a.b"));
        assert!(is_utf8_label_name("a.b"));
        assert!(!is_utf8_label_name(""));
        assert!(is_legacy_metric_name("a:b"));
    }
}
