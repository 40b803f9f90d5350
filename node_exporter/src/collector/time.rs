//! `time`: the system time (`node_time_seconds`), the local time zone and its offset, and the clock sources
//! from `/sys/devices/system/clocksource/clocksource<N>`.
//!
//! The local zone follows the same rules as Go's `time.Local`: `TZ` unset means `/etc/localtime`, `TZ` empty
//! means UTC, otherwise a zone file path or a name below `/usr/share/zoneinfo`. The zone file (TZif) is read by
//! [`zone_at`]; after its last transition the footer rule's standard time is used, and a footer with daylight
//! saving rules keeps the last transition's zone.

use std::time::{SystemTime, UNIX_EPOCH};

use exposition::{CollectError, Collector, MetricFamily};

use super::sysfs::{gauge, list_dir, read_trimmed};
use super::{BuildError, Settings, Spec};
use crate::paths::Paths;

/// Table entry.
pub const SPEC: Spec = Spec::new("time", true, build);

fn build(s: &Settings<'_>) -> Result<Box<dyn Collector>, BuildError> {
    Ok(Box::new(Time {
        paths: s.paths.clone(),
        zone: std::sync::OnceLock::new(),
    }))
}

struct Time {
    paths: Paths,
    /// The local zone file's content, read on first use and kept, as Go loads `time.Local` once per process.
    zone: std::sync::OnceLock<Option<Vec<u8>>>,
}

/// Reads a big-endian u32 at `at`.
fn be_u32(data: &[u8], at: usize) -> Option<usize> {
    let b = data.get(at..at + 4)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
}

/// The zone abbreviation and UTC offset (seconds) a TZif file gives for the instant `now` (Unix seconds).
pub fn zone_at(data: &[u8], now: i64) -> Option<(String, i64)> {
    if data.get(..4)? != b"TZif" {
        return None;
    }
    let version = *data.get(4)?;
    let counts = |base: usize| -> Option<[usize; 6]> {
        let mut c = [0; 6];
        for (i, slot) in c.iter_mut().enumerate() {
            *slot = be_u32(data, base + 20 + 4 * i)?;
        }
        Some(c)
    };
    // Counts: isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt.
    let [isut, isstd, leap, timecnt, typecnt, charcnt] = counts(0)?;
    let (base, time_size) = if version >= b'2' {
        let v1_len = timecnt * 5 + typecnt * 6 + charcnt + leap * 8 + isstd + isut;
        (44 + v1_len, 8)
    } else {
        (0, 4)
    };
    let [isut, isstd, leap, timecnt, typecnt, charcnt] = counts(base)?;
    if typecnt == 0 {
        return None;
    }
    let times_at = base + 44;
    let idx_at = times_at + timecnt * time_size;
    let types_at = idx_at + timecnt;
    let chars_at = types_at + typecnt * 6;
    let end = chars_at + charcnt + leap * (time_size + 4) + isstd + isut;
    let time = |i: usize| -> Option<i64> {
        let b = data.get(times_at + i * time_size..times_at + (i + 1) * time_size)?;
        Some(if time_size == 8 {
            i64::from_be_bytes(b.try_into().ok()?)
        } else {
            i64::from(i32::from_be_bytes(b.try_into().ok()?))
        })
    };
    let ttinfo = |t: usize| -> Option<(String, i64)> {
        let b = data.get(types_at + t * 6..types_at + t * 6 + 6)?;
        let offset = i64::from(i32::from_be_bytes([b[0], b[1], b[2], b[3]]));
        let chars = data.get(chars_at..chars_at + charcnt)?;
        let abbr = chars.get(usize::from(b[5])..)?;
        let abbr = &abbr[..abbr.iter().position(|&c| c == 0).unwrap_or(abbr.len())];
        Some((String::from_utf8_lossy(abbr).into_owned(), offset))
    };
    let mut current = None;
    for i in 0..timecnt {
        if time(i)? > now {
            break;
        }
        current = Some(i);
    }
    let after_last = timecnt == 0 || current == Some(timecnt - 1);
    if after_last
        && version >= b'2'
        && let Some(footer) = data.get(end..).and_then(|f| std::str::from_utf8(f).ok())
        && let Some(zone) = footer_standard_zone(footer.trim_matches('\n'))
    {
        return Some(zone);
    }
    let t = match current {
        Some(i) => usize::from(*data.get(idx_at + i)?),
        None => 0,
    };
    ttinfo(t)
}

/// The zone of a POSIX TZ footer without daylight saving rules (`UTC0`, `<+03>-3`, `CST-8`); `None` otherwise.
fn footer_standard_zone(rule: &str) -> Option<(String, i64)> {
    let (name, rest) = if let Some(r) = rule.strip_prefix('<') {
        let close = r.find('>')?;
        (&r[..close], &r[close + 1..])
    } else {
        let n = rule.find(|c: char| !c.is_ascii_alphabetic())?;
        (&rule[..n], &rule[n..])
    };
    if name.is_empty() || rest.is_empty() || rest.contains(|c: char| c.is_ascii_alphabetic() || c == ',') {
        return None;
    }
    let (sign, digits) = match rest.as_bytes()[0] {
        b'-' => (1, &rest[1..]),
        b'+' => (-1, &rest[1..]),
        _ => (-1, rest),
    };
    let mut secs = 0i64;
    for (i, part) in digits.split(':').enumerate().take(3) {
        let v: i64 = part.parse().ok()?;
        secs += v * [3600, 60, 1][i];
    }
    // POSIX offsets are west of UTC; the zone offset is east.
    Some((name.to_string(), sign * secs))
}

/// The content of the local zone file as Go's `time.Local` finds it; `None` for UTC (`TZ` empty or no readable
/// file).
fn local_zone_file() -> Option<Vec<u8>> {
    let file = match std::env::var("TZ") {
        Err(_) => "/etc/localtime".to_string(),
        Ok(tz) if tz.is_empty() => return None,
        Ok(tz) => {
            let tz = tz.trim_start_matches(':');
            if tz.starts_with('/') {
                tz.to_string()
            } else {
                format!("/usr/share/zoneinfo/{tz}")
            }
        }
    };
    std::fs::read(file).ok()
}

/// The local zone's name and offset at `now` from its zone file; UTC when nothing usable is found.
fn local_zone(file: Option<&[u8]>, now: i64) -> (String, i64) {
    file.and_then(|d| zone_at(d, now))
        .unwrap_or_else(|| ("UTC".to_string(), 0))
}

impl Collector for Time {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        out.push(gauge(
            "node_time_seconds",
            "System time in seconds since epoch (1970).",
            &[],
            now.as_secs_f64(),
        ));
        let secs = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
        let (zone, offset) = local_zone(self.zone.get_or_init(local_zone_file).as_deref(), secs);
        out.push(gauge(
            "node_time_zone_offset_seconds",
            "System time zone offset in seconds.",
            &[("time_zone", &zone)],
            offset as f64,
        ));
        let base = self.paths.sys("devices/system/clocksource");
        for entry in list_dir(&base)? {
            let Some(device) = entry.strip_prefix("clocksource") else {
                continue;
            };
            let dir = base.join(&entry);
            let available = read_trimmed(&dir.join("available_clocksource"))?;
            let current = read_trimmed(&dir.join("current_clocksource"))?;
            for source in available.split_whitespace() {
                out.push(gauge(
                    "node_time_clocksource_available_info",
                    "Available clocksources read from '/sys/devices/system/clocksource'.",
                    &[("device", device), ("clocksource", source)],
                    1.0,
                ));
            }
            out.push(gauge(
                "node_time_clocksource_current_info",
                "Current clocksource read from '/sys/devices/system/clocksource'.",
                &[("device", device), ("clocksource", &current)],
                1.0,
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A version-2 TZif file: no v1 data, two types (CET +3600, CEST +7200), transitions at `times`.
    fn tzif(times: &[(i64, u8)], footer: &str) -> Vec<u8> {
        let header = |timecnt: usize, typecnt: usize, charcnt: usize| {
            let mut h = b"TZif2".to_vec();
            h.extend([0u8; 15]);
            for c in [0, 0, 0, timecnt, typecnt, charcnt] {
                h.extend((c as u32).to_be_bytes());
            }
            h
        };
        let mut d = header(0, 1, 1);
        d.extend([0, 0, 0, 0, 0, 0, 0]); // v1: one ttinfo (6 bytes) + one char
        d.extend(header(times.len(), 2, 10));
        for (t, _) in times {
            d.extend(t.to_be_bytes());
        }
        for (_, i) in times {
            d.push(*i);
        }
        d.extend(3600i32.to_be_bytes());
        d.extend([0, 0]);
        d.extend(7200i32.to_be_bytes());
        d.extend([1, 4]);
        d.extend(b"CET\0CEST\0\0");
        d.extend(format!("\n{footer}\n").bytes());
        d
    }

    #[test]
    fn zones_from_tzif() {
        let data = tzif(&[(100, 1), (200, 0)], "CET-1CEST,M3.5.0,M10.5.0/3");
        let cases = [
            (50, Some(("CET", 3600))),
            (150, Some(("CEST", 7200))),
            (250, Some(("CET", 3600))),
        ];
        for (now, want) in cases {
            let got = zone_at(&data, now);
            assert_eq!(got.as_ref().map(|(n, o)| (n.as_str(), *o)), want, "{now}");
        }
        let fixed = tzif(&[], "<+03>-3");
        assert_eq!(zone_at(&fixed, 0), Some(("+03".to_string(), 10800)));
        assert_eq!(zone_at(b"TZif2", 0), None);
        assert_eq!(zone_at(b"not a zone file", 0), None);
    }

    #[test]
    fn footer_rules() {
        let cases = [
            ("UTC0", Some(("UTC", 0))),
            ("CST-8", Some(("CST", 28800))),
            ("<-0330>3:30", Some(("-0330", -12600))),
            ("EST5EDT,M3.2.0,M11.1.0", None),
            ("", None),
        ];
        for (rule, want) in cases {
            let got = footer_standard_zone(rule);
            assert_eq!(got.as_ref().map(|(n, o)| (n.as_str(), *o)), want, "{rule}");
        }
    }
}
