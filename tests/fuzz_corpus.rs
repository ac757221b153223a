//! Replays the fuzz corpus (fuzz/corpus/<target>/, grown by cargo-fuzz,
//! see fuzz/Cargo.toml) through the same targets: every input that ever
//! found a problem, or new ground, stays a test.

use std::path::Path;

#[test]
fn the_fuzz_corpus_replays_without_a_panic() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    let mut failures = Vec::new();
    for (name, target) in sheepdog::fuzzing::TARGETS {
        let dir = root.join(name);
        let mut inputs = 0;
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            let data = std::fs::read(&path).unwrap();
            inputs += 1;
            if std::panic::catch_unwind(|| target(&data)).is_err() {
                failures.push(path.display().to_string());
            }
        }
        assert!(inputs >= 5, "the {name} corpus is nearly empty");
    }
    assert!(failures.is_empty(), "inputs that panic: {failures:#?}");
}
