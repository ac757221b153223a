//! The log on NATS JetStream, end to end as the README wires it: hosts
//! bark through the spool to the server, the store receives through a
//! group, an outage is waited out in the spool, a batch sent twice is one
//! batch (`Nats-Msg-Id`), and a host the server does not allow on its
//! subject is refused, not waited for.

use crate::util::nats::NatsServer;
use crate::util::{TestEnv, wait_until};

fn stored(db: &std::path::Path) -> (i64, i64) {
    rusqlite::Connection::open(db)
        .and_then(|c| {
            c.query_row("SELECT count(*), count(DISTINCT id) FROM events", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
        })
        .unwrap_or((0, 0))
}

#[test]
fn events_reach_the_store_through_nats_once_through_an_outage() {
    let mut env = TestEnv::new();
    let mut nats = NatsServer::start(env.path("nats"));
    env.set("SD_BROKER", nats.url());
    let lines: String = (1..=3)
        .map(|i| format!("{{\"id\":\"e{i}\",\"tag\":\"backup\",\"status\":\"ok\"}}\n"))
        .collect();
    env.cmd("sd-bark").stdin(lines.clone()).expect_code(0);
    // The same events again (a spool that never heard the server's
    // answer sends its batch again): the server keeps them once.
    env.cmd("sd-bark").stdin(lines).expect_code(0);
    let db = env.path("events.db");
    env.receive_into(&db);
    assert_eq!(stored(&db), (3, 3));
    let groups = env.cmd("sd-recv").arg("--groups").expect_code(0).stdout();
    assert!(groups.contains("\"group\":\"store\""), "{groups}");
    assert!(groups.contains("\"lag\":0"), "{groups}");

    // The server away: the event waits in the spool (69), and goes out
    // with the next bark once it is back.
    nats.kill();
    let run = env
        .cmd("sd-bark")
        .stdin("{\"id\":\"e4\",\"tag\":\"backup\",\"status\":\"fail\"}\n")
        .run();
    assert_eq!(run.code(), Some(69), "{}", run.report());
    assert!(
        run.stderr().contains("wait in the spool"),
        "{}",
        run.report()
    );
    nats.restart();
    env.cmd("sd-bark").arg("--flush").expect_code(0);
    let receiver = crate::util::Background::new(
        env.cmd("sd-recv")
            .args(["--group", "store", "--"])
            .arg(crate::util::bin("sd-store"))
            .arg("--echo")
            .arg(&db)
            .own_group()
            .spawn_to(&env.path("recv.out"), &env.path("recv.err")),
    );
    assert!(
        wait_until(20, || stored(&db) == (4, 4)),
        "{:?}: {}",
        stored(&db),
        std::fs::read_to_string(env.path("recv.err")).unwrap_or_default()
    );
    receiver.terminate();
}

/// A host whose credentials allow another host's subject only is refused
/// by the server: a configuration error (exit 2), the events kept.
#[test]
fn a_host_with_another_hosts_credentials_is_refused() {
    let mut env = TestEnv::new();
    let nats = NatsServer::start_with_config(
        env.path("nats"),
        Some(
            r#"authorization {
  users = [
    { user: "elsewhere", password: "pw",
      permissions: {
        publish: { allow: ["sheepdog.events.default.elsewhere", "$JS.API.>"] },
        subscribe: { allow: ["_INBOX.>"] } } }
  ]
}"#,
        ),
    );
    env.set(
        "SD_BROKER",
        format!("nats://elsewhere:pw@127.0.0.1:{}", nats.port),
    );
    env.write_config("[broker]\ntimeout = \"2s\"\n");
    let run = env
        .cmd("sd-bark")
        .stdin("{\"id\":\"x1\",\"tag\":\"web\",\"status\":\"ok\"}\n")
        .run();
    assert_eq!(run.code(), Some(2), "{}", run.report());
    assert!(run.stderr().contains("refused"), "{}", run.report());
    assert!(!run.stderr().contains("pw@"), "{}", run.report());
    // Kept: the right credentials send it.
    let spooled: i64 = rusqlite::Connection::open(env.path("state/spool.db"))
        .unwrap()
        .query_row("SELECT count(*) FROM entries", [], |r| r.get(0))
        .unwrap();
    assert_eq!(spooled, 1);
}

/// TLS with the CA-file setting Redis uses (`--broker-ca`, SD_BROKER_CA,
/// [broker] ca_file): a server of the test's own CA is trusted with it,
/// and refused without it.
#[test]
fn tls_to_the_server_with_the_brokers_ca_file() {
    let mut env = TestEnv::new();
    let ca = crate::util::tls::make(&env.path("tls"));
    let nats = NatsServer::start_with_config(
        env.path("nats"),
        Some(&format!(
            "tls {{\n  cert_file: \"{}\"\n  key_file: \"{}\"\n}}\n",
            ca.cert.display(),
            ca.key.display()
        )),
    );
    let url = nats.url().replace("nats://127.0.0.1", "tls://localhost");
    env.set("SD_BROKER", &url);
    // Without the CA: the certificate is not trusted; the event waits.
    let untrusted = env
        .cmd("sd-bark")
        .stdin("{\"id\":\"t0\",\"tag\":\"backup\",\"status\":\"ok\"}\n")
        .run();
    assert_ne!(untrusted.code(), Some(0), "{}", untrusted.report());
    env.set("SD_BROKER_CA", &ca.ca);
    env.cmd("sd-bark")
        .stdin("{\"id\":\"t1\",\"tag\":\"backup\",\"status\":\"ok\"}\n")
        .expect_code(0);
    let db = env.path("events.db");
    env.receive_into(&db);
    // t0 waited in the spool and went out with t1.
    assert_eq!(stored(&db), (2, 2));
}

/// Something on the broker's port that speaks NATS until the first
/// publish, then answers it with `attack` (the reply subject put in for
/// `{}`); every connection gets the same.
fn lying_nats_server(attack: &'static str) -> u16 {
    use std::io::{BufRead, Read, Write};
    crate::util::pretender(move |client| {
        let mut out = client.try_clone().unwrap();
        let mut input = std::io::BufReader::new(client);
        let info = "INFO {\"server_id\":\"x\",\"version\":\"2.9.10\",\"proto\":1,\
                    \"headers\":true,\"max_payload\":1048576,\"jetstream\":true}\r\n";
        if out.write_all(info.as_bytes()).is_err() {
            return;
        }
        let mut line = String::new();
        loop {
            line.clear();
            if !matches!(input.read_line(&mut line), Ok(n) if n > 0) {
                return;
            }
            let words: Vec<&str> = line.split_whitespace().collect();
            let reply = match words.first().copied() {
                Some("PING") => "PONG\r\n".to_string(),
                Some("PUB" | "HPUB") => {
                    // Its body, then the lie, to whoever asked.
                    let size: usize = words.last().unwrap().parse().unwrap();
                    let mut body = vec![0; size + 2];
                    if input.read_exact(&mut body).is_err() {
                        return;
                    }
                    attack.replace("{}", words.get(2).copied().unwrap_or("x"))
                }
                _ => continue,
            };
            if out.write_all(reply.as_bytes()).is_err() {
                return;
            }
        }
    })
}

/// A server that announces a message of 2^64 - 1 bytes (async-nats 0.52's
/// reader panics on it) or a header longer than its message: the command
/// ends with 69 and says so, the event waits in the spool and reaches a
/// real server with the next bark.
#[test]
fn a_server_that_lies_about_a_message_leaves_the_events_in_the_spool() {
    for attack in [
        "MSG {} 1 18446744073709551615\r\nabc\r\n",
        "HMSG {} 1 40 20\r\nNATS/1.0\r\n\r\n0123456789\r\n",
    ] {
        let mut env = TestEnv::new();
        let port = lying_nats_server(attack);
        env.set("SD_BROKER", format!("nats://127.0.0.1:{port}"));
        let run = env
            .cmd("sd-bark")
            .env("RUST_BACKTRACE", "0")
            .stdin("{\"id\":\"kept\",\"tag\":\"backup\",\"status\":\"ok\"}\n")
            .run();
        assert_eq!(run.code(), Some(69), "{attack}: {}", run.report());
        assert!(
            run.stderr().contains("1 event(s) wait in the spool"),
            "{attack}: {}",
            run.report()
        );
        let nats = NatsServer::start(env.path("nats"));
        env.set("SD_BROKER", nats.url());
        env.cmd("sd-bark").arg("--flush").expect_code(0);
        let db = env.path("events.db");
        env.receive_into(&db);
        assert_eq!(stored(&db), (1, 1), "{attack}");
    }
}
