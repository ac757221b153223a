//! What the library's own tests share.

use std::path::PathBuf;

/// A file of that name in a fresh temporary directory, which lives as
/// long as the returned guard.
pub fn scratch(name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join(name);
    (dir, path)
}
