//! `mdadm`: software RAID (md) arrays from `/proc/mdstat` (state, disks, blocks, sync progress) and
//! `/sys/block/md*/md/` (raid disks, degraded disks).

use std::path::Path;

use exposition::{CollectError, Collector, MetricFamily, MetricType};
use regex::Regex;

use super::procutil::{add, family};
use super::{CollectorError, Spec, parse_num, read_file};
use crate::paths::Paths;

/// Table entry.
pub const SPEC: Spec = Spec::new("mdadm", true, |s| Ok(Box::new(Mdadm(s.paths.clone()))));

/// One array of `/proc/mdstat`.
#[derive(Debug, Clone, PartialEq)]
struct MdStat {
    name: String,
    /// `active`, `inactive`, `recovering`, `resyncing` or `checking`.
    state: String,
    active: u64,
    failed: u64,
    spare: u64,
    total: u64,
    blocks: u64,
    synced: u64,
}

fn status_line_re() -> Regex {
    Regex::new(r"(\d+) blocks .*\[(\d+)/(\d+)\] \[([U_]+)\]").expect("valid pattern")
}

fn parse_mdstat(path: &Path, text: &str) -> Result<Vec<MdStat>, CollectorError> {
    let lines: Vec<&str> = text.lines().collect();
    let status_re = status_line_re();
    let synced_re = Regex::new(r"\((\d+)/\d+\)").expect("valid pattern");
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let n = i + 1;
        if line.trim().is_empty()
            || line.starts_with([' ', '\t'])
            || line.starts_with("Personalities")
            || line.starts_with("unused")
        {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 3 {
            return Err(CollectorError::malformed(path, n, "expected '<md> : <state> ...'"));
        }
        if lines.len() <= i + 2 {
            return Err(CollectorError::malformed(path, n, "too few lines for the md device"));
        }
        let status = lines[i + 1];
        let blocks: u64 = match status.split_whitespace().next() {
            Some(s) => parse_num(path, n + 1, s)?,
            None => return Err(CollectorError::malformed(path, n + 1, "empty status line")),
        };
        let (active, total) = if line.contains("raid0") || line.contains("linear") {
            let disks = line.matches('[').count() as u64;
            (disks, disks)
        } else if line.contains("inactive") {
            (0, 0)
        } else {
            let caps = status_re
                .captures(status)
                .ok_or_else(|| CollectorError::malformed(path, n + 1, "no [total/active] [U_] in the status line"))?;
            (parse_num(path, n + 1, &caps[3])?, parse_num(path, n + 1, &caps[2])?)
        };
        let mut sync_idx = i + 2;
        if lines[sync_idx].contains("bitmap") {
            sync_idx += 1;
        }
        let sync = lines.get(sync_idx).copied().unwrap_or("");
        let mut state = fields[2].to_string();
        let mut synced = blocks;
        let (recovering, resyncing, checking) = (
            sync.contains("recovery"),
            sync.contains("resync"),
            sync.contains("check"),
        );
        if recovering || resyncing || checking {
            state = if recovering {
                "recovering"
            } else if checking {
                "checking"
            } else {
                "resyncing"
            }
            .to_string();
            synced = if sync.contains("PENDING") || sync.contains("DELAYED") {
                0
            } else {
                let caps = synced_re
                    .captures(sync)
                    .ok_or_else(|| CollectorError::malformed(path, sync_idx + 1, "no (synced/total) in sync line"))?;
                parse_num(path, sync_idx + 1, &caps[1])?
            };
        }
        out.push(MdStat {
            name: fields[0].to_string(),
            state,
            active,
            failed: line.matches("(F)").count() as u64,
            spare: line.matches("(S)").count() as u64,
            total,
            blocks,
            synced,
        });
    }
    Ok(out)
}

struct Mdadm(Paths);

impl Mdadm {
    fn collect_mdstat(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let path = self.0.proc("mdstat");
        // No mdstat (no md driver) means no data, reported as a failed collection as upstream does.
        let arrays = parse_mdstat(&path, &read_file(&path)?)?;
        let mut state = family("node_md_state", "Indicates the state of md-device.", MetricType::Gauge);
        let mut disks = family(
            "node_md_disks",
            "Number of active/failed/spare disks of device.",
            MetricType::Gauge,
        );
        let mut required = family(
            "node_md_disks_required",
            "Total number of disks of device.",
            MetricType::Gauge,
        );
        let mut blocks = family("node_md_blocks", "Total number of blocks on device.", MetricType::Gauge);
        let mut synced = family(
            "node_md_blocks_synced",
            "Number of blocks synced on device.",
            MetricType::Gauge,
        );
        for md in &arrays {
            let dev = md.name.as_str();
            for (label, s) in [
                ("active", "active"),
                ("inactive", "inactive"),
                ("recovering", "recovering"),
                ("resync", "resyncing"),
                ("check", "checking"),
            ] {
                add(
                    &mut state,
                    &[("device", dev), ("state", label)],
                    f64::from(u8::from(md.state == s)),
                );
            }
            for (label, v) in [("active", md.active), ("failed", md.failed), ("spare", md.spare)] {
                add(&mut disks, &[("device", dev), ("state", label)], v as f64);
            }
            add(&mut required, &[("device", dev)], md.total as f64);
            add(&mut blocks, &[("device", dev)], md.blocks as f64);
            add(&mut synced, &[("device", dev)], md.synced as f64);
        }
        out.extend([state, disks, required, blocks, synced]);
        Ok(())
    }

    fn collect_sysfs(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
        let dir = self.0.sys("block");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Ok(());
        };
        let mut arrays: Vec<String> = entries
            .flatten()
            .filter_map(|e| e.file_name().to_str().map(str::to_string))
            .filter(|n| n.starts_with("md") && super::sysfs::is_dir(&dir.join(n).join("md")))
            .collect();
        arrays.sort();
        let mut raid = family(
            "node_md_raid_disks",
            "Number of raid disks on device.",
            MetricType::Gauge,
        );
        let mut degraded = family(
            "node_md_degraded",
            "Number of degraded disks on device.",
            MetricType::Gauge,
        );
        for dev in arrays {
            let md = dir.join(&dev).join("md");
            let num = |file: &str| -> Result<f64, CollectorError> {
                let path = md.join(file);
                parse_num(&path, 1, read_file(&path)?.trim())
            };
            let level = read_file(&md.join("level"))?;
            add(&mut raid, &[("device", &dev)], num("raid_disks")?);
            // Only redundant levels track degraded disks.
            let d = match level.trim() {
                "raid1" | "raid4" | "raid5" | "raid6" | "raid10" => num("degraded")?,
                _ => 0.0,
            };
            add(&mut degraded, &[("device", &dev)], d);
        }
        out.extend([raid, degraded].into_iter().filter(|f| !f.metrics.is_empty()));
        Ok(())
    }
}

impl Collector for Mdadm {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        self.collect_mdstat(out)?;
        self.collect_sysfs(out)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mdstat_arrays() {
        let p = Path::new("mdstat");
        let text = "Personalities : [raid1]\n\n\
            md6 : active raid1 sdb2[2](F) sdc[1](S) sda2[0]\n      195310144 blocks [2/1] [U_]\n      \
            [=>....]  recovery =  8.5% (16775552/195310144) finish=17.0min speed=259783K/sec\n\n\
            md10 : active raid0 sda1[0] sdb1[1]\n       314159265 blocks 64k chunks\n\n\
            md9 : active raid1 sdc2[2] sdd2[3]\n      523968 blocks super 1.2 [4/4] [UUUU]\n      resync=DELAYED\n\n\
            md4 : inactive raid1 sda3[0](F) sdb3[1](S)\n      4883648 blocks [2/2] [UU]\n\nunused devices: <none>\n";
        let got = parse_mdstat(p, text).unwrap();
        let summary: Vec<_> = got
            .iter()
            .map(|m| {
                (
                    m.name.as_str(),
                    m.state.as_str(),
                    m.active,
                    m.failed,
                    m.spare,
                    m.total,
                    m.synced,
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("md6", "recovering", 1, 1, 1, 2, 16775552),
                ("md10", "active", 2, 0, 0, 2, 314159265),
                ("md9", "resyncing", 4, 0, 0, 4, 0),
                ("md4", "inactive", 0, 1, 1, 0, 4883648),
            ]
        );
        for bad in [
            "md1 : active raid1 a[0]\n      x blocks [2/2] [UU]\n\n",
            "md1 : active raid1 a[0]\n      5 blocks\n\n",
            "md1 :\n      5 blocks\n\n",
            "md1 : active raid1 a[0]\n",
        ] {
            assert!(parse_mdstat(p, bad).is_err(), "{bad:?}");
        }
    }
}
