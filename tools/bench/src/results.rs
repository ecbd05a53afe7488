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
    /// The count values two counted boots of this configuration disagreed on, as
    /// `key: first / second` (empty if it was counted once, or they agreed).
    pub differing: Vec<String>,
}

impl Run {
    pub fn get(&self, key: &str) -> Option<f64> {
        self.values.get(key).copied()
    }
}

/// Whether `key` is a count (the counting plugin's instructions, loads or stores).
pub fn is_count(key: &str) -> bool {
    ["_insns", "_loads", "_stores"]
        .iter()
        .any(|unit| key.ends_with(unit))
}

/// The keys of `a` and `b` whose values differ or that only one has, as
/// `key: a / b`.
pub fn differing(a: &BTreeMap<String, f64>, b: &BTreeMap<String, f64>) -> Vec<String> {
    let show = |v: Option<&f64>| v.map_or("none".to_string(), |v| v.to_string());
    a.keys()
        .chain(b.keys().filter(|k| !a.contains_key(*k)))
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| format!("{k}: {} / {}", show(a.get(k)), show(b.get(k))))
        .collect()
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
    fn counts_are_told_apart_and_compared() {
        let v = parse(
            "RESULT bench-slab PASS slab_ns=40 slab_insns=59.03 slab_loads=14.01 \
             slab_stores=12.01 counts=unavailable\n",
        )
        .unwrap();
        let counts: BTreeMap<String, f64> = v.into_iter().filter(|(k, _)| is_count(k)).collect();
        assert_eq!(
            counts.keys().collect::<Vec<_>>(),
            ["slab.slab_insns", "slab.slab_loads", "slab.slab_stores"]
        );
        let mut other = counts.clone();
        assert!(differing(&counts, &other).is_empty());
        other.insert("slab.slab_insns".into(), 60.0);
        other.remove("slab.slab_stores");
        assert_eq!(
            differing(&counts, &other),
            [
                "slab.slab_insns: 59.03 / 60",
                "slab.slab_stores: 12.01 / none"
            ]
        );
    }

    #[test]
    fn a_failed_part_or_nothing_is_an_error() {
        assert!(parse("RESULT bench-slab FAIL reason=x").is_err());
        assert!(parse("no results").is_err());
    }
}
