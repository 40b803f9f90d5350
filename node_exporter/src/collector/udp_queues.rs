//! `udp_queues`: memory queued in the kernel for UDP sockets, summed from the `tx_queue`/`rx_queue` columns of
//! `/proc/net/udp` and `/proc/net/udp6`.

use std::path::Path;

use exposition::{CollectError, Collector, MetricFamily, MetricType};

use super::procutil::{add, family, numbered, read_optional};
use super::{CollectorError, Spec};
use crate::paths::Paths;

/// Table entry.
pub const SPEC: Spec = Spec::new("udp_queues", true, |s| Ok(Box::new(UdpQueues(s.paths.clone()))));

/// `(tx, rx)` totals of a `/proc/net/udp*` file.
fn parse_udp(path: &Path, text: &str) -> Result<(u64, u64), CollectorError> {
    let (mut tx, mut rx) = (0u64, 0u64);
    for (n, line) in numbered(text).skip(1) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.is_empty() {
            continue;
        }
        let Some((t, r)) = fields.get(4).and_then(|q| q.split_once(':')) else {
            return Err(CollectorError::malformed(path, n, "missing tx_queue:rx_queue column"));
        };
        let hex = |s: &str| {
            u64::from_str_radix(s, 16)
                .map_err(|_| CollectorError::malformed(path, n, format!("invalid hexadecimal number {s:?}")))
        };
        tx = tx.wrapping_add(hex(t)?);
        rx = rx.wrapping_add(hex(r)?);
    }
    Ok((tx, rx))
}

struct UdpQueues(Paths);

impl Collector for UdpQueues {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        let mut f = family(
            "node_udp_queues",
            "Number of allocated memory in the kernel for UDP datagrams in bytes.",
            MetricType::Gauge,
        );
        for (file, ip) in [("net/udp", "v4"), ("net/udp6", "v6")] {
            let path = self.0.proc(file);
            let Some(text) = read_optional(&path)? else { continue };
            let (tx, rx) = parse_udp(&path, &text)?;
            add(&mut f, &[("queue", "tx"), ("ip", ip)], tx as f64);
            add(&mut f, &[("queue", "rx"), ("ip", ip)], rx as f64);
        }
        if f.metrics.is_empty() {
            return Err(CollectorError::Read {
                path: self.0.proc("net/udp"),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "neither udp nor udp6 exists"),
            }
            .into());
        }
        out.push(f);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn udp_lines() {
        let p = Path::new("udp");
        let head = "  sl  local_address rem_address   st tx_queue rx_queue\n";
        let text = format!("{head}   0: 00000000:0016 00000000:0000 0A 00000015:00000001 00:0\n   1: a b 0A 1:2 0\n");
        assert_eq!(parse_udp(p, &text).unwrap(), (0x16, 3));
        for bad in ["   0: a b 0A\n", "   0: a b 0A zz:1\n"] {
            assert!(parse_udp(p, &format!("{head}{bad}")).is_err(), "{bad:?}");
        }
    }
}
