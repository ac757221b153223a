//! A real redis-server for one test, on a free loopback port, stopped when
//! the test ends however it ends (and killed by the kernel if the test
//! process itself dies, through PR_SET_PDEATHSIG).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct RedisServer {
    pub port: u16,
    pub dir: PathBuf,
    child: Option<Child>,
    extra: Vec<String>,
    /// Extra redis-cli arguments (TLS).
    cli_extra: Vec<String>,
}

impl RedisServer {
    /// Starts redis-server with persistence off.
    pub fn start(dir: PathBuf) -> RedisServer {
        RedisServer::start_with(dir, &["--save", "", "--appendonly", "no"])
    }

    /// Starts redis-server with `appendonly yes` and `appendfsync always`,
    /// the configuration under which an acknowledged event survives a
    /// crash of Redis (docs/ARCHITECTURE.md §2).
    pub fn start_durable(dir: PathBuf) -> RedisServer {
        RedisServer::start_with(
            dir,
            &[
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ],
        )
    }

    pub fn start_with(dir: PathBuf, extra: &[&str]) -> RedisServer {
        std::fs::create_dir_all(&dir).unwrap();
        let mut server = RedisServer {
            port: super::free_port(),
            dir,
            child: None,
            extra: extra.iter().map(|s| s.to_string()).collect(),
            cli_extra: Vec::new(),
        };
        server.launch();
        server
    }

    /// Starts a replica of the server on `master_port`, persistence off.
    pub fn start_replica_of(dir: PathBuf, master_port: u16) -> RedisServer {
        let port = master_port.to_string();
        RedisServer::start_with(
            dir,
            &[
                "--save",
                "",
                "--appendonly",
                "no",
                "--replicaof",
                "127.0.0.1",
                &port,
            ],
        )
    }

    /// Waits until this replica is in sync with its master.
    pub fn wait_synced(&self) {
        assert!(
            super::wait_until(20, || self
                .cli(&["INFO", "replication"])
                .is_some_and(|i| i.contains("master_link_status:up"))),
            "the replica on {} did not sync",
            self.port
        );
    }

    /// Starts redis-server speaking only TLS, with a certificate from
    /// `ca` for 127.0.0.1.
    pub fn start_tls(dir: PathBuf, ca: &super::tls::TestCa) -> RedisServer {
        std::fs::create_dir_all(&dir).unwrap();
        let port = super::free_port();
        let show = |p: &std::path::Path| p.display().to_string();
        let mut server = RedisServer {
            port,
            dir,
            child: None,
            extra: vec![
                "--save".into(),
                "".into(),
                "--port".into(),
                "0".into(),
                "--tls-port".into(),
                port.to_string(),
                "--tls-cert-file".into(),
                show(&ca.cert),
                "--tls-key-file".into(),
                show(&ca.key),
                "--tls-ca-cert-file".into(),
                show(&ca.ca),
                "--tls-auth-clients".into(),
                "no".into(),
            ],
            cli_extra: vec!["--tls".into(), "--cacert".into(), show(&ca.ca)],
        };
        server.launch();
        server
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn launch(&mut self) {
        assert!(
            super::have("redis-server"),
            "redis-server is not installed (run the README's test command)"
        );
        let mut command = Command::new("redis-server");
        command
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(&self.dir)
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        self.child = Some(super::spawn_server(
            &mut command,
            nix::sys::signal::Signal::SIGKILL,
            "redis-server",
        ));
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if self.ping() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("redis-server on port {} did not answer PING", self.port);
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    pub fn ping(&self) -> bool {
        // A server with a password answers NOAUTH: it is up all the same.
        self.cli(&["PING"])
            .is_some_and(|out| out.trim() == "PONG" || out.contains("NOAUTH"))
    }

    /// Runs redis-cli against this server; its stdout, or None.
    pub fn cli(&self, args: &[&str]) -> Option<String> {
        let output = Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(&self.cli_extra)
            .args(args)
            .output()
            .ok()?;
        output
            .status
            .success()
            .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// Runs redis-cli as `user`; its stdout, whatever the exit status (a
    /// refusal, `NOPERM`, is printed there).
    pub fn cli_as(&self, user: &str, password: &str, args: &[&str]) -> String {
        let output = Command::new("redis-cli")
            .args([
                "--no-auth-warning",
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
            ])
            .args(["--user", user, "--pass", password])
            .args(args)
            .output()
            .expect("running redis-cli");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Kills the server at once, as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port and directory.
    pub fn restart(&mut self) {
        self.kill();
        self.launch();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A redis-sentinel for one test (Debian's redis-server in sentinel mode),
/// watching the master `mymaster`, quick to call it down (1 s).
pub struct Sentinel {
    pub port: u16,
    child: Option<Child>,
    /// What redis-cli needs to ask it (TLS).
    cli_extra: Vec<String>,
}

impl Sentinel {
    /// Three sentinels watching the master on `master_port`, each in a
    /// directory `sentinelN` under `dir`, and the broker URL naming them.
    pub fn three(dir: &std::path::Path, master_port: u16) -> (Vec<Sentinel>, String) {
        let sentinels: Vec<Sentinel> = (0..3)
            .map(|i| Sentinel::start(dir.join(format!("sentinel{i}")), master_port))
            .collect();
        let hosts: Vec<String> = sentinels
            .iter()
            .map(|s| format!("127.0.0.1:{}", s.port))
            .collect();
        let url = format!("redis+sentinel://{}/mymaster", hosts.join(","));
        (sentinels, url)
    }

    pub fn start(dir: PathBuf, master_port: u16) -> Sentinel {
        Sentinel::start_with(dir, master_port, None, None)
    }

    /// A sentinel spoken to over TLS, itself talking TLS to the master.
    pub fn start_tls(dir: PathBuf, master_port: u16, ca: &super::tls::TestCa) -> Sentinel {
        Sentinel::start_with(dir, master_port, Some(ca), None)
    }

    /// A sentinel that asks its clients for a password of its own.
    pub fn start_with_password(dir: PathBuf, master_port: u16, password: &str) -> Sentinel {
        Sentinel::start_with(dir, master_port, None, Some(password))
    }

    fn start_with(
        dir: PathBuf,
        master_port: u16,
        tls: Option<&super::tls::TestCa>,
        password: Option<&str>,
    ) -> Sentinel {
        std::fs::create_dir_all(&dir).unwrap();
        let port = super::free_port();
        let conf = dir.join("sentinel.conf");
        let (listen, cli_extra) = match tls {
            Some(ca) => (
                format!(
                    "port 0\ntls-port {port}\ntls-cert-file {}\ntls-key-file {}\n\
                     tls-ca-cert-file {}\ntls-auth-clients no\ntls-replication yes\n",
                    ca.cert.display(),
                    ca.key.display(),
                    ca.ca.display()
                ),
                vec![
                    "--tls".into(),
                    "--cacert".into(),
                    ca.ca.display().to_string(),
                ],
            ),
            None => (format!("port {port}\n"), Vec::new()),
        };
        let (listen, cli_extra) = match password {
            Some(password) => (
                format!("{listen}requirepass {password}\n"),
                [
                    cli_extra,
                    vec!["--no-auth-warning".into(), "-a".into(), password.into()],
                ]
                .concat(),
            ),
            None => (listen, cli_extra),
        };
        std::fs::write(
            &conf,
            format!(
                "{listen}bind 127.0.0.1\ndir {}\n\
                 sentinel monitor mymaster 127.0.0.1 {master_port} 2\n\
                 sentinel down-after-milliseconds mymaster 1000\n\
                 sentinel failover-timeout mymaster 4000\n\
                 sentinel parallel-syncs mymaster 1\n",
                dir.display()
            ),
        )
        .unwrap();
        let mut command = Command::new("redis-server");
        command
            .arg(&conf)
            .arg("--sentinel")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = super::spawn_server(
            &mut command,
            nix::sys::signal::Signal::SIGKILL,
            "redis-sentinel",
        );
        let sentinel = Sentinel {
            port,
            child: Some(child),
            cli_extra,
        };
        assert!(
            super::wait_until(20, || sentinel.master_port().is_some()),
            "the sentinel on {port} did not come up"
        );
        sentinel
    }

    /// The port of the master this sentinel names now.
    pub fn master_port(&self) -> Option<u16> {
        let out = Command::new("redis-cli")
            .args(&self.cli_extra)
            .args([
                "-p",
                &self.port.to_string(),
                "SENTINEL",
                "get-master-addr-by-name",
                "mymaster",
            ])
            .output()
            .ok()?;
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .nth(1)?
            .trim()
            .parse()
            .ok()
    }
}

impl Drop for Sentinel {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
