//! sd-facts on this machine, checked against what the system itself says.

use crate::util::{Event, TestEnv, have};
use std::process::Command;

fn stdout_of(program: &str, args: &[&str]) -> String {
    String::from_utf8(Command::new(program).args(args).output().unwrap().stdout).unwrap()
}

#[test]
fn facts_match_what_the_system_says() {
    let env = TestEnv::new();
    let run = env
        .cmd("sd-facts")
        .args(["--packages", "bash,coreutils,no-such-package"])
        .expect_code(0);
    let event: Event = run.event();
    assert_eq!(
        (
            event.kind.as_str(),
            event.status.as_str(),
            event.tag.as_str()
        ),
        ("facts", "info", "facts")
    );
    let facts = event.facts.unwrap();
    for name in [
        "hostname",
        "os",
        "kernel",
        "uptime_s",
        "load1",
        "load5",
        "load15",
        "cpus",
        "mem_total_bytes",
        "mem_available_bytes",
        "swap_total_bytes",
        "swap_free_bytes",
    ] {
        assert!(facts.contains_key(name), "no {name} in {facts:?}");
    }
    let kib: u64 = std::fs::read_to_string("/proc/meminfo")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(facts["mem_total_bytes"], kib * 1024);
    assert_eq!(facts["kernel"], stdout_of("uname", &["-r"]).trim());
    assert_eq!(
        facts["cpus"].as_u64().unwrap() as usize,
        std::thread::available_parallelism().unwrap().get()
    );
    let root_size = facts
        .get("disk./.size_bytes")
        .and_then(|v| v.as_u64())
        .expect("the root filesystem");
    assert!(root_size > 0);
    let used = facts["disk./.used_pct"].as_f64().unwrap();
    assert!((0.0..=100.0).contains(&used));
    let packages: Vec<&String> = facts.keys().filter(|k| k.starts_with("pkg.")).collect();
    if have("dpkg-query") {
        let bash = stdout_of("dpkg-query", &["-W", "-f", "${Version}", "bash"]);
        assert_eq!(facts["pkg.bash"], bash.as_str());
        assert_eq!(
            packages,
            ["pkg.bash", "pkg.coreutils"],
            "--packages limits the list"
        );
    } else {
        // No package manager sd-facts knows here (rpm is the other): no
        // package facts, and the run still succeeds.
        assert!(have("rpm") || packages.is_empty(), "{packages:?}");
    }
}

#[test]
fn thresholds_add_a_warn_event_per_breach() {
    let env = TestEnv::new();
    let quiet: Vec<Event> = env
        .cmd("sd-facts")
        .arg("--no-packages")
        .expect_code(0)
        .lines();
    assert_eq!(quiet.len(), 1, "no thresholds, no warnings");
    assert!(
        !quiet[0]
            .facts
            .as_ref()
            .unwrap()
            .keys()
            .any(|k| k.starts_with("pkg."))
    );

    let events: Vec<Event> = env
        .cmd("sd-facts")
        .args([
            "--no-packages",
            "--disk-warn",
            "0%",
            "--mem-warn",
            "0",
            "--load-warn=-1",
        ])
        .expect_code(0)
        .lines();
    let warn_tags: Vec<&str> = events[1..].iter().map(|e| e.tag.as_str()).collect();
    assert!(warn_tags.contains(&"disk:/"), "{warn_tags:?}");
    assert!(
        warn_tags.contains(&"mem") && warn_tags.contains(&"load"),
        "{warn_tags:?}"
    );
    for warn in &events[1..] {
        assert_eq!(warn.status, "warn");
        assert!(
            warn.msg.as_deref().unwrap().contains("more than"),
            "{:?}",
            warn.msg
        );
    }
    // Under the threshold, each watched value says so with an `ok` for the
    // same tag, which clears an earlier warning on the board.
    let clear: Vec<Event> = env
        .cmd("sd-facts")
        .args([
            "--no-packages",
            "--disk-warn",
            "100%",
            "--load-warn",
            "1000000",
        ])
        .expect_code(0)
        .lines();
    let cleared: Vec<(&str, &str)> = clear[1..]
        .iter()
        .map(|e| (e.tag.as_str(), e.status.as_str()))
        .collect();
    assert!(cleared.contains(&("disk:/", "ok")), "{cleared:?}");
    assert!(cleared.contains(&("load", "ok")), "{cleared:?}");
    assert!(cleared.iter().all(|(_, s)| *s == "ok"), "{cleared:?}");
    assert!(clear[1].msg.as_deref().unwrap().contains("at most"));
    env.cmd("sd-facts")
        .args(["--disk-warn", "120%"])
        .expect_code(2);
}

#[test]
fn facts_feed_the_fact_filter_of_sd_query() {
    let env = TestEnv::new();
    let db = env.path("events.db");
    let facts = env
        .cmd("sd-facts")
        .args(["--packages", "bash"])
        .expect_code(0)
        .stdout();
    env.cmd("sd-store")
        .arg(&db)
        .stdin(facts.clone())
        .expect_code(0);
    let event: Event = serde_json::from_str(facts.lines().next().unwrap()).unwrap();
    let kernel = event.facts.as_ref().unwrap()["kernel"]
        .as_str()
        .unwrap()
        .to_string();
    let sql = format!(
        "SELECT value FROM facts WHERE host = '{}' AND name = 'kernel'",
        event.host
    );
    let rows: Vec<serde_json::Value> = env
        .cmd("sd-query")
        .arg(&db)
        .args(["--sql", &sql])
        .expect_code(0)
        .lines();
    assert_eq!(rows[0]["value"], kernel.as_str());
}

/// The crontab's `sd-facts --load-warn … | sd-bark`, into the store: a
/// warning shows on the board, and the next run under the threshold clears
/// it.
#[test]
fn a_warning_clears_on_the_board_when_the_value_is_back_under_its_threshold() {
    let env = TestEnv::new();
    let db = env.path("events.db");
    let board = |load_warn: &str| -> Vec<(String, String)> {
        let facts = env
            .cmd("sd-facts")
            .args(["--no-packages", &format!("--load-warn={load_warn}")])
            .expect_code(0);
        env.cmd("sd-bark").stdin(facts.stdout()).expect_code(0);
        env.receive_into(&db);
        let rows: Vec<serde_json::Value> = env
            .cmd("sd-query")
            .arg(&db)
            .args(["status", "--tag", "load"])
            .expect_code(0)
            .lines();
        rows.iter()
            .map(|r| {
                (
                    r["tag"].as_str().unwrap().into(),
                    r["status"].as_str().unwrap().into(),
                )
            })
            .collect()
    };
    assert_eq!(board("-1"), [("load".to_string(), "warn".to_string())]);
    assert_eq!(board("1000000"), [("load".to_string(), "ok".to_string())]);
}
