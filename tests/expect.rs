//! sd-expect, the dead man's switch, wired as the README's crontab wires
//! it: its verdicts go through sd-bark, Redis, sd-recv and sd-store into
//! the very store it reads at its next run.

use crate::util::TestEnv;
use crate::util::redis::RedisServer;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct Board {
    host: String,
    status: String,
}

#[derive(Debug, Deserialize)]
struct Period {
    tag: String,
    count: u64,
    open: bool,
}

/// `COMMAND | sd-bark`, as a crontab line runs it; returns the command's
/// exit status.
fn bark(env: &TestEnv, program: &str, args: &[&str]) -> Option<i32> {
    let run = env.cmd(program).args(args).run();
    env.cmd("sd-bark").stdin(run.stdout()).expect_code(0);
    run.code()
}

fn board(env: &TestEnv, db: &std::path::Path, tag: &str) -> Vec<(String, String)> {
    let rows: Vec<Board> = env
        .cmd("sd-query")
        .arg(db)
        .args(["status", "--tag", tag])
        .expect_code(0)
        .lines();
    rows.into_iter().map(|r| (r.host, r.status)).collect()
}

fn periods(env: &TestEnv, db: &std::path::Path, tag: &str) -> Vec<(u64, bool)> {
    let rows: Vec<Period> = env
        .cmd("sd-query")
        .arg(db)
        .args(["interruptions", "--since", "1h", "--tag", tag])
        .expect_code(0)
        .lines();
    rows.into_iter()
        .filter(|p| p.tag == tag)
        .map(|p| (p.count, p.open))
        .collect()
}

#[test]
fn the_switch_wired_through_the_store_still_fires_when_the_job_stops() {
    let mut env = TestEnv::new();
    let redis = RedisServer::start(env.path("redis"));
    env.set("SD_BROKER", redis.url());
    let db = env.path("events.db");
    let host = sheepdog::base::ident::short_hostname();

    // The job succeeds once, then stops running.
    assert_eq!(
        bark(&env, "sd-run", &["--tag", "NIGHTLY", "--", "true"]),
        Some(0)
    );
    env.receive_into(&db);

    // Every second the switch runs and its verdict goes back into the
    // store. Its own `ok` must not count as the job succeeding: within a
    // few seconds of the window it has to say `fail`. (A window of 6 s:
    // the first verdict, fresh, needs five commands done within it.)
    let db_arg = db.to_str().unwrap();
    let args = ["--tag", "NIGHTLY", "--within", "6s", db_arg];
    let mut verdicts = Vec::new();
    for _ in 0..30 {
        let code = bark(&env, "sd-expect", &args);
        env.receive_into(&db);
        verdicts.push(code);
        if code == Some(1) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
    assert_eq!(
        verdicts.first(),
        Some(&Some(0)),
        "fresh at first: {verdicts:?}"
    );
    assert_eq!(verdicts.last(), Some(&Some(1)), "never fired: {verdicts:?}");
    // The verdict is in the store: the board and the periods show it.
    assert_eq!(
        board(&env, &db, "NIGHTLY"),
        [(host.clone(), "fail".to_string())]
    );
    assert_eq!(periods(&env, &db, "NIGHTLY"), [(1, true)]);
    // And it keeps firing at the next run.
    assert_eq!(bark(&env, "sd-expect", &args), Some(1));
    env.receive_into(&db);

    // The job runs again: the period closes, the switch is satisfied.
    assert_eq!(
        bark(&env, "sd-run", &["--tag", "NIGHTLY", "--", "true"]),
        Some(0)
    );
    env.receive_into(&db);
    assert_eq!(
        board(&env, &db, "NIGHTLY"),
        [(host.clone(), "ok".to_string())]
    );
    assert_eq!(periods(&env, &db, "NIGHTLY"), [(1, false)]);

    // The job fails; the switch still finds the success before it fresh
    // (a 1 h window), but its `ok` neither closes the job's period nor
    // turns the board green.
    assert_eq!(
        bark(&env, "sd-run", &["--tag", "NIGHTLY", "--", "false"]),
        Some(1)
    );
    env.receive_into(&db);
    let fresh = ["--tag", "NIGHTLY", "--within", "1h", db_arg];
    assert_eq!(bark(&env, "sd-expect", &fresh), Some(0));
    env.receive_into(&db);
    assert_eq!(
        board(&env, &db, "NIGHTLY"),
        [(host.clone(), "fail".to_string())]
    );
    assert_eq!(periods(&env, &db, "NIGHTLY"), [(2, true)]);
    let stored: i64 = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row(
            "SELECT count(*) FROM events WHERE tag = 'NIGHTLY' AND kind = 'expect'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(stored >= 3, "the verdicts are stored: {stored}");
}

#[test]
fn a_scheduled_job_is_overdue_once_its_run_and_grace_have_passed() {
    let env = TestEnv::new();
    let db = env.path("events.db");
    let now = sheepdog::base::time::now_ms();
    let at = |ms: i64| sheepdog::base::time::format_ms(ms);
    // A job that should run every minute and last succeeded 5 minutes ago,
    // and one that succeeded just now.
    let events = format!(
        "{{\"id\":\"a\",\"time\":\"{}\",\"host\":\"tux01\",\"tag\":\"SYNC\",\"kind\":\"run\",\"status\":\"ok\"}}\n\
         {{\"id\":\"b\",\"time\":\"{}\",\"host\":\"tux02\",\"tag\":\"SYNC\",\"kind\":\"run\",\"status\":\"ok\"}}\n",
        at(now - 5 * 60_000),
        at(now),
    );
    env.cmd("sd-store").arg(&db).stdin(events).expect_code(0);
    let run = env
        .cmd("sd-expect")
        .arg(&db)
        .args([
            "--tag",
            "SYNC",
            "--cron",
            "* * * * *",
            "--tz",
            "UTC",
            "--grace",
            "1m",
        ])
        .expect_code(1);
    let verdicts: Vec<crate::util::Event> = run.lines();
    let seen: Vec<(&str, &str)> = verdicts
        .iter()
        .map(|e| (e.host.as_str(), e.status.as_str()))
        .collect();
    assert_eq!(
        seen,
        [("tux01", "fail"), ("tux02", "ok")],
        "{}",
        run.report()
    );
    let msg = verdicts[0].msg.as_deref().unwrap();
    assert!(
        msg.contains("has not succeeded since its run due at") && msg.contains("UTC"),
        "{msg}"
    );
    // A nightly schedule whose run is hours ahead of the last success.
    env.cmd("sd-expect")
        .arg(&db)
        .args([
            "--tag",
            "SYNC",
            "--host",
            "tux02",
            "--cron",
            "0 3 * * *",
            "--grace",
            "2h",
        ])
        .expect_code(0);
    // Mistakes are usage errors naming the fix.
    let run = env
        .cmd("sd-expect")
        .arg(&db)
        .args(["--tag", "SYNC", "--cron", "0 3 * *"])
        .expect_code(2);
    assert!(run.stderr().contains("try '0 3 * * *'"), "{}", run.report());
    let run = env
        .cmd("sd-expect")
        .arg(&db)
        .args(["--tag", "SYNC", "--cron", "0 3 * * *", "--tz", "Mars/Base"])
        .expect_code(2);
    assert!(run.stderr().contains("not a time zone"), "{}", run.report());
    env.cmd("sd-expect")
        .arg(&db)
        .args(["--tag", "SYNC"])
        .expect_code(2);
    env.cmd("sd-expect")
        .arg(&db)
        .args(["--tag", "SYNC", "--within", "1h", "--grace", "1h"])
        .expect_code(2);
}
