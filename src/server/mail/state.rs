//! sd-mail's memory, in a small SQLite file (`--state`): what each host
//! and tag is known to be, which event ids were handled, silences, the
//! outbox of mails decided but not yet accepted by the mail server, and the
//! diary the digest is made from.
//!
//! A decision and the mail it calls for are committed together: the mail
//! waits in the outbox (through `--group-wait`, and through any outage of
//! the mail server, across restarts) until the server accepts it, and only
//! then are its events echoed. A notification is never lost, and an event
//! handled once is never mailed again.

use super::policy::{Notice, TagState};
use crate::base::error::{Error, Result};
use crate::event::Status;
use crate::server::maintenance::Window;
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use std::path::{Path, PathBuf};

const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS tags (
        host TEXT NOT NULL, tag TEXT NOT NULL,
        status TEXT NOT NULL, time_ms INTEGER NOT NULL, id TEXT NOT NULL,
        since_ms INTEGER NOT NULL, notified TEXT, mailed_ms INTEGER,
        PRIMARY KEY (host, tag)) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS seen (
        id TEXT PRIMARY KEY, time_ms INTEGER NOT NULL) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS silences (
        host TEXT NOT NULL, tag TEXT NOT NULL, until_ms INTEGER NOT NULL,
        reason TEXT, created_ms INTEGER NOT NULL,
        PRIMARY KEY (host, tag));
    CREATE TABLE IF NOT EXISTS outbox (
        seq INTEGER PRIMARY KEY, mail INTEGER NOT NULL, due_ms INTEGER NOT NULL,
        notice TEXT NOT NULL, host TEXT NOT NULL, tag TEXT NOT NULL,
        previous TEXT, since_ms INTEGER NOT NULL, line TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS diary (
        seq INTEGER PRIMARY KEY, time_ms INTEGER NOT NULL, host TEXT NOT NULL,
        tag TEXT NOT NULL, status TEXT NOT NULL, previous TEXT, line TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS diary_counts (
        host TEXT NOT NULL, tag TEXT NOT NULL, status TEXT NOT NULL, n INTEGER NOT NULL,
        PRIMARY KEY (host, tag, status)) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS delivered (
        mail INTEGER NOT NULL, channel TEXT NOT NULL, PRIMARY KEY (mail, channel)) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS held (
        host TEXT NOT NULL, tag TEXT NOT NULL, PRIMARY KEY (host, tag)) WITHOUT ROWID;
";

/// Maintenance windows (sheepdog(7)): those hosts declared, and what each
/// held back, to be told as it stands when its window ends.
const WINDOWS: &str = "
    CREATE TABLE windows (
        host TEXT NOT NULL, tag TEXT NOT NULL, from_ms INTEGER NOT NULL,
        until_ms INTEGER NOT NULL, reason TEXT,
        PRIMARY KEY (host, tag)) WITHOUT ROWID;
    CREATE TABLE held_in_window (
        host TEXT NOT NULL, tag TEXT NOT NULL, until_ms INTEGER NOT NULL,
        line TEXT NOT NULL, before TEXT, failed INTEGER NOT NULL,
        PRIMARY KEY (host, tag)) WITHOUT ROWID;
";

/// Ids of handled events are kept this long: a redelivery later than this
/// is still caught by the event being older than the state.
const SEEN_KEPT_MS: i64 = 30 * 86_400_000;

pub struct State {
    conn: Connection,
    path: PathBuf,
}

/// One notification waiting in the outbox.
#[derive(Clone, Debug)]
pub struct Item {
    pub mail: i64,
    pub notice: Notice,
    pub host: String,
    pub tag: String,
    pub previous: Option<Status>,
    pub since_ms: i64,
    pub line: String,
}

/// What a maintenance window held back of one host and tag.
pub struct Held {
    /// The event its state is now.
    pub line: String,
    /// Its status before the window's first held change.
    pub before: Option<Status>,
    /// Whether it failed (or erred) inside the window.
    pub failed: bool,
}

/// A silence, as `sd-mail silences` lists it.
pub struct Silence {
    pub host: String,
    pub tag: String,
    pub until_ms: i64,
    pub reason: Option<String>,
}

/// What the digest reports: every change, and counts per host and tag.
pub struct Diary {
    pub changes: Vec<(i64, String, String, Status, Option<Status>, String)>,
    pub counts: Vec<(String, String, Status, i64)>,
}

/// `*` in a silence matches every host or every tag.
pub const ANY: &str = "*";

impl State {
    pub fn open(path: &Path) -> Result<State> {
        let mut conn = crate::base::sqlite::open_wal(
            path,
            "mail state",
            "FULL",
            crate::base::sqlite::NewFile::default(),
        )?;
        // The first version had no user_version; its tables are created
        // "IF NOT EXISTS", so migration 0 → 1 takes it as it is.
        crate::base::sqlite::migrate(&mut conn, &[SCHEMA, WINDOWS])
            .map_err(|e| Error::io(format!("migrating mail state {}: {e}", path.display())))?;
        Ok(State {
            conn,
            path: path.to_path_buf(),
        })
    }

    /// A copy of the state at `path` (or an empty one), in a temporary
    /// directory that lives as long as the returned guard: for
    /// `--dry-run`, which must decide as a real run would and keep nothing.
    pub fn scratch_copy(path: &Path) -> Result<(State, tempfile::TempDir)> {
        let fail = |e: &dyn std::fmt::Display| {
            Error::io(format!(
                "copying mail state {} for a preview: {e}",
                path.display()
            ))
        };
        let dir = tempfile::Builder::new()
            .prefix("sd-mail-preview-")
            .tempdir()
            .map_err(|e| fail(&e))?;
        let copy = dir.path().join("mail.db");
        if path.exists() {
            let conn =
                Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                    .map_err(|e| fail(&e))?;
            conn.execute("VACUUM INTO ?1", [copy.to_string_lossy()])
                .map_err(|e| fail(&e))?;
        }
        Ok((State::open(&copy)?, dir))
    }

    pub fn error(&self, doing: &str, e: rusqlite::Error) -> Error {
        Error::io(format!("{doing} mail state {}: {e}", self.path.display()))
    }

    pub fn transaction(&mut self) -> Result<Tx<'_>> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction()
            .map_err(|e| Error::io(format!("writing mail state {}: {e}", path.display())))?;
        Ok(Tx { tx, path })
    }

    /// The outbox, oldest first, grouped by mail.
    pub fn outbox(&self) -> Result<Vec<(i64, i64, Vec<Item>)>> {
        let read = || -> rusqlite::Result<Vec<(i64, i64, Vec<Item>)>> {
            let mut stmt = self.conn.prepare(
                "SELECT mail, due_ms, notice, host, tag, previous, since_ms, line
                 FROM outbox ORDER BY mail, seq",
            )?;
            let mut mails: Vec<(i64, i64, Vec<Item>)> = Vec::new();
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get::<_, i64>(1)?,
                    Item {
                        mail: r.get(0)?,
                        notice: Notice::parse(&r.get::<_, String>(2)?).unwrap_or(Notice::Problem),
                        host: r.get(3)?,
                        tag: r.get(4)?,
                        previous: r.get::<_, Option<String>>(5)?.and_then(|s| s.parse().ok()),
                        since_ms: r.get(6)?,
                        line: r.get(7)?,
                    },
                ))
            })?;
            for row in rows {
                let (due, item) = row?;
                match mails.last_mut() {
                    Some((mail, _, items)) if *mail == item.mail => items.push(item),
                    _ => mails.push((item.mail, due, vec![item])),
                }
            }
            Ok(mails)
        };
        read().map_err(|e| self.error("reading", e))
    }

    /// When the first mail of the outbox is due, if there is one.
    pub fn next_due(&self) -> Result<Option<i64>> {
        self.conn
            .query_row("SELECT min(due_ms) FROM outbox", [], |r| r.get(0))
            .map_err(|e| self.error("reading", e))
    }

    /// Forgets a notification every channel delivered.
    /// When the first window that held something back ends.
    pub fn next_window_end(&self) -> Result<Option<i64>> {
        self.conn
            .query_row("SELECT min(until_ms) FROM held_in_window", [], |r| r.get(0))
            .map_err(|e| self.error("reading", e))
    }

    pub fn sent(&mut self, mail: i64) -> Result<()> {
        let forget = |conn: &Connection| -> rusqlite::Result<()> {
            conn.execute("DELETE FROM outbox WHERE mail = ?1", [mail])?;
            conn.execute("DELETE FROM delivered WHERE mail = ?1", [mail])?;
            Ok(())
        };
        forget(&self.conn).map_err(|e| self.error("writing", e))
    }

    /// Whether one channel has delivered a notification already (another
    /// channel was down, so it is still in the outbox).
    pub fn delivered(&self, mail: i64, channel: &str) -> Result<bool> {
        self.exists(
            "SELECT 1 FROM delivered WHERE mail = ?1 AND channel = ?2",
            params![mail, channel],
        )
    }

    /// Whether a query finds a row.
    fn exists(&self, sql: &str, params: impl rusqlite::Params) -> Result<bool> {
        self.conn
            .query_row(sql, params, |_| Ok(()))
            .optional()
            .map(|found| found.is_some())
            .map_err(|e| self.error("reading", e))
    }

    pub fn set_delivered(&mut self, mail: i64, channel: &str) -> Result<()> {
        self.conn
            .execute(
                "INSERT OR IGNORE INTO delivered (mail, channel) VALUES (?1, ?2)",
                params![mail, channel],
            )
            .map(drop)
            .map_err(|e| self.error("writing", e))
    }

    pub fn silence(&mut self, silence: &Silence) -> Result<()> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO silences (host, tag, until_ms, reason, created_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    silence.host,
                    silence.tag,
                    silence.until_ms,
                    silence.reason,
                    crate::base::time::now_ms()
                ],
            )
            .map(drop)
            .map_err(|e| self.error("writing", e))
    }

    /// Ends a silence early; whether there was one.
    pub fn unsilence(&mut self, host: &str, tag: &str) -> Result<bool> {
        self.conn
            .execute(
                "DELETE FROM silences WHERE host = ?1 AND tag = ?2",
                params![host, tag],
            )
            .map(|n| n > 0)
            .map_err(|e| self.error("writing", e))
    }

    /// Silences still in force, soonest to end first.
    pub fn silences(&self, now_ms: i64) -> Result<Vec<Silence>> {
        let read = || -> rusqlite::Result<Vec<Silence>> {
            let mut stmt = self.conn.prepare(
                "SELECT host, tag, until_ms, reason FROM silences WHERE until_ms > ?1
                 ORDER BY until_ms, host, tag",
            )?;
            stmt.query_map([now_ms], |r| {
                Ok(Silence {
                    host: r.get(0)?,
                    tag: r.get(1)?,
                    until_ms: r.get(2)?,
                    reason: r.get(3)?,
                })
            })?
            .collect()
        };
        read().map_err(|e| self.error("reading", e))
    }

    /// Remembers (or forgets) that a host and tag's problem was held back
    /// by a suppress rule, so its recovery is held back too.
    pub fn set_held(&mut self, host: &str, tag: &str, held: bool) -> Result<()> {
        let sql = if held {
            "INSERT OR IGNORE INTO held (host, tag) VALUES (?1, ?2)"
        } else {
            "DELETE FROM held WHERE host = ?1 AND tag = ?2"
        };
        self.conn
            .execute(sql, params![host, tag])
            .map(drop)
            .map_err(|e| self.error("writing", e))
    }

    pub fn was_held(&self, host: &str, tag: &str) -> Result<bool> {
        self.exists(
            "SELECT 1 FROM held WHERE host = ?1 AND tag = ?2",
            params![host, tag],
        )
    }

    pub fn meta(&self, key: &str) -> Result<Option<i64>> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(|e| self.error("reading", e))
    }

    pub fn set_meta(&mut self, key: &str, value: i64) -> Result<()> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
                params![key, value],
            )
            .map(drop)
            .map_err(|e| self.error("writing", e))
    }

    pub fn diary(&self) -> Result<Diary> {
        let read = || -> rusqlite::Result<Diary> {
            let status = |s: String| s.parse::<Status>().unwrap_or(Status::Info);
            let mut stmt = self.conn.prepare(
                "SELECT time_ms, host, tag, status, previous, line FROM diary ORDER BY time_ms, seq",
            )?;
            let changes = stmt
                .query_map([], |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        status(r.get(3)?),
                        r.get::<_, Option<String>>(4)?.map(status),
                        r.get(5)?,
                    ))
                })?
                .collect::<rusqlite::Result<_>>()?;
            let mut stmt = self.conn.prepare(
                "SELECT host, tag, status, n FROM diary_counts ORDER BY host, tag, status",
            )?;
            let counts = stmt
                .query_map([], |r| {
                    Ok((r.get(0)?, r.get(1)?, status(r.get(2)?), r.get(3)?))
                })?
                .collect::<rusqlite::Result<_>>()?;
            Ok(Diary { changes, counts })
        };
        read().map_err(|e| self.error("reading", e))
    }

    /// Empties the diary once its digest was accepted.
    pub fn clear_diary(&mut self, sent_ms: i64) -> Result<()> {
        self.conn
            .execute_batch("DELETE FROM diary; DELETE FROM diary_counts;")
            .map_err(|e| self.error("writing", e))?;
        self.set_meta("digest_sent_ms", sent_ms)
    }
}

/// One batch's decisions, committed together.
pub struct Tx<'a> {
    tx: Transaction<'a>,
    path: PathBuf,
}

impl Tx<'_> {
    /// One statement of the transaction, kept compiled.
    fn execute(&self, sql: &str, params: impl rusqlite::Params) -> Result<()> {
        self.tx
            .prepare_cached(sql)
            .and_then(|mut s| s.execute(params))
            .map(drop)
            .map_err(|e| self.fail(e))
    }

    fn fail(&self, e: rusqlite::Error) -> Error {
        Error::io(format!("writing mail state {}: {e}", self.path.display()))
    }

    /// Whether this id was handled before; marks it handled.
    pub fn first_sight(&self, id: &str, now_ms: i64) -> Result<bool> {
        self.tx
            .prepare_cached("INSERT OR IGNORE INTO seen (id, time_ms) VALUES (?1, ?2)")
            .and_then(|mut s| s.execute(params![id, now_ms]))
            .map(|n| n == 1)
            .map_err(|e| self.fail(e))
    }

    pub fn tag_state(&self, host: &str, tag: &str) -> Result<Option<TagState>> {
        self.tx
            .prepare_cached(
                "SELECT status, time_ms, id, since_ms, notified, mailed_ms FROM tags
                 WHERE host = ?1 AND tag = ?2",
            )
            .and_then(|mut s| {
                s.query_row(params![host, tag], |r| {
                    Ok(TagState {
                        status: r.get::<_, String>(0)?.parse().unwrap_or(Status::Info),
                        time_ms: r.get(1)?,
                        id: r.get(2)?,
                        since_ms: r.get(3)?,
                        notified: r.get::<_, Option<String>>(4)?.and_then(|s| s.parse().ok()),
                        mailed_ms: r.get(5)?,
                    })
                })
                .optional()
            })
            .map_err(|e| self.fail(e))
    }

    pub fn set_tag_state(&self, host: &str, tag: &str, state: &TagState) -> Result<()> {
        self.execute(
            "INSERT OR REPLACE INTO tags (host, tag, status, time_ms, id, since_ms, notified, mailed_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                    host,
                    tag,
                    state.status.as_str(),
                    state.time_ms,
                    state.id,
                    state.since_ms,
                    state.notified.map(Status::as_str),
                    state.mailed_ms
                ],
        )
    }

    pub fn silenced(&self, host: &str, tag: &str, now_ms: i64) -> Result<bool> {
        self.tx
            .prepare_cached(
                "SELECT 1 FROM silences WHERE until_ms > ?3
                   AND host IN (?1, '*') AND tag IN (?2, '*') LIMIT 1",
            )
            .and_then(|mut s| s.exists(params![host, tag, now_ms]))
            .map_err(|e| self.fail(e))
    }

    /// Puts a notification in the outbox: into the mail still gathering
    /// (due later than now), or a new one due after `group_wait_ms`.
    pub fn queue(&self, item: &Item, now_ms: i64, group_wait_ms: i64) -> Result<()> {
        let open: Option<(i64, i64)> = self
            .tx
            .prepare_cached(
                "SELECT mail, due_ms FROM outbox WHERE due_ms > ?1 ORDER BY mail DESC LIMIT 1",
            )
            .and_then(|mut s| {
                s.query_row([now_ms], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()
            })
            .map_err(|e| self.fail(e))?;
        let (mail, due) = match open {
            Some(open) => open,
            None => {
                let last: i64 = self
                    .tx
                    .query_row("SELECT coalesce(max(mail), 0) FROM outbox", [], |r| {
                        r.get(0)
                    })
                    .map_err(|e| self.fail(e))?;
                (last + 1, now_ms + group_wait_ms)
            }
        };
        self.execute(
            "INSERT INTO outbox (mail, due_ms, notice, host, tag, previous, since_ms, line)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                mail,
                due,
                item.notice.as_str(),
                item.host,
                item.tag,
                item.previous.map(Status::as_str),
                item.since_ms,
                item.line
            ],
        )
    }

    /// Whether the outbox holds a `notice` about the event `id`.
    pub fn queued(&self, id: &str, notice: &str) -> Result<bool> {
        self.tx
            .prepare_cached(
                "SELECT 1 FROM outbox WHERE notice = ?2
                 AND CASE WHEN json_valid(line) THEN json_extract(line, '$.id') END = ?1",
            )
            .and_then(|mut s| s.exists(params![id, notice]))
            .map_err(|e| self.fail(e))
    }

    /// Notes an event for the digest: every change, and a count.
    pub fn write_diary(
        &self,
        time_ms: i64,
        host: &str,
        tag: &str,
        status: Status,
        previous: Option<Status>,
        line: &str,
    ) -> Result<()> {
        if previous != Some(status) {
            self.write_change(time_ms, host, tag, status, previous, line)?;
        }
        self.execute(
            "INSERT INTO diary_counts (host, tag, status, n) VALUES (?1, ?2, ?3, 1)
             ON CONFLICT (host, tag, status) DO UPDATE SET n = n + 1",
            params![host, tag, status.as_str()],
        )
    }

    /// One line among the digest's changes.
    pub fn write_change(
        &self,
        time_ms: i64,
        host: &str,
        tag: &str,
        status: Status,
        previous: Option<Status>,
        line: &str,
    ) -> Result<()> {
        self.execute(
            "INSERT INTO diary (time_ms, host, tag, status, previous, line)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                time_ms,
                host,
                tag,
                status.as_str(),
                previous.map(Status::as_str),
                line
            ],
        )
    }

    /// A host's own window (`kind: maintenance`), unless one declared
    /// later is known; an `until` at its own time ends it.
    pub fn declare_window(
        &self,
        host: &str,
        tag: &str,
        from_ms: i64,
        until_ms: i64,
        reason: Option<&str>,
    ) -> Result<bool> {
        self.tx
            .prepare_cached(
                "INSERT INTO windows (host, tag, from_ms, until_ms, reason) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (host, tag) DO UPDATE SET
                    from_ms = excluded.from_ms, until_ms = excluded.until_ms, reason = excluded.reason
                 WHERE excluded.from_ms >= windows.from_ms",
            )
            .and_then(|mut s| s.execute(params![host, tag, from_ms, until_ms, reason]))
            .map(|changed| changed > 0)
            .map_err(|e| self.fail(e))
    }

    /// The declared window covering `host` and `tag` at `at_ms`: its own
    /// tag's, or the whole host's.
    pub fn declared_window(&self, host: &str, tag: &str, at_ms: i64) -> Result<Option<Window>> {
        self.tx
            .prepare_cached(
                "SELECT until_ms, reason FROM windows
                 WHERE host = ?1 AND tag IN (?2, '*') AND from_ms <= ?3 AND until_ms > ?3
                 ORDER BY until_ms DESC LIMIT 1",
            )
            .and_then(|mut s| {
                s.query_row(params![host, tag, at_ms], |r| {
                    Ok(Window {
                        until_ms: r.get(0)?,
                        reason: r.get(1)?,
                    })
                })
                .optional()
            })
            .map_err(|e| self.fail(e))
    }

    /// Notes that a window held back a change of `host` and `tag`: the
    /// event `line` its state is now, the status `before` the window's
    /// first held change (kept from that one), and whether it failed
    /// inside.
    pub fn hold_in_window(&self, host: &str, tag: &str, until_ms: i64, held: &Held) -> Result<()> {
        self.execute(
            "INSERT INTO held_in_window (host, tag, until_ms, line, before, failed)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (host, tag) DO UPDATE SET until_ms = excluded.until_ms,
                line = excluded.line, failed = max(failed, excluded.failed)",
            params![
                host,
                tag,
                until_ms,
                held.line,
                held.before.map(Status::as_str),
                held.failed
            ],
        )
    }

    /// What windows ended by `now_ms` held back, by host and tag.
    pub fn held_until(&self, now_ms: i64) -> Result<Vec<(String, String, Held)>> {
        self.tx
            .prepare_cached(
                "SELECT host, tag, line, before, failed FROM held_in_window WHERE until_ms <= ?1",
            )
            .and_then(|mut s| {
                s.query_map([now_ms], |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        Held {
                            line: r.get(2)?,
                            before: r.get::<_, Option<String>>(3)?.and_then(|s| s.parse().ok()),
                            failed: r.get(4)?,
                        },
                    ))
                })?
                .collect()
            })
            .map_err(|e| self.fail(e))
    }

    /// A window declared again (ended early, or shortened): what it held
    /// is told by its new end.
    pub fn shorten_held(&self, host: &str, tag: &str, until_ms: i64) -> Result<()> {
        self.execute(
            "UPDATE held_in_window SET until_ms = min(until_ms, ?3)
             WHERE host = ?1 AND (?2 = '*' OR tag = ?2)",
            params![host, tag, until_ms],
        )
    }

    pub fn release_from_window(&self, host: &str, tag: &str) -> Result<()> {
        self.execute(
            "DELETE FROM held_in_window WHERE host = ?1 AND tag = ?2",
            params![host, tag],
        )
    }

    pub fn commit(self, now_ms: i64) -> Result<()> {
        let path = self.path.clone();
        let fail =
            |e: rusqlite::Error| Error::io(format!("writing mail state {}: {e}", path.display()));
        self.tx
            .execute(
                "DELETE FROM seen WHERE time_ms < ?1",
                [now_ms - SEEN_KEPT_MS],
            )
            .map_err(fail)?;
        self.tx.commit().map_err(fail)
    }
}
