//! The man pages in man/ are generated from the clap definitions; this
//! test fails when one is stale. Regenerate with
//! `SD_UPDATE_MAN=1 cargo test --features gen man_pages`.

use std::path::Path;

#[test]
fn man_pages_are_current() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("man");
    let update = std::env::var_os("SD_UPDATE_MAN").is_some();
    let mut stale = Vec::new();
    for page in sheepdog::manual::commands::ALL {
        let path = dir.join(format!("{}.1", page.name));
        let fresh = sheepdog::manual::man::render(page);
        if update {
            std::fs::write(&path, &fresh).unwrap();
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(fresh.as_str()) {
            stale.push(path.display().to_string());
        }
    }
    assert!(
        stale.is_empty(),
        "stale man pages: {stale:?}; run `SD_UPDATE_MAN=1 cargo test --features gen man_pages` and commit man/"
    );
}

#[test]
fn man_pages_have_no_groff_warnings() {
    assert!(
        crate::util::have("groff"),
        "groff is not installed; the README's test command installs it"
    );
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("man");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let output = std::process::Command::new("groff")
            .args(["-man", "-ww", "-z"])
            .arg(&path)
            .output()
            .unwrap();
        let warnings = String::from_utf8_lossy(&output.stderr);
        assert!(warnings.is_empty(), "{}: {warnings}", path.display());
    }
}

#[test]
fn every_page_has_the_required_sections() {
    for page in sheepdog::manual::commands::ALL {
        let text = sheepdog::manual::man::render(page);
        for section in [
            "NAME",
            "SYNOPSIS",
            "DESCRIPTION",
            "OPTIONS",
            "EXIT STATUS",
            "EXAMPLES",
            "SEE ALSO",
        ] {
            assert!(
                text.contains(&format!(".SH {section}"))
                    || text.contains(&format!(".SH \"{section}\"")),
                "{} has no {section} section",
                page.name
            );
        }
    }
}

#[test]
fn every_command_has_a_page() {
    let manifest =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).unwrap();
    let binaries: Vec<&str> = manifest
        .lines()
        .filter_map(|l| l.strip_prefix("name = \"sd-"))
        .map(|rest| rest.trim_end_matches('"'))
        .collect();
    let pages: Vec<String> = sheepdog::manual::commands::ALL
        .iter()
        .map(|p| p.name.to_string())
        .collect();
    assert!(binaries.len() >= 7, "{binaries:?}");
    for binary in binaries {
        assert!(
            pages.contains(&format!("sd-{binary}")),
            "sd-{binary} is missing from commands::ALL"
        );
    }
}

#[test]
fn completions_are_current() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let update = std::env::var_os("SD_UPDATE_MAN").is_some();
    let mut stale = Vec::new();
    for page in sheepdog::manual::commands::ALL {
        for shell in sheepdog::manual::completions::SHELLS {
            let path = root.join(sheepdog::manual::completions::file(shell, page.name));
            let fresh = sheepdog::manual::completions::render(shell, page);
            if update {
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, &fresh).unwrap();
            } else if std::fs::read_to_string(&path).ok().as_deref() != Some(fresh.as_str()) {
                stale.push(path.display().to_string());
            }
        }
    }
    assert!(
        stale.is_empty(),
        "stale completions: {stale:?}; run `SD_UPDATE_MAN=1 cargo test --features gen man_pages` and commit completions/"
    );
}

#[test]
fn bash_completes_a_flag() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("completions/bash/sd-run");
    let output = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source {}; f=$(complete -p sd-run | sed -E 's/.*-F ([^ ]+).*/\\1/'); \
             COMP_WORDS=(sd-run --time); COMP_CWORD=1; $f sd-run --time sd-run; \
             printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            script.display()
        ))
        .output()
        .unwrap();
    let words = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        words.trim(),
        "--timeout",
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
