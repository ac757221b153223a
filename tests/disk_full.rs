//! A full disk under the store and under the spool, on a small tmpfs
//! mounted in a private mount namespace (so nothing is left mounted on
//! the machine, whatever happens): a clear error and the exit codes of
//! docs/ARCHITECTURE.md §4, nothing already accepted lost, recovery when space
//! returns.

use crate::util::redis::RedisServer;
use crate::util::{TestEnv, have};
use std::collections::HashSet;

/// Runs `script` with `sh` in a new mount namespace; `$D` is a 1 MiB tmpfs
/// and `$BIN` the directory of the built commands.
fn in_small_tmpfs(env: &TestEnv, script: &str) -> Option<crate::util::Run> {
    if !nix::unistd::geteuid().is_root() || !have("unshare") {
        crate::util::skip("disk_full", "needs root and unshare to mount a small tmpfs");
        return None;
    }
    let mount_point = env.path("small");
    std::fs::create_dir_all(&mount_point).unwrap();
    let bin_dir = std::path::Path::new(crate::util::bin("sd-store"))
        .parent()
        .unwrap()
        .display()
        .to_string();
    let wrapped = format!(
        "set -u\nD={}\nBIN={bin_dir}\nOUT={}\nmount -t tmpfs -o size=1m tmpfs \"$D\" || exit 99\n{script}",
        mount_point.display(),
        env.path("").display()
    );
    Some(
        env.external("unshare", "unshare")
            .args(["--mount", "sh", "-c", &wrapped])
            .run(),
    )
}

fn events(n: usize, tag: &str) -> String {
    (0..n)
        .map(|i| {
            format!(
                "{{\"id\":\"{tag}-{i:05}\",\"host\":\"h\",\"tag\":\"{tag}\",\"status\":\"ok\",\"msg\":\"{}\"}}\n",
                "x".repeat(150)
            )
        })
        .collect()
}

fn ids(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["id"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn a_full_disk_under_the_store_loses_nothing_echoed_and_recovers() {
    let env = TestEnv::new();
    std::fs::write(env.path("input"), events(20_000, "full")).unwrap();
    let script = r#"
"$BIN/sd-store" --echo "$D/events.db" < "$OUT/input" > "$OUT/echoed1" 2> "$OUT/err1"
echo $? > "$OUT/code1"
"$BIN/sd-query" "$D/events.db" --sql 'SELECT id FROM events' --format json > "$OUT/after-full"
mount -o remount,size=64m "$D"
"$BIN/sd-store" --echo "$D/events.db" < "$OUT/input" > "$OUT/echoed2" 2> "$OUT/err2"
echo $? > "$OUT/code2"
"$BIN/sd-query" "$D/events.db" --sql 'SELECT id FROM events' --format json > "$OUT/after-space"
"#;
    let Some(run) = in_small_tmpfs(&env, script) else {
        return;
    };
    assert_eq!(run.code(), Some(0), "{}", run.report());
    let read = |name: &str| std::fs::read_to_string(env.path(name)).unwrap();
    assert_eq!(read("code1").trim(), "74", "{}", read("err1"));
    let err = read("err1");
    assert!(
        err.contains("full"),
        "the message says the disk is full: {err}"
    );
    let echoed: HashSet<String> = ids(&read("echoed1")).into_iter().collect();
    let kept: HashSet<String> = ids(&read("after-full")).into_iter().collect();
    assert!(
        !echoed.is_empty() && echoed.len() < 20_000,
        "the disk filled up mid-import: {} echoed",
        echoed.len()
    );
    assert!(echoed.is_subset(&kept), "an echoed event was lost");

    assert_eq!(read("code2").trim(), "0", "{}", read("err2"));
    let all = ids(&read("after-space"));
    let unique: HashSet<&String> = all.iter().collect();
    assert_eq!((all.len(), unique.len()), (20_000, 20_000));
}

#[test]
fn a_full_disk_under_the_spool_publishes_directly_or_hands_events_to_stderr() {
    let mut env = TestEnv::new();
    let redis = RedisServer::start(env.path("redis"));
    env.set("SD_BROKER", redis.url());
    std::fs::write(env.path("input"), events(2_000, "spool")).unwrap();
    // The spool's disk is full before sd-bark starts: with the broker up,
    // events go straight to it; with the broker down, to stderr, exit 74.
    let script = r#"
dd if=/dev/zero of="$D/filler" bs=64k 2>/dev/null
SD_SPOOL="$D/spool.db" "$BIN/sd-bark" < "$OUT/input" > /dev/null 2> "$OUT/err1"
echo $? > "$OUT/code1"
SD_BROKER=redis://127.0.0.1:1 SD_SPOOL="$D/spool.db" "$BIN/sd-bark" < "$OUT/input" > /dev/null 2> "$OUT/err2"
echo $? > "$OUT/code2"
rm "$D/filler"
SD_SPOOL="$D/spool.db" "$BIN/sd-bark" --tag after --status ok > /dev/null 2> "$OUT/err3"
echo $? > "$OUT/code3"
"#;
    let Some(run) = in_small_tmpfs(&env, script) else {
        return;
    };
    assert_eq!(run.code(), Some(0), "{}", run.report());
    let read = |name: &str| std::fs::read_to_string(env.path(name)).unwrap();
    assert_eq!(read("code1").trim(), "0", "{}", read("err1"));
    assert!(read("err1").contains("spool"), "{}", read("err1"));

    assert_eq!(read("code2").trim(), "74", "{}", read("err2"));
    let on_stderr = ids(&read("err2"));
    assert_eq!(on_stderr.len(), 2_000, "every event handed to stderr");

    assert_eq!(read("code3").trim(), "0", "space is back: {}", read("err3"));
    // The first run's 2,000 (published directly) and the last one's event;
    // the second run's went to stderr, not to the full spool.
    assert_eq!(
        redis.cli(&["XLEN", "sheepdog:events"]).unwrap().trim(),
        "2001"
    );
}

/// sd-gate answers OK only for a ping it kept: with its spool's disk full
/// and no broker to take the event, it answers 503 (curl --retry sends it
/// again), and OK again once there is space.
#[test]
fn a_full_disk_under_the_gates_spool_is_503_not_ok() {
    let env = TestEnv::new();
    let port = crate::util::free_port();
    let uuid = "0123456789abcdef";
    std::fs::write(
        env.path("gate.toml"),
        format!(
            "[gate]\nlisten = \"127.0.0.1:{port}\"\n[[gate.check]]\nuuid = \"{uuid}\"\nhost = \"nas\"\ntag = \"backup\"\n"
        ),
    )
    .unwrap();
    let script = format!(
        r#"
"$BIN/sd-gate" --config "$OUT/gate.toml" --spool "$D/spool.db" 2> "$OUT/gate.err" &
G=$!
ping() {{ curl -s -o /dev/null -w '%{{http_code}}\n' -m 10 http://127.0.0.1:{port}/ping/{uuid} >> "$OUT/codes"; }}
for i in $(seq 100); do curl -s -o /dev/null http://127.0.0.1:{port}/ && break; sleep 0.1; done
ping; ping
dd if=/dev/zero of="$D/filler" bs=4k 2>/dev/null
for i in 1 2 3 4 5 6; do ping; done
echo full >> "$OUT/codes"
rm "$D/filler"
ping; ping
kill $G; wait $G
cp "$D/spool.db" "$OUT/spool.db"
"#
    );
    let Some(run) = in_small_tmpfs(&env, &script) else {
        return;
    };
    assert_eq!(run.code(), Some(0), "{}", run.report());
    let read = |name: &str| std::fs::read_to_string(env.path(name)).unwrap_or_default();
    let codes = read("codes");
    let (before, after) = codes.split_once("full\n").unwrap();
    let full: Vec<&str> = before.lines().skip(2).collect();
    assert_eq!(
        &before.lines().take(2).collect::<Vec<_>>(),
        &["200", "200"],
        "{codes}"
    );
    assert!(
        full.contains(&"503"),
        "a full disk is no OK: {codes}\n{}",
        read("gate.err")
    );
    assert_eq!(after.lines().collect::<Vec<_>>(), ["200", "200"], "{codes}");
    let oks = codes.lines().filter(|c| *c == "200").count();
    let stored = env
        .cmd("sd-recv")
        .args(["--spool"])
        .arg(env.path("spool.db"))
        .args(["--group", "store", "--once"])
        .expect_code(0);
    assert_eq!(
        ids(&stored.stdout()).len(),
        oks,
        "every OK kept, nothing else"
    );
}
