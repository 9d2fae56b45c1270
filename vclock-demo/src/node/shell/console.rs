//! The node console: piped lines, or on a terminal a prompt naming the
//! node, line editing and history (rustyline), and output printed above
//! the line being typed.
//!
//! Everything the node prints goes through a channel to one printing
//! thread that hands it to rustyline's external printer, which clears the
//! prompt line, prints the text and draws the prompt and the typed text
//! again. The printer may wait for the editor (its queue holds one text),
//! so it is never called by a thread holding the node's lock: a receipt
//! arriving while the user presses Enter cannot stall the node.
//!
//! Lines are carried out exactly as piped ones (the same commands and
//! checks); only reading them differs.

use std::io::{self, BufReader, IsTerminal as _};
use std::sync::{Arc, mpsc};
use std::thread;

use rustyline::config::Config;
use rustyline::error::ReadlineError;
use rustyline::{DefaultEditor, ExternalPrinter as _};

use super::super::machine::{Event, Input, Notice};
use super::command::{Flow, command};
use super::outbox::Outboxes;
use super::shared::Shared;
use super::topology::Topology;
use crate::console::{self, Line};
use crate::network::text_limit;

/// How many typed lines the editor's history keeps.
const HISTORY: usize = 1000;

/// Reads console lines until `exit` or end of input: with a line editor
/// when input comes from a terminal that output goes to too (a person
/// types, and the editor can draw on the screen), plain lines otherwise.
pub(super) fn input_loop(topology: &Topology, shared: &Arc<Shared>, outboxes: &Outboxes) {
    if std::io::stdin().is_terminal() && std::io::stdout().is_terminal() {
        edit_lines(topology, shared, outboxes);
    } else {
        piped_lines(topology, shared, outboxes);
    }
}

/// Reads console lines with a line editor until `exit`, end of input
/// (Ctrl-D) or Ctrl-C. If the editor cannot start, says why and reads
/// plain lines instead.
fn edit_lines(topology: &Topology, shared: &Arc<Shared>, outboxes: &Outboxes) {
    let editor = Config::builder()
        .max_history_size(HISTORY)
        .map(|config| config.auto_add_history(false).build())
        .and_then(DefaultEditor::with_config);
    let mut editor = match editor {
        Ok(editor) => editor,
        Err(e) => {
            let mut st = shared.lock();
            st.show(&Event::Notice(Notice::NoLineEditing(e.to_string())));
            st.out.flush();
            drop(st);
            return piped_lines(topology, shared, outboxes);
        }
    };
    // A printer the receive and outbox threads reach through a channel.
    let printing = match editor.create_external_printer() {
        Ok(mut printer) => {
            let (tx, rx) = mpsc::channel::<String>();
            shared.lock().out.set_sink(Some(tx));
            thread::Builder::new()
                .name("print".into())
                .spawn(move || {
                    for text in rx {
                        // A failed print (the terminal is gone) loses the
                        // text, as a failed write to stdout does.
                        let _ = printer.print(text);
                    }
                })
                .ok()
        }
        Err(_) => None,
    };
    read_lines(&mut editor, topology, shared, outboxes);
    // Back to stdout; the printing thread prints what it has and ends.
    shared.lock().out.set_sink(None);
    if let Some(printing) = printing {
        let _ = printing.join();
    }
}

fn read_lines(
    editor: &mut DefaultEditor,
    topology: &Topology,
    shared: &Arc<Shared>,
    outboxes: &Outboxes,
) {
    let prompt = format!("node {}> ", topology.id);
    let limit = text_limit(topology.n(), shared.lock().machine.node().is_causal());
    loop {
        let input = match editor.readline(&prompt) {
            Ok(line) if line.len() > limit => Input::Unreadable(format!(
                "line too long ({} bytes; at most {limit})",
                line.len()
            )),
            Ok(line) => {
                if !line.trim().is_empty() {
                    let _ = editor.add_history_entry(line.as_str());
                }
                Input::Line(line)
            }
            // Ctrl-D on an empty line, and Ctrl-C: leave, as `exit` does.
            Err(ReadlineError::Eof | ReadlineError::Interrupted) => return,
            Err(e) => {
                let mut st = shared.lock_for_input();
                st.show(&Event::Notice(Notice::CannotRead(e.to_string())));
                st.out.flush();
                return;
            }
        };
        if let Flow::Exit = command(input, shared, outboxes, true) {
            return;
        }
    }
}

/// Reads plain console lines until `exit` or end of input.
fn piped_lines(topology: &Topology, shared: &Arc<Shared>, outboxes: &Outboxes) {
    let n = topology.n();
    let limit = text_limit(n, shared.lock().machine.node().is_causal());
    let mut reader = BufReader::with_capacity(64 * 1024, io::stdin());
    let mut buf = Vec::new();
    loop {
        let line = console::read_line(&mut reader, &mut buf, limit);
        // More input already read means a script is feeding us: keep
        // output buffered. Otherwise a person (or a test) waits for the
        // answer to this line.
        let idle = !reader.buffer().contains(&b'\n');
        let input = match line {
            Ok(Line::Eof) => return,
            Err(e) => {
                let mut st = shared.lock_for_input();
                st.show(&Event::Notice(Notice::CannotRead(e.to_string())));
                return;
            }
            Ok(Line::TooLong(len)) => {
                Input::Unreadable(format!("line too long ({len} bytes; at most {limit})"))
            }
            Ok(Line::Complete) => {
                let raw = buf.strip_suffix(b"\r").unwrap_or(&buf);
                match std::str::from_utf8(raw) {
                    Err(e) => Input::Unreadable(format!(
                        "input is not UTF-8 (bad byte at offset {})",
                        e.valid_up_to()
                    )),
                    Ok(text) => Input::Line(text.to_owned()),
                }
            }
        };
        if let Flow::Exit = command(input, shared, outboxes, idle) {
            return;
        }
    }
}
