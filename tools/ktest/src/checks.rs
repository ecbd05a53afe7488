//! Checks of a run's whole output that more than one case uses: reading the fields of a
//! `RESULT` line or a raw form's line (`cpus --raw`, `mem --raw`, ...), the free page count
//! that must not change, both 2004 races caught by every unprotected run, and a `bench`
//! run's numbers sane.

/// The value of `key=` in a RESULT line or a raw form's line.
pub fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key)?.strip_prefix('='))
}

/// What is wrong with `text` against a case's lists: each `expect` text missing from it,
/// each `forbid` text in it.
pub fn missing_and_unexpected(text: &str, expect: &[&str], forbid: &[&str]) -> Vec<String> {
    let missing = expect
        .iter()
        .filter(|e| !text.contains(*e))
        .map(|e| format!("missing {e:?}"));
    let unexpected = forbid
        .iter()
        .filter(|f| text.contains(*f))
        .map(|f| format!("unexpected {f:?}"));
    missing.chain(unexpected).collect()
}

/// A run's verdict: `Ok` without problems, else the problems and then what the run showed.
pub fn verdict(problems: &[String], shown: &str) -> Result<(), String> {
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("{}\n{shown}", problems.join("; ")))
    }
}

/// The first line that starts with `tag`.
pub fn line_starting<'a>(output: &'a str, tag: &str) -> Result<&'a str, String> {
    output
        .lines()
        .find(|l| l.starts_with(tag))
        .ok_or(format!("no {tag:?} line"))
}

/// A `RESULT` line said PASS and its counts say the run did something and lost nothing:
/// each of `positive` above zero, each of `zero` exactly zero.
pub fn passed_with_counts(
    output: &str,
    test: &str,
    positive: &[&str],
    zero: &[&str],
) -> Result<(), String> {
    let line = line_starting(output, &format!("RESULT {test} "))?;
    let count = |key: &&str| field(line, key).and_then(|v| v.parse::<i64>().ok());
    let ok = line.starts_with(&format!("RESULT {test} PASS"))
        && positive.iter().all(|key| count(key).is_some_and(|n| n > 0))
        && zero.iter().all(|key| count(key) == Some(0));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{test} failed, did nothing or lost something: {line}"
        ))
    }
}

/// `hotplug` and the 2004 scenario (`stress slab-hotplug`) both passed, did something,
/// caught no race, and lost nothing.
pub fn hotplug_and_scenario_passed(output: &str) -> Result<(), String> {
    passed_with_counts(output, "hotplug", &["cycles", "ops", "censuses"], &[])?;
    passed_with_counts(
        output,
        "stress-slab-hotplug",
        &["cycles", "hotplug_ops", "objects"],
        &[
            "race1",
            "race2",
            "invariant_breaks",
            "pages_leaked",
            "objects_leaked",
        ],
    )
}

/// The `free` counts of every `mem --raw` in the output must be equal: what a run of
/// hotplug cycles allocated (stacks, tables) it must have given back.
pub fn free_pages_unchanged(output: &str) -> Result<(), String> {
    let free: Vec<&str> = output
        .lines()
        .filter(|l| l.starts_with("page_size="))
        .map(|l| field(l, "free").unwrap_or("?"))
        .collect();
    match free.as_slice() {
        [first, rest @ ..] if !rest.is_empty() && rest.iter().all(|f| f == first) => Ok(()),
        [_, _, ..] => Err(format!("free pages changed: {}", free.join(" -> "))),
        _ => Err("expected at least two `mem --raw` reports".into()),
    }
}

/// Every unprotected stress run caught both races, named, and lost nothing doing so.
pub fn both_races_caught(output: &str) -> Result<(), String> {
    let runs: Vec<&str> = output
        .lines()
        .filter(|l| l.starts_with("RESULT stress-slab-hotplug") && l.contains("lock=off"))
        .collect();
    if runs.is_empty() {
        return Err("no stress run with lock=off".into());
    }
    for run in runs {
        let count = |key| field(run, key).and_then(|v| v.parse::<i64>().ok());
        let ok = count("race1").is_some_and(|n| n > 0)
            && count("race2").is_some_and(|n| n > 0)
            && count("pages_leaked") == Some(0)
            && count("objects_leaked") == Some(0);
        if !ok {
            return Err(format!("a run without both races or with a leak: {run}"));
        }
    }
    Ok(())
}

/// Every part of `bench` passed with sane numbers: each value positive (the timer moved),
/// minimums no bigger than their medians and medians no bigger than their p99, every boot
/// phase named, and nothing left allocated: free pages the same after a second run as
/// after the first (which may grow the slab's own descriptor caches).
pub fn bench_numbers_sane(output: &str) -> Result<(), String> {
    const PARTS: [&str; 8] = [
        "boot", "hotplug", "bringup", "slab", "lock", "ipi", "cache", "scale",
    ];
    for part in PARTS {
        let tag = format!("RESULT bench-{part} PASS ");
        let line = line_starting(output, &tag)?;
        let mut keys = 0;
        for (key, value) in line[tag.len()..]
            .split_whitespace()
            .filter_map(|w| w.split_once('='))
            // Without the counting plugin a part says so, in words.
            .filter(|w| *w != ("counts", "unavailable"))
            // How the run was booted (`lock`: validated or not), not a measurement.
            .filter(|(key, _)| *key != "lockdep")
        {
            let number: f64 = value
                .parse()
                .map_err(|_| format!("{part}: {key}={value} is not a number"))?;
            if number <= 0.0 {
                return Err(format!("{part}: {key}={value} is not positive"));
            }
            if let Some((median_key, above)) = paired_median(key) {
                let median = field(line, &median_key)
                    .and_then(|m| m.parse::<f64>().ok())
                    .ok_or(format!("{part}: {key} without {median_key}"))?;
                if above && median > number {
                    return Err(format!("{part}: median {median} above p99 {number}"));
                }
                if !above && number > median {
                    return Err(format!("{part}: minimum {number} above median {median}"));
                }
            }
            keys += 1;
        }
        if keys < 1 {
            return Err(format!("{part}: no numbers in {line:?}"));
        }
    }
    boot_phases_present(output)?;
    free_pages_unchanged(output)
}

/// The count fields (`*_insns`, `*_loads`, `*_stores`) of every `RESULT bench-*` line, in
/// order: what two runs of the same image under the counting plugin must agree on. A part
/// whose line has none (or says `counts=unavailable`), or that failed, is an error.
pub fn bench_counts(output: &str) -> Result<String, String> {
    let mut facts = Vec::new();
    for line in output.lines().filter(|l| l.starts_with("RESULT bench-")) {
        let part = line.split_whitespace().nth(1).unwrap_or("");
        if !line.contains(" PASS ") {
            return Err(format!("a part failed: {line}"));
        }
        let counts: Vec<&str> = line
            .split_whitespace()
            .filter(|w| w.split_once('=').is_some_and(|(k, _)| is_count(k)))
            .collect();
        if counts.is_empty() || line.contains("counts=unavailable") {
            return Err(format!("{part}: no counts in {line:?}"));
        }
        facts.push(format!("{part}: {}", counts.join(" ")));
    }
    if facts.is_empty() {
        return Err("no RESULT bench- lines".into());
    }
    Ok(facts.join("; "))
}

/// [`bench_counts`] without what may wait for the host: `bench boot`'s phases from the
/// boot log on (the console, the secondary CPUs), since a wait that ends at its first look
/// counts less than one that spun.
pub fn bench_counts_without_waits(output: &str) -> Result<String, String> {
    const WAITING: [&str; 4] = ["log_", "cpus_", "shell_", "boot_"];
    let parts: Vec<String> = bench_counts(output)?
        .split("; ")
        .map(|part| {
            part.split(' ')
                .filter(|w| !WAITING.iter().any(|p| w.starts_with(p)))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    Ok(parts.join("; "))
}

fn is_count(key: &str) -> bool {
    ["_insns", "_loads", "_stores"]
        .iter()
        .any(|unit| key.ends_with(unit))
}

/// Counted, and every part run more than once in the boot counted the same each time.
pub fn counts_repeat_in_a_boot(output: &str) -> Result<(), String> {
    let facts = bench_counts(output)?;
    let mut seen: Vec<(&str, &str)> = Vec::new();
    for fact in facts.split("; ") {
        let (part, counts) = fact.split_once(": ").unwrap_or((fact, ""));
        match seen.iter().find(|(p, _)| *p == part) {
            Some((_, earlier)) if *earlier != counts => {
                return Err(format!(
                    "{part} counted differently in one boot:\n  {earlier}\n  {counts}"
                ));
            }
            Some(_) => {}
            None => seen.push((part, counts)),
        }
    }
    Ok(())
}

/// `x_p99_us` and `x_min_us` go with the median `x_us` (and `_ns` alike): the median's key,
/// and whether `key` must be at or above it (a p99) rather than at or below (a minimum).
fn paired_median(key: &str) -> Option<(String, bool)> {
    ["_us", "_ns"].iter().find_map(|unit| {
        ["_p99", "_min"].iter().find_map(|which| {
            let stem = key.strip_suffix(&format!("{which}{unit}"))?;
            Some((format!("{stem}{unit}"), *which == "_p99"))
        })
    })
}

/// `bench boot` names each of its phases. (They are consecutive stretches between stamps,
/// so they add up to the boot by construction; whether the stamps are in order, which is
/// what could be wrong, the kernel checks itself and says FAIL.)
fn boot_phases_present(output: &str) -> Result<(), String> {
    const PHASES: [&str; 7] = [
        "loader",
        "device_tree",
        "mmu",
        "memory",
        "log",
        "cpus",
        "shell",
    ];
    let line = line_starting(output, "RESULT bench-boot PASS ")?;
    match PHASES
        .iter()
        .find(|phase| field(line, &format!("{phase}_ms")).is_none())
    {
        Some(missing) => Err(format!("boot: no {missing}_ms in {line:?}")),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_facts_and_must_repeat() {
        let one = "RESULT bench-lock PASS read_lock_ns=40 read_lock_insns=43.00 \
                   read_lock_loads=8.00 read_lock_stores=5.00\n";
        let longer = one.replace("insns=43.00", "insns=44.00");
        assert_eq!(
            bench_counts(one).unwrap(),
            "bench-lock: read_lock_insns=43.00 read_lock_loads=8.00 read_lock_stores=5.00"
        );
        assert!(counts_repeat_in_a_boot(&format!("{one}{one}")).is_ok());
        let err = counts_repeat_in_a_boot(&format!("{one}{longer}")).unwrap_err();
        assert!(err.contains("counted differently"), "{err}");
        let boot = "RESULT bench-boot PASS boot_ms=20 loader_insns=170.00 log_insns=90.00 \
                    cpus_insns=40.00 shell_insns=128.00 boot_insns=338.00\n";
        assert_eq!(
            bench_counts_without_waits(&format!("{boot}{one}")).unwrap(),
            "bench-boot: loader_insns=170.00; bench-lock: read_lock_insns=43.00 \
             read_lock_loads=8.00 read_lock_stores=5.00"
        );
        let without = "RESULT bench-lock PASS read_lock_ns=40 counts=unavailable\n";
        assert!(bench_counts(without).unwrap_err().contains("no counts"));
    }

    #[test]
    fn a_missing_or_forbidden_text_fails_the_run_and_shows_it() {
        let text = "hotslab> cpus\nOops: cpu0";
        let problems = missing_and_unexpected(text, &["hotslab> cpus", "RESULT"], &["Oops:"]);
        assert_eq!(problems, ["missing \"RESULT\"", "unexpected \"Oops:\""]);
        let failed = verdict(&problems, "----- output -----").unwrap_err();
        assert!(failed.ends_with("\n----- output -----"), "{failed}");
        assert!(missing_and_unexpected(text, &["cpus"], &["panic"]).is_empty());
        assert_eq!(verdict(&[], "unused"), Ok(()));
    }

    #[test]
    fn free_pages_are_read_from_mem_raw() {
        let line = |free| format!("page_size=4096 total=131072 free={free} in_use=44 reserved=502");
        let same = format!("{}\nhotslab> hotplug 3\n{}\n", line(130526), line(130526));
        assert_eq!(free_pages_unchanged(&same), Ok(()));
        let lost = format!("{}\n{}\n", line(130526), line(130525));
        assert_eq!(
            free_pages_unchanged(&lost),
            Err("free pages changed: 130526 -> 130525".into())
        );
        assert!(free_pages_unchanged(&line(1)).is_err());
        // The table for people is not read.
        assert!(free_pages_unchanged("  free        130526  (509 MiB)\n  free   1\n").is_err());
    }
}
