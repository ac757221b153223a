//! Signed events (docs/ARCHITECTURE.md §2) against a real redis-server: a key per
//! host; forged, altered, replayed-as-another-host and unsigned events go
//! to sheepdog:rejected when signatures are required, and pass when they
//! are not.

use crate::util::TestEnv;
use crate::util::redis::RedisServer;

/// XADDs an entry as an attacker (or a careless script) would.
fn xadd(redis: &RedisServer, event: &str, sig: Option<&str>) {
    let mut args = vec!["XADD", "sheepdog:events", "*", "event", event];
    if let Some(sig) = sig {
        args.extend(["sig", sig]);
    }
    assert!(redis.cli(&args).is_some());
}

/// The `event` and `sig` of the newest entry.
fn newest(redis: &RedisServer) -> (String, String) {
    let out = redis
        .cli(&[
            "--raw",
            "XREVRANGE",
            "sheepdog:events",
            "+",
            "-",
            "COUNT",
            "1",
        ])
        .unwrap();
    let lines: Vec<&str> = out.lines().collect();
    let field = |name: &str| {
        let at = lines.iter().position(|l| *l == name).unwrap();
        lines[at + 1].to_string()
    };
    (field("event"), field("sig"))
}

#[test]
fn events_are_checked_against_the_key_of_their_host() {
    let mut env = TestEnv::new();
    let redis = RedisServer::start(env.path("redis"));
    env.set("SD_BROKER", redis.url());
    let keyring = env.path("keyring");
    std::fs::create_dir_all(&keyring).unwrap();
    for host in ["tux01", "tux02"] {
        std::fs::write(
            keyring.join(format!("{host}.key")),
            format!("{host} secret key, 32 chars+\n"),
        )
        .unwrap();
    }
    let key01 = keyring.join("tux01.key");

    // tux01 signs a genuine event.
    env.cmd("sd-bark")
        .arg("--key-file")
        .arg(&key01)
        .stdin("{\"id\":\"genuine\",\"host\":\"tux01\",\"tag\":\"web\",\"status\":\"ok\"}\n")
        .expect_code(0);
    let (text, sig) = newest(&redis);
    assert_eq!(sig.len(), 64, "an HMAC-SHA256 in hex");
    // The same text, altered; replayed as tux02; a made-up signature; none.
    xadd(
        &redis,
        &text
            .replace("\"ok\"", "\"fail\"")
            .replace("genuine", "altered"),
        Some(&sig),
    );
    xadd(
        &redis,
        &text
            .replace("tux01", "tux02")
            .replace("genuine", "as-tux02"),
        Some(&sig),
    );
    xadd(
        &redis,
        &text.replace("genuine", "forged"),
        Some(&"ab".repeat(32)),
    );
    xadd(&redis, &text.replace("genuine", "unsigned"), None);
    xadd(
        &redis,
        &text
            .replace("genuine", "stranger")
            .replace("tux01", "tux99"),
        Some(&sig),
    );

    // Three receivers, each its own group (created now, so that what the
    // first acknowledges is not trimmed before the others read it).
    for group in ["lenient", "checked"] {
        redis
            .cli(&["XGROUP", "CREATE", "sheepdog:events", group, "0"])
            .unwrap();
    }
    // Required: only the genuine one gets through (65: some were rejected).
    let strict = env
        .cmd("sd-recv")
        .args([
            "--group",
            "strict",
            "--once",
            "--require-signed",
            "--keyring",
        ])
        .arg(&keyring)
        .expect_code(65);
    let ids = strict.ids();
    assert_eq!(ids, ["genuine"], "{}", strict.report());
    let rejected = redis
        .cli(&["--raw", "XRANGE", "sheepdog:rejected", "-", "+"])
        .unwrap();
    for (id, why) in [
        ("altered", "does not match the key of host \"tux01\""),
        ("as-tux02", "does not match the key of host \"tux02\""),
        ("forged", "does not match"),
        ("unsigned", "unsigned"),
        ("stranger", "no key for host \"tux99\""),
    ] {
        let at = rejected
            .find(&format!("\"id\":\"{id}\""))
            .unwrap_or_else(|| panic!("{id} not rejected:\n{rejected}"));
        assert!(rejected[at..].contains(why), "{id}: {why}\n{rejected}");
    }
    assert!(
        strict.stderr().contains("moved to sheepdog:rejected"),
        "{}",
        strict.stderr()
    );

    // Not required (no keyring): everything is accepted as before.
    let lenient = env
        .cmd("sd-recv")
        .args(["--group", "lenient", "--once"])
        .expect_code(0);
    assert_eq!(lenient.stdout().lines().count(), 6);
    // A keyring without --require-signed: unsigned passes, bad signatures do not.
    let checked = env
        .cmd("sd-recv")
        .args(["--group", "checked", "--once", "--keyring"])
        .arg(&keyring)
        .expect_code(65);
    let ids = checked.ids();
    assert_eq!(ids, ["genuine", "unsigned"]);

    // A key file that cannot be read stops sd-bark before it takes input.
    let missing = env
        .cmd("sd-bark")
        .args(["--key-file", "/nonexistent/host.key", "--tag", "x"])
        .expect_code(2);
    assert!(
        missing.stderr().contains("key file /nonexistent/host.key"),
        "{}",
        missing.stderr()
    );
}
