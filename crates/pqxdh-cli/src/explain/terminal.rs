//! The terminal view: one section a step, hex in aligned rows of 16 bytes with offsets, ANSI
//! colour only when standard output is a terminal.

use std::fmt::Write;

use super::record::{Record, Value};

/// Private values longer than this are shown by their first bytes and their length.
const PRIVATE_SHOWN: usize = 64;

/// Bytes per hex row.
const ROW: usize = 16;

struct Style {
    on: bool,
}

impl Style {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
}

/// Aligned hex rows: `offset  xx xx ...`, indented.
pub fn hex_rows(bytes: &[u8], indent: &str) -> Vec<String> {
    bytes
        .chunks(ROW)
        .enumerate()
        .map(|(i, chunk)| {
            let hex: Vec<String> = chunk.iter().map(|b| format!("{b:02x}")).collect();
            format!("{indent}{:04x}  {}", i * ROW, hex.join(" "))
        })
        .collect()
}

/// The whole run as text.
pub fn render(record: &Record, colour: bool) -> String {
    let style = Style { on: colour };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}",
        style.paint(
            "1",
            &format!(
                "pqxdh explain: PQXDH ({}) and the Double Ratchet, {}",
                record.kem, record.title
            )
        )
    );
    for (n, section) in record.sections().iter().enumerate() {
        let _ = writeln!(
            out,
            "\n{}",
            style.paint("1;36", &format!("== {}. {}", n + 1, section.title))
        );
        let _ = writeln!(out, "   {}", section.intro);
        for row in &section.rows {
            match &row.value {
                Value::Text(text) => {
                    let label = format!("{:<28}", row.label);
                    let _ = writeln!(out, "   {} {}", style.paint("33", &label), text);
                }
                Value::Bytes(bytes) => {
                    let _ = writeln!(
                        out,
                        "   {} ({} bytes)",
                        style.paint("33", &row.label),
                        bytes.len()
                    );
                    for line in hex_rows(bytes, "     ") {
                        let _ = writeln!(out, "{line}");
                    }
                }
                Value::Private(bytes) => {
                    let _ = writeln!(
                        out,
                        "   {} ({} bytes, {})",
                        style.paint("33", &row.label),
                        bytes.len(),
                        style.paint("31", "private, throw-away run")
                    );
                    let shown = bytes
                        .get(..PRIVATE_SHOWN.min(bytes.len()))
                        .unwrap_or_default();
                    for line in hex_rows(shown, "     ") {
                        let _ = writeln!(out, "{}", style.paint("31", &line));
                    }
                    if shown.len() < bytes.len() {
                        let _ = writeln!(
                            out,
                            "     ... {} more bytes not shown",
                            bytes.len() - shown.len()
                        );
                    }
                }
            }
        }
    }
    out
}
