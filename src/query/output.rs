//! How answers are printed: JSON lines for programs (when piped, or with
//! `--format json`), an aligned table for people on a terminal, coloured
//! by status unless `NO_COLOR` is set.

use crate::cli;
use crate::error::Result;
use serde_json::{Map, Value};
use std::io::{self, IsTerminal, Write};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Json,
    Table,
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
        let mut out = io::BufWriter::new(stdout.lock());
        match format {
            Format::Json => {
                for row in &self.rows {
                    writeln!(out, "{}", Value::Object(row.clone())).map_err(cli::stdout_error)?;
                }
            }
            Format::Table => self
                .table(&mut out, colour_wanted())
                .map_err(cli::stdout_error)?,
        }
        out.flush().map_err(cli::stdout_error)
    }

    fn table(&self, out: &mut impl Write, colour: bool) -> io::Result<()> {
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
                    .map(|r| r[i].chars().count())
                    .chain([c.len()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let header: Vec<String> = self
            .columns
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{:<w$}", c.to_uppercase()))
            .collect();
        writeln!(out, "{}", header.join("  ").trim_end())?;
        for row in &cells {
            let mut line = String::new();
            for (i, (text, width)) in row.iter().zip(&widths).enumerate() {
                if i > 0 {
                    line.push_str("  ");
                }
                let padded = format!("{text:<width$}");
                let status_column = self.columns[i] == "status";
                match (colour && status_column, text.as_str()) {
                    (true, "ok") => line.push_str(&format!("\x1b[32m{padded}\x1b[0m")),
                    (true, "warn") => line.push_str(&format!("\x1b[33m{padded}\x1b[0m")),
                    (true, "fail" | "error") => {
                        line.push_str(&format!("\x1b[31;1m{padded}\x1b[0m"))
                    }
                    _ => line.push_str(&padded),
                }
            }
            writeln!(out, "{}", line.trim_end())?;
        }
        Ok(())
    }
}

fn cell(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => "-".to_string(),
        Some(Value::String(s)) => s.replace(['\n', '\r', '\t'], " "),
        Some(other) => other.to_string(),
    }
}

/// Colour only on a terminal, and never when NO_COLOR is set
/// (https://no-color.org).
fn colour_wanted() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && io::stdout().is_terminal()
}
