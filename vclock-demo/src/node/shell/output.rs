//! The node's console output: lines collected in a buffer and written to
//! stdout with one write when the thread holding the node's lock has
//! nothing more to add, so a piped burst costs a few large writes; the
//! control lines of `--sync` mode; and rejections counted per cause so a
//! flood of bad connections prints one line a second, not one each.
//!
//! On a terminal with a line editor, written text goes to a sink instead
//! (a thread that prints it above the line being typed), so no thread
//! holding the node's lock ever waits for the editor.

use std::collections::BTreeMap;
use std::io::{self, Write as _};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::super::machine::Notice;
use super::super::style::Style;

/// Pending output is written out once it reaches this size, even in a burst.
const HIGH_WATER: usize = 64 * 1024;

/// Console output not yet written.
#[derive(Debug, Default)]
pub(crate) struct Output {
    buf: String,
    /// Whether control lines are printed (the inline launcher asked).
    sync: bool,
    /// How events and answers look.
    style: Style,
    /// Where written text goes instead of stdout, while set.
    sink: Option<mpsc::Sender<String>>,
}

impl Output {
    /// An empty buffer in the plain style; `sync` turns on control lines.
    pub(crate) fn new(sync: bool) -> Self {
        Self {
            buf: String::new(),
            sync,
            style: Style::default(),
            sink: None,
        }
    }

    /// The same, in `style`.
    #[must_use]
    pub(crate) fn with_style(mut self, style: Style) -> Self {
        self.style = style;
        self
    }

    /// Whether control lines are printed.
    pub(crate) fn sync(&self) -> bool {
        self.sync
    }

    /// How events and answers look.
    pub(crate) fn style(&self) -> Style {
        self.style
    }

    /// Sends written text to `sink` from now on (`None`: to stdout again,
    /// which ends a sink thread waiting for more).
    pub(crate) fn set_sink(&mut self, sink: Option<mpsc::Sender<String>>) {
        self.sink = sink;
    }

    /// Adds text that already ends with a line break.
    pub(crate) fn push_str(&mut self, text: &str) {
        self.buf.push_str(text);
    }

    /// Adds what `write` appends to the buffer (whole lines).
    pub(crate) fn push_with(&mut self, write: impl FnOnce(&mut String)) {
        write(&mut self.buf);
    }

    /// Writes pending output to stdout with one write. Errors (a closed
    /// pipe) are ignored: the node keeps its clock and log going.
    pub(crate) fn flush(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        if let Some(sink) = &self.sink {
            match sink.send(std::mem::take(&mut self.buf)) {
                Ok(()) => return,
                // The printing thread is gone: print here after all.
                Err(mpsc::SendError(text)) => self.buf = text,
            }
        }
        let mut stdout = io::stdout().lock();
        let _ = stdout.write_all(self.buf.as_bytes());
        let _ = stdout.flush();
        self.buf.clear();
    }

    /// Whether nothing is pending.
    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Writes pending output if there is a lot of it.
    pub(crate) fn flush_if_large(&mut self) {
        if self.buf.len() >= HIGH_WATER {
            self.flush();
        }
    }

    #[cfg(test)]
    pub(crate) fn take(&mut self) -> String {
        std::mem::take(&mut self.buf)
    }
}

/// Reports of one kind (say, rejected connections), at most one line per
/// cause per period: the first of a cause in a period is printed whole,
/// later ones are counted and summed up in one line when the period ends.
#[derive(Debug)]
pub(crate) struct RateLimited {
    period: Duration,
    /// Per cause: when its period started and how many were held back.
    causes: BTreeMap<String, (Instant, u64)>,
}

impl RateLimited {
    /// One line per cause per `period`.
    pub(crate) fn new(period: Duration) -> Self {
        Self {
            period,
            causes: BTreeMap::new(),
        }
    }

    /// Reports one occurrence of `cause`, described by `line`. Returns the
    /// lines to print now (the summary of an ended period, then `line` if
    /// it opens a new period).
    pub(crate) fn report(&mut self, now: Instant, cause: &str, notice: Notice) -> Vec<Notice> {
        let mut notices = self.tick(now);
        match self.causes.get_mut(cause) {
            Some((_, held)) => *held += 1,
            None => {
                self.causes.insert(cause.to_owned(), (now, 0));
                notices.push(notice);
            }
        }
        notices
    }

    /// Ends the periods that are over: a summary line for each cause that
    /// had occurrences held back.
    pub(crate) fn tick(&mut self, now: Instant) -> Vec<Notice> {
        let mut notices = Vec::new();
        let period = self.period;
        self.causes.retain(|cause, &mut (start, held)| {
            if now.duration_since(start) < period {
                return true;
            }
            if held > 0 {
                notices.push(Notice::Repeated {
                    count: held,
                    secs: now.duration_since(start).as_secs_f64(),
                    cause: cause.clone(),
                });
            }
            false
        });
        notices
    }
}

/// A short name for what kind of problem `error` is: its variant's name,
/// without the details (addresses, lengths) that differ between two
/// occurrences of the same problem.
pub(crate) fn cause_of(error: &impl std::fmt::Debug) -> String {
    let debug = format!("{error:?}");
    let end = debug.find([' ', '{', '(']).unwrap_or(debug.len());
    debug[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sink_takes_written_text_until_it_is_gone() {
        let (tx, rx) = mpsc::channel();
        let mut out = Output::new(false);
        out.set_sink(Some(tx));
        out.push_str("one\n");
        out.flush();
        out.push_str("two\n");
        out.flush();
        assert_eq!(rx.try_iter().collect::<Vec<_>>(), ["one\n", "two\n"]);
        drop(rx);
        out.push_str("three\n");
        out.flush();
        // Written to stdout instead, and not kept.
        assert_eq!(out.take(), "");
    }

    #[test]
    fn one_line_per_cause_per_period() {
        let start = Instant::now();
        let mut limit = RateLimited::new(Duration::from_secs(1));
        let at = |ms| start + Duration::from_millis(ms);
        let said = |what: &str| Notice::Ignored(what.to_owned());
        assert_eq!(
            limit.report(at(0), "BadMagic", said("first")),
            [said("first")]
        );
        for ms in 1..500 {
            assert!(limit.report(at(ms), "BadMagic", said("again")).is_empty());
        }
        // Another cause is reported at once.
        assert_eq!(
            limit.report(at(600), "TooLarge", said("other")),
            [said("other")]
        );
        assert_eq!(
            limit.tick(at(1000)),
            [Notice::Repeated {
                count: 499,
                secs: 1.0,
                cause: "BadMagic".into()
            }]
        );
        // TooLarge had nothing held back: its period ends silently, and the
        // next one is printed whole again.
        assert!(limit.tick(at(1700)).is_empty());
        assert_eq!(
            limit.report(at(1800), "TooLarge", said("new")),
            [said("new")]
        );
    }

    #[test]
    fn causes_drop_the_details() {
        #[derive(Debug)]
        #[allow(dead_code)]
        enum E {
            FrameTooLarge { len: u64 },
            Truncated(&'static str),
            EmptyFrame,
        }
        assert_eq!(cause_of(&E::FrameTooLarge { len: 9 }), "FrameTooLarge");
        assert_eq!(cause_of(&E::Truncated("x")), "Truncated");
        assert_eq!(cause_of(&E::EmptyFrame), "EmptyFrame");
    }
}
