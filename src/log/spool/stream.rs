//! The spool as an engine of the log: one machine's streams, in SQLite.
//!
//! The events stream is the events spool itself. Every host's orders
//! stream (`sheepdog:orders:HOST`) is one orders spool beside it, each
//! entry a signed order as one JSON line: a machine that answers to
//! several names reads its orders through a group per name, and skips
//! (acknowledging) the entries addressed to another.

use super::{Claim, Spool, Spooled};
use crate::base::error::{Error, Result};
use crate::log::orders::{OBEY_GROUP, STREAM_PREFIX, Signed, addressee};
use crate::log::{Aside, Entry, GroupInfo, GroupState, Log};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How often a read that waits looks again.
const POLL: Duration = Duration::from_millis(20);

pub struct SpoolLog {
    spool: Spool,
    /// An orders stream: the host whose orders it carries.
    orders_of: Option<String>,
    /// Where the orders spool is, and it once open, for appending orders
    /// from the events stream's log.
    orders_path: PathBuf,
    orders: Option<Spool>,
}

impl SpoolLog {
    /// Opens the spool `stream` lives in: `events` is the events stream,
    /// kept in the spool `events_spool`.
    pub fn open(events_spool: &Path, events: &str, stream: &str) -> Result<SpoolLog> {
        let orders_path = orders_spool(events_spool);
        let (path, orders_of) = place(events_spool, events, stream)?;
        Ok(SpoolLog {
            spool: Spool::open(&path)?,
            orders_of,
            orders_path,
            orders: None,
        })
    }

    /// Where `stream` is kept, for messages.
    pub fn shown_for(events_spool: &Path, events: &str, stream: &str) -> String {
        match place(events_spool, events, stream) {
            Ok((path, _)) => format!("the spool {}", path.display()),
            Err(_) => format!("the spool {}", events_spool.display()),
        }
    }

    /// The spool's own name of a group: on the orders spool, a group per
    /// host (`obey:tux01`).
    fn reader(&self, group: &str) -> String {
        match &self.orders_of {
            Some(host) => format!("{group}:{host}"),
            None => group.to_string(),
        }
    }

    /// Entries as the log hands them out; on an orders stream, those
    /// addressed to another host are acknowledged and left out.
    fn entries(&mut self, group: Option<&str>, spooled: Vec<Spooled>) -> Result<Vec<Entry>> {
        let mut entries = Vec::with_capacity(spooled.len());
        let mut elsewhere = Vec::new();
        for s in spooled {
            let mut entry = Entry::new(s.seq.to_string(), s.deliveries.max(1));
            entry.added_ms = Some(s.added_ms);
            match &self.orders_of {
                None => entry.text = Some(s.line),
                Some(host) => match serde_json::from_str::<Signed>(&s.line) {
                    Ok(signed) => {
                        if addressee(&signed).is_some_and(|to| &to != host) {
                            elsewhere.push(s.seq);
                            continue;
                        }
                        entry.text = Some(signed.order);
                        entry.sig = Some(signed.sig);
                        entry.key = Some(signed.key);
                    }
                    // Not an order: handed out as it is, for the reader
                    // to refuse.
                    Err(_) => entry.text = Some(s.line),
                },
            }
            entries.push(entry);
        }
        if let (Some(group), false) = (group, elsewhere.is_empty()) {
            let reader = self.reader(group);
            self.spool.ack(&reader, &elsewhere)?;
        }
        Ok(entries)
    }

    /// Runs `read` until it finds something or `block` has passed.
    fn waiting(
        &mut self,
        block: Duration,
        mut read: impl FnMut(&mut SpoolLog) -> Result<Vec<Entry>>,
    ) -> Result<Vec<Entry>> {
        let deadline = Instant::now() + block;
        loop {
            let entries = read(self)?;
            let left = deadline.saturating_duration_since(Instant::now());
            if !entries.is_empty() || left.is_zero() {
                return Ok(entries);
            }
            std::thread::sleep(POLL.min(left));
        }
    }
}

/// The spool file a stream is kept in, and the host of an orders stream.
fn place(events_spool: &Path, events: &str, stream: &str) -> Result<(PathBuf, Option<String>)> {
    if stream == events {
        return Ok((events_spool.to_path_buf(), None));
    }
    match stream.strip_prefix(STREAM_PREFIX) {
        Some(host) if !host.is_empty() => Ok((orders_spool(events_spool), Some(host.to_string()))),
        _ => Err(Error::usage(format!(
            "no broker is configured, and this machine's spool keeps only the events stream \
             {events} and orders, not {stream}: set [broker] url"
        ))),
    }
}

/// The orders spool, beside the events spool.
fn orders_spool(events_spool: &Path) -> PathBuf {
    events_spool
        .parent()
        .map(|dir| dir.join("orders.db"))
        .unwrap_or_else(|| crate::base::paths::state_dir().join("orders.db"))
}

fn seqs(ids: &[String]) -> Vec<i64> {
    ids.iter().filter_map(|id| id.parse().ok()).collect()
}

impl Log for SpoolLog {
    fn shown(&self) -> String {
        format!("the spool {}", self.spool.path().display())
    }

    fn entry_prefix(&self) -> &'static str {
        "spool"
    }

    /// Nothing to sign: the spool stays on this machine; sd-bark signs
    /// what it forwards to a broker.
    fn sign_with(&mut self, _key: crate::event::signing::Key) {}

    fn append(&mut self, lines: &mut dyn Iterator<Item = &str>) -> Result<usize> {
        let lines: Vec<String> = lines.map(str::to_string).collect();
        if !lines.is_empty() {
            self.spool.append(&lines)?;
        }
        Ok(lines.len())
    }

    fn append_order(&mut self, host: &str, signed: &Signed) -> Result<()> {
        let spool = match (&self.orders_of, &mut self.orders) {
            (Some(_), _) => &mut self.spool,
            (None, Some(orders)) => orders,
            (None, orders @ None) => orders.insert(Spool::open(&self.orders_path)?),
        };
        // The host's group exists before its order does, so no other
        // host's reading trims it away.
        spool.create_group(&format!("{}:{host}", OBEY_GROUP), false)?;
        let line = serde_json::to_string(signed).expect("a signed order serialises");
        spool.append(&[line]).map(drop)
    }

    fn ensure_group(&mut self, group: &str, from_now: bool) -> Result<()> {
        let reader = self.reader(group);
        self.spool.create_group(&reader, from_now)
    }

    fn read_group(
        &mut self,
        group: &str,
        consumer: &str,
        count: usize,
        block: Duration,
    ) -> Result<Vec<Entry>> {
        let reader = self.reader(group);
        self.waiting(block, |log| {
            let fresh = log.spool.deliver_new(&reader, consumer, count)?;
            log.entries(Some(group), fresh)
        })
    }

    fn read_own_pending(
        &mut self,
        group: &str,
        consumer: &str,
        after: &str,
        count: usize,
    ) -> Result<Vec<Entry>> {
        let reader = self.reader(group);
        let after = after.parse().unwrap_or(0);
        let own = self
            .spool
            .claim(&reader, consumer, Claim::Own(after), count)?;
        self.entries(Some(group), own)
    }

    fn claim_idle(
        &mut self,
        group: &str,
        consumer: &str,
        idle: Duration,
        count: usize,
    ) -> Result<Vec<Entry>> {
        let reader = self.reader(group);
        let claimed = self
            .spool
            .claim(&reader, consumer, Claim::Idle(idle), count)?;
        self.entries(Some(group), claimed)
    }

    fn ack(&mut self, group: &str, ids: &[String]) -> Result<()> {
        let reader = self.reader(group);
        self.spool.ack(&reader, &seqs(ids))
    }

    /// The spool keeps one place for both: a rejected entry is a dead
    /// letter whose reason says so.
    fn set_aside(&mut self, _aside: Aside, group: &str, entry: &Entry, reason: &str) -> Result<()> {
        let reader = self.reader(group);
        let seq = entry.id.parse().unwrap_or(0);
        let text = entry.text.as_deref().unwrap_or("");
        self.spool.dead_letter(&reader, seq, text, reason)
    }

    fn last_id(&mut self) -> Result<String> {
        Ok(self.spool.last_seq()?.to_string())
    }

    fn read_after(&mut self, last: &str, count: usize, block: Duration) -> Result<Vec<Entry>> {
        let after: i64 = last.parse().unwrap_or(0);
        self.waiting(block, |log| {
            let spooled = log.spool.after(after, count)?;
            log.entries(None, spooled)
        })
    }

    fn groups(&mut self) -> Result<Vec<GroupInfo>> {
        self.spool.groups()
    }

    fn retire_group(&mut self, group: &str) -> Result<bool> {
        let reader = self.reader(group);
        self.spool.retire_group(&reader)
    }

    /// Acknowledging trims already; this says where each group stands.
    fn trim(&mut self) -> Result<Vec<GroupState>> {
        Ok(self
            .spool
            .groups()?
            .into_iter()
            .map(|g| GroupState {
                name: g.name,
                pending: g.pending,
                lag: g.lag,
            })
            .collect())
    }

    fn capacity(&self) -> Option<u64> {
        None
    }
}
