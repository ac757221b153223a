//! Maintenance windows end to end: hosts declare their own with `sd-bark
//! --maintenance` (each its own hostname, through `unshare --uts`), the
//! events go through Redis to the store and to sd-mail, and the mail is
//! read back from a real SMTP server. Recurring windows come from the
//! configuration.

use crate::util::redis::RedisServer;
use crate::util::smtp::SmtpServer;
use crate::util::{Background, TestEnv, bin, have, wait_until};

/// Runs `script` as a host named `host` (its own UTS namespace), with
/// `sd-bark` on PATH.
fn as_host(env: &TestEnv, host: &str, script: &str) {
    let dir = std::path::Path::new(bin("sd-bark")).parent().unwrap();
    let script = format!(
        "hostname {host} && PATH={}:$PATH && {script}",
        dir.display()
    );
    env.external("unshare", "unshare")
        .args(["--uts", "sh", "-c", &script])
        .expect_code(0);
}

/// A time `offset_ms` from now, as events carry it.
fn from_now(offset_ms: i64) -> String {
    sheepdog::base::time::format_ms(sheepdog::base::time::now_ms() + offset_ms)
}

/// tux01's whole-host window `id`, declared `from_ms` from now until
/// `until_ms` from now, as a line of input.
fn window(id: &str, from_ms: i64, until_ms: i64) -> String {
    format!(
        r#"{{"v":1,"id":"{id}","time":"{}","host":"tux01","tag":"*","kind":"maintenance","status":"info","until":"{}"}}"#,
        from_now(from_ms),
        from_now(until_ms)
    ) + "\n"
}

/// tux01's run of `web` failing (`f`), `at_ms` from now, as a line of input.
fn web_failed(at_ms: i64) -> String {
    format!(
        r#"{{"v":1,"id":"f","time":"{}","host":"tux01","tag":"web","kind":"run","status":"fail","code":2}}"#,
        from_now(at_ms)
    ) + "\n"
}

/// Runs `mail`, its input `input` and left open (sd-mail's timers run),
/// until the SMTP server has a mail; then closes its input. Whether a mail
/// came, and how sd-mail ended.
fn mail_while_open(
    mail: crate::util::Cmd,
    input: &str,
    smtp: &SmtpServer,
) -> (bool, std::process::Output) {
    use std::io::Write;
    let mut child = mail.spawn();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).unwrap();
    stdin.flush().unwrap();
    let arrived = wait_until(30, || !smtp.received().is_empty());
    drop(stdin);
    (arrived, child.wait_with_output().unwrap())
}

/// sd-mail to the test server, each notification at once, its state in
/// the test's directory.
fn mail(env: &TestEnv, smtp: &SmtpServer) -> crate::util::Cmd {
    env.cmd("sd-mail")
        .args([
            "--to",
            "admin@example.org",
            "--smtp",
            &smtp.url(),
            "--retries",
            "0",
        ])
        .args(["--group-wait", "0s", "--state"])
        .arg(env.path("mail.db"))
}

#[test]
fn twenty_hosts_rebooting_in_a_window_send_no_mail_and_the_one_that_stays_down_one() {
    if !(nix::unistd::geteuid().is_root() && have("unshare")) {
        crate::util::skip(
            "twenty_hosts_rebooting_in_a_window",
            "each host needs its own hostname: root and unshare",
        );
        return;
    }
    let mut env = TestEnv::new();
    let redis = RedisServer::start(env.path("redis"));
    env.set("SD_BROKER", redis.url());
    let smtp = SmtpServer::start(env.path("smtp"));
    let store = env.path("store.db");
    let (store_out, store_err) = (env.path("store.out"), env.path("store.err"));
    // Stopped when dropped, whatever the test's end.
    let storing = Background::new(
        env.cmd("sd-recv")
            .args(["--group", "store", "--", bin("sd-store"), "--echo"])
            .arg(&store)
            .own_group()
            .spawn_to(&store_out, &store_err),
    );
    let (mail_out, mail_err) = (env.path("mail.out"), env.path("mail.err"));
    let mailing = Background::new(
        env.cmd("sd-recv")
            .args(["--group", "mail", "--", bin("sd-mail"), "--echo"])
            .args(["--to", "admin@example.org", "--smtp", &smtp.url()])
            .args(["--group-wait", "0s", "--state"])
            .arg(env.path("mail.db"))
            .own_group()
            .spawn_to(&mail_out, &mail_err),
    );
    let window = 15;
    for i in 1..=20 {
        as_host(
            &env,
            &format!("host{i:02}"),
            &format!(
                "sd-bark --maintenance {window}s --reason 'kernel update' && \
                 sd-bark --tag web --status fail --msg 'web is down for the reboot'"
            ),
        );
    }
    // Nineteen come back; host20 does not.
    for i in 1..=19 {
        as_host(
            &env,
            &format!("host{i:02}"),
            "sd-bark --tag web --status ok --msg 'web is up'",
        );
    }
    let mail_log = || std::fs::read_to_string(&mail_err).unwrap_or_default();
    // Every change was decided (sd-mail saw the 39 failures and
    // recoveries), and nothing mailed.
    let mail_db = env.path("mail.db");
    let decided = wait_until(30, || {
        rusqlite::Connection::open(&mail_db)
            .and_then(|db| db.query_row("SELECT count(*) FROM seen", [], |r| r.get::<_, i64>(0)))
            .is_ok_and(|seen| seen == 39)
    });
    assert!(decided, "{}", mail_log());
    assert!(smtp.received().is_empty(), "nothing during the window");
    // The window ends: host20's failure, as it stands, once.
    let told = wait_until(window + 30, || !smtp.received().is_empty());
    assert!(told, "{}", mail_log());
    std::thread::sleep(std::time::Duration::from_secs(3));
    let mails = smtp.received();
    mailing.terminate();
    storing.terminate();
    assert_eq!(mails.len(), 1, "exactly one mail: {}", mail_log());
    let subject = mails[0].header("Subject");
    assert!(
        subject.contains("web") && subject.contains("host20"),
        "{subject}"
    );
    // The store kept the windows like any event, one per host.
    let windows = env
        .cmd("sd-query")
        .args(["events", "--kind", "maintenance", "--since", "1h"])
        .arg(&store)
        .expect_code(0);
    assert_eq!(windows.stdout().lines().count(), 20, "{}", windows.report());
}

#[test]
fn a_recurring_window_holds_what_it_covers_and_nothing_else() {
    let env = TestEnv::new();
    let smtp = SmtpServer::start(env.path("smtp"));
    // Every minute, for a month: always in force.
    let config = env.write_config(
        "[[maintenance]]\nhosts = \"db*\"\ncron = \"* * * * *\"\nfor = \"30d\"\nreason = \"always\"\n",
    );
    let event = |id: &str, host: &str| {
        format!(
            r#"{{"v":1,"id":"{id}","time":"{}","host":"{host}","tag":"pg","kind":"run","status":"fail"}}"#,
            from_now(0)
        ) + "\n"
    };
    mail(&env, &smtp)
        .args(["--config"])
        .arg(&config)
        .stdin(event("a", "db1") + &event("b", "web1"))
        .expect_code(0);
    let mails = smtp.received();
    assert_eq!(mails.len(), 1);
    assert!(mails[0].header("Subject").contains("web1"));
    // A window that does not parse is said, with its number.
    let bad = env.write_config("[[maintenance]]\ncron = \"0 2 * * 0\"\n");
    let run = env
        .cmd("sd-mail")
        .args(["--config"])
        .arg(&bad)
        .args(["--to", "admin@example.org", "--dry-run"])
        .stdin("")
        .expect_code(2);
    assert!(
        run.stderr().contains("[[maintenance]] number 1"),
        "{}",
        run.report()
    );
}

#[test]
fn a_declared_window_shows_on_the_board_holds_verdicts_and_is_a_relation() {
    let env = TestEnv::new();
    let two_days = 2 * 86_400_000;
    // As db1 and web1 send them through sd-bark: backups two days old,
    // then db1 down on purpose for an hour.
    let input = format!(
        r#"{{"host":"db1","tag":"backup","kind":"run","status":"ok","time":"{}"}}
{{"host":"web1","tag":"backup","kind":"run","status":"ok","time":"{}"}}
{{"host":"db1","tag":"*","kind":"maintenance","status":"info","until":"{}","maintenance_reason":"disk swap"}}
"#,
        from_now(-two_days),
        from_now(-two_days),
        from_now(3_600_000)
    );
    env.cmd("sd-bark").stdin(input).expect_code(0);
    let store = env.path("events.db");
    env.receive_into(&store);
    let board = env.cmd("sd-query").arg(&store).arg("status").expect_code(0);
    let rows = board.lines::<serde_json::Value>();
    assert_eq!(rows[0]["host"], "db1");
    assert_eq!(
        rows[0]["maintenance_reason"],
        "disk swap",
        "{}",
        board.stdout()
    );
    assert!(rows[1].get("maintenance").is_none(), "{}", board.stdout());
    let metrics = env
        .cmd("sd-query")
        .arg(&store)
        .args(["status", "--format", "openmetrics"])
        .expect_code(0)
        .stdout();
    assert!(
        metrics
            .contains("sheepdog_maintenance_until_timestamp_seconds{host=\"db1\",tag=\"backup\"}"),
        "{metrics}"
    );
    assert!(!metrics.contains("sheepdog_maintenance_until_timestamp_seconds{host=\"web1\""));
    let page = env
        .cmd("sd-query")
        .arg(&store)
        .args(["status", "--format", "html"])
        .expect_code(0)
        .stdout();
    assert!(page.contains("in maintenance for") && page.contains("disk swap"));
    // The dead man's switch holds db1's verdict, not web1's.
    let expect = env
        .cmd("sd-expect")
        .args(["--tag", "backup", "--within", "26h"])
        .arg(&store)
        .expect_code(1);
    let verdicts = expect.lines::<serde_json::Value>();
    let of = |host: &str| verdicts.iter().find(|v| v["host"] == host).unwrap();
    assert_eq!(of("db1")["status"], "info", "{}", expect.stdout());
    assert_eq!(of("db1")["reason"], "maintenance");
    assert_eq!(of("web1")["status"], "fail");
    // Rules see it: suppression by maintenance.
    let rules = env.path("rules.dl");
    std::fs::write(&rules, "quiet(H, U) :- maintenance(H, \"*\", U).\n").unwrap();
    let asked = env
        .cmd("sd-query")
        .arg(&store)
        .args(["ask", "--rules"])
        .arg(&rules)
        .arg("quiet(H, U)")
        .expect_code(0);
    let answers = asked.lines::<serde_json::Value>();
    assert_eq!(answers.len(), 1, "{}", asked.stdout());
    assert_eq!(answers[0]["H"], "db1");
    // A recurring window over web* (every minute, for a month: in force
    // now) covers web1 too, for the board, the switch and the rules.
    let config = env.write_config(
        "[[maintenance]]\nhosts = \"web*\"\ncron = \"* * * * *\"\nfor = \"30d\"\nreason = \"migration\"\n",
    );
    let board = env
        .cmd("sd-query")
        .args(["--config"])
        .arg(&config)
        .arg(&store)
        .arg("status")
        .expect_code(0);
    let rows = board.lines::<serde_json::Value>();
    assert_eq!(
        rows[1]["maintenance_reason"],
        "migration",
        "{}",
        board.stdout()
    );
    env.cmd("sd-expect")
        .args(["--config"])
        .arg(&config)
        .args(["--tag", "backup", "--within", "26h"])
        .arg(&store)
        .expect_code(0);
    let asked = env
        .cmd("sd-query")
        .args(["--config"])
        .arg(&config)
        .arg(&store)
        .args(["ask", "--rules"])
        .arg(&rules)
        .arg("quiet(H, U)")
        .expect_code(0);
    let hosts: Vec<String> = asked
        .lines::<serde_json::Value>()
        .iter()
        .map(|a| a["H"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(hosts, ["db1", "web1"], "{}", asked.stdout());
}

#[test]
fn what_failed_and_recovered_inside_a_window_is_one_line_of_the_digest() {
    let env = TestEnv::new();
    let smtp = SmtpServer::start(env.path("smtp"));
    let line = |id: &str, offset_ms: i64, status: &str| {
        format!(
            r#"{{"v":1,"id":"{id}","time":"{}","host":"tux01","tag":"web","kind":"run","status":"{status}","code":{}}}"#,
            from_now(offset_ms),
            if status == "ok" { 0 } else { 2 }
        ) + "\n"
    };
    let input = line("a", -3000, "ok")
        + &window("m", -2000, 2000)
        + &line("b", -1500, "fail")
        + &line("c", -1000, "ok")
        + &line("d", -900, "fail")
        + &line("e", -800, "ok");
    let (arrived, output) =
        mail_while_open(mail(&env, &smtp).args(["--digest", "4s"]), &input, &smtp);
    assert!(arrived, "{}", String::from_utf8_lossy(&output.stderr));
    let mails = smtp.received();
    assert_eq!(
        mails.len(),
        1,
        "the digest, and no problem or recovery mail"
    );
    let body = &mails[0].body;
    assert!(
        mails[0].header("Subject").contains("digest"),
        "{}",
        mails[0].header("Subject")
    );
    assert!(body.contains("fail -> ok (maintenance)"), "{body}");
    let changes = body
        .lines()
        .filter(|l| l.contains("tux01") && l.contains("->"))
        .count();
    assert_eq!(changes, 2, "new -> ok, then the window's one line: {body}");
}

#[test]
fn sd_run_and_sd_bark_declare_and_end_windows() {
    let env = TestEnv::new();
    let run = env
        .cmd("sd-run")
        .args([
            "--maintenance",
            "1h",
            "--reason",
            "upgrade",
            "-t",
            "apt",
            "--",
            "true",
        ])
        .expect_code(0);
    let events = run.lines::<serde_json::Value>();
    assert_eq!(events.len(), 2, "{}", run.stdout());
    assert_eq!(events[0]["kind"], "maintenance");
    assert_eq!(events[0]["tag"], "*");
    assert_eq!(events[0]["maintenance_reason"], "upgrade");
    let time = sheepdog::base::time::parse_rfc3339_ms(events[0]["time"].as_str().unwrap()).unwrap();
    let until =
        sheepdog::base::time::parse_rfc3339_ms(events[0]["until"].as_str().unwrap()).unwrap();
    assert_eq!(until - time, 3_600_000);
    assert_eq!(events[1]["tag"], "apt");
    assert_eq!(events[1]["status"], "ok");
    // Declared, then ended early: the store's window ends at the second.
    env.cmd("sd-bark")
        .args(["--maintenance", "30m", "--tag", "nginx", "--reason", "cert"])
        .expect_code(0);
    std::thread::sleep(std::time::Duration::from_millis(20));
    env.cmd("sd-bark")
        .args(["--maintenance", "off", "--tag", "nginx"])
        .expect_code(0);
    let bad = env
        .cmd("sd-bark")
        .args(["--maintenance", "0s"])
        .expect_code(2);
    assert!(
        bad.stderr().contains("between 1s and 31 days"),
        "{}",
        bad.report()
    );
    let store = env.path("events.db");
    env.receive_into(&store);
    let board = env
        .cmd("sd-query")
        .arg(&store)
        .args([
            "--sql",
            "SELECT tag, until_ms - from_ms AS length, reason FROM windows",
        ])
        .expect_code(0);
    let rows = board.lines::<serde_json::Value>();
    assert_eq!(rows.len(), 1, "{}", board.stdout());
    assert_eq!(rows[0]["tag"], "nginx");
    assert_eq!(rows[0]["length"], 0, "ended: {}", board.stdout());
}

#[test]
fn a_window_ended_early_tells_what_it_held_at_once() {
    let env = TestEnv::new();
    let smtp = SmtpServer::start(env.path("smtp"));
    let input = window("m1", -3000, 3_600_000) + &web_failed(-2000) + &window("m2", -1000, -1000);
    mail(&env, &smtp).stdin(input).expect_code(0);
    let mails = smtp.received();
    assert_eq!(mails.len(), 1, "the failure, once the window was ended");
    assert!(mails[0].header("Subject").contains("tux01"));
}

/// With --record (two servers), what a window's end tells is recorded as
/// decided, as every other notification is, so the other voice knows it.
#[test]
fn a_windows_end_is_recorded_for_the_other_voice() {
    let mut env = TestEnv::new();
    let redis = crate::util::redis::RedisServer::start(env.path("redis"));
    env.set("SD_BROKER", redis.url());
    let smtp = SmtpServer::start(env.path("smtp"));
    let input = window("m", -1000, 2000) + &web_failed(-500);
    let (told, output) = mail_while_open(
        mail(&env, &smtp).args(["--echo", "--record"]),
        &input,
        &smtp,
    );
    assert!(told, "{}", String::from_utf8_lossy(&output.stderr));
    let stream = redis
        .cli(&["XRANGE", "sheepdog:events", "-", "+"])
        .unwrap_or_default();
    assert!(
        stream.contains("\"kind\":\"decided\"") && stream.contains("\"about_host\":\"tux01\""),
        "{stream}"
    );
}
