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
