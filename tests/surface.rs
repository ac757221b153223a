//! The board as others read it: a self-contained page rendered by a real
//! browser (Debian's headless Chromium) that must make no network request,
//! and metrics that promtool (Debian's prometheus) accepts.

use crate::util::{TestEnv, have};
use std::path::{Path, PathBuf};

/// The fixture herd of tests/query.rs, a hostile message and facts, in a
/// store.
fn store(env: &TestEnv) -> PathBuf {
    let db = env.path("events.db");
    let now = sheepdog::base::time::now_ms();
    let hostile = format!(
        r#"{{"v":1,"id":"evil","time":"{}","host":"tux03","tag":"web","kind":"run","status":"warn","elapsed_ms":1500,"msg":"<img src=\"http://127.0.0.1:9/x.png\"><script>document.title='owned'</script>"}}"#,
        sheepdog::base::time::format_ms(now - 1000)
    ) + "\n";
    env.cmd("sd-store")
        .arg(&db)
        .stdin(crate::query::herd(now) + &hostile)
        .expect_code(0);
    db
}

/// Headless Chromium on a file, logging its network activity to `netlog`;
/// `what` is `--dump-dom` or `--screenshot=FILE`.
fn chromium(env: &TestEnv, page: &Path, what: &str, netlog: &Path) -> crate::util::Run {
    env.external("/usr/bin/chromium", "chromium")
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--window-size=1100,560",
            what,
        ])
        .arg(format!(
            "--user-data-dir={}",
            env.path("chromium").display()
        ))
        .arg(format!("--log-net-log={}", netlog.display()))
        .arg(format!("file://{}", page.display()))
        .expect_code(0)
}

/// The URLs a page itself asked for (the browser's own background
/// requests have no origin; a page's have its own, `null` for file://).
fn page_requests(netlog: &Path) -> Vec<String> {
    let log: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(netlog).unwrap()).unwrap();
    let start = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"].clone();
    log["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == start && e["params"]["initiator"] != "not an origin")
        .filter_map(|e| e["params"]["url"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn the_status_page_renders_in_a_browser_and_asks_nothing_of_the_network() {
    assert!(
        have("chromium"),
        "chromium is not installed (Debian's chromium); the README's test command installs it"
    );
    let env = TestEnv::new();
    let db = store(&env);
    // Written as the crontab writes it: whole, through --output.
    let page = env.path("www/status.html");
    env.cmd("sd-query")
        .arg(&db)
        .args(["status", "--format", "html", "--output"])
        .arg(&page)
        .expect_code(0);
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        !html.contains("<img") && !html.contains("<script"),
        "escaped"
    );
    for external in ["http:", "https:", "//", "@import", "url("] {
        let outside = html.replace("http://127.0.0.1:9/x.png", "");
        assert!(!outside.contains(external), "the page refers to {external}");
    }

    // What the browser built: every cell, its status in colour and word.
    let dom = chromium(&env, &page, "--dump-dom", &env.path("dom.netlog")).stdout();
    let cell = |host: &str, tag: &str| -> String {
        let at = dom
            .find(&format!("data-host=\"{host}\" data-tag=\"{tag}\""))
            .unwrap_or_else(|| panic!("no cell for {host} {tag}"));
        let start = dom[..at].rfind("<td").unwrap();
        dom[start..start + dom[start..].find("</td>").unwrap()].to_string()
    };
    let open = cell("tux01", "cron");
    assert!(open.starts_with("<td class=\"fail\""), "{open}");
    assert!(
        open.contains(">fail</span>") && open.contains("interruption open"),
        "{open}"
    );
    assert!(open.contains("since 2d"), "{open}");
    assert_eq!(open.matches("<i class=\"bad\">").count(), 3, "{open}");
    let fine = cell("tux04", "web");
    assert!(
        fine.starts_with("<td class=\"ok\"") && fine.contains(">ok</span>"),
        "{fine}"
    );
    assert_eq!(fine.matches("<i class=\"bad\">").count(), 0, "{fine}");
    let warned = cell("tux03", "web");
    assert!(warned.contains("&lt;script&gt;"), "{warned}");
    assert!(
        dom.contains("<title>sheepdog: 1 failing of"),
        "the script did not run"
    );
    assert!(
        dom.contains("2 GiB RAM") && dom.contains("Debian GNU/Linux 12"),
        "facts"
    );
    assert!(
        dom.contains("<td class=\"none\">"),
        "a tag a host does not have"
    );

    // Drawn, with no request of the page's own.
    let shot = env.path("status.png");
    let netlog = env.path("shot.netlog");
    chromium(
        &env,
        &page,
        &format!("--screenshot={}", shot.display()),
        &netlog,
    );
    assert!(std::fs::metadata(&shot).unwrap().len() > 10_000);
    assert_eq!(page_requests(&netlog), Vec::<String>::new());
    if std::env::var_os("SD_UPDATE_SCREENSHOT").is_some() {
        let kept = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/status-page.png");
        std::fs::copy(&shot, kept).unwrap();
    }

    // The same check catches a page that does ask.
    let control = env.path("control.html");
    std::fs::write(&control, "<img src=\"http://127.0.0.1:9/x.png\">").unwrap();
    let netlog = env.path("control.netlog");
    chromium(&env, &control, "--dump-dom", &netlog);
    assert_eq!(page_requests(&netlog), ["http://127.0.0.1:9/x.png"]);
}

#[test]
fn metrics_are_valid_for_promtool() {
    assert!(
        have("promtool"),
        "promtool is not installed (Debian's prometheus); the README's test command installs it"
    );
    let env = TestEnv::new();
    let db = store(&env);
    let metrics = env
        .cmd("sd-query")
        .arg(&db)
        .args(["status", "--format", "openmetrics"])
        .expect_code(0)
        .stdout();
    let check = env
        .external("promtool", "promtool")
        .args(["check", "metrics"])
        .stdin(metrics.clone())
        .run();
    assert_eq!(check.code(), Some(0), "{}\n{metrics}", check.report());
    for line in [
        "sheepdog_status{host=\"tux01\",tag=\"cron\",status=\"fail\"} 1",
        "sheepdog_status{host=\"tux01\",tag=\"cron\",status=\"ok\"} 0",
        "sheepdog_open_interruptions{host=\"tux01\",tag=\"cron\"} 1",
        "sheepdog_open_interruptions{host=\"tux01\",tag=\"web\"} 0",
        "sheepdog_last_duration_seconds{host=\"tux03\",tag=\"web\"} 1.500",
    ] {
        assert!(metrics.contains(line), "no `{line}` in\n{metrics}");
    }
    assert!(metrics.contains("sheepdog_last_ok_timestamp_seconds{host=\"tux01\",tag=\"web\"}"));
    assert!(metrics.ends_with("# EOF\n"));
    let wrong = env
        .cmd("sd-query")
        .arg(&db)
        .args(["events", "--output", "x"])
        .expect_code(2);
    assert!(
        wrong.stderr().contains("--output is for the board"),
        "{}",
        wrong.report()
    );
    // --check still says whether anything fails.
    env.cmd("sd-query")
        .arg(&db)
        .args(["status", "--format", "openmetrics", "--check"])
        .expect_code(1);
}

/// Cron rewrites the page and the metrics while a web server or
/// node_exporter reads them: each write is a new file renamed over the
/// old, so a reader holds either the old whole or the new whole.
#[test]
fn the_page_and_the_metrics_are_replaced_whole() {
    use std::io::Read;
    use std::os::unix::fs::MetadataExt;
    let env = TestEnv::new();
    let db = store(&env);
    for (format, end) in [("html", "</html>\n"), ("openmetrics", "# EOF\n")] {
        let file = env.path(&format!("out/status.{format}"));
        let write = || {
            env.cmd("sd-query")
                .arg(&db)
                .args(["status", "--format", format, "--output"])
                .arg(&file)
                .expect_code(0);
        };
        write();
        let mut reader = std::fs::File::open(&file).unwrap();
        let first = std::fs::metadata(&file).unwrap().ino();
        write();
        assert_ne!(
            std::fs::metadata(&file).unwrap().ino(),
            first,
            "{format}: rewritten in place"
        );
        // The reader that opened the old one still reads it all.
        let mut old = String::new();
        reader.read_to_string(&mut old).unwrap();
        assert!(old.ends_with(end), "{format}: {old}");
        let names: Vec<String> = std::fs::read_dir(file.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(format))
            .collect();
        assert_eq!(
            names,
            [format!("status.{format}")],
            "nothing left beside it"
        );
    }
}

/// The repository cites only what it contains: every `docs/ARCHITECTURE.md
/// §N` the code or the docs name has its section, and no file points at
/// notes that are not in the repository.
#[test]
fn every_cited_section_exists() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let architecture = std::fs::read_to_string(root.join("docs/ARCHITECTURE.md")).unwrap();
    let mut files = vec![
        root.join("Cargo.toml"),
        root.join("README.md"),
        root.join("docs/ARCHITECTURE.md"),
    ];
    let mut dirs = vec![root.join("src"), root.join("tests"), root.join("bins")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    let mut missing = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        // A citation may break across comment lines: read it as one line.
        let flat: String = text
            .lines()
            .map(|l| {
                l.trim_start()
                    .trim_start_matches("//!")
                    .trim_start_matches("//")
            })
            .collect::<Vec<_>>()
            .join(" ");
        for (at, _) in flat.match_indices("ARCHITECTURE.md") {
            let rest = flat[at + "ARCHITECTURE.md".len()..].trim_start();
            if let Some(number) = rest.strip_prefix('§') {
                let n: String = number.chars().take_while(char::is_ascii_digit).collect();
                if !architecture.contains(&format!("\n## {n}. ")) {
                    missing.push(format!("{}: §{n}", file.display()));
                }
            }
        }
        for elsewhere in ["STYLE.md", "DESIGN.md"] {
            if flat.contains(elsewhere) && !file.ends_with("tests/surface.rs") {
                missing.push(format!("{}: cites {elsewhere}", file.display()));
            }
        }
    }
    assert!(missing.is_empty(), "{missing:#?}");
}
