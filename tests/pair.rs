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
        wait_until(10, || said(&env, "a.err", "active: a holds the lease mail")),
        "a never became active"
    );
    let b = receiver("b");
    assert!(
        wait_until(10, || said(
            &env,
            "b.err",
            "standby: a holds the lease mail"
        )),
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
    assert!(wait_until(10, || said(
        &env,
        "a.err",
        "active: a holds the lease mail"
    )));
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
    let ((_a_store, a_mail), (_b_store, _b_mail)) = pair(&env, &smtp.url(), &[], &[]);
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
    let recorded = || records(&env.path("b.db"), "notified");
    assert!(
        wait_until(15, || recorded() == 1),
        "the record never reached b's store"
    );

    // A dies, all of it; B takes over, and hears the failure go on.
    kill_all(a_mail);
    bark("fail");
    assert!(wait_until(15, || said(
        &env,
        "b-mail.err",
        "active: b holds"
    )));
    assert!(
        wait_until(15, || said(
            &env,
            "b-mail.err",
            "took in what was told of 1"
        )),
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
/// own), its mail under the lease, recording what it tells; sd-mail given
/// `extra` flags too.
fn server_with(env: &TestEnv, smtp: &str, name: &str, extra: &[&str]) -> (Background, Background) {
    let state = env.path(&format!("{name}-state"));
    std::fs::create_dir_all(&state).unwrap();
    let db = env.path(&format!("{name}.db"));
    let store = Background::new(
        env.cmd("sd-recv")
            // Its own name: started again, it finishes what it had taken.
            .args([
                "--group",
                &format!("store@{name}"),
                "--consumer",
                name,
                "--",
            ])
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
            .args(extra)
            .env("XDG_STATE_HOME", &state)
            .own_group()
            .spawn_to(
                &env.path(&format!("{name}-mail.out")),
                &env.path(&format!("{name}-mail.err")),
            ),
    );
    (store, mail)
}

/// Server A, once it says it is the voice, then server B as its standby,
/// each sd-mail given its own extra flags.
fn pair(
    env: &TestEnv,
    smtp: &str,
    a_extra: &[&str],
    b_extra: &[&str],
) -> ((Background, Background), (Background, Background)) {
    let a = server_with(env, smtp, "a", a_extra);
    assert!(
        wait_until(20, || said(env, "a-mail.err", "active: a holds")),
        "a never became active"
    );
    (a, server_with(env, smtp, "b", b_extra))
}

/// Whether a process's output `file` says `text` yet.
fn said(env: &TestEnv, file: &str, text: &str) -> bool {
    std::fs::read_to_string(env.path(file)).is_ok_and(|out| out.contains(text))
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
    let ((_a_store, a_mail), (_b_store, _b_mail)) = pair(&env, &smtp.url(), &[], &[]);
    env.cmd("sd-bark")
        .stdin("{\"host\":\"tux02\",\"tag\":\"db\",\"status\":\"fail\"}\n")
        .expect_code(0);
    // A decided (and recorded it), but cannot tell: the server is down.
    let decided = || records(&env.path("b.db"), "decided");
    assert!(
        wait_until(15, || decided() == 1),
        "no decided record in b's store"
    );
    kill_all(a_mail);
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

/// The proof, through Sentinel: three sentinels, two servers,
/// twenty producers barking state changes, an SMTP sink, and a program
/// channel that writes down every notification told. Every process of
/// server A is killed with SIGKILL mid-run. Every event is in B's store
/// once; every state change is told, and none more than twice; B's
/// takeover time is printed; A, started again, catches up and stands by.
#[test]
fn a_server_dies_mid_run_and_every_change_is_stored_and_told() {
    use crate::util::redis::Sentinel;
    use crate::util::smtp::SmtpServer;
    use std::collections::BTreeMap;
    const PRODUCERS: usize = 20;
    const CHANGES: usize = 8;
    let mut env = TestEnv::new();
    let master = RedisServer::start(env.path("master"));
    let (_sentinels, url) = Sentinel::three(env.dir.path(), master.port);
    env.set("SD_BROKER", &url);
    let smtp = SmtpServer::start(env.path("smtp"));
    // Each server's channel writes down what it told, one line a telling.
    let channel = |name: &str| {
        let program = env.path(&format!("tell-{name}.sh"));
        std::fs::write(
            &program,
            format!(
                "#!/bin/sh\n{{ cat; echo; }} >> '{}'\n",
                env.path(&format!("told-{name}.jsonl")).display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(
            &program,
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        format!("program={}", program.display())
    };
    let (a_channel, b_channel) = (channel("a"), channel("b"));
    let ((a_store, a_mail), (_b_store, _b_mail)) = pair(
        &env,
        &smtp.url(),
        &["--channel", a_channel.as_str()],
        &["--channel", b_channel.as_str()],
    );

    // Twenty producers, each a host whose job fails and recovers in turn.
    let producers: Vec<std::thread::JoinHandle<()>> = (0..PRODUCERS)
        .map(|p| {
            // Each producer a host of its own: its own spool.
            let vars = (
                env.path(&format!("producer{p}")),
                url.clone(),
            );
            std::thread::spawn(move || {
                for k in 0..CHANGES {
                    let status = if k % 2 == 0 { "fail" } else { "ok" };
                    let line = format!(
                        "{{\"id\":\"p{p:02}-{k}\",\"host\":\"p{p:02}\",\"tag\":\"job\",\"status\":\"{status}\"}}\n"
                    );
                    // A bark that could not even start (the machine is
                    // busy) is tried again, as cron would the next time.
                    let mut tries = 0;
                    loop {
                        let out = std::process::Command::new(crate::util::bin("sd-bark"))
                            .env("SD_BROKER", &vars.1)
                            .env("XDG_STATE_HOME", &vars.0)
                            .env("XDG_CONFIG_HOME", &vars.0)
                            .stdin(std::process::Stdio::piped())
                            .stderr(std::process::Stdio::piped())
                            .spawn()
                            .and_then(|mut child| {
                                use std::io::Write;
                                let _ = child.stdin.take().unwrap().write_all(line.as_bytes());
                                child.wait_with_output()
                            })
                            .expect("sd-bark");
                        // 69: spooled, to go out with the next bark.
                        if matches!(out.status.code(), Some(0 | 69)) {
                            break;
                        }
                        tries += 1;
                        assert!(
                            tries < 10,
                            "sd-bark: {}",
                            String::from_utf8_lossy(&out.stderr)
                        );
                        std::thread::sleep(std::time::Duration::from_millis(100));
                    }
                    std::thread::sleep(std::time::Duration::from_millis(150));
                }
            })
        })
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(500));
    for process in [&a_mail, &a_store] {
        let pid = nix::unistd::Pid::from_raw(process.id() as i32);
        nix::sys::signal::killpg(pid, nix::sys::signal::Signal::SIGKILL).unwrap();
    }
    let killed = Instant::now();
    drop((a_mail, a_store));
    assert!(
        wait_until(30, || said(&env, "b-mail.err", "active: b holds")),
        "b never took over"
    );
    eprintln!(
        "b took over {:.1} s after a was killed (lease 2 s)",
        killed.elapsed().as_secs_f64()
    );
    for producer in producers {
        producer.join().unwrap();
    }
    let all = PRODUCERS * CHANGES;
    let stored = |db: &str| {
        rusqlite::Connection::open(env.path(db))
            .and_then(|c| {
                c.query_row(
                    "SELECT count(*), count(DISTINCT id) FROM events WHERE tag = 'job'",
                    [],
                    |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)),
                )
            })
            .unwrap_or((0, 0))
    };
    assert!(
        wait_until(60, || stored("b.db") == (all as i64, all as i64)),
        "b's store: {:?} of {all}",
        stored("b.db")
    );
    // Every change told: count each (event, notice) the channels were
    // given, telling by telling.
    let tellings = |name: &str| -> Vec<Vec<(String, String)>> {
        std::fs::read_to_string(env.path(&format!("told-{name}.jsonl")))
            .unwrap_or_default()
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .map(|data| {
                data["notifications"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|n| {
                        (
                            n["event"]["id"].as_str().unwrap_or_default().to_string(),
                            n["notice"].as_str().unwrap_or_default().to_string(),
                        )
                    })
                    .collect()
            })
            .collect()
    };
    let tally = || {
        let mut seen: BTreeMap<(String, String), usize> = BTreeMap::new();
        for key in ["a", "b"].into_iter().flat_map(tellings).flatten() {
            *seen.entry(key).or_default() += 1;
        }
        seen
    };
    let missing = || {
        let seen = tally();
        (0..PRODUCERS * CHANGES)
            .map(|i| (i / CHANGES, i % CHANGES))
            .filter(|(p, k)| {
                let notice = if k % 2 == 0 { "problem" } else { "recovery" };
                !seen.contains_key(&(format!("p{p:02}-{k}"), notice.to_string()))
            })
            .map(|(p, k)| format!("p{p:02}-{k}"))
            .collect::<Vec<_>>()
    };
    if !wait_until(60, || missing().is_empty()) {
        let lost = missing();
        let records: Vec<String> = rusqlite::Connection::open(env.path("b.db"))
            .unwrap()
            .prepare(
                "SELECT coalesce(kind, ''), body FROM events WHERE tag IN ('sd-mail', 'job') ORDER BY time_ms",
            )
            .unwrap()
            .query_map([], |r| {
                Ok(format!(
                    "{} {}",
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?
                ))
            })
            .unwrap()
            .map(Result::unwrap)
            .filter(|l| lost.iter().any(|id| l.contains(&id[..3])))
            .collect();
        panic!(
            "never told: {lost:?}\nb's store about them:\n{}\na: {}\nb: {}",
            records.join("\n"),
            std::fs::read_to_string(env.path("a-mail.err")).unwrap_or_default(),
            std::fs::read_to_string(env.path("b-mail.err")).unwrap_or_default()
        );
    }
    std::thread::sleep(std::time::Duration::from_millis(1000));
    let seen = tally();
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    eprintln!("told again after the takeover (in flight when a died): {twice:?}");
    assert!(seen.values().all(|n| *n <= 2), "{seen:?}");
    // Only the one telling in flight is repeated: A's last (one mail may
    // bundle the changes of many hosts), which A told and died before its
    // record reached the broker.
    let in_flight = tellings("a").pop().unwrap_or_default();
    for (key, _) in &twice {
        assert!(
            in_flight.contains(key),
            "{key:?} told twice, and not in a's last telling {in_flight:?}\na told: {:?}\nb told: {:?}\na: {}\nb: {}\nrecords: {}",
            tellings("a"),
            tellings("b"),
            std::fs::read_to_string(env.path("a-mail.err")).unwrap_or_default(),
            std::fs::read_to_string(env.path("b-mail.err")).unwrap_or_default(),
            master
                .cli(&["XRANGE", "sheepdog:events", "-", "+"])
                .unwrap_or_default()
                .lines()
                .filter(|l| l.contains(&key.0))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    for p in 0..PRODUCERS {
        for k in 0..CHANGES {
            let notice = if k % 2 == 0 { "problem" } else { "recovery" };
            assert!(
                seen.contains_key(&(format!("p{p:02}-{k}"), notice.to_string())),
                "p{p:02}-{k} {notice} never told"
            );
        }
    }
    assert!(!smtp.received().is_empty());
    // A comes back: its store catches up, its mail stands by.
    let (_a_store, _a_mail) =
        server_with(&env, &smtp.url(), "a", &["--channel", a_channel.as_str()]);
    // The stream still holds it all here: A's store takes back what it
    // held when it was killed and reads on. Imported from B's store as
    // well (for history the stream no longer holds, as the README says),
    // nothing is stored twice.
    assert!(
        wait_until(60, || stored("a.db") == (all as i64, all as i64)),
        "a's store took {:?} of {all} from the stream: {}",
        stored("a.db"),
        std::fs::read_to_string(env.path("a-store.err")).unwrap_or_default()
    );
    env.cmd("sd-store")
        .arg(env.path("a.db"))
        .arg("--from")
        .arg(env.path("b.db"))
        .expect_code(0);
    assert_eq!(
        stored("a.db"),
        (all as i64, all as i64),
        "a did not catch up"
    );
    assert!(wait_until(20, || said(
        &env,
        "a-mail.err",
        "standby: b holds"
    )));
}

/// The one case a notification is told twice, shown: the voice dies after
/// the channel took it and before it recorded so (the channel's program
/// kills server A's receiver and sd-mail right after taking the first
/// notification).
/// B tells it again, once; nothing else is told twice or lost.
#[test]
fn a_voice_killed_between_telling_and_recording_is_followed_by_one_more_telling() {
    use crate::util::smtp::SmtpServer;
    let mut env = TestEnv::new();
    let redis = RedisServer::start(env.path("redis"));
    env.set("SD_BROKER", redis.url());
    let smtp = SmtpServer::start(env.path("smtp"));
    let told = env.path("told.jsonl");
    let once = env.path("killed-once");
    let program = env.path("tell.sh");
    std::fs::write(
        &program,
        format!(
            "#!/bin/sh\n{{ cat; echo; }} >> '{told}'\n\
             if [ ! -e '{once}' ]; then\n\
                 touch '{once}'\n\
                 kill -9 \"$(ps -o ppid= -p $PPID | tr -d ' ')\" $PPID\n\
             fi\n",
            told = told.display(),
            once = once.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(
        &program,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let channel = format!("program={}", program.display());
    let extra = ["--channel", channel.as_str()];
    let ((_a_store, a_mail), (_b_store, _b_mail)) = pair(&env, &smtp.url(), &extra, &extra);
    env.cmd("sd-bark")
        .stdin("{\"id\":\"x1\",\"host\":\"tux03\",\"tag\":\"web\",\"status\":\"fail\"}\n")
        .expect_code(0);
    // A told it and died at once; B takes over and tells it again.
    assert!(wait_until(15, || once.exists()));
    let mut a_mail = a_mail;
    assert!(
        wait_until(10, || a_mail.try_wait().is_some()),
        "a's receiver survived"
    );
    let lines = || {
        std::fs::read_to_string(&told)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("\"x1\""))
            .count()
    };
    assert!(
        wait_until(20, || lines() == 2),
        "told {} time(s): {}",
        lines(),
        std::fs::read_to_string(env.path("b-mail.err")).unwrap_or_default()
    );
    // Then it is recorded, and the recovery is told once.
    env.cmd("sd-bark")
        .stdin("{\"id\":\"x2\",\"host\":\"tux03\",\"tag\":\"web\",\"status\":\"ok\"}\n")
        .expect_code(0);
    let recovered = || {
        std::fs::read_to_string(&told)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("\"x2\""))
            .count()
    };
    assert!(wait_until(15, || recovered() == 1));
    std::thread::sleep(std::time::Duration::from_millis(1000));
    assert_eq!((lines(), recovered()), (2, 1));
}

/// A silence set on the voice with --record holds on the next voice too.
#[test]
fn a_silence_set_on_one_server_holds_on_the_other() {
    use crate::util::smtp::SmtpServer;
    let mut env = TestEnv::new();
    let redis = RedisServer::start(env.path("redis"));
    env.set("SD_BROKER", redis.url());
    let smtp = SmtpServer::start(env.path("smtp"));
    let ((_a_store, a_mail), (_b_store, _b_mail)) = pair(&env, &smtp.url(), &[], &[]);
    env.cmd("sd-mail")
        .args(["silence", "--host", "tux05", "--tag", "web", "--for", "1h"])
        .args(["--reason", "maintenance", "--record", "--state"])
        .arg(env.path("a-state/mail.db"))
        .env("XDG_STATE_HOME", env.path("a-state"))
        .expect_code(0);
    let recorded = || records(&env.path("b.db"), "silenced");
    assert!(
        wait_until(15, || recorded() == 1),
        "the silence never reached b's store"
    );
    kill_all(a_mail);
    env.cmd("sd-bark")
        .stdin("{\"host\":\"tux05\",\"tag\":\"web\",\"status\":\"fail\"}\n{\"host\":\"tux06\",\"tag\":\"web\",\"status\":\"fail\"}\n")
        .expect_code(0);
    // B takes over, silent about tux05, telling of tux06.
    assert!(wait_until(20, || smtp.received().len() == 1));
    std::thread::sleep(std::time::Duration::from_millis(1000));
    let mails = smtp.received();
    assert_eq!(mails.len(), 1);
    assert!(mails[0].body.contains("tux06") && !mails[0].body.contains("tux05"));
    assert!(
        std::fs::read_to_string(env.path("b-mail.err"))
            .unwrap()
            .contains("1 silence(s) set or lifted")
    );
}

/// A record that cannot reach the broker stops the voice: told and not
/// recorded, it stops before telling more (at most the one mail in
/// flight is told again by the other server); decided and not recorded,
/// it does not let the events go. The records wait in the spool and go
/// out with the next bark.
#[test]
fn a_voice_whose_records_cannot_reach_the_broker_stops() {
    use crate::util::smtp::SmtpServer;
    use std::io::{Read, Write};
    let mut env = TestEnv::new();
    let mut redis = RedisServer::start(env.path("redis"));
    env.set("SD_BROKER", redis.url());
    let smtp = SmtpServer::start(env.path("smtp"));
    let mail = || {
        env.cmd("sd-mail")
            .args(["--echo", "--record", "--store"])
            .arg(env.path("none.db"))
            .arg("--state")
            .arg(env.path("mail.db"))
            .args(["--to", "admin@example.org", "--smtp", &smtp.url()])
            .args(["--group-wait", "2s"])
    };
    let in_stream = |redis: &RedisServer, kind: &str| {
        redis
            .cli(&["XRANGE", "sheepdog:events", "-", "+"])
            .unwrap_or_default()
            .matches(&format!("\"kind\":\"{kind}\""))
            .count()
    };
    let mut voice = mail().spawn();
    let mut stdin = voice.stdin.take().unwrap();
    stdin
        .write_all(b"{\"id\":\"r1\",\"host\":\"tux07\",\"tag\":\"web\",\"status\":\"fail\"}\n")
        .unwrap();
    stdin.flush().unwrap();
    assert!(
        wait_until(10, || in_stream(&redis, "decided") == 1),
        "decided never recorded"
    );
    // The broker goes before the mail is told (its group wait is 2 s).
    redis.kill();
    assert!(wait_until(15, || smtp.received().len() == 1), "never told");
    let mut status = None;
    let stopped = wait_until(15, || {
        status = voice.try_wait().unwrap();
        status.is_some()
    });
    if !stopped {
        let _ = voice.kill();
    }
    assert!(stopped, "told unrecorded, and went on");
    let status = status.unwrap();
    let (mut out, mut err) = (String::new(), String::new());
    voice
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    voice
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(status.code(), Some(69), "{err}");
    assert!(
        err.contains("stopping so that nothing more is told unrecorded"),
        "{err}"
    );
    assert!(
        out.contains("\"r1\""),
        "decided and recorded, so let go: {out}"
    );
    drop(stdin);

    // With the broker still away, the next run tells and decides nothing
    // while the record waits: the event is not let go.
    let run = mail()
        .stdin("{\"id\":\"r2\",\"host\":\"tux08\",\"tag\":\"web\",\"status\":\"fail\"}\n")
        .run();
    assert_eq!(run.code(), Some(69), "{}", run.stderr());
    assert!(
        run.stdout().is_empty(),
        "let go unrecorded: {}",
        run.stdout()
    );
    assert!(
        run.stderr().contains("nothing is told until they have"),
        "{}",
        run.stderr()
    );
    assert_eq!(smtp.received().len(), 1);

    // The broker back (empty: it was killed before it saved), the records
    // the spool kept go out with the next bark.
    redis.restart();
    env.cmd("sd-bark").arg("--flush").expect_code(0);
    assert_eq!(
        (in_stream(&redis, "decided"), in_stream(&redis, "notified")),
        (0, 1)
    );
    // And the next run decides r2 (its event was never let go).
    let run = mail()
        .stdin("{\"id\":\"r2\",\"host\":\"tux08\",\"tag\":\"web\",\"status\":\"fail\"}\n")
        .run();
    assert_eq!(run.code(), Some(0), "{}", run.stderr());
    assert!(run.stdout().contains("\"r2\""), "{}", run.stdout());
    assert_eq!(in_stream(&redis, "decided"), 1);
    assert!(wait_until(10, || smtp.received().len() == 2));
}

/// How many records of `kind` (sd-mail's, tag sd-mail) a store holds.
fn records(db: &std::path::Path, kind: &str) -> i64 {
    rusqlite::Connection::open(db)
        .and_then(|c| {
            c.query_row(
                "SELECT count(*) FROM events WHERE tag = 'sd-mail' AND kind = ?1",
                [kind],
                |r| r.get::<_, i64>(0),
            )
        })
        .unwrap_or(0)
}

/// SIGKILL to a server process and all it started (its process group).
fn kill_all(process: Background) {
    let pid = nix::unistd::Pid::from_raw(process.id() as i32);
    nix::sys::signal::killpg(pid, nix::sys::signal::Signal::SIGKILL).unwrap();
    drop(process);
}
