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
        let mut printer = Printer::new(self.columns.clone(), format)?;
        for row in &self.rows {
            printer.row(row)?;
        }
        printer.finish()
    }
}

/// Rows a table sizes its columns by; later rows keep those widths.
const FIRST_PAGE: usize = 200;

/// Prints rows as they are read, so an answer of any size takes no more
/// memory than a page of it: JSON lines as they come; a table sized by
/// its first page, whose later values are cut to fit (and it says so).
pub struct Printer {
    columns: Vec<&'static str>,
    out: Box<dyn Write>,
    /// A table: its first page while it is gathered, then its widths.
    table: Option<Table>,
}

struct Table {
    page: Vec<Vec<String>>,
    widths: Option<Vec<usize>>,
    cut: bool,
}

impl Printer {
    pub fn new(columns: Vec<&'static str>, format: Option<Format>) -> Result<Printer> {
        let format = format.unwrap_or(if io::stdout().is_terminal() {
            Format::Table
        } else {
            Format::Json
        });
        let (out, table): (Box<dyn Write>, _) = match format {
            Format::Json => (
                Box::new(io::BufWriter::with_capacity(
                    256 * 1024,
                    io::stdout().lock(),
                )),
                None,
            ),
            Format::Table => (
                Box::new(io::BufWriter::new(anstream::stdout().lock())),
                Some(Table {
                    page: Vec::new(),
                    widths: None,
                    cut: false,
                }),
            ),
            Format::Openmetrics | Format::Html => {
                return Err(crate::base::error::Error::usage(
                    "--format openmetrics and html are for the board: sd-query status --format …",
                ));
            }
        };
        Ok(Printer {
            columns,
            out,
            table,
        })
    }

    /// A row that is a JSON object's text already (a stored event): as
    /// JSON it is written as it is, not parsed and written again.
    pub fn json_text(&mut self, text: &str) -> Result<()> {
        if self.table.is_none() {
            return writeln!(self.out, "{text}").map_err(cli::stdout_error);
        }
        let row: Map<String, Value> = serde_json::from_str(text).unwrap_or_default();
        self.row(&row)
    }

    pub fn row(&mut self, row: &Map<String, Value>) -> Result<()> {
        let Some(table) = &mut self.table else {
            serde_json::to_writer(&mut self.out, row)
                .map_err(io::Error::from)
                .and_then(|()| self.out.write_all(b"\n"))
                .map_err(cli::stdout_error)?;
            return Ok(());
        };
        let cells: Vec<String> = self.columns.iter().map(|c| cell(row.get(*c))).collect();
        match &table.widths {
            None => {
                table.page.push(cells);
                if table.page.len() >= FIRST_PAGE {
                    self.size_and_print_page().map_err(cli::stdout_error)?;
                }
                Ok(())
            }
            Some(_) => self.table_row(cells).map_err(cli::stdout_error),
        }
    }

    /// Prints what is left, and says whether values were cut.
    pub fn finish(mut self) -> Result<()> {
        if self.table.as_ref().is_some_and(|t| t.widths.is_none()) {
            self.size_and_print_page().map_err(cli::stdout_error)?;
        }
        self.out.flush().map_err(cli::stdout_error)?;
        if self.table.as_ref().is_some_and(|t| t.cut) {
            cli::note(format!(
                "the table keeps the column widths of its first {FIRST_PAGE} rows; longer values \
                 were cut (…): --format json prints them whole"
            ));
        }
        Ok(())
    }

    /// Sizes the columns by the first page, prints the header and it.
    fn size_and_print_page(&mut self) -> io::Result<()> {
        let table = self.table.as_mut().expect("a table");
        let widths: Vec<usize> = self
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                table
                    .page
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
        writeln!(self.out, "{}", header.join("  ").trim_end())?;
        table.widths = Some(widths);
        for cells in std::mem::take(&mut table.page) {
            self.table_row(cells)?;
        }
        Ok(())
    }

    fn table_row(&mut self, cells: Vec<String>) -> io::Result<()> {
        let table = self.table.as_mut().expect("a table");
        let widths = table.widths.as_ref().expect("sized");
        let last = cells.len().saturating_sub(1);
        let mut line = String::new();
        for (i, (text, width)) in cells.iter().zip(widths).enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            // The last column runs on: nothing stands after it.
            let fitted = if i < last && text.width() > *width {
                table.cut = true;
                cut_to(text, *width)
            } else {
                pad(text, *width)
            };
            match (self.columns[i] == "status", text.as_str()) {
                (true, "ok") => paint(&mut line, &fitted, AnsiColor::Green.on_default()),
                (true, "warn") => paint(&mut line, &fitted, AnsiColor::Yellow.on_default()),
                (true, "fail" | "error") => {
                    paint(&mut line, &fitted, AnsiColor::Red.on_default().bold())
                }
                _ => line.push_str(&fitted),
            }
        }
        writeln!(self.out, "{}", line.trim_end())
    }
}

/// `text` cut to `width` terminal columns, its last one an ellipsis.
fn cut_to(text: &str, width: usize) -> String {
    let mut kept = String::new();
    for c in text.chars() {
        if kept.width() + c.to_string().width() + 1 > width {
            break;
        }
        kept.push(c);
    }
    kept.push('…');
    pad(&kept, width)
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

    /// A buffer the test reads after the printer wrote to it.
    struct Shared(std::rc::Rc<std::cell::RefCell<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.borrow_mut().write(buf)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

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
        let out = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        let mut printer = Printer::new(answer.columns.clone(), Some(Format::Table)).unwrap();
        printer.out = Box::new(Shared(out.clone()));
        for row in &answer.rows {
            printer.row(row).unwrap();
        }
        printer.finish().unwrap();
        let out = out.borrow();
        let text = anstream::adapter::strip_str(std::str::from_utf8(&out).unwrap()).to_string();
        let starts: Vec<usize> = text
            .lines()
            .map(|l| l[..l.find("ok").or_else(|| l.find("STATUS")).unwrap()].width())
            .collect();
        assert_eq!(starts, [8, 8, 8], "{text}");
    }

    #[test]
    fn a_long_table_keeps_the_widths_of_its_first_page_and_cuts() {
        let out = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        let mut printer = Printer::new(vec!["host", "msg"], Some(Format::Table)).unwrap();
        printer.out = Box::new(Shared(out.clone()));
        let row = |host: &str| {
            let mut row = Map::new();
            row.insert("host".into(), host.into());
            row.insert("msg".into(), "a message that runs on".into());
            row
        };
        for _ in 0..FIRST_PAGE {
            printer.row(&row("tux01")).unwrap();
        }
        printer.row(&row("a-much-longer-host-name")).unwrap();
        assert!(printer.table.as_ref().unwrap().cut);
        printer.finish().unwrap();
        let out = out.borrow();
        let text = anstream::adapter::strip_str(std::str::from_utf8(&out).unwrap()).to_string();
        let last = text.lines().last().unwrap();
        assert_eq!(last, "a-mu…  a message that runs on", "{text}");
        assert_eq!(
            text.lines().count(),
            FIRST_PAGE + 2,
            "the header and every row"
        );
    }
}
