//! Logging set up from `--log.level` and `--log.format`, writing lines shaped like Prometheus' promslog.
//!
//! logfmt: `time=2025-01-02T03:04:05.678Z level=INFO source=main.rs:42 msg="Listening on" address=[::]:9100`
//!
//! json: `{"time":"2025-01-02T03:04:05.678Z","level":"INFO","source":"main.rs:42","msg":"Listening on",...}`
//!
//! Times are UTC with millisecond precision; levels are `DEBUG`, `INFO`, `WARN` and `ERROR` (tracing's `TRACE`
//! is written as `DEBUG`). Event fields follow `msg` in the order they were recorded.

use std::fmt::{self, Write as _};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use super::args::{LogArgs, LogFormat, LogLevel};

/// Errors from [`LogArgs::init`].
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// A global subscriber was already installed.
    #[error("cannot initialise logging: {message}")]
    AlreadyInitialised {
        /// The subscriber library's message.
        message: String,
    },
}

impl LogLevel {
    /// The most verbose tracing level this setting lets through.
    pub fn as_tracing(self) -> Level {
        match self {
            LogLevel::Debug => Level::TRACE,
            LogLevel::Info => Level::INFO,
            LogLevel::Warn => Level::WARN,
            LogLevel::Error => Level::ERROR,
        }
    }
}

impl LogArgs {
    /// Installs a global `tracing` subscriber writing to standard error in the chosen format and level.
    pub fn init(self) -> Result<(), LogError> {
        tracing_subscriber::fmt()
            .with_max_level(self.level.as_tracing())
            .with_writer(std::io::stderr)
            .event_format(PromslogFormat { format: self.format })
            .try_init()
            .map_err(|e| LogError::AlreadyInitialised { message: e.to_string() })
    }
}

/// A `tracing-subscriber` event formatter writing promslog-style logfmt or JSON lines.
#[derive(Debug, Clone, Copy)]
pub struct PromslogFormat {
    /// The output format.
    pub format: LogFormat,
}

impl<S, N> FormatEvent<S, N> for PromslogFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, _ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let meta = event.metadata();
        let mut fields = Fields::default();
        event.record(&mut fields);
        let source = match (meta.file(), meta.line()) {
            (Some(file), Some(line)) => {
                let base = file.rsplit(['/', '\\']).next().unwrap_or(file);
                format!("{base}:{line}")
            }
            _ => meta.target().to_string(),
        };
        let line = format_line(
            self.format,
            SystemTime::now(),
            level_name(*meta.level()),
            &source,
            &fields.message,
            &fields.pairs,
        );
        writer.write_str(&line)
    }
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::ERROR => "ERROR",
        Level::WARN => "WARN",
        Level::INFO => "INFO",
        Level::DEBUG | Level::TRACE => "DEBUG",
    }
}

#[derive(Default)]
struct Fields {
    message: String,
    /// (key, value, value is a JSON number or boolean)
    pairs: Vec<(&'static str, String, bool)>,
}

impl Fields {
    fn raw(&mut self, field: &Field, text: String) {
        self.pairs.push((field.name(), text, true));
    }
}

impl Visit for Fields {
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.raw(field, value.to_string());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.raw(field, value.to_string());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.raw(field, value.to_string());
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        if value.is_finite() {
            self.raw(field, value.to_string());
        } else {
            self.pairs.push((field.name(), value.to_string(), false));
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_string();
        } else {
            self.pairs.push((field.name(), value.to_string(), false));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let text = format!("{value:?}");
        if field.name() == "message" {
            self.message = text;
        } else {
            self.pairs.push((field.name(), text, false));
        }
    }
}

/// Formats one log line (with its trailing newline).
fn format_line(
    format: LogFormat,
    now: SystemTime,
    level: &str,
    source: &str,
    msg: &str,
    pairs: &[(&str, String, bool)],
) -> String {
    let time = rfc3339_millis(now);
    let mut out = String::with_capacity(96);
    match format {
        LogFormat::Logfmt => {
            let _ = write!(out, "time={time} level={level} source=");
            logfmt_value(&mut out, source);
            out.push_str(" msg=");
            logfmt_value(&mut out, msg);
            for (k, v, _) in pairs {
                out.push(' ');
                out.push_str(k);
                out.push('=');
                logfmt_value(&mut out, v);
            }
        }
        LogFormat::Json => {
            let _ = write!(out, "{{\"time\":\"{time}\",\"level\":\"{level}\",\"source\":");
            json_string(&mut out, source);
            out.push_str(",\"msg\":");
            json_string(&mut out, msg);
            for (k, v, raw) in pairs {
                out.push(',');
                json_string(&mut out, k);
                out.push(':');
                if *raw {
                    out.push_str(v);
                } else {
                    json_string(&mut out, v);
                }
            }
            out.push('}');
        }
    }
    out.push('\n');
    out
}

fn logfmt_value(out: &mut String, v: &str) {
    let plain = !v.is_empty() && v.chars().all(|c| c > ' ' && c != '"' && c != '=' && c != '\u{7f}');
    if plain {
        out.push_str(v);
        return;
    }
    out.push('"');
    for c in v.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn json_string(out: &mut String, v: &str) {
    out.push('"');
    for c in v.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` for a time after the Unix epoch (earlier times print as the epoch).
pub(crate) fn rfc3339_millis(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, day) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps() {
        let cases = [
            (0u64, 0u32, "1970-01-01T00:00:00.000Z"),
            (951_782_400, 5, "2000-02-29T00:00:00.005Z"),
            (1_735_787_045, 678, "2025-01-02T03:04:05.678Z"),
            (4_102_444_799, 999, "2099-12-31T23:59:59.999Z"),
        ];
        for (secs, ms, want) in cases {
            let t = UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(ms.into());
            assert_eq!(rfc3339_millis(t), want);
        }
    }

    #[test]
    fn lines() {
        let t = UNIX_EPOCH + Duration::from_millis(1_735_787_045_678);
        let pairs = vec![
            ("address", "[::]:9100".to_string(), false),
            ("err", "open \"x\": no such file".to_string(), false),
            ("empty", String::new(), false),
        ];
        let cases = [
            (
                LogFormat::Logfmt,
                "time=2025-01-02T03:04:05.678Z level=INFO source=mod.rs:7 msg=\"Listening on\" address=[::]:9100 \
                 err=\"open \\\"x\\\": no such file\" empty=\"\"\n",
            ),
            (
                LogFormat::Json,
                "{\"time\":\"2025-01-02T03:04:05.678Z\",\"level\":\"INFO\",\"source\":\"mod.rs:7\",\"msg\":\"Listening \
                 on\",\"address\":\"[::]:9100\",\"err\":\"open \\\"x\\\": no such file\",\"empty\":\"\"}\n",
            ),
        ];
        for (format, want) in cases {
            assert_eq!(format_line(format, t, "INFO", "mod.rs:7", "Listening on", &pairs), want);
        }
        let mut s = String::new();
        json_string(&mut s, "a\u{1}b\nc");
        assert_eq!(s, "\"a\\u0001b\\nc\"");
    }

    #[derive(Clone, Default)]
    struct Buf(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn events_through_the_subscriber() {
        for (format, level, want) in [
            (LogFormat::Logfmt, LogLevel::Info, " level=WARN source=log.rs:"),
            (
                LogFormat::Json,
                LogLevel::Info,
                "\"level\":\"WARN\",\"source\":\"log.rs:",
            ),
        ] {
            let buf = Buf::default();
            let writer = buf.clone();
            let subscriber = tracing_subscriber::fmt()
                .with_max_level(level.as_tracing())
                .with_writer(move || writer.clone())
                .event_format(PromslogFormat { format })
                .finish();
            tracing::subscriber::with_default(subscriber, || {
                tracing::debug!("hidden");
                tracing::warn!(address = "[::]:9100", n = 3, "Listening on");
            });
            let out = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
            assert_eq!(out.lines().count(), 1, "{out}");
            assert!(out.contains(want), "{out}");
            match format {
                LogFormat::Logfmt => assert!(out.ends_with(" msg=\"Listening on\" address=[::]:9100 n=3\n"), "{out}"),
                LogFormat::Json => assert!(
                    out.ends_with(",\"msg\":\"Listening on\",\"address\":\"[::]:9100\",\"n\":3}\n"),
                    "{out}"
                ),
            }
        }
    }
}
