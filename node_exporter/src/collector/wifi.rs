//! `wifi`: WiFi interfaces and the stations they see: frequency, BSS information and per station signal,
//! bitrates, byte and packet counts, retries, failures and beacon losses.
//!
//! The data comes from nl80211 over generic netlink (interfaces, the associated BSS from the scan results, and
//! the station dump), or with `--collector.wifi.fixtures` from the JSON form of those replies that upstream's
//! tests use (`interfaces.json`, `<iface>/bss.json`, `<iface>/stationinfo.json`). A host without nl80211 has no
//! data (success 0, logged at debug).

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

/// `node_wifi_interface_frequency_hertz` from a frequency in MHz.
fn frequency(device: &str, mhz: f64) -> MetricFamily {
    gauge(
        "node_wifi_interface_frequency_hertz",
        "The current frequency a WiFi interface is operating at, in hertz.",
        &[("device", device)],
        mhz * 1e6,
    )
}

/// `node_wifi_station_info` for an associated BSS.
fn station_info(device: &str, bssid: &str, ssid: &str, status: f64) -> MetricFamily {
    gauge(
        "node_wifi_station_info",
        "Labeled WiFi interface station information as provided by the operating system.",
        &[
            ("device", device),
            ("bssid", bssid),
            ("ssid", ssid),
            ("mode", bss_mode(status)),
        ],
        1.0,
    )
}

/// BSS status: authenticated (0) or associated (1) is a client, IBSS joined (2) ad-hoc.
fn bss_mode(status: f64) -> &'static str {
    match status as i64 {
        0 | 1 => "client",
        2 => "ad-hoc",
        _ => "unknown",
    }
}

/// One station's figures, in the units of the metrics (seconds, bits per second).
#[derive(Debug, Clone, Default, PartialEq)]
struct Station {
    mac: String,
    connected_seconds: f64,
    inactive_seconds: f64,
    receive_bits: f64,
    transmit_bits: f64,
    received_bytes: f64,
    transmitted_bytes: f64,
    received_packets: f64,
    transmitted_packets: f64,
    signal: f64,
    retries: f64,
    failed: f64,
    beacon_loss: f64,
}

impl Station {
    /// From the fixture JSON (durations in nanoseconds, Go field names in any case).
    fn from_json(st: &Json) -> Station {
        Station {
            mac: mac(st, "hardwareaddr"),
            connected_seconds: number(st, "connected") / 1e9,
            inactive_seconds: number(st, "inactive") / 1e9,
            receive_bits: number(st, "receivebitrate"),
            transmit_bits: number(st, "transmitbitrate"),
            received_bytes: number(st, "receivedbytes"),
            transmitted_bytes: number(st, "transmittedbytes"),
            received_packets: number(st, "receivedpackets"),
            transmitted_packets: number(st, "transmittedpackets"),
            signal: number(st, "signal"),
            retries: number(st, "transmitretries"),
            failed: number(st, "transmitfailed"),
            beacon_loss: number(st, "beaconloss"),
        }
    }
}

fn station(device: &str, st: &Station, out: &mut Vec<MetricFamily>) {
    let labels = [("device", device), ("mac_address", st.mac.as_str())];
    let counters = [
        (
            "node_wifi_station_connected_seconds_total",
            "The total number of seconds a station has been connected to an access point.",
            st.connected_seconds,
        ),
        (
            "node_wifi_station_receive_bytes_total",
            "The total number of bytes received by a WiFi station.",
            st.received_bytes,
        ),
        (
            "node_wifi_station_transmit_bytes_total",
            "The total number of bytes transmitted by a WiFi station.",
            st.transmitted_bytes,
        ),
        (
            "node_wifi_station_received_packets_total",
            "The total number of packets received by a station.",
            st.received_packets,
        ),
        (
            "node_wifi_station_transmitted_packets_total",
            "The total number of packets transmitted by a station.",
            st.transmitted_packets,
        ),
        (
            "node_wifi_station_transmit_retries_total",
            "The total number of times a station has had to retry while sending a packet.",
            st.retries,
        ),
        (
            "node_wifi_station_transmit_failed_total",
            "The total number of times a station has failed to send a packet.",
            st.failed,
        ),
        (
            "node_wifi_station_beacon_loss_total",
            "The total number of times a station has detected a beacon loss.",
            st.beacon_loss,
        ),
    ];
    for (name, help, v) in counters {
        out.push(counter(name, help, &labels, v));
    }
    let gauges = [
        (
            "node_wifi_station_inactive_seconds",
            "The number of seconds since any wireless activity has occurred on a station.",
            st.inactive_seconds,
        ),
        (
            "node_wifi_station_receive_bits_per_second",
            "The current WiFi receive bitrate of a station, in bits per second.",
            st.receive_bits,
        ),
        (
            "node_wifi_station_transmit_bits_per_second",
            "The current WiFi transmit bitrate of a station, in bits per second.",
            st.transmit_bits,
        ),
        (
            "node_wifi_station_signal_dbm",
            "The current WiFi signal strength, in decibel-milliwatts (dBm).",
            st.signal,
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
            out.push(frequency(name, number(iface, "frequency")));
            if let Some(bss) = read_optional_json(&dir.join(name).join("bss.json"))? {
                let bssid = mac(&bss, "bssid");
                let ssid = field(&bss, "ssid").and_then(Json::as_str).unwrap_or_default();
                out.push(station_info(name, &bssid, ssid, number(&bss, "status")));
            }
            if let Some(stations) = read_optional_json(&dir.join(name).join("stationinfo.json"))? {
                for st in stations.as_array().into_iter().flatten() {
                    station(name, &Station::from_json(st), out);
                }
            }
        }
        Ok(())
    }
}

impl Wifi {
    fn collect_nl80211(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let no_data = |e: super::netlink::NetlinkError| {
            let not_found = e.is_not_found();
            CollectorError::Read {
                path: PathBuf::from("nl80211"),
                source: if not_found {
                    std::io::ErrorKind::NotFound.into()
                } else {
                    e.into()
                },
            }
        };
        let mut client = nl80211::Client::open().map_err(no_data)?;
        for iface in client.interfaces().map_err(no_data)? {
            if iface.name.is_empty() || self.devices.ignored(&iface.name) {
                continue;
            }
            out.push(frequency(&iface.name, f64::from(iface.frequency_mhz)));
            if let Some(bss) = client.bss(iface.index).map_err(no_data)? {
                out.push(station_info(&iface.name, &bss.bssid, &bss.ssid, f64::from(bss.status)));
            }
            for st in client.stations(iface.index).map_err(no_data)? {
                station(&iface.name, &st, out);
            }
        }
        Ok(())
    }
}

/// nl80211 over generic netlink: family lookup, interface, scan (BSS) and station dumps.
mod nl80211 {
    use nix::sys::socket::SockProtocol;

    use super::super::netlink::{
        F_DUMP, F_REQUEST, NetlinkError, Socket, attribute, attributes, u16_at, u32_at, u64_at,
    };
    use super::Station;

    const GENL_ID_CTRL: u16 = 0x10;
    const CTRL_CMD_GETFAMILY: u8 = 3;
    const CTRL_ATTR_FAMILY_ID: u16 = 1;
    const CTRL_ATTR_FAMILY_NAME: u16 = 2;
    const CMD_GET_INTERFACE: u8 = 5;
    const CMD_GET_STATION: u8 = 17;
    const CMD_GET_SCAN: u8 = 32;
    const ATTR_IFINDEX: u16 = 3;
    const ATTR_IFNAME: u16 = 4;
    const ATTR_MAC: u16 = 6;
    const ATTR_STA_INFO: u16 = 21;
    const ATTR_WIPHY_FREQ: u16 = 38;
    const ATTR_BSS: u16 = 47;
    const BSS_BSSID: u16 = 1;
    const BSS_INFORMATION_ELEMENTS: u16 = 6;
    const BSS_STATUS: u16 = 9;

    /// One wireless interface.
    #[derive(Debug, Clone, Default, PartialEq)]
    pub struct Interface {
        pub index: u32,
        pub name: String,
        pub frequency_mhz: u32,
    }

    /// The BSS an interface is associated with.
    #[derive(Debug, Clone, Default, PartialEq)]
    pub struct Bss {
        pub bssid: String,
        pub ssid: String,
        pub status: u32,
    }

    fn genl(cmd: u8, version: u8, attrs: &[u8]) -> Vec<u8> {
        let mut p = vec![cmd, version, 0, 0];
        p.extend(attrs);
        p
    }

    /// The attributes after the generic netlink header.
    fn genl_attributes(payload: &[u8]) -> Vec<(u16, &[u8])> {
        attributes(payload.get(4..).unwrap_or_default())
    }

    fn mac(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect::<Vec<_>>().join(":")
    }

    fn string(b: &[u8]) -> String {
        let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
        String::from_utf8_lossy(&b[..end]).into_owned()
    }

    /// Decodes a `NL80211_CMD_NEW_INTERFACE` payload.
    pub fn decode_interface(payload: &[u8]) -> Interface {
        let mut i = Interface::default();
        for (kind, data) in genl_attributes(payload) {
            match kind {
                ATTR_IFINDEX => i.index = u32_at(data, 0).unwrap_or(0),
                ATTR_IFNAME => i.name = string(data),
                ATTR_WIPHY_FREQ => i.frequency_mhz = u32_at(data, 0).unwrap_or(0),
                _ => {}
            }
        }
        i
    }

    /// A bitrate attribute (nested rate info) in bits per second: 32-bit or 16-bit rate in 100 kbit/s.
    fn bitrate(nested: &[u8]) -> f64 {
        let mut rate16 = None;
        let mut rate32 = None;
        for (kind, data) in attributes(nested) {
            match kind {
                1 => rate16 = u16_at(data, 0).map(u32::from),
                5 => rate32 = u32_at(data, 0),
                _ => {}
            }
        }
        f64::from(rate32.or(rate16).unwrap_or(0)) * 100_000.0
    }

    /// Decodes a `NL80211_CMD_NEW_STATION` payload.
    pub fn decode_station(payload: &[u8]) -> Station {
        let mut st = Station::default();
        let (mut bytes32, mut bytes64) = ([None, None], [None, None]);
        for (kind, data) in genl_attributes(payload) {
            match kind {
                ATTR_MAC => st.mac = mac(data),
                ATTR_STA_INFO => {
                    for (k, d) in attributes(data) {
                        let v32 = || f64::from(u32_at(d, 0).unwrap_or(0));
                        match k {
                            1 => st.inactive_seconds = v32() / 1000.0,
                            2 => bytes32[0] = Some(v32()),
                            3 => bytes32[1] = Some(v32()),
                            7 => st.signal = f64::from(d.first().map_or(0, |&b| b as i8)),
                            8 => st.transmit_bits = bitrate(d),
                            9 => st.received_packets = v32(),
                            10 => st.transmitted_packets = v32(),
                            11 => st.retries = v32(),
                            12 => st.failed = v32(),
                            14 => st.receive_bits = bitrate(d),
                            16 => st.connected_seconds = v32(),
                            18 => st.beacon_loss = v32(),
                            23 => bytes64[0] = u64_at(d, 0).map(|v| v as f64),
                            24 => bytes64[1] = u64_at(d, 0).map(|v| v as f64),
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        st.received_bytes = bytes64[0].or(bytes32[0]).unwrap_or(0.0);
        st.transmitted_bytes = bytes64[1].or(bytes32[1]).unwrap_or(0.0);
        st
    }

    /// Decodes a scan result; `Some` only for the BSS the interface is authenticated or associated with.
    pub fn decode_bss(payload: &[u8]) -> Option<Bss> {
        let (_, nested) = genl_attributes(payload).into_iter().find(|(k, _)| *k == ATTR_BSS)?;
        let mut bss = Bss::default();
        let mut status = None;
        for (kind, data) in attributes(nested) {
            match kind {
                BSS_BSSID => bss.bssid = mac(data),
                BSS_STATUS => status = u32_at(data, 0),
                BSS_INFORMATION_ELEMENTS => {
                    let mut ies = data;
                    while let [id, len, rest @ ..] = ies {
                        let len = usize::from(*len);
                        let Some(value) = rest.get(..len) else { break };
                        if *id == 0 {
                            bss.ssid = String::from_utf8_lossy(value).into_owned();
                        }
                        ies = &rest[len..];
                    }
                }
                _ => {}
            }
        }
        bss.status = status?;
        Some(bss)
    }

    /// A generic netlink connection to nl80211.
    #[derive(Debug)]
    pub struct Client {
        sock: Socket,
        family: u16,
    }

    impl Client {
        /// Opens the socket and resolves the nl80211 family (missing: no WiFi support on this host).
        pub fn open() -> Result<Client, NetlinkError> {
            let mut sock = Socket::open(SockProtocol::NetlinkGeneric)?;
            let req = genl(CTRL_CMD_GETFAMILY, 1, &attribute(CTRL_ATTR_FAMILY_NAME, b"nl80211\0"));
            let replies = sock.request(GENL_ID_CTRL, F_REQUEST, &req)?;
            let family = replies
                .iter()
                .flat_map(|(_, p)| genl_attributes(p))
                .find(|(k, _)| *k == CTRL_ATTR_FAMILY_ID)
                .and_then(|(_, d)| u16_at(d, 0))
                .ok_or(NetlinkError::Malformed("no nl80211 family id"))?;
            Ok(Client { sock, family })
        }

        pub fn interfaces(&mut self) -> Result<Vec<Interface>, NetlinkError> {
            let replies = self
                .sock
                .request(self.family, F_REQUEST | F_DUMP, &genl(CMD_GET_INTERFACE, 0, &[]))?;
            Ok(replies.iter().map(|(_, p)| decode_interface(p)).collect())
        }

        pub fn stations(&mut self, ifindex: u32) -> Result<Vec<Station>, NetlinkError> {
            let req = genl(CMD_GET_STATION, 0, &attribute(ATTR_IFINDEX, &ifindex.to_ne_bytes()));
            let replies = self.sock.request(self.family, F_REQUEST | F_DUMP, &req)?;
            Ok(replies.iter().map(|(_, p)| decode_station(p)).collect())
        }

        pub fn bss(&mut self, ifindex: u32) -> Result<Option<Bss>, NetlinkError> {
            let req = genl(CMD_GET_SCAN, 0, &attribute(ATTR_IFINDEX, &ifindex.to_ne_bytes()));
            let replies = self.sock.request(self.family, F_REQUEST | F_DUMP, &req)?;
            Ok(replies.iter().find_map(|(_, p)| decode_bss(p)))
        }
    }
}

impl Collector for Wifi {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        match &self.fixtures {
            Some(dir) => Ok(self.collect_fixtures(dir, out)?),
            None => Ok(self.collect_nl80211(out)?),
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
    }

    fn genl_payload(attrs: &[Vec<u8>]) -> Vec<u8> {
        let mut p = vec![0u8; 4];
        for a in attrs {
            p.extend(a);
        }
        p
    }

    #[test]
    fn nl80211_decoding() {
        use super::super::netlink::attribute;
        let iface = genl_payload(&[
            attribute(3, &7u32.to_ne_bytes()),
            attribute(4, b"wlan0\0"),
            attribute(38, &2412u32.to_ne_bytes()),
        ]);
        let i = nl80211::decode_interface(&iface);
        assert_eq!((i.index, i.name.as_str(), i.frequency_mhz), (7, "wlan0", 2412));

        let mut rate = attribute(5, &1280u32.to_ne_bytes());
        rate.extend(attribute(1, &9u16.to_ne_bytes()));
        let mut info = attribute(16, &30u32.to_ne_bytes());
        info.extend(attribute(1, &400u32.to_ne_bytes()));
        info.extend(attribute(7, &[(-52i8) as u8]));
        info.extend(attribute(14, &rate));
        info.extend(attribute(2, &5u32.to_ne_bytes()));
        info.extend(attribute(23, &9_000_000_000u64.to_ne_bytes()));
        let st = nl80211::decode_station(&genl_payload(&[
            attribute(6, &[0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff]),
            attribute(21, &info),
        ]));
        assert_eq!(st.mac, "aa:bb:cc:dd:ee:ff");
        assert_eq!(st.connected_seconds, 30.0);
        assert_eq!(st.inactive_seconds, 0.4);
        assert_eq!(st.signal, -52.0);
        assert_eq!(st.receive_bits, 1.28e8);
        assert_eq!(st.received_bytes, 9e9);

        let mut bss = attribute(1, &[0, 0x11, 0x22, 0x33, 0x44, 0x55]);
        bss.extend(attribute(
            6,
            &[0, 7, b'E', b'x', b'a', b'm', b'p', b'l', b'e', 1, 1, 0x82],
        ));
        bss.extend(attribute(9, &1u32.to_ne_bytes()));
        let got = nl80211::decode_bss(&genl_payload(&[attribute(47, &bss)])).unwrap();
        assert_eq!(
            (got.bssid.as_str(), got.ssid.as_str(), got.status),
            ("00:11:22:33:44:55", "Example", 1)
        );
        // A scan result without status is not the associated BSS; a truncated IE list stops cleanly.
        let unassociated = attribute(6, &[0, 40, b'x']);
        assert_eq!(
            nl80211::decode_bss(&genl_payload(&[attribute(47, &unassociated)])),
            None
        );
    }

    #[test]
    fn live_nl80211_without_wifi_is_no_data_or_data() {
        let live = Wifi {
            fixtures: None,
            devices: DeviceFilter::default(),
        };
        match live.collect(&mut Vec::new()) {
            Ok(()) => {}
            Err(e) => assert!(e.is_no_data(), "{e}"),
        }
    }
}
