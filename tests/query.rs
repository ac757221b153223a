//! sd-query on a store filled through sd-store: the board, events, and
//! the question the project was started for, on a fixture herd whose right
//! answer is stated here.

use crate::util::TestEnv;
use serde::Deserialize;

const MIN: i64 = 60_000;
const DAY: i64 = 86_400_000;

fn ev(id: &str, at: i64, host: &str, tag: &str, status: &str) -> String {
    format!(
        r#"{{"v":1,"id":"{id}","time":"{}","host":"{host}","tag":"{tag}","kind":"heartbeat","status":"{status}","msg":"{tag} is {status}"}}"#,
        sheepdog::base::time::format_ms(at)
    ) + "\n"
}

fn facts(host: &str, at: i64, mem: u64, nginx: &str) -> String {
    format!(
        r#"{{"v":1,"id":"facts-{host}","time":"{}","host":"{host}","tag":"facts","kind":"facts","status":"info","facts":{{"mem_total_bytes":{mem},"pkg.nginx":"{nginx}","os":"Debian GNU/Linux 12 (bookworm)"}}}}"#,
        sheepdog::base::time::format_ms(at)
    ) + "\n"
}

/// Five hosts; the comments say which belong in the answer.
pub fn herd(now: i64) -> String {
    const GIB: u64 = 1 << 30;
    let mut s = String::new();
    // tux01: 2 GiB, nginx 1.24.0-2+deb12u1 — in the answer.
    s += &facts("tux01", now - DAY, 2 * GIB, "1.24.0-2+deb12u1");
    s += &ev("a1", now - 5 * DAY, "tux01", "web", "ok");
    s += &ev("a2", now - 4 * DAY, "tux01", "web", "fail");
    s += &ev("a3", now - 4 * DAY + 5 * MIN, "tux01", "web", "error");
    s += &ev("a4", now - 4 * DAY + 10 * MIN, "tux01", "web", "ok");
    s += &ev("a5", now - 3 * DAY, "tux01", "web", "fail");
    s += &ev("a6", now - 3 * DAY + 10 * MIN, "tux01", "web", "ok");
    s += &ev("a7", now - 40 * DAY, "tux01", "db", "fail"); // outside the window
    s += &ev("a8", now - 39 * DAY, "tux01", "db", "ok");
    s += &ev("a9", now - 2 * DAY, "tux01", "cron", "fail"); // still open
    // tux02: 2 GiB but nginx 1.22 — not in the answer.
    s += &facts("tux02", now - DAY, 2 * GIB, "1.22.1-9");
    s += &ev("b1", now - 2 * DAY, "tux02", "web", "fail");
    s += &ev("b2", now - 2 * DAY + MIN, "tux02", "web", "ok");
    // tux03: nginx 1.24.0 but 16 GiB — not in the answer.
    s += &facts("tux03", now - DAY, 16 * GIB, "1.24.0-2+deb12u1");
    s += &ev("c1", now - 2 * DAY, "tux03", "web", "fail");
    s += &ev("c2", now - 2 * DAY + MIN, "tux03", "web", "ok");
    // tux04: matches the facts, but nothing went wrong.
    s += &facts("tux04", now - DAY, GIB, "1.24.0-1");
    s += &ev("d1", now - DAY, "tux04", "web", "ok");
    // tux05: matches; a period from 35 to 29 days ago, clipped to the window.
    s += &facts("tux05", now - DAY, 3 * GIB, "1.24.0-2+deb12u1");
    s += &ev("e1", now - 35 * DAY, "tux05", "mail", "fail");
    s += &ev("e2", now - 29 * DAY, "tux05", "mail", "ok");
    s
}

#[derive(Debug, Deserialize)]
struct Interruption {
    host: String,
    tag: String,
    count: u64,
    open: bool,
    total_ms: i64,
}

#[test]
fn the_question_the_project_was_started_for() {
    let env = TestEnv::new();
    let db = env.path("events.db");
    let now = sheepdog::base::time::now_ms();
    env.cmd("sd-store").arg(&db).stdin(herd(now)).expect_code(0);
    let run = env
        .cmd("sd-query")
        .arg(&db)
        .args([
            "interruptions",
            "--since",
            "30d",
            "--fact",
            "mem_total_bytes<4GiB",
            "--fact",
            "pkg.nginx=1.24.0",
        ])
        .expect_code(0);
    let rows: Vec<Interruption> = run.lines();
    let keys: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r.host.as_str(), r.tag.as_str()))
        .collect();
    assert_eq!(
        keys,
        [("tux01", "cron"), ("tux01", "web"), ("tux05", "mail")],
        "{}",
        run.report()
    );
    let near = |got: i64, want: i64| (got - want).abs() < 10_000;
    assert!(
        rows[0].open && rows[0].count == 1 && near(rows[0].total_ms, 2 * DAY),
        "{:?}",
        rows[0]
    );
    assert!(
        !rows[1].open && rows[1].count == 2 && rows[1].total_ms == 20 * MIN,
        "{:?}",
        rows[1]
    );
    assert!(
        !rows[2].open && rows[2].count == 1 && near(rows[2].total_ms, DAY),
        "clipped: {:?}",
        rows[2]
    );
}

#[test]
fn status_is_the_latest_state_of_every_host_and_tag() {
    let env = TestEnv::new();
    let db = env.path("events.db");
    let now = sheepdog::base::time::now_ms();
    env.cmd("sd-store").arg(&db).stdin(herd(now)).expect_code(0);
    #[derive(Deserialize)]
    struct Row {
        host: String,
        tag: String,
        status: String,
    }
    let rows: Vec<Row> = env
        .cmd("sd-query")
        .arg(&db)
        .arg("status")
        .expect_code(0)
        .lines();
    let board: Vec<(String, String, String)> = rows
        .into_iter()
        .map(|r| (r.host, r.tag, r.status))
        .collect();
    let want = [
        ("tux01", "cron", "fail"),
        ("tux01", "db", "ok"),
        ("tux01", "web", "ok"),
        ("tux02", "web", "ok"),
        ("tux03", "web", "ok"),
        ("tux04", "web", "ok"),
        ("tux05", "mail", "ok"),
    ];
    let want: Vec<(String, String, String)> = want
        .iter()
        .map(|(h, t, s)| (h.to_string(), t.to_string(), s.to_string()))
        .collect();
    assert_eq!(board, want);
    // A table for people, without colour codes when NO_COLOR is set.
    let table = env
        .cmd("sd-query")
        .arg(&db)
        .args(["status", "--format", "table"])
        .env("NO_COLOR", "1")
        .expect_code(0);
    assert!(table.stdout().starts_with("HOST "), "{}", table.report());
    assert!(!table.stdout().contains('\x1b'));
}

#[test]
fn events_are_filtered() {
    let env = TestEnv::new();
    let db = env.path("events.db");
    let now = sheepdog::base::time::now_ms();
    env.cmd("sd-store").arg(&db).stdin(herd(now)).expect_code(0);
    let ids = |args: &[&str]| -> Vec<String> {
        let rows: Vec<serde_json::Value> = env
            .cmd("sd-query")
            .arg(&db)
            .arg("events")
            .args(args)
            .expect_code(0)
            .lines();
        rows.iter()
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        ids(&["--since", "3d", "--status", "fail"]),
        ["a9", "b1", "c1"]
    );
    assert_eq!(
        ids(&["--since", "50d", "--host", "tux01", "--tag", "db"]),
        ["a7", "a8"]
    );
    assert_eq!(
        ids(&["--since", "2d", "--kind", "facts"]),
        [
            "facts-tux01",
            "facts-tux02",
            "facts-tux03",
            "facts-tux04",
            "facts-tux05"
        ]
    );
    assert_eq!(
        ids(&["--since", "50d", "--fact", "mem_total_bytes>8GiB"]),
        ["c1", "c2", "facts-tux03"]
    );
    assert_eq!(
        ids(&["--since", "50d", "--status", "fail", "--limit", "2"]),
        ["b1", "c1"],
        "the newest two"
    );
}

#[test]
fn sql_is_read_only() {
    let env = TestEnv::new();
    let db = env.path("events.db");
    env.cmd("sd-store")
        .arg(&db)
        .stdin(herd(sheepdog::base::time::now_ms()))
        .expect_code(0);
    let rows: Vec<serde_json::Value> = env
        .cmd("sd-query")
        .arg(&db)
        .args([
            "--sql",
            "SELECT host, count(*) AS n FROM events GROUP BY host ORDER BY host",
        ])
        .expect_code(0)
        .lines();
    assert_eq!(rows[0]["host"], "tux01");
    assert_eq!(rows[0]["n"], 10);
    let run = env
        .cmd("sd-query")
        .arg(&db)
        .args(["--sql", "DELETE FROM events"])
        .expect_code(2);
    assert!(
        run.stderr().contains("opened read-only"),
        "{}",
        run.report()
    );
    let count: i64 = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
        .unwrap();
    assert_eq!(count, 21);
    let run = env
        .cmd("sd-query")
        .arg(&db)
        .args(["interruptions", "--fact", "nginx"])
        .expect_code(2);
    assert!(
        run.stderr().contains("expected NAME OP VALUE"),
        "{}",
        run.report()
    );
}

#[test]
fn the_dead_mans_switch_fails_when_an_ok_is_overdue() {
    let env = TestEnv::new();
    let db = env.path("events.db");
    let now = sheepdog::base::time::now_ms();
    let mut input = String::new();
    input += &ev("k1", now - 30 * 3_600_000, "tux01", "BORG", "ok"); // 30 h ago: overdue
    input += &ev("k2", now - 2 * 3_600_000, "tux02", "BORG", "ok"); // fresh
    input += &ev("k3", now - 3_600_000, "tux01", "BORG", "info"); // a start marker: does not count
    env.cmd("sd-store").arg(&db).stdin(input).expect_code(0);
    let run = env
        .cmd("sd-expect")
        .arg(&db)
        .args(["--tag", "BORG", "--within", "26h"])
        .expect_code(1);
    let events: Vec<crate::util::Event> = run.lines();
    let verdicts: Vec<(&str, &str, &str)> = events
        .iter()
        .map(|e| (e.host.as_str(), e.status.as_str(), e.tag.as_str()))
        .collect();
    assert_eq!(
        verdicts,
        [("tux01", "fail", "BORG"), ("tux02", "ok", "BORG")]
    );
    assert_eq!(events[0].kind, "expect");
    assert!(
        events[0]
            .msg
            .as_deref()
            .unwrap()
            .contains("has not succeeded for 1d 6h (expected within 1d 2h)"),
        "{:?}",
        events[0].msg
    );

    let run = env
        .cmd("sd-expect")
        .arg(&db)
        .args(["--tag", "BORG", "--host", "tux02", "--within", "26h"])
        .expect_code(0);
    let event: crate::util::Event = run.event();
    assert_eq!(event.status, "ok");

    let run = env
        .cmd("sd-expect")
        .arg(&db)
        .args(["--tag", "NEVER", "--within", "1h"])
        .expect_code(1);
    let event: crate::util::Event = run.event();
    assert_eq!(event.reason.as_deref(), Some("never-seen"));
}

/// --since and --until take absolute times as well as durations.
#[test]
fn windows_take_dates_times_and_words() {
    let env = TestEnv::new();
    let db = env.path("events.db");
    let at = |text: &str| sheepdog::base::time::parse_rfc3339_ms(text).unwrap();
    let mut input = String::new();
    input += &ev("d1", at("2026-10-31T23:00:00Z"), "tux01", "web", "fail");
    input += &ev("d2", at("2026-11-01T10:00:00Z"), "tux01", "web", "ok");
    input += &ev("d3", at("2026-11-02T10:00:00Z"), "tux01", "web", "fail");
    input += &ev("d4", at("2026-11-03T10:00:00Z"), "tux01", "web", "ok");
    env.cmd("sd-store").arg(&db).stdin(input).expect_code(0);
    let ids = |args: &[&str]| -> Vec<String> {
        env.cmd("sd-query")
            .arg(&db)
            .arg("events")
            .args(args)
            .env("TZ", "UTC")
            .expect_code(0)
            .ids()
    };
    assert_eq!(
        ids(&["--since", "2026-11-01", "--until", "2026-11-02"]),
        ["d2"]
    );
    assert_eq!(
        ids(&["--since", "2026-11-01T00:00:00Z", "--until", "today"]),
        ["d2", "d3", "d4"]
    );
    assert_eq!(
        ids(&["--since", "2026-10-01", "--until", "2026-11-01T10:00:00Z"]),
        ["d1"]
    );
    // Interruptions are clipped to the window.
    let rows: Vec<Interruption> = env
        .cmd("sd-query")
        .arg(&db)
        .args([
            "interruptions",
            "--since",
            "2026-11-02",
            "--until",
            "2026-11-02T12:00:00Z",
        ])
        .env("TZ", "UTC")
        .expect_code(0)
        .lines();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!((rows[0].count, rows[0].total_ms), (1, 2 * 60 * MIN));
    let run = env
        .cmd("sd-query")
        .arg(&db)
        .args(["events", "--since", "last tuesday"])
        .expect_code(2);
    assert!(run.stderr().contains("2026-11-01"), "{}", run.report());
}

/// The store is named before the question or after it, and --help says
/// which one this user gets by default.
#[test]
fn the_store_is_named_before_or_after_the_question() {
    let env = TestEnv::new();
    let db = env.path("events.db");
    let now = sheepdog::base::time::now_ms();
    env.cmd("sd-store").arg(&db).stdin(herd(now)).expect_code(0);
    let before = env.cmd("sd-query").arg(&db).arg("status").expect_code(0);
    let after = env.cmd("sd-query").arg("status").arg(&db).expect_code(0);
    let board = |run: &crate::util::Run| -> Vec<(String, String, String)> {
        run.lines::<serde_json::Value>()
            .iter()
            .map(|r| {
                (
                    r["host"].to_string(),
                    r["tag"].to_string(),
                    r["status"].to_string(),
                )
            })
            .collect()
    };
    assert_eq!(board(&before).len(), 7);
    assert_eq!(board(&before), board(&after));
    env.cmd("sd-query")
        .arg(&db)
        .args(["events", "--since", "30d"])
        .arg(env.path("other.db"))
        .expect_code(2);
    let help = env
        .cmd("sd-query")
        .args(["status", "--help"])
        .expect_code(0);
    let default = env.path("data/sheepdog/events.db");
    let text = help
        .stdout()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        text.contains(&format!("[here: {}]", default.display())),
        "{}",
        help.report()
    );
}

/// `sd-query status --check` is itself a check: exit 1 when a tag shown
/// is failing, warnings too with --warn.
#[test]
fn the_board_as_a_check() {
    let env = TestEnv::new();
    let db = env.path("events.db");
    let now = sheepdog::base::time::now_ms();
    let mut input = String::new();
    input += &ev("c1", now - MIN, "tux01", "web", "ok");
    input += &ev("c2", now - MIN, "tux01", "disk", "warn");
    input += &ev("c3", now - MIN, "tux02", "web", "fail");
    env.cmd("sd-store").arg(&db).stdin(input).expect_code(0);
    let check = |args: &[&str]| {
        env.cmd("sd-query")
            .arg(&db)
            .args(["status", "--check"])
            .args(args)
            .run()
            .code()
    };
    assert_eq!(check(&[]), Some(1));
    assert_eq!(check(&["--host", "tux01"]), Some(0));
    assert_eq!(check(&["--host", "tux01", "--warn"]), Some(1));
    assert_eq!(
        check(&["--host", "tux01", "--tag", "web", "--warn"]),
        Some(0)
    );
    // Without --check the board is only shown.
    env.cmd("sd-query").arg(&db).arg("status").expect_code(0);
}

/// A store named by hand in a directory that does not exist is a typo,
/// not a new empty store; the default directory is created.
#[test]
fn a_store_in_a_missing_directory_is_an_error_but_the_default_is_made() {
    let env = TestEnv::new();
    let typo = env.path("no-such-dir/events.db");
    let run = env
        .cmd("sd-store")
        .arg(&typo)
        .stdin(ev("s1", 0, "h", "t", "ok"))
        .expect_code(2);
    assert!(
        run.stderr().contains(&format!(
            "no directory {}",
            env.path("no-such-dir").display()
        )),
        "{}",
        run.report()
    );
    assert!(!env.path("no-such-dir").exists());
    env.cmd("sd-store")
        .stdin(ev("s1", sheepdog::base::time::now_ms(), "h", "t", "ok"))
        .expect_code(0);
    assert!(env.path("data/sheepdog/events.db").is_file());
}

/// `sd-query events` prints as it reads: a store of 300 MB answers in
/// full under an address-space limit of 128 MiB (it used to gather every
/// row first, gigabytes for a year of a herd).
#[test]
fn events_stream_from_a_store_larger_than_the_memory_they_may_use() {
    if !crate::util::have("prlimit") {
        crate::util::skip(
            "events_stream_from_a_store_larger_than_the_memory_they_may_use",
            "needs prlimit (util-linux)",
        );
        return;
    }
    let env = TestEnv::new();
    let db = env.path("events.db");
    let now = sheepdog::base::time::now_ms() / 1000;
    let pad = "x".repeat(5000);
    let total = 60_000;
    let mut input = String::with_capacity(total * 5200);
    for i in 0..total as i64 {
        input.push_str(&format!(
            r#"{{"v":1,"id":"e{i}","time":"{}","host":"h{}","tag":"t","kind":"run","status":"ok","msg":"{pad}"}}"#,
            sheepdog::base::time::format_ms((now - 50 * 86400 + i) * 1000),
            i % 7
        ));
        input.push('\n');
    }
    env.cmd("sd-store").arg(&db).stdin(input).expect_code(0);
    let size = std::fs::metadata(&db).unwrap().len();
    assert!(size > 256 << 20, "the store is {size} bytes");
    let out = env.path("events.out");
    let status = env
        .external("prlimit", "prlimit --as=128MiB sd-query events")
        .arg(format!("--as={}", 128u64 << 20))
        .arg(crate::util::bin("sd-query"))
        .arg(&db)
        .args(["events", "--since", "100d", "--format", "json"])
        .spawn_to(&out, &env.path("events.err"))
        .wait()
        .unwrap();
    let err = std::fs::read_to_string(env.path("events.err")).unwrap();
    assert!(status.success(), "{status}: {err}");
    let file = std::fs::File::open(&out).unwrap();
    let lines = std::io::BufRead::lines(std::io::BufReader::new(file)).count();
    assert_eq!(lines, total);
}
