//! Where sd-recv gets events: a Redis stream through a consumer group (or
//! followed without one), or the local spool with the same semantics.
//! A broker that goes away is waited for: the source reconnects with
//! backoff, says so on stderr, and carries on from where it was.

use crate::base::backoff::Backoff;
use crate::base::cli;
use crate::base::error::{Error, Result};
use crate::base::exit::Exit;
use crate::config::{BrokerSettings, redact_url};
use crate::event::Event;
use crate::event::signing::Keyring;
use crate::event::skim::skim;
use crate::log::groups::IdleWatch;
use crate::log::redis::{Broker, Entry};
use crate::log::spool::Spool;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
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

/// How a source reads, whichever it is.
pub struct Reading {
    /// The group and consumer; `None` follows without one.
    pub group: Option<(String, String)>,
    /// A new group starts with what arrives from now on.
    pub from_now: bool,
    /// Entries another consumer left pending this long are taken over.
    pub claim_idle: Duration,
    pub max_event: usize,
    /// Warn about another group idle this long that holds events back.
    pub idle_warning: Duration,
    pub quiet: bool,
}

pub struct RedisSource {
    settings: BrokerSettings,
    stream: String,
    /// The group and consumer; `None` follows the stream without one.
    group: Option<(String, String)>,
    from_now: bool,
    claim_idle: Duration,
    max_event: usize,
    broker: Option<Broker>,
    /// Following without a group: the last entry seen.
    last_id: Option<String>,
    next_claim: Instant,
    next_housekeeping: Instant,
    warned_lag: bool,
    quiet: bool,
    /// Checks signatures when set (`--keyring`).
    keyring: Option<Keyring>,
    /// Set on SIGTERM/SIGINT: no more waiting for a broker that is away.
    stop: Arc<AtomicBool>,
    /// A service waits for its broker; `--once` gives up after a few tries.
    waits: bool,
    idle_groups: IdleWatch,
}

/// Tries of `--once` at a broker that fails it, before exiting 69.
const ONCE_TRIES: u32 = 3;

impl RedisSource {
    pub fn new(
        settings: BrokerSettings,
        stream: String,
        reading: Reading,
        quiet: bool,
        stop: Arc<AtomicBool>,
        wait_for_broker: bool,
    ) -> Result<RedisSource> {
        let mut source = RedisSource {
            settings,
            stream,
            group: reading.group.clone(),
            from_now: reading.from_now,
            claim_idle: reading.claim_idle,
            max_event: reading.max_event,
            broker: None,
            last_id: None,
            next_claim: Instant::now(),
            next_housekeeping: Instant::now(),
            warned_lag: false,
            quiet,
            keyring: None,
            stop,
            waits: wait_for_broker,
            idle_groups: IdleWatch::new(
                reading.idle_warning,
                reading.group.as_ref().map(|(g, _)| g.clone()),
                reading.quiet,
            ),
        };
        // A wrong password is an error to report, not an outage to wait
        // out; a broker that is away is waited for by a service (not by
        // --once, which a script runs to drain what is there).
        match source.connect() {
            Ok(_) => Ok(source),
            Err(e) if e.exit == Exit::Unavailable && wait_for_broker => {
                source.wait_for_broker(e)?;
                Ok(source)
            }
            Err(e) => Err(e),
        }
    }

    /// Waits, with backoff, until the broker answers (or sd-recv is told
    /// to stop): one message when waiting starts, one when it connects.
    fn wait_for_broker(&mut self, first: Error) -> Result<()> {
        if !self.quiet {
            cli::note(format!("{first}; waiting for it (retrying with backoff)"));
        }
        let mut backoff = Backoff::new(Duration::from_millis(250), Duration::from_secs(5));
        loop {
            let until = Instant::now() + backoff.next_wait();
            while Instant::now() < until {
                if self.stop.load(Ordering::SeqCst) {
                    return Err(Error::quiet(Exit::Ok));
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            match self.connect() {
                Ok(_) => {
                    if !self.quiet {
                        cli::note(format!("connected to {}", self.shown()));
                    }
                    return Ok(());
                }
                Err(e) if e.exit == Exit::Unavailable => {}
                Err(e) => return Err(e),
            }
        }
    }

    fn shown(&self) -> String {
        redact_url(&self.settings.url)
    }

    fn connect(&mut self) -> Result<&mut Broker> {
        if self.broker.is_none() {
            let mut broker = Broker::connect(&self.settings, &self.stream)?;
            match &self.group {
                Some((group, _)) => broker.ensure_group(group, self.from_now)?,
                None if self.last_id.is_none() => {
                    let last = broker.last_id().map_err(|e| broker.error("reading", &e))?;
                    // Following is `tail -f`: from what arrives next.
                    self.last_id = Some(last);
                }
                None => {}
            }
            self.broker = Some(broker);
        }
        Ok(self.broker.as_mut().expect("just connected"))
    }

    /// Runs `op` on a connection, reconnecting with backoff for as long as
    /// the broker is away.
    fn with_broker<T>(
        &mut self,
        mut op: impl FnMut(&mut Broker, &RedisSource) -> std::result::Result<T, redis::RedisError>,
    ) -> Result<T> {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
        let mut announced = false;
        let mut stopping_tries = 0;
        let mut failures = 0;
        loop {
            let attempt = match self.connect() {
                Ok(_) => {
                    let mut broker = self.broker.take().expect("connected");
                    let result = op(&mut broker, self);
                    self.broker = Some(broker);
                    match result {
                        Ok(value) => Ok(value),
                        Err(e) if e.code() == Some("NOGROUP") => {
                            // Redis lost the group (restarted without
                            // persistence): create it again.
                            self.broker = None;
                            Err(format!(
                                "the consumer group is gone ({}); creating it again",
                                crate::log::redis::describe(&e)
                            ))
                        }
                        Err(e) if crate::log::redis::is_refusal(&e) => {
                            // Credentials or an ACL: no outage to wait out.
                            return Err(crate::log::redis::unavailable(
                                &self.shown(),
                                "reading from",
                                &e,
                            ));
                        }
                        Err(e) => {
                            self.broker = None;
                            Err(crate::log::redis::describe(&e))
                        }
                    }
                }
                Err(e) if e.exit == Exit::Usage => return Err(e),
                Err(e) => Err(e.message),
            };
            match attempt {
                Ok(value) => {
                    if announced && !self.quiet {
                        cli::note(format!("reconnected to {}", self.shown()));
                    }
                    return Ok(value);
                }
                Err(why) if self.stop.load(Ordering::SeqCst) => {
                    // Stopping: a read cut short by the signal is no
                    // outage; try a few times quietly (to acknowledge what
                    // is done), then leave it to the next run.
                    stopping_tries += 1;
                    if stopping_tries > 3 {
                        return Err(Error::new(
                            Exit::Unavailable,
                            format!(
                                "stopping without reaching {} ({why}); what was not acknowledged is delivered again",
                                self.shown()
                            ),
                        ));
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(why) if !self.waits && failures + 1 >= ONCE_TRIES => {
                    // A script draining with --once is told, not kept
                    // waiting on a broker that answers nonsense.
                    return Err(Error::new(
                        Exit::Unavailable,
                        format!(
                            "{} failed {ONCE_TRIES} times ({why}); giving up (--once), what was not acknowledged is delivered again",
                            self.shown()
                        ),
                    ));
                }
                Err(why) => {
                    failures += 1;
                    if !announced {
                        cli::note(format!("lost {}: {why}; reconnecting", self.shown()));
                        announced = true;
                    }
                    backoff.sleep();
                }
            }
        }
    }

    /// Moves an entry to `to` with the reason, and acknowledges it.
    fn set_aside(&mut self, to: &str, entry: &str, raw: &str, reason: &str) -> Result<()> {
        let Some((group, _)) = self.group.clone() else {
            return Ok(());
        };
        let entry = Entry {
            id: entry.to_string(),
            event: Some(raw.to_string()),
            sig: None,
            key: None,
            deliveries: 0,
        };
        self.with_broker(|b, _| b.set_aside(to, &group, &entry, reason))
    }

    /// Checks every signed entry (and, if the keyring says so, refuses
    /// unsigned ones).
    pub fn check_signatures(&mut self, keyring: Keyring) {
        self.keyring = Some(keyring);
    }

    fn deliveries(&mut self, entries: Vec<Entry>) -> Vec<Received> {
        entries
            .into_iter()
            .map(|entry| {
                let Some(raw) = entry.event else {
                    return Received::Bad(BadEntry {
                        entry: entry.id,
                        raw: String::new(),
                        why: "the entry has no `event` field".into(),
                        rejected: false,
                    });
                };
                // The entry's milliseconds, for an event without a time.
                let ms = || crate::log::redis::parse_id(&entry.id).map(|(ms, _)| ms as i64);
                match derive(&entry.id, "redis", &raw, ms, self.max_event) {
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

impl Source for RedisSource {
    fn receive(&mut self, count: usize, block: Duration) -> Result<Vec<Received>> {
        let entries = match self.group.clone() {
            Some((group, consumer)) => {
                let mut claimed = Vec::new();
                if Instant::now() >= self.next_claim {
                    let idle = self.claim_idle;
                    claimed =
                        self.with_broker(|b, _| b.claim_idle(&group, &consumer, idle, count))?;
                    self.next_claim = Instant::now() + (idle / 4).max(Duration::from_millis(250));
                }
                if claimed.is_empty() {
                    self.with_broker(|b, _| b.read_group(&group, &consumer, count, block))?
                } else {
                    claimed
                }
            }
            None => {
                let entries = self.with_broker(|b, source| {
                    let last = source.last_id.clone().unwrap_or_else(|| "$".into());
                    b.read_after(&last, count, block)
                })?;
                if let Some(last) = entries.last() {
                    self.last_id = Some(last.id.clone());
                }
                entries
            }
        };
        Ok(self.deliveries(entries))
    }

    fn ack(&mut self, entries: &[String]) -> Result<()> {
        let Some((group, _)) = self.group.clone() else {
            return Ok(());
        };
        self.with_broker(|b, _| b.ack(&group, entries))
    }

    fn dead_letter(&mut self, entry: &str, raw: &str, reason: &str) -> Result<()> {
        self.set_aside(crate::log::redis::DEAD_STREAM, entry, raw, reason)
    }

    fn reject(&mut self, entry: &str, raw: &str, reason: &str) -> Result<()> {
        self.set_aside(crate::log::redis::REJECTED_STREAM, entry, raw, reason)
    }

    fn housekeeping(&mut self) {
        if self.group.is_none() || Instant::now() < self.next_housekeeping {
            return;
        }
        self.next_housekeeping = Instant::now() + Duration::from_secs(1);
        let Some(broker) = self.broker.as_mut() else {
            return;
        };
        if self.idle_groups.due() {
            match broker.groups() {
                Ok(groups) => self.idle_groups.look(&groups),
                // A receiver whose ACL does not let it look (sheepdog(7))
                // works all the same, without the warning.
                Err(e) if e.code() == Some("NOPERM") => self.idle_groups.give_up(&format!(
                    "cannot look at the groups ({}); idle groups are not watched \
                     (grant +xinfo|consumers, sheepdog(7))",
                    crate::log::redis::describe(&e)
                )),
                Err(_) => {
                    self.broker = None;
                    return;
                }
            }
        }
        let cap = broker.max_len;
        match broker.trim() {
            Ok(states) => {
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
            Err(_) => self.broker = None,
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

/// The local spool as a source (no broker configured).
pub struct SpoolSource {
    spool: Spool,
    group: Option<(String, String)>,
    claim_idle: Duration,
    max_event: usize,
    last_seq: i64,
    idle_groups: IdleWatch,
}

impl SpoolSource {
    pub fn new(mut spool: Spool, reading: Reading) -> Result<SpoolSource> {
        let last_seq = spool.last_seq()?;
        if let Some((group, _)) = &reading.group {
            spool.create_group(group, reading.from_now)?;
        }
        Ok(SpoolSource {
            spool,
            idle_groups: IdleWatch::new(
                reading.idle_warning,
                reading.group.as_ref().map(|(g, _)| g.clone()),
                reading.quiet,
            ),
            group: reading.group,
            claim_idle: reading.claim_idle,
            max_event: reading.max_event,
            last_seq,
        })
    }
}

impl Source for SpoolSource {
    fn receive(&mut self, count: usize, block: Duration) -> Result<Vec<Received>> {
        let deadline = Instant::now() + block;
        loop {
            let entries = match &self.group {
                Some((group, consumer)) => {
                    self.spool
                        .read_group(group, consumer, count, self.claim_idle)?
                }
                None => self.spool.after(self.last_seq, count)?,
            };
            if let Some(last) = entries.last() {
                self.last_seq = self.last_seq.max(last.seq);
            }
            if !entries.is_empty() || Instant::now() >= deadline {
                return Ok(entries
                    .into_iter()
                    .map(|e| {
                        let entry = e.seq.to_string();
                        match derive(
                            &entry,
                            "spool",
                            &e.line,
                            || Some(e.added_ms),
                            self.max_event,
                        ) {
                            Ok(derived) => Received::Event(Delivery {
                                entry,
                                id: derived.id,
                                line: derived.line.unwrap_or(e.line),
                                deliveries: e.deliveries,
                            }),
                            Err(why) => Received::Bad(BadEntry {
                                entry,
                                raw: e.line,
                                why,
                                rejected: false,
                            }),
                        }
                    })
                    .collect());
            }
            std::thread::sleep(
                Duration::from_millis(20).min(deadline.saturating_duration_since(Instant::now())),
            );
        }
    }

    fn ack(&mut self, entries: &[String]) -> Result<()> {
        let Some((group, _)) = &self.group else {
            return Ok(());
        };
        let seqs: Vec<i64> = entries.iter().filter_map(|e| e.parse().ok()).collect();
        self.spool.ack(group, &seqs)
    }

    fn dead_letter(&mut self, entry: &str, raw: &str, reason: &str) -> Result<()> {
        let Some((group, _)) = &self.group else {
            return Ok(());
        };
        let seq = entry.parse().unwrap_or(0);
        self.spool.dead_letter(group, seq, raw, reason)
    }

    fn housekeeping(&mut self) {
        if self.idle_groups.due()
            && let Ok(groups) = self.spool.groups()
        {
            self.idle_groups.look(&groups);
        }
    }

    fn acknowledges(&self) -> bool {
        self.group.is_some()
    }
}
