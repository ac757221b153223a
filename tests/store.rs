//! sd-store on a real SQLite database, read back with rusqlite.

use crate::util::redis::RedisServer;
use crate::util::{TestEnv, wait_until};
use rusqlite::Connection;
use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};

fn event(id: &str, time_s: i64, host: &str, tag: &str, status: &str) -> String {
    format!(
        r#"{{"v":1,"id":"{id}","time":"{}","host":"{host}","tag":"{tag}","kind":"run","status":"{status}"}}"#,
        sheepdog::base::time::format_ms(time_s * 1000)
    )
}

/// `total` events one second apart, ids `PREFIX0`…, over `hosts` hosts
/// and `tags` tags, every `fail_every`th a failure.
fn many_events(prefix: &str, total: i64, hosts: i64, tags: i64, fail_every: i64) -> String {
    (0..total)
        .map(|i| {
            event(
                &format!("{prefix}{i}"),
                1_000_000 + i,
                &format!("h{}", i % hosts),
                &format!("t{}", i % tags),
                if i % fail_every == 0 { "fail" } else { "ok" },
            ) + "\n"
        })
        .collect()
}

fn db(path: &std::path::Path) -> Connection {
    Connection::open(path).unwrap()
}

fn periods(conn: &Connection, host: &str, tag: &str) -> Vec<(i64, Option<i64>, String, String)> {
    let mut stmt = conn
        .prepare(
            "SELECT start_ms / 1000, end_ms / 1000, first_id, last_status FROM interruptions
             WHERE host = ?1 AND tag = ?2 ORDER BY start_ms",
        )
        .unwrap();
    stmt.query_map([host, tag], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

#[test]
fn storing_twice_is_harmless_and_echo_prints_each_event() {
    let env = TestEnv::new();
    let path = env.path("events.db");
    let input: String = (0..500)
        .map(|i| event(&format!("e{i}"), 1000 + i, "h", "t", "ok") + "\n")
        .collect();
    let run = env
        .cmd("sd-store")
        .arg("--echo")
        .arg(&path)
        .stdin(input.clone())
        .expect_code(0);
    assert_eq!(run.stdout().lines().count(), 500);
    env.cmd("sd-store")
        .arg("--echo")
        .arg(&path)
        .stdin(input)
        .expect_code(0);
    let count: i64 = db(&path)
        .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
        .unwrap();
    assert_eq!(count, 500);
    let version: i64 = db(&path)
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, sheepdog::store::schema::VERSION);
    // A new store has pages of 16 KiB (fewer WAL frames per event).
    let page_size: i64 = db(&path)
        .query_row("PRAGMA page_size", [], |r| r.get(0))
        .unwrap();
    assert_eq!(page_size, 16384);
}

#[test]
fn an_event_that_needs_nothing_is_kept_as_written_the_others_are_stamped() {
    let env = TestEnv::new();
    let path = env.path("events.db");
    // Complete, but not as sheepdog would write it (spaces, an escape).
    let as_written = r#"{"v": 1, "id": "w1", "time": "2026-11-20T02:00:01.000Z", "host": "h", "tag": "t\u00e9", "status": "ok", "x": [1.50]}"#;
    let lines = [
        as_written.to_string() + "  ",
        // No host; a time with an offset; an event of the earlier sheepdog.
        r#"{"v":1,"id":"w2","time":"2026-11-20T02:00:02.000Z","tag":"t","status":"fail"}"#.into(),
        r#"{"v":1,"id":"w3","time":"2026-11-20T03:00:03+01:00","host":"h","tag":"t","status":"ok"}"#.into(),
        r#"{"time":"2026-11-20 03:00:04 +0100","host":"h","tag":"t","status":0,"err":"SUCCESS","command":"true"}"#.into(),
    ];
    let run = env
        .cmd("sd-store")
        .arg("--echo")
        .arg(&path)
        .stdin(lines.join("\n") + "\n")
        .expect_code(0);
    let stdout = run.stdout();
    let echoed: Vec<&str> = stdout.lines().collect();
    assert_eq!(echoed[0], as_written, "{echoed:#?}");
    let body = |id: &str| -> String {
        db(&path)
            .query_row("SELECT body FROM events WHERE id = ?1", [id], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(body("w1"), as_written);
    let stamped: serde_json::Value = serde_json::from_str(&body("w2")).unwrap();
    assert_eq!(
        stamped["host"],
        sheepdog::base::ident::short_hostname().as_str()
    );
    assert!(body("w3").contains(r#""time":"2026-11-20T02:00:03.000Z""#));
    let legacy: (String, String) = db(&path)
        .query_row(
            "SELECT status, body FROM events WHERE kind = 'run'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(legacy.0, "ok");
    assert!(legacy.1.starts_with(r#"{"v":1,"id":""#), "{}", legacy.1);
    assert_eq!(echoed.len(), 4);
}

#[test]
fn interruptions_are_right_whatever_the_order_of_arrival() {
    let timeline = [
        event("a", 10, "h", "web", "ok"),
        event("b", 20, "h", "web", "fail"),
        event("c", 25, "h", "web", "warn"),
        event("d", 30, "h", "web", "error"),
        event("e", 40, "h", "web", "info"),
        event("f", 50, "h", "web", "ok"),
        event("g", 60, "h", "web", "ok"),
        event("i", 70, "h", "web", "error"),
        event("j", 80, "h", "web", "fail"),
        event("k", 90, "h", "web", "ok"),
        event("l", 100, "h", "web", "fail"),
    ];
    let expected = vec![
        (20, Some(50), "b".to_string(), "error".to_string()),
        (70, Some(90), "i".to_string(), "fail".to_string()),
        (100, None, "l".to_string(), "fail".to_string()),
    ];
    let env = TestEnv::new();
    // In order, reversed, and a few fixed shuffles, each in its own store
    // and delivered one event per batch.
    let mut orders: Vec<Vec<usize>> = vec![(0..11).collect(), (0..11).rev().collect()];
    orders.push(vec![5, 1, 9, 0, 10, 3, 7, 2, 8, 4, 6]);
    orders.push(vec![10, 8, 6, 4, 2, 0, 1, 3, 5, 7, 9]);
    orders.push(vec![3, 10, 0, 7, 5, 9, 1, 6, 2, 8, 4]);
    for (n, order) in orders.iter().enumerate() {
        let path = env.path(&format!("order{n}.db"));
        for &i in order {
            env.cmd("sd-store")
                .arg(&path)
                .stdin(timeline[i].clone() + "\n")
                .expect_code(0);
        }
        assert_eq!(
            periods(&db(&path), "h", "web"),
            expected,
            "arrival order {order:?}"
        );
        // The same order in one run and one transaction.
        let path = env.path(&format!("order{n}-one-run.db"));
        let input: String = order.iter().map(|&i| timeline[i].clone() + "\n").collect();
        env.cmd("sd-store").arg(&path).stdin(input).expect_code(0);
        assert_eq!(
            periods(&db(&path), "h", "web"),
            expected,
            "arrival order {order:?} in one run"
        );
    }
}

#[test]
fn facts_keep_the_latest_value_and_every_change() {
    let env = TestEnv::new();
    let path = env.path("events.db");
    let facts = |id: &str, t: i64, nginx: &str, mem: u64| {
        format!(
            r#"{{"v":1,"id":"{id}","time":"{}","host":"tux01","tag":"facts","kind":"facts","status":"info","facts":{{"pkg.nginx":"{nginx}","mem_total_bytes":{mem}}}}}"#,
            sheepdog::base::time::format_ms(t * 1000)
        ) + "\n"
    };
    let input = facts("f1", 100, "1.22.1-9", 2 << 30)
        + &facts("f2", 200, "1.22.1-9", 2 << 30)
        + &facts("f3", 300, "1.24.0-2", 2 << 30);
    env.cmd("sd-store").arg(&path).stdin(input).expect_code(0);
    // An older report arriving late does not win.
    env.cmd("sd-store")
        .arg(&path)
        .stdin(facts("f0", 50, "1.18.0-6", 1 << 30))
        .expect_code(0);
    let conn = db(&path);
    let latest: String = conn
        .query_row(
            "SELECT value FROM facts WHERE host='tux01' AND name='pkg.nginx'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(latest, "1.24.0-2");
    let mem: String = conn
        .query_row(
            "SELECT value FROM facts WHERE host='tux01' AND name='mem_total_bytes'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(mem, (2u64 << 30).to_string());
    let history: Vec<(String, i64)> = conn
        .prepare("SELECT value, time_ms / 1000 FROM facts_history WHERE name='pkg.nginx' ORDER BY time_ms")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        history,
        [
            ("1.18.0-6".to_string(), 50),
            ("1.22.1-9".to_string(), 100),
            ("1.24.0-2".to_string(), 300)
        ]
    );
}

#[test]
fn rejected_lines_are_named_and_the_rest_stored() {
    let env = TestEnv::new();
    let path = env.path("events.db");
    let input = format!(
        "{}\nnonsense\n{}\n",
        event("a", 1, "h", "t", "ok"),
        event("b", 2, "h", "t", "fail")
    );
    let run = env
        .cmd("sd-store")
        .arg("--echo")
        .arg(&path)
        .stdin(input)
        .expect_code(65);
    assert_eq!(
        run.stderr(),
        "sd-store: line 2: invalid JSON at column 2: expected ident\n"
    );
    assert_eq!(run.stdout().lines().count(), 2);
}

/// `--keep` deletes the events older than it, keeps what they summarise
/// (the periods, the board, the facts and their history) and gives the
/// space back to the file system (a store made with --keep); `--retain`,
/// its first name, still works, and a store made without it says how to
/// get its space back.
#[test]
fn keep_prunes_old_events_and_keeps_their_summary() {
    let env = TestEnv::new();
    let path = env.path("events.db");
    let now = sheepdog::base::time::now_ms() / 1000;
    let pad = "x".repeat(2000);
    let mut input = String::new();
    for i in 0..3000 {
        let line = event(&format!("old{i}"), now - 500 * 86400 + i, "h", "t", "ok");
        input.push_str(&line.replace("\"status\"", &format!("\"msg\":\"{pad}\",\"status\"")));
        input.push('\n');
    }
    // A failure and its recovery, long ago: a closed period.
    input.push_str(&event("down", now - 450 * 86400, "h", "t", "fail"));
    input.push('\n');
    input.push_str(&event("up", now - 449 * 86400, "h", "t", "ok"));
    input.push('\n');
    input.push_str(&format!(
        r#"{{"v":1,"id":"facts","time":"{}","host":"h","tag":"facts","kind":"facts","status":"info","facts":{{"cpus":4}}}}"#,
        sheepdog::base::time::format_ms((now - 480 * 86400) * 1000)
    ));
    input.push('\n');
    input.push_str(&event("new", now - 10, "h", "t", "ok"));
    input.push('\n');
    // Made for pruning (--keep from its first run) it can shrink.
    env.cmd("sd-store")
        .args(["--keep", "1000d"])
        .arg(&path)
        .stdin(input)
        .expect_code(0);
    let before = std::fs::metadata(&path).unwrap().len();
    let run = env
        .cmd("sd-store")
        .args(["--keep", "400d"])
        .arg(&path)
        .stdin("")
        .expect_code(0);
    assert!(
        run.stderr().contains("pruned 3003 event(s)")
            && run.stderr().contains("given back to the file system"),
        "{}",
        run.report()
    );
    let db = db(&path);
    let count = |sql: &str| -> i64 { db.query_row(sql, [], |r| r.get(0)).unwrap() };
    assert_eq!(count("SELECT count(*) FROM events"), 1, "the new one");
    assert_eq!(
        count("SELECT count(*) FROM interruptions"),
        1,
        "the period stays"
    );
    assert_eq!(count("SELECT count(*) FROM latest"), 1, "the board stays");
    assert_eq!(count("SELECT count(*) FROM facts"), 1, "the facts stay");
    assert!(
        count("SELECT count(*) FROM facts_history") >= 1,
        "and their history"
    );
    drop(db);
    let after = std::fs::metadata(&path).unwrap().len();
    assert!(
        after * 4 < before,
        "the space was given back: {before} bytes before, {after} after"
    );
    // A store made without --keep reuses the space, and says how to give
    // it back.
    let plain = env.path("plain.db");
    let old = format!(
        "{}\n{}\n",
        event("o", now - 500 * 86400, "h", "t", "ok"),
        event("n", now - 10, "h", "t", "ok")
    );
    env.cmd("sd-store").arg(&plain).stdin(old).expect_code(0);
    let run = env
        .cmd("sd-store")
        .args(["--keep", "400d"])
        .arg(&plain)
        .stdin("")
        .expect_code(0);
    assert!(
        run.stderr().contains("pruned 1 event(s)") && run.stderr().contains("VACUUM"),
        "{}",
        run.report()
    );
    // Its first name, and the file's, still do.
    env.write_config("[store]\nretain = \"400d\"\n");
    env.cmd("sd-store").arg(&path).stdin("").expect_code(0);
    env.cmd("sd-store")
        .args(["--retain", "400d"])
        .arg(&path)
        .stdin("")
        .expect_code(0);
}

#[test]
fn killed_mid_import_every_echoed_event_is_there_once() {
    let env = TestEnv::new();
    let path = env.path("events.db");
    let total = 200_000;
    let input = many_events("k", total, 1, 50, 7);
    let mut child = env.cmd("sd-store").arg("--echo").arg(&path).spawn();
    let mut stdin = child.stdin.take().unwrap();
    let feeder = {
        let input = input.clone();
        std::thread::spawn(move || {
            let _ = stdin.write_all(input.as_bytes());
        })
    };
    let mut echoed = HashSet::new();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while echoed.len() < 50_000 {
        line.clear();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "sd-store stopped early"
        );
        let event: serde_json::Value = serde_json::from_str(&line).unwrap();
        echoed.insert(event["id"].as_str().unwrap().to_string());
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let _ = feeder.join();
    {
        let conn = db(&path);
        let check: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok");
        let mut stmt = conn.prepare("SELECT 1 FROM events WHERE id = ?1").unwrap();
        for id in &echoed {
            assert!(
                stmt.exists([id]).unwrap(),
                "echoed {id} is not in the store"
            );
        }
    }
    // Restart and send everything again: each event exactly once.
    env.cmd("sd-store").arg(&path).stdin(input).expect_code(0);
    let count: i64 = db(&path)
        .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
        .unwrap();
    assert_eq!(count, total);
}

#[test]
fn through_redis_into_the_store_end_to_end() {
    let mut env = TestEnv::new();
    let redis = RedisServer::start(env.path("redis"));
    env.set("SD_BROKER", redis.url());
    let path = env.path("events.db");
    let input: String = (0..3000)
        .map(|i| format!("{{\"tag\":\"e2e\",\"status\":\"ok\",\"n\":{i}}}\n"))
        .collect();
    env.cmd("sd-bark").stdin(input).expect_code(0);
    let run = env.receive_into(&path);
    let count: i64 = db(&path)
        .query_row("SELECT count(*) FROM events WHERE tag='e2e'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(count, 3000, "{}", run.report());
    assert!(wait_until(5, || redis
        .cli(&["XLEN", "sheepdog:events"])
        .unwrap()
        .trim()
        == "0"));
}

#[test]
fn a_store_of_an_older_schema_is_migrated_in_place() {
    let env = TestEnv::new();
    let path = env.path("events.db");
    // A version 1 store, as the first sd-store left it: events only.
    {
        let conn = db(&path);
        conn.execute_batch(sheepdog::store::schema::MIGRATIONS[0])
            .unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        let mut insert = conn
            .prepare(
                "INSERT INTO events (id, time_ms, host, tag, kind, status, received_ms, body)
                 VALUES (?1, ?2, ?3, ?4, 'run', ?5, 0, ?6)",
            )
            .unwrap();
        for (id, t, host, tag, status) in [
            ("a", 10, "h1", "web", "ok"),
            ("b", 20, "h1", "web", "fail"),
            ("c", 30, "h1", "web", "info"),
            ("d", 15, "h2", "web", "ok"),
        ] {
            let body = event(id, t, host, tag, status);
            insert
                .execute(rusqlite::params![id, t * 1000, host, tag, status, body])
                .unwrap();
        }
    }
    // The current sd-store migrates it, then keeps the board up to date.
    env.cmd("sd-store")
        .arg(&path)
        .stdin(event("e", 40, "h2", "web", "fail") + "\n")
        .expect_code(0);
    let conn = db(&path);
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, sheepdog::store::schema::VERSION);
    let mut stmt = conn
        .prepare("SELECT host, status, time_ms / 1000, last_ok_ms / 1000 FROM latest ORDER BY host")
        .unwrap();
    let board: Vec<(String, String, i64, i64)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        board,
        [
            ("h1".to_string(), "fail".to_string(), 20, 10),
            ("h2".to_string(), "fail".to_string(), 40, 15),
        ]
    );
    let indexes: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE name = 'events_host_tag_time'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(indexes, 0);
}

type BoardRow = (String, String, String, i64, Option<i64>);

/// The board as `table` holds it (`latest`, or the `board` view).
fn board(path: &std::path::Path, table: &str) -> Vec<BoardRow> {
    let conn = db(path);
    let mut stmt = conn
        .prepare(&format!(
            "SELECT host, tag, status, time_ms / 1000, last_ok_ms / 1000 FROM {table}
             ORDER BY host, tag"
        ))
        .unwrap();
    stmt.query_map([], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

fn row(host: &str, tag: &str, status: &str, time_s: i64, last_ok_s: Option<i64>) -> BoardRow {
    (host.into(), tag.into(), status.into(), time_s, last_ok_s)
}

/// Sends lines to a running `sd-store --echo` and waits for their echo.
fn store_and_wait(
    stdin: &mut std::process::ChildStdin,
    echo: &mut BufReader<std::process::ChildStdout>,
    lines: &[String],
) {
    for line in lines {
        writeln!(stdin, "{line}").unwrap();
    }
    stdin.flush().unwrap();
    for _ in lines {
        let mut echoed = String::new();
        assert!(echo.read_line(&mut echoed).unwrap() > 0, "sd-store stopped");
    }
}

/// Stores a state event the way another program would: in `events`
/// only, leaving the board to sd-store.
fn insert_behind_the_stores_back(path: &std::path::Path, id: &str, time_s: i64, host: &str) {
    db(path)
        .execute(
            "INSERT INTO events (id, time_ms, host, tag, kind, status, received_ms, body)
             VALUES (?1, ?2, ?3, 'web', 'run', 'fail', 0, '{}')",
            rusqlite::params![id, time_s * 1000, host],
        )
        .unwrap();
}

#[test]
fn the_board_is_current_before_it_is_written_and_after_a_kill() {
    let env = TestEnv::new();
    let path = env.path("events.db");
    let mut child = env.cmd("sd-store").arg("--echo").arg(&path).spawn();
    let mut stdin = child.stdin.take().unwrap();
    let mut echo = BufReader::new(child.stdout.take().unwrap());
    store_and_wait(
        &mut stdin,
        &mut echo,
        &[
            event("a", 10, "h1", "web", "ok"),
            event("b", 20, "h1", "web", "fail"),
            event("c", 15, "h2", "web", "ok"),
            event("d", 30, "h2", "db", "warn"),
            event("e", 40, "h1", "web", "info"),
        ],
    );
    let mut expected = vec![
        row("h1", "web", "fail", 20, Some(10)),
        row("h2", "db", "warn", 30, None),
        row("h2", "web", "ok", 15, Some(15)),
    ];
    // Readers see it at once, through the view…
    assert_eq!(board(&path, "board"), expected);
    // …and sd-store writes it to `latest` while its input stays open.
    assert!(
        wait_until(10, || board(&path, "latest") == expected),
        "latest was not written: {:?}",
        board(&path, "latest")
    );

    // Killed before it could write the board again: the view has it all.
    store_and_wait(
        &mut stdin,
        &mut echo,
        &[event("f", 50, "h2", "web", "fail")],
    );
    child.kill().unwrap();
    child.wait().unwrap();
    expected[2] = row("h2", "web", "fail", 50, Some(15));
    assert_eq!(board(&path, "board"), expected);
    let run = env
        .cmd("sd-query")
        .arg(&path)
        .args(["status", "--host", "h2", "--format", "json"])
        .expect_code(0);
    let statuses: Vec<(String, String)> = run
        .stdout()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["tag"].as_str().unwrap().into(),
                v["status"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [("db".into(), "warn".into()), ("web".into(), "fail".into())]
    );

    // An event stored by another program, then sd-store started with
    // nothing to read: it brings `latest` up to date first.
    insert_behind_the_stores_back(&path, "g", 60, "h3");
    expected.push(row("h3", "web", "fail", 60, None));
    assert_eq!(board(&path, "board"), expected);
    env.cmd("sd-store").arg(&path).stdin("").expect_code(0);
    assert_eq!(board(&path, "latest"), expected);
}

#[test]
fn another_writer_between_two_batches_is_not_left_off_the_board() {
    let env = TestEnv::new();
    let path = env.path("events.db");
    let mut child = env.cmd("sd-store").arg("--echo").arg(&path).spawn();
    let mut stdin = child.stdin.take().unwrap();
    let mut echo = BufReader::new(child.stdout.take().unwrap());
    store_and_wait(&mut stdin, &mut echo, &[event("a", 10, "h1", "web", "ok")]);
    insert_behind_the_stores_back(&path, "b", 20, "h2");
    store_and_wait(&mut stdin, &mut echo, &[event("c", 30, "h3", "web", "ok")]);
    drop(stdin);
    assert!(child.wait().unwrap().success());
    let expected = vec![
        row("h1", "web", "ok", 10, Some(10)),
        row("h2", "web", "fail", 20, None),
        row("h3", "web", "ok", 30, Some(30)),
    ];
    assert_eq!(board(&path, "latest"), expected);
    assert_eq!(board(&path, "board"), expected);
}

#[test]
fn the_wal_stays_bounded_under_steady_load_and_readers_do_not_stop_the_writer() {
    let env = TestEnv::new();
    let path = env.path("events.db");
    let total = 150_000;
    let input = many_events("w", total, 100, 7, 11);
    let mut child = env.cmd("sd-store").arg("--echo").arg(&path).spawn();
    let mut stdin = child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || {
        stdin.write_all(input.as_bytes()).unwrap();
        stdin // kept open: sd-store's exit would checkpoint everything
    });
    let mut echo = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    for n in 0..total {
        line.clear();
        assert!(echo.read_line(&mut line).unwrap() > 0, "sd-store stopped");
        if n % 20_000 == 0 {
            // A reader now and then, as sd-query would be; meanwhile the
            // echo is not read, as when sd-recv waits for a slow broker.
            env.cmd("sd-query")
                .arg(&path)
                .args(["status", "--format", "json"])
                .expect_code(0);
            std::thread::sleep(std::time::Duration::from_millis(500));
        }
    }
    // Without checkpoints the WAL would hold every page written: ~100 MB.
    // It restarts at 16 MB; each batch committed before the next
    // checkpoint adds ~3 MB.
    let mut wal = path.clone().into_os_string();
    wal.push("-wal");
    let wal_bytes = std::fs::metadata(&wal).unwrap().len();
    assert!(wal_bytes < 40 << 20, "the WAL grew to {wal_bytes} bytes");
    drop(feeder.join().unwrap());
    let status = child.wait().unwrap();
    assert!(status.success());
    let count: i64 = db(&path)
        .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
        .unwrap();
    assert_eq!(count, total);
}

/// The ids stored, sorted.
fn stored_ids(path: &std::path::Path, table: &str) -> Vec<String> {
    let conn = db(path);
    let mut stmt = conn
        .prepare(&format!("SELECT id FROM {table} ORDER BY id"))
        .unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn events_of_one_instant_never_stop_the_store_through_the_pipeline() {
    // A producer with a clock in seconds: fail, ok, fail at one time, amid
    // a thousand events of other hosts, through sd-bark, Redis, sd-recv
    // and sd-store as the README wires them.
    let mut env = TestEnv::new();
    let redis = RedisServer::start(env.path("redis"));
    env.set("SD_BROKER", redis.url());
    let path = env.path("events.db");
    let mut input = many_events("o", 1000, 20, 5, 10);
    for (id, status) in [("t1", "fail"), ("t2", "ok"), ("t3", "fail")] {
        input += &(event(id, 2_000_000, "clock", "secs", status) + "\n");
    }
    env.cmd("sd-bark").stdin(input.clone()).expect_code(0);
    let run = env.receive_into(&path);
    let mut expected: Vec<String> = input
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    expected.sort();
    assert_eq!(stored_ids(&path, "events"), expected, "{}", run.report());
    assert_eq!(redis.cli(&["XLEN", "sheepdog:dead"]).unwrap().trim(), "0");
    // Within one instant the ok comes first: one period, still open,
    // opened by the smaller id.
    assert_eq!(
        periods(&db(&path), "clock", "secs"),
        vec![(2_000_000, None, "t1".to_string(), "fail".to_string())]
    );
    // The board agrees: within the instant, the failure comes last.
    let on_board: String = db(&path)
        .query_row("SELECT status FROM board WHERE host = 'clock'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(on_board, "fail");
    // The same three again in the other orders, into stores of their own.
    for order in [["t3", "t2", "t1"], ["t2", "t3", "t1"], ["t1", "t3", "t2"]] {
        let other = env.path(&format!("{}.db", order.concat()));
        let lines: String = order
            .iter()
            .map(|id| {
                let status = if *id == "t2" { "ok" } else { "fail" };
                event(id, 2_000_000, "clock", "secs", status) + "\n"
            })
            .collect();
        env.cmd("sd-store").arg(&other).stdin(lines).expect_code(0);
        assert_eq!(
            periods(&db(&other), "clock", "secs"),
            vec![(2_000_000, None, "t1".to_string(), "fail".to_string())],
            "arrival order {order:?}"
        );
    }
    // A failure and a recovery in one instant: the period stays open, and
    // the board, which by id alone would say ok, says fail with it.
    let pair = env.path("pair.db");
    env.cmd("sd-store")
        .arg(&pair)
        .stdin(
            event("a1", 3_000_000, "h", "t", "fail")
                + "\n"
                + &event("a2", 3_000_000, "h", "t", "ok"),
        )
        .expect_code(0);
    assert_eq!(
        periods(&db(&pair), "h", "t"),
        vec![(3_000_000, None, "a1".to_string(), "fail".to_string())]
    );
    let on_board: String = db(&pair)
        .query_row("SELECT status FROM board", [], |r| r.get(0))
        .unwrap();
    assert_eq!(on_board, "fail");
    // And a later batch holding a failure of that instant is stored.
    env.cmd("sd-store")
        .arg(&path)
        .stdin(
            event("t4", 2_000_000, "clock", "secs", "fail")
                + "\n"
                + &event("x", 5, "other", "t", "ok"),
        )
        .expect_code(0);
    assert_eq!(stored_ids(&path, "events").len(), expected.len() + 2);
}

#[test]
fn an_event_the_database_refuses_is_set_aside_alone_and_the_batch_is_stored() {
    let env = TestEnv::new();
    let path = env.path("events.db");
    env.cmd("sd-store").arg(&path).stdin("").expect_code(0);
    // A rule of the admin's own that refuses one event.
    db(&path)
        .execute_batch(
            "CREATE TRIGGER no_poison BEFORE INSERT ON events WHEN NEW.id = 'o250'
             BEGIN SELECT RAISE(ABORT, 'not this one'); END;",
        )
        .unwrap();
    let input = many_events("o", 500, 3, 4, 7);
    let run = env
        .cmd("sd-store")
        .arg("--echo")
        .arg(&path)
        .stdin(input)
        .expect_code(65);
    assert_eq!(
        run.stderr(),
        "sd-store: event o250 (h1 t2): the store refused it: not this one \
         (kept in the table set_aside; the rest of its batch is stored)\n"
    );
    // Every event is accounted for, so every one is echoed.
    let mut echoed = run.ids();
    echoed.sort();
    let mut all: Vec<String> = (0..500).map(|i| format!("o{i}")).collect();
    all.sort();
    assert_eq!(echoed, all);
    let stored = stored_ids(&path, "events");
    assert_eq!(stored.len(), 499);
    assert!(!stored.contains(&"o250".to_string()));
    let (id, reason, body): (String, String, String) = db(&path)
        .query_row("SELECT id, reason, body FROM set_aside", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap();
    assert_eq!((id.as_str(), reason.as_str()), ("o250", "not this one"));
    assert!(body.contains(r#""id":"o250""#), "{body}");
    // The periods and the board saw the others, as if stored alone.
    let board: i64 = db(&path)
        .query_row("SELECT count(*) FROM board", [], |r| r.get(0))
        .unwrap();
    assert_eq!(board, 12);
}

/// A second server catches up from the first one's store: `sd-store
/// --from` takes every event it lacks (once: run again, nothing new), and
/// both then give the same board and the same answer to the seed
/// question. A file that is not a store, or the store itself, is refused.
#[test]
fn a_store_catches_up_from_another_and_answers_the_same() {
    let env = TestEnv::new();
    let now = sheepdog::base::time::now_ms();
    let herd = crate::query::herd(now);
    let (a, b) = (env.path("a.db"), env.path("b.db"));
    env.cmd("sd-store")
        .arg(&a)
        .stdin(herd.clone())
        .expect_code(0);
    // B heard only the first half (it was down for the rest).
    let lines: Vec<&str> = herd.lines().collect();
    let half: String = lines[..lines.len() / 2]
        .iter()
        .map(|l| format!("{l}\n"))
        .collect();
    env.cmd("sd-store").arg(&b).stdin(half).expect_code(0);
    let caught = env
        .cmd("sd-store")
        .arg(&b)
        .arg("--from")
        .arg(&a)
        .expect_code(0);
    let count = |db: &std::path::Path| -> i64 {
        Connection::open(db)
            .unwrap()
            .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(count(&b), count(&a), "{}", caught.report());
    env.cmd("sd-store")
        .arg(&b)
        .arg("--from")
        .arg(&a)
        .expect_code(0);
    assert_eq!(count(&b), count(&a));
    for question in [
        vec!["status", "--format", "json"],
        vec![
            "interruptions",
            "--since",
            "30d",
            "--fact",
            "mem_total_bytes<4GiB",
            "--fact",
            "pkg.nginx=1.24.0",
        ],
    ] {
        // What depends on the moment asked (an age, a start clipped to the
        // window, an open period's length so far) is left out.
        let ask = |db: &std::path::Path| {
            let rows: Vec<serde_json::Value> = env
                .cmd("sd-query")
                .arg(db)
                .args(&question)
                .expect_code(0)
                .lines();
            rows.into_iter()
                .map(|mut row| {
                    for moving in ["age", "age_s", "total", "total_ms", "first_start"] {
                        row.as_object_mut().unwrap().remove(moving);
                    }
                    row
                })
                .collect::<Vec<_>>()
        };
        let (from_a, from_b) = (ask(&a), ask(&b));
        assert!(!from_a.is_empty());
        assert_eq!(from_a, from_b, "{question:?}");
    }
    let not_a_store = env.path("notes.db");
    Connection::open(&not_a_store)
        .unwrap()
        .execute_batch("CREATE TABLE notes (x)")
        .unwrap();
    let run = env
        .cmd("sd-store")
        .arg(&b)
        .arg("--from")
        .arg(&not_a_store)
        .expect_code(2);
    assert!(
        run.stderr().contains("not a sheepdog store"),
        "{}",
        run.report()
    );
    let run = env
        .cmd("sd-store")
        .arg(&b)
        .arg("--from")
        .arg(&b)
        .expect_code(2);
    assert!(
        run.stderr().contains("that is this store"),
        "{}",
        run.report()
    );
}
