//! What the store answers: the rows behind every question of `sd-query`
//! (the board, events, interruption periods, run times, the status page's
//! pairs), and an admin's own `--sql`. This module knows the tables; a
//! question says what it wants as a [`Selection`], and every value goes
//! in as a parameter, never into the SQL's text.

use crate::base::error::{Error, Result};
use crate::event::Status;
use crate::store::schema::IS_SUCCESS;
use rusqlite::types::Value as Sql;
use rusqlite::{Connection, params_from_iter};
use serde_json::{Map, Value};

/// Which rows a question wants.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    /// From then on (milliseconds since the epoch).
    pub since: Option<i64>,
    /// Before then.
    pub until: Option<i64>,
    pub host: Option<String>,
    pub tag: Option<String>,
    pub status: Option<Status>,
    pub kind: Option<String>,
    /// Only these hosts (the ones whose facts matched); `None`: any.
    pub hosts: Option<Vec<String>>,
    /// At most this many (events: the newest).
    pub limit: Option<usize>,
}

impl Selection {
    /// The WHERE clause and its parameters, with times in `time_column`.
    fn conditions(&self, time_column: &str) -> (String, Vec<Sql>) {
        let mut clauses = vec!["1".to_string()];
        let mut params: Vec<Sql> = Vec::new();
        let mut add = |clause: String, value: Sql| {
            params.push(value);
            clauses.push(clause.replace('?', &format!("?{}", params.len())));
        };
        if let Some(since) = self.since {
            add(format!("{time_column} >= ?"), Sql::Integer(since));
        }
        if let Some(until) = self.until {
            add(format!("{time_column} < ?"), Sql::Integer(until));
        }
        if let Some(host) = &self.host {
            add("host = ?".into(), Sql::Text(host.clone()));
        }
        if let Some(tag) = &self.tag {
            add("tag = ?".into(), Sql::Text(tag.clone()));
        }
        if let Some(status) = self.status {
            add("status = ?".into(), Sql::Text(status.as_str().into()));
        }
        if let Some(kind) = &self.kind {
            add("kind = ?".into(), Sql::Text(kind.clone()));
        }
        let mut sql = clauses.join(" AND ");
        if let Some(hosts) = &self.hosts {
            let start = params.len();
            let marks: Vec<String> = (1..=hosts.len())
                .map(|i| format!("?{}", start + i))
                .collect();
            params.extend(hosts.iter().map(|h| Sql::Text(h.clone())));
            sql.push_str(&format!(" AND host IN ({})", marks.join(", ")));
        }
        (sql, params)
    }
}

fn db_error(e: rusqlite::Error) -> Error {
    Error::io(format!("reading the store: {e}"))
}

/// The rows `sql` finds, each made by `row`.
fn rows<T>(
    conn: &Connection,
    sql: &str,
    params: Vec<Sql>,
    row: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>> {
    let read = || -> rusqlite::Result<Vec<T>> {
        conn.prepare(sql)?
            .query_map(params_from_iter(params), row)?
            .collect()
    };
    read().map_err(db_error)
}

/// One pair as the board has it: its newest state-carrying event.
pub struct BoardRow {
    pub host: String,
    pub tag: String,
    pub status: String,
    pub time_ms: i64,
    /// The event itself, unless it was pruned since.
    pub body: Option<String>,
}

/// The board, by host and tag.
pub fn board(conn: &Connection, selection: &Selection) -> Result<Vec<BoardRow>> {
    let (filter, params) = selection.conditions("time_ms");
    let sql = format!(
        "SELECT host, tag, status, time_ms, body FROM (
             SELECT l.host, l.tag, l.status, l.time_ms, e.body, e.kind
             FROM board l LEFT JOIN events e ON e.id = l.id)
         WHERE {filter} ORDER BY host, tag"
    );
    rows(conn, &sql, params, |r| {
        Ok(BoardRow {
            host: r.get(0)?,
            tag: r.get(1)?,
            status: r.get(2)?,
            time_ms: r.get(3)?,
            body: r.get(4)?,
        })
    })
}

/// Hands each event's JSON text to `each` as it is read, oldest first;
/// with a limit, the newest that many. Nothing is gathered: without a
/// limit the order is the time index's (a sort only among events of one
/// millisecond), so any number of events takes the memory of one.
pub fn events(
    conn: &Connection,
    selection: &Selection,
    mut each: impl FnMut(&str) -> Result<()>,
) -> Result<()> {
    let (filter, params) = selection.conditions("time_ms");
    let sql = match selection.limit {
        Some(limit) => format!(
            "SELECT body FROM (SELECT body, time_ms, id FROM events WHERE {filter}
             ORDER BY time_ms DESC, id DESC LIMIT {limit}) ORDER BY time_ms, id"
        ),
        None => format!("SELECT body FROM events WHERE {filter} ORDER BY time_ms, id"),
    };
    let mut stmt = conn.prepare(&sql).map_err(db_error)?;
    let mut found = stmt.query(params_from_iter(params)).map_err(db_error)?;
    while let Some(row) = found.next().map_err(db_error)? {
        let body = row
            .get_ref(0)
            .and_then(|v| Ok(v.as_str()?))
            .map_err(db_error)?;
        each(body)?;
    }
    Ok(())
}

/// One interruption: from a failure to the next success.
pub struct Period {
    pub host: String,
    pub tag: String,
    pub start_ms: i64,
    /// `None`: still open.
    pub end_ms: Option<i64>,
}

/// The periods of the selected pairs that overlap `from` and after
/// (`since` and `until` select by start), by host, tag and start.
pub fn periods(conn: &Connection, selection: &Selection, from: i64) -> Result<Vec<Period>> {
    let (filter, mut params) = selection.conditions("start_ms");
    params.push(Sql::Integer(from));
    let from_mark = params.len();
    // Sorted here, not by SQLite: asked for the order, it walks the key
    // (host, tag, start) through every period the hosts ever had, instead
    // of the (host, end) index through the last month's — 0.78 s against
    // 0.03 s for 18 hosts of a year of a churning herd (bench/scale.sh).
    let sql = format!(
        "SELECT host, tag, start_ms, end_ms FROM interruptions
         WHERE {filter} AND (end_ms IS NULL OR end_ms > ?{from_mark})"
    );
    let mut periods = rows(conn, &sql, params, period)?;
    periods
        .sort_unstable_by(|a, b| (&a.host, &a.tag, a.start_ms).cmp(&(&b.host, &b.tag, b.start_ms)));
    Ok(periods)
}

/// A period from `host, tag, start_ms, end_ms`.
fn period(r: &rusqlite::Row<'_>) -> rusqlite::Result<Period> {
    Ok(Period {
        host: r.get(0)?,
        tag: r.get(1)?,
        start_ms: r.get(2)?,
        end_ms: r.get(3)?,
    })
}

/// Every pair's periods that overlap `from` and after, in no order: the
/// index on the ends finds them without walking every period of the
/// store (the status page's strips).
pub fn recent_periods(conn: &Connection, from: i64) -> Result<Vec<Period>> {
    rows(
        conn,
        "SELECT host, tag, start_ms, end_ms FROM interruptions
         WHERE end_ms IS NULL OR end_ms > ?1",
        vec![Sql::Integer(from)],
        period,
    )
}

/// How long each successful run of each pair took, in time order: `each`
/// is handed one pair at a time (host, tag, the runs' `elapsed_ms`) as
/// the rows are read in the order of the (host, tag, time) index, so the
/// memory is that of the pair with the most runs, not of them all. A run
/// that failed says nothing of how long the job takes.
pub fn run_times(
    conn: &Connection,
    selection: &Selection,
    mut each: impl FnMut(&str, &str, &[i64]) -> Result<()>,
) -> Result<()> {
    let (filter, params) = selection.conditions("time_ms");
    let sql = format!(
        "SELECT host, tag, elapsed_ms FROM events
         WHERE {filter} AND elapsed_ms IS NOT NULL AND {IS_SUCCESS}
         ORDER BY host, tag, time_ms, id"
    );
    let mut stmt = conn.prepare(&sql).map_err(db_error)?;
    let mut found = stmt.query(params_from_iter(params)).map_err(db_error)?;
    let (mut host, mut tag, mut runs) = (String::new(), String::new(), Vec::new());
    while let Some(row) = found.next().map_err(db_error)? {
        let text = |i| -> rusqlite::Result<&str> { Ok(row.get_ref(i)?.as_str()?) };
        let (h, t) = (text(0).map_err(db_error)?, text(1).map_err(db_error)?);
        if h != host || t != tag {
            if !runs.is_empty() {
                each(&host, &tag, &runs)?;
            }
            (host, tag) = (h.to_string(), t.to_string());
            runs.clear();
        }
        runs.push(row.get::<_, i64>(2).map_err(db_error)?);
    }
    if !runs.is_empty() {
        each(&host, &tag, &runs)?;
    }
    Ok(())
}

/// A pair of the board with what a dashboard shows beside its status.
#[derive(Clone, Debug)]
pub struct Pair {
    pub host: String,
    pub tag: String,
    pub status: String,
    /// The board's newest state event.
    pub time_ms: i64,
    pub last_ok_ms: Option<i64>,
    /// Since when the status holds, where the periods say: the start of
    /// the open interruption, or the end of the last one.
    pub since_ms: Option<i64>,
    pub open_interruptions: i64,
    /// How long the run or check of the board's event took.
    pub last_duration_ms: Option<i64>,
    pub msg: Option<String>,
    /// The maintenance window covering it now (not read here: the
    /// server's windows are the store's and the configuration's).
    pub maintenance: Option<crate::event::maintenance::Window>,
}

/// The board with, for each pair, since when its status holds, its last
/// success, its open interruptions and its last run's duration.
pub fn pairs(conn: &Connection, selection: &Selection) -> Result<Vec<Pair>> {
    let (filter, params) = selection.conditions("time_ms");
    // An open period is always its pair's last (the store keeps them
    // so), and periods of a pair do not overlap: the last period, found
    // in one step of the (host, tag, start) key, says whether one is open
    // and since when, or when the last one ended. Its end is -1 while
    // open, NULL when the pair never had one. Inside the subqueries,
    // unqualified names are those of their own table.
    let sql = format!(
        "SELECT host, tag, status, time_ms, last_ok_ms, last_start, last_end, last_ms, msg
         FROM (SELECT b.host, b.tag, b.status, b.time_ms, b.last_ok_ms, e.kind,
                 (SELECT start_ms FROM interruptions
                   WHERE host = b.host AND tag = b.tag
                   ORDER BY start_ms DESC LIMIT 1) AS last_start,
                 (SELECT coalesce(end_ms, -1) FROM interruptions
                   WHERE host = b.host AND tag = b.tag
                   ORDER BY start_ms DESC LIMIT 1) AS last_end,
                 e.elapsed_ms AS last_ms,
                 json_extract(e.body, '$.msg') AS msg
               FROM board b LEFT JOIN events e ON e.id = b.id)
         WHERE {filter} ORDER BY host, tag"
    );
    rows(conn, &sql, params, |r| {
        let last_start: Option<i64> = r.get(5)?;
        let last_end: Option<i64> = r.get(6)?;
        let open = last_end == Some(-1);
        Ok(Pair {
            host: r.get(0)?,
            tag: r.get(1)?,
            status: r.get(2)?,
            time_ms: r.get(3)?,
            last_ok_ms: r.get(4)?,
            since_ms: if open { last_start } else { last_end },
            open_interruptions: i64::from(open),
            last_duration_ms: r.get(7)?,
            msg: r.get(8)?,
            maintenance: None,
        })
    })
}

/// Every host's latest facts, `(host, name, value)`.
pub fn facts(conn: &Connection) -> Result<Vec<(String, String, String)>> {
    rows(
        conn,
        "SELECT host, name, value FROM facts WHERE value IS NOT NULL",
        Vec::new(),
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )
}

/// What an admin's own query found: its column names, and its rows as
/// JSON objects.
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Map<String, Value>>,
}

/// An admin's own query (`sd-query --sql`), on a read-only connection.
/// Their SQL is theirs to get right: a mistake in it is a usage error.
pub fn adhoc(conn: &Connection, sql: &str) -> Result<Table> {
    let mut stmt = conn
        .prepare(sql)
        .map_err(|e| Error::usage(format!("--sql: {e}")))?;
    let names: Vec<String> = stmt.column_names().map(|s| s.to_string()).collect();
    let mut found = stmt.query([]).map_err(|e| adhoc_error(&e))?;
    let mut out = Vec::new();
    while let Some(row) = found.next().map_err(|e| adhoc_error(&e))? {
        let mut m = Map::new();
        for (i, name) in names.iter().enumerate() {
            let value = crate::base::sqlite::json_value(row.get_ref(i).map_err(db_error)?);
            m.insert(name.clone(), value);
        }
        out.push(m);
    }
    Ok(Table {
        columns: names,
        rows: out,
    })
}

fn adhoc_error(e: &rusqlite::Error) -> Error {
    let text = e.to_string();
    if text.contains("readonly") || text.contains("read-only") {
        Error::usage(format!(
            "--sql: the store is opened read-only, so queries cannot change it ({text}); use sqlite3 for maintenance"
        ))
    } else {
        Error::usage(format!("--sql: {text}"))
    }
}
