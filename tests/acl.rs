//! Least-privilege Redis users (documented in sheepdog(7), WHO MAY
//! SPEAK), tested against a real redis-server with exactly those ACLs: a
//! producer that may only XADD to the stream, a receiver that may read
//! through its group, acknowledge, trim and dead-letter, and nothing else.

use crate::util::redis::RedisServer;
use crate::util::{TestEnv, wait_until};

/// The ACL lines of sheepdog(7), as an administrator would type them.
const PRODUCER: &[&str] = &[
    "ACL",
    "SETUSER",
    "producer",
    "on",
    ">producer-pw",
    "resetkeys",
    "resetchannels",
    "-@all",
    "+xadd",
    "~sheepdog:events",
];
const RECEIVER: &[&str] = &[
    "ACL",
    "SETUSER",
    "receiver",
    "on",
    ">receiver-pw",
    "resetkeys",
    "resetchannels",
    "-@all",
    "+xreadgroup",
    "+xack",
    "+xgroup|create",
    "+xautoclaim",
    "+xpending",
    "+xinfo|groups",
    "+xinfo|consumers",
    "+xtrim",
    "~sheepdog:events",
    "(+xadd ~sheepdog:dead ~sheepdog:rejected)",
];

#[test]
fn producer_and_receiver_work_with_only_their_acls() {
    let mut env = TestEnv::new();
    let redis = RedisServer::start(env.path("redis"));
    assert_eq!(redis.cli(PRODUCER).as_deref().map(str::trim), Some("OK"));
    assert_eq!(redis.cli(RECEIVER).as_deref().map(str::trim), Some("OK"));
    let as_user = |user: &str, pw: &str| format!("redis://{user}:{pw}@127.0.0.1:{}", redis.port);

    // The producer publishes…
    env.set("SD_BROKER", as_user("producer", "producer-pw"));
    let input: String = (0..100)
        .map(|i| format!("{{\"tag\":\"acl\",\"status\":\"ok\",\"n\":{i}}}\n"))
        .collect();
    env.cmd("sd-bark").stdin(input).expect_code(0);
    // …and may do nothing else: read the stream, or write anywhere else.
    let denied =
        |user: &str, pw: &str, args: &[&str]| redis.cli_as(user, pw, args).contains("NOPERM");
    assert!(denied(
        "producer",
        "producer-pw",
        &["XRANGE", "sheepdog:events", "-", "+"]
    ));
    assert!(denied(
        "producer",
        "producer-pw",
        &["XADD", "other", "*", "event", "{}"]
    ));
    assert!(denied(
        "producer",
        "producer-pw",
        &["XTRIM", "sheepdog:events", "MAXLEN", "0"]
    ));

    // The receiver stores them, acknowledging and trimming…
    env.set("SD_BROKER", as_user("receiver", "receiver-pw"));
    let run = env
        .cmd("sd-recv")
        .args(["--group", "store", "--once", "--"])
        .arg(crate::util::bin("sd-store"))
        .arg("--echo")
        .arg(env.path("events.db"))
        .expect_code(0);
    let stored: i64 = rusqlite::Connection::open(env.path("events.db"))
        .unwrap()
        .query_row("SELECT count(*) FROM events WHERE tag = 'acl'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(stored, 100, "{}", run.report());
    assert!(wait_until(5, || redis
        .cli(&["XLEN", "sheepdog:events"])
        .unwrap()
        .trim()
        == "0"));
    // …dead-letters what its handler never finishes…
    env.set("SD_BROKER", as_user("producer", "producer-pw"));
    env.cmd("sd-bark")
        .args(["--tag", "poison", "--status", "fail"])
        .expect_code(0);
    env.set("SD_BROKER", as_user("receiver", "receiver-pw"));
    env.cmd("sd-recv")
        .args([
            "--group",
            "store",
            "--once",
            "--max-deliveries",
            "1",
            "--",
            "sh",
            "-c",
            "read line; exit 1",
        ])
        .expect_code(65);
    assert_eq!(redis.cli(&["XLEN", "sheepdog:dead"]).unwrap().trim(), "1");
    // A receiver set up before it could look at consumers still works,
    // and says once that it cannot watch for idle groups.
    let older: Vec<&str> = RECEIVER
        .iter()
        .map(|w| if *w == "receiver" { "older" } else { w })
        .filter(|w| *w != "+xinfo|consumers")
        .collect();
    assert_eq!(redis.cli(&older).as_deref().map(str::trim), Some("OK"));
    env.set("SD_BROKER", as_user("producer", "producer-pw"));
    env.cmd("sd-bark")
        .args(["--tag", "acl", "--status", "ok"])
        .expect_code(0);
    env.set("SD_BROKER", as_user("older", "receiver-pw"));
    let run = env
        .cmd("sd-recv")
        .args(["--group", "store", "--once"])
        .expect_code(0);
    assert_eq!(run.stdout().lines().count(), 1, "{}", run.report());
    assert_eq!(
        run.stderr().matches("idle groups are not watched").count(),
        1,
        "{}",
        run.report()
    );
    env.set("SD_BROKER", as_user("receiver", "receiver-pw"));
    // …and cannot publish events of its own.
    assert!(denied(
        "receiver",
        "receiver-pw",
        &["XADD", "sheepdog:events", "*", "event", "{}"]
    ));
    assert!(denied(
        "receiver",
        "receiver-pw",
        &["DEL", "sheepdog:events"]
    ));
}
