//! Sites joined through NATS JetStream (README "Across sites"): a hub and
//! two sites, three nats-servers each with a JetStream domain of its own,
//! the sites leaf nodes of the hub. The link is cut by starting the hub
//! again without its leaf node listener: hosts at both sites bark for
//! 30 s, each site's server keeps what they say, and an order sent at the
//! hub meanwhile waits there. Joined again, every event is in the hub's
//! store exactly once and the order runs once.

use crate::util::nats::NatsServer;
use crate::util::{Background, TestEnv, bin, wait_until};
use std::time::{Duration, Instant};

fn stored(db: &std::path::Path) -> (i64, i64) {
    rusqlite::Connection::open(db)
        .and_then(|c| {
            c.query_row(
                "SELECT count(*), count(DISTINCT id) FROM events WHERE tag = 'job'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
        })
        .unwrap_or((0, 0))
}

/// One participant: its own state, configuration and server.
fn at(server: &NatsServer, site: &str, extra: &str) -> TestEnv {
    let mut env = TestEnv::new();
    env.set("SD_BROKER", server.url());
    env.write_config(&format!(
        "[broker]\nsite = \"{site}\"\ntimeout = \"2s\"\n{extra}"
    ));
    env
}

#[test]
fn a_site_cut_off_keeps_working_and_the_hub_catches_up_once() {
    let dir = TestEnv::new();
    let leaf = crate::util::free_port();
    let with_link = format!("server_name: hub\nleafnodes {{ listen: 127.0.0.1:{leaf} }}");
    let mut hub = NatsServer::start_in_domain(dir.path("hub"), Some("hub"), &with_link);
    let site_server = |name: &str| {
        NatsServer::start_in_domain(
            dir.path(name),
            Some(name),
            &format!(
                "server_name: {name}\nleafnodes {{ remotes: [ {{ url: \"nats-leaf://127.0.0.1:{leaf}\" }} ] }}"
            ),
        )
    };
    let (office, colo) = (site_server("office"), site_server("colo"));
    let central = at(&hub, "hub", "sites = [\"office\", \"colo\"]\n");
    let db = central.path("hub.db");
    let store = Background::new(
        central
            .cmd("sd-recv")
            .args(["--group", "store", "--", bin("sd-store"), "--echo"])
            .arg(&db)
            .own_group()
            .spawn_to(&central.path("store.out"), &central.path("store.err")),
    );
    let hosts = [at(&office, "office", ""), at(&colo, "colo", "")];
    let bark = |host: usize, n: usize| {
        hosts[host]
            .cmd("sd-bark")
            .stdin(format!(
                "{{\"id\":\"h{host}-{n}\",\"host\":\"h{host}\",\"tag\":\"job\",\"status\":\"ok\"}}\n"
            ))
            .expect_code(0);
    };
    bark(0, 0);
    bark(1, 0);
    let err = || std::fs::read_to_string(central.path("store.err")).unwrap_or_default();
    assert!(
        wait_until(30, || stored(&db) == (2, 2)),
        "the hub's store: {:?}\n{}",
        stored(&db),
        err()
    );

    // The office's sd-obey, waiting for orders from the hub.
    let key = central.path("orders.key");
    central
        .cmd("sd-order")
        .arg("keygen")
        .arg(&key)
        .expect_code(0);
    let touched = hosts[0].path("touched");
    std::fs::create_dir_all(&touched).unwrap();
    let obey_config = hosts[0].path("obey.toml");
    std::fs::write(
        &obey_config,
        format!(
            "[broker]\nsite = \"office\"\n\n[obey]\nhost = \"tux01\"\ntrusted_keys = [\"{}.pub\"]\n\
             ledger = \"{}\"\n\n[[action]]\nname = \"touch\"\ncmd = [\"touch\", \"{}/{{name}}\"]\n\
             args = {{ name = \"word\" }}\n",
            key.display(),
            hosts[0].path("ledger.db").display(),
            touched.display()
        ),
    )
    .unwrap();
    let obey = Background::new(
        hosts[0]
            .cmd("sd-obey")
            .arg("--config")
            .arg(&obey_config)
            .own_group()
            .spawn_to(&hosts[0].path("obey.out"), &hosts[0].path("obey.err")),
    );

    // The link cut: the hub runs on without its leaf node listener.
    hub.restart_with(Some("hub"), "server_name: hub");
    central
        .cmd("sd-order")
        .arg("--key-file")
        .arg(&key)
        .args(["--host", "tux01", "touch", "name=during"])
        .expect_code(0);
    let cut = Instant::now();
    let mut n = 1;
    while cut.elapsed() < Duration::from_secs(30) {
        bark(0, n);
        bark(1, n);
        n += 1;
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(
        !touched.join("during").exists(),
        "the order crossed a cut link"
    );
    let all = 2 * n as i64;
    assert!(stored(&db).0 < all, "the link was not cut");

    // Joined again: everything reaches the hub once, the order runs once.
    hub.restart_with(Some("hub"), &with_link);
    assert!(
        wait_until(60, || stored(&db) == (all, all)),
        "the hub's store: {:?} of {all}\n{}",
        stored(&db),
        err()
    );
    assert!(
        wait_until(30, || touched.join("during").exists()),
        "the order never ran: {}",
        std::fs::read_to_string(hosts[0].path("obey.err")).unwrap_or_default()
    );
    std::thread::sleep(Duration::from_secs(1));
    obey.terminate();
    store.terminate();
    assert_eq!(stored(&db), (all, all), "stored twice");
}

/// contrib/nats/site.conf as shipped (its port, store and the link to
/// the hub aside), the host named as this machine is: the host's user
/// barks and reads its own orders; it may not look at the site's groups.
#[test]
fn the_contributed_site_configuration_lets_a_host_bark_and_obey_only() {
    let host = sheepdog::base::ident::short_hostname();
    let shipped = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/contrib/nats/site.conf"
    ))
    .unwrap();
    let dir = TestEnv::new();
    let site = NatsServer::start_from(dir.path("office"), |port, store| {
        let leaf = shipped.find("leafnodes {").unwrap();
        let end = leaf + shipped[leaf..].find("\n}\n").unwrap() + 3;
        format!("{}{}", &shipped[..leaf], &shipped[end..])
            .replace("0.0.0.0:4222", &format!("127.0.0.1:{port}"))
            .replace("/var/lib/nats", &store.display().to_string())
            .replace("tux01", &host)
    });
    let as_user = |user: &str, password: &str| {
        let mut env = TestEnv::new();
        env.set(
            "SD_BROKER",
            format!("nats://{user}:{password}@127.0.0.1:{}", site.port),
        );
        env.write_config("[broker]\nsite = \"office\"\ntimeout = \"2s\"\n");
        env
    };
    // The site's own user makes the streams, as its receivers would.
    let admin = as_user("site", "CHANGE-ME-site");
    admin
        .cmd("sd-bark")
        .stdin("{\"tag\":\"first\",\"status\":\"ok\"}\n")
        .expect_code(0);
    let key = admin.path("orders.key");
    admin.cmd("sd-order").arg("keygen").arg(&key).expect_code(0);
    let config = admin.path("obey.toml");
    std::fs::write(
        &config,
        format!(
            "[broker]\nsite = \"office\"\ntimeout = \"2s\"\n\n[obey]\nhost = \"{host}\"\n\
             trusted_keys = [\"{}.pub\"]\nledger = \"{}\"\n",
            key.display(),
            admin.path("ledger.db").display()
        ),
    )
    .unwrap();
    admin
        .cmd("sd-obey")
        .arg("--config")
        .arg(&config)
        .arg("--once")
        .expect_code(0);

    let tux = as_user(&host, &format!("CHANGE-ME-{host}"));
    tux.cmd("sd-bark")
        .stdin("{\"tag\":\"web\",\"status\":\"ok\"}\n")
        .expect_code(0);
    tux.cmd("sd-obey")
        .arg("--config")
        .arg(&config)
        .arg("--once")
        .expect_code(0);
    let run = tux.cmd("sd-recv").arg("--groups").run();
    assert_eq!(run.code(), Some(2), "{}", run.report());
    assert!(run.stderr().contains("refused"), "{}", run.report());
}

/// Both contributed server configurations read as nats-server reads them.
#[test]
fn the_contributed_nats_configurations_are_valid() {
    for name in ["hub.conf", "site.conf"] {
        let path = format!("{}/contrib/nats/{name}", env!("CARGO_MANIFEST_DIR"));
        let out = std::process::Command::new("nats-server")
            .args(["-t", "-c", &path])
            .output()
            .expect("nats-server (the README's test command installs it)");
        assert!(
            out.status.success(),
            "{name}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
