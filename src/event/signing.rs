//! Signed events (docs/ARCHITECTURE.md §2): each host has a key of its own; sd-bark
//! adds an HMAC-SHA256 of the event's exact text as a second field of the
//! stream entry (`sig`, lowercase hex), and sd-recv checks it against the
//! key of the host the event claims to come from. A host holding only its
//! own key cannot speak for another: changing `host` changes both the text
//! and the key the signature must match.
//!
//! A key file holds the key as text (`openssl rand -hex 32 > host.key`);
//! the trailing newline is not part of it. A keyring is a directory of
//! `HOST.key` files.

use crate::base::error::{Error, Result};
use crate::base::secret::Secret;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

type HmacSha256 = Hmac<Sha256>;

/// The stream entry field that carries the signature.
pub const SIG_FIELD: &str = "sig";

/// One host's key.
#[derive(Clone)]
pub struct Key(Secret);

impl Key {
    pub fn from_file(path: &Path) -> Result<Key> {
        let secret = Secret::from_file(path, "key file")?;
        if secret.expose().len() < 16 {
            return Err(Error::usage(format!(
                "key file {}: a key of at least 16 characters, please (openssl rand -hex 32)",
                path.display()
            )));
        }
        Ok(Key(secret))
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC takes keys of any length.
        HmacSha256::new_from_slice(self.0.expose().as_bytes()).expect("any key length")
    }

    /// The signature of an event's text.
    pub fn sign(&self, text: &str) -> String {
        let mut mac = self.mac();
        mac.update(text.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// Whether `sig` is this key's signature of `text` (compared in
    /// constant time).
    pub fn verify(&self, text: &str, sig: &str) -> bool {
        let Ok(bytes) = hex::decode(sig) else {
            return false;
        };
        let mut mac = self.mac();
        mac.update(text.as_bytes());
        mac.verify_slice(&bytes).is_ok()
    }
}

/// The keys of the herd, read from a directory as hosts are met.
pub struct Keyring {
    dir: PathBuf,
    keys: HashMap<String, Option<Key>>,
    /// Unsigned events are rejected too.
    pub require_signed: bool,
}

impl Keyring {
    pub fn open(dir: &Path, require_signed: bool) -> Result<Keyring> {
        if !dir.is_dir() {
            return Err(Error::usage(format!(
                "--keyring {}: not a directory of HOST.key files",
                dir.display()
            )));
        }
        Ok(Keyring {
            dir: dir.to_path_buf(),
            keys: HashMap::new(),
            require_signed,
        })
    }

    /// Ok, or why the event must be rejected.
    pub fn check(&mut self, host: &str, text: &str, sig: Option<&str>) -> Result<(), String> {
        let Some(sig) = sig else {
            return if self.require_signed {
                Err("unsigned (signatures are required)".into())
            } else {
                Ok(())
            };
        };
        let key = self.key(host);
        match key {
            None => Err(format!("signed, but there is no key for host {host:?}")),
            Some(key) if key.verify(text, sig) => Ok(()),
            Some(_) => Err(format!(
                "the signature does not match the key of host {host:?}"
            )),
        }
    }

    fn key(&mut self, host: &str) -> Option<&Key> {
        let dir = &self.dir;
        self.keys
            .entry(host.to_string())
            .or_insert_with(|| {
                // A host name is one path component: no way out of the dir.
                let plain =
                    !host.is_empty() && !host.starts_with('.') && !host.contains(['/', '\0']);
                plain
                    .then(|| Key::from_file(&dir.join(format!("{host}.key"))).ok())
                    .flatten()
            })
            .as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_bind_the_text_to_the_key() {
        let a = Key(Secret::new("key of host a, long enough".into()));
        let b = Key(Secret::new("key of host b, long enough".into()));
        let text = r#"{"host":"a","tag":"t"}"#;
        let sig = a.sign(text);
        assert_eq!(sig.len(), 64);
        assert!(a.verify(text, &sig));
        assert!(!b.verify(text, &sig));
        assert!(!a.verify(r#"{"host":"b","tag":"t"}"#, &sig));
        assert!(!a.verify(text, "zz"));
        assert!(!a.verify(text, &sig[..62]));
    }
}
