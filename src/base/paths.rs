//! Where sheepdog keeps things when nobody said.
//!
//! A user's files live under the XDG directories; root's under
//! `/var/lib/sheepdog`. An XDG variable set explicitly wins even for root,
//! so a test (or an admin) can move everything aside.

use std::env;
use std::path::PathBuf;

/// Directory for state: the spool, locks, heartbeat counters.
pub fn state_dir() -> PathBuf {
    xdg_or_system("XDG_STATE_HOME", ".local/state")
}

/// Directory for data: the event store.
pub fn data_dir() -> PathBuf {
    xdg_or_system("XDG_DATA_HOME", ".local/share")
}

/// The file in `dir` that belongs to a tag (its lock, its failure
/// counter): `DIR/TAG.EXTENSION`, every character of the tag that could
/// leave `dir` or confuse a shell replaced by `_`.
pub fn file_for_tag(dir: &std::path::Path, tag: &str, extension: &str) -> PathBuf {
    let safe: String = tag
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.@".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    dir.join(format!("{safe}.{extension}"))
}

/// Configuration files to try, in order, when none was named.
pub fn config_candidates() -> Vec<PathBuf> {
    let mut candidates = Vec::new();
    if let Some(dir) = explicit_env("XDG_CONFIG_HOME") {
        candidates.push(dir.join("sheepdog/sheepdog.toml"));
    } else if let Some(home) = explicit_env("HOME") {
        candidates.push(home.join(".config/sheepdog/sheepdog.toml"));
    }
    candidates.push(PathBuf::from("/etc/sheepdog/sheepdog.toml"));
    candidates
}

fn xdg_or_system(variable: &str, under_home: &str) -> PathBuf {
    if let Some(dir) = explicit_env(variable) {
        return dir.join("sheepdog");
    }
    if crate::base::ident::is_root() {
        return PathBuf::from("/var/lib/sheepdog");
    }
    match explicit_env("HOME") {
        Some(home) => home.join(under_home).join("sheepdog"),
        None => PathBuf::from("/tmp").join(format!("sheepdog-{}", crate::base::ident::user_name())),
    }
}

/// An environment variable holding an absolute path; XDG says relative
/// ones are to be ignored.
fn explicit_env(variable: &str) -> Option<PathBuf> {
    env::var_os(variable)
        .map(PathBuf::from)
        .filter(|path| path.is_absolute())
}

/// Writes a file whole or not at all: a new file synced, then renamed
/// over the old.
pub fn replace_file(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    replace_file_with(path, bytes, None, |_| Ok(()))
}

/// [`replace_file`], the new file made with `mode` (when given) before a
/// byte is written — a secret is never readable by others, not even for a
/// moment — and handed to `before_rename` (to give it an owner) before it
/// takes the old one's place.
pub fn replace_file_with(
    path: &std::path::Path,
    bytes: &[u8],
    mode: Option<u32>,
    before_rename: impl FnOnce(&std::path::Path) -> std::io::Result<()>,
) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut name = path.as_os_str().to_owned();
    name.push(".new");
    let new = std::path::PathBuf::from(name);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    if let Some(mode) = mode {
        // A leftover of a crash may have any mode: made anew.
        let _ = std::fs::remove_file(&new);
        options.create_new(true).mode(mode);
    }
    let mut file = options.open(&new)?;
    if let Some(mode) = mode {
        // The umask may have taken bits the mode asked for.
        file.set_permissions(std::fs::Permissions::from_mode(mode))?;
    }
    std::io::Write::write_all(&mut file, bytes)?;
    file.sync_all()?;
    before_rename(&new)?;
    std::fs::rename(&new, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn a_tag_never_leaves_its_directory() {
        assert_eq!(
            file_for_tag(Path::new("/s"), "../etc/passwd", "json"),
            Path::new("/s/.._etc_passwd.json")
        );
        assert_eq!(
            file_for_tag(Path::new("/l"), "backup@tux01 now", "lock"),
            Path::new("/l/backup@tux01_now.lock")
        );
    }
}
