//! A real nats-server with JetStream for one test, on a free loopback
//! port, its store in the test's directory, stopped when the test ends
//! however it ends (and killed by the kernel if the test process dies).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct NatsServer {
    pub port: u16,
    pub dir: PathBuf,
    /// A configuration file of the test's, instead of the plain flags.
    config: Option<PathBuf>,
    child: Option<Child>,
}

impl NatsServer {
    /// Starts nats-server with JetStream, its store under `dir`.
    pub fn start(dir: PathBuf) -> NatsServer {
        NatsServer::start_with_config(dir, None)
    }

    /// Starts nats-server with `config` (written by the test), on a port
    /// of its own: the file is given the port, JetStream and the store.
    pub fn start_with_config(dir: PathBuf, config: Option<&str>) -> NatsServer {
        NatsServer::start_in_domain(dir, None, config.unwrap_or(""))
    }

    /// Starts nats-server with JetStream in `domain` (a site's, the
    /// hub's), the rest of its configuration `config`.
    pub fn start_in_domain(dir: PathBuf, domain: Option<&str>, config: &str) -> NatsServer {
        std::fs::create_dir_all(&dir).unwrap();
        let mut server = NatsServer {
            port: super::free_port(),
            dir,
            config: None,
            child: None,
        };
        server.write_config(domain, config);
        server.launch();
        server
    }

    /// Starts nats-server with a whole configuration of the test's,
    /// written for the port and store directory it is given.
    pub fn start_from(
        dir: PathBuf,
        config: impl FnOnce(u16, &std::path::Path) -> String,
    ) -> NatsServer {
        std::fs::create_dir_all(&dir).unwrap();
        let port = super::free_port();
        let path = dir.join("nats.conf");
        std::fs::write(&path, config(port, &dir.join("js"))).unwrap();
        let mut server = NatsServer {
            port,
            dir,
            config: Some(path),
            child: None,
        };
        server.launch();
        server
    }

    fn write_config(&mut self, domain: Option<&str>, config: &str) {
        let path = self.dir.join("nats.conf");
        let domain = domain.map_or(String::new(), |d| format!(", domain: {d}"));
        std::fs::write(
            &path,
            format!(
                "listen: 127.0.0.1:{}\njetstream {{ store_dir: \"{}\"{domain} }}\n{config}\n",
                self.port,
                self.dir.join("js").display()
            ),
        )
        .unwrap();
        self.config = Some(path);
    }

    /// Starts it again, same port and store, with another configuration.
    pub fn restart_with(&mut self, domain: Option<&str>, config: &str) {
        self.kill();
        self.write_config(domain, config);
        self.launch();
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    fn launch(&mut self) {
        assert!(
            super::have("nats-server"),
            "nats-server is not installed (run the README's test command)"
        );
        let mut command = Command::new("nats-server");
        match &self.config {
            Some(config) => {
                command.arg("-c").arg(config);
            }
            None => {
                command
                    .args(["-a", "127.0.0.1", "-p", &self.port.to_string(), "-js"])
                    .arg("-sd")
                    .arg(self.dir.join("js"));
            }
        }
        command.stdout(Stdio::null()).stderr(
            std::fs::File::create(self.dir.join("nats-server.log"))
                .map(Stdio::from)
                .unwrap_or_else(|_| Stdio::null()),
        );
        self.child = Some(super::spawn_server(
            &mut command,
            nix::sys::signal::Signal::SIGKILL,
            "nats-server",
        ));
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("nats-server on port {} did not listen", self.port);
    }

    /// Kills the server at once, as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port and store.
    pub fn restart(&mut self) {
        self.kill();
        self.launch();
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
    }
}
