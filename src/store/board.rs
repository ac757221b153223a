//! The board: the newest ok/warn/fail/error event of each host and tag.
//!
//! Written to `latest` for every event, it cost a third of the import
//! (bench/BENCHMARKS.md): each batch touches rows all over that table, and
//! every page touched is written to the WAL again at each commit. So the
//! board is kept in memory and written out at most once a [`WRITE_EVERY`]
//! (and when sd-store stops), and `board_mark.through` says up to which
//! event (by rowid) `latest` is complete. The events after the mark are
//! in the `events` table, committed with everything else, so nothing is
//! lost if sd-store is killed: the `board` view lays them over `latest`
//! for readers, and the next sd-store reads them back before it writes
//! the board again.
//!
//! Merging is a maximum (the newest event by time, then failures after
//! everything else within one instant — as the periods order them,
//! store/interruptions.rs — then id; the newest ok), so writers may write
//! their boards in any order: another sd-store on the same database only
//! means reading back what it stored.

use super::pairs::{Pair, Pairs, PerPair};
use super::schema::IS_STATE_EVENT;
use crate::event::Status;
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use std::time::{Duration, Instant};

/// How often the board is written to `latest` while events arrive.
pub const WRITE_EVERY: Duration = Duration::from_secs(1);

/// Whether `latest` misses events: the last writer stopped before writing
/// its board.
pub const BEHIND: &str =
    "SELECT EXISTS (SELECT 1 FROM events WHERE rowid > (SELECT through FROM board_mark))";

/// One host and tag's place on the board.
#[derive(Clone, Debug, PartialEq)]
struct Place {
    status: Status,
    time_ms: i64,
    id: String,
    last_ok_ms: Option<i64>,
}

impl Place {
    /// Takes in a newer (or older) event of the same host and tag.
    fn merge(&mut self, status: Status, success: bool, time_ms: i64, id: &str) {
        if (time_ms, failing(status), id) > (self.time_ms, failing(self.status), self.id.as_str()) {
            self.status = status;
            self.time_ms = time_ms;
            self.id.clear();
            self.id.push_str(id);
        }
        if success {
            self.last_ok_ms = self.last_ok_ms.max(Some(time_ms));
        }
    }
}

/// Whether a status is a failure: within one instant it comes after the
/// others, on the board as in the periods.
fn failing(status: Status) -> bool {
    matches!(status, Status::Fail | Status::Error)
}

/// What is on the board but not yet in `latest`.
pub struct Board {
    pairs: Pairs,
    pending: PerPair<Place>,
    /// The pairs given an entry in `pending` since the last write.
    waiting: Vec<Pair>,
    /// When `pending` took its first entry since the last write.
    since: Option<Instant>,
}

/// The same merge as [`Place::merge`], for a row already in `latest`.
const WRITE: &str = "
    INSERT INTO latest (host, tag, status, time_ms, id, last_ok_ms)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6)
    ON CONFLICT (host, tag) DO UPDATE SET
        status  = iif((excluded.time_ms, excluded.status IN ('fail', 'error'), excluded.id)
                      > (latest.time_ms, latest.status IN ('fail', 'error'), latest.id), excluded.status, latest.status),
        id      = iif((excluded.time_ms, excluded.status IN ('fail', 'error'), excluded.id)
                      > (latest.time_ms, latest.status IN ('fail', 'error'), latest.id), excluded.id, latest.id),
        time_ms = max(excluded.time_ms, latest.time_ms),
        last_ok_ms = coalesce(max(excluded.last_ok_ms, latest.last_ok_ms), excluded.last_ok_ms, latest.last_ok_ms)";

impl Board {
    /// An empty board, whose pairs are numbered by `pairs`.
    pub fn new(pairs: Pairs) -> Board {
        Board {
            pairs,
            pending: PerPair::default(),
            waiting: Vec::new(),
            since: None,
        }
    }

    /// Puts a state event just stored on the board.
    /// `success`: whether it is the job succeeding (`event::is_success`),
    /// the time `last_ok_ms` keeps.
    pub fn record(&mut self, pair: Pair, status: Status, success: bool, time_ms: i64, id: &str) {
        match self.pending.slot(pair) {
            Some(entry) => entry.merge(status, success, time_ms, id),
            slot @ None => {
                *slot = Some(Place {
                    status,
                    time_ms,
                    id: id.to_string(),
                    last_ok_ms: success.then_some(time_ms),
                });
                self.waiting.push(pair);
            }
        }
        self.since.get_or_insert_with(Instant::now);
    }

    /// Forgets what is pending, for a transaction that was rolled back:
    /// it is all in `events` past the mark, read back by
    /// [`Board::catch_up`] at the next transaction.
    pub fn forget(&mut self) {
        self.pending.clear();
        self.waiting.clear();
        self.since = None;
    }

    /// When the board is due to be written, if anything waits.
    pub fn due(&self) -> Option<Instant> {
        self.since.map(|since| since + WRITE_EVERY)
    }

    /// Writes one host and tag's entry to `latest` now, for the code that
    /// is about to read `latest` for it (an event out of order).
    pub fn write_pair(
        &mut self,
        tx: &Transaction<'_>,
        pair: Pair,
        host: &str,
        tag: &str,
    ) -> rusqlite::Result<()> {
        match self.pending.take(pair) {
            Some(entry) => write_entry(tx, host, tag, &entry),
            None => Ok(()),
        }
    }

    /// [`Board::write`], after putting on the board the events past the
    /// mark that this process did not store: another process's (which may
    /// have been killed before writing its board), or its own before a
    /// restart.
    pub fn catch_up(&mut self, tx: &Transaction<'_>) -> rusqlite::Result<()> {
        self.take_in_events_past_mark(tx)?;
        self.write(tx)
    }

    /// Writes everything pending to `latest` and moves the mark to the
    /// newest event, in the caller's transaction.
    pub fn write(&mut self, tx: &Transaction<'_>) -> rusqlite::Result<()> {
        let entries: Vec<(Pair, Place)> = self
            .waiting
            .drain(..)
            .filter_map(|pair| Some((pair, self.pending.take(pair)?)))
            .collect();
        let names = self.pairs.names_of(entries.iter().map(|(pair, _)| *pair));
        for ((host, tag), (_, entry)) in names.iter().zip(&entries) {
            write_entry(tx, host, tag, entry)?;
        }
        tx.prepare_cached(
            "UPDATE board_mark SET through = (SELECT coalesce(max(rowid), 0) FROM events)",
        )?
        .execute([])?;
        self.since = None;
        Ok(())
    }

    /// Puts on the board the state events past the mark.
    fn take_in_events_past_mark(&mut self, tx: &Transaction<'_>) -> rusqlite::Result<()> {
        let mut past = tx.prepare_cached(&format!(
            "SELECT host, tag, status, time_ms, id, kind FROM events
             WHERE rowid > (SELECT through FROM board_mark) AND {IS_STATE_EVENT}"
        ))?;
        let mut rows = past.query([])?;
        while let Some(row) = rows.next()? {
            let status: String = row.get(2)?;
            let Ok(status) = status.parse::<Status>() else {
                continue;
            };
            let pair = self
                .pairs
                .number(row.get_ref(0)?.as_str()?, row.get_ref(1)?.as_str()?);
            let success = crate::event::is_success(status, row.get_ref(5)?.as_str_or_null()?);
            self.record(
                pair,
                status,
                success,
                row.get(3)?,
                row.get_ref(4)?.as_str()?,
            );
        }
        Ok(())
    }
}

fn write_entry(tx: &Transaction<'_>, host: &str, tag: &str, entry: &Place) -> rusqlite::Result<()> {
    tx.prepare_cached(WRITE)?.execute(params![
        host,
        tag,
        entry.status.as_str(),
        entry.time_ms,
        entry.id,
        entry.last_ok_ms
    ])?;
    Ok(())
}

/// The hosts the board knows `tag` on, in order.
pub fn hosts_of(conn: &Connection, tag: &str) -> rusqlite::Result<Vec<String>> {
    conn.prepare_cached("SELECT host FROM board WHERE tag = ?1 ORDER BY host")?
        .query_map([tag], |r| r.get(0))?
        .collect()
}

/// When the store last heard from `host`: its newest state on the board
/// or its newest facts (an info event is neither; reading every event of
/// a host would scan the store). `None` when never.
pub fn last_heard_ms(conn: &Connection, host: &str) -> Option<i64> {
    conn.query_row(
        "SELECT max(t) FROM (SELECT max(time_ms) AS t FROM board WHERE host = ?1
                             UNION ALL SELECT max(time_ms) FROM facts WHERE host = ?1)",
        [host],
        |r| r.get(0),
    )
    .ok()
    .flatten()
}

/// When the job last succeeded on `host`, by its own `ok`s (never a
/// verdict about it, docs/ARCHITECTURE.md §1); `None` when never.
pub fn last_ok_ms(conn: &Connection, host: &str, tag: &str) -> rusqlite::Result<Option<i64>> {
    conn.query_row(
        "SELECT last_ok_ms FROM board WHERE host = ?1 AND tag = ?2",
        params![host, tag],
        |r| r.get(0),
    )
    .optional()
    .map(Option::flatten)
}

/// Whether the board shows a `duration` verdict about the run `run` of
/// the pair: the verdict is said once.
pub fn shows_verdict_on(
    conn: &Connection,
    host: &str,
    tag: &str,
    run: &str,
) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT 1 FROM board b JOIN events e ON e.id = b.id
         WHERE b.host = ?1 AND b.tag = ?2 AND e.kind = 'duration'
           AND json_extract(e.body, '$.run') = ?3",
        params![host, tag, run],
        |_| Ok(()),
    )
    .optional()
    .map(|row| row.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_keeps_the_newest_event_and_the_newest_ok_in_any_order() {
        let events = [
            (Status::Ok, 10, "a"),
            (Status::Fail, 30, "c"),
            (Status::Ok, 20, "b"),
            (Status::Warn, 30, "d"),
        ];
        let mut orders = vec![events.to_vec()];
        let mut reversed = events.to_vec();
        reversed.reverse();
        orders.push(reversed);
        for order in orders {
            let mut board = Board::new(Pairs::default());
            for (status, time, id) in order {
                board.record(7, status, status == Status::Ok, time, id);
            }
            let entry = board.pending.get(7).unwrap();
            assert_eq!(
                (
                    entry.status,
                    entry.time_ms,
                    entry.id.as_str(),
                    entry.last_ok_ms
                ),
                // Within one instant a failure comes after the rest.
                (Status::Fail, 30, "c", Some(20))
            );
        }
    }
}
