//! Publishing what the spool holds to the broker, oldest first: the half
//! of the outbox that talks to Redis. It runs on the committing thread
//! (one event, `--flush`) or on a thread of its own while the next batch
//! is committed ([`super::Outbox::streaming`]); then the two threads take
//! turns at writing to the spool ([`Turns`]).

use crate::base::backoff::Backoff;
use crate::base::checkpoint::{Gate, Pass};
use crate::base::cli;
use crate::base::error::Error;
use crate::base::exit::Exit;
use crate::log::BrokerSettings;
use crate::log::Log;
use crate::log::spool::{FORWARD, Spool};
use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// How many spooled events go to Redis in one pipeline.
const PUBLISH_BATCH: usize = 1000;

/// Who writes to the spool, one at a time, when the publisher runs on a
/// thread of its own: the committing thread appends, the publisher moves
/// the cursor. SQLite lets one writer in and has the other sleep in its
/// busy handler; taking turns here, neither sleeps. Both pass the
/// checkpointer's gate first ([`crate::base::checkpoint`]).
#[derive(Default)]
pub struct Turns {
    turn: Mutex<()>,
    pub gate: Option<Gate>,
}

/// A turn at writing, held until the write has committed.
pub struct Turn<'a> {
    _pass: Option<Pass>,
    _turn: MutexGuard<'a, ()>,
}

impl Turns {
    /// Waits for the turn to write.
    pub fn take(&self) -> Turn<'_> {
        let pass = self.gate.as_ref().map(Gate::pass);
        Turn {
            _turn: self.turn.lock().unwrap_or_else(PoisonError::into_inner),
            _pass: pass,
        }
    }
}

pub struct Publisher {
    broker_settings: Option<BrokerSettings>,
    stream: String,
    spool_path: PathBuf,
    quiet: bool,
    /// Taken to move the cursor when another thread appends.
    pub turns: Option<Arc<Turns>>,
    broker: Option<Box<dyn Log + Send>>,
    /// Why the broker is away, and when to try it again.
    broker_down: Option<(Error, Instant)>,
    backoff: Backoff,
    /// The outage was reported; say it once, and again when it ends.
    announced_down: bool,
    /// Events neither spooled nor published: the run ends with 74.
    pub lost_to_stderr: u64,
    /// The spool failed while reading it back: the run ends with 74.
    pub local_failure: bool,
}

impl Publisher {
    pub fn new(place: &crate::log::Place, quiet: bool, turns: Option<Arc<Turns>>) -> Publisher {
        Publisher {
            broker_settings: place.broker().cloned(),
            stream: place.events().to_string(),
            spool_path: place.spool().to_path_buf(),
            quiet,
            turns,
            broker: None,
            broker_down: None,
            backoff: Backoff::new(Duration::from_millis(500), Duration::from_secs(30)),
            announced_down: false,
            lost_to_stderr: 0,
            local_failure: false,
        }
    }

    pub fn spool_path(&self) -> &Path {
        &self.spool_path
    }

    /// Publishes the spool's backlog if a broker is configured and this
    /// process can take the publisher lock; another process holding it
    /// publishes until the outbox is empty, ours included. `fresh` is the
    /// batch just spooled (its lines and last sequence number), sent from
    /// memory instead of being read back when nothing older is waiting.
    pub fn publish(&mut self, spool: &mut Spool, fresh: Option<(&[String], i64)>) {
        let Some(broker) = &self.broker_settings else {
            return;
        };
        if let Some((_, retry_at)) = &self.broker_down
            && Instant::now() < *retry_at
        {
            return;
        }
        let Some(_lock) = publisher_lock(&self.spool_path, broker.timeout) else {
            return;
        };
        let result = self.drain_spool(spool, fresh);
        self.after_attempt(result);
    }

    /// Sends the last chance's backlog after an outage: one more try now,
    /// whatever the backoff says (a short outage should not cost a cron run).
    pub fn last_try(&mut self, spool: &mut Spool) {
        if self.broker_down.take().is_some() {
            self.publish(spool, None);
        }
    }

    /// Publishes what waits before the fresh batch, then the fresh batch
    /// from memory; inline, also whatever came after it (another sd-bark's
    /// events). On its own thread it stops at the fresh batch: what
    /// follows is on its way as the next batches, from memory.
    fn drain_spool(
        &mut self,
        spool: &mut Spool,
        fresh: Option<(&[String], i64)>,
    ) -> Result<(), Error> {
        let Some((lines, last)) = fresh else {
            return self.send_spooled(spool, None);
        };
        let first = last - lines.len() as i64 + 1;
        let mut cursor = spool.cursor(FORWARD)?;
        if cursor < first - 1 {
            self.send_spooled(spool, Some(first - 1))?;
            cursor = spool.cursor(FORWARD)?;
        }
        if cursor == first - 1 {
            let broker = self.connect()?;
            broker.append(&mut lines.iter().map(String::as_str))?;
            self.published(spool, last)?;
        }
        if self.turns.is_some() {
            // What follows is on its way as the next batches.
            return Ok(());
        }
        self.send_spooled(spool, None)
    }

    /// Publishes spooled entries after the cursor, up to `until` (all when
    /// `None`), in pipelines of [`PUBLISH_BATCH`].
    fn send_spooled(&mut self, spool: &mut Spool, until: Option<i64>) -> Result<(), Error> {
        loop {
            let cursor = spool.cursor(FORWARD)?;
            let mut entries = spool.after(cursor, PUBLISH_BATCH)?;
            let full = entries.len() == PUBLISH_BATCH;
            if let Some(until) = until {
                entries.retain(|e| e.seq <= until);
            }
            let Some(last) = entries.last().map(|e| e.seq) else {
                return Ok(());
            };
            let broker = self.connect()?;
            broker.append(&mut entries.iter().map(|e| e.line.as_str()))?;
            // Published before the cursor moved: a crash in between sends
            // these again, and every sink deduplicates on `id`.
            self.published(spool, last)?;
            if !full || until.is_some_and(|until| last >= until) {
                return Ok(());
            }
        }
    }

    /// Moves the cursor past what the broker took, before the publisher
    /// lock is let go: the next publisher, in this process or another,
    /// starts after it.
    fn published(&mut self, spool: &mut Spool, last: i64) -> Result<(), Error> {
        match &self.turns {
            None => spool.advance(FORWARD, last),
            // The committing thread trims, with its next batch.
            Some(turns) => {
                let _turn = turns.take();
                spool.move_cursor(FORWARD, last)
            }
        }
    }

    /// Publishes a batch the spool could not keep; when that fails too,
    /// the events go to stderr (cron mails them).
    pub fn publish_directly(&mut self, lines: &[String]) {
        let result = if self.broker_settings.is_some() {
            self.connect()
                .and_then(|broker| broker.append(&mut lines.iter().map(String::as_str)))
                .map(|_| ())
        } else {
            Err(Error::io("no spool and no broker"))
        };
        if result.is_err() {
            self.write_to_stderr(lines);
        }
        if self.broker_settings.is_some() {
            self.after_attempt(result);
        }
    }

    fn connect(&mut self) -> Result<&mut Box<dyn Log + Send>, Error> {
        if self.broker.is_none() {
            let settings = self
                .broker_settings
                .as_ref()
                .expect("a broker is configured");
            let mut broker = crate::log::Place::new(
                Some(settings.clone()),
                self.spool_path.clone(),
                self.stream.clone(),
            )
            .open(&self.stream)?;
            if let Some(path) = &settings.key_file {
                broker.sign_with(crate::event::signing::Key::from_file(path)?);
            }
            self.broker = Some(broker);
        }
        Ok(self.broker.as_mut().expect("just connected"))
    }

    fn after_attempt(&mut self, result: Result<(), Error>) {
        match result {
            Ok(()) => {
                if self.broker_down.take().is_some() && !self.quiet {
                    self.announced_down = false;
                    cli::note(format!(
                        "{} is reachable again; the backlog went out",
                        self.shown()
                    ));
                }
                self.backoff.reset();
            }
            Err(err) if err.exit == Exit::Unavailable || err.exit == Exit::Usage => {
                self.broker = None;
                if !self.announced_down && !self.quiet {
                    self.announced_down = true;
                    cli::note(if err.exit == Exit::Usage {
                        format!("{err} (events stay in the spool)")
                    } else {
                        format!("{err} (events stay in the spool and go out when it is back)")
                    });
                }
                self.broker_down = Some((err, Instant::now() + self.backoff.next_wait()));
            }
            Err(err) => {
                cli::note(&err);
                self.local_failure = true;
            }
        }
    }

    fn write_to_stderr(&mut self, lines: &[String]) {
        let mut err = std::io::stderr().lock();
        if self.lost_to_stderr == 0 {
            let _ = writeln!(
                err,
                "{}: could neither spool nor publish these events; they follow, one per line:",
                cli::program()
            );
        }
        for line in lines {
            let _ = writeln!(err, "{line}");
        }
        self.lost_to_stderr += lines.len() as u64;
    }

    fn shown(&self) -> String {
        self.broker_settings
            .as_ref()
            .map(|b| crate::base::secret::redact_url(&b.url))
            .unwrap_or_default()
    }

    /// Why the broker is away at the end of the run, and whether it said so.
    pub fn outage(&self) -> Option<(&Error, bool)> {
        self.broker_down
            .as_ref()
            .map(|(err, _)| (err, self.announced_down))
    }
}

/// The publisher lock, waiting at most `timeout` for another sd-bark to
/// finish publishing.
fn publisher_lock(spool: &Path, timeout: Duration) -> Option<File> {
    let path = lock_path(spool);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .ok()?;
    let deadline = Instant::now() + timeout;
    loop {
        match file.try_lock() {
            Ok(()) => return Some(file),
            Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(_) => return None,
        }
    }
}

fn lock_path(spool: &Path) -> PathBuf {
    let mut name = spool.as_os_str().to_owned();
    name.push(".publish.lock");
    PathBuf::from(name)
}
