//! The test harness: run a real binary in a private environment and, when
//! it does not do what was expected, say exactly what ran and what came
//! out.

#![allow(dead_code)]

pub mod nats;
pub mod redis;
pub mod services;
pub mod smtp;
pub mod tls;

use serde::Deserialize;
use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// The path of one of the project's binaries.
pub fn bin(name: &str) -> &'static str {
    match name {
        "sd-run" => env!("CARGO_BIN_EXE_sd-run"),
        "sd-bark" => env!("CARGO_BIN_EXE_sd-bark"),
        "sd-recv" => env!("CARGO_BIN_EXE_sd-recv"),
        "sd-store" => env!("CARGO_BIN_EXE_sd-store"),
        "sd-query" => env!("CARGO_BIN_EXE_sd-query"),
        "sd-expect" => env!("CARGO_BIN_EXE_sd-expect"),
        "sd-facts" => env!("CARGO_BIN_EXE_sd-facts"),
        "sd-mail" => env!("CARGO_BIN_EXE_sd-mail"),
        "sd-heartbeat" => env!("CARGO_BIN_EXE_sd-heartbeat"),
        "sd-order" => env!("CARGO_BIN_EXE_sd-order"),
        "sd-obey" => env!("CARGO_BIN_EXE_sd-obey"),
        "sd-enroll" => env!("CARGO_BIN_EXE_sd-enroll"),
        "sd-gate" => env!("CARGO_BIN_EXE_sd-gate"),
        other => panic!("no binary called {other}"),
    }
}

/// A private world for one test: its own spool, configuration, state and
/// data directories, so nothing touches the machine's (even as root).
pub struct TestEnv {
    pub dir: tempfile::TempDir,
    vars: Vec<(OsString, OsString)>,
}

impl TestEnv {
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("sheepdog-test-")
            .tempdir()
            .expect("temp dir");
        let root = dir.path();
        for sub in ["config/sheepdog", "state", "data", "runtime", "home"] {
            std::fs::create_dir_all(root.join(sub)).unwrap();
        }
        let config = root.join("config/sheepdog/sheepdog.toml");
        std::fs::write(&config, "# empty: every test starts from the defaults\n").unwrap();
        let vars = vec![
            ("SD_SPOOL".into(), root.join("state/spool.db").into()),
            ("SD_CONFIG".into(), config.into()),
            ("XDG_CONFIG_HOME".into(), root.join("config").into()),
            ("XDG_STATE_HOME".into(), root.join("state").into()),
            ("XDG_DATA_HOME".into(), root.join("data").into()),
            ("XDG_RUNTIME_DIR".into(), root.join("runtime").into()),
            ("HOME".into(), root.join("home").into()),
        ];
        TestEnv { dir, vars }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Sets (or overrides) a variable for every command this test runs.
    pub fn set(&mut self, name: &str, value: impl AsRef<OsStr>) {
        self.vars.retain(|(n, _)| n != name);
        self.vars.push((name.into(), value.as_ref().to_owned()));
    }

    /// Writes the test's configuration file.
    pub fn write_config(&self, text: &str) -> PathBuf {
        let path = self.path("config/sheepdog/sheepdog.toml");
        std::fs::write(&path, text).unwrap();
        path
    }

    pub fn cmd(&self, program: &str) -> Cmd {
        self.external(bin(program), program)
    }

    /// The server's receiver as the README wires it, `sd-recv --group
    /// store --once -- sd-store --echo DB`: stores what waits, then exits.
    pub fn receive_into(&self, db: &Path) -> Run {
        self.cmd("sd-recv")
            .args([
                "--group",
                "store",
                "--once",
                "--",
                bin("sd-store"),
                "--echo",
            ])
            .arg(db)
            .expect_code(0)
    }

    /// A program that is not one of ours (`unshare`), run in the same
    /// private environment.
    pub fn external(&self, path: &str, shown: &str) -> Cmd {
        let mut command = Command::new(path);
        for name in [
            "SD_BROKER",
            "SD_STREAM",
            "SD_BROKER_CA",
            "SD_LOCK_DIR",
            "SD_SMTP",
            "SD_SMTP_PASSWORD",
            "NO_COLOR",
        ] {
            command.env_remove(name);
        }
        command.envs(self.vars.iter().map(|(n, v)| (n, v)));
        command.current_dir(self.dir.path());
        Cmd {
            command,
            stdin: None,
            shown: shown.to_string(),
        }
    }
}

/// A command about to run, remembered for the failure report.
pub struct Cmd {
    command: Command,
    stdin: Option<Vec<u8>>,
    shown: String,
}

impl Cmd {
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.shown.push(' ');
        self.shown
            .push_str(&shell_quote(&arg.as_ref().to_string_lossy()));
        self.command.arg(arg);
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        for arg in args {
            self = self.arg(arg);
        }
        self
    }

    pub fn env(mut self, name: &str, value: impl AsRef<OsStr>) -> Self {
        self.command.env(name, value);
        self
    }

    /// Runs it in a process group of its own (as a shell's job is), so
    /// a test can signal the whole group like a terminal's Ctrl-C.
    pub fn own_group(mut self) -> Self {
        use std::os::unix::process::CommandExt;
        self.command.process_group(0);
        self
    }

    pub fn stdin(mut self, input: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(input.into());
        self
    }

    /// Runs to the end and returns what came out. A command still running
    /// after two minutes is killed and fails the test, so a hang shows as
    /// a failure with its output, not as a stuck test run.
    pub fn run(mut self) -> Run {
        let mut child = self.start(false);
        let mut stdout = child.stdout.take().unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let out = std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = std::io::Read::read_to_end(&mut stdout, &mut buf);
            buf
        });
        let err = std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = std::io::Read::read_to_end(&mut stderr, &mut buf);
            buf
        });
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        let (status, hung) = loop {
            if let Some(status) = child.try_wait().expect("waiting for the command") {
                break (status, false);
            }
            if std::time::Instant::now() >= deadline {
                let _ = child.kill();
                break (child.wait().unwrap(), true);
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        };
        let output = Output {
            status,
            stdout: out.join().unwrap(),
            stderr: err.join().unwrap(),
        };
        let run = Run {
            shown: self.shown,
            output,
        };
        if hung {
            panic!("still running after 120 s; killed\n{}", run.report());
        }
        run
    }

    /// Runs and insists on an exit status.
    pub fn expect_code(self, code: i32) -> Run {
        let run = self.run();
        run.assert_code(code);
        run
    }

    /// Starts it and leaves it running, stdout and stderr piped; input
    /// given with `stdin` is written, and stdin left open otherwise.
    pub fn spawn(mut self) -> Child {
        self.start(true)
    }

    fn start(&mut self, keep_stdin_open: bool) -> Child {
        self.command.stdout(Stdio::piped()).stderr(Stdio::piped());
        let piped = keep_stdin_open || self.stdin.is_some();
        self.command
            .stdin(if piped { Stdio::piped() } else { Stdio::null() });
        let mut child = self
            .command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.shown));
        if let Some(input) = self.stdin.take() {
            let mut pipe = child.stdin.take().unwrap();
            std::thread::spawn(move || {
                let _ = pipe.write_all(&input);
            });
        }
        child
    }

    /// Starts it with stdout and stderr going to files (for long runs
    /// whose output nobody reads until the end).
    pub fn spawn_to(mut self, stdout: &Path, stderr: &Path) -> Child {
        self.command.stdout(std::fs::File::create(stdout).unwrap());
        self.command.stderr(std::fs::File::create(stderr).unwrap());
        self.command.stdin(Stdio::null());
        self.command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.shown))
    }
}

/// A finished command.
pub struct Run {
    pub shown: String,
    pub output: Output,
}

impl Run {
    pub fn code(&self) -> Option<i32> {
        self.output.status.code()
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    pub fn assert_code(&self, code: i32) {
        if self.code() != Some(code) {
            panic!("expected exit status {code}\n{}", self.report());
        }
    }

    /// Everything a reader of a failed test needs.
    pub fn report(&self) -> String {
        format!(
            "command: {}\nstatus: {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}\n---",
            self.shown,
            self.output.status,
            truncate(&self.stdout()),
            truncate(&self.stderr())
        )
    }

    /// Every stdout line parsed as `T`; a line that does not parse fails
    /// the test with the report.
    pub fn lines<T: for<'de> Deserialize<'de>>(&self) -> Vec<T> {
        self.stdout()
            .lines()
            .map(|line| {
                serde_json::from_str(line).unwrap_or_else(|e| {
                    panic!(
                        "stdout line is not the expected JSON ({e}): {line}\n{}",
                        self.report()
                    )
                })
            })
            .collect()
    }

    /// The `id` of every event printed on stdout, in order.
    pub fn ids(&self) -> Vec<String> {
        self.lines::<serde_json::Value>()
            .iter()
            .map(|event| event["id"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// The one event the command printed.
    pub fn event<T: for<'de> Deserialize<'de>>(&self) -> T {
        let mut lines = self.lines::<T>();
        if lines.len() != 1 {
            panic!(
                "expected exactly one line on stdout, got {}\n{}",
                lines.len(),
                self.report()
            );
        }
        lines.remove(0)
    }
}

fn truncate(text: &str) -> String {
    if text.len() <= 4000 {
        return text.to_string();
    }
    let mut cut = 4000;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}... ({} bytes in all)", &text[..cut], text.len())
}

fn shell_quote(arg: &str) -> String {
    if !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:@,+".contains(c))
    {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

/// An event as sheepdog writes it, for checking output field by field.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Event {
    pub v: u32,
    pub id: String,
    pub time: String,
    pub host: String,
    pub tag: String,
    pub kind: String,
    pub status: String,
    pub reason: Option<String>,
    pub code: Option<i64>,
    pub signal: Option<String>,
    pub elapsed_ms: Option<u64>,
    pub cmd: Option<Vec<String>>,
    pub user: Option<String>,
    pub stdout: Option<String>,
    pub stderr: Option<String>,
    pub msg: Option<String>,
    pub facts: Option<serde_json::Map<String, serde_json::Value>>,
    pub last_ok: Option<String>,
    pub due: Option<String>,
}

/// Starts a server for a test; the kernel sends it `on_parent_death`
/// (PR_SET_PDEATHSIG) if the test process itself dies, so no server
/// outlives the test run, however it ends.
pub fn spawn_server(
    command: &mut Command,
    on_parent_death: nix::sys::signal::Signal,
    what: &str,
) -> Child {
    use std::os::unix::process::CommandExt;
    unsafe {
        command.pre_exec(move || {
            nix::sys::prctl::set_pdeathsig(on_parent_death).map_err(std::io::Error::from)
        });
    }
    command
        .spawn()
        .unwrap_or_else(|e| panic!("starting {what}: {e}"))
}

/// A command a test left running in the background: stopped (SIGKILL to
/// its process group, which `Cmd::own_group` gives it, or to it alone)
/// when the test ends, however it ends — a failed assertion included.
pub struct Background {
    child: Option<std::process::Child>,
}

impl Background {
    pub fn new(child: std::process::Child) -> Background {
        Background { child: Some(child) }
    }

    pub fn id(&self) -> u32 {
        self.child.as_ref().map_or(0, |c| c.id())
    }

    /// Its status once it has ended (then it is reaped, and nothing is
    /// left to stop).
    pub fn try_wait(&mut self) -> Option<std::process::ExitStatus> {
        let status = self
            .child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten());
        if status.is_some() {
            self.child = None;
        }
        status
    }

    /// SIGTERM, to its group when it has one of its own, then its status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("running");
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        if nix::sys::signal::killpg(pid, nix::sys::signal::Signal::SIGTERM).is_err() {
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        }
        child.wait().unwrap()
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pid = nix::unistd::Pid::from_raw(child.id() as i32);
            let _ = nix::sys::signal::killpg(pid, nix::sys::signal::Signal::SIGKILL);
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A free TCP port on the loopback interface.
/// Asks a running command to stop (SIGTERM), as a service manager does,
/// and returns what it printed.
pub fn terminate(child: std::process::Child) -> std::process::Output {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    child.wait_with_output().unwrap()
}

/// A server that only pretends: a free loopback port whose every
/// connection `serve` answers, on a thread of its own, for as long as the
/// test runs. Its port.
pub fn pretender(serve: impl Fn(std::net::TcpStream) + Send + Sync + 'static) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binding a free port");
    let port = listener.local_addr().unwrap().port();
    let serve = std::sync::Arc::new(serve);
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let serve = std::sync::Arc::clone(&serve);
            std::thread::spawn(move || serve(client));
        }
    });
    port
}

pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binding a free port");
    listener.local_addr().unwrap().port()
}

/// A test that cannot be run here says so, and tests/check.sh counts it
/// (the file named by SD_SKIPPED gets a line "TEST: WHY").
pub fn skip(test: &str, why: &str) {
    eprintln!("{test}: {why}; not checked here");
    if let Some(path) = std::env::var_os("SD_SKIPPED") {
        use std::io::Write;
        if let Ok(mut file) = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)
        {
            let _ = writeln!(file, "{test}: {why}");
        }
    }
}

/// Whether a program is on PATH.
pub fn have(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| is_executable(&dir.join(program)))
    })
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Whether a process still exists.
pub fn alive(pid: i32) -> bool {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
}

/// Waits until `check` is true, for at most `seconds`.
pub fn wait_until(seconds: u64, mut check: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    while std::time::Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    check()
}
