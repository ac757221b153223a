//! The Debian package (`make deb`, contrib/debian/build): lintian finds
//! nothing to warn of, and on Debian 12 and Debian 13 — chroots made by
//! debootstrap, cached outside the tree — it installs with apt-get, works
//! as the README's first command, and leaves as Debian's own packages do:
//! removed, the programs go and the configuration stays; purged, the
//! configuration goes too.

use crate::util::{TestEnv, have, skip};
use std::path::{Path, PathBuf};
use std::process::Command;

/// (suite, the cache's name for it)
const RELEASES: [(&str, &str); 2] = [("bookworm", "debian-12"), ("trixie", "debian-13")];

/// The package of the binaries this test run built.
fn build_package(env: &TestEnv) -> PathBuf {
    let built = Path::new(crate::util::bin("sd-run")).parent().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = env.path("deb");
    let run = env
        .external(root.join("contrib/debian/build").to_str().unwrap(), "build")
        .arg(built)
        .arg(&out)
        .run();
    assert_eq!(run.code(), Some(0), "{}", run.report());
    PathBuf::from(run.stdout().trim())
}

/// Where the pristine chroots are kept between runs: beside the test
/// suite's other downloads (tests/check.sh), never in the tree.
fn cache() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from("/var/cache"))
        .join("sheepdog-tests")
}

/// A minimal Debian `suite` (with adduser, which the package needs, and
/// man-db, to read a page), made once; `Err` says why it could not be.
fn pristine(suite: &str, name: &str) -> Result<PathBuf, String> {
    let dir = cache().join(name);
    if dir.join("usr/bin/apt-get").exists() {
        return Ok(dir);
    }
    let partial = cache().join(format!("{name}.partial"));
    let _ = std::fs::remove_dir_all(&partial);
    std::fs::create_dir_all(cache()).map_err(|e| e.to_string())?;
    let mirror = std::env::var("SD_DEBIAN_MIRROR")
        .unwrap_or_else(|_| "http://deb.debian.org/debian".to_string());
    eprintln!("debootstrap {suite} into {} (once)", dir.display());
    let made = Command::new("debootstrap")
        .args(["--variant=minbase", "--include=adduser,man-db", suite])
        .arg(&partial)
        .arg(&mirror)
        .output()
        .map_err(|e| format!("debootstrap: {e}"))?;
    if !made.status.success() {
        let _ = std::fs::remove_dir_all(&partial);
        let log = String::from_utf8_lossy(&made.stdout);
        let last = log.lines().last().unwrap_or_default().to_string();
        return Err(format!("debootstrap {suite} from {mirror} failed: {last}"));
    }
    std::fs::rename(&partial, &dir).map_err(|e| e.to_string())?;
    Ok(dir)
}

/// Runs `script` as root inside the chroot at `root`, with its own /proc
/// in a mount namespace that ends with it (nothing to unmount, even when
/// the test fails). Returns (success, stdout, stderr).
fn inside(root: &Path, script: &str) -> (bool, String, String) {
    let out = Command::new("unshare")
        .args(["--mount", "--pid", "--fork", "sh", "-c"])
        .arg(r#"mount -t proc proc "$1/proc" && exec chroot "$1" /bin/sh -c "$2""#)
        .args(["sh"])
        .arg(root)
        .arg(script)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("HOME", "/root")
        .env("LANG", "C.UTF-8")
        .env("DEBIAN_FRONTEND", "noninteractive")
        .output()
        .expect("unshare");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `inside`, which must succeed; its output.
fn must(root: &Path, script: &str) -> String {
    let (ok, out, err) = inside(root, script);
    assert!(ok, "`{script}` failed in {}:\n{out}\n{err}", root.display());
    out
}

#[test]
fn the_package_installs_works_and_leaves_cleanly_on_debian_12_and_13() {
    let test = "package::the_package_installs_works_and_leaves_cleanly_on_debian_12_and_13";
    if !nix::unistd::geteuid().is_root() {
        skip(test, "installing into a chroot needs root");
        return;
    }
    for tool in [
        "debootstrap",
        "dpkg-deb",
        "lintian",
        "unshare",
        "chroot",
        "objdump",
    ] {
        assert!(
            have(tool),
            "{tool} is not installed; the README's test command installs it"
        );
    }
    let env = TestEnv::new();
    let deb = build_package(&env);
    let name = deb.file_name().unwrap().to_str().unwrap().to_string();
    assert!(
        name.starts_with("sheepdog_") && name.ends_with(".deb"),
        "{name}"
    );

    // lintian: nothing at warning level or above (the README lists the
    // informational tags it still gives, and why).
    let lintian = Command::new("lintian").arg(&deb).output().expect("lintian");
    let said = String::from_utf8_lossy(&lintian.stdout);
    let serious: Vec<&str> = said
        .lines()
        .filter(|l| l.starts_with("E:") || l.starts_with("W:"))
        .collect();
    assert!(serious.is_empty(), "lintian:\n{said}");

    for (suite, release) in RELEASES {
        let pristine = match pristine(suite, release) {
            Ok(dir) => dir,
            Err(why) => {
                skip(test, &why);
                continue;
            }
        };
        let root = env.path(release);
        let copied = Command::new("cp")
            .arg("-a")
            .arg(&pristine)
            .arg(&root)
            .status()
            .unwrap();
        assert!(copied.success());
        std::fs::copy(&deb, root.join("tmp").join(&name)).unwrap();

        must(&root, &format!("apt-get install -y -q /tmp/{name}"));
        // The README's first command, as root on a fresh host.
        let event = must(
            &root,
            "sd-run --tag t -- true | sd-bark && sd-recv --group t --once",
        );
        assert!(
            event.contains(r#""tag":"t""#) && event.contains(r#""status":"ok""#),
            "{release}: {event}"
        );
        let page = must(&root, "man -P cat sd-run");
        assert!(page.contains("sd-run"), "{release}: {page}");
        let user = must(
            &root,
            "getent passwd sheepdog && stat -c '%U:%G %a' /var/lib/sheepdog",
        );
        assert!(
            user.contains(":/var/lib/sheepdog:") && user.contains("sheepdog:sheepdog 750"),
            "{release}: {user}"
        );
        // Installed, not enabled.
        must(
            &root,
            "test -f /usr/lib/systemd/system/sheepdog-store.service && \
             ! ls /etc/systemd/system/*.wants/sheepdog-* 2>/dev/null && \
             grep -q '^ExecStart=/usr/bin/sd-recv' /usr/lib/systemd/system/sheepdog-store.service",
        );
        // Again: the maintainer scripts change nothing the second time.
        must(
            &root,
            &format!(
                "id -u sheepdog > /tmp/uid && apt-get install -y -q --reinstall /tmp/{name} && id -u sheepdog | cmp - /tmp/uid"
            ),
        );

        must(&root, "apt-get remove -y -q sheepdog");
        must(
            &root,
            "! test -e /usr/bin/sheepdog && ! test -e /usr/bin/sd-run && \
             test -f /etc/sheepdog/sheepdog.toml && test -d /var/lib/sheepdog",
        );
        must(&root, "apt-get purge -y -q sheepdog");
        must(
            &root,
            "! test -e /etc/sheepdog && ! dpkg -s sheepdog >/dev/null 2>&1 && \
             test -f /var/lib/sheepdog/spool.db",
        );
        std::fs::remove_dir_all(&root).unwrap();
    }
}

/// The configuration the package installs names every key, and each one
/// is right: with every `#key = value` and `#[section]` taken out of its
/// comment, the file is read without an error.
#[test]
fn the_packaged_configuration_shows_every_key_and_reads_uncommented() {
    let env = TestEnv::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("contrib/debian/sheepdog.toml")).unwrap();
    let mut live = String::new();
    for line in text.lines() {
        let setting = line.strip_prefix('#').filter(|rest| {
            rest.starts_with('[')
                || rest
                    .split_once(" = ")
                    .is_some_and(|(k, _)| !k.contains(' '))
        });
        if let Some(setting) = setting {
            live.push_str(setting);
            live.push('\n');
        }
    }
    // Every key of the configuration's reference (sheepdog(7)) is there.
    let source = std::fs::read_to_string(root.join("src/config/file.rs")).unwrap();
    for field in source.lines().filter_map(|l| {
        l.trim()
            .strip_prefix("pub ")
            .and_then(|rest| rest.split_once(": "))
            .map(|(name, _)| name.to_string())
            .filter(|name| name.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
    }) {
        let key = match field.as_str() {
            "kind" => "type",
            "keep_going" => "continue",
            "length" => "for",
            // the sections themselves
            "broker" | "spool" | "store" | "mail" | "heartbeat" | "check" | "order" | "obey"
            | "action" | "rules" | "notify" | "route" | "bark" | "gate" | "maintenance" => continue,
            other => other,
        };
        assert!(
            live.lines().any(|l| l.starts_with(&format!("{key} = "))),
            "`{key}` is not in contrib/debian/sheepdog.toml"
        );
    }
    let config = env.path("sheepdog.toml");
    std::fs::write(&config, &live).unwrap();
    let run = env
        .cmd("sd-query")
        .arg("--config")
        .arg(&config)
        .args(["rules", "--check", "/dev/null"])
        .run();
    assert!(
        run.code() == Some(0) && !run.stderr().contains("sheepdog.toml"),
        "the uncommented file was refused:\n{}\n{live}",
        run.report()
    );
}
