//! Orders, end to end against a real redis-server: two hosts on one
//! machine (two configurations, ledgers and names), the server's key, and
//! every way an order can be refused.

use crate::util::redis::RedisServer;
use crate::util::{TestEnv, wait_until};
use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Deserialize)]
struct Result_ {
    host: String,
    tag: String,
    kind: String,
    status: String,
    reason: Option<String>,
    order: Option<String>,
}

/// The server's key pair, made by `sd-order keygen`.
fn keygen(env: &TestEnv, name: &str) -> PathBuf {
    let key = env.path(name);
    env.cmd("sd-order").arg("keygen").arg(&key).expect_code(0);
    key
}

/// A host's configuration: its name, the key it trusts, its allow-list.
fn host_config(env: &TestEnv, host: &str, trusted: &Path, dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let path = env.path(&format!("{host}.toml"));
    std::fs::write(
        &path,
        format!(
            r#"[obey]
host = "{host}"
trusted_keys = ["{}.pub"]
ledger = "{}"

[[action]]
name = "touch"
cmd = ["touch", "{}/{{name}}"]
args = {{ name = "word" }}
timeout = "10s"

[[action]]
name = "nap"
cmd = ["sleep", "{{secs}}"]
args = {{ secs = "int" }}
"#,
            trusted.display(),
            env.path(&format!("{host}.ledger.db")).display(),
            dir.display()
        ),
    )
    .unwrap();
    path
}

fn obey(env: &TestEnv, config: &Path) -> Vec<Result_> {
    env.cmd("sd-obey")
        .arg("--once")
        .arg("--config")
        .arg(config)
        .expect_code(0)
        .lines()
}

fn summary(results: &[Result_]) -> Vec<(String, String, String)> {
    results
        .iter()
        .map(|r| {
            (
                r.host.clone(),
                r.status.clone(),
                r.reason.clone().unwrap_or_default(),
            )
        })
        .collect()
}

fn s(host: &str, status: &str, reason: &str) -> (String, String, String) {
    (host.into(), status.into(), reason.into())
}

#[test]
fn an_order_runs_on_its_host_only_once_and_refusals_run_nothing() {
    let mut env = TestEnv::new();
    let redis = RedisServer::start(env.path("redis"));
    env.set("SD_BROKER", redis.url());
    let key = keygen(&env, "orders.key");
    let (dir1, dir2) = (env.path("tux01"), env.path("tux02"));
    let tux01 = host_config(&env, "tux01", &key, &dir1);
    let tux02 = host_config(&env, "tux02", &key, &dir2);
    let order = |args: &[&str]| {
        env.cmd("sd-order")
            .arg("--key-file")
            .arg(&key)
            .args(args)
            .expect_code(0)
    };

    // An order to tux01 runs there, and not on tux02.
    let sent = order(&["--host", "tux01", "touch", "name=a"]);
    let id = serde_json::from_str::<serde_json::Value>(sent.stdout().trim()).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let results = obey(&env, &tux01);
    assert_eq!(summary(&results), [s("tux01", "ok", "exit")]);
    assert_eq!(
        (
            results[0].kind.as_str(),
            results[0].tag.as_str(),
            results[0].order.as_deref()
        ),
        ("order", "touch", Some(id.as_str()))
    );
    assert!(dir1.join("a").exists());
    assert!(obey(&env, &tux02).is_empty());
    assert!(!dir2.join("a").exists());

    // The same entry delivered again (a producer's retry): replayed.
    let entries = redis
        .cli(&["XRANGE", "sheepdog:orders:tux01", "-", "+"])
        .unwrap();
    let fields: Vec<&str> = entries.lines().collect();
    // redis-cli prints: id, order, TEXT, sig, SIG, key, KEY
    let (text, sig, key_id) = (fields[2], fields[4], fields[6]);
    std::fs::remove_file(dir1.join("a")).unwrap();
    redis
        .cli(&[
            "XADD",
            "sheepdog:orders:tux01",
            "*",
            "order",
            text,
            "sig",
            sig,
            "key",
            key_id,
        ])
        .unwrap();
    assert_eq!(
        summary(&obey(&env, &tux01)),
        [s("tux01", "error", "replayed")]
    );
    assert!(!dir1.join("a").exists(), "a replayed order ran");

    // Altered: the text changed after signing.
    let altered = text.replace("\"name\":\"a\"", "\"name\":\"b\"");
    redis
        .cli(&[
            "XADD",
            "sheepdog:orders:tux01",
            "*",
            "order",
            &altered,
            "sig",
            sig,
            "key",
            key_id,
        ])
        .unwrap();
    // Forged: signed by a key tux01 does not trust.
    let stranger = keygen(&env, "stranger.key");
    env.cmd("sd-order")
        .arg("--key-file")
        .arg(&stranger)
        .args(["--host", "tux01", "touch", "name=c"])
        .expect_code(0);
    // Expired, not in the allow-list, and wrongly typed arguments.
    order(&["--host", "tux01", "--ttl", "1ms", "touch", "name=d"]);
    std::thread::sleep(std::time::Duration::from_millis(20));
    order(&["--host", "tux01", "reboot"]);
    order(&["--host", "tux01", "touch", "name=e; rm -rf /"]);
    order(&["--host", "tux01", "touch", "name=../../f"]);
    order(&["--host", "tux01", "touch", "name=g", "extra=1"]);
    let refused = obey(&env, &tux01);
    assert_eq!(
        summary(&refused),
        [
            s("tux01", "error", "forged"),
            s("tux01", "error", "forged"),
            s("tux01", "error", "expired"),
            s("tux01", "error", "unknown-action"),
            s("tux01", "error", "bad-argument"),
            s("tux01", "error", "bad-argument"),
            s("tux01", "error", "bad-argument"),
        ]
    );
    let left: Vec<_> = std::fs::read_dir(&dir1).unwrap().collect();
    assert!(left.is_empty(), "a refused order ran: {left:?}");
}

#[test]
fn hosts_are_chosen_by_facts_and_wait_prints_their_results() {
    let mut env = TestEnv::new();
    let redis = RedisServer::start(env.path("redis"));
    env.set("SD_BROKER", redis.url());
    let key = keygen(&env, "orders.key");
    let (dir1, dir2) = (env.path("tux01"), env.path("tux02"));
    let tux01 = host_config(&env, "tux01", &key, &dir1);
    let tux02 = host_config(&env, "tux02", &key, &dir2);
    // The store knows both hosts' facts: only tux02 has little memory.
    let db = env.path("events.db");
    let facts = |host: &str, mem: u64| {
        format!(
            "{{\"v\":1,\"id\":\"f-{host}\",\"time\":\"{}\",\"host\":\"{host}\",\"tag\":\"facts\",\"kind\":\"facts\",\"status\":\"info\",\"facts\":{{\"mem_total_bytes\":{mem}}}}}\n",
            sheepdog::time::format_ms(sheepdog::time::now_ms())
        )
    };
    env.cmd("sd-store")
        .arg(&db)
        .stdin(facts("tux01", 16 << 30) + &facts("tux02", 2 << 30))
        .expect_code(0);
    let out = env.path("order.out");
    let err = env.path("order.err");
    let mut waiting = env
        .cmd("sd-order")
        .arg("--key-file")
        .arg(&key)
        .args(["--where", "mem_total_bytes<4GiB", "--db"])
        .arg(&db)
        .args(["--wait", "60s", "touch", "name=w"])
        .spawn_to(&out, &err);
    assert!(wait_until(20, || std::fs::read_to_string(&out)
        .is_ok_and(|o| o.contains("\"host\":\"tux02\""))));
    for config in [&tux01, &tux02] {
        let run = env
            .cmd("sd-obey")
            .arg("--once")
            .arg("--config")
            .arg(config)
            .expect_code(0);
        env.cmd("sd-bark").stdin(run.stdout()).expect_code(0);
    }
    let status = waiting.wait().unwrap();
    let printed = std::fs::read_to_string(&out).unwrap();
    assert_eq!(
        status.code(),
        Some(0),
        "{printed}\n{}",
        std::fs::read_to_string(&err).unwrap()
    );
    let results: Vec<serde_json::Value> = printed
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["kind"] == "order")
        .collect();
    assert_eq!(results.len(), 1, "{printed}");
    assert_eq!(
        (results[0]["host"].as_str(), results[0]["status"].as_str()),
        (Some("tux02"), Some("ok"))
    );
    assert!(dir2.join("w").exists() && !dir1.join("w").exists());

    // A host that never answers: exit 75, named.
    let run = env
        .cmd("sd-order")
        .arg("--key-file")
        .arg(&key)
        .args(["--host", "tux09", "--wait", "1s", "touch", "name=x"])
        .expect_code(75);
    assert!(run.stderr().contains("tux09"), "{}", run.report());
}

#[test]
fn killed_mid_action_it_is_reported_interrupted_and_never_run_again() {
    let mut env = TestEnv::new();
    let redis = RedisServer::start(env.path("redis"));
    env.set("SD_BROKER", redis.url());
    let key = keygen(&env, "orders.key");
    let dir = env.path("tux01");
    let tux01 = host_config(&env, "tux01", &key, &dir);
    env.cmd("sd-order")
        .arg("--key-file")
        .arg(&key)
        .args(["--host", "tux01", "nap", "secs=30"])
        .expect_code(0);
    let out = env.path("obey.out");
    let mut obeying = env
        .cmd("sd-obey")
        .arg("--config")
        .arg(&tux01)
        .spawn_to(&out, &env.path("obey.err"));
    // The nap is running: its start is in the ledger.
    assert!(wait_until(20, || std::process::Command::new("pgrep")
        .args(["-f", "^sleep 30$"])
        .output()
        .is_ok_and(|o| o.status.success())));
    obeying.kill().unwrap();
    obeying.wait().unwrap();
    let _ = std::process::Command::new("pkill")
        .args(["-f", "^sleep 30$"])
        .status();
    let results = obey(&env, &tux01);
    assert_eq!(summary(&results), [s("tux01", "error", "interrupted")]);
    assert!(obey(&env, &tux01).is_empty(), "reported once");
    // Redelivered by hand: still never run again.
    let entries = redis
        .cli(&["XRANGE", "sheepdog:orders:tux01", "-", "+"])
        .unwrap();
    let fields: Vec<&str> = entries.lines().collect();
    redis
        .cli(&[
            "XADD",
            "sheepdog:orders:tux01",
            "*",
            "order",
            fields[2],
            "sig",
            fields[4],
            "key",
            fields[6],
        ])
        .unwrap();
    assert_eq!(
        summary(&obey(&env, &tux01)),
        [s("tux01", "error", "replayed")]
    );
}

#[test]
fn without_a_broker_orders_go_through_the_local_spool() {
    let env = TestEnv::new();
    let key = keygen(&env, "orders.key");
    let (dir1, dir2) = (env.path("tux01"), env.path("tux02"));
    let tux01 = host_config(&env, "tux01", &key, &dir1);
    let tux02 = host_config(&env, "tux02", &key, &dir2);
    env.cmd("sd-order")
        .arg("--key-file")
        .arg(&key)
        .args(["--host", "tux02", "touch", "name=s"])
        .expect_code(0);
    assert!(obey(&env, &tux01).is_empty());
    assert_eq!(summary(&obey(&env, &tux02)), [s("tux02", "ok", "exit")]);
    assert!(dir2.join("s").exists() && !dir1.join("s").exists());
    // A key that is not there is a usage error naming it.
    let run = env
        .cmd("sd-order")
        .args([
            "--key-file",
            "/nonexistent/orders.key",
            "--host",
            "tux02",
            "touch",
            "name=t",
        ])
        .expect_code(2);
    assert!(
        run.stderr().contains("/nonexistent/orders.key"),
        "{}",
        run.report()
    );
}

/// The wire format is public: a Python script with a standard Ed25519
/// library (contrib/examples/order.py) writes an order sd-obey accepts.
#[test]
fn a_foreign_producer_writes_an_order_that_is_obeyed() {
    let mut env = TestEnv::new();
    let redis = RedisServer::start(env.path("redis"));
    env.set("SD_BROKER", redis.url());
    let key = keygen(&env, "orders.key");
    let dir = env.path("tux01");
    let tux01 = host_config(&env, "tux01", &key, &dir);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/examples/order.py");
    env.external(script.to_str().unwrap(), "order.py")
        .arg(redis.url())
        .arg(&key)
        .args(["tux01", "touch", "name=py"])
        .expect_code(0);
    assert_eq!(summary(&obey(&env, &tux01)), [s("tux01", "ok", "exit")]);
    assert!(dir.join("py").exists());
}
