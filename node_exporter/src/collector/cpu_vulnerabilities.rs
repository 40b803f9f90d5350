//! `cpu_vulnerabilities`: the kernel's assessment of each CPU vulnerability, from
//! `/sys/devices/system/cpu/vulnerabilities/<codename>` (`Not affected`, `Vulnerable[: ...]`, `Mitigation: ...`).

use exposition::{CollectError, Collector, MetricFamily};

use super::sysfs::{gauge, list_dir, read_trimmed};
use super::{BuildError, Settings, Spec};
use crate::paths::Paths;

/// Table entry.
pub const SPEC: Spec = Spec::new("cpu_vulnerabilities", false, build);

fn build(s: &Settings<'_>) -> Result<Box<dyn Collector>, BuildError> {
    Ok(Box::new(CpuVulnerabilities { paths: s.paths.clone() }))
}

struct CpuVulnerabilities {
    paths: Paths,
}

/// (state, mitigation) of one vulnerability file's line.
fn classify(line: &str) -> (&'static str, &str) {
    if line.starts_with("Not affected") {
        ("not affected", "")
    } else if let Some(rest) = line.strip_prefix("Vulnerable") {
        ("vulnerable", rest.strip_prefix(": ").unwrap_or(rest))
    } else if let Some(rest) = line.strip_prefix("Mitigation") {
        ("mitigation", rest.strip_prefix(": ").unwrap_or(rest))
    } else {
        ("unknown", "")
    }
}

impl Collector for CpuVulnerabilities {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        let dir = self.paths.sys("devices/system/cpu/vulnerabilities");
        for codename in list_dir(&dir)? {
            let text = read_trimmed(&dir.join(&codename))?;
            let (state, mitigation) = classify(&text);
            out.push(gauge(
                "node_cpu_vulnerabilities_info",
                "Details of each CPU vulnerability reported by sysfs. The value of the series is an int encoded state \
                 of the vulnerability. The same state is stored as a string in the label",
                &[
                    ("codename", codename.as_str()),
                    ("state", state),
                    ("mitigation", mitigation),
                ],
                1.0,
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states() {
        let cases = [
            ("Not affected", ("not affected", "")),
            ("Vulnerable", ("vulnerable", "")),
            (
                "Vulnerable: Clear CPU buffers attempted",
                ("vulnerable", "Clear CPU buffers attempted"),
            ),
            (
                "Mitigation: Retpolines, IBPB: conditional",
                ("mitigation", "Retpolines, IBPB: conditional"),
            ),
            ("Processor vulnerable", ("unknown", "")),
        ];
        for (line, want) in cases {
            assert_eq!(classify(line), want, "{line}");
        }
    }

    #[test]
    fn missing_directory_fails() {
        let c = CpuVulnerabilities {
            paths: Paths {
                sysfs: "/nonexistent".into(),
                ..Paths::default()
            },
        };
        assert!(c.collect(&mut Vec::new()).is_err());
    }
}
