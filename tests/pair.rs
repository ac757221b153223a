//! Two servers, one voice: `sd-recv --lease` lets one of two receivers of
//! the same role work while the other waits as the standby, and the
//! standby takes over from where a killed one stopped, within the lease's
//! length.

use crate::util::redis::RedisServer;
use crate::util::{Background, TestEnv, wait_until};
use std::time::Instant;

fn lines(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn the_standby_takes_over_within_the_lease_when_the_active_one_is_killed() {
    let mut env = TestEnv::new();
    let redis = RedisServer::start(env.path("redis"));
    env.set("SD_BROKER", redis.url());
    let receiver = |name: &str| {
        Background::new(
            env.cmd("sd-recv")
                .args(["--group", "mail", "--lease", "mail", "--lease-time", "2s"])
                .args(["--consumer", name])
                .own_group()
                .spawn_to(
                    &env.path(&format!("{name}.out")),
                    &env.path(&format!("{name}.err")),
                ),
        )
    };
    let mut a = receiver("a");
    assert!(
        wait_until(10, || std::fs::read_to_string(env.path("a.err"))
            .is_ok_and(|e| e.contains("active: a holds the lease mail"))),
        "a never became active"
    );
    let b = receiver("b");
    assert!(
        wait_until(10, || std::fs::read_to_string(env.path("b.err"))
            .is_ok_and(|e| e.contains("standby: a holds the lease mail"))),
        "b never said it is the standby: {}",
        std::fs::read_to_string(env.path("b.err")).unwrap_or_default()
    );
    let bark = |from: usize| {
        let input: String = (from..from + 10)
            .map(|i| format!("{{\"tag\":\"pair\",\"status\":\"ok\",\"n\":{i}}}\n"))
            .collect();
        env.cmd("sd-bark").stdin(input).expect_code(0);
    };
    bark(0);
    assert!(wait_until(10, || lines(&env.path("a.out")).len() == 10));
    assert!(lines(&env.path("b.out")).is_empty(), "the standby worked");

    // SIGKILL the active one; what is barked next is the standby's.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(a.id() as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let _ = a.try_wait();
    let killed = Instant::now();
    bark(10);
    assert!(
        wait_until(15, || lines(&env.path("b.out")).len() == 10),
        "b did not take over: {}",
        std::fs::read_to_string(env.path("b.err")).unwrap_or_default()
    );
    eprintln!(
        "the standby took over and delivered in {:.1} s (lease 2 s)",
        killed.elapsed().as_secs_f64()
    );
    // Every event once, between the two.
    let mut all: Vec<u64> = lines(&env.path("a.out"))
        .into_iter()
        .chain(lines(&env.path("b.out")))
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(&l).unwrap()["n"]
                .as_u64()
                .unwrap()
        })
        .collect();
    all.sort_unstable();
    assert_eq!(all, (0..20).collect::<Vec<u64>>());
    assert!(
        std::fs::read_to_string(env.path("b.err"))
            .unwrap()
            .contains("active: b holds the lease mail")
    );
    drop(b);
}

/// `sd-query alerts --lease` from cron on two servers: only the holder
/// acts, run after run; the other stands by, and takes over once the
/// holder has not run for the lease's length.
#[test]
fn one_server_evaluates_the_alerts_until_it_stops_running() {
    let test = "pair::one_server_evaluates_the_alerts_until_it_stops_running";
    if !nix::unistd::geteuid().is_root() || !crate::util::have("unshare") {
        crate::util::skip(test, "needs root and unshare for two host names");
        return;
    }
    let env = TestEnv::new();
    let redis = RedisServer::start(env.path("redis"));
    let db = env.path("events.db");
    env.cmd("sd-store")
        .arg(&db)
        .stdin(
            "{\"v\":1,\"id\":\"f1\",\"time\":\"2026-12-01T00:00:00.000Z\",\"host\":\"db1\",\
             \"tag\":\"facts\",\"kind\":\"facts\",\"status\":\"info\",\"facts\":{\"role\":\"db\"}}\n",
        )
        .expect_code(0);
    let rules = env.path("rules.dl");
    std::fs::write(
        &rules,
        "alert(H, \"role\", \"a database\") :- fact(H, \"role\", \"db\").\n",
    )
    .unwrap();
    // Each "server" has its own name and its own alerts state.
    let alerts_on = |server: &str| {
        env.external("unshare", "unshare")
            .args(["--uts", "sh", "-c"])
            .arg(format!("hostname {server} && exec \"$0\" \"$@\"",))
            .arg(crate::util::bin("sd-query"))
            .arg(&db)
            .args([
                "alerts",
                "--lease",
                "alerts",
                "--lease-time",
                "2s",
                "--rules",
            ])
            .arg(&rules)
            .arg("--state")
            .arg(env.path(&format!("{server}.json")))
            .env("SD_BROKER", redis.url())
            .expect_code(0)
    };
    let first = alerts_on("srva");
    assert!(first.stdout().contains("a database"), "{}", first.report());
    let standby = alerts_on("srvb");
    assert!(standby.stdout().is_empty(), "{}", standby.report());
    assert!(
        standby
            .stderr()
            .contains("standby: srva holds the lease alerts"),
        "{}",
        standby.report()
    );
    // srva runs again within the lease: still the one, still standby b.
    alerts_on("srva");
    assert!(alerts_on("srvb").stdout().is_empty());
    // srva stops running: after the lease, srvb acts.
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let taken = alerts_on("srvb");
    assert!(taken.stdout().contains("a database"), "{}", taken.report());
}

/// A holder that cannot renew its lease (the broker went away) stops
/// working before the lease can end, saying why, so that two never work
/// at once: exit 75, and a restarted one waits as the standby.
#[test]
fn the_holder_steps_down_when_it_cannot_renew() {
    let mut env = TestEnv::new();
    let mut redis = RedisServer::start(env.path("redis"));
    env.set("SD_BROKER", redis.url());
    let mut a = Background::new(
        env.cmd("sd-recv")
            .args(["--group", "mail", "--lease", "mail", "--lease-time", "2s"])
            .args(["--consumer", "a"])
            .own_group()
            .spawn_to(&env.path("a.out"), &env.path("a.err")),
    );
    assert!(wait_until(10, || std::fs::read_to_string(
        env.path("a.err")
    )
    .is_ok_and(|e| e.contains("active: a holds the lease mail"))));
    redis.kill();
    let stopped_at = Instant::now();
    assert!(
        wait_until(10, || a.try_wait().is_some()),
        "a went on working without its lease"
    );
    let err = std::fs::read_to_string(env.path("a.err")).unwrap();
    assert!(
        err.contains("the lease could not be renewed in time"),
        "{err}"
    );
    assert!(
        stopped_at.elapsed().as_secs_f64() < 2.5,
        "{:?}",
        stopped_at.elapsed()
    );
}
