//! sd-bark → Redis (or the spool) → sd-recv, against a real redis-server.

use crate::util::redis::RedisServer;
use crate::util::{Event, TestEnv, wait_until};
use serde_json::Value;
use std::collections::HashSet;
use std::path::Path;

fn events_input(n: usize, tag: &str) -> String {
    (0..n)
        .map(|i| format!("{{\"tag\":\"{tag}\",\"status\":\"ok\",\"n\":{i},\"extra\":{{\"b\":[1,2.50],\"a\":\"é\\n\"}}}}\n"))
        .collect()
}

fn lines_of(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Everything in the stream, read back with redis-cli.
fn stream_len(redis: &RedisServer, key: &str) -> usize {
    redis.cli(&["XLEN", key]).unwrap().trim().parse().unwrap()
}

#[test]
fn ten_thousand_events_arrive_complete_in_order_and_unchanged() {
    let mut env = TestEnv::new();
    let redis = RedisServer::start(env.path("redis"));
    env.set("SD_BROKER", redis.url());
    let input = events_input(10_000, "BULK");
    env.cmd("sd-bark").stdin(input.clone()).expect_code(0);
    let run = env
        .cmd("sd-recv")
        .args(["--group", "check", "--once"])
        .expect_code(0);
    let got = run.stdout();
    let got: Vec<&str> = got.lines().collect();
    assert_eq!(got.len(), 10_000, "{}", run.report());
    let mut ids = HashSet::new();
    for (i, (line, sent)) in got.iter().zip(input.lines()).enumerate() {
        // Byte-identical apart from the stamp that goes in front.
        let stamp_end = line.find(",\"tag\"").unwrap();
        assert_eq!(&line[stamp_end + 1..], &sent[1..], "event {i}");
        let event: Value = serde_json::from_str(line).unwrap();
        assert_eq!(event["n"], i);
        assert!(ids.insert(event["id"].as_str().unwrap().to_string()));
    }
}

#[test]
fn a_broker_that_is_down_delays_events_and_flush_sends_them_once_in_order() {
    let mut env = TestEnv::new();
    let mut redis = RedisServer::start(env.path("redis"));
    env.set("SD_BROKER", redis.url());
    redis.kill();
    let run = env
        .cmd("sd-bark")
        .stdin(events_input(50, "A"))
        .expect_code(69);
    assert!(
        run.stderr().contains("connection refused"),
        "{}",
        run.report()
    );
    assert!(
        run.stderr().contains("50 event(s) wait in the spool"),
        "{}",
        run.report()
    );
    env.cmd("sd-bark")
        .stdin(events_input(30, "B"))
        .expect_code(69);

    redis.restart();
    env.cmd("sd-bark").arg("--flush").expect_code(0);
    assert_eq!(stream_len(&redis, "sheepdog:events"), 80);
    let run = env
        .cmd("sd-recv")
        .args(["--group", "g", "--once"])
        .expect_code(0);
    let events = lines_of(&run.stdout());
    assert_eq!(events.len(), 80);
    for (i, event) in events.iter().enumerate() {
        let (tag, n) = if i < 50 { ("A", i) } else { ("B", i - 50) };
        assert_eq!(
            (
                event["tag"].as_str().unwrap(),
                event["n"].as_u64().unwrap() as usize
            ),
            (tag, n)
        );
    }
    // Nothing is left to send.
    env.cmd("sd-bark").arg("--flush").expect_code(0);
    assert_eq!(
        stream_len(&redis, "sheepdog:events"),
        0,
        "read by the only group, so trimmed"
    );
}

#[test]
fn the_next_sd_bark_sends_what_earlier_runs_left_first() {
    let mut env = TestEnv::new();
    let mut redis = RedisServer::start(env.path("redis"));
    env.set("SD_BROKER", redis.url());
    redis.kill();
    env.cmd("sd-bark")
        .stdin(events_input(5, "OLD"))
        .expect_code(69);
    redis.restart();
    env.cmd("sd-bark")
        .stdin(events_input(5, "NEW"))
        .expect_code(0);
    let events = lines_of(
        &env.cmd("sd-recv")
            .args(["--group", "g", "--once"])
            .expect_code(0)
            .stdout(),
    );
    let tags: Vec<&str> = events.iter().map(|e| e["tag"].as_str().unwrap()).collect();
    assert_eq!(
        tags,
        [
            "OLD", "OLD", "OLD", "OLD", "OLD", "NEW", "NEW", "NEW", "NEW", "NEW"
        ]
    );
}

#[test]
fn twenty_sd_barks_at_once_publish_every_event_once() {
    let mut env = TestEnv::new();
    let redis = RedisServer::start(env.path("redis"));
    env.set("SD_BROKER", redis.url());
    let children: Vec<_> = (0..20)
        .map(|p| {
            env.cmd("sd-bark")
                .stdin(events_input(200, &format!("P{p}")))
                .spawn()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(stream_len(&redis, "sheepdog:events"), 4000);
    let events = lines_of(
        &env.cmd("sd-recv")
            .args(["--group", "g", "--once"])
            .expect_code(0)
            .stdout(),
    );
    let ids: HashSet<String> = events
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 4000);
    // Each producer's events stay in order.
    for p in 0..20 {
        let tag = format!("P{p}");
        let ns: Vec<u64> = events
            .iter()
            .filter(|e| e["tag"] == tag.as_str())
            .map(|e| e["n"].as_u64().unwrap())
            .collect();
        assert_eq!(ns, (0..200).collect::<Vec<u64>>());
    }
}

#[test]
fn sd_bark_killed_mid_batch_loses_nothing_it_committed() {
    let mut env = TestEnv::new();
    let redis = RedisServer::start(env.path("redis"));
    env.set("SD_BROKER", redis.url());
    // SIGKILL while lines still arrive, once the spool's own progress
    // shows committed batches (not after a fixed time, which on a fast
    // machine is after the end and on a slow one before the start).
    let mut child = env
        .cmd("sd-bark")
        .arg("--broker")
        .arg("redis://127.0.0.1:1")
        .spawn();
    let mut stdin = child.stdin.take().unwrap_or_else(|| panic!("stdin"));
    let total = 200_000;
    let feeder = std::thread::spawn(move || {
        use std::io::Write;
        let _ = stdin.write_all(events_input(total, "K").as_bytes());
    });
    let spool = env.path("state/spool.db");
    let committed = || -> i64 {
        rusqlite::Connection::open_with_flags(&spool, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .and_then(|db| db.query_row("SELECT count(*) FROM entries", [], |r| r.get(0)))
            .unwrap_or(0)
    };
    assert!(crate::util::wait_until(60, || committed() >= 8000));
    child.kill().unwrap();
    child.wait().unwrap();
    feeder.join().unwrap();
    env.cmd("sd-bark").arg("--flush").expect_code(0);
    let events = lines_of(
        &env.cmd("sd-recv")
            .args(["--group", "g", "--once"])
            .expect_code(0)
            .stdout(),
    );
    // What was committed comes, once each, in order, with no gap: the
    // lines up to some point, and none after it.
    let ns: Vec<u64> = events.iter().map(|e| e["n"].as_u64().unwrap()).collect();
    assert!(ns.len() >= 8000, "{} events", ns.len());
    assert!(
        ns.len() < total,
        "killed after the end: nothing was mid-batch"
    );
    assert_eq!(ns, (0..ns.len() as u64).collect::<Vec<u64>>());
}

#[test]
fn an_event_goes_out_while_the_next_line_is_still_being_written() {
    let mut env = TestEnv::new();
    let redis = RedisServer::start(env.path("redis"));
    env.set("SD_BROKER", redis.url());
    // Lines go from the reading thread in chunks: one must not wait in a
    // chunk for a line its producer has not finished (a progress bar
    // without a newline, a long line still arriving).
    let mut child = env.cmd("sd-bark").spawn();
    use std::io::Write;
    let mut stdin = child.stdin.take().unwrap_or_else(|| panic!("stdin"));
    stdin
        .write_all(b"{\"tag\":\"first\",\"status\":\"ok\"}\n{\"tag\":\"sec")
        .unwrap();
    stdin.flush().unwrap();
    let length = || {
        redis
            .cli(&["XLEN", "sheepdog:events"])
            .map(|n| n.trim().to_string())
    };
    let published = crate::util::wait_until(10, || length().as_deref() == Some("1"));
    stdin.write_all(b"ond\"}\n").unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(
        published,
        "the first event waited for the second line: {out:?}"
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(length().as_deref(), Some("2"));
}

#[test]
fn rejected_lines_are_named_and_the_rest_still_go() {
    let mut env = TestEnv::new();
    let redis = RedisServer::start(env.path("redis"));
    env.set("SD_BROKER", redis.url());
    let input = b"{\"tag\":\"a\"}\nnot json\n\xff\xfe\n[1]\n{\"tag\":\"b\"}\n".to_vec();
    let run = env.cmd("sd-bark").stdin(input).expect_code(65);
    assert_eq!(
        run.stderr(),
        "sd-bark: line 2: invalid JSON at column 2: expected ident\n\
         sd-bark: line 3: not UTF-8 (invalid byte at offset 0)\n\
         sd-bark: line 4: expected a JSON object, got an array\n"
    );
    let events = lines_of(
        &env.cmd("sd-recv")
            .args(["--group", "g", "--once"])
            .expect_code(0)
            .stdout(),
    );
    let tags: Vec<&str> = events.iter().map(|e| e["tag"].as_str().unwrap()).collect();
    assert_eq!(tags, ["a", "b"], "the good lines, in order, and only they");
    env.cmd("sd-bark").stdin("").expect_code(0);
}

#[test]
fn composed_events_and_pings() {
    let mut env = TestEnv::new();
    let redis = RedisServer::start(env.path("redis"));
    env.set("SD_BROKER", redis.url());
    env.cmd("sd-bark")
        .args(["--tag", "deploy", "--status", "ok", "--msg", "deployed v2"])
        .expect_code(0);
    env.cmd("sd-bark")
        .args(["--ping", "--tag", "alive"])
        .expect_code(0);
    let events: Vec<Event> = env
        .cmd("sd-recv")
        .args(["--group", "g", "--once"])
        .expect_code(0)
        .lines();
    assert_eq!(
        (
            events[0].tag.as_str(),
            events[0].kind.as_str(),
            events[0].status.as_str()
        ),
        ("deploy", "note", "ok")
    );
    assert_eq!(events[0].msg.as_deref(), Some("deployed v2"));
    assert_eq!(
        (
            events[1].tag.as_str(),
            events[1].kind.as_str(),
            events[1].status.as_str()
        ),
        ("alive", "ping", "ok")
    );
    env.cmd("sd-bark")
        .args(["--tag", "x", "--status", "bad"])
        .expect_code(2);
}

#[test]
fn two_consumers_share_two_groups_each_get_all_and_the_stream_is_trimmed() {
    let mut env = TestEnv::new();
    let redis = RedisServer::start(env.path("redis"));
    env.set("SD_BROKER", redis.url());
    env.cmd("sd-bark")
        .stdin(events_input(1000, "S"))
        .expect_code(0);
    // Both roles exist before any reads: trimming waits for the slower.
    redis
        .cli(&["XGROUP", "CREATE", "sheepdog:events", "mail", "0"])
        .unwrap();
    let a = env
        .cmd("sd-recv")
        .args(["--group", "store", "--consumer", "a", "--count", "600"])
        .expect_code(0);
    let b = env
        .cmd("sd-recv")
        .args(["--group", "store", "--consumer", "b", "--once"])
        .expect_code(0);
    let ids = |run: &crate::util::Run| -> Vec<String> {
        lines_of(&run.stdout())
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_string())
            .collect()
    };
    let (ia, ib) = (ids(&a), ids(&b));
    assert_eq!(ia.len(), 600);
    assert_eq!(ib.len(), 400);
    let all: HashSet<&String> = ia.iter().chain(ib.iter()).collect();
    assert_eq!(all.len(), 1000, "no overlap, nothing missing");
    assert_eq!(
        stream_len(&redis, "sheepdog:events"),
        1000,
        "the mail group has not read them yet"
    );

    env.cmd("sd-bark").stdin("").expect_code(0);
    let mail = env
        .cmd("sd-recv")
        .args(["--group", "mail", "--once"])
        .expect_code(0);
    assert_eq!(ids(&mail).len(), 1000);
    assert!(
        wait_until(5, || stream_len(&redis, "sheepdog:events") == 0),
        "both groups acknowledged everything, so the stream is trimmed"
    );
}

#[test]
fn entries_added_with_redis_cli_get_ids_from_their_entry_and_keep_them() {
    let mut env = TestEnv::new();
    let redis = RedisServer::start(env.path("redis"));
    env.set("SD_BROKER", redis.url());
    let entry = redis
        .cli(&[
            "XADD",
            "sheepdog:events",
            "*",
            "event",
            r#"{"tag":"cron","kind":"run","status":"fail","host":"old01"}"#,
        ])
        .unwrap();
    let entry = entry.trim();
    for group in ["g1", "g2"] {
        redis
            .cli(&["XGROUP", "CREATE", "sheepdog:events", group, "0"])
            .unwrap();
    }
    // In g2 a consumer takes the entry and dies without acknowledging it.
    redis
        .cli(&[
            "XREADGROUP",
            "GROUP",
            "g2",
            "dies",
            "COUNT",
            "1",
            "STREAMS",
            "sheepdog:events",
            ">",
        ])
        .unwrap();
    let first: Vec<Event> = env
        .cmd("sd-recv")
        .args(["--group", "g1", "--once"])
        .expect_code(0)
        .lines();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].id, format!("redis-{entry}"));
    let ms: i64 = entry.split('-').next().unwrap().parse().unwrap();
    assert_eq!(first[0].time, sheepdog::base::time::format_ms(ms));
    // Redelivered to g2 by taking it over from the dead consumer.
    let again: Vec<Event> = env
        .cmd("sd-recv")
        .args(["--group", "g2", "--once", "--claim-idle", "0s"])
        .expect_code(0)
        .lines();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].id, first[0].id, "a redelivery carries the same id");

    // What sd-bark wrote reads back with plain redis-cli.
    env.cmd("sd-bark")
        .args(["--tag", "wire", "--msg", "hello"])
        .expect_code(0);
    let range = redis.cli(&["XRANGE", "sheepdog:events", "-", "+"]).unwrap();
    let event_line = range.lines().find(|l| l.contains("\"wire\"")).unwrap();
    let event: Value = serde_json::from_str(event_line).unwrap();
    assert_eq!(event["msg"], "hello");
    assert!(
        range.lines().any(|l| l == "event"),
        "the entry field is `event`"
    );
}

#[test]
fn the_same_round_trip_works_through_the_spool_without_a_broker() {
    let env = TestEnv::new();
    env.cmd("sd-bark")
        .stdin(events_input(300, "LOCAL"))
        .expect_code(0);
    let a = env
        .cmd("sd-recv")
        .args(["--group", "store", "--once"])
        .expect_code(0);
    let events = lines_of(&a.stdout());
    assert_eq!(events.len(), 300);
    assert_eq!(events[299]["n"], 299);
    env.cmd("sd-recv")
        .args(["--group", "store", "--once"])
        .expect_code(0);
    assert_eq!(
        env.cmd("sd-recv")
            .args(["--group", "store", "--once"])
            .expect_code(0)
            .stdout(),
        ""
    );
    let other = env
        .cmd("sd-recv")
        .args(["--group", "mail", "--once"])
        .expect_code(0);
    assert_eq!(
        lines_of(&other.stdout()).len(),
        0,
        "events every group acknowledged are gone from the spool"
    );
}

/// A handler that records each id durably before echoing it, and on its
/// first run dies with SIGKILL after `die_after` events.
fn recording_handler(dir: &Path, die_after: usize, poison: &str) -> std::path::PathBuf {
    let script = dir.join("handler.py");
    std::fs::write(
        &script,
        format!(
            r#"import json, os, sys
seen = open({seen:?}, "a")
first_run = not os.path.exists({marker:?})
open({marker:?}, "a").close()
count = 0
for line in sys.stdin:
    event = json.loads(line)
    if {poison:?} and {poison:?} in event.get("tag", ""):
        continue
    seen.write(event["id"] + "\n"); seen.flush(); os.fsync(seen.fileno())
    count += 1
    if first_run and count == {die_after}:
        os.kill(os.getpid(), 9)
    sys.stdout.write(line); sys.stdout.flush()
"#,
            seen = dir.join("seen.txt"),
            marker = dir.join("ran-once"),
        ),
    )
    .unwrap();
    script
}

#[test]
fn a_handler_killed_mid_stream_sees_every_event_after_recovery() {
    let mut env = TestEnv::new();
    let redis = RedisServer::start(env.path("redis"));
    env.set("SD_BROKER", redis.url());
    env.cmd("sd-bark")
        .stdin(events_input(10_000, "H"))
        .expect_code(0);
    let handler = recording_handler(env.dir.path(), 3000, "");
    let run = env
        .cmd("sd-recv")
        .args(["--group", "store", "--once", "--", "python3"])
        .arg(&handler)
        .expect_code(0);
    assert!(
        run.stderr().contains("exited"),
        "the handler was restarted: {}",
        run.report()
    );
    let seen = std::fs::read_to_string(env.path("seen.txt")).unwrap();
    let seen: HashSet<&str> = seen.lines().collect();
    assert_eq!(seen.len(), 10_000, "{}", run.report());
    let pending = redis
        .cli(&["XPENDING", "sheepdog:events", "store"])
        .unwrap();
    assert!(
        pending.starts_with("0\n"),
        "everything was acknowledged: {pending}"
    );
}

#[test]
fn an_event_never_echoed_ends_in_the_dead_letter_stream() {
    let mut env = TestEnv::new();
    let redis = RedisServer::start(env.path("redis"));
    env.set("SD_BROKER", redis.url());
    let mut input = events_input(20, "fine");
    // 5 KB: a dead letter keeps the first KiB and says where the rest is.
    input.push_str(&format!(
        "{{\"tag\":\"poison-pill\",\"status\":\"fail\",\"msg\":\"{}\"}}\n",
        "x".repeat(5000)
    ));
    input.push_str(&events_input(20, "fine"));
    env.cmd("sd-bark").stdin(input).expect_code(0);
    let handler = recording_handler(env.dir.path(), 0, "poison");
    std::fs::write(env.path("ran-once"), "").unwrap();
    // The handler never echoes the poison pill: once its stdin closes it
    // exits, and the pill is sent again until --max-deliveries.
    let run = env
        .cmd("sd-recv")
        .args([
            "--group",
            "store",
            "--once",
            "--max-deliveries",
            "3",
            "--",
            "sh",
            "-c",
        ])
        .arg(format!("timeout 2 python3 {}", handler.display()))
        .expect_code(65);
    assert!(
        run.stderr().ends_with(
            "sd-recv: 1 event(s) moved to the dead letters (sheepdog:dead) and 0 to \
             sheepdog:rejected, each named above\n"
        ),
        "{}",
        run.report()
    );
    assert!(
        run.stderr()
            .contains("not echoed by the handler after 3 deliveries"),
        "{}",
        run.report()
    );
    let dead = redis.cli(&["XRANGE", "sheepdog:dead", "-", "+"]).unwrap();
    assert!(dead.contains("poison-pill"), "{dead}");
    let kept = dead.lines().find(|l| l.contains("poison-pill")).unwrap();
    assert!(kept.len() <= 1024, "{} bytes kept", kept.len());
    assert!(
        dead.contains("bytes are kept here; the whole event stays entry"),
        "{dead}"
    );
    assert!(
        dead.contains("not echoed by the handler after 3 deliveries"),
        "{dead}"
    );
    let seen = std::fs::read_to_string(env.path("seen.txt")).unwrap();
    assert_eq!(seen.lines().collect::<HashSet<_>>().len(), 40);
}

#[test]
fn a_following_receiver_survives_a_redis_restart_and_loses_nothing() {
    let mut env = TestEnv::new();
    let mut redis = RedisServer::start_durable(env.path("redis"));
    env.set("SD_BROKER", redis.url());
    env.cmd("sd-bark")
        .stdin(events_input(100, "BEFORE"))
        .expect_code(0);
    let out = env.path("recv.out");
    let err = env.path("recv.err");
    let mut recv = env
        .cmd("sd-recv")
        .args(["--group", "store", "--count", "200"])
        .spawn_to(&out, &err);
    assert!(wait_until(10, || std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .count()
        >= 100));
    redis.kill();
    std::thread::sleep(std::time::Duration::from_millis(300));
    redis.restart();
    env.cmd("sd-bark")
        .stdin(events_input(100, "AFTER"))
        .expect_code(0);
    assert!(
        wait_until(20, || recv.try_wait().unwrap().is_some()),
        "sd-recv did not finish"
    );
    let text = std::fs::read_to_string(&out).unwrap();
    let events = lines_of(&text);
    let ids: HashSet<&str> = events.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 200, "{}", std::fs::read_to_string(&err).unwrap());
    let stderr = std::fs::read_to_string(&err).unwrap();
    assert!(
        stderr.contains("reconnecting") && stderr.contains("reconnected"),
        "{stderr}"
    );
}

#[test]
fn configuration_errors_name_the_file_line_and_key() {
    let env = TestEnv::new();
    let path = env.write_config("[broker]\nurl = \"redis://127.0.0.1:1\"\ntimeout = 5\n");
    let run = env.cmd("sd-bark").arg("--flush").expect_code(2);
    assert_eq!(
        run.stderr(),
        format!(
            "sd-bark: configuration file {}, line 3, key `timeout`: invalid type: integer `5`, expected a string\n",
            path.display()
        )
    );
    env.write_config("[brokr]\n");
    let run = env.cmd("sd-bark").arg("--flush").expect_code(2);
    assert!(
        run.stderr().contains("line 1") && run.stderr().contains("unknown field `brokr`"),
        "{}",
        run.report()
    );
    let run = env
        .cmd("sd-bark")
        .args(["--config", "/nonexistent/sheepdog.toml", "--flush"])
        .expect_code(2);
    assert_eq!(
        run.stderr(),
        "sd-bark: reading configuration file /nonexistent/sheepdog.toml: no such file or directory\n"
    );
}

#[test]
fn precedence_is_flag_then_environment_then_file() {
    let mut env = TestEnv::new();
    let redis = RedisServer::start(env.path("redis"));
    env.write_config(&format!(
        "[broker]\nurl = \"{}\"\nstream = \"from-file\"\n",
        redis.url()
    ));
    env.cmd("sd-bark").args(["--tag", "a"]).expect_code(0);
    assert_eq!(stream_len(&redis, "from-file"), 1);
    env.set("SD_STREAM", "from-env");
    env.cmd("sd-bark").args(["--tag", "b"]).expect_code(0);
    assert_eq!(stream_len(&redis, "from-env"), 1);
    env.cmd("sd-bark")
        .args(["--tag", "c", "--stream", "from-flag"])
        .expect_code(0);
    assert_eq!(stream_len(&redis, "from-flag"), 1);
}

#[test]
fn a_password_comes_from_password_file_and_is_never_printed() {
    let mut env = TestEnv::new();
    let redis = RedisServer::start_with(
        env.path("redis"),
        &["--save", "", "--requirepass", "s3cret-pw"],
    );
    std::fs::write(env.path("redis.pass"), "s3cret-pw\n").unwrap();
    env.write_config(&format!(
        "[broker]\nurl = \"{}\"\npassword_file = \"{}\"\n",
        redis.url(),
        env.path("redis.pass").display()
    ));
    env.cmd("sd-bark").args(["--tag", "a"]).expect_code(0);
    // Receiving logs in with it too (stream entries are read on a
    // connection of their own, src/log/redis/wire.rs).
    let events: Vec<Event> = env
        .cmd("sd-recv")
        .args(["--group", "g", "--once"])
        .expect_code(0)
        .lines();
    assert_eq!(events[0].tag, "a");

    // A wrong password in a URL on the command line: refused, warned about,
    // and never echoed.
    std::fs::write(env.path("redis.pass"), "wrong-pw\n").unwrap();
    let url = format!("redis://:wrong-pw@127.0.0.1:{}", redis.port);
    // A refusal is the configuration's mistake, not an outage: exit 2,
    // the fix named, the event kept in the spool.
    let run = env
        .cmd("sd-bark")
        .args(["--tag", "b", "--broker", &url])
        .expect_code(2);
    assert!(
        run.stderr().contains("visible to every user through ps"),
        "{}",
        run.report()
    );
    assert!(
        run.stderr().contains("the broker refused us")
            && run.stderr().contains("[broker] password_file"),
        "{}",
        run.report()
    );
    assert!(!run.stderr().contains("wrong-pw"), "{}", run.report());
    env.set("SD_BROKER", &url);
    let run = env.cmd("sd-bark").args(["--tag", "c"]).expect_code(2);
    assert!(
        !run.stderr().contains("visible to every user"),
        "{}",
        run.report()
    );
    // A receiver run as a service does not wait for ever on a password
    // that will never be right: it says so and exits 2.
    let run = env.cmd("sd-recv").args(["--group", "g"]).expect_code(2);
    assert!(
        run.stderr().contains("the broker refused us"),
        "{}",
        run.report()
    );
    assert!(!run.stderr().contains("waiting for it"), "{}", run.report());
}

#[test]
fn a_broker_that_hangs_costs_at_most_the_timeout() {
    let env = TestEnv::new();
    let redis = RedisServer::start(env.path("redis"));
    env.write_config(&format!(
        "[broker]\nurl = \"{}\"\ntimeout = \"1s\"\n",
        redis.url()
    ));
    // A frozen server accepts connections but never answers.
    let pid = nix::unistd::Pid::from_raw(redis.pid() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGSTOP).unwrap();
    let run = env.cmd("sd-bark").args(["--tag", "slow"]).run();
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGCONT).unwrap();
    run.assert_code(69);
    assert!(run.stderr().contains("timed out"), "{}", run.report());
    env.cmd("sd-bark").arg("--flush").expect_code(0);
    assert_eq!(stream_len(&redis, "sheepdog:events"), 1);
}

#[test]
fn a_database_number_in_the_url_is_where_events_go_and_are_read_from() {
    let mut env = TestEnv::new();
    let redis = RedisServer::start(env.path("redis"));
    env.set("SD_BROKER", format!("{}/3", redis.url()));
    env.cmd("sd-bark").args(["--tag", "in-db-3"]).expect_code(0);
    assert_eq!(stream_len(&redis, "sheepdog:events"), 0, "not in db 0");
    let in_db_3 = redis.cli(&["-n", "3", "XLEN", "sheepdog:events"]).unwrap();
    assert_eq!(in_db_3.trim(), "1");
    let events: Vec<Event> = env
        .cmd("sd-recv")
        .args(["--group", "g", "--once"])
        .expect_code(0)
        .lines();
    assert_eq!(events[0].tag, "in-db-3");
}

#[test]
fn unix_socket_brokers_work() {
    let mut env = TestEnv::new();
    let socket = env.path("redis.sock");
    let socket_arg = socket.display().to_string();
    let redis = RedisServer::start_with(
        env.path("redis"),
        &[
            "--save",
            "",
            "--unixsocket",
            &socket_arg,
            "--unixsocketperm",
            "700",
        ],
    );
    env.set("SD_BROKER", format!("unix://{}", socket.display()));
    env.cmd("sd-bark")
        .args(["--tag", "via-socket"])
        .expect_code(0);
    assert_eq!(stream_len(&redis, "sheepdog:events"), 1);
    let events: Vec<Event> = env
        .cmd("sd-recv")
        .args(["--group", "g", "--once"])
        .expect_code(0)
        .lines();
    assert_eq!(events[0].tag, "via-socket");
}

#[test]
fn an_unwritable_spool_publishes_directly_or_writes_events_to_stderr() {
    let mut env = TestEnv::new();
    // A spool under a regular file can never be created.
    std::fs::write(env.path("not-a-dir"), "").unwrap();
    env.set("SD_SPOOL", env.path("not-a-dir/spool.db"));
    let run = env
        .cmd("sd-bark")
        .stdin(events_input(3, "NOSPOOL"))
        .expect_code(74);
    assert!(run.stderr().contains("spool"), "{}", run.report());
    let kept = run
        .stderr()
        .lines()
        .filter(|l| l.contains("NOSPOOL"))
        .count();
    assert_eq!(
        kept,
        3,
        "each event is on stderr for cron to mail: {}",
        run.report()
    );

    let redis = RedisServer::start(env.path("redis"));
    env.set("SD_BROKER", redis.url());
    let run = env
        .cmd("sd-bark")
        .stdin(events_input(3, "DIRECT"))
        .expect_code(0);
    assert!(
        run.stderr().contains("publishing directly"),
        "{}",
        run.report()
    );
    assert_eq!(stream_len(&redis, "sheepdog:events"), 3);
}

#[test]
fn sigterm_lets_in_flight_events_finish_and_acknowledges_them() {
    let mut env = TestEnv::new();
    let redis = RedisServer::start(env.path("redis"));
    env.set("SD_BROKER", redis.url());
    env.cmd("sd-bark")
        .stdin(events_input(50, "T"))
        .expect_code(0);
    // A slow handler: each event takes 20 ms.
    let handler = format!(
        "import json, sys, time\nseen = open({:?}, 'a')\nfor line in sys.stdin:\n    time.sleep(0.02)\n    seen.write(json.loads(line)['id'] + '\\n'); seen.flush()\n    sys.stdout.write(line); sys.stdout.flush()\n",
        env.path("seen.txt")
    );
    std::fs::write(env.path("slow.py"), handler).unwrap();
    let out = env.path("out");
    let err = env.path("err");
    let mut recv = env
        .cmd("sd-recv")
        .args(["--group", "store", "--window", "10", "--", "python3"])
        .arg(env.path("slow.py"))
        .spawn_to(&out, &err);
    // Stopped while events are in flight: once the handler has seen one.
    let seen = env.path("seen.txt");
    assert!(wait_until(20, || std::fs::read_to_string(&seen)
        .is_ok_and(|s| !s.is_empty())));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(recv.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    assert!(wait_until(10, || recv.try_wait().unwrap().is_some()));
    assert_eq!(
        recv.wait().unwrap().code(),
        Some(0),
        "{}",
        std::fs::read_to_string(&err).unwrap()
    );
    let pending = redis
        .cli(&["XPENDING", "sheepdog:events", "store"])
        .unwrap();
    assert!(
        pending.starts_with("0\n"),
        "nothing left unacknowledged: {pending}"
    );
    // What was not taken yet is still there for the next run.
    let handled = std::fs::read_to_string(env.path("seen.txt")).unwrap();
    let handled: HashSet<String> = handled.lines().map(String::from).collect();
    assert!(handled.len() < 50, "SIGTERM came before the end");
    let rest = lines_of(
        &env.cmd("sd-recv")
            .args(["--group", "store", "--once"])
            .expect_code(0)
            .stdout(),
    );
    let rest: HashSet<String> = rest
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    assert!(
        handled.is_disjoint(&rest),
        "what was acknowledged is not delivered again"
    );
    assert_eq!(handled.len() + rest.len(), 50);
}

#[test]
fn rediss_with_a_private_ca_works_and_fails_clearly_without_it() {
    let mut env = TestEnv::new();
    let ca = crate::util::tls::make(&env.path("tls"));
    let redis = RedisServer::start_tls(env.path("redis"), &ca);
    env.set("SD_BROKER", format!("rediss://127.0.0.1:{}", redis.port));
    let run = env
        .cmd("sd-bark")
        .args(["--tag", "untrusted"])
        .expect_code(69);
    assert!(
        run.stderr()
            .contains(&format!("rediss://127.0.0.1:{}", redis.port)),
        "{}",
        run.report()
    );
    assert!(
        run.stderr().to_lowercase().contains("certificate"),
        "{}",
        run.report()
    );

    env.set("SD_BROKER_CA", &ca.ca);
    env.cmd("sd-bark").args(["--tag", "trusted"]).expect_code(0);
    let events: Vec<Event> = env
        .cmd("sd-recv")
        .args(["--group", "g", "--once"])
        .expect_code(0)
        .lines();
    let tags: Vec<&str> = events.iter().map(|e| e.tag.as_str()).collect();
    assert_eq!(
        tags,
        ["untrusted", "trusted"],
        "the first waited in the spool"
    );
}

#[test]
fn a_group_falling_behind_the_length_cap_is_warned_about_with_numbers() {
    let env = TestEnv::new();
    let redis = RedisServer::start(env.path("redis"));
    env.write_config(&format!(
        "[broker]\nurl = \"{}\"\nmax_len = 1000\n",
        redis.url()
    ));
    redis
        .cli(&[
            "XGROUP",
            "CREATE",
            "sheepdog:events",
            "slow",
            "0",
            "MKSTREAM",
        ])
        .unwrap();
    env.cmd("sd-bark")
        .stdin(events_input(900, "LAG"))
        .expect_code(0);
    let run = env
        .cmd("sd-recv")
        .args(["--group", "fast", "--once"])
        .expect_code(0);
    assert!(
        run.stderr()
            .contains("group slow is 900 events behind; the stream keeps only about 1000"),
        "{}",
        run.report()
    );
}

#[test]
fn a_reader_that_goes_away_leaves_the_rest_unacknowledged() {
    let mut env = TestEnv::new();
    let redis = RedisServer::start(env.path("redis"));
    env.set("SD_BROKER", redis.url());
    env.cmd("sd-bark")
        .stdin(events_input(5000, "PIPE"))
        .expect_code(0);
    // `head -1` reads one line and exits; sd-recv's next write fails, and
    // it ends quietly (a reader gone is no error): its own status says so.
    let script = format!(
        "{} --group g --window 100 | head -n 1; exit ${{PIPESTATUS[0]}}",
        crate::util::bin("sd-recv")
    );
    let run = std::process::Command::new("bash")
        .arg("-c")
        .arg(&script)
        .env("SD_BROKER", redis.url())
        .env("SD_CONFIG", env.path("config/sheepdog/sheepdog.toml"))
        .env("SD_SPOOL", env.path("state/spool.db"))
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(0), "{run:?}");
    let first = lines_of(&String::from_utf8_lossy(&run.stdout));
    assert_eq!(first.len(), 1);
    // Acknowledged: the whole batches that were written and flushed into
    // the pipe (what head did not read of them is the pipe's, as
    // sd-recv(1) says). Everything else is delivered again, to a consumer
    // that claims it, each event once.
    let rest = env
        .cmd("sd-recv")
        .args(["--group", "g", "--once", "--claim-idle", "0s"])
        .expect_code(0);
    let rest: Vec<String> = lines_of(&rest.stdout())
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    let unique: HashSet<&String> = rest.iter().collect();
    assert_eq!(unique.len(), rest.len(), "an event came twice");
    assert!(!unique.contains(&first[0]["id"].as_str().unwrap().to_string()));
    let acknowledged = 5000 - rest.len();
    assert!(
        acknowledged >= 100 && acknowledged.is_multiple_of(100),
        "{acknowledged} acknowledged: not whole batches of the window"
    );
    // Nothing is left pending or unread.
    let pending = redis.cli(&["XPENDING", "sheepdog:events", "g"]).unwrap();
    assert!(pending.starts_with("0\n"), "{pending}");
}

#[test]
fn without_a_group_sd_recv_follows_like_tail_f() {
    let mut env = TestEnv::new();
    let redis = RedisServer::start(env.path("redis"));
    env.set("SD_BROKER", redis.url());
    env.cmd("sd-bark")
        .stdin(events_input(3, "BEFORE"))
        .expect_code(0);
    let out = env.path("follow.out");
    let err = env.path("follow.err");
    let mut follower = env.cmd("sd-recv").spawn_to(&out, &err);
    // Following from what arrives next: once it is reading the stream.
    assert!(wait_until(20, || redis
        .cli(&["CLIENT", "LIST"])
        .is_some_and(|clients| clients.contains("cmd=xread"))));
    env.cmd("sd-bark")
        .stdin(events_input(4, "AFTER"))
        .expect_code(0);
    let arrived = wait_until(10, || {
        std::fs::read_to_string(&out).unwrap().lines().count() >= 4
    });
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(follower.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    assert_eq!(follower.wait().unwrap().code(), Some(0));
    assert!(arrived, "{}", std::fs::read_to_string(&err).unwrap());
    let tags: Vec<String> = lines_of(&std::fs::read_to_string(&out).unwrap())
        .iter()
        .map(|e| e["tag"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(tags, ["AFTER"; 4], "only what arrived after it started");
    let groups = redis.cli(&["XINFO", "GROUPS", "sheepdog:events"]).unwrap();
    assert!(
        groups.trim().is_empty(),
        "following creates no group: {groups}"
    );
    assert_eq!(
        stream_len(&redis, "sheepdog:events"),
        7,
        "and trims nothing"
    );
}

/// A handler that crashes on one event, with many in flight: only that
/// event goes to the dead letters; the others, sent again one at a time,
/// are acknowledged.
#[test]
fn a_handler_crashing_on_one_event_dead_letters_that_one_only() {
    let mut env = TestEnv::new();
    let redis = RedisServer::start(env.path("redis"));
    env.set("SD_BROKER", redis.url());
    let mut input = events_input(30, "fine");
    input.push_str("{\"tag\":\"poison-pill\",\"status\":\"fail\"}\n");
    input.push_str(&events_input(30, "fine"));
    env.cmd("sd-bark").stdin(input).expect_code(0);
    let handler = env.path("crashy.py");
    std::fs::write(
        &handler,
        "import sys\nfor line in sys.stdin:\n    if 'poison-pill' in line:\n        sys.exit(1)\n    sys.stdout.write(line); sys.stdout.flush()\n",
    )
    .unwrap();
    let run = env
        .cmd("sd-recv")
        .args(["--group", "store", "--once", "--window", "100"])
        .args(["--max-deliveries", "2", "--", "python3"])
        .arg(&handler)
        .expect_code(65);
    let dead = redis.cli(&["XRANGE", "sheepdog:dead", "-", "+"]).unwrap();
    assert_eq!(
        redis.cli(&["XLEN", "sheepdog:dead"]).unwrap().trim(),
        "1",
        "{}",
        run.report()
    );
    assert!(dead.contains("poison-pill"), "{dead}");
    let pending = redis
        .cli(&["XPENDING", "sheepdog:events", "store"])
        .unwrap();
    assert!(
        pending.starts_with("0\n"),
        "every other event acknowledged: {pending}"
    );
}
