//! Console log levels as Linux reads them: `quiet` leaves only errors and worse on the
//! console, `loglevel=N` shows the levels below N, and the log ring keeps every line
//! whatever the console showed (`dmesg`).

use crate::case::Case;

/// What the console showed before the first prompt, and what `dmesg` printed after it.
fn boot_and_dmesg(output: &str) -> Result<(&str, &str), String> {
    let (boot, rest) = output
        .split_once("hotslab> dmesg")
        .ok_or("no `dmesg` at a prompt")?;
    Ok((boot, rest))
}

/// Under `quiet`: the error (a CPU that did not come up) reached the console, the
/// warning, notice and information lines did not, and `dmesg` has all of them.
fn quiet_shows_errors_only(output: &str) -> Result<(), String> {
    let (boot, dmesg) = boot_and_dmesg(output)?;
    let error = "cpu3 did not come online within 5000 ms";
    let hidden = [
        "hotslab 0.1.0 on",                        // info
        "cpu0: fault injection: no_arrival armed", // notice
        "bootargs: 'bogus': unknown option",       // warning
    ];
    if !boot.contains(error) {
        return Err(format!("the error '{error}' did not reach the console"));
    }
    if let Some(shown) = hidden.iter().find(|h| boot.contains(*h)) {
        return Err(format!("'{shown}' reached the console under quiet"));
    }
    match hidden.iter().chain([&error]).find(|l| !dmesg.contains(*l)) {
        Some(lost) => Err(format!("dmesg lost '{lost}'")),
        None => Ok(()),
    }
}

/// Under `loglevel=5`: warnings shown, notices and information not; a bad `loglevel=`
/// after it is refused with a warning and leaves the level as it was.
fn loglevel_5_shows_warnings(output: &str) -> Result<(), String> {
    let (boot, dmesg) = boot_and_dmesg(output)?;
    let shown = [
        "bootargs: 'bogus': unknown option",
        "bootargs: 'loglevel=16': expected a console log level, 0 to 15",
    ];
    let hidden = ["hotslab 0.1.0 on", "cpu0: memory: "];
    if let Some(missing) = shown.iter().find(|s| !boot.contains(*s)) {
        return Err(format!("the warning '{missing}' did not reach the console"));
    }
    if let Some(leaked) = hidden.iter().find(|h| boot.contains(*h)) {
        return Err(format!("'{leaked}' reached the console at loglevel=5"));
    }
    match hidden.iter().find(|l| !dmesg.contains(*l)) {
        Some(lost) => Err(format!("dmesg lost '{lost}'")),
        None => Ok(()),
    }
}

pub fn cases(base: Case) -> Vec<Case> {
    vec![
        Case {
            name: "quiet-console-errors-only-dmesg-all",
            about: "`quiet`: only errors reach the console, and `dmesg` still has every line.",
            bootargs: "quiet bogus fault=no_arrival@3 run=\"dmesg; poweroff\"",
            expect: &["3 of 4 CPUs online: 0-2", "hotslab> poweroff"],
            forbid: &["Oops:"],
            check: Some(quiet_shows_errors_only),
            ..base
        },
        Case {
            name: "loglevel-5-warnings-shown",
            about: "`loglevel=5`: warnings reach the console, notices and information do not; a \
                    bad level is refused.",
            bootargs: "loglevel=5 bogus loglevel=16 run=\"dmesg; poweroff\"",
            expect: &["4 of 4 CPUs online: 0-3", "hotslab> poweroff"],
            forbid: &["Oops:"],
            check: Some(loglevel_5_shows_warnings),
            ..base
        },
    ]
}
