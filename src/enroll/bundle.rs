//! The bundle `sd-enroll add` writes for one host and `sd-enroll apply`
//! installs there: everything the host needs to speak to the herd, in one
//! JSON document — the only copy of its secrets outside the server, so it
//! is written mode 0600 and never printed.

use crate::base::error::{Context, Error, Result};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::Path;

/// The bundle's format; an older sd-enroll refuses a newer one.
pub const VERSION: u32 = 1;

/// Bigger than any bundle: a CA file and a key are a few KiB.
const MAX_BYTES: u64 = 1 << 20;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bundle {
    pub sheepdog_bundle: u32,
    /// The host it is for: its events' `host`, its orders stream's name.
    pub host: String,
    /// The broker as the host reaches it, with the host's user and no
    /// password (that is `password`).
    pub broker_url: String,
    pub password: String,
    /// The events' stream (`[broker] stream`).
    pub stream: String,
    /// The host's HMAC key for its events; the server keeps its copy in
    /// the keyring sd-recv checks.
    pub key: String,
    /// The public key orders are signed with (`orders.key.pub`), if the
    /// server has one.
    pub order_public_key: Option<String>,
    /// The CA that signed the broker's certificate, for `rediss://`.
    pub ca: Option<String>,
    /// The sentinels' own password, when they ask for one.
    pub sentinel_password: Option<String>,
    /// The starter allow-list: (name, command) of harmless actions.
    pub actions: Vec<(String, Vec<String>)>,
}

impl std::fmt::Debug for Bundle {
    /// The host only: a bundle holds secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Bundle({})", self.host)
    }
}

impl Bundle {
    /// Writes it to `path` (created mode 0600 before a byte is written),
    /// or to stdout for `-`.
    pub fn write(&self, path: &Path) -> Result<()> {
        let mut text = serde_json::to_string_pretty(self).expect("a bundle serializes");
        text.push('\n');
        if path == Path::new("-") {
            let mut out = std::io::stdout().lock();
            return out
                .write_all(text.as_bytes())
                .and_then(|_| out.flush())
                .context("writing the bundle to", "stdout");
        }
        crate::base::paths::replace_file_with(path, text.as_bytes(), Some(0o600), |_| Ok(()))
            .usage_context("writing the bundle", path.display())
    }

    /// Reads and checks a bundle.
    pub fn read(path: &Path) -> Result<Bundle> {
        use std::io::Read;
        let mut text = String::new();
        std::fs::File::open(path)
            .and_then(|f| f.take(MAX_BYTES + 1).read_to_string(&mut text))
            .usage_context("reading the bundle", path.display())?;
        if text.len() as u64 > MAX_BYTES {
            return Err(Error::usage(format!(
                "{}: larger than any bundle (1 MiB); is it one?",
                path.display()
            )));
        }
        let bundle: Bundle = serde_json::from_str(&text).map_err(|e| {
            Error::usage(format!(
                "{}: not a bundle of sd-enroll add ({e})",
                path.display()
            ))
        })?;
        if bundle.sheepdog_bundle != VERSION {
            return Err(Error::usage(format!(
                "{}: a bundle of format {}; this sd-enroll reads format {VERSION}",
                path.display(),
                bundle.sheepdog_bundle
            )));
        }
        check_host(&bundle.host)
            .map_err(|why| Error::usage(format!("{}: {why}", path.display())))?;
        for (what, value) in [("password", &bundle.password), ("key", &bundle.key)] {
            if value.len() < 16 || !value.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(Error::usage(format!(
                    "{}: its {what} is not one sd-enroll makes",
                    path.display()
                )));
            }
        }
        crate::log::check_broker_url(&bundle.broker_url)
            .map_err(|why| Error::usage(format!("{}: broker_url: {why}", path.display())))?;
        Ok(bundle)
    }
}

/// A host name sheepdog can use in a key file's name and a Redis ACL key
/// pattern: letters, digits, `.`, `-` and `_`, not starting with `.` or
/// `-`. A `*` or `?` would widen the host's ACL to other hosts' orders.
pub fn check_host(host: &str) -> std::result::Result<(), String> {
    let fine = !host.is_empty()
        && host.len() <= 253
        && !host.starts_with(['.', '-'])
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if fine {
        Ok(())
    } else {
        Err(format!(
            "`{host}` is not a host name sheepdog enrolls: letters, digits, '.', '-' and '_', \
             not starting with '.' or '-'"
        ))
    }
}

/// `bytes` random bytes from the system, as lowercase hex.
pub fn random_hex(bytes: usize) -> Result<String> {
    let mut buf = vec![0u8; bytes];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut buf)
        .map_err(|_| Error::io("the system's random number generator failed"))?;
    Ok(hex::encode(buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_that_would_widen_an_acl_are_refused() {
        for good in ["tux01", "web-1.example.org", "db_2"] {
            assert!(check_host(good).is_ok(), "{good}");
        }
        for bad in [
            "", "*", "tux?", "web[12]", "-x", ".hidden", "a b", "a/b", "é",
        ] {
            assert!(check_host(bad).is_err(), "{bad}");
        }
    }
}
