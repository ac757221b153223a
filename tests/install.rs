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
    for page in sheepdog::man::pages() {
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
}
