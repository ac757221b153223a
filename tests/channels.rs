//! sd-mail's other channels against real receivers the tests start: an
//! HTTP server that records every request (the ntfy, Gotify, Matrix, Slack
//! and JSON shapes, field by field), a datagram socket for syslog, a
//! program; hostile event fields neutralised per channel; a channel that
//! is down delivers once when it is back, and the others do not repeat.

use crate::util::services::HttpServer;
use crate::util::{TestEnv, free_port};
use serde_json::Value;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};

/// A failing event whose fields try to inject headers, mentions and markup.
fn hostile(id: &str) -> String {
    format!(
        r#"{{"v":1,"id":"{id}","time":"{}","host":"tux01","tag":"web","kind":"run","status":"fail","code":2,"msg":"@room @channel <!here> *bold* ```x``` [a](http://evil)\r\nX-Injected: 1"}}"#,
        sheepdog::base::time::format_ms(sheepdog::base::time::now_ms() - 60_000)
    ) + "\n"
}

fn requests(log: &Path) -> Vec<Value> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A program that appends what it is given to `out`.
fn program(env: &TestEnv, out: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = env.path("notify-program");
    std::fs::write(&path, format!("#!/bin/sh\ncat >> {}\n", out.display())).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// sd-mail with the channels of `config`, no group wait, `retries`
/// retries and its state in the test's `state` file.
fn mail_through(env: &TestEnv, config: &Path, retries: &str, state: &str) -> crate::util::Cmd {
    env.cmd("sd-mail")
        .arg("--config")
        .arg(config)
        .args(["--group-wait", "0s", "--retries", retries, "--state"])
        .arg(env.path(state))
}

fn secret(env: &TestEnv, name: &str, value: &str) -> PathBuf {
    let path = env.path(name);
    std::fs::write(&path, value).unwrap();
    path
}

#[test]
fn every_channel_hears_once_in_its_own_shape_with_nothing_injected() {
    let env = TestEnv::new();
    let log = env.path("http.log");
    let http = HttpServer::start("127.0.0.1", &["--log", log.to_str().unwrap()]);
    let base = format!("http://127.0.0.1:{}", http.port);
    let told = env.path("program.out");
    let socket_path = env.path("log.sock");
    let syslog = UnixDatagram::bind(&socket_path).unwrap();
    syslog
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let config = env.write_config(&format!(
        r#"
[[notify]]
type = "ntfy"
url = "{base}/alerts"
token_file = "{ntfy}"
tags = ["sheepdog"]

[[notify]]
type = "gotify"
url = "{base}/gotify"
token_file = "{gotify}"

[[notify]]
type = "matrix"
url = "{base}/mx"
room = "!r:example.org"
token_file = "{matrix}"

[[notify]]
type = "slack"
url = "{base}/slack"

[[notify]]
type = "json"
url = "{base}/json"

[[notify]]
type = "program"
program = ["{program}"]

[[notify]]
type = "syslog"
socket = "{socket}"
facility = "daemon"
"#,
        ntfy = secret(&env, "ntfy.token", "ntfy-token\n").display(),
        gotify = secret(&env, "gotify.token", "gotify-token").display(),
        matrix = secret(&env, "matrix.token", "mx-token").display(),
        program = program(&env, &told).display(),
        socket = socket_path.display(),
    ));
    // A thousand failures of one job: one notification per channel.
    let input: String = (0..1000).map(|i| hostile(&format!("f{i:04}"))).collect();
    let run = mail_through(&env, &config, "0", "mail.db")
        .stdin(input)
        .expect_code(0);
    let got = requests(&log);
    assert_eq!(got.len(), 5, "{}\n{got:#?}", run.report());
    let by = |path: &str| -> &Value {
        got.iter()
            .find(|r| r["path"].as_str().unwrap().starts_with(path))
            .unwrap_or_else(|| panic!("no request to {path}: {got:#?}"))
    };
    let body = |r: &Value| -> Value { serde_json::from_str(r["body"].as_str().unwrap()).unwrap() };
    for r in &got {
        assert!(r["headers"].get("x-injected").is_none(), "{r}");
        assert_eq!(r["headers"]["content-type"], "application/json");
    }

    // ntfy: JSON publishing to the server, the topic in the body.
    let ntfy = by("/");
    let n = body(ntfy);
    assert_eq!(
        (ntfy["method"].as_str(), ntfy["path"].as_str()),
        (Some("POST"), Some("/"))
    );
    assert_eq!(ntfy["headers"]["authorization"], "Bearer ntfy-token");
    assert_eq!(n["topic"], "alerts");
    assert_eq!(n["title"], "[sheepdog] FAIL web on tux01 (exit 2)");
    assert_eq!(n["priority"], 4);
    assert_eq!(n["tags"], serde_json::json!(["sheepdog", "warning"]));
    assert!(
        n["message"].as_str().unwrap().contains("Exit:     2"),
        "{n}"
    );

    // Gotify: its key header, plain text.
    let gotify = by("/gotify");
    let g = body(gotify);
    assert_eq!(gotify["path"], "/gotify/message");
    assert_eq!(gotify["headers"]["x-gotify-key"], "gotify-token");
    assert!(gotify["headers"].get("authorization").is_none());
    assert_eq!(g["title"], n["title"]);
    assert_eq!(g["priority"], 8);
    assert_eq!(g["extras"]["client::display"]["contentType"], "text/plain");

    // Matrix: a notice, PUT with a transaction id, @room defused.
    let matrix = by("/mx");
    let m = body(matrix);
    assert_eq!(matrix["method"], "PUT");
    assert!(matrix["path"].as_str().unwrap().starts_with(
        "/mx/_matrix/client/v3/rooms/%21r%3Aexample.org/send/m.room.message/sheepdog."
    ));
    assert_eq!(matrix["headers"]["authorization"], "Bearer mx-token");
    assert_eq!(m["msgtype"], "m.notice");
    let text = m["body"].as_str().unwrap();
    assert!(
        !text.contains("@room") && !text.contains("@channel"),
        "{text}"
    );
    assert!(
        text.contains("@\u{2060}room"),
        "shown, not notifying: {text}"
    );

    // Slack-compatible: escaped, no mention, all in a code block.
    let slack = body(by("/slack"));
    let text = slack["text"].as_str().unwrap();
    assert!(
        !text.contains("<!here>") && text.contains("&lt;!here&gt;"),
        "{text}"
    );
    assert!(
        !text.contains("@channel") && !text.contains("@room"),
        "{text}"
    );
    assert_eq!(
        text.matches("```").count(),
        2,
        "one block, not broken out of: {text}"
    );

    // Plain JSON: the data, the event as it came.
    let json = body(by("/json"));
    assert_eq!(json["notifications"][0]["host"], "tux01");
    assert_eq!(json["notifications"][0]["notice"], "problem");
    assert!(
        json["notifications"][0]["event"]["msg"]
            .as_str()
            .unwrap()
            .starts_with("@room")
    );
    assert_eq!(json["subject"], n["title"]);

    // The program: the same JSON, once.
    let program_got = std::fs::read_to_string(&told).unwrap();
    assert_eq!(program_got.lines().count(), 1, "{program_got}");
    let p: Value = serde_json::from_str(program_got.trim()).unwrap();
    assert_eq!(p["notifications"], json["notifications"]);

    // syslog: one line, daemon.err.
    let mut buf = vec![0u8; 65536];
    let len = syslog.recv(&mut buf).unwrap();
    let line = String::from_utf8_lossy(&buf[..len]).to_string();
    assert!(line.starts_with("<27>"), "{line}");
    assert!(
        line.contains(" sheepdog[") && line.ends_with("[sheepdog] FAIL web on tux01 (exit 2)"),
        "{line}"
    );
    assert!(!line.contains('\n') && !line.contains('\r'));
    syslog.set_nonblocking(true).unwrap();
    assert!(syslog.recv(&mut buf).is_err(), "one datagram only");
}

#[test]
fn a_channel_down_delivers_once_when_back_and_the_others_do_not_repeat() {
    let env = TestEnv::new();
    let port = free_port();
    let log = env.path("http.log");
    let told = env.path("program.out");
    let config = env.write_config(&format!(
        "[[notify]]\ntype = \"json\"\nurl = \"http://127.0.0.1:{port}/hook\"\n\n\
         [[notify]]\ntype = \"program\"\nprogram = [\"{}\"]\n",
        program(&env, &told).display()
    ));
    let mail = |input: String| mail_through(&env, &config, "0", "mail.db").stdin(input);
    // The webhook is down: the program hears it, sd-mail keeps the rest
    // and says so (75: try again later).
    let run = mail(hostile("a1")).expect_code(75);
    assert!(
        run.stderr()
            .contains(&format!("json http://127.0.0.1:{port}/hook")),
        "{}",
        run.report()
    );
    assert!(run.stderr().contains("kept in"), "{}", run.report());
    assert_eq!(std::fs::read_to_string(&told).unwrap().lines().count(), 1);
    // Still down on the next run: nothing repeated to the program.
    mail(String::new()).expect_code(75);
    assert_eq!(std::fs::read_to_string(&told).unwrap().lines().count(), 1);
    // Back: the webhook gets it, once; the program nothing more.
    let _http = HttpServer::start_on("127.0.0.1", port, &["--log", log.to_str().unwrap()]);
    mail(String::new()).expect_code(0);
    assert_eq!(requests(&log).len(), 1);
    assert_eq!(std::fs::read_to_string(&told).unwrap().lines().count(), 1);
    mail(String::new()).expect_code(0);
    assert_eq!(requests(&log).len(), 1, "delivered once");
}

/// `--channel syslog` writes to /dev/log itself, as journald and rsyslog
/// read it: here a socket of the test's, bound at /dev/log in a private
/// mount namespace (as root; the socket is the same code path otherwise).
#[test]
fn syslog_goes_to_dev_log() {
    if !nix::unistd::geteuid().is_root() || !crate::util::have("unshare") {
        crate::util::skip(
            "syslog_goes_to_dev_log",
            "needs root and unshare for a private /dev",
        );
        return;
    }
    let env = TestEnv::new();
    let dev = env.path("dev");
    std::fs::create_dir_all(&dev).unwrap();
    let socket = UnixDatagram::bind(dev.join("log")).unwrap();
    socket
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let null = std::process::Command::new("mknod")
        .arg(dev.join("null"))
        .args(["c", "1", "3"])
        .status()
        .unwrap();
    assert!(null.success());
    let script = format!(
        "mount --bind {} /dev && exec {} --channel syslog --group-wait 0s --retries 0 --state {}",
        dev.display(),
        crate::util::bin("sd-mail"),
        env.path("mail.db").display()
    );
    // The failure, then its recovery a minute later.
    let recovery = format!(
        r#"{{"v":1,"id":"s2","time":"{}","host":"tux01","tag":"web","kind":"run","status":"ok"}}"#,
        sheepdog::base::time::format_ms(sheepdog::base::time::now_ms())
    ) + "\n";
    env.external("unshare", "unshare")
        .args(["--mount", "sh", "-c", &script])
        .stdin(hostile("s1") + &recovery)
        .expect_code(0);
    let mut buf = vec![0u8; 65536];
    let mut said = Vec::new();
    for _ in 0..2 {
        let len = socket.recv(&mut buf).unwrap();
        said.push(String::from_utf8_lossy(&buf[..len]).to_string());
    }
    // daemon.err (3·8+3) for the failure, daemon.notice (3·8+5) for the
    // recovery.
    assert!(
        said[0].starts_with("<27>") && said[0].contains("FAIL web on tux01"),
        "{said:?}"
    );
    assert!(
        said[1].starts_with("<29>") && said[1].contains("OK web on tux01"),
        "{said:?}"
    );
}

/// Routing as the seed's clients ask for it: a job names who should hear
/// of it (`sd-run --notify-to`), the event travels sd-bark → Redis →
/// sd-recv → sd-mail, and the server's [[route]] decides — honouring an
/// address only where allow_event_recipients allows it.
#[test]
fn routes_decide_who_hears_and_a_hostile_notify_to_is_refused() {
    use crate::util::redis::RedisServer;
    use crate::util::smtp::SmtpServer;
    let mut env = TestEnv::new();
    let redis = RedisServer::start(env.path("redis"));
    env.set("SD_BROKER", redis.url());
    let smtp = SmtpServer::start(env.path("smtp"));
    let config = env.write_config(
        r#"
[mail]
to = ["admin@example.org"]

[[route]]
tag = "deploy"
to = ["ops@example.org"]
allow_event_recipients = ["*@example.org"]
"#,
    );
    for (tag, notify) in [
        (
            "deploy",
            vec![
                "--notify-to",
                "dev@example.org",
                "--notify-to",
                "boss@evil.example",
            ],
        ),
        ("borg", vec!["--notify-to", "dev@example.org"]),
    ] {
        let run = env
            .cmd("sd-run")
            .args(["--tag", tag])
            .args(notify)
            .args(["--", "false"])
            .run();
        assert_eq!(run.code(), Some(1));
        env.cmd("sd-bark").stdin(run.stdout()).expect_code(0);
    }
    // A client whose configuration names who hears of its events.
    let client = env.path("client.toml");
    std::fs::write(&client, "[bark]\nnotify_to = [\"dev@example.org\"]\n").unwrap();
    let composed = r#"{"host":"tux09","tag":"deploy","kind":"run","status":"fail","code":1}"#;
    env.cmd("sd-bark")
        .arg("--config")
        .arg(&client)
        .stdin(format!("{composed}\n"))
        .expect_code(0);
    let received = env
        .cmd("sd-recv")
        .args([
            "--group",
            "mail",
            "--once",
            "--",
            crate::util::bin("sd-mail"),
            "--echo",
        ])
        .args([
            "--smtp",
            &smtp.url(),
            "--group-wait",
            "0s",
            "--retries",
            "0",
            "--config",
        ])
        .arg(&config)
        .expect_code(0);
    let mails: Vec<(String, Vec<String>)> = smtp
        .received()
        .iter()
        .map(|m| (m.header("Subject").to_string(), m.rcpt_tos.clone()))
        .collect();
    assert_eq!(mails.len(), 3, "{}", received.report());
    let to = |subject: &str| -> Vec<String> {
        mails
            .iter()
            .find(|m| m.0.contains(subject))
            .unwrap_or_else(|| panic!("no mail {subject}: {mails:?}"))
            .1
            .clone()
    };
    let host = sheepdog::base::ident::short_hostname();
    // The default route: [mail] to, and no address from the event (the
    // default allows none).
    assert_eq!(to("FAIL borg"), ["admin@example.org"]);
    // The deploy route: its own recipient and the allowed one (not the
    // hostile one); for the client's deploy, the one its configuration
    // names.
    assert_eq!(
        to(&format!("FAIL deploy on {host}")),
        ["dev@example.org", "ops@example.org"]
    );
    assert_eq!(
        to("FAIL deploy on tux09"),
        ["dev@example.org", "ops@example.org"]
    );
    assert!(
        received.stderr().contains("boss@evil.example"),
        "{}",
        received.report()
    );
}

/// A channel that refuses a notification for good (HTTP 404) is not asked
/// again and again: the refusal is an `error` event for `| sd-bark`, and
/// the other channels are told as usual.
#[test]
fn a_refused_notification_is_an_error_event_not_a_silence() {
    let env = TestEnv::new();
    let log = env.path("http.log");
    let http = HttpServer::start(
        "127.0.0.1",
        &["--status", "404", "--log", log.to_str().unwrap()],
    );
    let told = env.path("program.out");
    let config = env.write_config(&format!(
        "[[notify]]\ntype = \"json\"\nname = \"gone\"\nurl = \"http://127.0.0.1:{}/gone\"\n\n\
         [[notify]]\ntype = \"program\"\nprogram = [\"{}\"]\n",
        http.port,
        program(&env, &told).display()
    ));
    let mail = |input: String| {
        mail_through(&env, &config, "3", "mail.db")
            .stdin(input)
            .expect_code(0)
    };
    let run = mail(hostile("r1"));
    let events: Vec<Value> = run.lines();
    assert_eq!(events.len(), 1, "{}", run.report());
    let e = &events[0];
    assert_eq!(
        (&e["status"], &e["reason"], &e["channel"]),
        (&"error".into(), &"undeliverable".into(), &"gone".into())
    );
    assert!(e["msg"].as_str().unwrap().contains("HTTP 404"), "{e}");
    assert!(e["id"].is_string() && e["time"].is_string(), "stamped: {e}");
    assert_eq!(requests(&log).len(), 1, "a 404 is not retried");
    assert_eq!(std::fs::read_to_string(&told).unwrap().lines().count(), 1);
    mail(String::new());
    assert_eq!(requests(&log).len(), 1, "nor asked again on the next run");
}

/// The same under sd-recv (--echo: stdout is the acknowledgement): the
/// error event goes out through the spool and broker, as sd-bark would send
/// it, and reaches the store like any event.
#[test]
fn a_refusal_under_sd_recv_is_an_event_in_the_stream() {
    use crate::util::redis::RedisServer;
    let mut env = TestEnv::new();
    let redis = RedisServer::start(env.path("redis"));
    env.set("SD_BROKER", redis.url());
    let http = HttpServer::start("127.0.0.1", &["--status", "404"]);
    let config = env.write_config(&format!(
        "[[notify]]\ntype = \"json\"\nname = \"gone\"\nurl = \"http://127.0.0.1:{}/gone\"\n",
        http.port
    ));
    // Both groups of a server exist before anything is sent (what every
    // group acknowledged is trimmed from the stream).
    let db = env.path("events.db");
    env.receive_into(&db);
    let mail = || {
        env.cmd("sd-recv")
            .args(["--group", "mail", "--once", "--"])
            .arg(crate::util::bin("sd-mail"))
            .args(["--echo", "--group-wait", "0s", "--retries", "0", "--config"])
            .arg(&config)
            .expect_code(0)
    };
    mail();
    env.cmd("sd-bark").stdin(hostile("e1")).expect_code(0);
    let mailing = mail();
    assert!(
        mailing.stderr().contains("said as an error event"),
        "{}",
        mailing.report()
    );
    // Twice more: sd-mail surely hears its own error event, and then the
    // error event that one's refusal made.
    mail();
    mail();
    env.receive_into(&db);
    let stored: Vec<Value> = env
        .cmd("sd-query")
        .arg(&db)
        .args(["events", "--tag", "sd-mail"])
        .expect_code(0)
        .lines();
    // The refusal of e1's notification, and of the notification about
    // sd-mail's own error (a state change of its tag); the third is no
    // change, so no notification and no refusal: two, for ever.
    assert_eq!(stored.len(), 2, "{stored:?}");
    for refusal in &stored {
        assert_eq!(refusal["reason"], "undeliverable");
        assert_eq!(refusal["channel"], "gone");
    }
    assert_ne!(stored[0]["id"], stored[1]["id"]);
}

#[test]
fn a_redirect_carries_no_secret_and_is_not_a_delivery() {
    let env = TestEnv::new();
    let (log, elsewhere_log) = (env.path("http.log"), env.path("elsewhere.log"));
    let elsewhere = HttpServer::start("127.0.0.1", &["--log", elsewhere_log.to_str().unwrap()]);
    let moved = format!("http://127.0.0.1:{}/stolen", elsewhere.port);
    for status in ["301", "302", "307"] {
        let http = HttpServer::start(
            "127.0.0.1",
            &[
                "--status",
                status,
                "--location",
                &moved,
                "--log",
                log.to_str().unwrap(),
            ],
        );
        let config = env.write_config(&format!(
            "[[notify]]\ntype = \"gotify\"\nurl = \"http://127.0.0.1:{}/gotify\"\ntoken_file = \"{}\"\n",
            http.port,
            secret(&env, "gotify.token", "gotify-token").display()
        ));
        let run = mail_through(&env, &config, "2", &format!("mail-{status}.db"))
            .stdin(hostile(&format!("redirect-{status}")))
            .expect_code(0);
        let events: Vec<Value> = run.lines();
        assert_eq!(events.len(), 1, "{}", run.report());
        assert_eq!(events[0]["reason"], "undeliverable");
        let msg = events[0]["msg"].as_str().unwrap();
        assert!(
            msg.contains(&format!("HTTP {status}")) && msg.contains("redirects are not followed"),
            "{msg}"
        );
    }
    assert_eq!(requests(&log).len(), 3, "asked once each, not retried");
    assert!(
        requests(&elsewhere_log).is_empty(),
        "the token went elsewhere: {:?}",
        requests(&elsewhere_log)
    );
}

#[test]
fn a_program_that_reads_nothing_is_stopped_at_the_timeout_whatever_the_size() {
    use std::os::unix::fs::PermissionsExt;
    let env = TestEnv::new();
    let program = env.path("sleeper");
    std::fs::write(&program, "#!/bin/sh\nexec sleep 30\n").unwrap();
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = env.write_config(&format!(
        "[[notify]]\ntype = \"program\"\nprogram = [\"{}\"]\n",
        program.display()
    ));
    // A notification of about 200 KiB: more than a pipe holds.
    let big = "x".repeat(200 * 1024);
    let line = format!(
        r#"{{"v":1,"id":"big1","time":"{}","host":"tux01","tag":"web","kind":"run","status":"fail","stderr":"{big}"}}"#,
        sheepdog::base::time::format_ms(sheepdog::base::time::now_ms() - 60_000)
    ) + "\n";
    // Before, sd-mail waited in the write until the program ended (30 s
    // here) and then counted its exit 0 as a delivery.
    let run = mail_through(&env, &config, "0", "mail.db")
        .args(["--timeout", "1s"])
        .stdin(line)
        .run();
    assert!(
        run.stderr().contains("took longer than"),
        "{}",
        run.report()
    );
}

#[test]
fn a_busy_or_slow_answer_is_tried_again_and_a_refusal_is_not() {
    let env = TestEnv::new();
    for (status, asked) in [("429", 3), ("408", 3), ("503", 3), ("404", 1)] {
        let log = env.path(&format!("http-{status}.log"));
        let http = HttpServer::start(
            "127.0.0.1",
            &["--status", status, "--log", log.to_str().unwrap()],
        );
        let config = env.write_config(&format!(
            "[[notify]]\ntype = \"json\"\nname = \"hook\"\nurl = \"http://127.0.0.1:{}/hook\"\n",
            http.port
        ));
        let run = mail_through(&env, &config, "2", &format!("mail-{status}.db"))
            .stdin(hostile(&format!("busy-{status}")))
            .run();
        assert_eq!(
            requests(&log).len(),
            asked,
            "HTTP {status}: {}",
            run.report()
        );
    }
}
