//! `edac`: memory error counts from the EDAC subsystem, `/sys/devices/system/edac/mc/mc<N>`: per controller,
//! per chip-select row (`csrow<N>`, plus `unknown` for errors without row information) and per channel.

use std::path::Path;

use exposition::{CollectError, Collector, MetricFamily};

use super::sysfs::{counter, list_dir, read_number, read_optional, read_optional_number};
use super::{BuildError, CollectorError, Settings, Spec};
use crate::paths::Paths;

/// Table entry.
pub const SPEC: Spec = Spec::new("edac", true, build);

fn build(s: &Settings<'_>) -> Result<Box<dyn Collector>, BuildError> {
    Ok(Box::new(Edac { paths: s.paths.clone() }))
}

struct Edac {
    paths: Paths,
}

/// `prefix` followed by a decimal number: the number.
fn numbered<'a>(name: &'a str, prefix: &str) -> Option<&'a str> {
    name.strip_prefix(prefix)
        .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

fn controller(mc: &str, dir: &Path, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
    let labels = [("controller", mc)];
    out.push(counter(
        "node_edac_correctable_errors_total",
        "Total correctable memory errors.",
        &labels,
        read_number(&dir.join("ce_count"))?,
    ));
    out.push(counter(
        "node_edac_uncorrectable_errors_total",
        "Total uncorrectable memory errors.",
        &labels,
        read_number(&dir.join("ue_count"))?,
    ));
    let unknown = [("controller", mc), ("csrow", "unknown")];
    out.push(csrow_ce(&unknown, read_number(&dir.join("ce_noinfo_count"))?));
    out.push(csrow_ue(&unknown, read_number(&dir.join("ue_noinfo_count"))?));
    for entry in list_dir(dir)? {
        let Some(row) = numbered(&entry, "csrow") else { continue };
        let row_dir = dir.join(&entry);
        let labels = [("controller", mc), ("csrow", row)];
        out.push(csrow_ce(&labels, read_number(&row_dir.join("ce_count"))?));
        out.push(csrow_ue(&labels, read_number(&row_dir.join("ue_count"))?));
        for file in list_dir(&row_dir)? {
            let Some(rest) = file.strip_prefix("ch") else { continue };
            let (channel, kind) = match (rest.strip_suffix("_ce_count"), rest.strip_suffix("_ue_count")) {
                (Some(c), _) => (c, "ce"),
                (_, Some(c)) => (c, "ue"),
                _ => continue,
            };
            if channel.is_empty() || !channel.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            let Some(v) = read_optional_number(&row_dir.join(&file)) else {
                continue;
            };
            let raw = read_optional(&row_dir.join(format!("ch{channel}_dimm_label"))).unwrap_or_default();
            let dimm = dimm_label(&raw);
            let labels = [
                ("controller", mc),
                ("csrow", row),
                ("channel", channel),
                ("dimm_label", &dimm),
            ];
            out.push(if kind == "ce" {
                counter(
                    "node_edac_channel_correctable_errors_total",
                    "Total correctable memory errors for this channel.",
                    &labels,
                    v,
                )
            } else {
                counter(
                    "node_edac_channel_uncorrectable_errors_total",
                    "Total uncorrectable memory errors for this channel.",
                    &labels,
                    v,
                )
            });
        }
    }
    Ok(())
}

/// The DIMM label as exported: the kernel's default label (`mc#0csrow#1channel#2`, also seen without `#`) in
/// upstream's normalised `mc0_csrow1_channel2` form, a label set by the administrator as is.
fn dimm_label(raw: &str) -> String {
    let parts = || -> Option<(&str, &str, &str)> {
        let rest = raw.strip_prefix("mc")?.trim_start_matches('#');
        let (mc, rest) = rest.split_once("csrow")?;
        let (row, ch) = rest.trim_start_matches('#').split_once("channel")?;
        let ch = ch.trim_start_matches('#');
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        (digits(mc) && digits(row) && digits(ch)).then_some((mc, row, ch))
    };
    match parts() {
        Some((mc, row, ch)) => format!("mc{mc}_csrow{row}_channel{ch}"),
        None => raw.to_string(),
    }
}

fn csrow_ce(labels: &[(&str, &str)], v: f64) -> MetricFamily {
    counter(
        "node_edac_csrow_correctable_errors_total",
        "Total correctable memory errors for this csrow.",
        labels,
        v,
    )
}

fn csrow_ue(labels: &[(&str, &str)], v: f64) -> MetricFamily {
    counter(
        "node_edac_csrow_uncorrectable_errors_total",
        "Total uncorrectable memory errors for this csrow.",
        labels,
        v,
    )
}

impl Collector for Edac {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        let base = self.paths.sys("devices/system/edac/mc");
        for entry in list_dir(&base)? {
            if let Some(mc) = numbered(&entry, "mc") {
                controller(mc, &base.join(&entry), out)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(files: &[(&str, &str)]) -> Result<Vec<MetricFamily>, CollectError> {
        let root = tempfile::tempdir().unwrap();
        for (p, c) in files {
            let p = root.path().join("devices/system/edac/mc").join(p);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, c).unwrap();
        }
        let c = Edac {
            paths: Paths {
                sysfs: root.path().to_path_buf(),
                ..Paths::default()
            },
        };
        let mut out = Vec::new();
        c.collect(&mut out).map(|()| out)
    }

    const CONTROLLER: [(&str, &str); 4] = [
        ("mc0/ce_count", "1\n"),
        ("mc0/ue_count", "5\n"),
        ("mc0/ce_noinfo_count", "2\n"),
        ("mc0/ue_noinfo_count", "6\n"),
    ];

    #[test]
    fn controller_rows_and_channels() {
        let mut files = CONTROLLER.to_vec();
        files.extend([
            ("mc0/csrow0/ce_count", "3\n"),
            ("mc0/csrow0/ue_count", "4\n"),
            ("mc0/csrow0/ch1_ce_count", "7\n"),
            ("mc0/csrow0/ch1_dimm_label", "DIMM_B\n"),
        ]);
        let fams = run(&files).unwrap();
        let find = |name: &str, csrow: &str| {
            fams.iter()
                .filter(|f| f.name == name)
                .flat_map(|f| &f.metrics)
                .find(|m| m.labels.get("csrow").unwrap_or("") == csrow)
                .map(|m| m.labels.clone())
        };
        assert!(find("node_edac_correctable_errors_total", "").is_some());
        assert!(find("node_edac_csrow_uncorrectable_errors_total", "unknown").is_some());
        assert!(find("node_edac_csrow_correctable_errors_total", "0").is_some());
        let ch = find("node_edac_channel_correctable_errors_total", "0").unwrap();
        assert_eq!(ch.get("dimm_label"), Some("DIMM_B"));
        assert_eq!(ch.get("channel"), Some("1"));
        assert!(find("node_edac_channel_uncorrectable_errors_total", "0").is_none());
    }

    #[test]
    fn dimm_labels() {
        let cases = [
            ("mc0csrow1channel2", "mc0_csrow1_channel2"),
            ("mc#0csrow#1channel#2", "mc0_csrow1_channel2"),
            ("DIMM_A1", "DIMM_A1"),
            ("mccsrowchannel", "mccsrowchannel"),
            ("", ""),
        ];
        for (raw, want) in cases {
            assert_eq!(dimm_label(raw), want);
        }
    }

    #[test]
    fn missing_or_malformed_counts_fail() {
        assert!(run(&CONTROLLER[..3]).is_err());
        let mut files = CONTROLLER.to_vec();
        files[0] = ("mc0/ce_count", "many\n");
        assert!(run(&files).is_err());
    }
}
