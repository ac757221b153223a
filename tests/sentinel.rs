//! Past one Redis (docs/ARCHITECTURE.md §13): a master, a replica and three
//! sentinels of Debian's redis-server on loopback; the broker URL names the
//! sentinels; the master is SIGKILLed; Sentinel promotes the replica; the
//! barking and a receiver that keeps running follow it, no restart.

use crate::util::redis::{RedisServer, Sentinel};
use crate::util::{TestEnv, bin, wait_until};

fn ev(id: &str) -> String {
    format!(r#"{{"v":1,"id":"{id}","tag":"web","kind":"heartbeat","status":"ok"}}"#) + "\n"
}

fn stored(env: &TestEnv, db: &std::path::Path) -> usize {
    if !db.exists() {
        return 0;
    }
    env.cmd("sd-query")
        .arg(db)
        .args(["--sql", "SELECT id FROM events"])
        .arg("--format")
        .arg("json")
        .expect_code(0)
        .stdout()
        .lines()
        .count()
}

#[test]
fn a_failover_is_followed_without_a_restart_and_nothing_acknowledged_is_lost() {
    let mut env = TestEnv::new();
    let mut master = RedisServer::start(env.path("master"));
    let mport = master.port.to_string();
    let replica = RedisServer::start_with(
        env.path("replica"),
        &[
            "--save",
            "",
            "--appendonly",
            "no",
            "--replicaof",
            "127.0.0.1",
            &mport,
        ],
    );
    let sentinels: Vec<Sentinel> = (0..3)
        .map(|i| Sentinel::start(env.path(&format!("sentinel{i}")), master.port))
        .collect();
    let hosts: Vec<String> = sentinels
        .iter()
        .map(|s| format!("127.0.0.1:{}", s.port))
        .collect();
    env.set(
        "SD_BROKER",
        format!("redis+sentinel://{}/mymaster", hosts.join(",")),
    );
    let db = env.path("events.db");

    // Before: events go to the master the sentinels name.
    let before: String = (0..100).map(|i| ev(&format!("a{i:03}"))).collect();
    env.cmd("sd-bark").stdin(before).expect_code(0);
    let receiver = env
        .cmd("sd-recv")
        .args(["--group", "store", "--", bin("sd-store"), "--echo"])
        .arg(&db)
        .spawn();
    assert!(wait_until(30, || stored(&env, &db) == 100));
    // What was acknowledged reached the replica (no min_replicas here:
    // the test waits for it, as min_replicas would).
    master.cli(&["WAIT", "1", "5000"]).unwrap();

    // The master dies; Sentinel promotes the replica.
    let started = std::time::Instant::now();
    master.kill();
    assert!(
        wait_until(60, || sentinels
            .iter()
            .all(|s| s.master_port() == Some(replica.port))),
        "no failover"
    );
    let failover = started.elapsed();

    // After: sd-bark finds the new master; the receiver, still running,
    // follows it and stores what comes.
    let after: String = (0..100).map(|i| ev(&format!("b{i:03}"))).collect();
    let barked = wait_until(30, || {
        env.cmd("sd-bark").stdin(after.clone()).run().code() == Some(0)
    });
    assert!(barked, "sd-bark did not find the new master");
    let all = wait_until(60, || stored(&env, &db) == 200);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(receiver.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let output = receiver.wait_with_output().unwrap();
    let count = stored(&env, &db);
    eprintln!(
        "sentinel failover: sent 200, stored {count}, failover in {:.1}s",
        failover.as_secs_f64()
    );
    assert!(
        all,
        "stored {count} of 200\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `[broker] min_replicas = 1`: a batch no replica confirmed is not
/// published as far as the spool is concerned — sd-bark exits 69 and keeps
/// it; once a replica is there, `sd-bark --flush` sends it again, and the
/// store absorbs the repeat.
#[test]
fn min_replicas_keeps_a_batch_in_the_spool_until_a_replica_has_it() {
    let mut env = TestEnv::new();
    let master = RedisServer::start(env.path("master"));
    env.set("SD_BROKER", master.url());
    env.write_config("[broker]\nmin_replicas = 1\ntimeout = \"1s\"\n");
    let run = env.cmd("sd-bark").stdin(ev("m1")).expect_code(69);
    assert!(
        run.stderr().contains("0 of the 1 replicas"),
        "{}",
        run.report()
    );
    let mport = master.port.to_string();
    let replica = RedisServer::start_with(
        env.path("replica"),
        &[
            "--save",
            "",
            "--appendonly",
            "no",
            "--replicaof",
            "127.0.0.1",
            &mport,
        ],
    );
    assert!(wait_until(20, || replica
        .cli(&["INFO", "replication"])
        .is_some_and(|i| i.contains("master_link_status:up"))));
    env.cmd("sd-bark").arg("--flush").expect_code(0);
    env.cmd("sd-bark").stdin(ev("m2")).expect_code(0);
    let db = env.path("events.db");
    env.receive_into(&db);
    assert_eq!(stored(&env, &db), 2, "m1 once, though sent twice; m2");
}
