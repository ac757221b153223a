//! The board with what a dashboard shows beside each status: since when it
//! holds, the last success, open interruptions, the last run's duration.
//! Read once, written as metrics (`--format openmetrics`) or as a page
//! (`--format html`).

use super::{Filters, conditions, rows};
use crate::base::error::Result;
use crate::store::facts::hosts_matching;
use rusqlite::Connection;

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
}

pub fn read(conn: &Connection, f: &Filters) -> Result<Vec<Pair>> {
    let hosts = hosts_matching(conn, &f.fact)?;
    let (filter, params) = conditions(f, f.since, &hosts, "time_ms");
    // Inside the correlated subqueries, unqualified names are those of
    // their own table: the interruptions, or the events of the pair.
    let sql = format!(
        "SELECT host, tag, status, time_ms, last_ok_ms, open, open_since, last_end, last_ms, msg
         FROM (SELECT b.host, b.tag, b.status, b.time_ms, b.last_ok_ms, e.kind,
                 (SELECT count(*) FROM interruptions
                   WHERE host = b.host AND tag = b.tag AND end_ms IS NULL) AS open,
                 (SELECT min(start_ms) FROM interruptions
                   WHERE host = b.host AND tag = b.tag AND end_ms IS NULL) AS open_since,
                 (SELECT max(end_ms) FROM interruptions
                   WHERE host = b.host AND tag = b.tag) AS last_end,
                 e.elapsed_ms AS last_ms,
                 json_extract(e.body, '$.msg') AS msg
               FROM board b LEFT JOIN events e ON e.id = b.id)
         WHERE {filter} ORDER BY host, tag"
    );
    rows(conn, &sql, params, |r| {
        let open: i64 = r.get(5)?;
        let open_since: Option<i64> = r.get(6)?;
        let last_end: Option<i64> = r.get(7)?;
        Ok(Pair {
            host: r.get(0)?,
            tag: r.get(1)?,
            status: r.get(2)?,
            time_ms: r.get(3)?,
            last_ok_ms: r.get(4)?,
            since_ms: if open > 0 { open_since } else { last_end },
            open_interruptions: open,
            last_duration_ms: r.get(8)?,
            msg: r.get(9)?,
        })
    })
}
