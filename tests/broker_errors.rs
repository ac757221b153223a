//! What sd-bark and sd-recv say about the broker: a wrong setting is a
//! usage error naming where it came from (exit 2), something that is not
//! Redis is named as such, an outage is said once, a service waits for a
//! broker that is away at start, and a stop is said as a stop.

use crate::util::redis::RedisServer;
use crate::util::{TestEnv, bin, wait_until};
use std::io::{Read, Write};

const EVENT: &str = "{\"tag\":\"t\",\"status\":\"ok\"}\n";

#[test]
fn a_wrong_broker_url_is_a_usage_error_naming_where_it_came_from() {
    let mut env = TestEnv::new();
    for (url, why) in [
        ("http://127.0.0.1:6390", "unknown scheme http"),
        ("redis://127.0.0.1:6390/abc", "database must be a number"),
        ("redis://127.0.0.1:99999", "invalid port"),
    ] {
        let run = env
            .cmd("sd-bark")
            .args(["--broker", url])
            .stdin(EVENT)
            .expect_code(2);
        assert!(
            run.stderr().starts_with("sd-bark: --broker: ") && run.stderr().contains(why),
            "{}",
            run.report()
        );
        assert_eq!(run.stderr().lines().count(), 1, "{}", run.report());
        let run = env
            .cmd("sd-recv")
            .args(["--group", "g"])
            .env("SD_BROKER", url)
            .expect_code(2);
        assert!(
            run.stderr().starts_with("sd-recv: SD_BROKER: ") && run.stderr().contains(why),
            "{}",
            run.report()
        );
    }
    let config = env.write_config("# the server\n[broker]\nurl = \"http://127.0.0.1:6390\"\n");
    env.set("SD_CONFIG", &config);
    let run = env.cmd("sd-bark").stdin(EVENT).expect_code(2);
    assert!(
        run.stderr().contains(&format!(
            "configuration file {}, line 3, key `url`",
            config.display()
        )) && run.stderr().contains("unknown scheme http"),
        "{}",
        run.report()
    );
}

#[test]
fn a_port_where_something_else_answers_is_not_a_redis_server() {
    let env = TestEnv::new();
    let port = crate::util::pretender(|mut conn| {
        let mut buf = [0u8; 1024];
        let _ = conn.read(&mut buf);
        let _ = conn.write_all(b"HTTP/1.0 400 Bad Request\r\n\r\n");
    });
    let url = format!("redis://127.0.0.1:{port}");
    let run = env
        .cmd("sd-bark")
        .env("SD_BROKER", &url)
        .stdin(EVENT)
        .expect_code(69);
    let stderr = run.stderr();
    assert!(
        stderr.contains(&format!("not a Redis server at {url}")),
        "{}",
        run.report()
    );
    assert!(!stderr.contains("Parse error"), "{}", run.report());
    assert_eq!(
        stderr.matches("not a Redis server").count(),
        1,
        "{}",
        run.report()
    );
    // The event waits in the spool all the same.
    assert!(
        stderr.contains("1 event(s) wait in the spool"),
        "{}",
        run.report()
    );
}

#[test]
fn a_broker_that_is_down_is_said_once() {
    let mut env = TestEnv::new();
    let mut redis = RedisServer::start(env.path("redis"));
    env.set("SD_BROKER", redis.url());
    redis.kill();
    let run = env.cmd("sd-bark").stdin(EVENT).expect_code(69);
    assert_eq!(
        run.stderr().matches("connection refused").count(),
        1,
        "{}",
        run.report()
    );
}

#[test]
fn a_receiver_waits_for_a_broker_that_is_down_at_start() {
    let mut env = TestEnv::new();
    let mut redis = RedisServer::start(env.path("redis"));
    env.set("SD_BROKER", redis.url());
    redis.kill();
    let out = env.path("recv.out");
    let err = env.path("recv.err");
    let mut recv = env
        .cmd("sd-recv")
        .args(["--group", "g"])
        .spawn_to(&out, &err);
    let stderr = || std::fs::read_to_string(&err).unwrap_or_default();
    assert!(
        wait_until(20, || stderr().contains("waiting for it")),
        "{}",
        stderr()
    );
    assert!(
        crate::util::alive(recv.id() as i32),
        "it gave up: {}",
        stderr()
    );
    redis.restart();
    env.cmd("sd-bark")
        .args(["--tag", "late", "--status", "ok"])
        .expect_code(0);
    assert!(
        wait_until(30, || std::fs::read_to_string(&out)
            .unwrap_or_default()
            .contains("\"late\"")),
        "{}",
        stderr()
    );
    assert!(stderr().contains("connected to"), "{}", stderr());
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(recv.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    assert_eq!(recv.wait().unwrap().code(), Some(0), "{}", stderr());
    assert!(stderr().contains("stopping"), "{}", stderr());
    assert_eq!(
        stderr().matches("waiting for it").count(),
        1,
        "{}",
        stderr()
    );
}

/// Ctrl-C in a terminal signals the whole job: sd-recv and its handler.
/// sd-recv says it is stopping, finishes, and says nothing about a lost
/// broker or a handler to start again.
#[test]
fn ctrl_c_stops_a_receiver_and_its_handler_quietly() {
    let mut env = TestEnv::new();
    let redis = RedisServer::start(env.path("redis"));
    env.set("SD_BROKER", redis.url());
    let db = env.path("events.db");
    env.cmd("sd-bark").stdin(EVENT.repeat(100)).expect_code(0);
    let out = env.path("recv.out");
    let err = env.path("recv.err");
    let mut recv = env
        .cmd("sd-recv")
        .args(["--group", "store", "--", bin("sd-store"), "--echo"])
        .arg(&db)
        .own_group()
        .spawn_to(&out, &err);
    let stored = || {
        rusqlite::Connection::open(&db)
            .and_then(|c| c.query_row("SELECT count(*) FROM events", [], |r| r.get::<_, i64>(0)))
            .unwrap_or(0)
    };
    assert!(wait_until(30, || stored() == 100));
    // Wait until it blocks reading the stream, where a signal interrupts.
    assert!(wait_until(20, || redis
        .cli(&["CLIENT", "LIST"])
        .is_some_and(|clients| clients.contains("cmd=xreadgroup"))));
    nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(recv.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let status = recv.wait().unwrap();
    let stderr = std::fs::read_to_string(&err).unwrap();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("stopping"), "{stderr}");
    assert!(!stderr.contains("reconnecting"), "{stderr}");
    assert!(!stderr.contains("starting it again"), "{stderr}");
    assert_eq!(stored(), 100);
}

/// At the end of a pipe in a service, a stop signalled to the whole group
/// reaches sd-bark too: it reads on until its producer closes the pipe,
/// and keeps every event it was given.
#[test]
fn sd_bark_at_the_end_of_a_pipe_keeps_what_it_is_given_after_a_stop() {
    let env = TestEnv::new();
    let mut bark = env.cmd("sd-bark").spawn();
    let mut stdin = bark.stdin.take().unwrap();
    writeln!(stdin, "{{\"tag\":\"before\",\"status\":\"ok\"}}").unwrap();
    stdin.flush().unwrap();
    // The first event is in the spool: sd-bark is reading, waiting for more.
    let spool = env.path("state/spool.db");
    assert!(wait_until(20, || rusqlite::Connection::open(&spool)
        .and_then(|c| c.query_row("SELECT count(*) FROM entries", [], |r| r.get::<_, i64>(0)))
        .is_ok_and(|n| n == 1)));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(bark.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    // The signal has been taken (nothing pending for the process).
    assert!(wait_until(20, || nothing_pending(bark.id())));
    writeln!(stdin, "{{\"tag\":\"after\",\"status\":\"ok\"}}").unwrap();
    drop(stdin);
    assert_eq!(bark.wait().unwrap().code(), Some(0));
    let run = env
        .cmd("sd-recv")
        .args(["--group", "g", "--once"])
        .expect_code(0);
    let tags: Vec<String> = run
        .lines::<serde_json::Value>()
        .iter()
        .map(|e| e["tag"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(tags, ["before", "after"]);
}

/// A server that answers every command as Redis would with `+OK`, but
/// XREAD and XREADGROUP with `attack`, and keeps the connection open.
fn impersonated_broker(attack: &'static [u8]) -> u16 {
    crate::util::pretender(move |client| {
        let mut out = client.try_clone().unwrap();
        let mut input = std::io::BufReader::new(client);
        let mut line = String::new();
        let mut read_line = |input: &mut std::io::BufReader<_>| {
            line.clear();
            use std::io::BufRead;
            match input.read_line(&mut line) {
                Ok(n) if n > 0 => Some(line.trim_end().to_string()),
                _ => None,
            }
        };
        loop {
            let Some(header) = read_line(&mut input) else {
                return;
            };
            let count: usize = header.trim_start_matches('*').parse().unwrap_or(0);
            let mut words = Vec::new();
            for _ in 0..count {
                let Some(len) = read_line(&mut input) else {
                    return;
                };
                let len: usize = len.trim_start_matches('$').parse().unwrap_or(0);
                let mut word = vec![0; len + 2];
                if input.read_exact(&mut word).is_err() {
                    return;
                }
                words.push(String::from_utf8_lossy(&word[..len]).to_uppercase());
            }
            let reply: &[u8] = match words.first().map(String::as_str) {
                Some("XREADGROUP" | "XREAD") => attack,
                _ => b"+OK\r\n",
            };
            if out.write_all(reply).is_err() {
                return;
            }
        }
    })
}

#[test]
fn once_a_broker_that_does_not_speak_the_protocol_ends_the_run() {
    // 30 bytes that claimed 512 Mi entries aborted the receiver; after
    // that, a reply that is no reply had --once reconnect for ever.
    for attack in [
        &b"*1\r\n*2\r\n$1\r\ns\r\n*536870912\r\n"[..],
        b"HTTP/1.1 400 Bad Request\r\n\r\n",
    ] {
        let port = impersonated_broker(attack);
        let env = TestEnv::new();
        let run = env
            .cmd("sd-recv")
            .args(["--group", "g", "--once"])
            .env("SD_BROKER", format!("redis://127.0.0.1:{port}"))
            .expect_code(69);
        assert!(run.stderr().contains("giving up"), "{}", run.report());
    }
}

/// Whether no signal waits to be delivered to process `pid`.
fn nothing_pending(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/status")).is_ok_and(|status| {
        status
            .lines()
            .filter(|l| l.starts_with("SigPnd:") || l.starts_with("ShdPnd:"))
            .all(|l| {
                l.split_whitespace()
                    .nth(1)
                    .is_some_and(|m| m.bytes().all(|b| b == b'0'))
            })
    })
}
