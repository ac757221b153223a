//! Where sd-recv gets events: the log, through a consumer group (or
//! followed without one). A log that goes away is waited for
//! ([`Reconnecting`]): the source carries on from where it was.

use crate::base::cli;
use crate::base::error::Result;
use crate::config::Settings;
use crate::event::Event;
use crate::event::signing::Keyring;
use crate::event::skim::skim;
use crate::log::groups::IdleWatch;
use crate::log::{Aside, Entry, Group, Patience, Reconnecting};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

/// One event handed out, with what is needed to acknowledge it.
#[derive(Clone, Debug)]
pub struct Delivery {
    /// The stream entry ID (or spool sequence number).
    pub entry: String,
    /// The event's `id`.
    pub id: String,
    /// The event as one line, with `id` and `time` derived from the entry
    /// when the producer left them out.
    pub line: String,
    pub deliveries: u64,
}

/// An entry that is not an event (it goes to the dead letters), or one
/// whose signature check failed (to `sheepdog:rejected`).
#[derive(Clone, Debug)]
pub struct BadEntry {
    pub entry: String,
    pub raw: String,
    pub why: String,
    pub rejected: bool,
}

pub enum Received {
    Event(Delivery),
    Bad(BadEntry),
}

/// Moves a bad entry out of the way — to the dead letters, or to
/// `sheepdog:rejected` when its signature check failed — and says so.
pub fn set_aside(source: &mut dyn Source, bad: &BadEntry) -> Result<()> {
    if bad.rejected {
        cli::note(format!(
            "entry {}: {} (moved to sheepdog:rejected)",
            bad.entry, bad.why
        ));
        source.reject(&bad.entry, &bad.raw, &bad.why)
    } else {
        cli::note(format!(
            "entry {}: {} (moved to the dead letters)",
            bad.entry, bad.why
        ));
        source.dead_letter(&bad.entry, &bad.raw, &bad.why)
    }
}

pub trait Source {
    /// Up to `count` events, waiting at most `block` when there are none.
    fn receive(&mut self, count: usize, block: Duration) -> Result<Vec<Received>>;
    fn ack(&mut self, entries: &[String]) -> Result<()>;
    fn dead_letter(&mut self, entry: &str, raw: &str, reason: &str) -> Result<()>;
    /// Sets aside an event that failed its signature check.
    fn reject(&mut self, entry: &str, raw: &str, reason: &str) -> Result<()> {
        self.dead_letter(entry, raw, reason)
    }
    /// Trimming and lag warnings, now and then.
    fn housekeeping(&mut self) {}
    /// Trimming once more before exiting, whenever it last ran.
    fn finish(&mut self) {}
    /// Whether events are acknowledged (a group) or just followed.
    fn acknowledges(&self) -> bool;
}

/// A source that counts what it sets aside, for `--once` to say, and
/// bounds it: a dead letter keeps the reason and the first
/// [`KEPT_BYTES`] of the event, not a 100 MB value once per group.
pub struct Counted<'s> {
    inner: &'s mut dyn Source,
    pub dead_letters: u64,
    pub rejected: u64,
}

impl<'s> Counted<'s> {
    pub fn new(inner: &'s mut dyn Source) -> Counted<'s> {
        Counted {
            inner,
            dead_letters: 0,
            rejected: 0,
        }
    }
}

impl Source for Counted<'_> {
    fn receive(&mut self, count: usize, block: Duration) -> Result<Vec<Received>> {
        self.inner.receive(count, block)
    }
    fn ack(&mut self, entries: &[String]) -> Result<()> {
        self.inner.ack(entries)
    }
    fn dead_letter(&mut self, entry: &str, raw: &str, reason: &str) -> Result<()> {
        let (raw, reason) = bounded(entry, raw, reason);
        self.inner.dead_letter(entry, raw, &reason)?;
        self.dead_letters += 1;
        Ok(())
    }
    fn reject(&mut self, entry: &str, raw: &str, reason: &str) -> Result<()> {
        let (raw, reason) = bounded(entry, raw, reason);
        self.inner.reject(entry, raw, &reason)?;
        self.rejected += 1;
        Ok(())
    }
    fn housekeeping(&mut self) {
        self.inner.housekeeping()
    }
    fn finish(&mut self) {
        self.inner.finish()
    }
    fn acknowledges(&self) -> bool {
        self.inner.acknowledges()
    }
}

/// What a dead letter keeps of an event.
pub const KEPT_BYTES: usize = 1024;

/// The start of `raw` and a reason that says where the rest is.
fn bounded<'r>(entry: &str, raw: &'r str, reason: &str) -> (&'r str, String) {
    if raw.len() <= KEPT_BYTES {
        return (raw, reason.to_string());
    }
    let kept = crate::base::size::prefix(raw, KEPT_BYTES);
    let reason = format!(
        "{reason} (the first {} of its {} bytes are kept here; the whole event stays entry {entry} of the stream until it is trimmed)",
        kept.len(),
        raw.len()
    );
    (kept, reason)
}

/// Turns an entry's text into a delivery, deriving `id` (`redis-<entry>`)
/// and `time` (the entry's milliseconds) when they are missing, so a
/// redelivery carries the same id.
pub fn derive(
    entry: &str,
    prefix: &str,
    raw: &str,
    ms: impl FnOnce() -> Option<i64>,
    max: usize,
) -> std::result::Result<Derived, String> {
    if let Some(event) = skim(raw.as_bytes(), max) {
        // It has `v`, `id` and `time` already: delivered as it is.
        return Ok(Derived {
            line: (event.line.len() != raw.len()).then(|| event.line.to_string()),
            id: event.id.into_owned(),
            host: event.host.unwrap_or_default().into_owned(),
        });
    }
    let mut event = Event::parse(raw.as_bytes(), max).map_err(|r| r.0)?;
    event.fill_front(
        || format!("{prefix}-{entry}"),
        || ms().unwrap_or_else(crate::base::time::now_ms),
        None,
    );
    Ok(Derived {
        id: event.id().unwrap_or_default().to_string(),
        host: event.host().unwrap_or_default().to_string(),
        line: Some(event.to_line()),
    })
}

/// An entry made a delivery: its line, id and the host it claims.
pub struct Derived {
    /// `None`: the entry's text is the line, as it is.
    pub line: Option<String>,
    pub id: String,
    pub host: String,
}

/// How a source reads.
pub struct Reading {
    /// The group and consumer; `None` follows without one.
    pub group: Option<(String, String)>,
    /// A new group starts with what arrives from now on.
    pub from_now: bool,
    /// Entries another consumer left pending this long are taken over.
    pub claim_idle: Duration,
    /// The first claim takes over everything other consumers left pending,
    /// however recent: a lease says they are gone (`--lease`), and what
    /// they left is older than anything new, so it goes first.
    pub take_over: bool,
    pub max_event: usize,
    /// Warn about another group idle this long that holds events back.
    pub idle_warning: Duration,
    pub quiet: bool,
}

/// The log as a source.
pub struct LogSource {
    reader: Reconnecting,
    /// The group and consumer; `None` follows the log without one.
    group: Option<(String, String)>,
    claim_idle: Duration,
    take_over: bool,
    /// Until the consumer has taken back all it was given before it was
    /// started again: the last of them taken back ("0": none yet).
    own_after: Option<String>,
    max_event: usize,
    /// Following without a group: the last entry seen.
    last_id: Option<String>,
    next_claim: Instant,
    next_housekeeping: Instant,
    warned_lag: bool,
    /// Checks signatures when set (`--keyring`).
    keyring: Option<Keyring>,
    idle_groups: IdleWatch,
}

/// Tries of `--once` at a log that fails it, before exiting 69.
const ONCE_TRIES: u32 = 3;

impl LogSource {
    /// Opens the events stream. A service (`wait_for_log`) waits for a log
    /// that is away, at the start and later; `--once` gives up after a
    /// few tries.
    pub fn open(
        settings: &Settings,
        reading: Reading,
        stop: Arc<AtomicBool>,
        wait_for_log: bool,
    ) -> Result<LogSource> {
        let group = reading.group.as_ref().map(|(name, consumer)| Group {
            name: name.clone(),
            consumer: consumer.clone(),
            from_now: reading.from_now,
        });
        let patience = if wait_for_log {
            Patience::Forever
        } else {
            Patience::Tries(ONCE_TRIES)
        };
        let reader = Reconnecting::open(
            &settings.log(),
            &settings.stream,
            group,
            patience,
            stop,
            settings.quiet,
        )?;
        Ok(LogSource {
            reader,
            idle_groups: IdleWatch::new(
                reading.idle_warning,
                reading.group.as_ref().map(|(g, _)| g.clone()),
                reading.quiet,
            ),
            own_after: reading.group.as_ref().map(|_| "0".to_string()),
            group: reading.group,
            claim_idle: reading.claim_idle,
            take_over: reading.take_over,
            max_event: reading.max_event,
            last_id: None,
            next_claim: Instant::now(),
            next_housekeeping: Instant::now(),
            warned_lag: false,
            keyring: None,
        })
    }

    /// Checks every signed entry (and, if the keyring says so, refuses
    /// unsigned ones).
    pub fn check_signatures(&mut self, keyring: Keyring) {
        self.keyring = Some(keyring);
    }

    /// Moves an entry out of the group's way with the reason, and
    /// acknowledges it.
    fn set_aside(&mut self, aside: Aside, entry: &str, raw: &str, reason: &str) -> Result<()> {
        let Some((group, _)) = self.group.clone() else {
            return Ok(());
        };
        let mut entry = Entry::new(entry.to_string(), 0);
        entry.text = Some(raw.to_string());
        self.reader
            .with(|log| log.set_aside(aside, &group, &entry, reason))
    }

    fn deliveries(&mut self, prefix: &str, entries: Vec<Entry>) -> Vec<Received> {
        entries
            .into_iter()
            .map(|mut entry| {
                // Taken, not copied: the event is the biggest part.
                let Some(raw) = entry.text.take() else {
                    return Received::Bad(BadEntry {
                        entry: entry.id,
                        raw: String::new(),
                        why: "the entry has no `event` field".into(),
                        rejected: false,
                    });
                };
                // The entry's milliseconds, for an event without a time.
                match derive(&entry.id, prefix, &raw, || entry.time_ms(), self.max_event) {
                    Ok(derived) => {
                        // The signature covers the text as published.
                        let check = match &mut self.keyring {
                            Some(keyring) => {
                                keyring.check(&derived.host, &raw, entry.sig.as_deref())
                            }
                            None => Ok(()),
                        };
                        match check {
                            Ok(()) => Received::Event(Delivery {
                                entry: entry.id,
                                id: derived.id,
                                line: derived.line.unwrap_or(raw),
                                deliveries: entry.deliveries,
                            }),
                            Err(why) => Received::Bad(BadEntry {
                                entry: entry.id,
                                raw,
                                why,
                                rejected: true,
                            }),
                        }
                    }
                    Err(why) => Received::Bad(BadEntry {
                        entry: entry.id,
                        raw,
                        why,
                        rejected: false,
                    }),
                }
            })
            .collect()
    }
}

impl Source for LogSource {
    fn receive(&mut self, count: usize, block: Duration) -> Result<Vec<Received>> {
        let (prefix, entries) = match self.group.clone() {
            Some((group, consumer)) => {
                // Started again under its name, the consumer first takes
                // back what it was given and never acknowledged, at once
                // rather than after --claim-idle: nothing of it is in
                // flight in this run.
                if let Some(after) = self.own_after.clone() {
                    let own = self
                        .reader
                        .with(|log| log.read_own_pending(&group, &consumer, &after, count))?;
                    match own.last() {
                        Some(last) => self.own_after = Some(last.id.clone()),
                        None => self.own_after = None,
                    }
                    if !own.is_empty() {
                        let prefix = self.reader.with(|log| Ok(log.entry_prefix()))?;
                        return Ok(self.deliveries(prefix, own));
                    }
                }
                let mut claimed = Vec::new();
                if Instant::now() >= self.next_claim {
                    // Nothing of this consumer's own is in flight yet at
                    // the first claim: taking everything over is safe then.
                    let idle = if std::mem::take(&mut self.take_over) {
                        Duration::ZERO
                    } else {
                        self.claim_idle
                    };
                    claimed = self
                        .reader
                        .with(|log| log.claim_idle(&group, &consumer, idle, count))?;
                    self.next_claim = Instant::now() + (idle / 4).max(Duration::from_millis(250));
                }
                self.reader.with(|log| {
                    let entries = match claimed.is_empty() {
                        true => log.read_group(&group, &consumer, count, block)?,
                        false => std::mem::take(&mut claimed),
                    };
                    Ok((log.entry_prefix(), entries))
                })?
            }
            None => {
                let last_id = &mut self.last_id;
                let read = self.reader.with(|log| {
                    // Following is `tail -f`: from what arrives next.
                    let last = match last_id {
                        Some(last) => last.clone(),
                        None => last_id.insert(log.last_id()?).clone(),
                    };
                    Ok((log.entry_prefix(), log.read_after(&last, count, block)?))
                })?;
                if let Some(last) = read.1.last() {
                    self.last_id = Some(last.id.clone());
                }
                read
            }
        };
        Ok(self.deliveries(prefix, entries))
    }

    fn ack(&mut self, entries: &[String]) -> Result<()> {
        let Some((group, _)) = self.group.clone() else {
            return Ok(());
        };
        self.reader.with(|log| log.ack(&group, entries))
    }

    fn dead_letter(&mut self, entry: &str, raw: &str, reason: &str) -> Result<()> {
        self.set_aside(Aside::Dead, entry, raw, reason)
    }

    fn reject(&mut self, entry: &str, raw: &str, reason: &str) -> Result<()> {
        self.set_aside(Aside::Rejected, entry, raw, reason)
    }

    fn housekeeping(&mut self) {
        if self.group.is_none() || Instant::now() < self.next_housekeeping {
            return;
        }
        self.next_housekeeping = Instant::now() + Duration::from_secs(1);
        let Some(log) = self.reader.connected() else {
            return;
        };
        if self.idle_groups.due() {
            match log.groups() {
                Ok(groups) => self.idle_groups.look(&groups),
                // A receiver whose ACL does not let it look (sheepdog(7))
                // works all the same, without the warning.
                Err(e) if !crate::log::is_outage(&e) => self.idle_groups.give_up(&format!(
                    "cannot look at the groups ({e}); idle groups are not watched \
                     (grant +xinfo|consumers, sheepdog(7))"
                )),
                Err(_) => {
                    self.reader.lose();
                    return;
                }
            }
        }
        let cap = log.capacity();
        match log.trim() {
            Ok(states) => {
                let Some(cap) = cap else { return };
                let warn_at = cap * 8 / 10;
                for state in states {
                    let behind = state.lag.unwrap_or(0) + state.pending;
                    if behind >= warn_at && !self.warned_lag {
                        cli::warn(format!(
                            "group {} is {behind} events behind; the stream keeps only about {cap} \
                             (XADD MAXLEN ~, [broker] max_len), so events it has not read will be trimmed \
                             unless it catches up (add consumers: another `sd-recv --group {}`)",
                            state.name, state.name
                        ));
                        self.warned_lag = true;
                    }
                }
            }
            // The next receive reconnects and says so.
            Err(_) => self.reader.lose(),
        }
    }

    fn finish(&mut self) {
        self.next_housekeeping = Instant::now();
        self.housekeeping();
    }

    fn acknowledges(&self) -> bool {
        self.group.is_some()
    }
}
