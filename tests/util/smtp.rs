//! A real SMTP server for one test (aiosmtpd, run by the system's Python,
//! tests/util/smtp_server.py) on a free loopback port, stopped when the
//! test ends however it ends. Every message it accepts is parsed by
//! Python's email package and kept as a JSON file the test reads back.

use serde::Deserialize;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PYTHON: &str = "/usr/bin/python3";

pub struct SmtpServer {
    pub port: u16,
    pub inbox: PathBuf,
    args: Vec<String>,
    child: Option<Child>,
}

/// One message as the server received and parsed it.
#[derive(Debug, Deserialize)]
pub struct Received {
    pub mail_from: String,
    pub rcpt_tos: Vec<String>,
    pub headers: Vec<(String, String)>,
    pub defects: Vec<String>,
    pub body: String,
}

impl Received {
    /// Every value of a header (names compared without case).
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The one value of a header; fails the test if it is missing or
    /// repeated.
    pub fn header(&self, name: &str) -> &str {
        let values = self.all(name);
        assert_eq!(values.len(), 1, "header {name} in {:#?}", self.headers);
        values[0]
    }
}

impl SmtpServer {
    /// Plain SMTP (for `smtp://…?tls=none`).
    pub fn start(dir: PathBuf) -> SmtpServer {
        SmtpServer::start_with(dir, Vec::new())
    }

    /// STARTTLS required, with a certificate from `ca`, and AUTH required
    /// with this user and password.
    pub fn start_tls_auth(
        dir: PathBuf,
        ca: &super::tls::TestCa,
        user: &str,
        password: &str,
    ) -> SmtpServer {
        let show = |p: &std::path::Path| p.display().to_string();
        SmtpServer::start_with(
            dir,
            vec![
                "--cert".into(),
                show(&ca.cert),
                "--key".into(),
                show(&ca.key),
                "--auth".into(),
                format!("{user}:{password}"),
            ],
        )
    }

    fn start_with(dir: PathBuf, args: Vec<String>) -> SmtpServer {
        let inbox = dir.join("inbox");
        std::fs::create_dir_all(&inbox).unwrap();
        let mut server = SmtpServer {
            port: super::free_port(),
            inbox,
            args,
            child: None,
        };
        server.launch();
        server
    }

    fn launch(&mut self) {
        assert!(
            Command::new(PYTHON)
                .args(["-c", "import aiosmtpd"])
                .status()
                .is_ok_and(|s| s.success()),
            "{PYTHON} has no aiosmtpd (run the README's test command, or apt-get install python3-aiosmtpd)"
        );
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/util/smtp_server.py");
        let mut command = Command::new(PYTHON);
        command
            .arg(script)
            .args(["--port", &self.port.to_string()])
            .arg("--dir")
            .arg(&self.inbox)
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(self.inbox.with_file_name("server.log"))
                    .unwrap(),
            );
        self.child = Some(super::spawn_server(
            &mut command,
            nix::sys::signal::Signal::SIGKILL,
            "the SMTP server",
        ));
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("the SMTP server on port {} did not listen", self.port);
    }

    /// The URL sd-mail is given for this server, plaintext.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}?tls=none", self.port)
    }

    /// Every message received so far, in order.
    pub fn received(&self) -> Vec<Received> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(&self.inbox)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        names.sort();
        names
            .iter()
            .map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap())
            .collect()
    }

    /// What the server wrote on stderr, for failure reports.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.inbox.with_file_name("server.log")).unwrap_or_default()
    }

    /// Stops the server (connections are then refused).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port and inbox.
    pub fn restart(&mut self) {
        self.stop();
        self.launch();
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.stop();
    }
}
