//! Rules (sheepdog(7), RULES) on real stores filled through the pipeline:
//! the seed question against its flag form, dependencies that hold back
//! mail, the attack that ends in an order obeyed, and every bad rule
//! file refused with its place.

use crate::util::redis::RedisServer;
use crate::util::smtp::SmtpServer;
use crate::util::{TestEnv, bin};
use serde_json::Value;
use std::path::{Path, PathBuf};

const SEED: &str = r#"
low_ram(H)         :- fact(H, "mem_total_bytes", M), M < 4GiB.
runs(H, P, V)      :- fact(H, P, V).
interrupted(H, T)  :- interruption(H, T, _, End), End > now - 30d.
answer(H, T)       :- interrupted(H, T), low_ram(H), runs(H, "pkg.nginx", V), version_eq(V, "1.24.0").
"#;

fn rules_file(env: &TestEnv, text: &str) -> PathBuf {
    let path = env.path("rules.dl");
    std::fs::write(&path, text).unwrap();
    path
}

fn pairs(rows: &[Value], a: &str, b: &str) -> Vec<(String, String)> {
    rows.iter()
        .map(|r| (r[a].as_str().unwrap().into(), r[b].as_str().unwrap().into()))
        .collect()
}

#[test]
fn the_seed_question_as_rules_answers_what_the_flags_answer() {
    let env = TestEnv::new();
    let db = env.path("events.db");
    env.cmd("sd-store")
        .arg(&db)
        .stdin(crate::query::herd(sheepdog::base::time::now_ms()))
        .expect_code(0);
    let rules = rules_file(&env, SEED);
    let asked = env
        .cmd("sd-query")
        .arg(&db)
        .args(["ask", "--rules"])
        .arg(&rules)
        .arg("answer(H, T)")
        .expect_code(0);
    let flags = env
        .cmd("sd-query")
        .arg(&db)
        .args(["interruptions", "--since", "30d"])
        .args([
            "--fact",
            "mem_total_bytes<4GiB",
            "--fact",
            "pkg.nginx=1.24.0",
        ])
        .expect_code(0);
    let want = [("tux01", "cron"), ("tux01", "web"), ("tux05", "mail")]
        .map(|(h, t)| (h.to_string(), t.to_string()));
    assert_eq!(pairs(&asked.lines(), "H", "T"), want, "{}", asked.report());
    assert_eq!(pairs(&flags.lines(), "host", "tag"), want);
    // One object of bindings per answer, exactly.
    assert_eq!(
        asked.stdout().lines().next(),
        Some(r#"{"H":"tux01","T":"cron"}"#)
    );
    // A question may be several literals, and may negate.
    let healthy = env
        .cmd("sd-query")
        .arg(&db)
        .args(["ask", "--rules"])
        .arg(&rules)
        .arg("low_ram(H), not interrupted(H, _)")
        .expect_code(0);
    assert_eq!(healthy.stdout(), "{\"H\":\"tux04\"}\n");
    // --plan says how: the facts first, then the periods of those hosts
    // through the index on (host, end).
    let plan = env
        .cmd("sd-query")
        .arg(&db)
        .args(["ask", "--plan", "--format", "json", "--rules"])
        .arg(&rules)
        .arg("answer(H, T)")
        .expect_code(0);
    let printed = plan.stdout();
    let steps: Vec<&str> = printed.lines().collect();
    let at = |what: &str| steps.iter().position(|s| s.contains(what));
    assert!(
        at("interruptions_host_end") > at("facts") && at("facts").is_some(),
        "{}",
        plan.report()
    );
    // The rule file from the configuration, a wrong question exit 2.
    let config = env.write_config(&format!("[rules]\npath = \"{}\"\n", rules.display()));
    let wrong = env
        .cmd("sd-query")
        .arg(&db)
        .arg("--config")
        .arg(&config)
        .args(["ask", "answer(H)"])
        .expect_code(2);
    assert!(
        wrong.stderr().contains(
            "question:1:1: `answer` has 2 arguments where it is defined (line 5), 1 here"
        ),
        "{}",
        wrong.report()
    );
}

/// web01 → switch3 → router1, and web02 → switch3; every host is pinged.
const DEPENDENCIES: &str = r#"
depends("web01", "switch3").
depends("web02", "switch3").
depends("switch3", "router1").
upstream(H, P) :- depends(H, P).
upstream(H, P) :- depends(H, X), upstream(X, P).
down(H)        :- state(H, "ping", "fail", _).
suppress(H, "ping") :- upstream(H, P), down(P).
"#;

fn ping(id: &str, host: &str, status: &str, seconds_ago: i64) -> String {
    format!(
        r#"{{"v":1,"id":"{id}","time":"{}","host":"{host}","tag":"ping","kind":"heartbeat","status":"{status}","reason":"timeout"}}"#,
        sheepdog::base::time::format_ms(sheepdog::base::time::now_ms() - seconds_ago * 1000)
    ) + "\n"
}

/// sd-mail to the test's SMTP server, asking suppress rules of `db`.
fn mail_from(env: &TestEnv, smtp: &SmtpServer, db: &Path, group_wait: &str) -> crate::util::Cmd {
    env.cmd("sd-mail")
        .args(["--to", "admin@example.org", "--smtp", &smtp.url()])
        .args(["--retries", "0", "--group-wait", group_wait, "--store"])
        .arg(db)
}

#[test]
fn a_router_down_holds_back_the_mail_of_everything_behind_it_and_only_then() {
    let env = TestEnv::new();
    let db = env.path("events.db");
    let rules = rules_file(&env, DEPENDENCIES);
    let smtp = SmtpServer::start(env.path("smtp"));
    let mail = |input: &str| {
        env.cmd("sd-store").arg(&db).stdin(input).expect_code(0);
        mail_from(&env, &smtp, &db, "1m")
            .arg("--rules")
            .arg(&rules)
            .arg("--state")
            .arg(env.path("mail.db"))
            .stdin(input.to_string())
            .expect_code(0)
    };

    // Only web01 fails: nothing above it is down, so it is news.
    mail(&ping("p1", "web01", "fail", 50));
    let mails = smtp.received();
    assert_eq!(mails.len(), 1);
    assert!(mails[0].header("Subject").contains("ping on web01"));
    mail(&ping("p2", "web01", "ok", 45));
    assert_eq!(smtp.received().len(), 2, "its recovery is mailed too");

    // The router goes down, and everything behind it with it: one mail,
    // about the router, naming what it held back.
    let burst = [
        ping("r1", "router1", "fail", 40),
        ping("s1", "switch3", "fail", 39),
        ping("w1", "web01", "fail", 39),
        ping("w2", "web02", "fail", 38),
    ]
    .concat();
    let run = mail(&burst);
    let mails = smtp.received();
    assert_eq!(mails.len(), 3, "{}", run.report());
    let about_router = &mails[2];
    let subject = about_router.header("Subject");
    assert!(
        subject.contains("ping on router1") && !subject.contains("web01"),
        "{subject}"
    );
    let body = &about_router.body;
    let held = &body[body.find("Held back").expect("names what it held")..];
    for child in ["ping on switch3", "ping on web01", "ping on web02"] {
        assert!(held.contains(child), "{body}");
    }

    // The board says so, with the rule file from the configuration.
    let config = env.write_config(&format!("[rules]\npath = \"{}\"\n", rules.display()));
    let board: Vec<Value> = env
        .cmd("sd-query")
        .arg(&db)
        .arg("--config")
        .arg(&config)
        .arg("status")
        .expect_code(0)
        .lines();
    let suppressed: Vec<&str> = board
        .iter()
        .filter(|r| r["suppressed"] == true)
        .map(|r| r["host"].as_str().unwrap())
        .collect();
    assert_eq!(suppressed, ["switch3", "web01", "web02"]);

    // All recover: only the router's recovery is news.
    let recovery = [
        ping("r2", "router1", "ok", 20),
        ping("s2", "switch3", "ok", 19),
        ping("w3", "web01", "ok", 19),
        ping("w4", "web02", "ok", 18),
    ]
    .concat();
    mail(&recovery);
    let mails = smtp.received();
    assert_eq!(mails.len(), 4);
    assert!(
        mails[3]
            .header("Subject")
            .starts_with("[sheepdog] OK ping on router1")
            && !mails[3].header("Subject").contains("web0"),
        "{}",
        mails[3].header("Subject")
    );
}

/// The seed's attack, wired as contrib wires it: sshd's log through the
/// monitor script and sd-bark, into the store through a real broker; a
/// rule counts the failures, `ask --orders | sd-order` decides the block
/// and sd-obey runs it (nft in a private network namespace as root, a
/// file otherwise); `alerts | sd-bark` raises the alert and clears it
/// when the failures stop.
#[test]
fn an_attack_is_counted_blocked_alerted_and_cleared() {
    let mut env = TestEnv::new();
    let redis = RedisServer::start(env.path("redis"));
    // Events travel through the broker; orders, below, through the local
    // spool (an empty SD_BROKER: no broker), as the namespace has no network.
    env.set("SD_BROKER", redis.url());
    let db = env.path("events.db");
    let host = sheepdog::base::ident::short_hostname();
    // The window is a minute here (5m in contrib/rules/); the failures
    // stopping is seen by asking as of a minute later (--now), not by
    // waiting for it.
    let rules = rules_file(
        &env,
        r#"
failed_login(H, Ip, Id) :- event(Id, T, H, "sshd", "auth", _), T > now - 60s,
                           field(Id, "reason", "failed-login"), field(Id, "ip", Ip).
attack(H, Ip)   :- N = count { failed_login(H, Ip, Id) }, N > 20.
block_ip(H, Ip) :- attack(H, Ip).
order(H, "block-ip", "ip", Ip) :- attack(H, Ip).
alert(H, "attack", cat("ssh attack from ", Ip)) :- attack(H, Ip).
"#,
    );
    let bark_into_store = |input: String| {
        env.cmd("sd-bark").stdin(input).expect_code(0);
        env.receive_into(&db);
    };
    // 25 failures from one address, 3 from another, a good login.
    let mut log = String::new();
    for i in 0..25 {
        log += &format!(
            "Failed password for root from 203.0.113.7 port {} ssh2\n",
            40000 + i
        );
    }
    for i in 0..3 {
        log += &format!("Failed password for invalid user bob from 198.51.100.9 port {i} ssh2\n");
    }
    log += "Accepted publickey for alice from 192.0.2.1 port 5 ssh2\n";
    log += "Failed password for x from 1.2.3.4\",\"status\":\"ok port 1 ssh2\n";
    let monitor = Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/examples/ssh-failed-logins");
    let events = env
        .external(monitor.to_str().unwrap(), "ssh-failed-logins")
        .stdin(log)
        .expect_code(0);
    assert_eq!(events.stdout().lines().count(), 28, "{}", events.report());
    bark_into_store(events.stdout());

    let ask = |args: &[&str]| {
        env.cmd("sd-query")
            .arg(&db)
            .args(["ask", "--rules"])
            .arg(&rules)
            .args(args)
            .expect_code(0)
    };
    let orders = ask(&["--orders", "block_ip(H, Ip)"]);
    assert_eq!(
        orders.stdout(),
        format!(
            "{{\"host\":\"{host}\",\"action\":\"block-ip\",\"args\":{{\"ip\":\"203.0.113.7\"}}}}\n"
        ),
        "{}",
        orders.report()
    );
    // The order heads say the same without a goal.
    assert_eq!(ask(&["--orders"]).stdout(), orders.stdout());
    let later = sheepdog::base::time::format_ms(sheepdog::base::time::now_ms() + 61_000);
    let alerts_at = |expected: usize, now: &[&str]| {
        let state = env.path("alerts.json");
        let run = env
            .cmd("sd-query")
            .arg(&db)
            .args(["alerts", "--rules"])
            .arg(&rules)
            .arg("--state")
            .arg(&state)
            .args(now)
            .expect_code(0);
        assert_eq!(run.stdout().lines().count(), expected, "{}", run.report());
        bark_into_store(run.stdout());
    };
    let alerts = |expected: usize| alerts_at(expected, &[]);
    let attack_status = || -> Option<String> {
        let rows: Vec<Value> = env
            .cmd("sd-query")
            .arg(&db)
            .args(["status", "--tag", "attack"])
            .expect_code(0)
            .lines();
        rows.first()
            .map(|r| r["status"].as_str().unwrap().to_string())
    };
    alerts(1);
    assert_eq!(attack_status().as_deref(), Some("fail"));
    alerts(0);

    // The order, signed and obeyed through the local spool.
    let key = env.path("orders.key");
    env.cmd("sd-order").arg("keygen").arg(&key).expect_code(0);
    let order = |extra: &[&str]| {
        env.cmd("sd-order")
            .env("SD_BROKER", "")
            .args(["--ttl", "10m", "--key-file"])
            .arg(&key)
            .args(extra)
            .stdin(orders.stdout())
            .expect_code(0)
    };
    assert_eq!(order(&[]).stdout().lines().count(), 1);
    // Cron's next run decides the same block: it is not sent again while
    // the first is valid.
    let again = order(&[]);
    assert_eq!(again.stdout(), "", "{}", again.report());
    assert!(
        again.stderr().starts_with(&format!(
            "sd-order: skipped block-ip on {host}: the same order "
        )),
        "{}",
        again.report()
    );
    let root = nix::unistd::geteuid().is_root() && crate::util::have("unshare");
    if !root {
        crate::util::skip(
            "an_attack_is_counted_blocked_alerted_and_cleared (nft)",
            "needs root and unshare: the block is a file here, not an nft set",
        );
    }
    let blocked = env.path("blocked");
    std::fs::create_dir_all(&blocked).unwrap();
    let action = if root {
        r#"cmd = ["nft", "add", "element", "inet", "sheepdog", "blocked", "{ {ip} }"]"#.to_string()
    } else {
        format!(r#"cmd = ["touch", "{}/{{ip}}"]"#, blocked.display())
    };
    let config = env.write_config(&format!(
        "[obey]\nhost = \"{host}\"\ntrusted_keys = [\"{}.pub\"]\nledger = \"{}\"\n\n\
         [[action]]\nname = \"block-ip\"\n{action}\nargs = {{ ip = \"ip\" }}\n",
        key.display(),
        env.path("ledger.db").display()
    ));
    let obeyed = if root {
        let script = format!(
            "nft add table inet sheepdog && \
             nft add set inet sheepdog blocked '{{ type ipv4_addr; }}' && \
             {} --once --config {} && nft list set inet sheepdog blocked >&2",
            bin("sd-obey"),
            config.display()
        );
        let run = env
            .external("unshare", "unshare")
            .env("SD_BROKER", "")
            .args(["--net", "sh", "-c", &script])
            .expect_code(0);
        assert!(run.stderr().contains("203.0.113.7"), "{}", run.report());
        assert!(!run.stderr().contains("198.51.100.9"), "{}", run.report());
        run
    } else {
        let run = env
            .cmd("sd-obey")
            .env("SD_BROKER", "")
            .args(["--once", "--config"])
            .arg(&config)
            .expect_code(0);
        assert!(blocked.join("203.0.113.7").exists(), "{}", run.report());
        run
    };
    let results: Vec<Value> = obeyed.lines();
    assert_eq!(results.len(), 1, "{}", obeyed.report());
    assert_eq!(results[0]["status"], "ok", "{}", obeyed.report());
    // --again sends it all the same, under a new id.
    let forced: Vec<Value> = order(&["--again"]).lines();
    assert_eq!(forced.len(), 1);
    assert_ne!(forced[0]["id"], results[0]["order"]);

    // The failures stop: once they are out of the window, the alert clears.
    assert_eq!(ask(&["attack(H, Ip)", "--now", &later]).stdout(), "");
    alerts_at(1, &["--now", &later]);
    assert_eq!(attack_status().as_deref(), Some("ok"));
    alerts_at(0, &["--now", &later]);
}

/// Every file in tests/fixtures/rules/bad/ starts with `% error: TEXT`:
/// checking it exits 2 with FILE:LINE:COLUMN and TEXT.
#[test]
fn every_bad_rule_file_is_refused_with_its_place_and_no_hang() {
    let env = TestEnv::new();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rules/bad");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    // Generated: 10,000 parentheses deep, and a count inside a count
    // 10,000 deep.
    let deep = env.path("deep.dl");
    std::fs::write(
        &deep,
        format!(
            "% error: nested more than 64 deep\na(X) :- fact(X, _, V), W = {}V{}.\n",
            "(".repeat(10_000),
            ")".repeat(10_000)
        ),
    )
    .unwrap();
    files.push(deep);
    let counts = env.path("counts.dl");
    std::fs::write(
        &counts,
        format!(
            "% error: count inside a count\na(N) :- {}fact(X, _, _){}.\n",
            "N = count { ".repeat(10_000),
            " }".repeat(10_000)
        ),
    )
    .unwrap();
    files.push(counts);
    assert!(files.len() >= 12, "the corpus is nearly empty");
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let expected = text
            .lines()
            .next()
            .unwrap()
            .strip_prefix("% error: ")
            .unwrap();
        let run = env
            .cmd("sd-query")
            .args(["rules", "--check"])
            .arg(&file)
            .expect_code(2);
        let said = run.stderr();
        assert!(
            said.starts_with(&format!("sd-query: {}:", file.display())) && said.contains(expected),
            "{}: wanted `{expected}`\n{}",
            file.display(),
            run.report()
        );
    }
    // A good file is checked without a store.
    let good = rules_file(&env, &format!("{SEED}{DEPENDENCIES}"));
    let run = env
        .cmd("sd-query")
        .args(["rules", "--check"])
        .arg(&good)
        .expect_code(0);
    assert!(run.stderr().contains("no mistakes"), "{}", run.report());
    let contrib = Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/rules/rules.dl");
    env.cmd("sd-query")
        .args(["rules", "--check"])
        .arg(&contrib)
        .expect_code(0);
}

/// A rule file broken by an edit never stops the mail nor the board: named
/// in the configuration, it is reported and the mail goes out unsuppressed;
/// named on the command line, it is refused before anything is read.
#[test]
fn a_broken_rule_file_stops_neither_mail_nor_the_board() {
    let env = TestEnv::new();
    let db = env.path("events.db");
    let smtp = SmtpServer::start(env.path("smtp"));
    let rules = rules_file(&env, "suppress(H, T) :- state(H, T, _).\n");
    let config = env.write_config(&format!("[rules]\npath = \"{}\"\n", rules.display()));
    let input = ping("p1", "web01", "fail", 10);
    env.cmd("sd-store")
        .arg(&db)
        .stdin(input.clone())
        .expect_code(0);
    let mail = || {
        mail_from(&env, &smtp, &db, "0s")
            .arg("--config")
            .arg(&config)
            .stdin(input.clone())
    };
    let run = mail().arg("--rules").arg(&rules).expect_code(2);
    assert!(
        run.stderr()
            .contains("rules.dl:1:19: `state` has 4 arguments"),
        "{}",
        run.report()
    );
    assert!(smtp.received().is_empty());
    let run = mail().expect_code(0);
    assert!(
        run.stderr().contains("mailing without suppression"),
        "{}",
        run.report()
    );
    assert_eq!(smtp.received().len(), 1);
    let board = env
        .cmd("sd-query")
        .arg(&db)
        .arg("--config")
        .arg(&config)
        .arg("status")
        .expect_code(0);
    assert!(
        board.stdout().contains("\"host\":\"web01\""),
        "{}",
        board.report()
    );
    assert!(
        board.stderr().contains("without suppression"),
        "{}",
        board.report()
    );
}

/// An alert on a job's own tag clears on the board when it stops holding,
/// but its `ok` is no success of the job: the dead man's switch still
/// fires (docs/ARCHITECTURE.md §1).
#[test]
fn an_alerts_ok_never_satisfies_the_dead_mans_switch() {
    let env = TestEnv::new();
    let db = env.path("events.db");
    let alert = |id: &str, status: &str, seconds_ago: i64| {
        format!(
            r#"{{"v":1,"id":"{id}","time":"{}","host":"tux01","tag":"NIGHTLY","kind":"alert","status":"{status}"}}"#,
            sheepdog::base::time::format_ms(sheepdog::base::time::now_ms() - seconds_ago * 1000)
        ) + "\n"
    };
    let events = alert("a1", "fail", 120) + &alert("a2", "ok", 60);
    env.cmd("sd-store").arg(&db).stdin(events).expect_code(0);
    let board = env
        .cmd("sd-query")
        .arg(&db)
        .args(["status", "--tag", "NIGHTLY"])
        .expect_code(0);
    assert!(
        board.stdout().contains("\"status\":\"ok\""),
        "{}",
        board.report()
    );
    let verdict = env
        .cmd("sd-expect")
        .args(["--tag", "NIGHTLY", "--within", "1h"])
        .arg(&db)
        .run();
    assert_eq!(verdict.code(), Some(1), "{}", verdict.report());
    assert!(
        verdict.stdout().contains("\"status\":\"fail\""),
        "{}",
        verdict.report()
    );
}

#[test]
fn an_alert_whose_rule_is_gone_is_cleared_saying_why() {
    let env = TestEnv::new();
    let db = env.path("events.db");
    let store = |input: String| {
        env.cmd("sd-store").arg(&db).stdin(input).expect_code(0);
    };
    store(r#"{"tag":"web","status":"fail","host":"tux01","kind":"run"}"#.to_string() + "\n");
    let with_alert = rules_file(
        &env,
        r#"alert(H, "web-down", "web fails") :- event(_, _, H, "web", _, "fail")."#,
    );
    let state = env.path("alerts.json");
    let alerts = |rules: &Path, code: i32| {
        env.cmd("sd-query")
            .arg(&db)
            .args(["alerts", "--rules"])
            .arg(rules)
            .arg("--state")
            .arg(&state)
            .expect_code(code)
    };
    let raised: Vec<Value> = alerts(&with_alert, 0).lines();
    assert_eq!(raised.len(), 1);
    store(raised[0].to_string() + "\n");
    let board = |tag: &str| -> String {
        let rows: Vec<Value> = env
            .cmd("sd-query")
            .arg(&db)
            .args(["status", "--tag", tag])
            .expect_code(0)
            .lines();
        rows[0]["status"].as_str().unwrap().to_string()
    };
    assert_eq!(board("web-down"), "fail");
    // The admin removes the only alert rule.
    let without = env.path("without.dl");
    std::fs::write(&without, "web(H) :- event(_, _, H, \"web\", _, _).\n").unwrap();
    let run = alerts(&without, 0);
    let cleared: Vec<Value> = run.lines();
    assert_eq!(cleared.len(), 1, "{}", run.report());
    assert_eq!(
        (
            &cleared[0]["status"],
            &cleared[0]["reason"],
            &cleared[0]["tag"]
        ),
        (&"ok".into(), &"rule-gone".into(), &"web-down".into())
    );
    assert!(
        cleared[0]["msg"]
            .as_str()
            .unwrap()
            .contains("its rule is gone from"),
        "{}",
        cleared[0]
    );
    store(run.stdout());
    assert_eq!(board("web-down"), "ok");
    // Nothing holds any more: asking again is the usage error it was.
    alerts(&without, 2);
}

#[test]
fn check_names_every_mistake_and_what_sqlite_cannot_run() {
    let env = TestEnv::new();
    let bad = env.path("bad.dl");
    std::fs::write(
        &bad,
        "a(X :- b(X).\nok(X) :- event(X, _, _, _, _, _).\nf(X) :- , g.\nh(X) :- ok(X) ok(X).\n",
    )
    .unwrap();
    let run = env
        .cmd("sd-query")
        .args(["rules", "--check"])
        .arg(&bad)
        .expect_code(2);
    let stderr = run.stderr();
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 3, "{}", run.report());
    for (line, place) in lines
        .iter()
        .zip(["bad.dl:1:5:", "bad.dl:3:9:", "bad.dl:4:15:"])
    {
        assert!(line.contains(place), "{place} in {line}");
    }
    // A chain of a thousand relations parses, but SQLite refuses to nest
    // it: --check says so, where the relation is defined.
    let chain = env.path("chain.dl");
    let mut text = "r0(X) :- event(X, _, _, _, _, _).\n".to_string();
    for i in 1..1000 {
        text += &format!("r{i}(X) :- r{}(X).\n", i - 1);
    }
    std::fs::write(&chain, text).unwrap();
    let run = env
        .cmd("sd-query")
        .args(["rules", "--check"])
        .arg(&chain)
        .expect_code(2);
    assert!(
        run.stderr()
            .contains("chain.dl:1000:1: SQLite cannot answer `r999`")
            && run.stderr().contains("nested too deep"),
        "{}",
        run.report()
    );
}

#[test]
fn a_rule_that_grows_without_bound_is_stopped_and_named() {
    let env = TestEnv::new();
    let db = env.path("events.db");
    let input: String = (0..3000)
        .map(|i| format!("{{\"tag\":\"t{i}\",\"status\":\"ok\",\"host\":\"h\"}}\n"))
        .collect();
    env.cmd("sd-store").arg(&db).stdin(input).expect_code(0);
    // A product of events with itself, three times: 27 billion rows.
    let product = rules_file(
        &env,
        "big(A, B, C) :- event(A, _, _, _, _, _), event(B, _, _, _, _, _), event(C, _, _, _, _, _).",
    );
    let run = env
        .cmd("sd-query")
        .arg(&db)
        .args(["ask", "--timeout", "1s", "--rules"])
        .arg(&product)
        .arg("big(A, B, C)")
        .expect_code(75);
    assert!(
        run.stderr()
            .contains("`big(A, B, C)` ran past 1s and was stopped"),
        "{}",
        run.report()
    );
    // A recursion that makes new values until it is stopped, named.
    let counting = env.path("count.dl");
    std::fs::write(
        &counting,
        "s(X) :- event(_, _, _, X, _, _).\ns(Z) :- s(X), s(Y), Z = cat(X, Y).\n",
    )
    .unwrap();
    let run = env
        .cmd("sd-query")
        .arg(&db)
        .args(["ask", "--timeout", "1s", "--rules"])
        .arg(&counting)
        .arg("s(X)")
        .expect_code(75);
    assert!(
        run.stderr().contains("`s` ") && run.stderr().contains("was stopped"),
        "{}",
        run.report()
    );
}
