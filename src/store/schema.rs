//! The store's schema (docs/ARCHITECTURE.md §3), versioned with `PRAGMA user_version`
//! so a newer sheepdog migrates an older database in place. Documented in
//! sd-store(1) for people who query it with sqlite3.

use rusqlite::Connection;

/// The `board` view: `latest` with the state events past
/// `board_mark.through` laid over it; `$state` says which events carry
/// state (what migration 4 changed), `$success` which are the job
/// succeeding (what migration 5 changed), `$tag` how the events' tag is
/// read (what migration 8 changed).
macro_rules! board_view {
    ($state:literal, $success:literal) => {
        board_view!($state, $success, "tag")
    };
    ($state:literal, $success:literal, $tag:literal) => {
        concat!(
            "CREATE VIEW board (host, tag, status, time_ms, id, last_ok_ms) AS
                SELECT host, tag, status, time_ms, id, last_ok_ms FROM (
                    SELECT host, tag, status, time_ms, id,
                           max(last_ok_ms) OVER (PARTITION BY host, tag) AS last_ok_ms,
                           row_number() OVER (PARTITION BY host, tag
                               ORDER BY time_ms DESC, status IN ('fail', 'error') DESC, id DESC) AS n
                    FROM (
                        SELECT host, tag, status, time_ms, id, last_ok_ms FROM latest
                        UNION ALL
                        SELECT host, ",
            $tag,
            " AS tag, status, time_ms, id, iif(",
            $success,
            ", time_ms, NULL)
                        FROM events
                        WHERE rowid > (SELECT through FROM board_mark) AND ",
            $state,
            "))
                WHERE n = 1;"
        )
    };
}

/// Each migration takes the database from version N to N+1.
pub const MIGRATIONS: &[&str] = &[
    // 0 → 1
    "
    CREATE TABLE events (
        id          TEXT PRIMARY KEY,
        time_ms     INTEGER NOT NULL,
        host        TEXT NOT NULL,
        tag         TEXT NOT NULL,
        kind        TEXT,
        status      TEXT,
        code        INTEGER,
        elapsed_ms  INTEGER,
        received_ms INTEGER NOT NULL,
        body        TEXT NOT NULL
    );
    CREATE INDEX events_host_tag_time ON events (host, tag, time_ms);
    CREATE INDEX events_status_time ON events (status, time_ms);
    CREATE INDEX events_tag_time ON events (tag, time_ms);
    CREATE INDEX events_time ON events (time_ms);

    CREATE TABLE facts (
        host    TEXT NOT NULL,
        name    TEXT NOT NULL,
        value   TEXT,
        time_ms INTEGER NOT NULL,
        PRIMARY KEY (host, name)
    );
    CREATE TABLE facts_history (
        host    TEXT NOT NULL,
        name    TEXT NOT NULL,
        value   TEXT,
        time_ms INTEGER NOT NULL
    );
    CREATE INDEX facts_history_host_name_time ON facts_history (host, name, time_ms);

    CREATE TABLE interruptions (
        host        TEXT NOT NULL,
        tag         TEXT NOT NULL,
        start_ms    INTEGER NOT NULL,
        end_ms      INTEGER,
        first_id    TEXT NOT NULL,
        last_status TEXT NOT NULL,
        PRIMARY KEY (host, tag, start_ms)
    );
    CREATE INDEX interruptions_end ON interruptions (end_ms);
    ",
    // 1 → 2: the (host, tag, time_ms) index was replaced by `latest`. Its
    // keys scatter each batch's inserts over thousands of B-tree pages (one
    // hot spot per host and tag), and every page touched is written to the
    // WAL again at each commit: it cost three quarters of the import time
    // (52 s → 12 s for 1,000,000 events, bench/store.sh). The board,
    // sd-expect and the interruption tracker read `latest` instead (one row
    // per host and tag); the rare question by host scans a time range.
    "
    DROP INDEX events_host_tag_time;

    CREATE TABLE latest (
        host       TEXT NOT NULL,
        tag        TEXT NOT NULL,
        status     TEXT NOT NULL,
        time_ms    INTEGER NOT NULL,
        id         TEXT NOT NULL,
        last_ok_ms INTEGER,
        PRIMARY KEY (host, tag)
    ) WITHOUT ROWID;
    INSERT INTO latest (host, tag, status, time_ms, id, last_ok_ms)
        SELECT host, tag, status, time_ms, id, last_ok_ms FROM (
            SELECT host, tag, status, time_ms, id,
                   max(CASE WHEN status = 'ok' THEN time_ms END)
                       OVER (PARTITION BY host, tag) AS last_ok_ms,
                   row_number() OVER (PARTITION BY host, tag ORDER BY time_ms DESC, id DESC) AS n
            FROM events WHERE status IN ('ok', 'warn', 'fail', 'error'))
        WHERE n = 1;
    ",
    // 2 → 3: `latest` is written at most once a second (store/board.rs);
    // `board_mark.through` is the rowid up to which it is complete, and
    // the `board` view lays the events past it over `latest`, so readers
    // always see the current board.
    concat!(
        "CREATE TABLE board_mark (through INTEGER NOT NULL);
         INSERT INTO board_mark (through) SELECT coalesce(max(rowid), 0) FROM events;",
        board_view!("status IN ('ok', 'warn', 'fail', 'error')", "status = 'ok'")
    ),
    // 3 → 4: a verdict's `ok` (kind `expect`) is not a success of the job
    // it judges (docs/ARCHITECTURE.md §1, event::Status::state_for): the
    // board takes in only state events, as the writing side does.
    concat!(
        "DROP VIEW board;",
        board_view!(
            "(status IN ('warn', 'fail', 'error') OR (status = 'ok' AND kind IS NOT 'expect'))",
            "status = 'ok'"
        )
    ),
    // 4 → 5: a rule's alert (kind `alert`) is a verdict whose `ok` clears
    // the alert on the board but is not the job succeeding: `last_ok_ms`,
    // what sd-expect's dead man's switch reads, leaves it out. And the
    // conditions keep SQLite off the status index (`+status`): with it, the
    // view read every event of those statuses instead of the few past the
    // mark — 220 ms instead of 3 ms on 1,000,000 events (bench/rules.sh).
    concat!(
        "DROP VIEW board;",
        board_view!(
            "(+status IN ('warn', 'fail', 'error') OR (+status = 'ok' AND +kind IS NOT 'expect'))",
            "(+status = 'ok' AND +kind IS NOT 'expect' AND +kind IS NOT 'alert')"
        )
    ),
    // 5 → 6: an event the store cannot take (a constraint or trigger of
    // the admin's refuses it, it is too big for SQLite) is kept in
    // `set_aside` with the reason, alone, and the rest of its batch is
    // stored (store/mod.rs, Store::insert). And the failures of each host
    // and tag by time: placing an event that arrives out of order looks
    // for the failures around it (store/interruptions.rs), and without
    // this index scanned every event of its tag up to the newest — the
    // import of 100,000 shuffled events went from 0.67 s in order to
    // 15.9 s, 300,000 to 67 s. Failures are a few per cent of the
    // events, so the import in order pays little for it.
    "CREATE TABLE set_aside (
        id          TEXT NOT NULL,
        received_ms INTEGER NOT NULL,
        reason      TEXT NOT NULL,
        body        TEXT NOT NULL
    );
    CREATE INDEX events_failures ON events (host, tag, time_ms)
        WHERE status IN ('fail', 'error');",
    // 6 → 7: within one instant the board takes a failure after an ok, as
    // the periods do (store/board.rs): a job that failed and recovered in
    // the same millisecond is not green on the board while its
    // interruption is open.
    concat!(
        "DROP VIEW board;",
        board_view!(
            "(+status IN ('warn', 'fail', 'error') OR (+status = 'ok' AND +kind IS NOT 'expect'))",
            "(+status = 'ok' AND +kind IS NOT 'expect' AND +kind IS NOT 'alert')"
        )
    ),
    // 7 → 8: the periods of a few hosts that reach into the last month
    // (the seed question, by flags or rules): the key (host, tag, start)
    // reads every period those hosts ever had — 13,000 each on a year of
    // a churning herd — and the index on the ends every host's. This one
    // reads only theirs, and holds what the question asks (covering).
    //
    // And the board of one tag (`state(H, "ping", "fail", _)`, the rules'
    // suppression): SQLite carried the tag into the view and read every
    // event of that tag through (tag, time) — 0.28 s for a tag of a
    // million events, and a ping every minute from fifty hosts is
    // twenty-six million a year — instead of the few past the mark.
    // `+tag` keeps it on the mark.
    concat!(
        "CREATE INDEX interruptions_host_end ON interruptions (host, end_ms, tag, start_ms);
         DROP VIEW board;",
        board_view!(
            "(+status IN ('warn', 'fail', 'error') OR (+status = 'ok' AND +kind IS NOT 'expect'))",
            "(+status = 'ok' AND +kind IS NOT 'expect' AND +kind IS NOT 'alert')",
            "+tag"
        )
    ),
    // 8 → 9: maintenance windows hosts declare (`kind: maintenance`, its
    // `until`), the newest per host and tag, kept by a trigger as the
    // events come: the board, sd-expect and the rules ask for the windows
    // in force without reading the events (server/maintenance.rs).
    "CREATE TABLE windows (
        host     TEXT NOT NULL,
        tag      TEXT NOT NULL,
        from_ms  INTEGER NOT NULL,
        until_ms INTEGER NOT NULL,
        reason   TEXT,
        PRIMARY KEY (host, tag)
    ) WITHOUT ROWID;
    CREATE TRIGGER events_windows AFTER INSERT ON events
    WHEN new.kind = 'maintenance' AND json_valid(new.body)
        AND julianday(json_extract(new.body, '$.until')) IS NOT NULL
    BEGIN
        INSERT INTO windows (host, tag, from_ms, until_ms, reason)
        SELECT new.host, new.tag, new.time_ms,
               CAST(round((julianday(json_extract(new.body, '$.until')) - 2440587.5) * 86400000) AS INTEGER),
               json_extract(new.body, '$.maintenance_reason')
        WHERE true
        ON CONFLICT (host, tag) DO UPDATE SET
            from_ms = excluded.from_ms, until_ms = excluded.until_ms, reason = excluded.reason
        WHERE excluded.from_ms >= windows.from_ms;
    END;",
];

/// The SQL condition for an event that carries state, as
/// [`Status::state_for`](crate::event::Status::state_for) decides it.
/// (`+status`: the status index is no way to find a few events; see
/// migration 5.)
pub const IS_STATE_EVENT: &str =
    "(+status IN ('warn', 'fail', 'error') OR (+status = 'ok' AND +kind IS NOT 'expect'))";
/// The SQL condition for an event that counts as the job succeeding
/// ([`is_success`](crate::event::is_success)).
pub const IS_SUCCESS: &str = "(+status = 'ok' AND +kind IS NOT 'expect' AND +kind IS NOT 'alert')";
/// The SQL condition for an `ok` that carries state: it ends an
/// interruption (an alert's `ok` ends the alert's).
pub const IS_STATE_OK: &str = "(+status = 'ok' AND +kind IS NOT 'expect')";

pub const VERSION: i64 = MIGRATIONS.len() as i64;

/// Brings the database up to [`VERSION`]; fails on a newer one.
pub fn migrate(conn: &mut Connection) -> Result<(), String> {
    crate::base::sqlite::migrate(conn, MIGRATIONS)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The SQL says what `event::is_success` and `Status::state_for`
    /// say: every verdict kind is left out of success, in the conditions
    /// and the board's view, and every report kind out of state.
    #[test]
    fn the_sql_knows_every_verdict_kind() {
        let board = MIGRATIONS
            .iter()
            .rfind(|m| m.contains("CREATE VIEW board"))
            .unwrap();
        assert!(board.contains(IS_STATE_EVENT) && board.contains(IS_SUCCESS));
        let last_ok = &board[board.find("iif(").unwrap()..board.find("time_ms, NULL)").unwrap()];
        for kind in crate::event::VERDICT_KINDS {
            let excluded = format!("kind IS NOT '{kind}'");
            assert!(IS_SUCCESS.contains(&excluded), "{IS_SUCCESS}");
            assert!(last_ok.contains(&excluded), "{last_ok}");
        }
        for kind in crate::event::REPORT_KINDS {
            let excluded = format!("kind IS NOT '{kind}'");
            assert!(IS_STATE_EVENT.contains(&excluded), "{IS_STATE_EVENT}");
            assert!(IS_STATE_OK.contains(&excluded), "{IS_STATE_OK}");
        }
    }
}
