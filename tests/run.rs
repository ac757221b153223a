//! sd-run on real commands: one event per run, parsed field by field.

use crate::util::{Event, TestEnv, alive, wait_until};
use std::io::{BufRead, BufReader};

#[test]
fn a_successful_job_is_one_ok_event() {
    let env = TestEnv::new();
    let run = env
        .cmd("sd-run")
        .args(["--", "sh", "-c", "echo out; echo err >&2"])
        .expect_code(0);
    let event: Event = run.event();
    assert_eq!(event.v, 1);
    assert_eq!(event.kind, "run");
    assert_eq!(event.status, "ok");
    assert_eq!(event.reason.as_deref(), Some("exit"));
    assert_eq!(event.code, Some(0));
    assert_eq!(
        event.tag, "sh",
        "the tag defaults to the command's base name"
    );
    assert_eq!(event.stdout.as_deref(), Some("out\n"));
    assert_eq!(event.stderr.as_deref(), Some("err\n"));
    assert_eq!(event.cmd.unwrap(), ["sh", "-c", "echo out; echo err >&2"]);
    assert_eq!(event.user.as_deref(), Some(nix_user().as_str()));
    assert!(ulid_like(&event.id), "{}", event.id);
    assert!(
        event.time.ends_with('Z') && event.time.len() == 24,
        "{}",
        event.time
    );
    assert!(!event.host.is_empty() && !event.host.contains('.'));
    assert!(event.elapsed_ms.is_some());
}

#[test]
fn a_failing_job_passes_its_code_through() {
    let env = TestEnv::new();
    let run = env
        .cmd("sd-run")
        .args(["--tag", "BORG", "--", "sh", "-c", "echo broken >&2; exit 3"])
        .expect_code(3);
    let event: Event = run.event();
    assert_eq!(event.tag, "BORG");
    assert_eq!(event.status, "fail");
    assert_eq!(event.reason.as_deref(), Some("exit"));
    assert_eq!(event.code, Some(3));
    assert_eq!(event.stderr.as_deref(), Some("broken\n"));
    assert_eq!(event.stdout, None);
}

#[test]
fn no_shell_runs_unless_asked_for() {
    let env = TestEnv::new();
    let event: Event = env
        .cmd("sd-run")
        .args(["--", "echo", "$HOME", "a;b", "`id`"])
        .expect_code(0)
        .event();
    assert_eq!(event.stdout.as_deref(), Some("$HOME a;b `id`\n"));

    let event: Event = env
        .cmd("sd-run")
        .args(["-c", "echo $((40 + 2)) | tr 4 x"])
        .expect_code(0)
        .event();
    assert_eq!(event.stdout.as_deref(), Some("x2\n"));
    assert_eq!(
        event.cmd.unwrap(),
        ["/bin/sh", "-c", "echo $((40 + 2)) | tr 4 x"]
    );
    assert_eq!(
        event.tag, "echo",
        "with -c the tag is the shell line's first word"
    );
}

#[test]
fn the_tag_defaults_to_the_base_name() {
    let env = TestEnv::new();
    let event: Event = env
        .cmd("sd-run")
        .args(["--", "/bin/true"])
        .expect_code(0)
        .event();
    assert_eq!(event.tag, "true");
}

/// The README's crontab job, `sd-run --tag RSYNC --lock --failures-only
/// -- …`, ending with `code`; what it printed.
fn rsync_ending(env: &TestEnv, code: i32) -> crate::util::Run {
    env.cmd("sd-run")
        .args(["--tag", "RSYNC", "--lock", "--failures-only", "--"])
        .args(["sh", "-c"])
        .arg(format!("exit {code}"))
        .expect_code(code)
}

#[test]
fn failures_only_prints_failures_and_the_first_success_after_them() {
    let env = TestEnv::new();
    let run = |code: i32| {
        rsync_ending(&env, code)
            .lines::<Event>()
            .into_iter()
            .map(|e| e.status)
            .collect::<Vec<_>>()
    };
    // Nothing remembered yet: the first success is said once.
    assert_eq!(run(0), ["ok"]);
    assert!(run(0).is_empty());
    assert_eq!(run(1), ["fail"]);
    assert_eq!(run(1), ["fail"]);
    // The recovery is printed, then silence again.
    assert_eq!(run(0), ["ok"]);
    assert!(run(0).is_empty());
    // Each tag remembers its own.
    let other = env
        .cmd("sd-run")
        .args(["--tag", "OTHER", "--failures-only", "--", "true"])
        .expect_code(0);
    assert_eq!(other.lines::<Event>().len(), 1);
}

#[test]
fn the_readmes_failures_only_crontab_line_turns_the_board_green_again() {
    // `sd-run --tag RSYNC --lock --failures-only -- … | sd-bark` every
    // quarter hour, stored on the server: after a failure and a success,
    // the board says ok and the interruption is closed.
    let env = TestEnv::new();
    let db = env.path("events.db");
    for code in [0, 1, 0, 0] {
        let events = rsync_ending(&env, code).stdout();
        env.cmd("sd-bark").stdin(events).expect_code(0);
        env.receive_into(&db);
    }
    let conn = rusqlite::Connection::open(&db).unwrap();
    let status: String = conn
        .query_row("SELECT status FROM board WHERE tag = 'RSYNC'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(status, "ok");
    let (periods, open): (i64, i64) = conn
        .query_row(
            "SELECT count(*), count(*) FILTER (WHERE end_ms IS NULL) FROM interruptions",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((periods, open), (1, 0));
    let stored: i64 = conn
        .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        stored, 3,
        "ok, fail, the recovery; the last success is silent"
    );
}

#[test]
fn start_adds_an_info_event_before_the_job() {
    let env = TestEnv::new();
    let run = env
        .cmd("sd-run")
        .args(["--start", "--tag", "DUMP", "--", "true"])
        .expect_code(0);
    let events: Vec<Event> = run.lines();
    assert_eq!(events.len(), 2, "{}", run.report());
    assert_eq!(events[0].status, "info");
    assert_eq!(events[0].reason.as_deref(), Some("start"));
    assert_eq!(events[0].tag, "DUMP");
    assert_eq!(events[1].status, "ok");
    assert_ne!(events[0].id, events[1].id);
}

#[test]
fn the_jobs_output_never_reaches_stdout_and_tee_copies_it_to_stderr() {
    let env = TestEnv::new();
    let job = ["--", "sh", "-c", "echo to-out; echo to-err >&2"];
    let run = env.cmd("sd-run").args(job).expect_code(0);
    assert!(!run.stderr().contains("to-out"), "{}", run.report());
    let _: Event = run.event();

    let run = env.cmd("sd-run").arg("--tee").args(job).expect_code(0);
    assert!(run.stderr().contains("to-out\n"), "{}", run.report());
    assert!(run.stderr().contains("to-err\n"), "{}", run.report());
    let event: Event = run.event();
    assert_eq!(event.stdout.as_deref(), Some("to-out\n"));
}

#[test]
fn output_capture_keeps_head_and_tail_within_the_limit() {
    let env = TestEnv::new();
    // 200,000 numbered lines, about 1.3 MB, on stdout.
    let run = env
        .cmd("sd-run")
        .args(["--max-output", "4KiB", "--", "seq", "1", "200000"])
        .expect_code(0);
    let event: Event = run.event();
    let stdout = event.stdout.unwrap();
    assert!(stdout.starts_with("1\n2\n3\n"), "{stdout}");
    assert!(stdout.ends_with("199999\n200000\n"), "{stdout}");
    let total: usize = (1..=200_000).map(|n: u32| n.to_string().len() + 1).sum();
    let marker = format!("[... sd-run dropped {} bytes here ...]", total - 4096);
    assert!(stdout.contains(&marker), "no `{marker}` in the capture");
    assert!(stdout.len() <= 4096 + marker.len() + 2);
}

#[test]
fn output_that_is_not_utf8_still_makes_a_valid_event() {
    let env = TestEnv::new();
    let event: Event = env
        .cmd("sd-run")
        .args(["--", "printf", "ok\\377\\376done"])
        .expect_code(0)
        .event();
    assert_eq!(event.stdout.as_deref(), Some("ok\u{fffd}\u{fffd}done"));
}

#[test]
fn a_timeout_kills_the_whole_process_group() {
    let env = TestEnv::new();
    let pid_file = env.path("grandchild.pid");
    let line = format!("sleep 60 & echo $! > {}; wait", pid_file.display());
    let run = env
        .cmd("sd-run")
        .args(["--timeout", "1s", "-c", &line])
        .expect_code(124);
    let event: Event = run.event();
    assert_eq!(event.status, "fail");
    assert_eq!(event.reason.as_deref(), Some("timeout"));
    assert_eq!(event.signal.as_deref(), Some("SIGTERM"));
    let grandchild: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        wait_until(5, || !alive(grandchild)),
        "the job's child {grandchild} survived the timeout"
    );
}

#[test]
fn a_timeout_ends_with_sigkill_when_sigterm_is_ignored() {
    let env = TestEnv::new();
    let run = env
        .cmd("sd-run")
        .args([
            "--timeout",
            "500ms",
            "--kill-after",
            "500ms",
            "-c",
            "trap '' TERM; sleep 60",
        ])
        .expect_code(124);
    let event: Event = run.event();
    assert_eq!(event.reason.as_deref(), Some("timeout"));
    assert_eq!(event.signal.as_deref(), Some("SIGKILL"));
}

#[test]
fn a_missing_command_is_an_error_with_exit_127() {
    let env = TestEnv::new();
    let run = env
        .cmd("sd-run")
        .args(["--", "no-such-command-anywhere"])
        .expect_code(127);
    let event: Event = run.event();
    assert_eq!(event.status, "error");
    assert_eq!(event.reason.as_deref(), Some("not-found"));
    assert_eq!(
        run.stderr(),
        "sd-run: cannot run no-such-command-anywhere: command not found (check the name and PATH)\n"
    );
}

#[test]
fn a_command_that_cannot_be_executed_is_an_error_with_exit_126() {
    let env = TestEnv::new();
    // A file without execute permission (even root cannot run it).
    let script = env.path("not-executable.sh");
    std::fs::write(&script, "#!/bin/sh\necho hi\n").unwrap();
    let run = env.cmd("sd-run").arg("--").arg(&script).expect_code(126);
    let event: Event = run.event();
    assert_eq!(event.status, "error");
    assert_eq!(event.reason.as_deref(), Some("not-executable"));
    assert_eq!(
        run.stderr(),
        format!(
            "sd-run: cannot run {}: permission denied (is it executable?)\n",
            script.display()
        )
    );
}

#[test]
fn a_job_killed_by_a_signal_reports_it() {
    let env = TestEnv::new();
    let run = env
        .cmd("sd-run")
        .args(["-c", "kill -KILL $$"])
        .expect_code(137);
    let event: Event = run.event();
    assert_eq!(event.status, "fail");
    assert_eq!(event.reason.as_deref(), Some("signal"));
    assert_eq!(event.signal.as_deref(), Some("SIGKILL"));
    assert_eq!(event.code, None);
}

/// Starts `sd-run --start …`, waits for the start event, signals sd-run.
fn signal_sd_run(signal: nix::sys::signal::Signal) -> (i32, Event) {
    let env = TestEnv::new();
    let mut child = env
        .cmd("sd-run")
        .args(["--start", "--tag", "LONG", "--", "sleep", "60"])
        .spawn();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    let start: Event = serde_json::from_str(&first).unwrap();
    assert_eq!(start.reason.as_deref(), Some("start"));
    // The job is running (sd-run has a child) before the signal comes.
    let children = format!("/proc/{0}/task/{0}/children", child.id());
    assert!(wait_until(20, || std::fs::read_to_string(&children)
        .is_ok_and(|c| !c.trim().is_empty())));
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), signal).unwrap();
    let mut last = String::new();
    stdout.read_line(&mut last).unwrap();
    let status = child.wait().unwrap();
    (status.code().unwrap(), serde_json::from_str(&last).unwrap())
}

#[test]
fn sigterm_to_sd_run_reaches_the_job() {
    let (code, event) = signal_sd_run(nix::sys::signal::Signal::SIGTERM);
    assert_eq!(code, 143);
    assert_eq!(event.reason.as_deref(), Some("signal"));
    assert_eq!(event.signal.as_deref(), Some("SIGTERM"));
}

#[test]
fn sigint_to_sd_run_reaches_the_job() {
    let (code, event) = signal_sd_run(nix::sys::signal::Signal::SIGINT);
    assert_eq!(code, 130);
    assert_eq!(event.signal.as_deref(), Some("SIGINT"));
}

#[test]
fn lock_refuses_a_second_run_of_the_same_tag() {
    let env = TestEnv::new();
    let marker = env.path("first-started");
    // The marker holds the job's pid, which is also its process group.
    let line = format!("echo $$ > {}; sleep 60", marker.display());
    let mut first = env
        .cmd("sd-run")
        .args(["--lock", "--tag", "SYNC", "--timeout", "30s", "-c", &line])
        .spawn();
    assert!(wait_until(10, || std::fs::read_to_string(&marker)
        .is_ok_and(|p| p.ends_with('\n'))));

    let run = env
        .cmd("sd-run")
        .args(["--lock", "--tag", "SYNC", "--", "touch", "second-ran"])
        .expect_code(75);
    let event: Event = run.event();
    assert_eq!(event.status, "info");
    assert_eq!(event.reason.as_deref(), Some("locked"));
    assert!(
        !env.path("second-ran").exists(),
        "the second job must not start"
    );
    assert!(
        run.stderr().contains("SYNC is still running"),
        "{}",
        run.report()
    );

    // Another tag is not held up.
    env.cmd("sd-run")
        .args(["--lock", "--tag", "OTHER", "--", "true"])
        .expect_code(0);

    let job: i32 = std::fs::read_to_string(&marker)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    first.kill().unwrap();
    let _ = nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(job),
        nix::sys::signal::Signal::SIGKILL,
    );
    first.wait().unwrap();
}

#[test]
fn a_lock_left_by_a_crashed_run_does_not_block_the_next() {
    let env = TestEnv::new();
    let mut crashed = env
        .cmd("sd-run")
        .args(["--lock", "--start", "--tag", "SYNC", "-c"])
        .arg(format!(
            "echo $$ > {}; exec sleep 60",
            env.path("job.pid").display()
        ))
        .spawn();
    let mut first = String::new();
    BufReader::new(crashed.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(wait_until(10, || std::fs::read_to_string(
        env.path("job.pid")
    )
    .is_ok_and(|p| p.ends_with('\n'))));
    crashed.kill().unwrap(); // SIGKILL: no chance to clean up
    crashed.wait().unwrap();
    let event: Event = env
        .cmd("sd-run")
        .args(["--lock", "--tag", "SYNC", "--", "true"])
        .expect_code(0)
        .event();
    assert_eq!(event.status, "ok");
    // The orphaned job, and only it.
    let job: i32 = std::fs::read_to_string(env.path("job.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(job),
        nix::sys::signal::Signal::SIGKILL,
    );
}

#[test]
fn elapsed_time_is_measured() {
    let env = TestEnv::new();
    let event: Event = env
        .cmd("sd-run")
        .args(["--", "sleep", "0.3"])
        .expect_code(0)
        .event();
    assert!(event.elapsed_ms.unwrap() >= 300, "{:?}", event.elapsed_ms);
}

#[test]
fn usage_errors_exit_2() {
    let env = TestEnv::new();
    let run = env.cmd("sd-run").expect_code(2);
    assert!(run.stderr().contains("COMMAND"), "{}", run.report());
    env.cmd("sd-run")
        .args(["--timeout", "soon", "--", "true"])
        .expect_code(2);
    env.cmd("sd-run")
        .args(["--max-output", "lots", "--", "true"])
        .expect_code(2);
    env.cmd("sd-run").args(["--help"]).expect_code(0);
}

fn nix_user() -> String {
    nix::unistd::User::from_uid(nix::unistd::Uid::effective())
        .unwrap()
        .unwrap()
        .name
}

fn ulid_like(id: &str) -> bool {
    id.len() == 26 && id.chars().all(|c| c.is_ascii_alphanumeric())
}

#[test]
fn a_mistyped_option_is_a_usage_error_not_the_command() {
    let env = TestEnv::new();
    let run = env
        .cmd("sd-run")
        .args(["--tag", "x", "--timout", "6h", "--", "true"])
        .expect_code(2);
    assert_eq!(run.stdout(), "", "no event for a run that never was");
    assert!(
        run.stderr().contains("unexpected argument '--timout'")
            && run.stderr().contains("'--timeout'"),
        "{}",
        run.report()
    );
    // The command's own options still go to it, with or without `--`.
    for args in [&["ls", "-d", "/"][..], &["--", "ls", "-d", "/"]] {
        let event: Event = env.cmd("sd-run").args(args).expect_code(0).event();
        assert_eq!(event.status, "ok");
    }
}
