//! The life cycle of consumer groups, in Redis and in the local spool: a
//! group used once holds events back until it is retired; sd-recv lists
//! groups, warns about an idle one with the numbers and the command to
//! run, and retires one.

use crate::util::redis::RedisServer;
use crate::util::{TestEnv, wait_until};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct Group {
    group: String,
    consumers: u64,
    pending: u64,
    lag: Option<u64>,
    idle_ms: Option<u64>,
    idle: String,
}

fn groups(env: &TestEnv) -> Vec<Group> {
    env.cmd("sd-recv").arg("--groups").expect_code(0).lines()
}

fn bark(env: &TestEnv, n: usize) {
    let input: String = (0..n)
        .map(|i| format!("{{\"tag\":\"g\",\"status\":\"ok\",\"n\":{i}}}\n"))
        .collect();
    env.cmd("sd-bark").stdin(input).expect_code(0);
}

/// The whole cycle on whichever transport `env` is set up for; returns
/// the stderr of the run that should warn.
fn life_cycle(env: &TestEnv) {
    // The README's first command: a group used once.
    bark(env, 1);
    env.cmd("sd-recv")
        .args(["--group", "test", "--once"])
        .expect_code(0);
    let listed = groups(env);
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!((listed[0].group.as_str(), listed[0].pending), ("test", 0));
    assert!(
        listed[0].consumers <= 1 && listed[0].idle_ms.is_some(),
        "{listed:?}"
    );
    assert_ne!(listed[0].idle, "");

    // Five more arrive; the store reads them, the test group does not.
    bark(env, 5);
    std::thread::sleep(std::time::Duration::from_millis(1200));
    let run = env
        .cmd("sd-recv")
        .args(["--group", "store", "--once", "--warn-idle-group", "1s"])
        .expect_code(0);
    // The first event went when test, then the only group, was done with it.
    assert_eq!(run.stdout().lines().count(), 5);
    let stderr = run.stderr();
    assert!(
        stderr.contains("group test has read nothing for")
            && stderr.contains("holds 5 event(s) back from trimming")
            && stderr.contains("sd-recv --retire-group test"),
        "{}",
        run.report()
    );
    assert!(!stderr.contains("group store has"), "{}", run.report());
    let test = groups(env).into_iter().find(|g| g.group == "test").unwrap();
    assert_eq!(test.lag, Some(5));

    // Retired, it holds nothing back; an unknown group is a usage error.
    let run = env
        .cmd("sd-recv")
        .args(["--retire-group", "test"])
        .expect_code(0);
    assert!(
        run.stderr().contains("retired group test"),
        "{}",
        run.report()
    );
    let names: Vec<String> = groups(env).into_iter().map(|g| g.group).collect();
    assert_eq!(names, ["store"]);
    let run = env
        .cmd("sd-recv")
        .args(["--retire-group", "test"])
        .expect_code(2);
    assert!(
        run.stderr().contains("sd-recv --groups lists them"),
        "{}",
        run.report()
    );
    // --from-start and --from-now are each other's opposite.
    env.cmd("sd-recv")
        .args(["--group", "x", "--from-start", "--from-now", "--once"])
        .expect_code(2);
    // A group made --from-now gets what arrives after it, not before.
    bark(env, 3);
    let fresh = env
        .cmd("sd-recv")
        .args(["--group", "fresh", "--from-now", "--once"])
        .expect_code(0);
    assert_eq!(fresh.stdout(), "", "{}", fresh.report());
    bark(env, 2);
    let fresh = env
        .cmd("sd-recv")
        .args(["--group", "fresh", "--once"])
        .expect_code(0);
    assert_eq!(fresh.stdout().lines().count(), 2, "{}", fresh.report());
    env.cmd("sd-recv")
        .args(["--retire-group", "fresh"])
        .expect_code(0);
}

/// A receiver that runs for long warns once about an idle group, not at
/// every round of its housekeeping.
fn idle_warning_once_per_run(env: &TestEnv) {
    bark(env, 1);
    env.cmd("sd-recv")
        .args(["--group", "idle", "--once"])
        .expect_code(0);
    bark(env, 1);
    // The idle group has read nothing for longer than the limit.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let (out, err) = (env.path("long.out"), env.path("long.err"));
    let receiver = crate::util::Background::new(
        env.cmd("sd-recv")
            .args(["--group", "busy", "--warn-idle-group", "1s"])
            .spawn_to(&out, &err),
    );
    let said = || {
        std::fs::read_to_string(&err)
            .unwrap_or_default()
            .matches("group idle has read nothing for")
            .count()
    };
    assert!(wait_until(30, || said() == 1), "never warned");
    // Several more rounds of housekeeping (two a second with this limit)
    // pass while events arrive: time itself is what is tested here.
    let printed = || {
        std::fs::read_to_string(&out)
            .unwrap_or_default()
            .lines()
            .count()
    };
    let before = printed();
    for round in 1..=3 {
        bark(env, 1);
        assert!(wait_until(30, || printed() >= before + round));
        std::thread::sleep(std::time::Duration::from_millis(1100));
    }
    receiver.terminate();
    assert_eq!(said(), 1, "{}", std::fs::read_to_string(&err).unwrap());
}

#[test]
fn an_idle_group_is_warned_about_once_per_run_in_the_spool_and_redis() {
    idle_warning_once_per_run(&TestEnv::new());
    let mut env = TestEnv::new();
    let redis = RedisServer::start(env.path("redis"));
    env.set("SD_BROKER", redis.url());
    idle_warning_once_per_run(&env);
}

#[test]
fn groups_in_the_local_spool_are_listed_warned_about_and_retired() {
    let env = TestEnv::new();
    life_cycle(&env);
    // What no group needs any more is gone from the spool.
    bark(&env, 2);
    env.cmd("sd-recv")
        .args(["--group", "store", "--once"])
        .expect_code(0);
    let left: i64 = rusqlite::Connection::open(env.path("state/spool.db"))
        .unwrap()
        .query_row("SELECT count(*) FROM entries", [], |r| r.get(0))
        .unwrap();
    assert_eq!(left, 0);
}

#[test]
fn groups_in_redis_are_listed_warned_about_and_retired() {
    let mut env = TestEnv::new();
    let redis = RedisServer::start(env.path("redis"));
    env.set("SD_BROKER", redis.url());
    life_cycle(&env);
    bark(&env, 2);
    env.cmd("sd-recv")
        .args(["--group", "store", "--once"])
        .expect_code(0);
    assert_eq!(redis.cli(&["XLEN", "sheepdog:events"]).unwrap().trim(), "0");
}

/// A receiver killed with events in hand, started again under its name
/// (`--consumer`), takes them back at once, not after --claim-idle.
fn a_consumer_started_again_takes_back_what_it_held(env: &TestEnv) {
    bark(env, 3);
    // A handler that never echoes: the three stay pending for consumer c.
    let held = crate::util::Background::new(
        env.cmd("sd-recv")
            .args(["--group", "store", "--consumer", "c", "--", "sleep", "600"])
            .own_group()
            .spawn_to(&env.path("held.out"), &env.path("held.err")),
    );
    assert!(
        wait_until(15, || groups(env)
            .iter()
            .any(|g| g.group == "store" && g.pending == 3)),
        "never delivered"
    );
    let pid = nix::unistd::Pid::from_raw(held.id() as i32);
    nix::sys::signal::killpg(pid, nix::sys::signal::Signal::SIGKILL).unwrap();
    drop(held);
    // Well inside the default --claim-idle (60 s).
    let again = env
        .cmd("sd-recv")
        .args(["--group", "store", "--consumer", "c", "--once"])
        .expect_code(0);
    let numbers: Vec<u64> = again
        .lines::<serde_json::Value>()
        .iter()
        .filter_map(|e| e["n"].as_u64())
        .collect();
    assert_eq!(numbers, [0, 1, 2], "{}", again.report());
    assert!(
        groups(env)
            .iter()
            .any(|g| g.group == "store" && g.pending == 0)
    );
}

#[test]
fn a_consumer_started_again_takes_back_what_it_held_in_the_spool_and_redis() {
    a_consumer_started_again_takes_back_what_it_held(&TestEnv::new());
    let mut env = TestEnv::new();
    let redis = RedisServer::start(env.path("redis"));
    env.set("SD_BROKER", redis.url());
    a_consumer_started_again_takes_back_what_it_held(&env);
}

/// A handler dies with its receiver: left behind, it would finish its
/// work for a receiver that is gone (sd-mail under a lease telling what
/// it had queued while the standby tells it too).
#[test]
fn a_handler_does_not_outlive_its_receiver() {
    let env = TestEnv::new();
    let pid_file = env.path("handler.pid");
    let mut receiver = env
        .cmd("sd-recv")
        .args(["--group", "store", "--", "sh", "-c"])
        .arg(format!(
            "echo $$ > '{}'; exec sleep 600",
            pid_file.display()
        ))
        .spawn();
    let handler = || {
        std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|p| p.trim().parse::<i32>().ok())
    };
    assert!(wait_until(10, || handler().is_some()), "no handler started");
    let pid = handler().unwrap();
    assert!(crate::util::alive(pid));
    // The receiver alone is killed, as the OOM killer would.
    receiver.kill().unwrap();
    receiver.wait().unwrap();
    assert!(
        wait_until(10, || !crate::util::alive(pid)),
        "the handler {pid} outlived its receiver"
    );
}
