//! The chaos test: producers on many "hosts" bark events through the
//! broker into the store while sd-bark, sd-recv and sd-store are SIGKILLed
//! at random moments and the broker is killed and restarted: redis-server
//! (appendonly yes, appendfsync always), or nats-server with JetStream.
//! Afterwards every event any sd-bark accepted is in the store exactly
//! once.
//!
//! The bounded form runs in the suite; the long form is
//! `SD_CHAOS_EVENTS=100000 cargo test --release chaos -- --nocapture`;
//! `SD_CHAOS_KEEP=DIR` copies a failed run's files (spools, store, logs,
//! the broker's files) there.

use crate::util::nats::NatsServer;
use crate::util::redis::RedisServer;
use crate::util::{TestEnv, wait_until};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use rusqlite::Connection;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const PRODUCERS: usize = 50;
/// Events per sd-bark run: a producer whose sd-bark was killed sends the
/// same chunk again (same ids), as a cron job run again would.
const CHUNK: usize = 20;

/// A small deterministic generator, so a failing run can be replayed
/// (the seed is printed).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Children of a process, from /proc (the handler sd-recv started).
fn children(pid: u32) -> Vec<i32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid …: comm may hold spaces, so split after ')'.
        let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        if after.split_whitespace().nth(1) == Some(pid.to_string().as_str()) {
            found.push(child);
        }
    }
    found
}

/// The broker the chaos is done to.
enum Broker {
    Redis(RedisServer),
    Nats(NatsServer),
}

impl Broker {
    fn url(&self) -> String {
        match self {
            Broker::Redis(redis) => redis.url(),
            Broker::Nats(nats) => nats.url(),
        }
    }

    /// Killed with SIGKILL and started again on its port and files.
    fn restart(&mut self) {
        match self {
            Broker::Redis(redis) => redis.restart(),
            Broker::Nats(nats) => nats.restart(),
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Broker::Redis(_) => "redis-server",
            Broker::Nats(_) => "nats-server",
        }
    }

    /// Where the server writes what it says, if anywhere.
    fn log(&self) -> Option<std::path::PathBuf> {
        match self {
            Broker::Redis(_) => None,
            Broker::Nats(nats) => Some(nats.dir.join("nats-server.log")),
        }
    }
}

#[test]
fn under_chaos_every_accepted_event_is_stored_exactly_once() {
    let env = TestEnv::new();
    let redis = RedisServer::start_durable(env.path("redis"));
    every_accepted_event_is_stored_exactly_once(env, Broker::Redis(redis));
}

/// The same through NATS: a killed receiver's events come back to the
/// group at the end of its ack wait (--claim-idle), an sd-bark killed
/// after publishing sends the same ids again within the server's
/// deduplication window, and what a killed nats-server had not yet
/// written of its groups' acknowledgements is delivered again and
/// dropped by the store.
#[test]
fn under_chaos_through_nats_every_accepted_event_is_stored_exactly_once() {
    let env = TestEnv::new();
    let nats = NatsServer::start(env.path("nats"));
    every_accepted_event_is_stored_exactly_once(env, Broker::Nats(nats));
}

fn every_accepted_event_is_stored_exactly_once(mut env: TestEnv, mut broker: Broker) {
    let total: usize = std::env::var("SD_CHAOS_EVENTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20_000);
    let seed: u64 = std::env::var("SD_CHAOS_SEED")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| (std::process::id() as u64 * 2_654_435_761) | 1);
    let server = broker.name();
    eprintln!("chaos: {total} events, {PRODUCERS} producers, {server}, seed {seed}");
    env.set("SD_BROKER", broker.url());
    let db = env.path("events.db");
    let env = Arc::new(env);

    // The receiver, restarted whenever it dies, as systemd would.
    let stop = Arc::new(AtomicBool::new(false));
    let receiver_pid = Arc::new(AtomicUsize::new(0));
    let receiver = {
        let (env, stop, pid, db) = (env.clone(), stop.clone(), receiver_pid.clone(), db.clone());
        std::thread::spawn(move || {
            let mut starts = 0usize;
            while !stop.load(Ordering::SeqCst) {
                starts += 1;
                let mut child = env
                    .cmd("sd-recv")
                    .args([
                        "--group",
                        "store",
                        "--claim-idle",
                        "1s",
                        "--max-deliveries",
                        "1000",
                    ])
                    .arg("--")
                    .arg(crate::util::bin("sd-store"))
                    .arg("--echo")
                    .arg(&db)
                    .spawn_to(
                        &env.path(&format!("recv.{starts}.out")),
                        &env.path(&format!("recv.{starts}.err")),
                    );
                pid.store(child.id() as usize, Ordering::SeqCst);
                let _ = child.wait();
            }
            starts
        })
    };

    // The producers: each its own host and spool.
    let live_barks: Arc<Mutex<HashSet<i32>>> = Arc::default();
    let resent = Arc::new(AtomicUsize::new(0));
    let per_producer = total / PRODUCERS;
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let (env, live, resent) = (env.clone(), live_barks.clone(), resent.clone());
            std::thread::spawn(move || {
                let spool = env.path(&format!("spool-{p}.db"));
                let events: Vec<String> = (0..per_producer)
                    .map(|i| {
                        format!(
                            "{{\"id\":\"p{p:02}-{i:06}\",\"host\":\"host{p:02}\",\"tag\":\"chaos\",\"status\":\"ok\",\"n\":{i}}}\n"
                        )
                    })
                    .collect();
                for chunk in events.chunks(CHUNK) {
                    let input: String = chunk.concat();
                    let mut attempts = 0;
                    loop {
                        attempts += 1;
                        let child = env
                            .cmd("sd-bark")
                            .env("SD_SPOOL", &spool)
                            .stdin(input.clone())
                            .spawn();
                        let pid = child.id() as i32;
                        live.lock().unwrap().insert(pid);
                        let output = child.wait_with_output().unwrap();
                        live.lock().unwrap().remove(&pid);
                        match output.status.code() {
                            // Committed to the spool (and published, or to
                            // be): accepted.
                            Some(0) | Some(69) => break,
                            None => {
                                resent.fetch_add(chunk.len(), Ordering::SeqCst);
                            }
                            Some(code) => panic!(
                                "sd-bark exited {code}: {}",
                                String::from_utf8_lossy(&output.stderr)
                            ),
                        }
                        assert!(attempts < 100, "sd-bark never got through");
                    }
                }
                spool
            })
        })
        .collect();

    // Chaos, until the producers are done.
    let mut rng = Rng(seed);
    let started = Instant::now();
    let (mut killed_barks, mut killed_recv, mut killed_store, mut broker_restarts) = (0, 0, 0, 0);
    let mut last_restart = Instant::now();
    // Until the producers are done, and the broker was restarted a few
    // times.
    while producers.iter().any(|p| !p.is_finished()) || broker_restarts < 3 {
        std::thread::sleep(Duration::from_millis(20 + rng.below(100)));
        match rng.below(10) {
            0..=4 => {
                let pids: Vec<i32> = live_barks.lock().unwrap().iter().copied().collect();
                if !pids.is_empty() {
                    let pid = pids[rng.below(pids.len() as u64) as usize];
                    if kill(Pid::from_raw(pid), Signal::SIGKILL).is_ok() {
                        killed_barks += 1;
                    }
                }
            }
            5..=6 => {
                let recv = receiver_pid.load(Ordering::SeqCst) as u32;
                for store in children(recv) {
                    if kill(Pid::from_raw(store), Signal::SIGKILL).is_ok() {
                        killed_store += 1;
                    }
                }
            }
            7..=8 => {
                let recv = receiver_pid.load(Ordering::SeqCst) as i32;
                if recv > 0 && kill(Pid::from_raw(recv), Signal::SIGKILL).is_ok() {
                    killed_recv += 1;
                }
            }
            _ if last_restart.elapsed() > Duration::from_secs(1) => {
                broker.restart();
                broker_restarts += 1;
                last_restart = Instant::now();
            }
            _ => {}
        }
    }
    let spools: Vec<_> = producers.into_iter().map(|p| p.join().unwrap()).collect();

    // Calm: whatever waits in a spool (sd-bark exited 69, or was killed
    // after committing) is sent now.
    for spool in &spools {
        env.cmd("sd-bark")
            .env("SD_SPOOL", spool)
            .arg("--flush")
            .expect_code(0);
    }
    let sent = per_producer * PRODUCERS;
    let count = |sql: &str| -> usize {
        Connection::open(&db)
            .and_then(|c| c.query_row(sql, [], |r| r.get::<_, i64>(0)))
            .map_or(0, |n| n as usize)
    };
    let all_in = wait_until(180, || {
        count("SELECT count(*) FROM events WHERE tag = 'chaos'") >= sent
    });
    stop.store(true, Ordering::SeqCst);
    let recv = receiver_pid.load(Ordering::SeqCst) as i32;
    let _ = kill(Pid::from_raw(recv), Signal::SIGTERM);
    let starts = receiver.join().unwrap();

    let stored = count("SELECT count(*) FROM events WHERE tag = 'chaos'");
    let distinct = count("SELECT count(DISTINCT id) FROM events WHERE tag = 'chaos'");
    let bodies = count("SELECT count(DISTINCT body) FROM events WHERE tag = 'chaos'");
    eprintln!(
        "chaos: sent {sent}, sent again after a kill {} (absorbed), stored {stored}, lost {}; \
         killed sd-bark {killed_barks}×, sd-store {killed_store}×, sd-recv {killed_recv}× \
         (started {starts}×), restarted {server} {broker_restarts}×, in {:.1} s",
        resent.load(Ordering::SeqCst),
        sent.saturating_sub(stored),
        started.elapsed().as_secs_f64()
    );
    let conn = Connection::open(&db).unwrap();
    let mut stmt = conn
        .prepare("SELECT id FROM events WHERE tag = 'chaos'")
        .unwrap();
    let ids: HashSet<String> = stmt
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    // Each producer's missing events: how many, from which on.
    let missing: Vec<String> = (0..PRODUCERS)
        .filter_map(|p| {
            let lost: Vec<usize> = (0..per_producer)
                .filter(|i| !ids.contains(&format!("p{p:02}-{i:06}")))
                .collect();
            let first = lost.first()?;
            Some(format!("p{p:02}: {} from {first}", lost.len()))
        })
        .collect();
    if !missing.is_empty() {
        eprintln!("missing: {}", missing.join(", "));
        // What the last receivers said, to see why.
        for start in starts.saturating_sub(2)..=starts {
            let said = std::fs::read_to_string(env.path(&format!("recv.{start}.err")));
            eprintln!("sd-recv run {start}:\n{}", said.unwrap_or_default());
        }
        if let Some(log) = broker.log().and_then(|l| std::fs::read_to_string(l).ok()) {
            let lines: Vec<&str> = log.lines().collect();
            let last = &lines[lines.len().saturating_sub(60)..];
            eprintln!("{server}, last lines:\n{}", last.join("\n"));
        }
        if let Some(keep) = std::env::var_os("SD_CHAOS_KEEP") {
            let _ = std::process::Command::new("cp")
                .arg("-a")
                .arg(env.dir.path())
                .arg(keep)
                .status();
        }
    }
    assert!(all_in, "only {stored} of {sent} events stored");
    assert_eq!((stored, distinct, bodies), (sent, sent, sent));
    assert!(missing.is_empty(), "lost: {}", missing.join(", "));
    assert!(
        killed_barks > 0 && killed_store > 0 && killed_recv > 0 && broker_restarts >= 3,
        "the chaos did each of its things"
    );
}
