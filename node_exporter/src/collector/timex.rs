//! `timex`: the kernel clock discipline state from `adjtimex(2)` (read only): offset, frequency adjustment,
//! error estimates, PLL time constant, tick length, TAI offset, PPS statistics and whether the clock is
//! synchronised.
//!
//! `adjtimex` has no safe wrapper in `nix`, so [`read_timex`] makes the one call through `libc` in a small,
//! documented `unsafe` block; everything else works on the copied-out values.

use exposition::{CollectError, Collector, MetricFamily, MetricType};

use super::sysfs::sample;
use super::{BuildError, Settings, Spec};

/// Table entry.
pub const SPEC: Spec = Spec::new("timex", true, build);

fn build(_: &Settings<'_>) -> Result<Box<dyn Collector>, BuildError> {
    Ok(Box::new(Timex))
}

struct Timex;

/// `STA_NANO`: offsets and jitter are in nanoseconds rather than microseconds.
const STA_NANO: i64 = 0x2000;
/// `TIME_ERROR`: the clock is not synchronised.
const TIME_ERROR: i32 = 5;
/// Scaled-ppm fixed point: 16-bit fraction of parts per million.
const PPM16FRAC: f64 = 1_000_000.0 * 65536.0;

/// The fields of `struct timex` the collector exports, copied out of the kernel's reply.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Reading {
    /// The return value of `adjtimex` (clock state).
    state: i32,
    offset: i64,
    freq: i64,
    maxerror: i64,
    esterror: i64,
    status: i64,
    constant: i64,
    tick: i64,
    ppsfreq: i64,
    jitter: i64,
    shift: i64,
    stabil: i64,
    jitcnt: i64,
    calcnt: i64,
    errcnt: i64,
    stbcnt: i64,
    tai: i64,
}

/// Reads the clock state with `adjtimex(2)` without changing it (`modes` 0).
#[allow(unsafe_code)]
fn read_timex() -> Result<Reading, std::io::Error> {
    // SAFETY: `libc::timex` is a plain C struct for which all-zero bytes are a valid value; `adjtimex` with
    // `modes == 0` only writes the current state into the struct we own and pass by exclusive pointer.
    let mut tx: libc::timex = unsafe { std::mem::zeroed() };
    // SAFETY: see above; the pointer is valid and exclusive for the duration of the call.
    let state = unsafe { libc::adjtimex(&mut tx) };
    if state < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(Reading {
        state,
        offset: tx.offset as i64,
        freq: tx.freq as i64,
        maxerror: tx.maxerror as i64,
        esterror: tx.esterror as i64,
        status: i64::from(tx.status),
        constant: tx.constant as i64,
        tick: tx.tick as i64,
        ppsfreq: tx.ppsfreq as i64,
        jitter: tx.jitter as i64,
        shift: i64::from(tx.shift),
        stabil: tx.stabil as i64,
        jitcnt: tx.jitcnt as i64,
        calcnt: tx.calcnt as i64,
        errcnt: tx.errcnt as i64,
        stbcnt: tx.stbcnt as i64,
        tai: i64::from(tx.tai),
    })
}

/// The families of one reading.
fn families(r: &Reading) -> Vec<MetricFamily> {
    let divisor = if r.status & STA_NANO != 0 { 1e9 } else { 1e6 };
    let g = MetricType::Gauge;
    let c = MetricType::Counter;
    let rows: [(&str, &str, MetricType, f64); 17] = [
        (
            "node_timex_offset_seconds",
            "Time offset in between local system and reference clock.",
            g,
            r.offset as f64 / divisor,
        ),
        (
            "node_timex_frequency_adjustment_ratio",
            "Local clock frequency adjustment.",
            g,
            1.0 + r.freq as f64 / PPM16FRAC,
        ),
        (
            "node_timex_maxerror_seconds",
            "Maximum error in seconds.",
            g,
            r.maxerror as f64 / 1e6,
        ),
        (
            "node_timex_estimated_error_seconds",
            "Estimated error in seconds.",
            g,
            r.esterror as f64 / 1e6,
        ),
        (
            "node_timex_status",
            "Value of the status array bits.",
            g,
            r.status as f64,
        ),
        (
            "node_timex_loop_time_constant",
            "Phase-locked loop time constant.",
            g,
            r.constant as f64,
        ),
        (
            "node_timex_tick_seconds",
            "Seconds between clock ticks.",
            g,
            r.tick as f64 / 1e6,
        ),
        (
            "node_timex_pps_frequency_hertz",
            "Pulse per second frequency.",
            g,
            r.ppsfreq as f64 / PPM16FRAC,
        ),
        (
            "node_timex_pps_jitter_seconds",
            "Pulse per second jitter.",
            g,
            r.jitter as f64 / divisor,
        ),
        (
            "node_timex_pps_shift_seconds",
            "Pulse per second interval duration.",
            g,
            r.shift as f64,
        ),
        (
            "node_timex_pps_stability_hertz",
            "Pulse per second stability, average of recent frequency changes.",
            g,
            r.stabil as f64 / PPM16FRAC,
        ),
        (
            "node_timex_pps_jitter_total",
            "Pulse per second count of jitter limit exceeded events.",
            c,
            r.jitcnt as f64,
        ),
        (
            "node_timex_pps_calibration_total",
            "Pulse per second count of calibration intervals.",
            c,
            r.calcnt as f64,
        ),
        (
            "node_timex_pps_error_total",
            "Pulse per second count of calibration errors.",
            c,
            r.errcnt as f64,
        ),
        (
            "node_timex_pps_stability_exceeded_total",
            "Pulse per second count of stability limit exceeded events.",
            c,
            r.stbcnt as f64,
        ),
        (
            "node_timex_tai_offset_seconds",
            "International Atomic Time (TAI) offset.",
            g,
            r.tai as f64,
        ),
        (
            "node_timex_sync_status",
            "Is clock synchronized to a reliable server (1 = yes, 0 = no).",
            g,
            if r.state == TIME_ERROR { 0.0 } else { 1.0 },
        ),
    ];
    rows.iter()
        .map(|(name, help, t, v)| sample(name, help, *t, &[], *v))
        .collect()
}

impl Collector for Timex {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        let reading = read_timex().map_err(|e| CollectError::msg(format!("failed to retrieve adjtimex stats: {e}")))?;
        out.extend(families(&reading));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use exposition::Value;

    fn value(fams: &[MetricFamily], name: &str) -> f64 {
        match fams.iter().find(|f| f.name == name).map(|f| &f.metrics[0].value) {
            Some(Value::Gauge(v)) => *v,
            Some(Value::Counter { total, .. }) => *total,
            _ => f64::NAN,
        }
    }

    #[test]
    fn units_and_sync_state() {
        let micro = Reading {
            offset: 1500,
            freq: 65536 * 10,
            tick: 10_000,
            state: 0,
            ..Reading::default()
        };
        let fams = families(&micro);
        let cases = [
            ("node_timex_offset_seconds", 0.0015),
            ("node_timex_frequency_adjustment_ratio", 1.00001),
            ("node_timex_tick_seconds", 0.01),
            ("node_timex_sync_status", 1.0),
        ];
        for (name, want) in cases {
            assert!((value(&fams, name) - want).abs() < 1e-12, "{name}");
        }
        let nano = Reading {
            offset: 1500,
            status: STA_NANO,
            state: TIME_ERROR,
            ..Reading::default()
        };
        let fams = families(&nano);
        assert!((value(&fams, "node_timex_offset_seconds") - 1.5e-6).abs() < 1e-18);
        assert_eq!(value(&fams, "node_timex_sync_status"), 0.0);
    }

    #[test]
    fn live_read() {
        let r = read_timex().expect("adjtimex with modes 0 needs no privileges");
        assert!(r.tick > 0);
    }
}
