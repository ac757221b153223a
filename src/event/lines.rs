//! Reading JSON lines safely: every line numbered, none allowed to grow
//! memory without bound, a bad one reported and skipped, the stream going
//! on (never abort a stream on one bad record: docs/ARCHITECTURE.md §4).

use crate::base::exit::Exit;
use crate::event::skim::{Skim, Skimmed, skim_for_stamping, stamp_bare};
use crate::event::{Event, Rejection};
use std::io::{self, BufRead};

/// Splits input into lines of at most `max` bytes. A longer line is not
/// kept: its bytes are counted and skipped up to the next newline, so a
/// 100 MB line costs no more memory than a short one.
pub struct LineReader<R> {
    input: R,
    max: usize,
    number: u64,
    line: Vec<u8>,
    /// The input has no whole line buffered after the last one: reading
    /// the next one may wait for the producer.
    drained: bool,
}

/// One line of input.
pub enum Line<'a> {
    /// The line's bytes, without the newline (or a CR before it).
    Text(&'a [u8]),
    /// The line was longer than the limit; its length in bytes.
    TooLong(usize),
}

impl<R: BufRead> LineReader<R> {
    pub fn new(input: R, max: usize) -> Self {
        LineReader {
            input,
            max,
            number: 0,
            line: Vec::new(),
            drained: true,
        }
    }

    /// The next line and its number (from 1), or `None` at the end.
    pub fn next_line(&mut self) -> io::Result<Option<(u64, Line<'_>)>> {
        self.line.clear();
        let mut length = 0usize;
        let mut saw_any = false;
        loop {
            let available = match self.input.fill_buf() {
                Ok(buf) => buf,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                break;
            }
            saw_any = true;
            let (chunk, found_newline) = match memchr::memchr(b'\n', available) {
                Some(at) => (&available[..at], true),
                None => (available, false),
            };
            length += chunk.len();
            if length <= self.max + 1 {
                self.line.extend_from_slice(chunk);
            }
            let used = chunk.len() + usize::from(found_newline);
            // Buffered bytes are looked at without reading more.
            self.drained = memchr::memchr(b'\n', &available[used..]).is_none();
            self.input.consume(used);
            if found_newline {
                break;
            }
        }
        if !saw_any {
            return Ok(None);
        }
        self.number += 1;
        if self.line.last() == Some(&b'\r') {
            self.line.pop();
            length -= 1;
        }
        if length > self.max {
            return Ok(Some((self.number, Line::TooLong(length))));
        }
        Ok(Some((self.number, Line::Text(&self.line))))
    }

    /// The number of the last line read.
    pub fn line_number(&self) -> u64 {
        self.number
    }

    /// Whether the next line may have to wait for input: no whole line is
    /// left in the buffer (a reader handing lines on in chunks hands on
    /// what it has before it waits).
    pub fn drained(&self) -> bool {
        self.drained
    }
}

/// What one line of input turned out to be.
pub enum Item<T = Event> {
    /// An event, prepared ([`Prepare`]).
    Event(T),
    Rejected(Rejection),
    /// Only white space: skipped silently, as empty input is no events.
    Blank,
}

/// Turns a line of input into what its reader keeps.
pub trait Prepare<T> {
    /// A line straight from its text, when it needs no change (see
    /// [`crate::event::skim`]); `None` has it parsed into an event instead. The
    /// line is within the event size limit.
    fn line(&self, _line: &[u8]) -> Option<T> {
        None
    }

    fn event(&self, event: Event) -> T;
}

/// A closure prepares every line as an event.
impl<T, F: Fn(Event) -> T> Prepare<T> for F {
    fn event(&self, event: Event) -> T {
        self(event)
    }
}

/// How the commands that stamp events (sd-bark, sd-store) prepare them:
/// an event that needs nothing — current, stamped, with a host — straight
/// from its line ([`crate::event::skim`]), one that needs only the stamp stamped
/// as text ([`stamp_bare`]); any other parsed, then stamped with `host`.
pub struct Stamping<A, S> {
    pub host: String,
    pub as_is: A,
    pub stamped: S,
}

impl<T, A: Fn(Skimmed<'_>) -> T, S: Fn(Event) -> T> Prepare<T> for Stamping<A, S> {
    fn line(&self, line: &[u8]) -> Option<T> {
        // The reader has refused lines over the size limit already.
        match skim_for_stamping(line, usize::MAX)? {
            Skim::Ready(event) => event.host.is_some().then(|| (self.as_is)(event)),
            Skim::Bare(event) => {
                // One reading of the clock for both, as Event::stamp.
                let now = std::time::SystemTime::now();
                let id = ulid::Ulid::from_datetime(now).to_string();
                let time_ms = now
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |since| since.as_millis() as i64);
                let stamped = stamp_bare(&event, &id, time_ms, &self.host);
                Some((self.as_is)(Skimmed {
                    line: &stamped,
                    id: id.as_str().into(),
                    time_ms,
                    host: Some(self.host.as_str().into()),
                    ..event
                }))
            }
        }
    }

    fn event(&self, mut event: Event) -> T {
        event.stamp(&self.host);
        (self.stamped)(event)
    }
}

/// Reads events from lines, with the event size limit.
pub struct EventReader<R> {
    lines: LineReader<R>,
    max_event: usize,
}

impl<R: BufRead> EventReader<R> {
    pub fn new(input: R, max_event: usize) -> Self {
        EventReader {
            lines: LineReader::new(input, max_event),
            max_event,
        }
    }

    /// The next line as an event prepared by `prepare` (or why it is not
    /// one) with its number.
    pub fn next_item<T>(
        &mut self,
        prepare: &impl Prepare<T>,
    ) -> io::Result<Option<(u64, Item<T>)>> {
        let max_event = self.max_event;
        let Some((number, line)) = self.lines.next_line()? else {
            return Ok(None);
        };
        let item = match line {
            Line::TooLong(length) => Item::Rejected(Rejection::too_large(length, max_event)),
            Line::Text(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Item::Blank,
            Line::Text(bytes) => match prepare.line(bytes) {
                Some(prepared) => Item::Event(prepared),
                None => match Event::parse(bytes, max_event) {
                    Ok(event) => Item::Event(prepare.event(event)),
                    Err(why) => Item::Rejected(why),
                },
            },
        };
        Ok(Some((number, item)))
    }

    /// Whether the next item may have to wait for input
    /// ([`LineReader::drained`]).
    pub fn drained(&self) -> bool {
        self.lines.drained()
    }
}

/// Counts and reports rejected lines as `sd-TOOL: line N: why`, and turns
/// the count into the exit status at the end.
#[derive(Default)]
pub struct Rejections {
    count: u64,
}

impl Rejections {
    pub fn report(&mut self, line: u64, why: &Rejection) {
        self.count += 1;
        eprintln!("{}: line {line}: {why}", crate::base::cli::program());
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    /// `DataErr` (65) when any line was rejected.
    pub fn exit(&self) -> Exit {
        if self.count > 0 {
            Exit::DataErr
        } else {
            Exit::Ok
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8], max: usize) -> Vec<String> {
        let mut reader = LineReader::new(input, max);
        let mut out = Vec::new();
        while let Some((n, line)) = reader.next_line().unwrap() {
            out.push(match line {
                Line::Text(t) => format!("{n}:{}", String::from_utf8_lossy(t)),
                Line::TooLong(len) => format!("{n}:too long {len}"),
            });
        }
        out
    }

    #[test]
    fn splits_and_numbers_lines() {
        assert_eq!(lines(b"a\nbb\r\n\nc", 10), ["1:a", "2:bb", "3:", "4:c"]);
        assert!(lines(b"", 10).is_empty());
    }

    #[test]
    fn says_when_the_next_line_is_not_all_there_yet() {
        let mut reader = LineReader::new(&b"a\nb\npartial"[..], 100);
        reader.next_line().unwrap();
        assert!(!reader.drained(), "b is buffered");
        reader.next_line().unwrap();
        assert!(reader.drained(), "only part of a line is buffered");
    }

    #[test]
    fn long_lines_are_skipped_not_kept() {
        let mut input = vec![b'x'; 5000];
        input.extend_from_slice(b"\nok\n");
        let reader = std::io::BufReader::with_capacity(64, &input[..]);
        let mut reader = LineReader::new(reader, 100);
        match reader.next_line().unwrap().unwrap() {
            (1, Line::TooLong(5000)) => {}
            _ => panic!("expected a too-long line"),
        }
        assert!(reader.line.capacity() < 1000);
        match reader.next_line().unwrap().unwrap() {
            (2, Line::Text(b"ok")) => {}
            _ => panic!("expected the next line"),
        }
    }
}
