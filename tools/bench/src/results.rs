//! What one benchmark boot reported: its `RESULT` lines read into `part.key = value`
//! (`hotplug.offline_us`), for the kernel (`bench-*`) and for the Linux peer (`peer-*`).

use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum System {
    Hotslab,
    Linux,
}

impl System {
    pub fn name(self) -> &'static str {
        match self {
            System::Hotslab => "hotslab",
            System::Linux => "linux-6.1",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Run {
    pub system: System,
    /// `virt` or `raspi4b`.
    pub machine: &'static str,
    pub cpus: u32,
    pub values: BTreeMap<String, f64>,
}

impl Run {
    pub fn get(&self, key: &str) -> Option<f64> {
        self.values.get(key).copied()
    }
}

/// Reads every `RESULT bench-*` or `RESULT peer-*` line of `output`; a FAIL line is an
/// error naming it.
pub fn parse(output: &str) -> Result<BTreeMap<String, f64>, String> {
    let mut values = BTreeMap::new();
    for line in output.lines().map(str::trim) {
        let Some(rest) = line.strip_prefix("RESULT ") else {
            continue;
        };
        let mut words = rest.split_whitespace();
        let (Some(tag), Some(verdict)) = (words.next(), words.next()) else {
            continue;
        };
        let Some(part) = tag
            .strip_prefix("bench-")
            .or_else(|| tag.strip_prefix("peer-"))
        else {
            continue;
        };
        if verdict != "PASS" {
            return Err(format!("benchmark failed: {line}"));
        }
        for (key, value) in words.filter_map(|w| w.split_once('=')) {
            if let Ok(number) = value.parse::<f64>() {
                values.insert(format!("{part}.{key}"), number);
            }
        }
    }
    if values.is_empty() {
        return Err("no RESULT lines".into());
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_kernel_and_peer_lines() {
        let v = parse(
            "junk\r\nRESULT bench-hotplug PASS cpus=4 offline_us=22.5\r\n\
             RESULT peer-boot PASS boot_ms=2030.125\nRESULT peer-done\n",
        )
        .unwrap();
        assert_eq!(v["hotplug.offline_us"], 22.5);
        assert_eq!(v["hotplug.cpus"], 4.0);
        assert_eq!(v["boot.boot_ms"], 2030.125);
    }

    #[test]
    fn a_failed_part_or_nothing_is_an_error() {
        assert!(parse("RESULT bench-slab FAIL reason=x").is_err());
        assert!(parse("no results").is_err());
    }
}
