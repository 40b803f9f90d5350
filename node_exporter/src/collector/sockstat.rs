//! `sockstat`: socket counts per protocol from `/proc/net/sockstat` and `/proc/net/sockstat6`, as
//! `node_sockstat_<PROTO>_<field>`; `mem` (pages) is also exported in bytes as `mem_bytes`.

use std::path::Path;

use exposition::{CollectError, Collector, MetricFamily, MetricType};

use super::procutil::{numbered, read_optional};
use super::{CollectorError, Spec, parse_num, read_file, single};
use crate::paths::Paths;

/// Table entry.
pub const SPEC: Spec = Spec::new("sockstat", true, |s| Ok(Box::new(SockStat(s.paths.clone()))));

/// `AT_PAGESZ` in the auxiliary vector.
const AT_PAGESZ: u64 = 6;

/// The system page size, from this process's auxiliary vector (4096 if that cannot be read).
pub fn page_size() -> u64 {
    let Ok(auxv) = std::fs::read("/proc/self/auxv") else {
        return 4096;
    };
    auxv.chunks_exact(16)
        .map(|c| {
            let word = |b: &[u8]| u64::from_ne_bytes(b.try_into().unwrap_or([0; 8]));
            (word(&c[..8]), word(&c[8..]))
        })
        .find(|(k, _)| *k == AT_PAGESZ)
        .map_or(4096, |(_, v)| v)
}

/// `(protocol, field, value)` triples of a sockstat file.
fn parse_sockstat(path: &Path, text: &str) -> Result<Vec<(String, String, f64)>, CollectorError> {
    let mut out = Vec::new();
    for (n, line) in numbered(text) {
        let Some((proto, rest)) = line.split_once(':') else {
            if line.trim().is_empty() {
                continue;
            }
            return Err(CollectorError::malformed(path, n, "missing ':' after the protocol"));
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.len() % 2 != 0 {
            return Err(CollectorError::malformed(path, n, "odd number of fields"));
        }
        for pair in fields.chunks_exact(2) {
            out.push((proto.to_string(), pair[0].to_string(), parse_num(path, n, pair[1])?));
        }
    }
    Ok(out)
}

struct SockStat(Paths);

impl Collector for SockStat {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        let page = page_size() as f64;
        for (file, required) in [("net/sockstat", true), ("net/sockstat6", false)] {
            let path = self.0.proc(file);
            let text = if required {
                Some(read_file(&path)?)
            } else {
                read_optional(&path)?
            };
            let Some(text) = text else { continue };
            for (proto, field, v) in parse_sockstat(&path, &text)? {
                if proto == "sockets" {
                    if field == "used" && required {
                        out.push(single(
                            "node_sockstat_sockets_used",
                            "Number of IPv4 sockets in use.",
                            MetricType::Gauge,
                            v,
                        ));
                    }
                    continue;
                }
                let mut emit = |field: &str, v: f64| {
                    out.push(single(
                        &format!("node_sockstat_{proto}_{field}"),
                        &format!("Number of {proto} sockets in state {field}."),
                        MetricType::Gauge,
                        v,
                    ));
                };
                emit(&field, v);
                if field == "mem" {
                    emit("mem_bytes", v * page);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sockstat_lines() {
        let p = Path::new("sockstat");
        let got = parse_sockstat(p, "sockets: used 229\nTCP: inuse 4 orphan 0 mem 1\n").unwrap();
        assert_eq!(got.len(), 4);
        assert_eq!(got[3], ("TCP".into(), "mem".into(), 1.0));
        for bad in ["TCP inuse 4\n", "TCP: inuse\n", "TCP: inuse x\n"] {
            assert!(parse_sockstat(p, bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn page_size_is_sane() {
        let p = page_size();
        assert!(p.is_power_of_two() && p >= 4096, "{p}");
    }
}
