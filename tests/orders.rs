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
    action: Option<String>,
}

/// The server's key pair, made by `sd-order keygen`.
fn keygen(env: &TestEnv, name: &str) -> PathBuf {
    let key = env.path(name);
    env.cmd("sd-order").arg("keygen").arg(&key).expect_code(0);
    key
}

/// A test's world with a redis-server of its own and the server's key.
fn with_broker() -> (TestEnv, RedisServer, PathBuf) {
    let mut env = TestEnv::new();
    let redis = RedisServer::start(env.path("redis"));
    env.set("SD_BROKER", redis.url());
    let key = keygen(&env, "orders.key");
    (env, redis, key)
}

/// The same, with Redis persisting every write (appendfsync always).
fn with_durable_broker() -> (TestEnv, RedisServer, PathBuf) {
    let mut env = TestEnv::new();
    let redis = RedisServer::start_durable(env.path("redis"));
    env.set("SD_BROKER", redis.url());
    let key = keygen(&env, "orders.key");
    (env, redis, key)
}

/// `sd-order --key-file KEY ARGS…`, which must succeed.
fn send(env: &TestEnv, key: &Path, args: &[&str]) -> crate::util::Run {
    env.cmd("sd-order")
        .arg("--key-file")
        .arg(key)
        .args(args)
        .expect_code(0)
}

/// A host's configuration `NAME.toml`: its name, the key it trusts, its
/// own ledger, and `actions` (TOML `[[action]]` tables).
fn obey_config(env: &TestEnv, host: &str, trusted: &Path, actions: &str) -> PathBuf {
    let path = env.path(&format!("{host}.toml"));
    let header = format!(
        "[obey]\nhost = \"{host}\"\ntrusted_keys = [\"{}.pub\"]\nledger = \"{}\"\n\n",
        trusted.display(),
        env.path(&format!("{host}.ledger.db")).display()
    );
    std::fs::write(&path, header + actions).unwrap();
    path
}

/// The usual host: it may touch a file in `dir`, and nap.
fn host_config(env: &TestEnv, host: &str, trusted: &Path, dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let actions = format!(
        r#"[[action]]
name = "touch"
cmd = ["touch", "{}/{{name}}"]
args = {{ name = "word" }}
timeout = "10s"

[[action]]
name = "nap"
cmd = ["sh", "-c", "echo $$ > {0}/nap.pid; exec sleep {{secs}}"]
args = {{ secs = "int" }}

[[action]]
name = "fork"
cmd = ["sh", "-c", "sleep 300 & echo $! > {0}/bg.pid"]
"#,
        dir.display()
    );
    obey_config(env, host, trusted, &actions)
}

fn obey(env: &TestEnv, config: &Path) -> Vec<Result_> {
    env.cmd("sd-obey")
        .arg("--once")
        .arg("--config")
        .arg(config)
        .expect_code(0)
        .lines()
}

/// The first order in a host's stream: its text, signature and key id.
fn first_order(redis: &RedisServer, host: &str) -> (String, String, String) {
    let entries = redis
        .cli(&["XRANGE", &format!("sheepdog:orders:{host}"), "-", "+"])
        .unwrap();
    // redis-cli prints: id, order, TEXT, sig, SIG, key, KEY
    let fields: Vec<&str> = entries.lines().collect();
    (fields[2].into(), fields[4].into(), fields[6].into())
}

/// Writes an order entry into a host's stream by hand.
fn add_order(redis: &RedisServer, host: &str, text: &str, sig: &str, key_id: &str) {
    redis
        .cli(&[
            "XADD",
            &format!("sheepdog:orders:{host}"),
            "*",
            "order",
            text,
            "sig",
            sig,
            "key",
            key_id,
        ])
        .unwrap();
}

/// Whether process `pid` has ended (gone, or a zombie no one reaped).
fn ended(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |stat| {
        stat[stat.rfind(')').unwrap() + 1..]
            .trim_start()
            .starts_with('Z')
    })
}

/// The pid a test's action wrote to `file`, once it is there.
fn pid_in(file: &Path) -> i32 {
    assert!(wait_until(20, || std::fs::read_to_string(file)
        .is_ok_and(|t| t.trim().parse::<i32>().is_ok())));
    std::fs::read_to_string(file)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// SIGKILL for sd-obey in the middle of the action whose pid is `action`:
/// the action dies with it (its death signal), and the test waits for that.
fn kill_mid_action(mut obeying: std::process::Child, action: i32) {
    obeying.kill().unwrap();
    obeying.wait().unwrap();
    assert!(
        wait_until(20, || ended(action)),
        "the action {action} outlived sd-obey"
    );
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
    let (env, redis, key) = with_broker();
    let (dir1, dir2) = (env.path("tux01"), env.path("tux02"));
    let tux01 = host_config(&env, "tux01", &key, &dir1);
    let tux02 = host_config(&env, "tux02", &key, &dir2);
    let order = |args: &[&str]| send(&env, &key, args);

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
    let (text, sig, key_id) = first_order(&redis, "tux01");
    let (sig, key_id) = (sig.as_str(), key_id.as_str());
    std::fs::remove_file(dir1.join("a")).unwrap();
    add_order(&redis, "tux01", &text, sig, key_id);
    assert_eq!(
        summary(&obey(&env, &tux01)),
        [s("tux01", "error", "replayed")]
    );
    assert!(!dir1.join("a").exists(), "a replayed order ran");

    // Altered: the text changed after signing.
    let altered = text.replace("\"name\":\"a\"", "\"name\":\"b\"");
    add_order(&redis, "tux01", &altered, sig, key_id);
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
    // Refusals are the host's own: a forged order does not choose the
    // board's row or the mail of its refusal; what it claimed is a field.
    assert!(
        refused.iter().all(|r| r.tag == "sd-obey"),
        "{:?}",
        refused.iter().map(|r| &r.tag).collect::<Vec<_>>()
    );
    assert_eq!(refused[3].action.as_deref(), Some("reboot"));
    // A forged order claiming a huge action is cut short.
    let huge = "x".repeat(100_000);
    env.cmd("sd-order")
        .arg("--key-file")
        .arg(&stranger)
        .args(["--host", "tux01", &huge])
        .expect_code(0);
    let refused = obey(&env, &tux01);
    assert_eq!(summary(&refused), [s("tux01", "error", "forged")]);
    assert_eq!(refused[0].tag, "sd-obey");
    assert_eq!(refused[0].action.as_deref().map(str::len), Some(64));
}

#[test]
fn hosts_are_chosen_by_facts_and_wait_prints_their_results() {
    let (env, _redis, key) = with_broker();
    let (dir1, dir2) = (env.path("tux01"), env.path("tux02"));
    let tux01 = host_config(&env, "tux01", &key, &dir1);
    let tux02 = host_config(&env, "tux02", &key, &dir2);
    // The store knows both hosts' facts: only tux02 has little memory.
    let db = env.path("events.db");
    let facts = |host: &str, mem: u64| {
        format!(
            "{{\"v\":1,\"id\":\"f-{host}\",\"time\":\"{}\",\"host\":\"{host}\",\"tag\":\"facts\",\"kind\":\"facts\",\"status\":\"info\",\"facts\":{{\"mem_total_bytes\":{mem}}}}}\n",
            sheepdog::base::time::format_ms(sheepdog::base::time::now_ms())
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
    let (env, redis, key) = with_broker();
    let dir = env.path("tux01");
    let tux01 = host_config(&env, "tux01", &key, &dir);
    send(&env, &key, &["--host", "tux01", "nap", "secs=37"]);
    let out = env.path("obey.out");
    let obeying = env
        .cmd("sd-obey")
        .arg("--config")
        .arg(&tux01)
        .spawn_to(&out, &env.path("obey.err"));
    // The nap is running: its start is in the ledger.
    kill_mid_action(obeying, pid_in(&dir.join("nap.pid")));
    let results = obey(&env, &tux01);
    assert_eq!(summary(&results), [s("tux01", "error", "interrupted")]);
    assert!(obey(&env, &tux01).is_empty(), "reported once");
    // Redelivered by hand: still never run again.
    let (text, sig, key_id) = first_order(&redis, "tux01");
    add_order(&redis, "tux01", &text, &sig, &key_id);
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
    send(&env, &key, &["--host", "tux02", "touch", "name=s"]);
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
    let (env, redis, key) = with_broker();
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

/// The seed's firewall: `block-ip` runs real nft inside a private network
/// namespace. The ordered address is in the set afterwards; a forged order
/// and wrongly typed ones change nothing and are reported. As root, the
/// action runs as the user its table names.
#[test]
fn block_ip_runs_nft_in_a_private_network_namespace() {
    if !nix::unistd::geteuid().is_root() || !crate::util::have("unshare") {
        crate::util::skip(
            "block_ip_runs_nft_in_a_private_network_namespace",
            "needs root and unshare for a private network namespace",
        );
        return;
    }
    assert!(
        crate::util::have("nft"),
        "nft is not installed (Debian's nftables); the README's test command installs it"
    );
    // The namespace has no network to a broker: the orders go through the
    // local spool, as on a machine without one.
    let env = TestEnv::new();
    let key = keygen(&env, "orders.key");
    let stranger = keygen(&env, "stranger.key");
    let config = obey_config(
        &env,
        "fw01",
        &key,
        r#"[[action]]
name = "block-ip"
cmd = ["nft", "add", "element", "inet", "sheepdog", "blocked", "{ {ip} }"]
args = { ip = "ip" }
user = "root"
timeout = "30s"

[[action]]
name = "whoami"
cmd = ["id", "-u"]
user = "nobody"
"#,
    );
    let order = |key: &Path, args: &[&str]| {
        send(&env, key, &[&["--host", "fw01"], args].concat());
    };
    order(&key, &["block-ip", "ip=203.0.113.7"]);
    order(&stranger, &["block-ip", "ip=198.51.100.1"]);
    order(&key, &["block-ip", "ip=1.2.3.4; rm -rf /"]);
    order(&key, &["block-ip", "ip=../../"]);
    order(&key, &["whoami"]);
    let script = format!(
        "nft add table inet sheepdog && \
         nft add set inet sheepdog blocked '{{ type ipv4_addr; }}' && \
         {} --once --config {} && \
         nft list set inet sheepdog blocked >&2",
        crate::util::bin("sd-obey"),
        config.display()
    );
    let run = env
        .external("unshare", "unshare")
        .args(["--net", "sh", "-c", &script])
        .expect_code(0);
    let results: Vec<serde_json::Value> = run.lines();
    let seen: Vec<(&str, &str)> = results
        .iter()
        .map(|r| (r["status"].as_str().unwrap(), r["reason"].as_str().unwrap()))
        .collect();
    assert_eq!(
        seen,
        [
            ("ok", "exit"),
            ("error", "forged"),
            ("error", "bad-argument"),
            ("error", "bad-argument"),
            ("ok", "exit"),
        ],
        "{}",
        run.report()
    );
    let set = run.stderr();
    assert!(set.contains("203.0.113.7"), "{}", run.report());
    assert!(
        !set.contains("198.51.100.1") && !set.contains("1.2.3.4"),
        "{}",
        run.report()
    );
    let nobody = nix::unistd::User::from_name("nobody").unwrap().unwrap();
    assert_eq!(
        results[4]["stdout"].as_str().map(str::trim),
        Some(nobody.uid.as_raw().to_string().as_str())
    );
}

/// The ACL sheepdog(7) gives a host: it reads only its own orders and
/// writes only events; it cannot write an order, nor read another host's.
#[test]
fn a_host_reads_only_its_own_orders_and_cannot_write_one() {
    let mut env = TestEnv::new();
    let redis = RedisServer::start(env.path("redis"));
    let host_acl = [
        "ACL",
        "SETUSER",
        "tux01",
        "on",
        ">tux01-pw",
        "resetkeys",
        "resetchannels",
        "-@all",
        "+xreadgroup",
        "+xack",
        "+xgroup|create",
        "~sheepdog:orders:tux01",
        "(+xadd ~sheepdog:events)",
    ];
    assert_eq!(redis.cli(&host_acl).as_deref().map(str::trim), Some("OK"));
    let key = keygen(&env, "orders.key");
    let dir = env.path("tux01");
    let tux01 = host_config(&env, "tux01", &key, &dir);
    env.set("SD_BROKER", redis.url());
    send(&env, &key, &["--host", "tux01", "touch", "name=acl"]);
    env.set(
        "SD_BROKER",
        format!("redis://tux01:tux01-pw@127.0.0.1:{}", redis.port),
    );
    let run = env
        .cmd("sd-obey")
        .args(["--once", "--config"])
        .arg(&tux01)
        .expect_code(0);
    env.cmd("sd-bark").stdin(run.stdout()).expect_code(0);
    assert!(dir.join("acl").exists(), "{}", run.report());
    assert_eq!(redis.cli(&["XLEN", "sheepdog:events"]).unwrap().trim(), "1");
    let as_host = |args: &[&str]| redis.cli_as("tux01", "tux01-pw", args);
    assert!(as_host(&["XADD", "sheepdog:orders:tux01", "*", "order", "{}"]).contains("NOPERM"));
    assert!(
        as_host(&[
            "XREADGROUP",
            "GROUP",
            "obey",
            "x",
            "STREAMS",
            "sheepdog:orders:tux02",
            ">"
        ])
        .contains("NOPERM")
    );
}

/// Two sd-obey on one host, as services, with orders arriving: each order
/// runs exactly once (an action that fails when it runs twice).
#[test]
fn two_obeying_on_one_host_run_each_order_once() {
    let (env, _redis, key) = with_broker();
    let dir = env.path("tux01");
    std::fs::create_dir_all(&dir).unwrap();
    let config = obey_config(
        &env,
        "tux01",
        &key,
        &format!(
            "[[action]]\nname = \"once\"\ncmd = [\"mkdir\", \"{}/{{n}}\"]\nargs = {{ n = \"int\" }}\n",
            dir.display()
        ),
    );
    let services: Vec<_> = (0..2)
        .map(|i| {
            env.cmd("sd-obey").arg("--config").arg(&config).spawn_to(
                &env.path(&format!("obey{i}.out")),
                &env.path(&format!("obey{i}.err")),
            )
        })
        .collect();
    for n in 0..20 {
        send(&env, &key, &["--host", "tux01", "once", &format!("n={n}")]);
    }
    let results = || -> Vec<serde_json::Value> {
        (0..2)
            .flat_map(|i| {
                std::fs::read_to_string(env.path(&format!("obey{i}.out")))
                    .unwrap_or_default()
                    .lines()
                    .filter_map(|l| serde_json::from_str(l).ok())
                    .collect::<Vec<serde_json::Value>>()
            })
            .collect()
    };
    assert!(wait_until(30, || results().len() >= 20));
    for mut service in services {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(service.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        )
        .unwrap();
        let code = service.wait().unwrap().code();
        let errs: Vec<String> = (0..2)
            .map(|i| std::fs::read_to_string(env.path(&format!("obey{i}.err"))).unwrap_or_default())
            .collect();
        assert_eq!(code, Some(0), "{errs:?}");
    }
    // Every order ran once; an order both were handed (a restart's
    // pending entries) is reported replayed by the one that did not run it.
    let results = results();
    let ran: std::collections::BTreeSet<&str> = results
        .iter()
        .filter(|r| r["status"] == "ok")
        .map(|r| r["order"].as_str().unwrap())
        .collect();
    let ok = results.iter().filter(|r| r["status"] == "ok").count();
    assert_eq!((ran.len(), ok), (20, 20), "{results:?}");
    assert!(
        results
            .iter()
            .all(|r| r["status"] == "ok" || r["reason"] == "replayed"),
        "{results:?}"
    );
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 20);
}

/// Redis loses the acknowledgement (it restarts from a copy of its data
/// taken before the order was handled): the order is delivered again, and
/// the ledger says it ran. With --wait, a refused order is exit 1.
#[test]
fn a_redelivery_after_redis_restarts_is_replayed_not_run() {
    let (env, mut redis, key) = with_durable_broker();
    let dir = env.path("tux01");
    let tux01 = host_config(&env, "tux01", &key, &dir);
    send(&env, &key, &["--host", "tux01", "touch", "name=r"]);
    // Redis's data as it was before the order was handled.
    let before = env.path("redis-before");
    copy_dir(&redis.dir, &before);
    assert_eq!(summary(&obey(&env, &tux01)), [s("tux01", "ok", "exit")]);
    std::fs::remove_file(dir.join("r")).unwrap();
    redis.kill();
    std::fs::remove_dir_all(&redis.dir).unwrap();
    copy_dir(&before, &redis.dir);
    redis.restart();
    assert_eq!(
        summary(&obey(&env, &tux01)),
        [s("tux01", "error", "replayed")]
    );
    assert!(!dir.join("r").exists(), "run again after the restart");

    // --wait: a host that refuses is exit 1.
    let out = env.path("wait.out");
    let mut waiting = env
        .cmd("sd-order")
        .arg("--key-file")
        .arg(&key)
        .args(["--host", "tux01", "--wait", "60s", "reboot"])
        .spawn_to(&out, &env.path("wait.err"));
    assert!(wait_until(20, || std::fs::read_to_string(&out)
        .is_ok_and(|o| o.contains("reboot"))));
    let run = env
        .cmd("sd-obey")
        .arg("--once")
        .arg("--config")
        .arg(&tux01)
        .expect_code(0);
    env.cmd("sd-bark").stdin(run.stdout()).expect_code(0);
    assert_eq!(waiting.wait().unwrap().code(), Some(1));
    assert!(
        std::fs::read_to_string(&out)
            .unwrap()
            .contains("unknown-action")
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// An action that says `retry = true` runs again after sd-obey was killed
/// mid-run (the admin declared it safe to repeat).
#[test]
fn a_retry_action_runs_again_after_a_kill() {
    let (env, _redis, key) = with_broker();
    let mark = env.path("mark");
    let config = obey_config(
        &env,
        "tux01",
        &key,
        &format!(
            "[[action]]\nname = \"sync\"\nretry = true\n\
             cmd = [\"sh\", \"-c\", \"test -e {m} || {{ echo $$ > {m}; exec sleep 31; }}\"]\n",
            m = mark.display()
        ),
    );
    send(&env, &key, &["--host", "tux01", "sync"]);
    let obeying = env
        .cmd("sd-obey")
        .arg("--config")
        .arg(&config)
        .spawn_to(&env.path("obey.out"), &env.path("obey.err"));
    kill_mid_action(obeying, pid_in(&mark));
    let results = obey(&env, &config);
    assert_eq!(summary(&results), [s("tux01", "ok", "exit")]);
}

#[test]
fn what_an_action_leaves_in_the_background_ends_with_it() {
    let (env, _redis, key) = with_broker();
    let dir = env.path("tux01");
    let tux01 = host_config(&env, "tux01", &key, &dir);
    send(&env, &key, &["--host", "tux01", "fork"]);
    let results = obey(&env, &tux01);
    assert_eq!(summary(&results), [s("tux01", "ok", "exit")]);
    let background = pid_in(&dir.join("bg.pid"));
    assert!(
        wait_until(20, || ended(background)),
        "the action's `sleep 300 &` outlived it"
    );
}

/// An order signed for another host, copied into this host's stream (a
/// replay across hosts), is refused: the host it names is not this one.
#[test]
fn an_order_for_another_host_is_refused_where_it_is_replayed() {
    let (env, redis, key) = with_broker();
    let dir = env.path("tux01");
    let tux01 = host_config(&env, "tux01", &key, &dir);
    send(&env, &key, &["--host", "tux02", "touch", "name=x"]);
    let (text, sig, key_id) = first_order(&redis, "tux02");
    add_order(&redis, "tux01", &text, &sig, &key_id);
    let refused = obey(&env, &tux01);
    assert_eq!(summary(&refused), [s("tux01", "error", "wrong-host")]);
    assert!(!dir.join("x").exists(), "another host's order ran");
}

/// sd-order remembers what it sent; where it cannot, it still sends.
#[test]
fn identical_orders_are_sent_once_unless_the_memory_cannot_be_kept() {
    let (env, redis, key) = with_broker();
    let order = |extra: &[&str]| {
        env.cmd("sd-order")
            .arg("--key-file")
            .arg(&key)
            .args(["--host", "tux01", "touch", "name=a"])
            .args(extra)
            .expect_code(0)
    };
    assert_eq!(order(&[]).stdout().lines().count(), 1);
    let again = order(&[]);
    assert_eq!(again.stdout(), "", "{}", again.report());
    assert!(
        again.stderr().contains("skipped touch on tux01"),
        "{}",
        again.report()
    );
    assert_eq!(order(&["--again"]).stdout().lines().count(), 1);
    // A state directory that cannot be made (under a file): a warning,
    // and the order goes all the same.
    let blocked = env
        .cmd("sd-order")
        .env("XDG_STATE_HOME", "/dev/null/state")
        .arg("--key-file")
        .arg(&key)
        .args(["--host", "tux01", "touch", "name=a"])
        .expect_code(0);
    assert_eq!(blocked.stdout().lines().count(), 1, "{}", blocked.report());
    assert!(
        blocked.stderr().contains("sending every order"),
        "{}",
        blocked.report()
    );
    let sent = redis.cli(&["XLEN", "sheepdog:orders:tux01"]).unwrap();
    assert_eq!(sent.trim(), "3");
}

/// A password changed on the broker under a running sd-obey: it is not
/// an outage to wait out; sd-obey says the broker refused it, exits 2.
#[test]
fn a_refused_password_stops_sd_obey_instead_of_waiting_for_ever() {
    let (env, redis, key) = with_broker();
    let dir = env.path("tux01");
    let tux01 = host_config(&env, "tux01", &key, &dir);
    let (out, err) = (env.path("obey.out"), env.path("obey.err"));
    let mut obeying = crate::util::Background::new(
        env.cmd("sd-obey")
            .arg("--config")
            .arg(&tux01)
            .spawn_to(&out, &err),
    );
    // Reading its stream, then the password changes and its connections go.
    assert!(wait_until(20, || redis
        .cli(&["CLIENT", "LIST"])
        .is_some_and(|c| c.contains("cmd=xreadgroup"))));
    redis
        .cli(&["CONFIG", "SET", "requirepass", "new-pw"])
        .unwrap();
    let _ = std::process::Command::new("redis-cli")
        .args([
            "-p",
            &redis.port.to_string(),
            "-a",
            "new-pw",
            "--no-auth-warning",
        ])
        .args(["CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"])
        .output();
    let mut status = None;
    wait_until(30, || {
        status = obeying.try_wait();
        status.is_some()
    });
    let stderr = std::fs::read_to_string(&err).unwrap();
    let status = status.unwrap_or_else(|| panic!("sd-obey kept waiting:\n{stderr}"));
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("the broker refused us"), "{stderr}");
}
