//! sd-bark's way of never losing an event (docs/ARCHITECTURE.md §2): every batch is
//! committed to the local spool first; then, when a broker is configured,
//! whoever holds the publisher lock publishes the spool's backlog, oldest
//! first, until it is empty. A broker that is away delays events, never
//! loses them; a spool that cannot be written is bypassed by publishing
//! directly, and when that fails too the events go to stderr (so cron
//! mails them) and the exit status says so.

use crate::backoff::Backoff;
use crate::broker::Broker;
use crate::cli;
use crate::config::Settings;
use crate::error::Error;
use crate::exit::Exit;
use crate::spool::{FORWARD, Spool};
use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// How many spooled events go to Redis in one pipeline.
const PUBLISH_BATCH: usize = 1000;

pub struct Outbox<'a> {
    settings: &'a Settings,
    spool: Option<Spool>,
    broker: Option<Broker>,
    /// Why the broker is away, and when to try it again.
    broker_down: Option<(Error, Instant)>,
    backoff: Backoff,
    /// Events neither spooled nor published: the run ends with 74.
    lost_to_stderr: u64,
    spool_failed: bool,
    /// The spool failed while reading it back: the run ends with 74.
    local_failure: bool,
    /// The outage was reported; say it once, and again when it ends.
    announced_down: bool,
    published: u64,
}

impl<'a> Outbox<'a> {
    pub fn open(settings: &'a Settings) -> Outbox<'a> {
        let mut outbox = Outbox {
            settings,
            spool: None,
            broker: None,
            broker_down: None,
            backoff: Backoff::new(Duration::from_millis(500), Duration::from_secs(30)),
            lost_to_stderr: 0,
            spool_failed: false,
            local_failure: false,
            announced_down: false,
            published: 0,
        };
        match Spool::open(&settings.spool) {
            Ok(spool) => outbox.spool = Some(spool),
            Err(err) => outbox.spool_broken(&err),
        }
        outbox
    }

    fn spool_broken(&mut self, err: &Error) {
        if !self.spool_failed {
            cli::note(format!(
                "{err} ({})",
                if self.settings.broker.is_some() {
                    "publishing directly to the broker instead"
                } else {
                    "events will be written to stderr instead"
                }
            ));
        }
        self.spool_failed = true;
    }

    /// Keeps a batch: spool, then publish what is waiting.
    pub fn commit(&mut self, lines: &[String]) {
        if lines.is_empty() {
            return;
        }
        let spooled = match self.spool.as_mut().map(|s| s.append(lines)) {
            Some(Ok(last)) => Some(last),
            Some(Err(err)) => {
                self.spool_broken(&err);
                None
            }
            None => None,
        };
        match spooled {
            Some(last) => self.publish(Some((lines, last))),
            None => self.publish_directly(lines),
        }
    }

    /// Publishes the spool's backlog if a broker is configured and this
    /// process can take the publisher lock; another process holding it
    /// publishes until the outbox is empty, ours included.
    pub fn publish_backlog(&mut self) {
        self.publish(None);
    }

    /// As [`Outbox::publish_backlog`]; `fresh` is the batch just spooled
    /// (its lines and last sequence number), sent from memory instead of
    /// being read back when nothing older is waiting.
    fn publish(&mut self, fresh: Option<(&[String], i64)>) {
        if self.settings.broker.is_none() || self.spool.is_none() {
            return;
        }
        if let Some((_, retry_at)) = &self.broker_down
            && Instant::now() < *retry_at
        {
            return;
        }
        let timeout = self
            .settings
            .broker
            .as_ref()
            .map_or(Duration::from_secs(5), |b| b.timeout);
        let Some(_lock) = self.publisher_lock(timeout) else {
            return;
        };
        let result = self.drain_spool(fresh);
        self.after_attempt(result);
    }

    fn drain_spool(&mut self, fresh: Option<(&[String], i64)>) -> Result<(), Error> {
        let spool = self.spool.as_mut().expect("checked by the caller");
        if let Some((lines, last)) = fresh {
            let first = last - lines.len() as i64 + 1;
            if spool.cursor(FORWARD)? == first - 1 {
                let broker = connect(&mut self.broker, self.settings)?;
                let sent = broker.publish(lines.iter().map(String::as_str))?;
                spool.advance(FORWARD, last)?;
                self.published += sent as u64;
            }
        }
        loop {
            let cursor = spool.cursor(FORWARD)?;
            let entries = spool.after(cursor, PUBLISH_BATCH)?;
            let Some(last) = entries.last().map(|e| e.seq) else {
                return Ok(());
            };
            let broker = connect(&mut self.broker, self.settings)?;
            let sent = broker.publish(entries.iter().map(|e| e.line.as_str()))?;
            // Published before the cursor moved: a crash in between sends
            // these again, and every sink deduplicates on `id`.
            spool.advance(FORWARD, last)?;
            self.published += sent as u64;
        }
    }

    fn publish_directly(&mut self, lines: &[String]) {
        let result = if self.settings.broker.is_some() {
            connect(&mut self.broker, self.settings)
                .and_then(|broker| broker.publish(lines.iter().map(String::as_str)))
                .map(|sent| self.published += sent as u64)
        } else {
            Err(Error::io("no spool and no broker"))
        };
        if result.is_err() {
            self.write_to_stderr(lines);
        }
        self.after_attempt(result);
    }

    fn after_attempt(&mut self, result: Result<(), Error>) {
        match result {
            Ok(()) => {
                if self.broker_down.take().is_some() && !self.settings.quiet {
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
                if !self.announced_down && !self.settings.quiet {
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
        self.settings
            .broker
            .as_ref()
            .map(|b| crate::config::redact_url(&b.url))
            .unwrap_or_default()
    }

    /// The publisher lock, waiting at most `timeout` for another sd-bark
    /// to finish publishing.
    fn publisher_lock(&self, timeout: Duration) -> Option<File> {
        let path = lock_path(&self.settings.spool);
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

    /// The exit status this run deserves, after a last attempt to publish.
    pub fn finish(mut self) -> Exit {
        if self.broker_down.is_some() {
            // One last try, now: a short outage should not cost a cron run.
            self.broker_down = None;
            self.publish_backlog();
        }
        if self.lost_to_stderr > 0 {
            return Exit::IoErr;
        }
        if let Some((err, _)) = &self.broker_down {
            let waiting = self
                .spool
                .as_ref()
                .and_then(|s| s.backlog(FORWARD).ok())
                .unwrap_or(0);
            if !self.settings.quiet {
                // The cause was said when it happened; say it once.
                let cause = if self.announced_down {
                    String::new()
                } else {
                    format!("{err}: ")
                };
                cli::note(format!(
                    "{cause}{waiting} event(s) wait in the spool {}; they go out the next time \
                     sd-bark runs (or run `sd-bark --flush`)",
                    self.settings.spool.display()
                ));
            }
            // A setting that is wrong (a key file that cannot be read) is
            // the admin's to fix, not an outage to wait out.
            return if err.exit == Exit::Usage {
                Exit::Usage
            } else {
                Exit::Unavailable
            };
        }
        if self.local_failure {
            Exit::IoErr
        } else {
            Exit::Ok
        }
    }

    pub fn published(&self) -> u64 {
        self.published
    }
}

fn connect<'b>(slot: &'b mut Option<Broker>, settings: &Settings) -> Result<&'b mut Broker, Error> {
    if slot.is_none() {
        let broker_settings = settings.broker.as_ref().expect("a broker is configured");
        let mut broker = Broker::connect(broker_settings, &settings.stream)?;
        if let Some(path) = &broker_settings.key_file {
            broker.sign_with(crate::signing::Key::from_file(path)?);
        }
        *slot = Some(broker);
    }
    Ok(slot.as_mut().expect("just connected"))
}

fn lock_path(spool: &std::path::Path) -> PathBuf {
    let mut name = spool.as_os_str().to_owned();
    name.push(".publish.lock");
    PathBuf::from(name)
}
