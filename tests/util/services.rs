//! Real services for sd-heartbeat's tests: a small HTTP server
//! (tests/util/http_server.py) and runit, Debian's process supervisor,
//! running it. Everything started here is stopped when the test ends,
//! however it ends.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub const HTTP_SERVER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/util/http_server.py");

/// The command line that runs the test HTTP server.
pub fn http_server_command(bind: &str, port: u16, extra: &[&str]) -> Vec<String> {
    let mut cmd = vec![
        "/usr/bin/python3".to_string(),
        HTTP_SERVER.to_string(),
        "--bind".into(),
        bind.into(),
        "--port".into(),
        port.to_string(),
    ];
    cmd.extend(extra.iter().map(|s| s.to_string()));
    cmd
}

/// Whether something accepts connections on this address.
pub fn listening(addr: &str) -> bool {
    std::net::TcpStream::connect(addr).is_ok()
}

/// The HTTP server as a plain child process.
pub struct HttpServer {
    pub port: u16,
    child: Child,
}

impl HttpServer {
    /// Listening on `bind` ("127.0.0.1" or "::1") only.
    pub fn start(bind: &str, extra: &[&str]) -> HttpServer {
        let port = if bind.contains(':') {
            let l = std::net::TcpListener::bind(("::1", 0)).expect("a free port on ::1");
            l.local_addr().unwrap().port()
        } else {
            super::free_port()
        };
        HttpServer::start_on(bind, port, extra)
    }

    /// The same on a port chosen before (a receiver that comes up late).
    pub fn start_on(bind: &str, port: u16, extra: &[&str]) -> HttpServer {
        let cmd = http_server_command(bind, port, extra);
        let mut command = Command::new(&cmd[0]);
        command
            .args(&cmd[1..])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = super::spawn_server(
            &mut command,
            nix::sys::signal::Signal::SIGKILL,
            "the HTTP server",
        );
        let addr = if bind.contains(':') {
            format!("[{bind}]:{port}")
        } else {
            format!("{bind}:{port}")
        };
        assert!(
            super::wait_until(20, || listening(&addr)),
            "the HTTP server did not listen on {addr}"
        );
        HttpServer { port, child }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// runsvdir over a directory of services, each a `run` script.
pub struct Runit {
    pub services: PathBuf,
    child: Option<Child>,
}

impl Runit {
    /// Starts runsvdir with these services (name, run script).
    pub fn start(dir: &Path, services: &[(&str, String)]) -> Runit {
        assert!(
            super::have("runsvdir") && super::have("sv"),
            "runit is not installed (run the README's test command, or apt-get install runit)"
        );
        let root = dir.join("service");
        for (name, script) in services {
            let service = root.join(name);
            std::fs::create_dir_all(&service).unwrap();
            let run = service.join("run");
            std::fs::write(&run, script).unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let mut command = Command::new("runsvdir");
        command
            .arg("-P")
            .arg(&root)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = super::spawn_server(&mut command, nix::sys::signal::Signal::SIGHUP, "runsvdir");
        Runit {
            services: root,
            child: Some(child),
        }
    }

    pub fn service(&self, name: &str) -> PathBuf {
        self.services.join(name)
    }

    /// The pid runsv reports for the service, once it runs one.
    pub fn pid(&self, name: &str) -> Option<i32> {
        std::fs::read_to_string(self.service(name).join("supervise/pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
            .filter(|&pid: &i32| pid > 0)
    }

    /// Runs `sv` on a service.
    pub fn sv(&self, args: &[&str], name: &str) -> std::process::Output {
        Command::new("sv")
            .args(args)
            .arg(self.service(name))
            .output()
            .expect("running sv")
    }
}

impl Drop for Runit {
    fn drop(&mut self) {
        if let Ok(entries) = std::fs::read_dir(&self.services) {
            for entry in entries.flatten() {
                let _ = Command::new("sv")
                    .args(["-w", "5", "force-stop"])
                    .arg(entry.path())
                    .output();
                let _ = Command::new("sv").arg("exit").arg(entry.path()).output();
            }
        }
        if let Some(mut child) = self.child.take() {
            // SIGHUP: runsvdir stops every runsv, which stop their services.
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(child.id() as i32),
                nix::sys::signal::Signal::SIGHUP,
            );
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while std::time::Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
