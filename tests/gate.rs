//! `sd-gate` with real clients: curl and wget exactly as healthchecks.io's
//! documentation writes them, the healthchecks-io client from PyPI, and
//! Uptime Kuma's push URL; the events go through Redis into the store
//! and are asked back. Then a hostile client: bad paths, ten thousand
//! headers, a gigabyte announced, clients that send nothing or trickle,
//! a flood — each answered with an error, none an event, memory bounded.

use crate::util::redis::RedisServer;
use crate::util::{Background, TestEnv, free_port, have, wait_until};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// A running sd-gate on a free loopback port.
struct Gate {
    process: Background,
    port: u16,
    stderr: std::path::PathBuf,
}

impl Gate {
    fn start(env: &TestEnv, config: &std::path::Path) -> Gate {
        let port = free_port();
        let stderr = env.path(&format!("gate-{port}.err"));
        let process = Background::new(
            env.cmd("sd-gate")
                .args(["--config"])
                .arg(config)
                .args(["--listen", &format!("127.0.0.1:{port}")])
                .spawn_to(&env.path(&format!("gate-{port}.out")), &stderr),
        );
        let gate = Gate {
            process,
            port,
            stderr,
        };
        let up = wait_until(20, || TcpStream::connect(("127.0.0.1", port)).is_ok());
        assert!(up, "sd-gate did not listen: {}", gate.log());
        gate
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// The status of one raw request, and the answer's text.
    fn raw(&self, request: &[u8]) -> (u16, String) {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let _ = stream.write_all(request);
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        let answer = String::from_utf8_lossy(&answer).into_owned();
        let status = answer
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        (status, answer)
    }
}

/// A new check for `host` and `tag` made by `sd-gate add`: its UUID.
fn add(env: &TestEnv, config: &std::path::Path, host: &str, tag: &str) -> String {
    let run = env
        .cmd("sd-gate")
        .args(["--config"])
        .arg(config)
        .args(["add", host, tag])
        .expect_code(0);
    let out = run.stdout();
    let mut lines = out.lines();
    let uuid = lines.next().unwrap().to_string();
    assert!(
        lines.next().unwrap().ends_with(&format!("/ping/{uuid}")),
        "{}",
        run.report()
    );
    uuid
}

/// Stores what waits in the spool or the broker (`sd-recv --group store
/// --once -- sd-store --echo`), and the events of the last hour.
fn stored(env: &TestEnv) -> Vec<serde_json::Value> {
    let store = env.path("events.db");
    env.receive_into(&store);
    env.cmd("sd-query")
        .args(["events", "--since", "1h"])
        .arg(&store)
        .expect_code(0)
        .lines::<serde_json::Value>()
}

fn sh(env: &TestEnv, script: &str) -> crate::util::Run {
    env.external("sh", "sh").args(["-c", script]).run()
}

/// The healthchecks-io client's directory, where tests/check.sh puts it.
fn healthchecks_client() -> std::path::PathBuf {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache")
        });
    cache.join("sheepdog-tests/healthchecks-io")
}

#[test]
fn crontab_pings_from_curl_wget_and_python_reach_the_store_with_their_duration() {
    assert!(
        have("curl") && have("wget"),
        "tests/check.sh installs curl and wget"
    );
    let mut env = TestEnv::new();
    let redis = RedisServer::start(env.path("redis"));
    env.set("SD_BROKER", redis.url());
    let config = env.write_config("[gate]\n");
    let backup = add(&env, &config, "nas", "backup");
    let router = add(&env, &config, "router", "wan");
    let gate = Gate::start(&env, &config);
    let ping = gate.url(&format!("/ping/{backup}"));
    // healthchecks.io's documentation, word for word but for the URL.
    let run = sh(
        &env,
        &format!(
            "curl -fsS -m 10 --retry 5 -o /dev/null '{ping}/start?rid=run1' && sleep 1 && \
             curl -fsS -m 10 --retry 5 --data-raw 'archive: 12 GB' '{ping}/0?rid=run1' && \
             wget {ping} -T 10 -t 5 -O /dev/null && \
             curl -fsS -m 10 --retry 5 -o /dev/null '{ping}/fail' && \
             curl -fsS -m 10 --retry 5 '{}?status=up&msg=OK&ping=23'",
            gate.url(&format!("/api/push/{router}"))
        ),
    );
    assert_eq!(run.code(), Some(0), "{} {}", run.report(), gate.log());
    assert!(run.stdout().contains("OK{\"ok\":true}"), "{}", run.report());
    // The healthchecks-io client from PyPI, by UUID: start then success.
    let client = healthchecks_client();
    assert!(
        client.join("healthchecks_io").is_dir(),
        "tests/check.sh installs the healthchecks-io client into {}",
        client.display()
    );
    let python = format!(
        "from healthchecks_io import Client\n\
         c = Client(ping_url='{}')\n\
         print(c.start_ping(uuid='{router}'))\n\
         print(c.exit_code_ping(3, uuid='{router}', data='link down'))\n",
        gate.url("/ping/")
    );
    let run = env
        .external("python3", "python3")
        .env("PYTHONPATH", &client)
        .args(["-c", &python])
        .run();
    assert_eq!(run.code(), Some(0), "{} {}", run.report(), gate.log());
    let all = stored(&env);
    let summary: Vec<(String, String, String, String)> = all
        .iter()
        .map(|e| {
            let text = |k: &str| e[k].as_str().unwrap_or("").to_string();
            (text("host"), text("tag"), text("status"), text("reason"))
        })
        .collect();
    let want = [
        ("nas", "backup", "info", "start"),
        ("nas", "backup", "ok", "exit"),
        ("nas", "backup", "ok", "exit"),
        ("nas", "backup", "fail", "fail"),
        ("router", "wan", "ok", "exit"),
        ("router", "wan", "info", "start"),
        ("router", "wan", "fail", "exit"),
    ];
    let want: Vec<_> = want
        .iter()
        .map(|(a, b, c, d)| (a.to_string(), b.to_string(), c.to_string(), d.to_string()))
        .collect();
    assert_eq!(summary, want, "{all:?}");
    assert_eq!(all[1]["stdout"], "archive: 12 GB");
    assert_eq!(all[6]["code"], 3);
    assert_eq!(all[6]["stdout"], "link down");
    // The start and its end, paired by rid: a run of about a second.
    let store = env.path("events.db");
    let durations = env
        .cmd("sd-query")
        .args(["durations", "--host", "nas", "--since", "1h"])
        .arg(&store)
        .expect_code(0);
    let rows = durations.lines::<serde_json::Value>();
    assert_eq!(rows.len(), 1, "{}", durations.stdout());
    assert_eq!(rows[0]["runs"], 1, "{}", durations.stdout());
    let last = rows[0]["last_ms"].as_i64().unwrap_or_default();
    assert!((1000..10_000).contains(&last), "{}", durations.stdout());
}

#[test]
fn hostile_requests_get_errors_never_events_and_memory_stays_bounded() {
    let env = TestEnv::new();
    let config = env.write_config(
        "[gate]\nmax_body = 1024\naddress_rate = 20\ncheck_rate = 1000\naddress_connections = 8\n",
    );
    let uuid = add(&env, &config, "nas", "backup");
    let gate = Gate::start(&env, &config);
    let ok = |path: &str| format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let mut oks = 0;
    let mut expect = |request: Vec<u8>, status: u16| {
        let (got, answer) = gate.raw(&request);
        assert_eq!(got, status, "{answer}\n{}", gate.log());
        if got == 200 {
            oks += 1;
        }
        std::thread::sleep(Duration::from_millis(60));
    };
    expect(ok(&format!("/ping/{uuid}")).into_bytes(), 200);
    expect(
        ok("/ping/00000000-0000-4000-8000-000000000000").into_bytes(),
        404,
    );
    expect(ok("/ping/%ff%fe/fail").into_bytes(), 400);
    expect(ok("/../../etc/passwd").into_bytes(), 404);
    expect(ok(&format!("/ping/{uuid}/999")).into_bytes(), 400);
    expect(
        b"GET /ping/\xff\xfe HTTP/1.1\r\nConnection: close\r\n\r\n".to_vec(),
        400,
    );
    let mut headers = format!("GET /ping/{uuid} HTTP/1.1\r\n");
    for i in 0..10_000 {
        headers.push_str(&format!("X-Header-{i}: value\r\n"));
    }
    headers.push_str("\r\n");
    expect(headers.into_bytes(), 431);
    // A gigabyte announced: refused before a byte of it is read.
    expect(
        format!("POST /ping/{uuid} HTTP/1.1\r\nContent-Length: 1073741824\r\n\r\nstart of it")
            .into_bytes(),
        413,
    );
    // And sent: the gate stops reading and closes long before its end.
    let mut big = TcpStream::connect(("127.0.0.1", gate.port)).unwrap();
    big.set_write_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let _ = big.write_all(
        format!("POST /ping/{uuid} HTTP/1.1\r\nContent-Length: 1073741824\r\n\r\n").as_bytes(),
    );
    let chunk = vec![b'x'; 1 << 20];
    let sent = (0..1024)
        .take_while(|_| big.write_all(&chunk).is_ok())
        .count();
    assert!(sent < 1024, "the gate read a whole gigabyte ({sent} MiB)");
    drop(big);
    expect(
        format!("POST /ping/{uuid} HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n").into_bytes(),
        411,
    );
    expect(b"\x16\x03\x01\x02\x00garbage\r\n\r\n".to_vec(), 400);
    // A client that trickles its request a byte at a time, then more
    // half-open connections than one address may hold: the trickler is
    // answered 408 at the request's deadline, the surplus 503 at once,
    // the idle ones closed after the idle time.
    let mut slow = TcpStream::connect(("127.0.0.1", gate.port)).unwrap();
    let _ = slow.write_all(b"GET /ping/");
    let idle: Vec<TcpStream> = (0..20)
        .map(|_| TcpStream::connect(("127.0.0.1", gate.port)).unwrap())
        .collect();
    let started = Instant::now();
    let mut trickled = Vec::new();
    slow.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    while started.elapsed() < Duration::from_secs(20) {
        if slow.write_all(b"a").is_err() {
            break;
        }
        let mut buf = [0u8; 256];
        match slow.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                trickled.extend_from_slice(&buf[..n]);
                break;
            }
            Err(_) => {}
        }
    }
    let trickled = String::from_utf8_lossy(&trickled);
    assert!(
        trickled.starts_with("HTTP/1.1 408"),
        "the trickler was cut off: {trickled:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(15));
    let refused = idle
        .into_iter()
        .filter_map(|mut stream| {
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let mut answer = String::new();
            let _ = stream.read_to_string(&mut answer);
            answer.starts_with("HTTP/1.1 503").then_some(())
        })
        .count();
    assert!(
        refused >= 12,
        "{refused} of the idle connections were refused at once"
    );
    // A flood from one address: a burst is taken, then 429.
    let statuses: Vec<u16> = (0..300)
        .map(|_| gate.raw(ok(&format!("/ping/{uuid}")).as_bytes()).0)
        .collect();
    let flooded = statuses.iter().filter(|s| **s == 429).count();
    let taken = statuses.iter().filter(|s| **s == 200).count();
    assert!(flooded > 150 && taken >= 20, "{statuses:?}");
    oks += taken;
    // Exactly the pings answered OK are events, nothing else.
    let pid = gate.process.id();
    let peak_kib: u64 = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap();
    drop(gate);
    assert_eq!(stored(&env).len(), oks);
    assert!(peak_kib < 64 * 1024, "peak memory {peak_kib} KiB");
}

#[test]
fn tls_slugs_maintenance_and_a_check_added_while_running() {
    let env = TestEnv::new();
    let ca = crate::util::tls::make(&env.path("tls"));
    std::fs::write(env.path("ping.key"), "projectkey123\n").unwrap();
    let config = env.write_config(&format!(
        "[gate]\ntls_cert = \"{}\"\ntls_key = \"{}\"\nping_key_file = \"{}\"\n",
        ca.cert.display(),
        ca.key.display(),
        env.path("ping.key").display()
    ));
    let gate = Gate::start(&env, &config);
    let base = format!("https://localhost:{}", gate.port);
    let curl = |path: &str| {
        let run = env
            .external("curl", "curl")
            .args(["-sS", "-m", "10", "-w", " %{http_code}", "--cacert"])
            .arg(&ca.ca)
            .arg(format!("{base}{path}"))
            .run();
        run.stdout()
    };
    // Added while the gate runs: it reads its configuration again.
    let run = env
        .cmd("sd-gate")
        .args(["--config"])
        .arg(&config)
        .args(["add", "db1", "vacuum", "--slug", "db-vacuum"])
        .expect_code(0);
    let uuid = run.stdout().lines().next().unwrap().to_string();
    assert_eq!(
        curl(&format!("/ping/{uuid}/start")),
        "OK 200",
        "{}",
        gate.log()
    );
    assert_eq!(curl("/ping/projectkey123/db-vacuum"), "OK 200");
    assert_eq!(curl("/ping/wrongkey/db-vacuum"), "not found\n 404");
    assert_eq!(
        curl(&format!("/ping/{uuid}/maintenance?for=2h&reason=reindex")),
        "OK 200"
    );
    // Plain HTTP to the TLS port is no ping.
    let (status, _) = gate.raw(format!("GET /ping/{uuid} HTTP/1.1\r\n\r\n").as_bytes());
    assert_eq!(status, 0);
    drop(gate);
    let events = stored(&env);
    assert_eq!(events.len(), 3);
    assert_eq!(events[1]["status"], "ok");
    assert_eq!(events[2]["kind"], "maintenance");
    assert_eq!(events[2]["maintenance_reason"], "reindex");
    assert_eq!(events[2]["host"], "db1");
}

#[test]
fn one_check_pinged_too_often_is_told_to_slow_down() {
    let env = TestEnv::new();
    let config = env.write_config("[gate]\ncheck_rate = 2\n");
    let busy = add(&env, &config, "nas", "backup");
    let calm = add(&env, &config, "nas", "sync");
    let gate = Gate::start(&env, &config);
    let ping = |uuid: &str| {
        gate.raw(format!("GET /ping/{uuid} HTTP/1.1\r\nConnection: close\r\n\r\n").as_bytes())
    };
    let answers: Vec<(u16, String)> = (0..20).map(|_| ping(&busy)).collect();
    let limited = answers.iter().filter(|(s, _)| *s == 429).count();
    assert!(
        (10..=15).contains(&limited),
        "a burst of six, then 429: {answers:?}"
    );
    assert!(answers.iter().any(|(_, a)| a.contains("rate limited")));
    assert_eq!(ping(&calm).0, 200, "another check has its own budget");
    drop(gate);
    assert_eq!(stored(&env).len(), 20 - limited + 1);
}

/// The broker away: pings are answered OK from the spool and reach the
/// broker once it is back, with no ping needed to carry them.
#[test]
fn pings_wait_in_the_spool_while_the_broker_is_away() {
    let mut env = TestEnv::new();
    let mut redis = RedisServer::start_durable(env.path("redis"));
    env.set("SD_BROKER", redis.url());
    let config = env.write_config("[gate]\n");
    let uuid = add(&env, &config, "nas", "backup");
    let gate = Gate::start(&env, &config);
    let ping =
        || gate.raw(format!("GET /ping/{uuid} HTTP/1.1\r\nConnection: close\r\n\r\n").as_bytes());
    assert_eq!(ping().0, 200);
    let stream_length = |redis: &RedisServer| {
        redis
            .cli(&["XLEN", "sheepdog:events"])
            .and_then(|n| n.trim().parse::<u32>().ok())
    };
    assert!(wait_until(10, || stream_length(&redis) == Some(1)));
    redis.kill();
    for _ in 0..3 {
        assert_eq!(ping().0, 200, "{}", gate.log());
    }
    redis.restart();
    assert!(
        wait_until(60, || stream_length(&redis) == Some(4)),
        "the three held back never reached the broker: {:?}\n{}",
        stream_length(&redis),
        gate.log()
    );
    drop(gate);
}
