//! Past one Redis (docs/ARCHITECTURE.md §13): a master, a replica and three
//! sentinels of Debian's redis-server on loopback; the broker URL names the
//! sentinels; the master is SIGKILLed; Sentinel promotes the replica; the
//! barking and a receiver that keeps running follow it, no restart.

use crate::util::redis::{RedisServer, Sentinel};
use crate::util::{TestEnv, bin, wait_until};

fn ev(id: &str) -> String {
    format!(r#"{{"v":1,"id":"{id}","tag":"web","kind":"heartbeat","status":"ok"}}"#) + "\n"
}

/// A master, its replica and three sentinels watching it, on loopback;
/// the test's commands reach them through `SD_BROKER`, which names the
/// sentinels.
struct Cluster {
    master: RedisServer,
    replica: RedisServer,
    sentinels: Vec<Sentinel>,
}

impl Cluster {
    fn start(env: &mut TestEnv) -> Cluster {
        let master = RedisServer::start(env.path("master"));
        let replica = RedisServer::start_replica_of(env.path("replica"), master.port);
        let (sentinels, url) = Sentinel::three(env.dir.path(), master.port);
        env.set("SD_BROKER", url);
        Cluster {
            master,
            replica,
            sentinels,
        }
    }

    /// SIGKILLs the master and waits until every sentinel names the
    /// replica.
    fn fail_over(&mut self) {
        self.master.kill();
        let port = self.replica.port;
        assert!(
            wait_until(60, || self
                .sentinels
                .iter()
                .all(|s| s.master_port() == Some(port))),
            "no failover"
        );
    }
}

/// How many events the store holds (0 while it does not exist yet).
fn stored(env: &TestEnv, db: &std::path::Path) -> usize {
    if !db.exists() {
        return 0;
    }
    env.cmd("sd-query")
        .arg(db)
        .args([
            "--sql",
            "SELECT count(*) AS n FROM events",
            "--format",
            "json",
        ])
        .run()
        .stdout()
        .trim()
        .trim_start_matches("{\"n\":")
        .trim_end_matches('}')
        .parse()
        .unwrap_or(0)
}

#[test]
fn a_failover_is_followed_without_a_restart_and_nothing_acknowledged_is_lost() {
    let mut env = TestEnv::new();
    let mut cluster = Cluster::start(&mut env);
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
    cluster.master.cli(&["WAIT", "1", "5000"]).unwrap();

    // The master dies; Sentinel promotes the replica.
    let started = std::time::Instant::now();
    cluster.fail_over();
    let failover = started.elapsed();

    // After: sd-bark finds the new master; the receiver, still running,
    // follows it and stores what comes.
    let after: String = (0..100).map(|i| ev(&format!("b{i:03}"))).collect();
    let barked = wait_until(30, || {
        env.cmd("sd-bark").stdin(after.clone()).run().code() == Some(0)
    });
    assert!(barked, "sd-bark did not find the new master");
    let all = wait_until(60, || stored(&env, &db) == 200);
    let output = crate::util::terminate(receiver);
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
    let replica = RedisServer::start_replica_of(env.path("replica"), master.port);
    replica.wait_synced();
    env.cmd("sd-bark").arg("--flush").expect_code(0);
    env.cmd("sd-bark").stdin(ev("m2")).expect_code(0);
    let db = env.path("events.db");
    env.receive_into(&db);
    assert_eq!(stored(&env, &db), 2, "m1 once, though sent twice; m2");
}

/// The seed's failover, at scale: 20 producers bark 100,000 events (each
/// with a spool of its own, as 20 hosts would) while the master is
/// SIGKILLed; Sentinel promotes the replica; one `sd-recv --group store --
/// sd-store --echo` keeps running. With `min_replicas = 1` nothing the
/// spools let go is lost: every event is stored exactly once.
fn twenty_producers_through_a_failover(min_replicas: u32) -> (usize, usize) {
    const PRODUCERS: usize = 20;
    const BATCHES: usize = 10;
    const PER_BATCH: usize = 500;
    let mut env = TestEnv::new();
    let mut cluster = Cluster::start(&mut env);
    env.write_config(&format!(
        "[broker]\nmin_replicas = {min_replicas}\ntimeout = \"2s\"\n"
    ));
    cluster.replica.wait_synced();
    let db = env.path("events.db");
    let receiver = env
        .cmd("sd-recv")
        .args(["--group", "store", "--", bin("sd-store"), "--echo"])
        .arg(&db)
        .spawn();
    let sent = PRODUCERS * BATCHES * PER_BATCH;
    let started = std::time::Instant::now();
    let (killed_at, failover) = std::thread::scope(|scope| {
        for p in 0..PRODUCERS {
            let env = &env;
            scope.spawn(move || {
                let spool = env.path(&format!("spool{p}.db"));
                for b in 0..BATCHES {
                    let input: String = (0..PER_BATCH)
                        .map(|i| ev(&format!("p{p:02}-{b:02}-{i:03}")))
                        .collect();
                    // 69 while the master is away: the batch waits in the
                    // producer's spool.
                    let code = env
                        .cmd("sd-bark")
                        .env("SD_SPOOL", &spool)
                        .stdin(input)
                        .run()
                        .code();
                    assert!(matches!(code, Some(0 | 69)), "sd-bark exited {code:?}");
                }
                let flushed = wait_until(120, || {
                    env.cmd("sd-bark")
                        .env("SD_SPOOL", &spool)
                        .arg("--flush")
                        .run()
                        .code()
                        == Some(0)
                });
                assert!(flushed, "producer {p} could not flush its spool");
            });
        }
        // Mid-run, the master dies.
        assert!(wait_until(120, || stored(&env, &db) >= sent / 3));
        let killed_at = started.elapsed();
        cluster.fail_over();
        (killed_at, started.elapsed() - killed_at)
    });
    let at_kill = killed_at;
    // Without min_replicas some may never come: wait less for them.
    let patience = if min_replicas > 0 { 120 } else { 30 };
    let all = wait_until(patience, || stored(&env, &db) >= sent);
    let stored = stored(&env, &db);
    let output = crate::util::terminate(receiver);
    let stderr = String::from_utf8_lossy(&output.stderr);
    // sd-store says, as it ends, how many repeats it absorbed.
    let absorbed: u64 = stderr
        .lines()
        .filter(|l| l.contains("repeats absorbed"))
        .filter_map(|l| l.split(", ").nth(1)?.split(" ").next()?.parse::<u64>().ok())
        .sum();
    eprintln!(
        "sentinel at scale, min_replicas {min_replicas}: sent {sent}, stored {stored}, lost {}, \
         duplicates absorbed {absorbed}, master killed at {:.1}s, failover in {:.1}s, \
         all stored after {:.1}s",
        sent.saturating_sub(stored),
        at_kill.as_secs_f64(),
        failover.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        all || min_replicas == 0,
        "stored {stored} of {sent}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Whatever was lost, nothing was made up or stored twice: every
    // stored id is one a producer sent (the primary key keeps them once).
    let strangers = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row(
            "SELECT count(*) FROM events WHERE id NOT GLOB 'p[0-9][0-9]-[0-9][0-9]-[0-9][0-9][0-9]'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .unwrap();
    assert_eq!(strangers, 0);
    // The receiver saw the master go and followed the new one, and said
    // so: the loss, if any, is the failover's, not a receiver's.
    assert!(
        stderr.contains("reconnected to"),
        "the receiver did not say it followed the failover:\n{stderr}"
    );
    (sent, stored)
}

#[test]
fn twenty_producers_through_a_failover_lose_nothing_with_min_replicas() {
    let (sent, stored) = twenty_producers_through_a_failover(1);
    assert_eq!(stored, sent);
}

/// Without min_replicas, what the master acknowledged but had not passed
/// to the replica when it died is gone: the test says how much, and
/// claims nothing more (sheepdog(7) and the README say the same).
#[test]
fn without_min_replicas_a_failover_may_lose_what_it_says() {
    let (sent, stored) = twenty_producers_through_a_failover(0);
    // What was stored before the kill stays; what the master had not
    // passed on may be gone, and no more than was sent is there.
    assert!(
        stored <= sent && stored >= sent / 3,
        "stored {stored} of {sent}"
    );
}

/// Orders through Sentinel: sd-order publishes to the master the sentinels
/// name, and an sd-obey that keeps running follows the failover and obeys
/// what is ordered after it, once.
#[test]
fn orders_follow_a_failover_too() {
    let mut env = TestEnv::new();
    let mut cluster = Cluster::start(&mut env);
    let key = env.path("orders.key");
    env.cmd("sd-order").arg("keygen").arg(&key).expect_code(0);
    let done = env.path("done");
    std::fs::create_dir_all(&done).unwrap();
    let config = env.path("tux01.toml");
    std::fs::write(
        &config,
        format!(
            "[obey]\nhost = \"tux01\"\ntrusted_keys = [\"{}.pub\"]\nledger = \"{}\"\n\n\
             [[action]]\nname = \"touch\"\ncmd = [\"touch\", \"{}/{{name}}\"]\nargs = {{ name = \"word\" }}\n",
            key.display(),
            env.path("ledger.db").display(),
            done.display()
        ),
    )
    .unwrap();
    let order = |name: &str| {
        env.cmd("sd-order")
            .arg("--key-file")
            .arg(&key)
            .args(["--host", "tux01", "touch", &format!("name={name}")])
            .run()
            .code()
            == Some(0)
    };
    let obeying = env
        .cmd("sd-obey")
        .arg("--config")
        .arg(&config)
        .spawn_to(&env.path("obey.out"), &env.path("obey.err"));
    assert!(order("before"));
    assert!(wait_until(20, || done.join("before").exists()));
    cluster.master.cli(&["WAIT", "1", "5000"]).unwrap();
    cluster.fail_over();
    assert!(
        wait_until(30, || order("after")),
        "sd-order did not find the new master"
    );
    let followed = wait_until(60, || done.join("after").exists());
    crate::util::terminate(obeying);
    let said = std::fs::read_to_string(env.path("obey.err")).unwrap_or_default();
    assert!(followed, "sd-obey did not follow the failover:\n{said}");
    // Each order ran once (an entry whose acknowledgement the dead master
    // had not passed on comes back, and is refused as replayed).
    let results = std::fs::read_to_string(env.path("obey.out")).unwrap_or_default();
    let ran: Vec<&str> = results
        .lines()
        .filter(|l| l.contains("\"status\":\"ok\""))
        .collect();
    assert_eq!(ran.len(), 2, "each order once:\n{results}");
    assert!(
        results
            .lines()
            .all(|l| l.contains("\"status\":\"ok\"") || l.contains("replayed")),
        "{results}"
    );
    assert!(said.contains("reconnecting"), "{said}");
}

#[test]
fn sentinels_over_tls_are_trusted_by_the_brokers_ca_file() {
    let mut env = TestEnv::new();
    let ca = crate::util::tls::make(&env.path("tls"));
    let master = RedisServer::start_tls(env.path("master"), &ca);
    let sentinel = Sentinel::start_tls(env.path("sentinel"), master.port, &ca);
    env.set(
        "SD_BROKER",
        format!("rediss+sentinel://127.0.0.1:{}/mymaster", sentinel.port),
    );
    // Without the CA the sentinel is not trusted: said, and kept.
    let run = env
        .cmd("sd-bark")
        .args(["--tag", "untrusted"])
        .expect_code(69);
    assert!(
        run.stderr().to_lowercase().contains("certificate"),
        "{}",
        run.report()
    );
    // With it, the sentinel is asked over TLS and names the TLS master.
    env.set("SD_BROKER_CA", &ca.ca);
    env.cmd("sd-bark").args(["--tag", "trusted"]).expect_code(0);
    let length = master.cli(&["XLEN", "sheepdog:events"]);
    assert_eq!(
        length.as_deref().map(str::trim),
        Some("2"),
        "the first waited in the spool"
    );
}

#[test]
fn sentinels_with_a_password_of_their_own_are_asked_with_it() {
    let mut env = TestEnv::new();
    let master = RedisServer::start(env.path("master"));
    let sentinel = Sentinel::start_with_password(env.path("sentinel"), master.port, "s3ntinel");
    std::fs::write(env.path("sentinel.pass"), "wrong\n").unwrap();
    let config = env.write_config(&format!(
        "[broker]\nurl = \"redis+sentinel://127.0.0.1:{}/mymaster\"\n\
         sentinel_password_file = \"{}\"\n",
        sentinel.port,
        env.path("sentinel.pass").display()
    ));
    env.set("SD_CONFIG", &config);
    // A wrong password: the sentinel refuses, it is said (not the
    // password) as the configuration's mistake, and the event waits in
    // the spool.
    let run = env.cmd("sd-bark").args(["--tag", "refused"]).expect_code(2);
    assert!(
        run.stderr().contains("finding the master")
            && run.stderr().contains("sentinel_password_file"),
        "{}",
        run.report()
    );
    assert!(!run.stderr().contains("wrong"), "{}", run.report());
    std::fs::write(env.path("sentinel.pass"), "s3ntinel\n").unwrap();
    env.cmd("sd-bark").args(["--tag", "asked"]).expect_code(0);
    let length = master.cli(&["XLEN", "sheepdog:events"]);
    assert_eq!(
        length.as_deref().map(str::trim),
        Some("2"),
        "the first waited in the spool"
    );
}
