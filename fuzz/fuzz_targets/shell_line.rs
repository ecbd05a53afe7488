//! Fuzz target: what the shell does with text before any command runs. The bytes are
//! typed into the line editor, each submitted line split into words and every argument
//! read every way a command can read it; the same bytes are also taken as a kernel command
//! line, whose `run="..."` script is split into commands the same way. Nothing may panic,
//! and the pieces must add up (no word is blank or holds a space, a limit on the argument
//! count holds for every count, every error says something).

#![no_main]

use hotslab::console::line::{Edit, LineEditor, MAX_LINE};
use hotslab::console::shell::args::{Args, MAX_WORDS, next_command, parse_number};
use hotslab::dt::bootargs::{BootOptions, MAX_RACE_WINDOW_US, split};
use libfuzzer_sys::fuzz_target;

/// Splits and reads one command line as the shell does.
fn command_line(line: &str) {
    let Some((name, args)) = Args::split(line) else {
        assert!(
            line.trim().is_empty(),
            "{line:?} has words but split found none"
        );
        return;
    };
    assert!(!name.is_empty() && !name.contains(char::is_whitespace));
    assert!(args.len() <= MAX_WORDS);
    let total = line.split_whitespace().count() - 1;
    assert_eq!(args.len(), total.min(MAX_WORDS), "{line:?}");
    for max in 0..=MAX_WORDS + 1 {
        assert_eq!(
            args.at_most(max).is_ok(),
            total <= max,
            "{line:?}: at most {max}"
        );
    }
    for i in 0..=args.len() {
        match args.get(i) {
            Some(word) => {
                assert!(!word.is_empty() && !word.contains(char::is_whitespace));
                assert_eq!(args.number(i, "n").ok(), parse_number(word));
                let choice = args.choice(i, &["on", "off"], "on or off");
                assert_eq!(choice.is_ok(), word == "on" || word == "off");
            }
            None => {
                assert!(args.word(i, "w").is_err());
                assert_eq!(args.number_or(i, 7, "n"), Ok(7));
            }
        }
        for e in [args.number(i, "n").err(), args.at_most(i).err()]
            .into_iter()
            .flatten()
        {
            assert!(!e.to_string().is_empty());
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut editor = LineEditor::new();
    for &byte in data {
        let edit = editor.feed(byte);
        assert!(editor.line().len() <= MAX_LINE);
        assert!(editor.line().bytes().all(|b| (0x20..0x7f).contains(&b)));
        if edit == Edit::Submit {
            command_line(editor.line());
            editor.clear();
        }
    }

    let cmdline = String::from_utf8_lossy(data);
    for word in split(&cmdline) {
        match word {
            Ok(arg) => assert!(cmdline.contains(arg.key)),
            Err(e) => assert!(!e.to_string().is_empty()),
        }
    }
    let options = BootOptions::parse(&cmdline, |e| assert!(!e.to_string().is_empty()));
    if let Some(us) = options.slab_race_window_us {
        assert!(us <= MAX_RACE_WINDOW_US);
    }
    if let Some(mut script) = options.run {
        assert!(cmdline.contains(script));
        while let Some((command, rest)) = next_command(script) {
            assert!(!command.is_empty() && command == command.trim() && !command.contains(';'));
            command_line(command);
            script = rest;
        }
    }
});
