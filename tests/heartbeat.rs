//! sd-heartbeat against real services: an HTTP server, closed and open
//! ports, commands, runit restarting a frozen server, and — as root — the
//! proof that checks run unprivileged while restarts do not.

use crate::util::services::{HttpServer, Runit, http_server_command};
use crate::util::{TestEnv, free_port, have, wait_until};
use serde::Deserialize;
use std::path::Path;

#[derive(Debug, Deserialize)]
struct Beat {
    tag: String,
    kind: String,
    status: String,
    reason: String,
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    stdout: Option<String>,
    #[serde(default)]
    cmd: Option<Vec<String>>,
}

fn beats(run: &crate::util::Run) -> Vec<Beat> {
    run.stdout()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}\n{}", run.report())))
        .collect()
}

fn summary(beats: &[Beat]) -> Vec<(String, String, String)> {
    beats
        .iter()
        .map(|b| (b.kind.clone(), b.status.clone(), b.reason.clone()))
        .collect()
}

fn s(kind: &str, status: &str, reason: &str) -> (String, String, String) {
    (kind.into(), status.into(), reason.into())
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// sd-heartbeat as the test user (root tests name --user explicitly).
fn heartbeat(env: &TestEnv) -> crate::util::Cmd {
    let cmd = env.cmd("sd-heartbeat");
    if is_root() {
        cmd.args(["--user", "nobody"])
    } else {
        cmd
    }
}

#[test]
fn http_checks_say_what_the_server_answered() {
    let env = TestEnv::new();
    let up = HttpServer::start("127.0.0.1", &["--body", "all systems go"]);
    let down = HttpServer::start("127.0.0.1", &["--status", "503"]);
    let url = |port: u16| format!("http://127.0.0.1:{port}/health");
    let run = heartbeat(&env)
        .args(["--http", &url(up.port), "--tag", "web"])
        .expect_code(0);
    assert_eq!(summary(&beats(&run)), [s("heartbeat", "ok", "http-200")]);
    heartbeat(&env)
        .args(["--http", &url(up.port), "--body-match", "systems go"])
        .expect_code(0);
    let mismatch = heartbeat(&env)
        .args(["--http", &url(up.port), "--body-match", "all is lost"])
        .expect_code(1);
    assert_eq!(
        summary(&beats(&mismatch)),
        [s("heartbeat", "fail", "body-mismatch")]
    );
    let failing = heartbeat(&env)
        .args(["--http", &url(down.port)])
        .expect_code(1);
    assert_eq!(
        summary(&beats(&failing)),
        [s("heartbeat", "fail", "http-503")]
    );
    heartbeat(&env)
        .args(["--http", &url(down.port), "--expect", "200-399,503"])
        .expect_code(0);
    let refused = heartbeat(&env)
        .args(["--http", &url(free_port())])
        .expect_code(1);
    assert_eq!(
        summary(&beats(&refused)),
        [s("heartbeat", "fail", "refused")]
    );
    let bad = heartbeat(&env).args(["--http", "http://"]).expect_code(125);
    assert_eq!(beats(&bad)[0].status, "error");
}

#[test]
fn https_checks_trust_the_system_and_the_ca_given() {
    let env = TestEnv::new();
    let ca = crate::util::tls::make(&env.path("ca"));
    let cert = ca.cert.display().to_string();
    let key = ca.key.display().to_string();
    let server = HttpServer::start("127.0.0.1", &["--cert", &cert, "--key", &key]);
    let url = format!("https://127.0.0.1:{}/", server.port);
    let untrusted = heartbeat(&env).args(["--http", &url]).expect_code(1);
    assert_eq!(summary(&beats(&untrusted)), [s("heartbeat", "fail", "tls")]);
    let trusted = heartbeat(&env)
        .args(["--http", &url, "--ca", &ca.ca.display().to_string()])
        .expect_code(0);
    assert_eq!(
        summary(&beats(&trusted)),
        [s("heartbeat", "ok", "http-200")]
    );
}

#[test]
fn localhost_is_every_address_it_resolves_to() {
    // `localhost` must resolve to both loopbacks. Where /etc/hosts does
    // not say so, root gives the check a private one (a mount namespace),
    // leaving the machine's alone.
    let resolves_both = std::net::ToSocketAddrs::to_socket_addrs("localhost:1")
        .map(|a| {
            a.map(|a| a.is_ipv6())
                .collect::<std::collections::HashSet<_>>()
                .len()
                == 2
        })
        .unwrap_or(false);
    let env = TestEnv::new();
    let hosts = env.path("hosts");
    std::fs::write(&hosts, "127.0.0.1 localhost\n::1 localhost\n").unwrap();
    let private_hosts = !resolves_both;
    assert!(
        resolves_both || (is_root() && have("unshare")),
        "localhost resolves to one address here, and only root can give the test its own /etc/hosts"
    );
    for bind in ["::1", "127.0.0.1"] {
        let server = HttpServer::start(bind, &[]);
        let url = format!("http://localhost:{}/", server.port);
        let run = if private_hosts {
            let script = format!("mount --bind {} /etc/hosts && exec \"$@\"", hosts.display());
            env.external("unshare", "unshare")
                .args(["--mount", "sh", "-c", &script, "sh"])
                .arg(crate::util::bin("sd-heartbeat"))
                .args(["--user", "nobody", "--http", &url])
                .run()
        } else {
            heartbeat(&env).args(["--http", &url]).run()
        };
        assert_eq!(
            run.code(),
            Some(0),
            "a server on {bind} only: {}",
            run.report()
        );
        assert_eq!(summary(&beats(&run)), [s("heartbeat", "ok", "http-200")]);
    }
}

#[test]
fn tcp_and_exec_checks() {
    let env = TestEnv::new();
    let server = HttpServer::start("127.0.0.1", &[]);
    heartbeat(&env)
        .args(["--tcp", &format!("127.0.0.1:{}", server.port)])
        .expect_code(0);
    let closed = heartbeat(&env)
        .args(["--tcp", &format!("localhost:{}", free_port())])
        .expect_code(1);
    assert_eq!(
        summary(&beats(&closed)),
        [s("heartbeat", "fail", "refused")]
    );

    let ok = heartbeat(&env).args(["--exec", "true"]).expect_code(0);
    assert_eq!(beats(&ok)[0].tag, "true");
    let failed = heartbeat(&env)
        .args(["--exec", "sh -c 'echo broken >&2; exit 3'"])
        .expect_code(1);
    assert_eq!(summary(&beats(&failed)), [s("heartbeat", "fail", "exit-3")]);
    let slow = heartbeat(&env)
        .args(["--exec", "sleep 30", "--timeout", "300ms"])
        .expect_code(1);
    assert_eq!(summary(&beats(&slow)), [s("heartbeat", "fail", "timeout")]);
    let missing = heartbeat(&env)
        .args(["--exec", "/nonexistent/check"])
        .expect_code(125);
    assert_eq!(
        summary(&beats(&missing)),
        [s("heartbeat", "error", "not-found")]
    );
}

/// A stand-in for herd or systemctl (docs/ARCHITECTURE.md §9): records its argv and
/// answers as `$STANDIN_STATE` says.
fn stand_in(dir: &Path, name: &str) {
    let script = format!(
        "#!/bin/sh\necho \"{name} $*\" >> {log}\nstate=$(cat {state} 2>/dev/null || echo running)\n\
         case \"$1\" in\n\
           status) if [ \"$state\" = running ]; then echo \"Status of $2:\"; echo '  It is running since 10:00.'; else echo \"Status of $2:\"; echo '  It is stopped.'; fi ;;\n\
           is-active) [ \"$state\" = running ] ;;\n\
           restart) exit 0 ;;\n\
         esac\n",
        log = dir.join("calls").display(),
        state = dir.join("state").display()
    );
    let path = dir.join("bin").join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn calls(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("calls"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn shepherd_and_systemd_get_exactly_the_right_commands() {
    let mut env = TestEnv::new();
    let fake = env.path("fake");
    stand_in(&fake, "herd");
    stand_in(&fake, "systemctl");
    let path = format!(
        "{}:{}",
        fake.join("bin").display(),
        std::env::var("PATH").unwrap()
    );
    env.set("PATH", &path);
    let closed = format!("127.0.0.1:{}", free_port());

    let run = heartbeat(&env)
        .args(["--tcp", &closed, "--shepherd", "mympd"])
        .expect_code(1);
    assert_eq!(
        summary(&beats(&run)),
        [
            s("heartbeat", "fail", "refused"),
            s("restart", "info", "restarted")
        ]
    );
    assert_eq!(beats(&run)[0].tag, "mympd");
    assert_eq!(
        beats(&run)[1].cmd.as_deref(),
        Some(&["herd".to_string(), "restart".into(), "mympd".into()][..])
    );
    assert_eq!(calls(&fake), ["herd status mympd", "herd restart mympd"]);

    heartbeat(&env)
        .args(["--tcp", &closed, "--systemd", "nginx.service"])
        .expect_code(1);
    assert_eq!(
        calls(&fake)[2..],
        [
            "systemctl is-active --quiet nginx.service",
            "systemctl restart nginx.service"
        ]
    );

    // Stopped on purpose: not checked, not restarted, exit 0.
    std::fs::write(fake.join("state"), "stopped").unwrap();
    for flag in ["--shepherd", "--systemd"] {
        let skipped = heartbeat(&env)
            .args(["--tcp", &closed, flag, "mympd"])
            .expect_code(0);
        assert_eq!(
            summary(&beats(&skipped)),
            [s("heartbeat", "info", "skipped")]
        );
    }
    assert_eq!(
        calls(&fake)[4..],
        ["herd status mympd", "systemctl is-active --quiet mympd"]
    );
    let by_command = heartbeat(&env)
        .args([
            "--tcp",
            &closed,
            "--restart",
            "true",
            "--if-running",
            "false",
        ])
        .expect_code(0);
    assert_eq!(
        summary(&beats(&by_command)),
        [s("heartbeat", "info", "skipped")]
    );
}

#[test]
fn restarts_come_after_n_failures_never_after_errors_and_within_the_limit() {
    let env = TestEnv::new();
    let marker = env.path("restarts");
    let restart = format!("sh -c 'echo restarted >> {}'", marker.display());
    let closed = format!("127.0.0.1:{}", free_port());
    let restarts = || {
        std::fs::read_to_string(&marker)
            .unwrap_or_default()
            .lines()
            .count()
    };
    let once = |extra: &[&str]| {
        heartbeat(&env)
            .args(["--tcp", &closed, "--tag", "svc", "--restart", &restart])
            .args(extra)
            .expect_code(1)
    };
    // --after 2: counted across one-shot runs.
    assert_eq!(
        summary(&beats(&once(&["--after", "2"]))),
        [s("heartbeat", "fail", "refused")]
    );
    assert_eq!(restarts(), 0);
    let second = once(&["--after", "2"]);
    assert_eq!(
        summary(&beats(&second)),
        [
            s("heartbeat", "fail", "refused"),
            s("restart", "info", "restarted")
        ]
    );
    assert_eq!(restarts(), 1);
    // The restart reset the count.
    once(&["--after", "2"]);
    assert_eq!(restarts(), 1);

    // A service failing forever: exactly the allowed restarts in the window.
    let env2 = TestEnv::new();
    let marker2 = env2.path("restarts");
    let restart2 = format!("sh -c 'echo restarted >> {}'", marker2.display());
    let mut limited = 0;
    for _ in 0..6 {
        let run = heartbeat(&env2)
            .args(["--tcp", &closed, "--tag", "svc", "--restart", &restart2])
            .args(["--max-restarts", "2/1h"])
            .expect_code(1);
        limited += beats(&run)
            .iter()
            .filter(|b| b.reason == "restart-limit")
            .count();
    }
    let done = std::fs::read_to_string(&marker2)
        .unwrap_or_default()
        .lines()
        .count();
    assert_eq!((done, limited), (2, 4));

    // A restart that fails is an error event.
    let env4 = TestEnv::new();
    let failed = heartbeat(&env4)
        .args([
            "--tcp",
            &closed,
            "--tag",
            "svc",
            "--restart",
            "sh -c 'echo no such service >&2; exit 4'",
        ])
        .expect_code(1);
    assert_eq!(
        summary(&beats(&failed)),
        [
            s("heartbeat", "fail", "refused"),
            s("restart", "error", "restart-failed")
        ]
    );

    // error: the check is broken, not the service — never a restart.
    let env3 = TestEnv::new();
    let marker3 = env3.path("restarts");
    let restart3 = format!("sh -c 'echo restarted >> {}'", marker3.display());
    let run = heartbeat(&env3)
        .args(["--exec", "/nonexistent/check", "--restart", &restart3])
        .expect_code(125);
    assert_eq!(
        summary(&beats(&run)),
        [s("heartbeat", "error", "not-found")]
    );
    assert!(!marker3.exists());
}

#[test]
fn runit_restarts_a_frozen_server() {
    let env = TestEnv::new();
    let port = free_port();
    let server = http_server_command("127.0.0.1", port, &[]);
    let script = format!("#!/bin/sh\nexec {}\n", shell_words::join(&server));
    let runit = Runit::start(&env.path("runit"), &[("web", script)]);
    let addr = format!("127.0.0.1:{port}");
    assert!(
        wait_until(30, || crate::util::services::listening(&addr)),
        "runit started the server"
    );
    let first = runit.pid("web").expect("runsv knows the pid");

    // Frozen: the port still accepts, but nothing answers.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(first),
        nix::sys::signal::Signal::SIGSTOP,
    )
    .unwrap();
    let restart = format!("sv restart {}", runit.service("web").display());
    let check = || {
        heartbeat(&env)
            .args([
                "--http",
                &format!("http://{addr}/"),
                "--tag",
                "web",
                "--timeout",
                "1s",
            ])
            .args(["--restart", &restart, "--after", "2"])
            .run()
    };
    let one = check();
    assert_eq!(
        summary(&beats(&one)),
        [s("heartbeat", "fail", "timeout")],
        "{}",
        one.report()
    );
    let two = check();
    assert_eq!(
        summary(&beats(&two)),
        [
            s("heartbeat", "fail", "timeout"),
            s("restart", "info", "restarted")
        ],
        "{}",
        two.report()
    );
    assert!(wait_until(30, || runit
        .pid("web")
        .is_some_and(|p| p != first)
        && crate::util::services::listening(&addr)));
    let three = check();
    assert_eq!(
        summary(&beats(&three)),
        [s("heartbeat", "ok", "http-200")],
        "{}",
        three.report()
    );
}

#[test]
fn as_root_checks_run_as_the_user_and_restarts_as_root() {
    if !is_root() {
        // Dropping privileges needs them: covered wherever the suite runs
        // as root (CI does); say so instead of passing silently.
        crate::util::skip(
            "as_root_checks_run_as_the_user_and_restarts_as_root",
            "not root, nothing to drop",
        );
        return;
    }
    let env = TestEnv::new();
    let nobody = nix::unistd::User::from_name("nobody").unwrap().unwrap();
    let who = heartbeat(&env).args(["--exec", "id -u"]).expect_code(0);
    let beat = &beats(&who)[0];
    assert_eq!(
        beat.stdout.as_deref().map(str::trim),
        Some(nobody.uid.to_string().as_str())
    );
    assert_eq!(beat.user.as_deref(), Some("nobody"));

    // The server sees the connection come from nobody's socket.
    let log = env.path("requests.log");
    let server = HttpServer::start("127.0.0.1", &["--log", &log.display().to_string()]);
    let marker = env.path("restart-uid");
    let restart = format!("sh -c 'id -u > {}'", marker.display());
    heartbeat(&env)
        .args(["--http", &format!("http://127.0.0.1:{}/", server.port)])
        .args(["--expect", "500", "--restart", &restart])
        .expect_code(1);
    let logged = std::fs::read_to_string(&log).unwrap();
    let request: serde_json::Value = serde_json::from_str(logged.lines().next().unwrap()).unwrap();
    assert_eq!(
        request["uid"],
        serde_json::json!(nobody.uid.as_raw()),
        "{logged}"
    );
    assert_eq!(
        std::fs::read_to_string(&marker).unwrap().trim(),
        "0",
        "restarts run as root"
    );

    // A user that does not exist: a clear error, and nothing runs.
    let missing = env
        .cmd("sd-heartbeat")
        .args(["--user", "no-such-user-here", "--exec", "true"])
        .expect_code(125);
    assert!(
        missing
            .stderr()
            .contains("user no-such-user-here does not exist"),
        "{}",
        missing.stderr()
    );
}

#[test]
fn many_checks_from_a_file_and_a_clean_stop_on_sigterm() {
    let env = TestEnv::new();
    let server = HttpServer::start("127.0.0.1", &[]);
    let checks = env.path("checks.toml");
    std::fs::write(
        &checks,
        format!(
            "[[check]]\ntag = \"web\"\nhttp = \"http://127.0.0.1:{port}/\"\n\n\
             [[check]]\ntag = \"port\"\ntcp = \"127.0.0.1:{port}\"\n\n\
             [[check]]\ntag = \"closed\"\ntcp = \"127.0.0.1:{closed}\"\ntimeout = \"1s\"\n\n\
             [[check]]\ntag = \"script\"\nexec = [\"sh\", \"-c\", \"exit 0\"]\n",
            port = server.port,
            closed = free_port()
        ),
    )
    .unwrap();
    let run = heartbeat(&env).arg("--checks").arg(&checks).expect_code(1);
    let mut got: Vec<(String, String)> =
        beats(&run).into_iter().map(|b| (b.tag, b.status)).collect();
    got.sort();
    let want = [
        ("closed", "fail"),
        ("port", "ok"),
        ("script", "ok"),
        ("web", "ok"),
    ];
    assert_eq!(got, want.map(|(t, s)| (t.to_string(), s.to_string())));

    // --every: checks until SIGTERM, then exits 0.
    let (out, err) = (env.path("every.out"), env.path("every.err"));
    let mut child = heartbeat(&env)
        .args([
            "--tcp",
            &format!("127.0.0.1:{}", server.port),
            "--every",
            "200ms",
        ])
        .spawn_to(&out, &err);
    let rounds = || std::fs::read_to_string(&out).map_or(0, |t| t.lines().count());
    assert!(
        wait_until(30, || rounds() >= 2),
        "several rounds: {}",
        rounds()
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    assert_eq!(
        child.wait().unwrap().code(),
        Some(0),
        "{}",
        std::fs::read_to_string(&err).unwrap_or_default()
    );
}

/// A name that does not resolve is the check's own error: exit 125, an
/// `error` event, and never a restart (a broken resolver must not restart
/// every service on the host).
#[test]
fn a_name_that_does_not_resolve_is_an_error_and_never_a_restart() {
    let env = TestEnv::new();
    let marker = env.path("restarts");
    let restart = format!("sh -c 'echo restarted >> {}'", marker.display());
    for target in [
        ["--http", "http://no-such-host.invalid/"],
        ["--tcp", "no-such-host.invalid:80"],
    ] {
        let run = heartbeat(&env)
            .args(target)
            .args(["--tag", "svc", "--restart", &restart])
            .expect_code(125);
        assert_eq!(
            summary(&beats(&run)),
            [s("heartbeat", "error", "resolve")],
            "{}",
            run.report()
        );
    }
    assert!(!marker.exists(), "a restart ran");
}

/// When no check can drop to its user, the error is an event on stdout
/// (for `| sd-bark`) as well as a message on stderr.
#[test]
fn a_user_checks_cannot_run_as_is_an_error_event_too() {
    let env = TestEnv::new();
    // As root: a user that does not exist; otherwise: another user.
    let user = if is_root() { "no-such-user-sd" } else { "root" };
    let run = env
        .cmd("sd-heartbeat")
        .args(["--tcp", "127.0.0.1:1", "--tag", "svc", "--user", user])
        .expect_code(125);
    assert_eq!(
        summary(&beats(&run)),
        [s("heartbeat", "error", "cannot-check")],
        "{}",
        run.report()
    );
    assert!(run.stderr().contains(user), "{}", run.report());
}

/// A restart command that prints far more than a pipe holds is read while
/// it runs, so it finishes at once instead of waiting for the kill.
#[test]
fn a_chatty_restart_does_not_block() {
    let env = TestEnv::new();
    let closed = format!("127.0.0.1:{}", free_port());
    let run = heartbeat(&env)
        .args(["--tcp", &closed, "--tag", "svc"])
        .args([
            "--restart",
            "sh -c 'head -c 1000000 /dev/zero | tr \\\\0 x; echo done'",
        ])
        .expect_code(1);
    assert_eq!(
        summary(&beats(&run)),
        [
            s("heartbeat", "fail", "refused"),
            s("restart", "info", "restarted")
        ],
        "{}",
        run.report()
    );
}

/// Overlapping runs each write the failure counter whole: whatever they
/// interleave, the file is never left half-written.
#[test]
fn overlapping_runs_never_corrupt_the_failure_counter() {
    let env = TestEnv::new();
    let closed = format!("127.0.0.1:{}", free_port());
    let state = env.path("hb");
    let children: Vec<_> = (0..12)
        .map(|_| {
            heartbeat(&env)
                .args(["--tcp", &closed, "--tag", "svc", "--after", "1000000"])
                .arg("--state-dir")
                .arg(&state)
                .args(["--restart", "true"])
                .spawn()
        })
        .collect();
    for mut child in children {
        assert_eq!(child.wait().unwrap().code(), Some(1));
    }
    let text = std::fs::read_to_string(state.join("svc.json")).unwrap();
    let memory: serde_json::Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("corrupt state file ({e}): {text:?}"));
    let failures = memory["failures"].as_u64().unwrap();
    assert!((1..=12).contains(&failures), "{memory}");
    let leftovers: Vec<_> = std::fs::read_dir(&state)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers, ["svc.json"], "temporary files left behind");
}

#[test]
fn an_http_check_asks_head_and_a_redirect_counts_as_an_answer() {
    let env = TestEnv::new();
    let log = env.path("http.log");
    let moved = HttpServer::start(
        "127.0.0.1",
        &[
            "--status",
            "301",
            "--location",
            "https://elsewhere.example.org/",
            "--log",
            log.to_str().unwrap(),
        ],
    );
    let url = format!("http://127.0.0.1:{}/", moved.port);
    // HEAD by default; a 3xx is the server answering (not followed).
    let beat: Beat = heartbeat(&env)
        .args(["--http", &url])
        .expect_code(0)
        .event();
    assert_eq!(
        (beat.status.as_str(), beat.reason.as_str()),
        ("ok", "http-301")
    );
    let methods: Vec<String> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["method"].to_string())
        .collect();
    assert_eq!(methods, ["\"HEAD\""], "one HEAD, the redirect not followed");
    // Refused when the admin says only 2xx will do.
    let beat: Beat = heartbeat(&env)
        .args(["--http", &url, "--expect", "200-299"])
        .expect_code(1)
        .event();
    assert_eq!(
        (beat.status.as_str(), beat.reason.as_str()),
        ("fail", "http-301")
    );
}

#[test]
fn a_server_that_never_answers_is_a_timeout_after_the_default_five_seconds() {
    let env = TestEnv::new();
    // Accepts, then says nothing.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let holder = std::thread::spawn(move || {
        let held: Vec<_> = listener.incoming().take(1).collect();
        std::thread::sleep(std::time::Duration::from_secs(8));
        drop(held);
    });
    #[derive(Deserialize)]
    struct Timed {
        status: String,
        reason: String,
        elapsed_ms: u64,
    }
    let beat: Timed = heartbeat(&env)
        .args(["--http", &format!("http://127.0.0.1:{port}/")])
        .expect_code(1)
        .event();
    assert_eq!(
        (beat.status.as_str(), beat.reason.as_str()),
        ("fail", "timeout")
    );
    // The default is 5 s: it waited that long, and gave up then.
    assert!(
        (5_000..8_000).contains(&beat.elapsed_ms),
        "{} ms",
        beat.elapsed_ms
    );
    holder.join().unwrap();
}
