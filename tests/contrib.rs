//! contrib/: the Guix and Shepherd definitions read as Scheme with Guile,
//! the systemd units pass systemd-analyze, every crontab line is a valid
//! command line of ours, and the example monitors and receivers (shell and
//! Python, on the public wire format alone) talk to a real Redis.

use crate::util::redis::RedisServer;
use crate::util::{TestEnv, have, wait_until};
use std::path::{Path, PathBuf};

fn contrib(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("contrib")
        .join(path)
}

fn files(dir: &str, ext: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut todo = vec![contrib(dir)];
    while let Some(dir) = todo.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else if path.extension().is_some_and(|e| e == ext) {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

#[test]
fn guix_and_shepherd_files_read_as_scheme_with_documented_fields() {
    let guile = ["guile", "guile-3.0"].into_iter().find(|g| have(g));
    let guile =
        guile.expect("guile is not installed; the README's test command installs guile-3.0");
    let mut scheme = files("guix", "scm");
    scheme.extend(files("shepherd", "scm"));
    assert!(scheme.len() >= 3, "{scheme:?}");
    let reader = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/util/read_scheme.scm");
    let out = std::process::Command::new(guile)
        .args(["--no-auto-compile", "-s"])
        .arg(&reader)
        .args(&scheme)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(said.lines().count(), scheme.len(), "{said}");
}

#[test]
fn systemd_units_verify() {
    if !have("systemd-analyze") {
        crate::util::skip("systemd_units_verify", "systemd-analyze is not installed");
        return;
    }
    let env = TestEnv::new();
    let bin_dir = Path::new(crate::util::bin("sd-run")).parent().unwrap();
    let mut units = Vec::new();
    for ext in ["service", "timer"] {
        for unit in files("systemd", ext) {
            // The units name /usr/local/bin; point them at the built binaries.
            let text = std::fs::read_to_string(&unit)
                .unwrap()
                .replace("/usr/local/bin/", &format!("{}/", bin_dir.display()));
            let copy = env.path(unit.file_name().unwrap().to_str().unwrap());
            std::fs::write(&copy, text).unwrap();
            units.push(copy);
        }
    }
    assert!(units.len() >= 4);
    for unit in &units {
        let text = std::fs::read_to_string(unit).unwrap();
        if unit.extension().is_some_and(|e| e == "service") && !text.contains("Type=oneshot") {
            for option in [
                "NoNewPrivileges=yes",
                "ProtectSystem=strict",
                "User=sheepdog",
            ] {
                assert!(text.contains(option), "{}: no {option}", unit.display());
            }
        }
    }
    let out = env
        .external("systemd-analyze", "systemd-analyze")
        .args(["verify", "--man=no"])
        .args(&units)
        .env("SYSTEMD_LOG_LEVEL", "notice")
        .run();
    assert_eq!(out.code(), Some(0), "{}", out.report());
    assert_eq!(
        out.stderr(),
        "",
        "systemd-analyze complained:\n{}",
        out.stderr()
    );
}

#[test]
fn every_crontab_line_is_a_valid_command_line() {
    let text = std::fs::read_to_string(contrib("cron/sheepdog.crontab")).unwrap();
    let pages = sheepdog::manual::commands::ALL;
    let mut commands = 0;
    for line in text.lines() {
        let line = line.trim();
        let assignment = line
            .split_whitespace()
            .next()
            .is_some_and(|w| w.contains('='));
        if line.is_empty() || line.starts_with('#') || assignment {
            continue; // comments, SHELL=, PATH=
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        assert!(words.len() > 5, "not a crontab line: {line}");
        for field in &words[..5] {
            assert!(
                field
                    .chars()
                    .all(|c| c.is_ascii_digit() || "*/,-".contains(c)),
                "bad time field {field:?} in {line}"
            );
        }
        // cron turns an unescaped % into a newline: every % is escaped.
        let command = words[5..].join(" ");
        assert!(
            !command.replace("\\%", "").contains('%'),
            "unescaped % in {line}"
        );
        let command = command.replace("\\%", "%");
        let words = shell_words::split(&command).unwrap_or_else(|e| panic!("{line}: {e}"));
        for argv in words.split(|w| w == "|") {
            let Some(page) = pages.iter().find(|p| p.name == argv[0]) else {
                continue;
            };
            page.command()
                .try_get_matches_from(argv)
                .unwrap_or_else(|e| panic!("{argv:?}: {e}"));
            commands += 1;
        }
    }
    assert!(commands >= 10, "{commands} commands checked");
}

#[test]
fn shell_and_python_examples_speak_the_wire_format() {
    let mut env = TestEnv::new();
    let redis = RedisServer::start(env.path("redis"));
    env.set("SD_BROKER", redis.url());
    let examples = contrib("examples");
    let example = |name: &str| examples.join(name).display().to_string();

    // Monitors write to Redis directly; sd-recv reads their events.
    let shell = env
        .external(&example("monitor.sh"), "monitor.sh")
        .arg(redis.url())
        .expect_code(0);
    assert!(
        shell.stdout().contains("\"tag\":\"rootfs\""),
        "{}",
        shell.stdout()
    );
    let python = env
        .external(&example("monitor.py"), "monitor.py")
        .args(["127.0.0.1", &redis.port.to_string(), "--tag", "redis-port"])
        .expect_code(0);
    assert!(python.stdout().contains("\"status\":\"ok\""));
    let received = env
        .cmd("sd-recv")
        .args(["--group", "check", "--once"])
        .expect_code(0);
    let tags: Vec<String> = received
        .stdout()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["tag"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(tags, ["rootfs", "redis-port"]);

    // Receivers read what sd-bark published, each through its own group
    // (what every group had acknowledged was trimmed from the stream).
    env.cmd("sd-bark")
        .args([
            "--tag",
            "from-bark",
            "--status",
            "fail",
            "--msg",
            "it's \"quoted\"",
        ])
        .expect_code(0);
    for (name, group) in [("receiver.sh", "shell"), ("receiver.py", "python")] {
        let run = env.external(&example(name), name).run();
        assert_eq!(run.code(), Some(0), "{}", run.report());
        let events: Vec<serde_json::Value> = run
            .stdout()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{name}: {e}: {l}")))
            .collect();
        assert_eq!(events.len(), 1, "{name}: {}", run.stdout());
        assert_eq!(events[0]["tag"], "from-bark");
        assert_eq!(events[0]["msg"], "it's \"quoted\"");
        assert!(wait_until(5, || redis
            .cli(&["XPENDING", "sheepdog:events", group])
            .is_some_and(|o| o.lines().next() == Some("0"))));
    }
}

/// The channel examples are a configuration sheepdog reads, with every
/// kind of channel sd-mail knows.
#[test]
fn the_channel_examples_are_a_valid_configuration() {
    let text = std::fs::read_to_string(contrib("notify/channels.toml")).unwrap();
    let config = sheepdog::config::ConfigFile::parse(&text).unwrap_or_else(|e| panic!("{e}"));
    let kinds: Vec<&str> = config.notify.iter().map(|n| n.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "ntfy", "gotify", "matrix", "slack", "json", "program", "syslog"
        ]
    );
}
