//! Interruption periods, kept up to date as each event is stored, so that
//! questions over millions of events read a small table.
//!
//! For one host and tag, the state events (`ok`, `fail`, `error`; `warn`
//! and `info` carry no period) in time order define the periods: one opens
//! at a `fail` or `error` that follows an `ok` (or nothing), and closes at
//! the next `ok`. Events may arrive in any order, so each new one is placed
//! by looking at its neighbours in time, not at the last one stored:
//! - a `fail`/`error` inside a period changes nothing but `last_status`;
//!   outside one, it opens a period that ends at the next `ok` after it;
//! - an `ok` inside a period ends it there; a `fail`/`error` between that
//!   `ok` and the period's old end opens the rest again.
//!
//! Events of one host and tag may share a millisecond (a producer with a
//! clock in seconds). Within one instant every `ok` is taken before every
//! failure, so a period never ends at the instant it starts, two periods
//! never start at one instant, and the result does not depend on the order
//! of arrival: a failure and a recovery in the same millisecond leave the
//! period open until a later `ok` — sheepdog errs towards an interruption
//! seen, not one hidden. The failure with the smallest id at a period's
//! start is its `first_id`. Such ties always take the general path.
//!
//! The store inserts events many to a statement before they are recorded
//! here, so the general path looks only at events up to the one being
//! placed (by rowid): what it would have seen had each event been
//! inserted and recorded in turn.

use super::board::Board;
use super::pairs::{Pair, Pairs, PerPair};
use super::schema::IS_STATE_OK;
use crate::event::Status;
use rusqlite::{OptionalExtension, Transaction, params};

/// A state event just inserted.
pub struct StateEvent<'a> {
    pub pair: Pair,
    pub host: &'a str,
    pub tag: &'a str,
    pub time_ms: i64,
    pub id: &'a str,
    pub status: Status,
    /// Its rowid in `events`: later rows are not yet recorded.
    pub rowid: i64,
}

/// What this process knows of each host and tag, so that the common case
/// — an event newer than every state event before it — costs no search.
/// Older events take the general path. The memory is dropped whenever
/// another connection wrote to the database.
///
/// On the common path the periods are written once per batch, not once
/// per event ([`Tracker::flush`]): with failures spread over many host and
/// tag pairs (the churn of bench/store.sh), a period mostly opens and
/// closes within one batch, and is then written once, whole, instead of
/// inserted open and updated as it closed (and again as its last status
/// changed) — a sixth of the import went to those statements.
pub struct Tracker {
    known: PerPair<Latest>,
    data_version: Option<i64>,
    pairs: Pairs,
    /// Periods that closed since the last flush.
    closed: Vec<Closed>,
    /// Pairs whose open period changed since the last flush.
    changed: Vec<Pair>,
}

#[derive(Clone)]
struct Latest {
    /// Time of the newest ok/fail/error event.
    last_state_ms: i64,
    /// The open period, if one is open.
    open: Option<Open>,
}

#[derive(Clone)]
struct Open {
    start_ms: i64,
    last_status: Status,
    row: Row,
}

/// Where an open period's row stands.
#[derive(Clone)]
enum Row {
    /// Not written yet: the id of the failure that opened it.
    Unwritten { first_id: String },
    /// In `interruptions`; `stale` if its last status changed since.
    Written { stale: bool },
}

/// A period that closed on the common path, to be written.
struct Closed {
    pair: Pair,
    start_ms: i64,
    end_ms: i64,
    last_status: Status,
    row: Row,
}

impl Tracker {
    /// Nothing known yet; pairs named by `pairs`.
    pub fn new(pairs: Pairs) -> Tracker {
        Tracker {
            known: PerPair::default(),
            data_version: None,
            pairs,
            closed: Vec::new(),
            changed: Vec::new(),
        }
    }

    /// Called at the start of each transaction: forgets everything if
    /// another process committed since this one last did (or this is the
    /// first transaction), and says so.
    pub fn begin(&mut self, tx: &Transaction<'_>) -> rusqlite::Result<bool> {
        let version: i64 = tx.query_row("PRAGMA data_version", [], |r| r.get(0))?;
        if self.data_version == Some(version) {
            return Ok(false);
        }
        self.known.clear();
        self.closed.clear();
        self.changed.clear();
        self.data_version = Some(version);
        Ok(true)
    }

    /// Forgets everything, for a transaction that was rolled back: the
    /// next one reads what it needs from the database again.
    pub fn forget(&mut self) {
        self.data_version = None;
    }

    /// Records a state event just inserted into `events`, before it goes
    /// on the `board`; what is read from `latest` is first written there.
    pub fn record(
        &mut self,
        tx: &Transaction<'_>,
        event: &StateEvent<'_>,
        board: &mut Board,
    ) -> rusqlite::Result<()> {
        if !matches!(event.status, Status::Ok | Status::Fail | Status::Error) {
            return Ok(());
        }
        let common = self
            .known
            .get(event.pair)
            .is_some_and(|latest| event.time_ms > latest.last_state_ms);
        if !common {
            // `interruptions` is read only with nothing waiting.
            self.flush(tx)?;
        }
        let latest = match self.known.take(event.pair) {
            Some(latest) => latest,
            None => {
                board.write_pair(tx, event.pair, event.host, event.tag)?;
                load(tx, event)?
            }
        };
        if event.time_ms <= latest.last_state_ms {
            board.write_pair(tx, event.pair, event.host, event.tag)?;
            return record(tx, event);
        }
        let open = match (event.status, latest.open) {
            (Status::Ok, Some(open)) => {
                self.closed.push(Closed {
                    pair: event.pair,
                    start_ms: open.start_ms,
                    end_ms: event.time_ms,
                    last_status: open.last_status,
                    row: open.row,
                });
                None
            }
            (Status::Ok, None) => None,
            (_, Some(mut open)) => {
                if let Row::Written {
                    stale: stale @ false,
                } = &mut open.row
                    && open.last_status != event.status
                {
                    *stale = true;
                    self.changed.push(event.pair);
                }
                open.last_status = event.status;
                Some(open)
            }
            (_, None) => {
                self.changed.push(event.pair);
                Some(Open {
                    start_ms: event.time_ms,
                    last_status: event.status,
                    row: Row::Unwritten {
                        first_id: event.id.to_string(),
                    },
                })
            }
        };
        *self.known.slot(event.pair) = Some(Latest {
            last_state_ms: event.time_ms,
            open,
        });
        Ok(())
    }

    /// Writes what the common path left waiting: the periods that closed,
    /// and the open ones that are new or whose last status changed.
    /// Called before `interruptions` is read and before each commit.
    pub fn flush(&mut self, tx: &Transaction<'_>) -> rusqlite::Result<()> {
        if self.closed.is_empty() && self.changed.is_empty() {
            return Ok(());
        }
        let names = self.pairs.names_of(
            self.closed
                .iter()
                .map(|c| c.pair)
                .chain(self.changed.iter().copied()),
        );
        let mut names = names.iter();
        let mut insert = tx.prepare_cached(
            "INSERT INTO interruptions (host, tag, start_ms, end_ms, first_id, last_status)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        let mut close = tx.prepare_cached(
            "UPDATE interruptions SET end_ms = ?4, last_status = ?5
             WHERE host = ?1 AND tag = ?2 AND start_ms = ?3",
        )?;
        let mut restate = tx.prepare_cached(
            "UPDATE interruptions SET last_status = ?4 WHERE host = ?1 AND tag = ?2 AND start_ms = ?3",
        )?;
        for period in self.closed.drain(..) {
            let (host, tag) = names.next().expect("a name per period");
            let status = period.last_status.as_str();
            match &period.row {
                Row::Unwritten { first_id } => insert.execute(params![
                    host,
                    tag,
                    period.start_ms,
                    period.end_ms,
                    first_id,
                    status
                ])?,
                Row::Written { .. } => {
                    close.execute(params![host, tag, period.start_ms, period.end_ms, status])?
                }
            };
        }
        for pair in self.changed.drain(..) {
            let (host, tag) = names.next().expect("a name per pair");
            let Some(open) = self.known.slot(pair).as_mut().and_then(|l| l.open.as_mut()) else {
                continue;
            };
            let status = open.last_status.as_str();
            match &open.row {
                Row::Unwritten { first_id } => {
                    insert.execute(params![
                        host,
                        tag,
                        open.start_ms,
                        None::<i64>,
                        first_id,
                        status
                    ])?;
                }
                Row::Written { stale: true } => {
                    restate.execute(params![host, tag, open.start_ms, status])?;
                }
                Row::Written { stale: false } => continue,
            }
            open.row = Row::Written { stale: false };
        }
        Ok(())
    }
}

/// The newest state event stored so far (from `latest`, which this event
/// has not updated yet), and the open period.
fn load(tx: &Transaction<'_>, event: &StateEvent<'_>) -> rusqlite::Result<Latest> {
    let last_state_ms: Option<i64> = tx
        .prepare_cached("SELECT time_ms FROM latest WHERE host = ?1 AND tag = ?2")?
        .query_row(params![event.host, event.tag], |r| r.get(0))
        .optional()?;
    // Periods never overlap, so an open one is the pair's last: one
    // index step. (Asked for `end_ms IS NULL`, SQLite walked back through
    // every closed period of the pair, and a shuffled import loads a
    // pair at nearly every event: quadratic.)
    let open: Option<(i64, String)> = tx
        .prepare_cached(
            "SELECT start_ms, last_status, end_ms FROM interruptions
             WHERE host = ?1 AND tag = ?2
             ORDER BY start_ms DESC LIMIT 1",
        )?
        .query_row(params![event.host, event.tag], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get::<_, Option<i64>>(2)?))
        })
        .optional()?
        .and_then(|(start, status, end)| end.is_none().then_some((start, status)));
    Ok(Latest {
        last_state_ms: last_state_ms.unwrap_or(i64::MIN),
        open: open.map(|(start_ms, last_status)| Open {
            start_ms,
            last_status: last_status.parse().unwrap_or(Status::Fail),
            row: Row::Written { stale: false },
        }),
    })
}

/// The time of the newest state event of a host and tag: the end of any
/// scan of `events` for them. The general path only meets pairs that
/// have one (the event being placed is older than it).
fn newest_state(tx: &Transaction<'_>, host: &str, tag: &str) -> rusqlite::Result<i64> {
    Ok(tx
        .prepare_cached("SELECT time_ms FROM latest WHERE host = ?1 AND tag = ?2")?
        .query_row(params![host, tag], |r| r.get(0))
        .optional()?
        .unwrap_or(i64::MAX))
}

/// The general path: places an event of any age among its neighbours.
pub fn record(tx: &Transaction<'_>, event: &StateEvent<'_>) -> rusqlite::Result<()> {
    match event.status {
        Status::Fail | Status::Error => record_failure(tx, event),
        Status::Ok => record_recovery(tx, event),
        Status::Warn | Status::Info => Ok(()),
    }
}

/// The period containing `time_ms` (start ≤ t < end, or still open).
/// Periods never overlap, so only the last one starting at or before `t`
/// can contain it: one index step, however long the history.
fn period_at(
    tx: &Transaction<'_>,
    host: &str,
    tag: &str,
    time_ms: i64,
) -> rusqlite::Result<Option<(i64, Option<i64>)>> {
    let latest: Option<(i64, Option<i64>)> = tx
        .prepare_cached(
            "SELECT start_ms, end_ms FROM interruptions
             WHERE host = ?1 AND tag = ?2 AND start_ms <= ?3
             ORDER BY start_ms DESC LIMIT 1",
        )?
        .query_row(params![host, tag, time_ms], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    Ok(latest.filter(|(_, end)| end.is_none_or(|end| end > time_ms)))
}

fn record_failure(tx: &Transaction<'_>, e: &StateEvent<'_>) -> rusqlite::Result<()> {
    if let Some((start, end)) = period_at(tx, e.host, e.tag, e.time_ms)? {
        if start == e.time_ms {
            // Another failure of the same instant: the smallest id opened it.
            tx.prepare_cached(
                "UPDATE interruptions SET first_id = ?4
                 WHERE host = ?1 AND tag = ?2 AND start_ms = ?3 AND first_id > ?4",
            )?
            .execute(params![e.host, e.tag, start, e.id])?;
        }
        return refresh_last_status(tx, e, start, end);
    }
    // A period starting later with no ok in between starts here instead.
    let next_ok = next_ok_after(tx, e, e.time_ms)?;
    let later = tx
        .prepare_cached(
            "SELECT start_ms, end_ms FROM interruptions
             WHERE host = ?1 AND tag = ?2 AND start_ms > ?3 AND (?4 IS NULL OR start_ms < ?4)
             ORDER BY start_ms LIMIT 1",
        )?
        .query_row(params![e.host, e.tag, e.time_ms, next_ok], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, Option<i64>>(1)?))
        })
        .optional()?;
    let end = match later {
        Some((later_start, later_end)) => {
            tx.prepare_cached(
                "DELETE FROM interruptions WHERE host = ?1 AND tag = ?2 AND start_ms = ?3",
            )?
            .execute(params![e.host, e.tag, later_start])?;
            later_end
        }
        None => next_ok,
    };
    // No period starts at this instant (period_at would have found it),
    // but a store written before ties were ordered may hold one that also
    // ends here: it is opened again rather than refused.
    tx.prepare_cached(
        "INSERT INTO interruptions (host, tag, start_ms, end_ms, first_id, last_status)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (host, tag, start_ms) DO UPDATE SET end_ms = excluded.end_ms,
             first_id = min(first_id, excluded.first_id)",
    )?
    .execute(params![
        e.host,
        e.tag,
        e.time_ms,
        end,
        e.id,
        e.status.as_str()
    ])?;
    refresh_last_status(tx, e, e.time_ms, end)
}

fn record_recovery(tx: &Transaction<'_>, e: &StateEvent<'_>) -> rusqlite::Result<()> {
    let Some((start, old_end)) = period_at(tx, e.host, e.tag, e.time_ms)? else {
        return Ok(());
    };
    if start == e.time_ms {
        // An ok at the instant a failure opened the period comes before
        // that failure: the period stays.
        return Ok(());
    }
    tx.prepare_cached(
        "UPDATE interruptions SET end_ms = ?4 WHERE host = ?1 AND tag = ?2 AND start_ms = ?3",
    )?
    .execute(params![e.host, e.tag, start, e.time_ms])?;
    refresh_last_status(tx, e, start, Some(e.time_ms))?;
    // A failure after this ok (at its instant too: oks come first) and
    // before the old end opens the rest again.
    let until = match old_end {
        Some(end) => end,
        None => newest_state(tx, e.host, e.tag)?.saturating_add(1),
    };
    let reopened: Option<(i64, String, String)> = tx
        .prepare_cached(
            "SELECT time_ms, id, status FROM events
             WHERE time_ms >= ?3 AND time_ms < ?4 AND host = ?1 AND tag = ?2
               AND status IN ('fail', 'error') AND rowid <= ?5
             ORDER BY time_ms, id LIMIT 1",
        )?
        .query_row(params![e.host, e.tag, e.time_ms, until, e.rowid], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?;
    if let Some((time_ms, id, _)) = reopened {
        let end = next_ok_after(tx, e, time_ms)?.or(old_end);
        let end = match (end, old_end) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, None) => a,
            (None, b) => b,
        };
        tx.prepare_cached(
            "INSERT INTO interruptions (host, tag, start_ms, end_ms, first_id, last_status)
             VALUES (?1, ?2, ?3, ?4, ?5, 'fail')",
        )?
        .execute(params![e.host, e.tag, time_ms, end, id])?;
        refresh_last_status(tx, e, time_ms, end)?;
    }
    Ok(())
}

fn next_ok_after(
    tx: &Transaction<'_>,
    e: &StateEvent<'_>,
    time_ms: i64,
) -> rusqlite::Result<Option<i64>> {
    // Walks the time index forward from the event, and stops at the first
    // ok or at the pair's newest state event, whichever comes first.
    let until = newest_state(tx, e.host, e.tag)?;
    tx.prepare_cached(&format!(
        "SELECT time_ms FROM events
         WHERE time_ms > ?3 AND time_ms <= ?4 AND host = ?1 AND tag = ?2 AND {IS_STATE_OK}
           AND rowid <= ?5
         ORDER BY time_ms LIMIT 1"
    ))?
    .query_row(params![e.host, e.tag, time_ms, until, e.rowid], |r| {
        r.get(0)
    })
    .optional()
}

/// `last_status` is the status of the latest failure within the period.
fn refresh_last_status(
    tx: &Transaction<'_>,
    e: &StateEvent<'_>,
    start: i64,
    end: Option<i64>,
) -> rusqlite::Result<()> {
    // Walks the time index backward from the period's end: its last
    // failure is usually just before it.
    let end = match end {
        Some(end) => end,
        None => newest_state(tx, e.host, e.tag)?.saturating_add(1),
    };
    tx.prepare_cached(
        "UPDATE interruptions SET last_status = coalesce((
             SELECT status FROM events
             WHERE time_ms >= ?3 AND time_ms < ?4 AND host = ?1 AND tag = ?2
               AND status IN ('fail', 'error') AND rowid <= ?5
             ORDER BY time_ms DESC, id DESC LIMIT 1), last_status)
         WHERE host = ?1 AND tag = ?2 AND start_ms = ?3",
    )?
    .execute(params![e.host, e.tag, start, end, e.rowid])?;
    Ok(())
}
