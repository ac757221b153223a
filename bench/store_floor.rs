//! What SQLite alone costs for the store's schema: 1,000,000 rows of 200
//! bytes prepared in memory, inserted in transactions of 1,000 with one
//! prepared statement (of one row, or of fifty as sd-store does), nothing
//! else — no JSON, no periods, no facts. The floor under `sd-store`'s
//! import, measured on the same machine.
//!
//! cargo run --release --example store-floor [ROWS]

use rusqlite::{Connection, params};
use std::time::Instant;

const BODY: &str = r#"{"v":1,"id":"ev000000123","time":"2026-10-13T10:05:26.123Z","host":"tux123","tag":"svc12","kind":"heartbeat","status":"ok","reason":"http-200","elapsed_ms":123,"msg":"checked http://localhost/ in 12 ms"}"#;

/// The `events` table of schema 1 without its indexes.
const TABLE: &str = "CREATE TABLE events (id TEXT, time_ms INTEGER NOT NULL, host TEXT NOT NULL,
    tag TEXT NOT NULL, kind TEXT, status TEXT, code INTEGER, elapsed_ms INTEGER,
    received_ms INTEGER NOT NULL, body TEXT NOT NULL);";
const UNIQUE_ID: &str = "CREATE UNIQUE INDEX events_id ON events (id);";
const INDEXES: &str = "CREATE INDEX events_status_time ON events (status, time_ms);
    CREATE INDEX events_tag_time ON events (tag, time_ms);
    CREATE INDEX events_time ON events (time_ms);";
const LATEST: &str = "CREATE TABLE latest (host TEXT NOT NULL, tag TEXT NOT NULL,
    status TEXT NOT NULL, time_ms INTEGER NOT NULL, id TEXT NOT NULL, last_ok_ms INTEGER,
    PRIMARY KEY (host, tag)) WITHOUT ROWID;";
const UPSERT: &str = "INSERT INTO latest (host, tag, status, time_ms, id, last_ok_ms)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (host, tag) DO UPDATE SET
    status = excluded.status, time_ms = excluded.time_ms, id = excluded.id,
    last_ok_ms = coalesce(excluded.last_ok_ms, latest.last_ok_ms)";

struct Variant {
    name: &'static str,
    schema: &'static [&'static str],
    upsert_latest: bool,
    synchronous: &'static str,
    rows_per_insert: usize,
    page_size: u32,
}

fn main() {
    let rows: usize = std::env::args()
        .nth(1)
        .map_or(1_000_000, |n| n.parse().expect("ROWS is a number"));
    let all = &[TABLE, UNIQUE_ID, INDEXES, LATEST][..];
    let variants = [
        Variant {
            name: "table only",
            schema: &[TABLE],
            upsert_latest: false,
            synchronous: "NORMAL",
            rows_per_insert: 1,
            page_size: 4096,
        },
        Variant {
            name: "+ unique id",
            schema: &[TABLE, UNIQUE_ID],
            upsert_latest: false,
            synchronous: "NORMAL",
            rows_per_insert: 1,
            page_size: 4096,
        },
        Variant {
            name: "+ tag, status, time indexes",
            schema: all,
            upsert_latest: false,
            synchronous: "NORMAL",
            rows_per_insert: 1,
            page_size: 4096,
        },
        Variant {
            name: "+ tag, status, time indexes, synchronous=FULL",
            schema: all,
            upsert_latest: false,
            synchronous: "FULL",
            rows_per_insert: 1,
            page_size: 4096,
        },
        Variant {
            name: "+ latest upserted per row",
            schema: all,
            upsert_latest: true,
            synchronous: "NORMAL",
            rows_per_insert: 1,
            page_size: 4096,
        },
        Variant {
            name: "+ tag, status, time indexes, 50 rows per INSERT",
            schema: all,
            upsert_latest: false,
            synchronous: "NORMAL",
            rows_per_insert: 50,
            page_size: 4096,
        },
        Variant {
            name: "the same with 16 KiB pages (as sd-store makes a store)",
            schema: all,
            upsert_latest: false,
            synchronous: "NORMAL",
            rows_per_insert: 50,
            page_size: 16384,
        },
    ];
    let data: Vec<(String, i64, String, String, &str)> = (0..rows)
        .map(|i| {
            (
                format!("ev{i:09}"),
                1_700_000_000_000 + i as i64 * 3456,
                format!("tux{:03}", i % 500),
                format!("svc{}", (i / 500) % 20),
                if i % 100 == 7 { "fail" } else { "ok" },
            )
        })
        .collect();
    let path = std::env::temp_dir().join("sheepdog-store-floor.db");
    println!("| {rows} rows into | rows/s | µs per row |\n|---|---|---|");
    for variant in &variants {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        let mut conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "page_size", variant.page_size)
            .unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.pragma_update(None, "synchronous", variant.synchronous)
            .unwrap();
        conn.pragma_update(None, "cache_size", -65536).unwrap();
        conn.execute_batch(&variant.schema.concat()).unwrap();
        let start = Instant::now();
        let values = vec!["(?,?,?,?,?,?,?,?,?,?)"; variant.rows_per_insert].join(",");
        let sql = format!(
            "INSERT OR IGNORE INTO events (id, time_ms, host, tag, kind, status, code,
             elapsed_ms, received_ms, body) VALUES {values}"
        );
        for chunk in data.chunks(1000) {
            let tx = conn.transaction().unwrap();
            {
                let mut insert = tx.prepare_cached(&sql).unwrap();
                for rows in chunk.chunks(variant.rows_per_insert) {
                    let mut n = 0;
                    for (id, time, host, tag, status) in rows {
                        let row: [&dyn rusqlite::ToSql; 10] = [
                            id,
                            time,
                            host,
                            tag,
                            &"heartbeat",
                            status,
                            &None::<i64>,
                            &123,
                            &0,
                            &BODY,
                        ];
                        for value in row {
                            n += 1;
                            insert.raw_bind_parameter(n, value).unwrap();
                        }
                    }
                    insert.raw_execute().unwrap();
                    if variant.upsert_latest {
                        for (id, time, host, tag, status) in rows {
                            let ok = (*status == "ok").then_some(*time);
                            tx.prepare_cached(UPSERT)
                                .unwrap()
                                .execute(params![host, tag, status, time, id, ok])
                                .unwrap();
                        }
                    }
                }
            }
            tx.commit().unwrap();
        }
        let seconds = start.elapsed().as_secs_f64();
        println!(
            "| {} | {:.0} | {:.2} |",
            variant.name,
            rows as f64 / seconds,
            seconds * 1e6 / rows as f64
        );
    }
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}
