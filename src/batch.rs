//! Gathering events from stdin into batches, for the commands that commit
//! in transactions (sd-bark, sd-store, sd-mail).
//!
//! Input may never end (`sd-heartbeat --every 30s | sd-bark`), so lines
//! are read and parsed on their own thread, and a batch closes at
//! [`BATCH_LINES`] events or after [`BATCH_IDLE`] without input, whichever
//! comes first: a quiet stream is never left uncommitted.

use crate::error::{Error, Result};
use crate::event::Event;
use crate::exit::Exit;
use crate::lines::{EventReader, Item, Rejections};
use std::io::{self, BufRead};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::Duration;

/// A batch closes at this many events…
pub const BATCH_LINES: usize = 1000;
/// …or after this long without input.
pub const BATCH_IDLE: Duration = Duration::from_millis(50);

/// Reads events from `input`, turns each into a `T` with `prepare` (on the
/// reading thread), and hands `commit` batches of them. Rejected lines are
/// reported as they come; the result is `DataErr` when there were any.
pub fn read_batches<T: Send>(
    input: impl BufRead + Send,
    max_event: usize,
    prepare: impl Fn(Event) -> T + Send,
    mut commit: impl FnMut(Vec<T>) -> Result<()>,
) -> Result<Exit> {
    let (tx, rx) = mpsc::sync_channel::<T>(4 * BATCH_LINES);
    thread::scope(|scope| {
        let reader = scope.spawn(move || -> io::Result<Rejections> {
            let mut rejections = Rejections::default();
            let mut events = EventReader::new(input, max_event);
            while let Some((number, item)) = events.next_item()? {
                match item {
                    Item::Event(event) => {
                        if tx.send(prepare(event)).is_err() {
                            break;
                        }
                    }
                    Item::Rejected(why) => rejections.report(number, &why),
                    Item::Blank => {}
                }
            }
            Ok(rejections)
        });
        let mut batch = Vec::with_capacity(BATCH_LINES);
        let committed = loop {
            let next = if batch.is_empty() {
                rx.recv().map_err(|_| RecvTimeoutError::Disconnected)
            } else {
                rx.recv_timeout(BATCH_IDLE)
            };
            let result = match next {
                Ok(item) => {
                    batch.push(item);
                    if batch.len() >= BATCH_LINES {
                        commit(std::mem::take(&mut batch))
                    } else {
                        Ok(())
                    }
                }
                Err(RecvTimeoutError::Timeout) => commit(std::mem::take(&mut batch)),
                Err(RecvTimeoutError::Disconnected) => {
                    let last = if batch.is_empty() {
                        Ok(())
                    } else {
                        commit(std::mem::take(&mut batch))
                    };
                    break last;
                }
            };
            if result.is_err() {
                break result;
            }
        };
        // On a commit error the reader is left blocked on a full channel;
        // dropping the receiver lets it finish.
        drop(rx);
        let rejections = reader
            .join()
            .map_err(|_| Error::io("the input reader stopped unexpectedly"))?;
        committed?;
        let rejections = rejections.map_err(|e| Error::local_io("reading standard input", e))?;
        Ok(rejections.exit())
    })
}
