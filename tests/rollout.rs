//! A rollout to ten hosts, as README "Rolling out to the herd" tells it:
//! a server and ten hosts, each in a network namespace of this test's own
//! (a bridge in the server's, a veth to each host), each host with its own
//! hostname (`unshare --uts`), configuration and spool. The server enrolls
//! all ten, each applies its bundle and barks; every host's events arrive,
//! verified by the keyring; a host can read no other's orders nor speak as
//! another; a revoked host's events wait in its spool.

use crate::util::{Background, TestEnv, bin, have, skip, wait_until};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const HOSTS: usize = 10;
/// Inside the server's own namespace: no one else's port.
const PORT: &str = "6390";

/// Network namespaces made for one test, deleted when it ends however it
/// ends (their veths go with them).
struct Namespaces {
    names: Vec<String>,
}

impl Namespaces {
    fn add(&mut self, name: String) -> String {
        ip(&["netns", "add", &name]);
        self.names.push(name.clone());
        name
    }
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        for name in self.names.iter().rev() {
            let _ = Command::new("ip")
                .args(["netns", "del", name])
                .stderr(Stdio::null())
                .status();
        }
    }
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("ip");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A host: its namespace, name, configuration directory and spool.
struct Host {
    netns: String,
    name: String,
    etc: PathBuf,
    state: PathBuf,
}

impl Host {
    /// `sh -c script` in the host's namespace under its own hostname,
    /// with its own state; (success, stdout, stderr).
    fn sh(&self, script: &str) -> (bool, String, String) {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.netns, "unshare", "--uts", "sh", "-c"])
            .arg(format!("hostname {} && {script}", self.name))
            .env("XDG_STATE_HOME", &self.state)
            .env("ETC", &self.etc)
            .env("PATH", path_with_binaries())
            .output()
            .expect("ip netns exec");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn must(&self, script: &str) -> String {
        let (ok, out, err) = self.sh(script);
        assert!(ok, "{}: `{script}` failed:\n{out}\n{err}", self.name);
        out
    }
}

/// PATH with the directory of the binaries under test first.
fn path_with_binaries() -> String {
    let dir = Path::new(bin("sd-enroll")).parent().unwrap();
    format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

#[test]
fn ten_hosts_enroll_bark_and_one_is_revoked() {
    let test = "rollout::ten_hosts_enroll_bark_and_one_is_revoked";
    if !nix::unistd::geteuid().is_root() || !have("ip") || !have("unshare") {
        skip(test, "needs root, ip and unshare for network namespaces");
        return;
    }
    let env = TestEnv::new();
    let tag = std::process::id();
    let mut spaces = Namespaces { names: Vec::new() };
    let server = spaces.add(format!("sdt{tag}-srv"));
    let in_server = |args: &[&str]| {
        let mut full = vec!["netns", "exec", &server];
        full.extend_from_slice(args);
        ip(&full);
    };
    in_server(&["ip", "link", "set", "lo", "up"]);
    in_server(&["ip", "link", "add", "br0", "type", "bridge"]);
    in_server(&["ip", "addr", "add", "10.201.0.1/24", "dev", "br0"]);
    in_server(&["ip", "link", "set", "br0", "up"]);
    let mut hosts = Vec::new();
    for i in 1..=HOSTS {
        let netns = spaces.add(format!("sdt{tag}-h{i}"));
        let (inner, outer) = (format!("h{i}"), format!("sdt{tag}v{i}"));
        ip(&[
            "link", "add", &outer, "type", "veth", "peer", "name", &inner,
        ]);
        ip(&["link", "set", &inner, "netns", &netns]);
        ip(&["link", "set", &outer, "netns", &server]);
        in_server(&["ip", "link", "set", &outer, "master", "br0", "up"]);
        let run = |args: &[&str]| {
            let mut full = vec!["netns", "exec", netns.as_str()];
            full.extend_from_slice(args);
            ip(&full);
        };
        run(&[
            "ip",
            "addr",
            "add",
            &format!("10.201.0.{}/24", 10 + i),
            "dev",
            &inner,
        ]);
        run(&["ip", "link", "set", &inner, "up"]);
        run(&["ip", "link", "set", "lo", "up"]);
        let dir = env.path(&format!("host{i}"));
        std::fs::create_dir_all(&dir).unwrap();
        hosts.push(Host {
            netns,
            name: format!("host{i}"),
            etc: dir.join("etc"),
            state: dir.join("state"),
        });
    }

    // The server: Redis with an aclfile, an orders key, its configuration.
    let redis_dir = env.path("redis");
    std::fs::create_dir_all(&redis_dir).unwrap();
    let aclfile = redis_dir.join("users.acl");
    // The administrator has a password (as a broker others reach must:
    // Redis refuses them otherwise); the hosts get users of their own.
    std::fs::write(&aclfile, "user default on >admin-pw ~* &* +@all\n").unwrap();
    std::fs::write(env.path("admin.pass"), "admin-pw\n").unwrap();
    let _redis = Background::new(
        Command::new("ip")
            .args(["netns", "exec", &server, "redis-server", "--port", PORT])
            .args([
                "--bind",
                "127.0.0.1 10.201.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .arg("--dir")
            .arg(&redis_dir)
            .arg("--aclfile")
            .arg(&aclfile)
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server"),
    );
    let in_ns = |script: &str| -> (bool, String, String) {
        let out = Command::new("ip")
            .args(["netns", "exec", &server, "sh", "-c", script])
            .current_dir(env.path(""))
            .env("PATH", path_with_binaries())
            .env("XDG_STATE_HOME", env.path("server-state"))
            .env("REDISCLI_AUTH", "admin-pw")
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    assert!(
        wait_until(10, || in_ns(&format!("redis-cli -p {PORT} ping"))
            .1
            .contains("PONG")),
        "redis-server did not start in {server}"
    );
    std::fs::write(
        env.path("server.toml"),
        format!(
            "[broker]\nurl = \"redis://127.0.0.1:{PORT}\"\npassword_file = \"{}\"\n\
             [order]\nkey_file = \"{}\"\n",
            env.path("admin.pass").display(),
            env.path("orders.key").display()
        ),
    )
    .unwrap();
    let (ok, _, err) = in_ns("sd-order keygen orders.key");
    assert!(ok, "{err}");

    // The rollout: enroll all ten, then each applies its bundle and barks.
    let started = std::time::Instant::now();
    for host in &hosts {
        let (ok, _, err) = in_ns(&format!(
            "sd-enroll add {name} --config server.toml --keyring keyring \
             --host-url redis://10.201.0.1:{PORT} -o {name}.bundle",
            name = host.name
        ));
        assert!(ok, "{err}");
        let bundle = env.path(&format!("{}.bundle", host.name));
        host.must(&format!(
            "sd-enroll apply {} --etc \"$ETC\" && \
             echo '{{\"tag\":\"backup\",\"status\":\"ok\"}}' | sd-bark --config \"$ETC/sheepdog.toml\"",
            bundle.display()
        ));
    }
    eprintln!(
        "enrolled, applied and barked on {HOSTS} hosts in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let receive = || {
        let (_, _, err) = in_ns(
            "sd-recv --config server.toml --keyring keyring --require-signed \
             --group store --once | sd-store events.db",
        );
        err
    };
    let said = receive();
    let store = || {
        let (_, out, _) = in_ns("sd-query events.db events --since 1h --format json");
        out.lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .collect::<Vec<_>>()
    };
    let events = store();
    for host in &hosts {
        let theirs: Vec<&str> = events
            .iter()
            .filter(|e| e["host"] == host.name.as_str())
            .filter_map(|e| e["tag"].as_str())
            .collect();
        for wanted in ["facts", "enroll", "backup"] {
            assert!(
                theirs.contains(&wanted),
                "{}: {theirs:?}\n{said}",
                host.name
            );
        }
    }
    let (_, rejected, _) = in_ns(&format!("redis-cli -p {PORT} XLEN sheepdog:rejected"));
    assert_eq!(rejected.trim(), "0", "{said}");

    // host3 can neither read host4's orders nor speak as host4.
    let host3 = &hosts[2];
    let bundle3: Value =
        serde_json::from_str(&std::fs::read_to_string(env.path("host3.bundle")).unwrap()).unwrap();
    let (_, out, _) = host3.sh(&format!(
        "REDISCLI_AUTH={} redis-cli --user sd-host3 -h 10.201.0.1 -p {PORT} \
         XREADGROUP GROUP obey c COUNT 1 STREAMS sheepdog:orders:host4 '>'",
        bundle3["password"].as_str().unwrap()
    ));
    assert!(out.contains("NOPERM"), "{out}");
    host3.must(
        "echo '{\"host\":\"host4\",\"tag\":\"forged\",\"status\":\"ok\"}' | sd-bark --config \"$ETC/sheepdog.toml\"",
    );
    let said = receive();
    assert!(
        said.contains("does not match the key of host \"host4\""),
        "{said}"
    );
    assert!(!store().iter().any(|e| e["tag"] == "forged"));

    // Revoked, host7 is refused as such; its event waits in its spool and
    // nothing of it reaches the store.
    let (ok, _, err) = in_ns("sd-enroll revoke host7 --config server.toml --keyring keyring");
    assert!(ok, "{err}");
    let host7 = &hosts[6];
    let (ok, _, err) = host7.sh(
        "echo '{\"tag\":\"after-revoke\",\"status\":\"fail\"}' | sd-bark --config \"$ETC/sheepdog.toml\"",
    );
    assert!(
        !ok && err.contains("the broker refused us") && err.contains("wait in the spool"),
        "{err}"
    );
    receive();
    assert!(!store().iter().any(|e| e["tag"] == "after-revoke"));
}
