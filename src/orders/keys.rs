//! The keys that sign orders (docs/ARCHITECTURE.md §10): Ed25519, so a
//! host needs only the server's public key to tell a real order from a
//! forged one, and any standard Ed25519 library can write one.
//!
//! Files: the private key is its 32-byte seed in base64 (one line, mode
//! 0600); the public key, `PATH.pub`, is its 32 bytes in base64. A key's
//! id is the first 8 bytes of the SHA-256 of its public key, in hex: it
//! travels with each order so a host with several trusted keys knows which
//! one to check.

use crate::base::error::{Context, Error, Result};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// The key that signs orders (the server's).
pub struct SigningKey {
    pair: Ed25519KeyPair,
    pub id: String,
}

/// A key a host trusts.
#[derive(Clone, Debug)]
pub struct TrustedKey {
    public: Vec<u8>,
    pub id: String,
    /// The file it came from, for messages.
    pub path: PathBuf,
}

/// The id of a public key.
pub fn key_id(public: &[u8]) -> String {
    hex::encode(&Sha256::digest(public)[..8])
}

/// Makes a new key pair: the private key to `path` (mode 0600, never
/// overwriting one), the public key to `path.pub`. Returns the key's id.
pub fn generate(path: &Path) -> Result<String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut seed = [0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut seed)
        .map_err(|_| Error::io("the system's random number generator failed"))?;
    let pair = Ed25519KeyPair::from_seed_unchecked(&seed)
        .map_err(|_| Error::io("making an Ed25519 key failed"))?;
    let public = pair.public_key().as_ref().to_vec();
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                Error::usage(format!(
                    "{} exists already; a key is never overwritten (remove it first, or choose another path)",
                    path.display()
                ))
            } else {
                Error::usage(format!(
                    "writing the private key {}: {}",
                    path.display(),
                    crate::base::error::describe_io(&e)
                ))
            }
        })?;
    writeln!(file, "{}", BASE64.encode(seed))
        .and_then(|_| file.sync_all())
        .context("writing the private key", path.display())?;
    let public_path = public_path(path);
    std::fs::write(&public_path, format!("{}\n", BASE64.encode(&public)))
        .usage_context("writing the public key", public_path.display())?;
    Ok(key_id(&public))
}

/// `PATH.pub`.
pub fn public_path(private: &Path) -> PathBuf {
    let mut name = private.as_os_str().to_owned();
    name.push(".pub");
    PathBuf::from(name)
}

fn read_base64(path: &Path, what: &str, len: usize) -> Result<Vec<u8>> {
    let text =
        std::fs::read_to_string(path).usage_context(&format!("reading {what}"), path.display())?;
    let bytes = BASE64.decode(text.trim()).map_err(|_| {
        Error::usage(format!(
            "{what} {}: not base64 (made by sd-order keygen?)",
            path.display()
        ))
    })?;
    if bytes.len() != len {
        return Err(Error::usage(format!(
            "{what} {}: {} bytes, an Ed25519 key has {len} (made by sd-order keygen?)",
            path.display(),
            bytes.len()
        )));
    }
    Ok(bytes)
}

impl std::fmt::Debug for SigningKey {
    /// The id only: a private key is never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({})", self.id)
    }
}

impl SigningKey {
    /// The private key from its file; missing or unreadable is a usage
    /// error naming the path.
    pub fn load(path: &Path) -> Result<SigningKey> {
        let seed = read_base64(path, "private key", 32)?;
        let pair = Ed25519KeyPair::from_seed_unchecked(&seed).map_err(|_| {
            Error::usage(format!(
                "private key {}: not an Ed25519 key",
                path.display()
            ))
        })?;
        let id = key_id(pair.public_key().as_ref());
        Ok(SigningKey { pair, id })
    }

    /// The signature of exactly these bytes, in base64.
    pub fn sign(&self, text: &str) -> String {
        BASE64.encode(self.pair.sign(text.as_bytes()).as_ref())
    }
}

impl TrustedKey {
    pub fn load(path: &Path) -> Result<TrustedKey> {
        let public = read_base64(path, "trusted key", 32)?;
        Ok(TrustedKey {
            id: key_id(&public),
            public,
            path: path.to_path_buf(),
        })
    }

    /// Whether `sig` (base64) is this key's signature of exactly `text`.
    pub fn verifies(&self, text: &str, sig: &str) -> bool {
        let Ok(sig) = BASE64.decode(sig.trim()) else {
            return false;
        };
        UnparsedPublicKey::new(&ED25519, &self.public)
            .verify(text.as_bytes(), &sig)
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_for_its_text_and_key_only() {
        let (dir, path) = crate::base::testing::scratch("orders.key");
        let id = generate(&path).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert!(
            generate(&path)
                .unwrap_err()
                .message
                .contains("never overwritten")
        );
        let key = SigningKey::load(&path).unwrap();
        assert_eq!(key.id, id);
        let trusted = TrustedKey::load(&public_path(&path)).unwrap();
        assert_eq!(trusted.id, id);
        let sig = key.sign(r#"{"action":"block-ip"}"#);
        assert!(trusted.verifies(r#"{"action":"block-ip"}"#, &sig));
        assert!(!trusted.verifies(r#"{"action":"block-ip" }"#, &sig));
        assert!(!trusted.verifies(r#"{"action":"block-ip"}"#, "AAAA"));
        let other = dir.path().join("other.key");
        generate(&other).unwrap();
        let stranger = TrustedKey::load(&public_path(&other)).unwrap();
        assert!(!stranger.verifies(r#"{"action":"block-ip"}"#, &sig));
        let missing = SigningKey::load(&dir.path().join("none.key")).unwrap_err();
        assert_eq!(missing.exit, crate::base::exit::Exit::Usage);
        assert!(missing.message.contains("none.key"), "{}", missing.message);
    }
}
