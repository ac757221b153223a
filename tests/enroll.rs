//! `sd-enroll`: a host enrolled in one command on each side, against a
//! real redis-server that keeps its users in an aclfile. The host here is
//! this machine under its own name (the events carry it); the host's
//! configuration goes to a directory of the test's (`--etc`).

use crate::util::TestEnv;
use crate::util::redis::RedisServer;
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

struct Server {
    env: TestEnv,
    redis: RedisServer,
    config: PathBuf,
    keyring: PathBuf,
}

impl Server {
    /// A broker with an aclfile, an orders key, the server's configuration.
    fn start() -> Server {
        let env = TestEnv::new();
        let dir = env.path("redis");
        std::fs::create_dir_all(&dir).unwrap();
        let aclfile = dir.join("users.acl");
        std::fs::write(&aclfile, "").unwrap();
        let redis = RedisServer::start_with(
            dir,
            &[
                "--save",
                "",
                "--appendonly",
                "no",
                "--aclfile",
                aclfile.to_str().unwrap(),
            ],
        );
        let key = env.path("orders.key");
        env.cmd("sd-order").arg("keygen").arg(&key).expect_code(0);
        let config = env.write_config(&format!(
            "[broker]\nurl = \"{}\"\n[order]\nkey_file = \"{}\"\n",
            redis.url(),
            key.display()
        ));
        let keyring = env.path("keyring");
        Server {
            env,
            redis,
            config,
            keyring,
        }
    }

    /// `sd-enroll SUB … --config … --keyring …`, its run.
    fn enroll(&self, args: &[&str], code: i32) -> crate::util::Run {
        self.env
            .cmd("sd-enroll")
            .args(args)
            .arg("--config")
            .arg(&self.config)
            .arg("--keyring")
            .arg(&self.keyring)
            .expect_code(code)
    }

    fn add(&self, host: &str) -> (PathBuf, Value) {
        let bundle = self.env.path(&format!("{host}.bundle"));
        let run = self.enroll(&["add", host, "-o", bundle.to_str().unwrap()], 0);
        let text = std::fs::read_to_string(&bundle).unwrap();
        let parsed: Value = serde_json::from_str(&text).unwrap();
        // The secrets are in the bundle, and nowhere else.
        for secret in ["password", "key"] {
            let value = parsed[secret].as_str().unwrap();
            assert!(value.len() >= 32);
            assert!(!run.stdout().contains(value) && !run.stderr().contains(value));
        }
        assert_eq!(mode(&bundle), 0o600);
        (bundle, parsed)
    }

    /// Everything the receiver takes in now, checking signatures.
    fn receive(&self) -> Vec<Value> {
        self.env
            .cmd("sd-recv")
            .arg("--config")
            .arg(&self.config)
            .arg("--keyring")
            .arg(&self.keyring)
            .args(["--require-signed", "--group", "store", "--once"])
            .expect_code(0)
            .lines()
    }
}

/// What Redis answers `AUTH user password` (OK, or WRONGPASS …).
fn auth(redis: &RedisServer, user: &str, password: &str) -> String {
    let out = std::process::Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &redis.port.to_string()])
        .args(["AUTH", user, password])
        .output()
        .expect("redis-cli");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `sd-enroll apply BUNDLE --etc ETC`, which must end with `code`.
fn apply(env: &TestEnv, bundle: &Path, etc: &Path, code: i32) -> crate::util::Run {
    env.cmd("sd-enroll")
        .arg("apply")
        .arg(bundle)
        .arg("--etc")
        .arg(etc)
        .expect_code(code)
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn me() -> String {
    sheepdog::base::ident::short_hostname()
}

#[test]
fn a_host_is_enrolled_applied_rotated_and_revoked() {
    let server = Server::start();
    let env = &server.env;
    let host = me();
    let (bundle, parsed) = server.add(&host);
    let user = format!("sd-{host}");
    let password = parsed["password"].as_str().unwrap().to_string();
    assert_eq!(
        parsed["broker_url"],
        format!("redis://{user}@127.0.0.1:{}", server.redis.port)
    );
    assert!(parsed["order_public_key"].is_string());
    // Saved in the aclfile: the user outlives a restart of Redis.
    let acl = std::fs::read_to_string(server.redis.dir.join("users.acl")).unwrap();
    assert!(acl.contains(&format!("user {user} on")), "{acl}");
    assert!(!acl.contains(&password));
    let key = std::fs::read_to_string(server.keyring.join(format!("{host}.key"))).unwrap();
    assert_eq!(key.trim(), parsed["key"].as_str().unwrap());

    // On the host: installed, then the host's first words arrive signed.
    let etc = env.path("etc");
    let applied = apply(env, &bundle, &etc, 0);
    assert!(
        applied.stderr().contains("has enrolled"),
        "{}",
        applied.report()
    );
    for secret in ["redis.pass", "host.key"] {
        assert!(matches!(mode(&etc.join(secret)), 0o600 | 0o640), "{secret}");
    }
    let config = std::fs::read_to_string(etc.join("sheepdog.toml")).unwrap();
    assert!(
        config.contains("[[action]]") && config.contains("trusted_keys"),
        "{config}"
    );
    let arrived = server.receive();
    let kinds: Vec<&str> = arrived.iter().filter_map(|e| e["kind"].as_str()).collect();
    assert_eq!(kinds, ["facts", "enrolled"], "{arrived:?}");
    assert!(arrived.iter().all(|e| e["host"] == host.as_str()));
    assert_eq!(
        server
            .redis
            .cli(&["XLEN", "sheepdog:rejected"])
            .unwrap()
            .trim(),
        "0"
    );

    // Applied twice: nothing changes, nothing more is said.
    let again = apply(env, &bundle, &etc, 0);
    assert!(
        again.stderr().contains("nothing changed"),
        "{}",
        again.report()
    );
    assert!(server.receive().is_empty());

    // The host's user adds events and reads its own orders, nothing else.
    let denied = |args: &[&str]| {
        server
            .redis
            .cli_as(&user, &password, args)
            .contains("NOPERM")
    };
    assert!(denied(&[
        "XADD",
        &format!("sheepdog:orders:{host}"),
        "*",
        "order",
        "{}"
    ]));
    assert!(denied(&[
        "XGROUP",
        "CREATE",
        "sheepdog:orders:tux04",
        "g",
        "$",
        "MKSTREAM"
    ]));
    assert!(denied(&["XRANGE", "sheepdog:events", "-", "+"]));
    assert!(!denied(&[
        "XGROUP",
        "CREATE",
        &format!("sheepdog:orders:{host}"),
        "g",
        "$",
        "MKSTREAM"
    ]));

    // A restart of Redis keeps the user; `add` again rotates: the old
    // password stops working.
    let mut redis = server.redis;
    redis.restart();
    assert_eq!(auth(&redis, &user, &password).trim(), "OK");
    let server = Server { redis, ..server };
    let (_, rotated) = server.add(&host);
    assert_ne!(rotated["password"], parsed["password"]);
    assert!(auth(&server.redis, &user, &password).contains("WRONGPASS"));
    let new_password = rotated["password"].as_str().unwrap();
    assert_eq!(auth(&server.redis, &user, new_password).trim(), "OK");

    // Listed with when it was enrolled and when the store last heard it.
    let db = server.env.path("events.db");
    let stored: String = arrived.iter().map(|e| format!("{e}\n")).collect();
    server
        .env
        .cmd("sd-store")
        .arg(&db)
        .stdin(stored)
        .expect_code(0);
    let listed = server
        .enroll(&["list", "--db", db.to_str().unwrap()], 0)
        .lines::<Value>();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["host"], host.as_str());
    assert_eq!(listed[0]["broker_user"], true);
    assert!(
        listed[0]["enrolled"].is_string() && listed[0]["last_spoke"].is_string(),
        "{listed:?}"
    );

    // Revoked: the host's next bark is refused as such, and waits.
    server.enroll(&["revoke", &host], 0);
    assert!(!server.keyring.join(format!("{host}.key")).exists());
    let refused = server
        .env
        .cmd("sd-bark")
        .arg("--config")
        .arg(etc.join("sheepdog.toml"))
        .stdin("{\"tag\":\"after\",\"status\":\"ok\"}\n")
        .run();
    assert_ne!(refused.code(), Some(0));
    assert!(
        refused.stderr().contains("the broker refused us") && refused.stderr().contains("spool"),
        "{}",
        refused.report()
    );
    assert!(server.enroll(&["list"], 0).stdout().is_empty());
}

#[test]
fn a_bundle_for_another_host_is_refused_and_a_host_cannot_speak_as_another() {
    let server = Server::start();
    let env = &server.env;
    let (other, _) = server.add("tux04");
    let etc = env.path("etc");
    let refused = apply(env, &other, &etc, 2);
    assert!(
        refused.stderr().contains("this bundle is for tux04"),
        "{}",
        refused.report()
    );
    assert!(!etc.join("sheepdog.toml").exists());

    // Enrolled as itself, this host signs an event that claims tux04:
    // the receiver checks it against tux04's key and sets it aside.
    let (mine, _) = server.add(&me());
    apply(env, &mine, &etc, 0);
    server.receive();
    env.cmd("sd-bark")
        .arg("--config")
        .arg(etc.join("sheepdog.toml"))
        .stdin("{\"host\":\"tux04\",\"tag\":\"forged\",\"status\":\"ok\"}\n")
        .expect_code(0);
    let run = server
        .env
        .cmd("sd-recv")
        .arg("--config")
        .arg(&server.config)
        .arg("--keyring")
        .arg(&server.keyring)
        .args(["--require-signed", "--group", "store", "--once"])
        .run();
    assert!(run.stdout().is_empty(), "{}", run.report());
    assert!(
        run.stderr()
            .contains("does not match the key of host \"tux04\""),
        "{}",
        run.report()
    );
    let rejected = server
        .redis
        .cli(&["XRANGE", "sheepdog:rejected", "-", "+"])
        .unwrap();
    assert!(rejected.contains("forged"), "{rejected}");

    // Not a bundle, a name that would widen an ACL: clear refusals.
    let garbage = env.path("garbage");
    std::fs::write(&garbage, b"\xff\xfe not json").unwrap();
    let run = apply(env, &garbage, &etc, 2);
    assert!(run.stderr().contains("garbage"), "{}", run.report());
    let run = server.enroll(&["add", "tux*"], 2);
    assert!(run.stderr().contains("not a host name"), "{}", run.report());
}

/// Through Sentinel, the host's user is set on the master and on every
/// replica the sentinels know (Redis does not replicate users, and after
/// a failover the replica is the master the host speaks to); the host is
/// given the sentinels, to follow the master itself. Without an aclfile
/// or a config file to rewrite, add says the users last until a restart.
#[test]
fn through_sentinel_every_node_gets_the_hosts_user() {
    use crate::util::redis::Sentinel;
    let env = TestEnv::new();
    let master = RedisServer::start(env.path("master"));
    let replica = RedisServer::start_replica_of(env.path("replica"), master.port);
    let sentinel = Sentinel::start(env.path("sentinel"), master.port);
    let knows_replica = || {
        std::process::Command::new("redis-cli")
            .args([
                "-p",
                &sentinel.port.to_string(),
                "SENTINEL",
                "replicas",
                "mymaster",
            ])
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(&replica.port.to_string()))
    };
    assert!(
        crate::util::wait_until(30, knows_replica),
        "the sentinel never saw the replica"
    );
    let url = format!("redis+sentinel://127.0.0.1:{}/mymaster", sentinel.port);
    let config = env.write_config(&format!("[broker]\nurl = \"{url}\"\n"));
    let keyring = env.path("keyring");
    let bundle = env.path("b");
    let host = me();
    let run = env
        .cmd("sd-enroll")
        .args(["add", &host, "-o", bundle.to_str().unwrap(), "--config"])
        .arg(&config)
        .arg("--keyring")
        .arg(&keyring)
        .expect_code(0);
    assert!(
        run.stderr().contains("until Redis restarts"),
        "{}",
        run.report()
    );
    let user = format!("sd-{host}");
    for node in [&master, &replica] {
        let got = node.cli(&["ACL", "GETUSER", &user]).unwrap_or_default();
        assert!(got.contains("xreadgroup"), "port {}: {got}", node.port);
    }
    let parsed: Value = serde_json::from_str(&std::fs::read_to_string(&bundle).unwrap()).unwrap();
    assert_eq!(
        parsed["broker_url"],
        format!(
            "redis+sentinel://{user}@127.0.0.1:{}/mymaster",
            sentinel.port
        )
    );
    let etc = env.path("etc");
    apply(&env, &bundle, &etc, 0);
    assert_eq!(
        master.cli(&["XLEN", "sheepdog:events"]).unwrap().trim(),
        "2"
    );
}
