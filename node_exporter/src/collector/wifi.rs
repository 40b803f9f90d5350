//! `wifi`: WiFi interfaces and the stations they see: frequency, BSS information and per station signal,
//! bitrates, byte and packet counts, retries, failures and beacon losses.
//!
//! The data comes from the files of `--collector.wifi.fixtures` (the JSON form of the kernel's nl80211 replies
//! that upstream's tests use: `interfaces.json`, `<iface>/bss.json`, `<iface>/stationinfo.json`). Querying
//! nl80211 over generic netlink is not implemented; without fixtures the collector reports no data (an error,
//! so `node_scrape_collector_success` is 0).

use std::path::{Path, PathBuf};

use base64::Engine;
use clap::Arg;
use exposition::{CollectError, Collector, MetricFamily};
use serde_json::Value as Json;

use super::sysfs::{DeviceFilter, counter, gauge, string_arg};
use super::{BuildError, CollectorError, Settings, Spec, read_file};

/// Table entry.
pub const SPEC: Spec = Spec::new("wifi", false, build).with_args(args);

const FIXTURES: &str = "collector.wifi.fixtures";
const DEVICE_INCLUDE: &str = "collector.wifi.device-include";
const DEVICE_EXCLUDE: &str = "collector.wifi.device-exclude";

fn args() -> Vec<Arg> {
    vec![
        string_arg(FIXTURES, Some(""), "test fixtures to use for wifi collector metrics"),
        string_arg(
            DEVICE_INCLUDE,
            None,
            "Regexp of wifi devices to include (mutually exclusive to device-exclude).",
        ),
        string_arg(
            DEVICE_EXCLUDE,
            None,
            "Regexp of wifi devices to exclude (mutually exclusive to device-include).",
        ),
    ]
}

fn build(s: &Settings<'_>) -> Result<Box<dyn Collector>, BuildError> {
    let fixtures = s
        .matches
        .get_one::<String>(FIXTURES)
        .filter(|f| !f.is_empty())
        .map(PathBuf::from);
    Ok(Box::new(Wifi {
        fixtures,
        devices: DeviceFilter::from_flags("wifi", s.matches, DEVICE_INCLUDE, DEVICE_EXCLUDE)?,
    }))
}

struct Wifi {
    fixtures: Option<PathBuf>,
    devices: DeviceFilter,
}

/// A field of a JSON object, matched case-insensitively as Go's `encoding/json` does.
fn field<'a>(obj: &'a Json, name: &str) -> Option<&'a Json> {
    obj.as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

fn number(obj: &Json, name: &str) -> f64 {
    field(obj, name).and_then(Json::as_f64).unwrap_or(0.0)
}

/// A base64-encoded hardware address as `aa:bb:...`.
fn mac(obj: &Json, name: &str) -> String {
    let raw = field(obj, name).and_then(Json::as_str).unwrap_or_default();
    base64::engine::general_purpose::STANDARD
        .decode(raw)
        .map(|b| b.iter().map(|x| format!("{x:02x}")).collect::<Vec<_>>().join(":"))
        .unwrap_or_default()
}

fn read_json(path: &Path) -> Result<Json, CollectorError> {
    let text = read_file(path)?;
    serde_json::from_str(&text).map_err(|e| CollectorError::malformed(path, e.line(), e.to_string()))
}

/// A fixture file that may be absent (the statistic is not available for that interface type).
fn read_optional_json(path: &Path) -> Result<Option<Json>, CollectorError> {
    match read_json(path) {
        Ok(v) => Ok(Some(v)),
        Err(e) if super::sysfs::is_not_found(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// BSS status: authenticated (0) or associated (1) is a client, IBSS joined (2) ad-hoc.
fn bss_mode(status: f64) -> &'static str {
    match status as i64 {
        0 | 1 => "client",
        2 => "ad-hoc",
        _ => "unknown",
    }
}

fn station(device: &str, st: &Json, out: &mut Vec<MetricFamily>) {
    let addr = mac(st, "hardwareaddr");
    let labels = [("device", device), ("mac_address", addr.as_str())];
    let counters = [
        (
            "node_wifi_station_connected_seconds_total",
            "The total number of seconds a station has been connected to an access point.",
            number(st, "connected") / 1e9,
        ),
        (
            "node_wifi_station_receive_bytes_total",
            "The total number of bytes received by a WiFi station.",
            number(st, "receivedbytes"),
        ),
        (
            "node_wifi_station_transmit_bytes_total",
            "The total number of bytes transmitted by a WiFi station.",
            number(st, "transmittedbytes"),
        ),
        (
            "node_wifi_station_received_packets_total",
            "The total number of packets received by a station.",
            number(st, "receivedpackets"),
        ),
        (
            "node_wifi_station_transmitted_packets_total",
            "The total number of packets transmitted by a station.",
            number(st, "transmittedpackets"),
        ),
        (
            "node_wifi_station_transmit_retries_total",
            "The total number of times a station has had to retry while sending a packet.",
            number(st, "transmitretries"),
        ),
        (
            "node_wifi_station_transmit_failed_total",
            "The total number of times a station has failed to send a packet.",
            number(st, "transmitfailed"),
        ),
        (
            "node_wifi_station_beacon_loss_total",
            "The total number of times a station has detected a beacon loss.",
            number(st, "beaconloss"),
        ),
    ];
    for (name, help, v) in counters {
        out.push(counter(name, help, &labels, v));
    }
    let gauges = [
        (
            "node_wifi_station_inactive_seconds",
            "The number of seconds since any wireless activity has occurred on a station.",
            number(st, "inactive") / 1e9,
        ),
        (
            "node_wifi_station_receive_bits_per_second",
            "The current WiFi receive bitrate of a station, in bits per second.",
            number(st, "receivebitrate"),
        ),
        (
            "node_wifi_station_transmit_bits_per_second",
            "The current WiFi transmit bitrate of a station, in bits per second.",
            number(st, "transmitbitrate"),
        ),
        (
            "node_wifi_station_signal_dbm",
            "The current WiFi signal strength, in decibel-milliwatts (dBm).",
            number(st, "signal"),
        ),
    ];
    for (name, help, v) in gauges {
        out.push(gauge(name, help, &labels, v));
    }
}

impl Wifi {
    fn collect_fixtures(&self, dir: &Path, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let path = dir.join("interfaces.json");
        let interfaces = read_json(&path)?;
        let Some(list) = interfaces.as_array() else {
            return Err(CollectorError::malformed(&path, 1, "expected a list of interfaces"));
        };
        for iface in list {
            let Some(name) = field(iface, "name").and_then(Json::as_str).filter(|n| !n.is_empty()) else {
                continue;
            };
            if self.devices.ignored(name) {
                continue;
            }
            let freq = number(iface, "frequency");
            if freq != 0.0 {
                out.push(gauge(
                    "node_wifi_interface_frequency_hertz",
                    "The current frequency a WiFi interface is operating at, in hertz.",
                    &[("device", name)],
                    freq * 1e6,
                ));
            }
            if let Some(bss) = read_optional_json(&dir.join(name).join("bss.json"))? {
                let bssid = mac(&bss, "bssid");
                let ssid = field(&bss, "ssid").and_then(Json::as_str).unwrap_or_default();
                out.push(gauge(
                    "node_wifi_station_info",
                    "Labeled WiFi interface station information as provided by the operating system.",
                    &[
                        ("device", name),
                        ("bssid", &bssid),
                        ("ssid", ssid),
                        ("mode", bss_mode(number(&bss, "status"))),
                    ],
                    1.0,
                ));
            }
            if let Some(stations) = read_optional_json(&dir.join(name).join("stationinfo.json"))? {
                for st in stations.as_array().into_iter().flatten() {
                    station(name, st, out);
                }
            }
        }
        Ok(())
    }
}

impl Collector for Wifi {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        match &self.fixtures {
            Some(dir) => Ok(self.collect_fixtures(dir, out)?),
            None => Err(CollectError::msg(
                "wifi: querying nl80211 is not supported by this build",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixtures_interfaces_bss_and_stations() {
        let dir = tempfile::tempdir().unwrap();
        let files = [
            (
                "interfaces.json",
                r#"[{"name":"wlan0","type":2,"frequency":2412},{"type":10}]"#,
            ),
            ("wlan0/bss.json", r#"{"ssid":"Example","bssid":"ABEiM0RV","status":1}"#),
            (
                "wlan0/stationinfo.json",
                r#"[{"HardwareAddr":"qrvM3e7/","connected":30000000000,"signal":-52}]"#,
            ),
        ];
        for (p, c) in files {
            let p = dir.path().join(p);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, c).unwrap();
        }
        let c = Wifi {
            fixtures: Some(dir.path().to_path_buf()),
            devices: DeviceFilter::default(),
        };
        let mut out = Vec::new();
        c.collect(&mut out).unwrap();
        let find = |name: &str| out.iter().find(|f| f.name == name).map(|f| &f.metrics[0]);
        let info = find("node_wifi_station_info").unwrap();
        assert_eq!(info.labels.get("bssid"), Some("00:11:22:33:44:55"));
        assert_eq!(info.labels.get("mode"), Some("client"));
        let signal = find("node_wifi_station_signal_dbm").unwrap();
        assert_eq!(signal.labels.get("mac_address"), Some("aa:bb:cc:dd:ee:ff"));
        assert_eq!(signal.value, exposition::Value::Gauge(-52.0));
        assert_eq!(
            find("node_wifi_interface_frequency_hertz").unwrap().value,
            exposition::Value::Gauge(2.412e9)
        );
        std::fs::write(dir.path().join("wlan0/bss.json"), "{not json").unwrap();
        assert!(c.collect(&mut Vec::new()).is_err());
        let live = Wifi {
            fixtures: None,
            devices: DeviceFilter::default(),
        };
        assert!(live.collect(&mut Vec::new()).is_err());
    }
}
