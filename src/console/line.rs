//! The shell's line editor: turns the bytes a terminal sends into edits of one line.
//! Printable characters are appended, backspace erases one, Ctrl-C abandons the line,
//! Ctrl-U clears it, Enter submits it; escape sequences (arrow keys) are swallowed.

use arrayvec::ArrayString;

pub const MAX_LINE: usize = 256;

/// What the terminal should show after a byte was fed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edit {
    /// Nothing changes on screen.
    None,
    /// Echo this character.
    Echo(char),
    /// Erase the last `n` characters on screen.
    Erase(usize),
    /// The line is done; read it with [`LineEditor::line`], then call [`LineEditor::clear`].
    Submit,
    /// Ctrl-C: the line is abandoned (and already cleared).
    Cancel,
    /// The line is full or the key does nothing here.
    Bell,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Escape {
    #[default]
    None,
    /// After ESC.
    Start,
    /// After ESC [ (a CSI sequence), until its final byte.
    Csi,
}

#[derive(Debug, Default)]
pub struct LineEditor {
    line: ArrayString<MAX_LINE>,
    escape: Escape,
    /// The last byte was CR: a following LF belongs to the same Enter.
    after_cr: bool,
}

impl LineEditor {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn line(&self) -> &str {
        &self.line
    }

    pub fn clear(&mut self) {
        self.line.clear();
    }

    pub fn feed(&mut self, byte: u8) -> Edit {
        let after_cr = core::mem::replace(&mut self.after_cr, byte == b'\r');
        match self.escape {
            Escape::Start => {
                self.escape = if byte == b'[' {
                    Escape::Csi
                } else {
                    Escape::None
                };
                return Edit::None;
            }
            Escape::Csi => {
                if (0x40..=0x7e).contains(&byte) {
                    self.escape = Escape::None;
                }
                return Edit::None;
            }
            Escape::None => {}
        }
        match byte {
            b'\n' if after_cr => Edit::None,
            b'\r' | b'\n' => Edit::Submit,
            0x08 | 0x7f => match self.line.pop() {
                Some(_) => Edit::Erase(1),
                None => Edit::Bell,
            },
            0x03 => {
                self.line.clear();
                Edit::Cancel
            }
            0x15 => {
                let n = self.line.chars().count();
                self.line.clear();
                Edit::Erase(n)
            }
            0x1b => {
                self.escape = Escape::Start;
                Edit::None
            }
            b if (0x20..0x7f).contains(&b) => match self.line.try_push(b as char) {
                Ok(()) => Edit::Echo(b as char),
                Err(_) => Edit::Bell,
            },
            _ => Edit::None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed_all(e: &mut LineEditor, bytes: &[u8]) -> Vec<Edit> {
        bytes.iter().map(|&b| e.feed(b)).collect()
    }

    #[test]
    fn typing_backspace_and_enter() {
        let mut e = LineEditor::new();
        let edits = feed_all(&mut e, b"cpz\x7fus\r\n");
        assert_eq!(
            edits,
            vec![
                Edit::Echo('c'),
                Edit::Echo('p'),
                Edit::Echo('z'),
                Edit::Erase(1),
                Edit::Echo('u'),
                Edit::Echo('s'),
                Edit::Submit,
                Edit::None
            ]
        );
        assert_eq!(e.line(), "cpus");
    }

    #[test]
    fn ctrl_c_abandons_and_ctrl_u_clears() {
        let mut e = LineEditor::new();
        feed_all(&mut e, b"mem");
        assert_eq!(e.feed(0x03), Edit::Cancel);
        assert_eq!(e.line(), "");
        feed_all(&mut e, b"dmesg");
        assert_eq!(e.feed(0x15), Edit::Erase(5));
        assert_eq!(e.feed(0x7f), Edit::Bell);
    }

    #[test]
    fn escape_sequences_are_swallowed() {
        let mut e = LineEditor::new();
        let edits = feed_all(&mut e, b"a\x1b[A\x1b[1;5Cb");
        assert_eq!(edits.iter().filter(|x| **x != Edit::None).count(), 2);
        assert_eq!(e.line(), "ab");
    }

    #[test]
    fn full_line_rings_the_bell() {
        let mut e = LineEditor::new();
        for _ in 0..MAX_LINE {
            assert_eq!(e.feed(b'x'), Edit::Echo('x'));
        }
        assert_eq!(e.feed(b'x'), Edit::Bell);
        assert_eq!(e.line().len(), MAX_LINE);
    }

    #[test]
    fn lone_lf_submits() {
        let mut e = LineEditor::new();
        assert_eq!(
            feed_all(&mut e, b"x\n"),
            vec![Edit::Echo('x'), Edit::Submit]
        );
    }
}
