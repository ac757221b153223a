//! How answers are printed: JSON lines for programs (when piped, or with
//! `--format json`), an aligned table for people on a terminal, coloured
//! by status. anstream decides whether colour reaches the terminal
//! (`NO_COLOR`, `CLICOLOR`, a pipe); widths are those a terminal shows
//! (unicode-width), so a host name in CJK still lines up.

use crate::base::cli;
use crate::base::error::Result;

/// Prints a whole text to stdout.
pub fn print_text(text: &str) -> Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes()).map_err(cli::stdout_error)?;
    out.flush().map_err(cli::stdout_error)
}
use anstyle::{AnsiColor, Style};
use serde_json::{Map, Value};
use std::io::{self, IsTerminal, Write};
use unicode_width::UnicodeWidthStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Json,
    Table,
    /// The board for Prometheus (status only).
    Openmetrics,
    /// The board as one self-contained page (status only).
    Html,
}

/// Rows with the same keys, printed in the chosen format.
pub struct Answer {
    pub columns: Vec<&'static str>,
    pub rows: Vec<Map<String, Value>>,
}

impl Answer {
    pub fn print(&self, format: Option<Format>) -> Result<()> {
        let stdout = io::stdout();
        let format = format.unwrap_or(if stdout.is_terminal() {
            Format::Table
        } else {
            Format::Json
        });
        match format {
            Format::Json => {
                let mut out = io::BufWriter::new(stdout.lock());
                for row in &self.rows {
                    writeln!(out, "{}", Value::Object(row.clone())).map_err(cli::stdout_error)?;
                }
                out.flush().map_err(cli::stdout_error)
            }
            Format::Table => {
                let mut out = io::BufWriter::new(anstream::stdout().lock());
                self.table(&mut out).map_err(cli::stdout_error)?;
                out.flush().map_err(cli::stdout_error)
            }
            Format::Openmetrics | Format::Html => Err(crate::base::error::Error::usage(
                "--format openmetrics and html are for the board: sd-query status --format …",
            )),
        }
    }

    fn table(&self, out: &mut impl Write) -> io::Result<()> {
        let cells: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|row| self.columns.iter().map(|c| cell(row.get(*c))).collect())
            .collect();
        let widths: Vec<usize> = self
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                cells
                    .iter()
                    .map(|r| r[i].width())
                    .chain([c.len()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let header: Vec<String> = self
            .columns
            .iter()
            .zip(&widths)
            .map(|(c, w)| pad(&c.to_uppercase(), *w))
            .collect();
        writeln!(out, "{}", header.join("  ").trim_end())?;
        for row in &cells {
            let mut line = String::new();
            for (i, (text, width)) in row.iter().zip(&widths).enumerate() {
                if i > 0 {
                    line.push_str("  ");
                }
                let padded = pad(text, *width);
                match (self.columns[i] == "status", text.as_str()) {
                    (true, "ok") => paint(&mut line, &padded, AnsiColor::Green.on_default()),
                    (true, "warn") => paint(&mut line, &padded, AnsiColor::Yellow.on_default()),
                    (true, "fail" | "error") => {
                        paint(&mut line, &padded, AnsiColor::Red.on_default().bold())
                    }
                    _ => line.push_str(&padded),
                }
            }
            writeln!(out, "{}", line.trim_end())?;
        }
        Ok(())
    }
}

/// `text` and spaces up to `width` columns of a terminal.
fn pad(text: &str, width: usize) -> String {
    format!("{text}{}", " ".repeat(width.saturating_sub(text.width())))
}

fn paint(line: &mut String, text: &str, style: Style) {
    line.push_str(&format!("{style}{text}{style:#}"));
}

fn cell(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => "-".to_string(),
        Some(Value::String(s)) => s.replace(['\n', '\r', '\t'], " "),
        Some(other) => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_line_up_in_terminal_columns() {
        let answer = Answer {
            columns: vec!["host", "status"],
            rows: ["東京01", "tux01"]
                .iter()
                .map(|host| {
                    let mut row = Map::new();
                    row.insert("host".into(), (*host).into());
                    row.insert("status".into(), "ok".into());
                    row
                })
                .collect(),
        };
        let mut out = Vec::new();
        answer.table(&mut out).unwrap();
        let text = anstream::adapter::strip_str(std::str::from_utf8(&out).unwrap()).to_string();
        let starts: Vec<usize> = text
            .lines()
            .map(|l| l[..l.find("ok").or_else(|| l.find("STATUS")).unwrap()].width())
            .collect();
        assert_eq!(starts, [8, 8, 8], "{text}");
    }
}
