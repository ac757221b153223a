//! The log: where events and orders travel (docs/ARCHITECTURE.md §2).
//!
//! Every command that appends to it or reads from it — sd-bark's outbox,
//! sd-recv, sd-obey, sd-order — speaks the one contract of [`Log`]:
//! append, read as a group (new and pending), claim what a dead consumer
//! left, acknowledge, set aside, follow without a group, list, retire and
//! trim groups. Two engines keep it: Redis Streams ([`redis`]) between
//! machines, and the SQLite spool ([`spool`]) on one. [`open`] picks the
//! engine from the broker setting; nothing outside this module names
//! either, and their errors leave it as the crate's [`Error`], with
//! context: an outage is exit 69 ([`Exit::Unavailable`]), a refused
//! password or ACL exit 2 ([`Exit::Usage`]).
//!
//! A reader that runs for long reads through [`Reconnecting`], the one
//! place that waits out an engine that went away.

pub mod broker;
pub mod groups;
pub mod lease;
pub mod nats;
pub mod orders;
pub mod outbox;
mod reconnect;
pub mod redis;
pub mod spool;

pub use broker::BrokerSettings;
pub use groups::GroupInfo;
pub use reconnect::{Patience, Reconnecting};

use crate::base::error::{Error, Result};
use crate::base::exit::Exit;
use orders::Signed;
use std::path::PathBuf;
use std::time::Duration;

/// One entry of the log as read: its id, the text it carries (an event,
/// or an order), and the signature that came with it.
#[derive(Clone, Debug)]
pub struct Entry {
    /// The entry's id in its log (a stream entry id, a spool sequence
    /// number): what acknowledging names.
    pub id: String,
    /// The event's (or order's) text, when the entry has one and it is text.
    pub text: Option<String>,
    /// The signature of a signed event or an order.
    pub sig: Option<String>,
    /// The id of the key that signed an order.
    pub key: Option<String>,
    /// Times delivered to the group, this time included (1 when unknown).
    pub deliveries: u64,
    /// When the entry was appended, in milliseconds since the epoch, when
    /// the engine says so apart from its id.
    pub added_ms: Option<i64>,
}

impl Entry {
    /// An entry with nothing in it yet.
    pub fn new(id: String, deliveries: u64) -> Entry {
        Entry {
            id,
            text: None,
            sig: None,
            key: None,
            deliveries,
            added_ms: None,
        }
    }

    /// When it was appended: what an event without a time is given.
    pub fn time_ms(&self) -> Option<i64> {
        self.added_ms
            .or_else(|| redis::parse_id(&self.id).map(|(ms, _)| ms as i64))
    }
}

/// Where events no handler finished with end up, with the reason.
pub const DEAD_STREAM: &str = "sheepdog:dead";
/// Where events that failed their signature check end up, with the reason.
pub const REJECTED_STREAM: &str = "sheepdog:rejected";

/// Whether a broker URL is one sheepdog can use: a known scheme, a port,
/// a database number. Empty means no broker. A URL that is wrong is a
/// usage error (exit 2), never "the broker is unavailable" (exit 69).
pub fn check_broker_url(text: &str) -> std::result::Result<(), String> {
    if text.trim().is_empty() {
        Ok(())
    } else if broker::is_nats(text) {
        nats::check_url(text)
    } else {
        redis::check_url(text)
    }
}

/// Where an entry no reader can take is set aside, with the reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Aside {
    /// No handler finished with it (or it is not an event at all).
    Dead,
    /// It failed its signature check.
    Rejected,
}

impl Aside {
    /// Its name, as the admin looks for it (`sheepdog:dead`).
    pub fn name(self) -> &'static str {
        match self {
            Aside::Dead => DEAD_STREAM,
            Aside::Rejected => REJECTED_STREAM,
        }
    }
}

/// How far a group is behind, as trimming found it.
#[derive(Clone, Debug)]
pub struct GroupState {
    pub name: String,
    pub pending: u64,
    pub lag: Option<u64>,
}

/// What a long-running reader asks of a group when it (re)connects.
#[derive(Clone, Debug)]
pub struct Group {
    pub name: String,
    pub consumer: String,
    /// A group that does not exist yet starts with what arrives from now
    /// on, not with everything the log still holds.
    pub from_now: bool,
}

/// The contract every engine keeps.
pub trait Log {
    /// Where it is, for messages: a URL without its password, a path.
    fn shown(&self) -> String;

    /// What an event that came without an id is named after, with its
    /// entry's id (`redis-1700000000000-0`), so a redelivery has the same.
    fn entry_prefix(&self) -> &'static str;

    /// Signs every event appended from now on.
    fn sign_with(&mut self, key: crate::event::signing::Key);

    /// Appends events in order; how many went in. Appended means kept: an
    /// error means none of them is known to be.
    fn append(&mut self, lines: &mut dyn Iterator<Item = &str>) -> Result<usize>;

    /// Appends a signed order where `host` reads its orders.
    fn append_order(&mut self, host: &str, signed: &Signed) -> Result<()>;

    /// Creates the group if it does not exist: from the start of the log,
    /// or only for what arrives from now on.
    fn ensure_group(&mut self, group: &str, from_now: bool) -> Result<()>;

    /// New entries for `consumer` of `group`, waiting at most `block`
    /// when there are none (zero: not at all).
    fn read_group(
        &mut self,
        group: &str,
        consumer: &str,
        count: usize,
        block: Duration,
    ) -> Result<Vec<Entry>>;

    /// What `consumer` of `group` was given before and has not
    /// acknowledged, from the entry after `after` on ("0": from the
    /// first), each counted as one more delivery: a restarted consumer
    /// picks up where it died, page by page.
    fn read_own_pending(
        &mut self,
        group: &str,
        consumer: &str,
        after: &str,
        count: usize,
    ) -> Result<Vec<Entry>>;

    /// Takes over entries other consumers of `group` left pending for at
    /// least `idle` (a consumer that died), with their delivery counts.
    fn claim_idle(
        &mut self,
        group: &str,
        consumer: &str,
        idle: Duration,
        count: usize,
    ) -> Result<Vec<Entry>>;

    fn ack(&mut self, group: &str, ids: &[String]) -> Result<()>;

    /// Moves an entry out of the group's way, with the reason, and
    /// acknowledges it. Cut off between the two, it is set aside again at
    /// its next delivery: twice, never lost.
    fn set_aside(&mut self, aside: Aside, group: &str, entry: &Entry, reason: &str) -> Result<()>;

    /// The id after which following starts "from now".
    fn last_id(&mut self) -> Result<String>;

    /// Entries after `last` (an id [`Log::last_id`] or this gave),
    /// without a group, waiting at most `block`.
    fn read_after(&mut self, last: &str, count: usize, block: Duration) -> Result<Vec<Entry>>;

    /// Every group: consumers, pending, lag, and how long since any of its
    /// consumers last read.
    fn groups(&mut self) -> Result<Vec<GroupInfo>>;

    /// Destroys a group, so it holds nothing back any more; false when
    /// there was no such group.
    fn retire_group(&mut self, group: &str) -> Result<bool>;

    /// Deletes what every group is done with, never below what one still
    /// needs, and says how far each group is behind.
    fn trim(&mut self) -> Result<Vec<GroupState>>;

    /// About how many entries the log keeps before it drops the oldest
    /// whoever still needs them (`[broker] max_len`); `None`: no cap.
    fn capacity(&self) -> Option<u64>;
}

/// Where the log is: what opening it needs of the settings.
#[derive(Clone, Debug)]
pub struct Place {
    broker: Option<BrokerSettings>,
    /// The events spool; the orders spool is beside it.
    spool: PathBuf,
    /// The events stream (`[broker] stream`).
    events: String,
}

impl Place {
    /// The broker's log, when one is set, else this machine's spool at
    /// `spool`; `events` is the events stream.
    pub fn new(broker: Option<BrokerSettings>, spool: PathBuf, events: String) -> Place {
        Place {
            broker,
            spool,
            events,
        }
    }

    /// The events stream.
    pub fn events(&self) -> &str {
        &self.events
    }

    /// The broker, when there is one (sd-bark's outbox forwards to it).
    pub fn broker(&self) -> Option<&BrokerSettings> {
        self.broker.as_ref()
    }

    /// The events spool.
    pub fn spool(&self) -> &std::path::Path {
        &self.spool
    }

    /// Opens the log `stream` lives in.
    pub fn open(&self, stream: &str) -> Result<Box<dyn Log + Send>> {
        Ok(match &self.broker {
            Some(broker) if broker.is_nats() => Box::new(nats::Nats::connect(broker, stream)?),
            Some(broker) => Box::new(redis::Redis::connect(broker, stream)?),
            None => Box::new(spool::SpoolLog::open(&self.spool, &self.events, stream)?),
        })
    }

    /// Where `stream` is, for messages, before it is open.
    pub fn shown(&self, stream: &str) -> String {
        match &self.broker {
            Some(broker) => crate::base::secret::redact_url(&broker.url),
            None => spool::SpoolLog::shown_for(&self.spool, &self.events, stream),
        }
    }
}

/// Whether an error of the log is an outage, worth waiting out: the
/// engine away, restarted, or a group it lost.
pub fn is_outage(err: &Error) -> bool {
    err.exit == Exit::Unavailable
}
