//! `interrupts`: interrupt counts per CPU from `/proc/interrupts`, labelled with the interrupt's type (number or
//! name), info (controller/description) and devices; `--collector.interrupts.name-include` /
//! `--collector.interrupts.name-exclude` filter by type.

use std::path::Path;

use clap::Arg;
use exposition::{CollectError, Collector, MetricFamily, MetricType};
use regex::Regex;

use super::procutil::{add, family, regex_flag};
use super::{BuildError, CollectorError, Settings, Spec, parse_num, read_file};
use crate::paths::Paths;

/// Table entry.
pub const SPEC: Spec = Spec::new("interrupts", false, build).with_args(args);

const INCLUDE_FLAG: &str = "collector.interrupts.name-include";
const EXCLUDE_FLAG: &str = "collector.interrupts.name-exclude";

fn args() -> Vec<Arg> {
    vec![
        Arg::new(INCLUDE_FLAG)
            .long(INCLUDE_FLAG)
            .help("Regexp of interrupts name to include (mutually exclusive to --collector.interrupts.name-exclude)."),
        Arg::new(EXCLUDE_FLAG)
            .long(EXCLUDE_FLAG)
            .help("Regexp of interrupts name to exclude (mutually exclusive to --collector.interrupts.name-include)."),
    ]
}

fn build(s: &Settings<'_>) -> Result<Box<dyn Collector>, BuildError> {
    let include = regex_flag("interrupts", s.matches, INCLUDE_FLAG)?;
    let exclude = regex_flag("interrupts", s.matches, EXCLUDE_FLAG)?;
    if include.is_some() && exclude.is_some() {
        return Err(BuildError::InvalidFlag {
            collector: "interrupts",
            flag: INCLUDE_FLAG.to_string(),
            reason: format!("--{INCLUDE_FLAG} and --{EXCLUDE_FLAG} are mutually exclusive"),
        });
    }
    Ok(Box::new(Interrupts {
        paths: s.paths.clone(),
        include,
        exclude,
    }))
}

/// One interrupt line.
#[derive(Debug, PartialEq)]
struct Interrupt {
    name: String,
    info: String,
    devices: String,
    values: Vec<f64>,
}

fn parse_interrupts(path: &Path, text: &str) -> Result<Vec<Interrupt>, CollectorError> {
    let mut lines = text.lines();
    let cpus = lines.next().map_or(0, |h| h.split_whitespace().count());
    if cpus == 0 {
        return Err(CollectorError::malformed(path, 1, "missing CPU header"));
    }
    let mut out = Vec::new();
    for (i, line) in lines.enumerate() {
        let n = i + 2;
        // aarch64 may print no space between the name and the first value.
        let Some((name, rest)) = line.split_once(':') else {
            continue;
        };
        let parts: Vec<&str> = rest.split_whitespace().collect();
        if parts.len() < cpus + 1 {
            // ERR and MIS carry one total, not per-CPU values.
            continue;
        }
        let name = name.trim_start().to_string();
        let values = parts[..cpus]
            .iter()
            .map(|v| parse_num(path, n, v))
            .collect::<Result<_, _>>()?;
        let (info, devices) = if name.parse::<u64>().is_ok() {
            (parts[cpus].to_string(), parts[cpus + 1..].join(" "))
        } else {
            (parts[cpus..].join(" "), String::new())
        };
        out.push(Interrupt {
            name,
            info,
            devices,
            values,
        });
    }
    Ok(out)
}

struct Interrupts {
    paths: Paths,
    include: Option<Regex>,
    exclude: Option<Regex>,
}

impl Collector for Interrupts {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        let path = self.paths.proc("interrupts");
        let mut f = family("node_interrupts_total", "Interrupt details.", MetricType::Counter);
        for irq in parse_interrupts(&path, &read_file(&path)?)? {
            if self.include.as_ref().is_some_and(|r| !r.is_match(&irq.name))
                || self.exclude.as_ref().is_some_and(|r| r.is_match(&irq.name))
            {
                continue;
            }
            for (cpu, v) in irq.values.iter().enumerate() {
                add(
                    &mut f,
                    &[
                        ("cpu", &cpu.to_string()),
                        ("type", &irq.name),
                        ("info", &irq.info),
                        ("devices", &irq.devices),
                    ],
                    *v,
                );
            }
        }
        out.push(f);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interrupt_lines() {
        let p = Path::new("interrupts");
        let text = "      CPU0 CPU1\n 16:  1 2  IR-IO-APIC-fasteoi  ehci_hcd:usb1, mmc0\nNMI: 3 4 Non-maskable interrupts\nERR: 0\n";
        let got = parse_interrupts(p, text).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].devices, "ehci_hcd:usb1, mmc0");
        assert_eq!(got[0].info, "IR-IO-APIC-fasteoi");
        assert_eq!(
            (got[1].info.as_str(), got[1].devices.as_str()),
            ("Non-maskable interrupts", "")
        );
        assert_eq!(got[1].values, [3.0, 4.0]);
        for bad in ["", "CPU0\n 1: x edge\n"] {
            assert!(parse_interrupts(p, bad).is_err(), "{bad:?}");
        }
    }
}
