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

/// Two servers taking turns as the voice: with --record, what the active
/// sd-mail told is recorded as an event every store keeps, and the standby
/// that takes over reads it from its own store before it decides: a
/// failure the dead voice mailed is not mailed again, and its recovery is
/// mailed, once.
#[test]
fn the_new_voice_does_not_say_again_what_the_last_one_said() {
    use crate::util::smtp::SmtpServer;
    let mut env = TestEnv::new();
    let redis = RedisServer::start(env.path("redis"));
    env.set("SD_BROKER", redis.url());
    let smtp = SmtpServer::start(env.path("smtp"));
    let (_a_store, a_mail) = server(&env, &smtp.url(), "a");
    assert!(wait_until(10, || std::fs::read_to_string(
        env.path("a-mail.err")
    )
    .is_ok_and(|e| e.contains("active: a holds"))));
    let (_b_store, _b_mail) = server(&env, &smtp.url(), "b");
    let bark = |status: &str| {
        env.cmd("sd-bark")
            .stdin(format!(
                "{{\"host\":\"tux01\",\"tag\":\"web\",\"status\":\"{status}\"}}\n"
            ))
            .expect_code(0);
    };
    bark("fail");
    assert!(
        wait_until(15, || smtp.received().len() == 1),
        "a did not mail"
    );
    // B's store holds what A said.
    let recorded = || {
        rusqlite::Connection::open(env.path("b.db"))
            .and_then(|c| {
                c.query_row(
                    "SELECT count(*) FROM events WHERE tag = 'sd-mail' AND kind = 'notified'",
                    [],
                    |r| r.get::<_, i64>(0),
                )
            })
            .unwrap_or(0)
    };
    assert!(
        wait_until(15, || recorded() == 1),
        "the record never reached b's store"
    );

    // A dies, all of it; B takes over, and hears the failure go on.
    let pid = nix::unistd::Pid::from_raw(a_mail.id() as i32);
    nix::sys::signal::killpg(pid, nix::sys::signal::Signal::SIGKILL).unwrap();
    drop(a_mail);
    bark("fail");
    assert!(wait_until(15, || std::fs::read_to_string(
        env.path("b-mail.err")
    )
    .is_ok_and(|e| e.contains("active: b holds"))));
    assert!(
        wait_until(15, || std::fs::read_to_string(env.path("b-mail.err"))
            .is_ok_and(|e| e.contains("took in what was told of 1"))),
        "{}",
        std::fs::read_to_string(env.path("b-mail.err")).unwrap_or_default()
    );
    // The second failure is delivered and decided (no reminder is due)…
    assert!(wait_until(15, || redis
        .cli(&["XPENDING", "sheepdog:events", "mail"])
        .is_some_and(|out| out.lines().next() == Some("0"))));
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(
        smtp.received().len(),
        1,
        "the new voice mailed the failure again"
    );
    // …and the recovery is mailed by B, once.
    bark("ok");
    assert!(wait_until(15, || smtp.received().len() == 2));
    std::thread::sleep(std::time::Duration::from_millis(500));
    let mails = smtp.received();
    assert_eq!(mails.len(), 2);
    assert!(
        mails[1].header("Subject").to_lowercase().contains("ok")
            || mails[1]
                .header("Subject")
                .to_lowercase()
                .contains("recover"),
        "{}",
        mails[1].header("Subject")
    );
}

/// One server of a pair: its own state, its whole store (a group of its
/// own), its mail under the lease, recording what it tells.
fn server(env: &TestEnv, smtp: &str, name: &str) -> (Background, Background) {
    let state = env.path(&format!("{name}-state"));
    std::fs::create_dir_all(&state).unwrap();
    let db = env.path(&format!("{name}.db"));
    let store = Background::new(
        env.cmd("sd-recv")
            .args(["--group", &format!("store@{name}"), "--"])
            .arg(crate::util::bin("sd-store"))
            .arg("--echo")
            .arg(&db)
            .env("XDG_STATE_HOME", &state)
            .own_group()
            .spawn_to(
                &env.path(&format!("{name}-store.out")),
                &env.path(&format!("{name}-store.err")),
            ),
    );
    let mail = Background::new(
        env.cmd("sd-recv")
            .args(["--group", "mail", "--lease", "mail", "--lease-time", "2s"])
            .args(["--consumer", name, "--"])
            .arg(crate::util::bin("sd-mail"))
            .args(["--echo", "--record", "--store"])
            .arg(&db)
            .arg("--state")
            .arg(state.join("mail.db"))
            .args(["--to", "admin@example.org", "--smtp", smtp])
            .args(["--group-wait", "0s"])
            .env("XDG_STATE_HOME", &state)
            .own_group()
            .spawn_to(
                &env.path(&format!("{name}-mail.out")),
                &env.path(&format!("{name}-mail.err")),
            ),
    );
    (store, mail)
}

/// A notification decided but not yet told when its voice dies (the mail
/// server was down) is not lost with that machine: the `decided` record in
/// the other server's store makes the new voice send it, once.
#[test]
fn what_the_last_voice_decided_and_never_told_is_told_by_the_next() {
    use crate::util::smtp::SmtpServer;
    let mut env = TestEnv::new();
    let redis = RedisServer::start(env.path("redis"));
    env.set("SD_BROKER", redis.url());
    let mut smtp = SmtpServer::start(env.path("smtp"));
    smtp.stop();
    let (_a_store, a_mail) = server(&env, &smtp.url(), "a");
    assert!(wait_until(10, || std::fs::read_to_string(
        env.path("a-mail.err")
    )
    .is_ok_and(|e| e.contains("active: a holds"))));
    let (_b_store, _b_mail) = server(&env, &smtp.url(), "b");
    env.cmd("sd-bark")
        .stdin("{\"host\":\"tux02\",\"tag\":\"db\",\"status\":\"fail\"}\n")
        .expect_code(0);
    // A decided (and recorded it), but cannot tell: the server is down.
    let decided = || {
        rusqlite::Connection::open(env.path("b.db"))
            .and_then(|c| {
                c.query_row(
                    "SELECT count(*) FROM events WHERE tag = 'sd-mail' AND kind = 'decided'",
                    [],
                    |r| r.get::<_, i64>(0),
                )
            })
            .unwrap_or(0)
    };
    assert!(
        wait_until(15, || decided() == 1),
        "no decided record in b's store"
    );
    let pid = nix::unistd::Pid::from_raw(a_mail.id() as i32);
    nix::sys::signal::killpg(pid, nix::sys::signal::Signal::SIGKILL).unwrap();
    drop(a_mail);
    smtp.restart();
    assert!(
        wait_until(20, || smtp.received().len() == 1),
        "the next voice did not tell it: {}",
        std::fs::read_to_string(env.path("b-mail.err")).unwrap_or_default()
    );
    std::thread::sleep(std::time::Duration::from_millis(1000));
    assert_eq!(smtp.received().len(), 1, "told twice");
    assert!(smtp.received()[0].body.contains("tux02"));
}
