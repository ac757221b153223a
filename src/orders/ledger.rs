//! The ledger: what this host has started and finished, by order id, in a
//! local SQLite file written durably (`synchronous=FULL`) before an action
//! runs. It is what makes "at most once per order id, ever" true across
//! redeliveries, restarts, crashes and a second sd-obey on the same host.

use crate::base::error::{Context, Result};
use rusqlite::{Connection, OptionalExtension, params};
use std::path::{Path, PathBuf};

const MIGRATIONS: &[&str] = &[
    "
    CREATE TABLE runs (
        id          TEXT PRIMARY KEY,
        action      TEXT NOT NULL,
        started_ms  INTEGER NOT NULL,
        pid         INTEGER NOT NULL,
        finished_ms INTEGER,
        status      TEXT
    ) WITHOUT ROWID;
",
    "
    -- When the process that started a run started (clock ticks since
    -- boot, /proc/PID/stat), so that another process given the same PID
    -- later is not taken for it.
    ALTER TABLE runs ADD COLUMN pid_start INTEGER;
",
];

pub struct Ledger {
    conn: Connection,
    path: PathBuf,
}

/// What the ledger says about an order about to run.
#[derive(Debug, PartialEq, Eq)]
pub enum Start {
    /// Never seen: recorded as started, go ahead.
    Fresh,
    /// It ran to its end before (`status`).
    Done(String),
    /// Another sd-obey, still alive, is running it now.
    Running,
    /// It started and never finished: the process running it died.
    Interrupted,
}

impl Ledger {
    pub fn open(path: &Path) -> Result<Ledger> {
        let mut conn = crate::base::sqlite::open_wal(
            path,
            "ledger",
            "FULL",
            crate::base::sqlite::NewFile::default(),
        )?;
        crate::base::sqlite::migrate(&mut conn, MIGRATIONS)
            .context("migrating ledger", path.display())?;
        Ok(Ledger {
            conn,
            path: path.to_path_buf(),
        })
    }

    /// Records the start of `id`, durably, unless it was started before;
    /// says which.
    pub fn start(&mut self, id: &str, action: &str) -> Result<Start> {
        let pid = std::process::id();
        let now = crate::base::time::now_ms();
        let record = |conn: &mut Connection| -> rusqlite::Result<Start> {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let known: Option<(i64, Option<i64>, Option<String>)> = tx
                .query_row(
                    "SELECT pid, pid_start, status FROM runs WHERE id = ?1",
                    [id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            let start = match known {
                Some((_, _, Some(status))) => Start::Done(status),
                Some((pid, pid_start, None))
                    if pid != i64::from(std::process::id()) && alive(pid, pid_start) =>
                {
                    Start::Running
                }
                Some((_, _, None)) => Start::Interrupted,
                None => {
                    tx.execute(
                        "INSERT INTO runs (id, action, started_ms, pid, pid_start)
                         VALUES (?1, ?2, ?3, ?4, ?5)",
                        params![id, action, now, pid, started_at(i64::from(pid))],
                    )?;
                    Start::Fresh
                }
            };
            tx.commit()?;
            Ok(start)
        };
        record(&mut self.conn).context("writing to ledger", self.path.display())
    }

    /// Records how `id` ended. Unlike its start, the end need not wait
    /// for the disk: lost in a power cut, the order reads as interrupted —
    /// reported, never run again — which is safe; so one fsync per order,
    /// not two (bench/BENCHMARKS.md, orders).
    pub fn finish(&mut self, id: &str, status: &str) -> Result<()> {
        let conn = &self.conn;
        let write = || -> rusqlite::Result<()> {
            conn.pragma_update(None, "synchronous", "NORMAL")?;
            let done = conn.execute(
                "UPDATE runs SET finished_ms = ?2, status = ?3 WHERE id = ?1",
                params![id, crate::base::time::now_ms(), status],
            );
            conn.pragma_update(None, "synchronous", "FULL")?;
            done.map(drop)
        };
        write().context("writing to ledger", self.path.display())
    }
}

/// Whether the process that started an order is still there: one of
/// that id, started when it did (when that is known).
fn alive(pid: i64, pid_start: Option<i64>) -> bool {
    let exists = i32::try_from(pid)
        .is_ok_and(|pid| nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok());
    exists && pid_start.is_none_or(|then| started_at(pid) == Some(then))
}

/// When process `pid` started, in clock ticks since boot: field 22 of
/// /proc/PID/stat, counted after the command name (which may hold
/// spaces and parentheses).
fn started_at(pid: i64) -> Option<i64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_order_starts_once_and_a_dead_start_is_interrupted() {
        let (_dir, path) = crate::base::testing::scratch("ledger.db");
        let mut ledger = Ledger::open(&path).unwrap();
        assert_eq!(ledger.start("o1", "block-ip").unwrap(), Start::Fresh);
        // The same process again (a redelivery while it runs): never twice.
        assert_eq!(ledger.start("o1", "block-ip").unwrap(), Start::Interrupted);
        ledger.finish("o1", "ok").unwrap();
        assert_eq!(
            ledger.start("o1", "block-ip").unwrap(),
            Start::Done("ok".into())
        );
        // Started by a process that is gone.
        ledger
            .conn
            .execute(
                "INSERT INTO runs (id, action, started_ms, pid) VALUES ('o2', 'x', 0, 2147483000)",
                [],
            )
            .unwrap();
        assert_eq!(ledger.start("o2", "x").unwrap(), Start::Interrupted);
        // Started by a process that is alive (pid 1).
        ledger
            .conn
            .execute(
                "INSERT INTO runs (id, action, started_ms, pid) VALUES ('o3', 'x', 0, 1)",
                [],
            )
            .unwrap();
        assert_eq!(ledger.start("o3", "x").unwrap(), Start::Running);
        // A process alive under that id, but not the one that started it:
        // the id was given again after the starter died.
        ledger
            .conn
            .execute(
                "INSERT INTO runs (id, action, started_ms, pid, pid_start) VALUES ('o4', 'x', 0, 1, -5)",
                [],
            )
            .unwrap();
        assert_eq!(ledger.start("o4", "x").unwrap(), Start::Interrupted);
        assert!(started_at(1).is_some() && started_at(i64::from(std::process::id())).is_some());
        drop(ledger);
        let mut again = Ledger::open(&path).unwrap();
        assert_eq!(
            again.start("o1", "block-ip").unwrap(),
            Start::Done("ok".into())
        );
    }
}
