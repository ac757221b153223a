//! Who a host is to the broker, and who owns what enrollment writes:
//! shared by the server's half and the host's.

use crate::base::error::{Error, Result};
use std::path::Path;

/// The Redis user of a host: prefixed, so that a host named `default`
/// cannot become the server's own user.
pub fn user_of(host: &str) -> String {
    format!("sd-{host}")
}

/// The `sheepdog` group the services run as, when this system has it.
pub fn sheepdog_group() -> Option<nix::unistd::Gid> {
    nix::unistd::Group::from_name("sheepdog")
        .ok()
        .flatten()
        .map(|g| g.gid)
}

/// Gives `path` to root and `group` (when run as root and there is one).
pub fn give_to_group(path: &Path, group: Option<nix::unistd::Gid>) -> Result<()> {
    if let Some(gid) = group.filter(|_| crate::base::ident::is_root()) {
        nix::unistd::chown(path, Some(nix::unistd::Uid::from_raw(0)), Some(gid))
            .map_err(|e| Error::io(format!("giving {} to group sheepdog: {e}", path.display())))?;
    }
    Ok(())
}

/// The mode of a secret the services read: theirs through the group when
/// there is one, root's alone otherwise.
pub fn secret_mode(group: Option<nix::unistd::Gid>) -> u32 {
    if group.is_some() { 0o640 } else { 0o600 }
}
