//! sd-mail against a real SMTP server (aiosmtpd, tests/util/smtp.rs):
//! what is mailed, how often, and that nothing is lost or injected. The
//! messages are read back as Python's email package parsed them.

use crate::util::redis::RedisServer;
use crate::util::smtp::{Received, SmtpServer};
use crate::util::{TestEnv, tls, wait_until};
use std::io::Write;

/// An event `minutes_ago` minutes old.
fn ev(id: &str, minutes_ago: i64, host: &str, tag: &str, status: &str) -> String {
    let time = sheepdog::base::time::now_ms() - minutes_ago * 60_000;
    let code = if status == "ok" { 0 } else { 2 };
    format!(
        r#"{{"v":1,"id":"{id}","time":"{}","host":"{host}","tag":"{tag}","kind":"run","status":"{status}","code":{code},"cmd":["borg","create","::{{now}}"],"stderr":"Repository is locked\nfailed"}}"#,
        sheepdog::base::time::format_ms(time)
    ) + "\n"
}

/// A sendmail that keeps what it is given (its arguments, then the mail):
/// the program and the file it writes.
fn sendmail_stand_in(env: &TestEnv) -> (std::path::PathBuf, std::path::PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let kept = env.path("sendmail.out");
    let sendmail = env.path("sendmail");
    std::fs::write(
        &sendmail,
        format!(
            "#!/bin/sh\necho \"args: $*\" >> {0}\ncat >> {0}\n",
            kept.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&sendmail, std::fs::Permissions::from_mode(0o755)).unwrap();
    (sendmail, kept)
}

/// sd-mail handing each mail at once to `sendmail`.
fn through_sendmail(env: &TestEnv, sendmail: &std::path::Path) -> crate::util::Cmd {
    env.cmd("sd-mail")
        .args([
            "--to",
            "admin@example.org",
            "--group-wait",
            "0s",
            "--sendmail",
        ])
        .arg(sendmail)
}

/// sd-mail to the test server, no retries.
fn mail(env: &TestEnv, smtp: &SmtpServer) -> crate::util::Cmd {
    env.cmd("sd-mail").args([
        "--to",
        "admin@example.org",
        "--from",
        "sheepdog@herd.example.org",
        "--smtp",
        &smtp.url(),
        "--retries",
        "0",
    ])
}

/// The same, one mail per notification.
fn mail_each(env: &TestEnv, smtp: &SmtpServer) -> crate::util::Cmd {
    mail(env, smtp).args(["--group-wait", "0s"])
}

/// Writes `input` to a running sd-mail and, with its input still open,
/// waits for the mail server to receive something (a timer of sd-mail's
/// must have fired); then ends the input. The mails and sd-mail's output.
fn mails_while_input_is_open(
    mut child: std::process::Child,
    input: &str,
    smtp: &SmtpServer,
) -> (Vec<Received>, std::process::Output) {
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).unwrap();
    stdin.flush().unwrap();
    let arrived = wait_until(30, || !smtp.received().is_empty());
    drop(stdin);
    let output = child.wait_with_output().unwrap();
    assert!(arrived, "{}", String::from_utf8_lossy(&output.stderr));
    (smtp.received(), output)
}

fn subjects(mails: &[Received]) -> Vec<String> {
    mails
        .iter()
        .map(|m| m.header("Subject").to_string())
        .collect()
}

#[test]
fn a_thousand_identical_failures_are_one_mail_checked_field_by_field() {
    let env = TestEnv::new();
    let smtp = SmtpServer::start(env.path("smtp"));
    let input: String = (0..1000)
        .map(|i| ev(&format!("f{i:04}"), 60 - i / 20, "tux01", "borg", "fail"))
        .collect();
    let run = mail_each(&env, &smtp)
        .arg("--echo")
        .stdin(input)
        .expect_code(0);
    assert_eq!(run.stdout().lines().count(), 1000, "every event echoed");
    let mails = smtp.received();
    assert_eq!(mails.len(), 1, "{:#?}", subjects(&mails));
    let m = &mails[0];
    assert_eq!(m.mail_from, "sheepdog@herd.example.org");
    assert_eq!(m.rcpt_tos, ["admin@example.org"]);
    assert_eq!(m.header("From"), "sheepdog@herd.example.org");
    assert_eq!(m.header("To"), "admin@example.org");
    assert_eq!(
        m.header("Subject"),
        "[sheepdog] FAIL borg on tux01 (exit 2)"
    );
    assert!(m.header("Message-ID").starts_with('<') && m.header("Message-ID").contains('@'));
    assert!(
        chrono::DateTime::parse_from_rfc2822(m.header("Date")).is_ok(),
        "{}",
        m.header("Date")
    );
    assert!(m.header("Content-Type").starts_with("text/plain"));
    assert!(m.defects.is_empty(), "{:?}", m.defects);
    for part in [
        "What:     borg (run)",
        "Where:    tux01",
        "Command:  borg create ::{now}",
        "Exit:     2",
        "Repository is locked",
        "sd-mail silence --host tux01 --tag borg",
        "sd-query events --host tux01 --tag borg",
    ] {
        assert!(m.body.contains(part), "{part:?} not in:\n{}", m.body);
    }

    // The same events again: their ids were handled, nothing is mailed.
    let again: String = (0..1000)
        .map(|i| ev(&format!("f{i:04}"), 60 - i / 20, "tux01", "borg", "fail"))
        .collect();
    mail_each(&env, &smtp).stdin(again).expect_code(0);
    assert_eq!(smtp.received().len(), 1);
}

#[test]
fn fail_ok_fail_is_three_mails_and_reminders_come_every_repeat() {
    let env = TestEnv::new();
    let smtp = SmtpServer::start(env.path("smtp"));
    let input = ev("a", 30, "tux01", "web", "fail")
        + &ev("b", 20, "tux01", "web", "ok")
        + &ev("c", 10, "tux01", "web", "fail");
    mail_each(&env, &smtp).stdin(input).expect_code(0);
    assert_eq!(
        subjects(&smtp.received()),
        [
            "[sheepdog] FAIL web on tux01 (exit 2)",
            "[sheepdog] OK web on tux01 (recovered from FAIL after 10m)",
            "[sheepdog] FAIL web on tux01 (exit 2)",
        ]
    );

    // Ten hours of hourly failures with --repeat 3h: the first, then
    // reminders at +3h, +6h, +9h — counted in event time, so exactly 4.
    let env = TestEnv::new();
    let smtp = SmtpServer::start(env.path("smtp"));
    let input: String = (0..10)
        .map(|h| ev(&format!("r{h}"), 600 - h * 60, "tux02", "backup", "fail"))
        .collect();
    mail_each(&env, &smtp)
        .args(["--repeat", "3h"])
        .stdin(input)
        .expect_code(0);
    let got = subjects(&smtp.received());
    assert_eq!(got.len(), 4, "{got:#?}");
    assert_eq!(got[0], "[sheepdog] FAIL backup on tux02 (exit 2)");
    assert!(
        got[1..]
            .iter()
            .all(|s| s.starts_with("[sheepdog] still FAIL backup on tux02 (since "))
    );
}

#[test]
fn a_burst_is_one_mail_sent_while_input_is_idle() {
    let env = TestEnv::new();
    let smtp = SmtpServer::start(env.path("smtp"));
    let child = mail(&env, &smtp)
        .args(["--group-wait", "1s", "--echo"])
        .spawn();
    let burst: String = (0..20)
        .map(|i| ev(&format!("b{i}"), 1, "tux03", &format!("svc{i:02}"), "fail"))
        .collect();
    // Input stays open: the group wait's timer sends the mail.
    let (mails, output) = mails_while_input_is_open(child, &burst, &smtp);
    assert_eq!(mails.len(), 1);
    assert!(
        mails[0]
            .header("Subject")
            .starts_with("[sheepdog] 20 changes: FAIL svc00 on tux03")
    );
    for i in 0..20 {
        assert!(
            mails[0].body.contains(&format!("FAIL svc{i:02} on tux03")),
            "svc{i:02}"
        );
    }
    assert_eq!(String::from_utf8_lossy(&output.stdout).lines().count(), 20);
}

#[test]
fn silenced_old_and_info_events_send_nothing() {
    let env = TestEnv::new();
    let smtp = SmtpServer::start(env.path("smtp"));
    env.cmd("sd-mail")
        .args([
            "silence",
            "--host",
            "tux01",
            "--tag",
            "borg",
            "--for",
            "1h",
            "--reason",
            "disk swap",
        ])
        .expect_code(0);
    let listed = env.cmd("sd-mail").arg("silences").expect_code(0);
    assert!(
        listed.stdout().starts_with("tux01 borg until "),
        "{}",
        listed.stdout()
    );
    assert!(listed.stdout().contains("disk swap"));
    let input = ev("s1", 5, "tux01", "borg", "fail")
        + &ev("o1", 60 * 30, "tux09", "old", "fail")
        + &ev("i1", 5, "tux01", "cron", "info");
    mail_each(&env, &smtp).stdin(input).expect_code(0);
    assert!(
        smtp.received().is_empty(),
        "{:#?}",
        subjects(&smtp.received())
    );

    // The silence ends: the problem, still there, is news.
    env.cmd("sd-mail")
        .args(["unsilence", "--host", "tux01", "--tag", "borg"])
        .expect_code(0);
    mail_each(&env, &smtp)
        .stdin(ev("s2", 1, "tux01", "borg", "fail"))
        .expect_code(0);
    assert_eq!(
        subjects(&smtp.received()),
        ["[sheepdog] FAIL borg on tux01 (exit 2)"]
    );
}

#[test]
fn cr_lf_in_a_tag_or_host_injects_no_header() {
    let env = TestEnv::new();
    let smtp = SmtpServer::start(env.path("smtp"));
    let line = format!(
        r#"{{"v":1,"id":"x1","time":"{}","host":"tux01\r\nBcc: victim@example.org","tag":"web\r\nX-Injected: yes\r\n\r\nbody","status":"fail"}}"#,
        sheepdog::base::time::format_ms(sheepdog::base::time::now_ms())
    ) + "\n";
    mail_each(&env, &smtp).stdin(line).expect_code(0);
    let mails = smtp.received();
    assert_eq!(mails.len(), 1);
    let m = &mails[0];
    assert!(m.all("X-Injected").is_empty(), "{:#?}", m.headers);
    assert!(m.all("Bcc").is_empty(), "{:#?}", m.headers);
    assert_eq!(m.rcpt_tos, ["admin@example.org"]);
    assert!(m.defects.is_empty(), "{:?}", m.defects);
    let subject = m.header("Subject");
    assert!(
        subject.contains("X-Injected: yes") && !subject.contains('\n'),
        "{subject}"
    );
}

#[test]
fn auth_over_starttls_needs_the_private_ca() {
    let env = TestEnv::new();
    let ca = tls::make(&env.path("ca"));
    let smtp = SmtpServer::start_tls_auth(env.path("smtp"), &ca, "sheepdog", "s3cret-pw");
    std::fs::write(env.path("smtp.pass"), "s3cret-pw\n").unwrap();
    env.write_config(&format!(
        "[mail]\nuser = \"sheepdog\"\npassword_file = \"{}\"\n",
        env.path("smtp.pass").display()
    ));
    let url = format!("smtp://127.0.0.1:{}", smtp.port);
    let send = |extra: &[&str], id: &str| {
        env.cmd("sd-mail")
            .args([
                "--to",
                "admin@example.org",
                "--smtp",
                &url,
                "--retries",
                "0",
                "--group-wait",
                "0s",
            ])
            .args(extra)
            .stdin(ev(id, 1, "tux01", id, "fail"))
            .run()
    };
    let refused = send(&[], "first");
    refused.assert_code(75);
    let err = refused.stderr();
    assert!(err.contains("--smtp-ca"), "{err}");
    assert!(!err.contains("s3cret-pw"), "{err}");
    assert!(smtp.received().is_empty());

    // With the CA, the kept mail goes first, then the new one.
    let ok = send(&["--smtp-ca", &ca.ca.display().to_string()], "second");
    assert_eq!(ok.code(), Some(0), "{}\n{}", ok.report(), smtp.log());
    assert_eq!(
        subjects(&smtp.received()),
        [
            "[sheepdog] FAIL first on tux01 (exit 2)",
            "[sheepdog] FAIL second on tux01 (exit 2)"
        ]
    );

    // A wrong password is refused with a clear message, and nothing lost.
    std::fs::write(env.path("smtp.pass"), "wrong\n").unwrap();
    let wrong = send(&["--smtp-ca", &ca.ca.display().to_string()], "third");
    wrong.assert_code(75);
    assert!(wrong.stderr().contains("535"), "{}", wrong.stderr());
}

#[test]
fn nothing_is_lost_while_the_mail_server_is_away() {
    let mut env = TestEnv::new();
    let redis = RedisServer::start(env.path("redis"));
    env.set("SD_BROKER", redis.url());
    let mut smtp = SmtpServer::start(env.path("smtp"));
    smtp.stop();
    let input: String = (0..5)
        .map(|i| ev(&format!("w{i}"), 1, &format!("tux{i}"), "web", "fail"))
        .collect();
    env.cmd("sd-bark").stdin(input).expect_code(0);
    // One delivery each: an outage must not use deliveries up.
    let (out, err) = (env.path("recv.out"), env.path("recv.err"));
    let receiver = env
        .cmd("sd-recv")
        .args([
            "--group",
            "mail",
            "--max-deliveries",
            "1",
            "--",
            crate::util::bin("sd-mail"),
            "--echo",
        ])
        .args(["--to", "admin@example.org", "--smtp", &smtp.url()])
        .args(["--group-wait", "0s", "--retries", "1"])
        .spawn_to(&out, &err);
    let stderr = || std::fs::read_to_string(&err).unwrap_or_default();
    // sd-mail has tried, failed and exited 75, and been started again.
    let outage = wait_until(60, || stderr().contains("starting it again"));
    assert!(outage, "{}", stderr());
    assert!(smtp.received().is_empty());
    smtp.restart();
    let all = wait_until(60, || smtp.received().len() >= 5);
    // Every entry is acknowledged, none went to the dead letters.
    let acked = wait_until(30, || {
        redis
            .cli(&["XPENDING", "sheepdog:events", "mail"])
            .is_some_and(|out| out.lines().next() == Some("0"))
    });
    crate::util::terminate(receiver);
    let stderr = stderr();
    assert!(all && acked, "{stderr}");
    assert_eq!(
        redis.cli(&["XLEN", "sheepdog:dead"]).unwrap().trim(),
        "0",
        "{stderr}"
    );
    let mut got = subjects(&smtp.received());
    got.sort();
    let want: Vec<String> = (0..5)
        .map(|i| format!("[sheepdog] FAIL web on tux{i} (exit 2)"))
        .collect();
    assert_eq!(got, want, "each once: {stderr}");
    assert!(
        stderr.contains("kept in"),
        "the outage was reported: {stderr}"
    );
}

#[test]
fn a_handler_away_for_a_while_uses_up_no_deliveries() {
    // A handler that exits 75 (its server is away) and 74 (its disk is
    // full) three times before it echoes: with --max-deliveries 1 nothing
    // goes to the dead letters.
    let mut env = TestEnv::new();
    let redis = RedisServer::start(env.path("redis"));
    env.set("SD_BROKER", redis.url());
    env.cmd("sd-bark")
        .args(["--tag", "t", "--status", "fail"])
        .expect_code(0);
    let tries = env.path("tries");
    let handler = format!(
        "echo x >> {0}; n=$(wc -l < {0}); if [ $n -le 3 ]; then read line; exit $((73 + n % 2 + 1)); fi; cat",
        tries.display()
    );
    let run = env
        .cmd("sd-recv")
        .args(["--group", "h", "--once", "--max-deliveries", "1"])
        .args(["--", "sh", "-c", &handler])
        .expect_code(0);
    assert_eq!(redis.cli(&["XLEN", "sheepdog:dead"]).unwrap().trim(), "0");
    assert_eq!(
        std::fs::read_to_string(&tries).unwrap().lines().count(),
        4,
        "{}",
        run.report()
    );
    // The same handler failing for good (exit 1) is dead-lettered.
    env.cmd("sd-bark")
        .args(["--tag", "t2", "--status", "fail"])
        .expect_code(0);
    env.cmd("sd-recv")
        .args(["--group", "h", "--once", "--max-deliveries", "1"])
        .args(["--", "sh", "-c", "read line; exit 1"])
        .expect_code(65);
    assert_eq!(redis.cli(&["XLEN", "sheepdog:dead"]).unwrap().trim(), "1");
}

#[test]
fn the_digest_sums_up_the_period() {
    let env = TestEnv::new();
    let smtp = SmtpServer::start(env.path("smtp"));
    let child = mail(&env, &smtp)
        .args(["--notify", "none", "--digest", "2s"])
        .spawn();
    let input = ev("d1", 3, "tux01", "web", "ok")
        + &ev("d2", 2, "tux01", "web", "fail")
        + &ev("d3", 1, "tux01", "web", "ok")
        + &ev("d4", 1, "tux02", "db", "ok");
    let (mails, _) = mails_while_input_is_open(child, &input, &smtp);
    assert_eq!(mails.len(), 1, "no immediate mail with --notify none");
    let m = &mails[0];
    assert!(
        m.header("Subject").contains("4 change(s), 1 failure(s)"),
        "{}",
        m.header("Subject")
    );
    assert!(m.body.contains("ok -> fail (exit 2)"), "{}", m.body);
    assert!(m.body.contains("fail=1 ok=2"), "{}", m.body);
}

#[test]
fn sendmail_and_dry_run_hand_over_the_same_mail() {
    let env = TestEnv::new();
    let (sendmail, kept) = sendmail_stand_in(&env);
    through_sendmail(&env, &sendmail)
        .stdin(ev("m1", 1, "tux01", "borg", "fail"))
        .expect_code(0);
    let mail = std::fs::read_to_string(&kept).unwrap();
    // sendmail(8) is given the envelope, never read from the headers
    // (-t): the recipients are arguments after `--`, one each.
    let args = mail.lines().next().unwrap();
    let host = sheepdog::base::ident::short_hostname();
    assert_eq!(
        args,
        format!("args: -i -f sheepdog@{host} -- admin@example.org"),
        "{mail}"
    );
    assert!(
        mail.contains("Subject: [sheepdog] FAIL borg on tux01 (exit 2)"),
        "{mail}"
    );

    let dry = env
        .cmd("sd-mail")
        .args(["--to", "admin@example.org", "--dry-run", "--state"])
        .arg(env.path("dry.db"))
        .stdin(ev("m1", 1, "tux01", "borg", "fail"))
        .expect_code(0);
    assert!(
        dry.stdout()
            .contains("Subject: [sheepdog] FAIL borg on tux01 (exit 2)"),
        "{}",
        dry.stdout()
    );
    assert!(
        dry.stdout().contains("To: admin@example.org"),
        "{}",
        dry.stdout()
    );
}

/// `--dry-run` shows the mail as a person reads it and changes nothing:
/// a real run after the preview still sends it.
#[test]
fn a_preview_changes_nothing_and_reads_as_text() {
    let env = TestEnv::new();
    let (sendmail, kept) = sendmail_stand_in(&env);
    let state = env.path("mail.db");
    let long = "the backup repository /srv/borg/tux01 is locked by another process that has not let go for a long time";
    let event = ev("p1", 1, "tux01", "borg", "fail")
        .replace("\"status\"", &format!("\"msg\":\"{long}\",\"status\""));
    for _ in 0..2 {
        let dry = env
            .cmd("sd-mail")
            .args([
                "--to",
                "admin@example.org",
                "--group-wait",
                "0s",
                "--dry-run",
                "--state",
            ])
            .arg(&state)
            .stdin(event.clone())
            .expect_code(0);
        let text = dry.stdout();
        assert!(
            text.contains("Subject: [sheepdog] FAIL borg on tux01"),
            "{text}"
        );
        assert!(text.contains(long), "not decoded: {text}");
        assert!(
            !text.contains("=\n") && !text.contains("quoted-printable"),
            "{text}"
        );
    }
    through_sendmail(&env, &sendmail)
        .arg("--state")
        .arg(&state)
        .stdin(event)
        .expect_code(0);
    let sent = std::fs::read_to_string(&kept).unwrap_or_default();
    assert!(
        sent.contains("Subject: [sheepdog] FAIL borg on tux01"),
        "the preview suppressed the mail: {sent:?}"
    );
}

#[test]
fn a_local_mail_server_without_starttls_is_reached_with_the_readmes_url() {
    // `--smtp smtp://127.0.0.1:PORT`, no `?tls=`: STARTTLS when offered,
    // plain SMTP otherwise, on a loopback address.
    let env = TestEnv::new();
    let smtp = SmtpServer::start(env.path("smtp"));
    let url = format!("smtp://127.0.0.1:{}", smtp.port);
    env.cmd("sd-mail")
        .args(["--to", "admin@example.org", "--group-wait", "0s"])
        .args(["--retries", "0", "--smtp", &url])
        .stdin(ev("l1", 1, "tux01", "borg", "fail"))
        .expect_code(0);
    assert_eq!(
        subjects(&smtp.received()),
        ["[sheepdog] FAIL borg on tux01 (exit 2)"]
    );
    // Asked for STARTTLS, the error names the way out.
    let run = env
        .cmd("sd-mail")
        .args(["--to", "admin@example.org", "--group-wait", "0s"])
        .args(["--retries", "0", "--smtp"])
        .arg(format!("{url}?tls=required"))
        .stdin(ev("l2", 1, "tux02", "borg", "fail"))
        .expect_code(75);
    assert!(
        run.stderr().contains("STARTTLS") && run.stderr().contains("?tls=opportunistic"),
        "{}",
        run.report()
    );
    assert_eq!(smtp.received().len(), 1);
}

#[test]
fn a_silence_ends_by_itself_after_its_time() {
    let env = TestEnv::new();
    let smtp = SmtpServer::start(env.path("smtp"));
    env.cmd("sd-mail")
        .args(["silence", "--host", "tux01", "--tag", "borg", "--for", "2s"])
        .expect_code(0);
    mail_each(&env, &smtp)
        .stdin(ev("f1", 1, "tux01", "borg", "fail"))
        .expect_code(0);
    assert!(smtp.received().is_empty(), "mailed while silenced");
    // Once its time is over (time is what is tested), the next failure
    // of the problem still there is news, and the silence is no longer
    // listed.
    assert!(wait_until(30, || env
        .cmd("sd-mail")
        .arg("silences")
        .expect_code(0)
        .stdout()
        .is_empty()));
    mail_each(&env, &smtp)
        .stdin(ev("f2", 0, "tux01", "borg", "fail"))
        .expect_code(0);
    assert_eq!(
        subjects(&smtp.received()),
        ["[sheepdog] FAIL borg on tux01 (exit 2)"]
    );
}

/// sd-mail's settings follow the one precedence rule: its flag, else the
/// configuration file, else the default — the sender and the recipients
/// (a list on the command line replaces the file's).
#[test]
fn mail_settings_are_flag_then_file_then_default() {
    let env = TestEnv::new();
    let preview = |extra: &[&str]| {
        env.cmd("sd-mail")
            .args(["--group-wait", "0s", "--dry-run"])
            .args(extra)
            .stdin(ev("m1", 1, "tux01", "borg", "fail"))
            .expect_code(0)
            .stdout()
    };
    let text = preview(&["--to", "flag@example.org"]);
    assert!(text.contains("From: sheepdog@"), "the default: {text}");
    assert!(text.contains("To: flag@example.org"), "{text}");
    env.write_config("[mail]\nfrom = \"file@example.org\"\nto = [\"file-to@example.org\"]\n");
    let text = preview(&[]);
    assert!(text.contains("From: file@example.org"), "the file: {text}");
    assert!(text.contains("To: file-to@example.org"), "{text}");
    let text = preview(&["--from", "flag@example.org", "--to", "flag-to@example.org"]);
    assert!(text.contains("From: flag@example.org"), "the flag: {text}");
    assert!(text.contains("To: flag-to@example.org"), "{text}");
    assert!(!text.contains("file-to@example.org"), "{text}");
}

/// A silence recorded while the broker is away is kept, and says so: its
/// record waits in the spool and sd-mail exits 69.
#[test]
fn a_silence_recorded_while_the_broker_is_away_waits_in_the_spool() {
    let mut env = TestEnv::new();
    env.set(
        "SD_BROKER",
        format!("redis://127.0.0.1:{}", crate::util::free_port()),
    );
    let run = env
        .cmd("sd-mail")
        .args([
            "silence", "--host", "tux05", "--for", "1h", "--record", "--state",
        ])
        .arg(env.path("mail.db"))
        .expect_code(69);
    assert!(run.stderr().contains("spool"), "{}", run.report());
    let listed = env
        .cmd("sd-mail")
        .args(["silences", "--state"])
        .arg(env.path("mail.db"))
        .expect_code(0);
    assert!(
        listed.stdout().starts_with("tux05 * until"),
        "{}",
        listed.report()
    );
    let waiting: i64 = rusqlite::Connection::open(env.path("state/spool.db"))
        .unwrap()
        .query_row(
            "SELECT count(*) FROM entries WHERE line LIKE '%silenced%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(waiting, 1);
}
