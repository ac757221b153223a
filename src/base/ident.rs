//! Who and where we are: the short host name events are stamped with, and
//! the user a job runs as.

use nix::unistd::{Uid, User};

/// The host name up to its first dot (`tux01`, not `tux01.example.org`),
/// as `hostname -s` prints it.
pub fn short_hostname() -> String {
    let full = nix::unistd::gethostname()
        .ok()
        .and_then(|name| name.into_string().ok())
        .unwrap_or_else(|| "localhost".to_string());
    match full.split('.').next() {
        Some(short) if !short.is_empty() => short.to_string(),
        _ => full,
    }
}

/// The name of the effective user, or its number when it has no name.
pub fn user_name() -> String {
    let uid = Uid::effective();
    match User::from_uid(uid) {
        Ok(Some(user)) => user.name,
        _ => uid.to_string(),
    }
}

pub fn is_root() -> bool {
    Uid::effective().is_root()
}
