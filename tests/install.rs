//! `make install` puts every binary, man page and completion where a Unix
//! user expects them (checked into a staging directory, as a packager
//! would run it).

use crate::util::TestEnv;
use std::path::Path;

#[test]
fn make_install_puts_everything_in_place() {
    assert!(
        crate::util::have("make"),
        "make is not installed; the README's test command installs it"
    );
    let env = TestEnv::new();
    let stage = env.path("stage");
    let built = Path::new(crate::util::bin("sd-run")).parent().unwrap();
    let root = env!("CARGO_MANIFEST_DIR");
    let run = env
        .external("make", "make")
        .args(["-C", root, "install-files", "PREFIX=/usr"])
        .arg(format!("DESTDIR={}", stage.display()))
        .arg(format!("BUILDDIR={}", built.display()))
        .run();
    assert_eq!(run.code(), Some(0), "{}", run.report());
    let usr = stage.join("usr");
    for page in sheepdog::manual::commands::ALL {
        let name = page.name;
        for path in [
            format!("bin/{name}"),
            format!("share/man/man1/{name}.1"),
            format!("share/bash-completion/completions/{name}"),
            format!("share/zsh/site-functions/_{name}"),
            format!("share/fish/vendor_completions.d/{name}.fish"),
        ] {
            assert!(usr.join(&path).is_file(), "{path} was not installed");
        }
        let version = env
            .external(usr.join("bin").join(name).to_str().unwrap(), name)
            .arg("--version")
            .expect_code(0);
        assert!(version.stdout().starts_with(name), "{}", version.stdout());
    }
    assert!(usr.join("share/man/man7/sheepdog.7").is_file());
    // One program, linked under every command's name.
    assert_eq!(
        std::fs::read_link(usr.join("bin/sd-run")).unwrap(),
        Path::new("sheepdog")
    );
    let sheepdog = usr.join("bin/sheepdog");
    let run = env
        .external(sheepdog.to_str().unwrap(), "sheepdog")
        .args(["run", "--version"])
        .expect_code(0);
    assert!(run.stdout().starts_with("sd-run "), "{}", run.report());
    let run = env
        .external(sheepdog.to_str().unwrap(), "sheepdog")
        .expect_code(2);
    assert!(run.stderr().contains("sd-heartbeat"), "{}", run.report());
}

/// `make && sudo make install`: the install step finds what the build
/// step made (under CARGO_TARGET_DIR when set) and does not build again,
/// so root needs no cargo; it builds only what is missing.
#[test]
fn make_install_after_make_installs_without_building_and_honours_cargo_target_dir() {
    let env = TestEnv::new();
    let built = Path::new(crate::util::bin("sd-run")).parent().unwrap();
    let target = env.path("target");
    std::fs::create_dir_all(&target).unwrap();
    std::os::unix::fs::symlink(built, target.join("release")).unwrap();
    let root = env!("CARGO_MANIFEST_DIR");
    let stage = env.path("stage");
    // CARGO=false: any attempt to build fails the install.
    let run = env
        .external("make", "make")
        .args(["-C", root, "install", "PREFIX=/usr", "CARGO=false"])
        .arg(format!("DESTDIR={}", stage.display()))
        .env("CARGO_TARGET_DIR", &target)
        .run();
    assert_eq!(run.code(), Some(0), "{}", run.report());
    assert!(stage.join("usr/bin/sd-expect").is_file());
    // Nothing built there yet: it builds (and here, with no cargo, fails).
    let empty = env.path("empty-target");
    std::fs::create_dir_all(&empty).unwrap();
    let run = env
        .external("make", "make")
        .args(["-C", root, "install", "PREFIX=/usr", "CARGO=false"])
        .arg(format!("DESTDIR={}", stage.display()))
        .env("CARGO_TARGET_DIR", &empty)
        .run();
    assert_ne!(run.code(), Some(0), "{}", run.report());
    assert!(
        run.stdout().contains("false build --release"),
        "{}",
        run.report()
    );
}
