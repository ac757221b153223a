//! Gathering events from stdin into batches, for the commands that commit
//! in transactions (sd-bark, sd-store, sd-mail).
//!
//! Input may never end (`sd-heartbeat --every 30s | sd-bark`), so lines
//! are read and parsed on their own thread, and a batch closes at
//! [`BATCH_LINES`] events or after [`BATCH_IDLE`] without input, whichever
//! comes first: a quiet stream is never left uncommitted.

use crate::base::error::{Error, Result};
use crate::base::exit::Exit;
use crate::event::lines::{EventReader, Item, Prepare, Rejections};
use std::io::{self, BufRead};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

/// A batch closes at this many events (or up to a chunk more), unless
/// the consumer says otherwise ([`Batches::batch_lines`])…
pub const BATCH_LINES: usize = 4000;
/// …or after this long without input. Short on purpose (group commit):
/// what arrives while a batch commits makes the next batch, so batches
/// grow by themselves under load, and a lone event waits 2 ms, not 50
/// (the fleet simulation's latency, bench/BENCHMARKS.md).
pub const BATCH_IDLE: Duration = Duration::from_millis(2);
/// Events go from the reading thread to the committing one in chunks of
/// at most this many (fewer when the input has nothing more yet).
const CHUNK_LINES: usize = 500;

/// What consumes batches: commits them, and may ask to be woken at a
/// time of its own while input is idle (sd-mail's group wait and digest).
pub trait Batches<T> {
    fn commit(&mut self, batch: Vec<T>) -> Result<()>;

    /// How many events make a full batch.
    fn batch_lines(&self) -> usize {
        BATCH_LINES
    }

    /// When [`Batches::wake`] should next be called, if ever.
    fn deadline(&self) -> Option<Instant> {
        None
    }

    fn wake(&mut self) -> Result<()> {
        Ok(())
    }

    /// Called once the input has ended and the last batch is committed.
    fn finish(&mut self) -> Result<()> {
        Ok(())
    }
}

/// A closure that commits is all most commands need.
struct Committer<F>(F);

impl<T, F: FnMut(Vec<T>) -> Result<()>> Batches<T> for Committer<F> {
    fn commit(&mut self, batch: Vec<T>) -> Result<()> {
        (self.0)(batch)
    }
}

/// Reads events from `input`, turns each into a `T` with `prepare` (on the
/// reading thread), and hands `commit` batches of them. Rejected lines are
/// reported as they come; the result is `DataErr` when there were any.
pub fn read_batches<T: Send + 'static>(
    input: impl BufRead + Send + 'static,
    max_event: usize,
    prepare: impl Prepare<T> + Send + 'static,
    commit: impl FnMut(Vec<T>) -> Result<()>,
) -> Result<Exit> {
    feed_batches(input, max_event, prepare, &mut Committer(commit))
}

/// [`read_batches`] for a consumer with timers of its own. On an error
/// it returns at once, without waiting for the input to end: the reading
/// thread may be blocked on a pipe that stays open.
pub fn feed_batches<T: Send + 'static>(
    input: impl BufRead + Send + 'static,
    max_event: usize,
    prepare: impl Prepare<T> + Send + 'static,
    consumer: &mut impl Batches<T>,
) -> Result<Exit> {
    // Events travel in chunks: one hand-over per event cost a wake-up of
    // the other thread per event, as much as committing them did.
    let (tx, rx) = mpsc::sync_channel::<Vec<T>>(4 * BATCH_LINES / CHUNK_LINES);
    let reader = thread::spawn(move || -> io::Result<Rejections> {
        let mut rejections = Rejections::default();
        let mut events = EventReader::new(input, max_event);
        let mut chunk = Vec::with_capacity(CHUNK_LINES);
        while let Some((number, item)) = events.next_item(&prepare)? {
            match item {
                Item::Event(prepared) => chunk.push(prepared),
                Item::Rejected(why) => rejections.report(number, &why),
                Item::Blank => {}
            }
            // What is read goes on before the reader may wait for more.
            if chunk.len() >= CHUNK_LINES || (events.drained() && !chunk.is_empty()) {
                let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK_LINES));
                if tx.send(full).is_err() {
                    return Ok(rejections);
                }
            }
        }
        if !chunk.is_empty() {
            let _ = tx.send(chunk);
        }
        Ok(rejections)
    });
    let full = consumer.batch_lines();
    let mut batch = Vec::with_capacity(full);
    loop {
        // Under load the next event is already there: no clock, no timer.
        let ready = rx.try_recv().ok();
        let wake_at = consumer.deadline();
        let next = match (ready, batch.is_empty(), wake_at) {
            (Some(item), _, _) => Ok(item),
            (None, true, None) => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
            (None, true, Some(at)) => rx.recv_timeout(at.saturating_duration_since(Instant::now())),
            (None, false, at) => {
                let idle = Instant::now() + BATCH_IDLE;
                let until = at.map_or(idle, |at| at.min(idle));
                rx.recv_timeout(until.saturating_duration_since(Instant::now()))
            }
        };
        match next {
            Ok(chunk) => {
                batch.extend(chunk);
                if batch.len() < full {
                    // Timers are looked at between batches, not per event.
                    continue;
                }
                consumer.commit(std::mem::take(&mut batch))?;
            }
            Err(RecvTimeoutError::Timeout) => {
                if !batch.is_empty() {
                    consumer.commit(std::mem::take(&mut batch))?;
                }
            }
            Err(RecvTimeoutError::Disconnected) => {
                if !batch.is_empty() {
                    consumer.commit(std::mem::take(&mut batch))?;
                }
                break;
            }
        }
        if consumer.deadline().is_some_and(|at| at <= Instant::now()) {
            consumer.wake()?;
        }
    }
    consumer.finish()?;
    let rejections = reader
        .join()
        .map_err(|_| Error::io("the input reader stopped unexpectedly"))?;
    let rejections = rejections.map_err(|e| Error::local_io("reading standard input", e))?;
    Ok(rejections.exit())
}
