//! The gate's checks: which token names which host and tag
//! (`[[gate.check]]`), read from the configuration file and read again
//! when it changes, so that `sd-gate add` takes effect without a
//! restart; and `sd-gate add` itself, which writes a new one.

use super::api::{Token, is_token};
use crate::base::error::{Context, Error, Result};
use crate::config::{ConfigArgs, GateSection};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// What a token's pings are about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    /// The token, as the rate limit and the runs know it.
    pub name: String,
    pub host: String,
    pub tag: String,
}

#[derive(Default)]
pub struct Checks {
    by_uuid: HashMap<String, Check>,
    by_slug: HashMap<String, Check>,
    ping_key: Option<String>,
    /// The file they came from and when it was last changed.
    source: Option<(PathBuf, Option<SystemTime>)>,
}

impl Checks {
    pub fn from_section(section: &GateSection, source: Option<PathBuf>) -> Result<Checks> {
        let mut checks = Checks::default();
        for (n, check) in section.check.iter().enumerate() {
            let at = || format!("[[gate.check]] number {}", n + 1);
            plain_names(&check.host, &check.tag)
                .map_err(|why| Error::usage(format!("{}: {why}", at())))?;
            if check.uuid.is_none() && check.slug.is_none() {
                return Err(Error::usage(format!("{}: give it a uuid or a slug", at())));
            }
            let named = |token: &str| Check {
                name: token.to_string(),
                host: check.host.clone(),
                tag: check.tag.clone(),
            };
            if let Some(uuid) = &check.uuid {
                if uuid.len() < 8 || !is_token(uuid) {
                    return Err(Error::usage(format!(
                        "{}: uuid {uuid:?} must be at least 8 letters, digits, - or _",
                        at()
                    )));
                }
                if checks.by_uuid.insert(uuid.clone(), named(uuid)).is_some() {
                    return Err(Error::usage(format!(
                        "{}: uuid {uuid} is given twice",
                        at()
                    )));
                }
            }
            if let Some(slug) = &check.slug {
                if !is_token(slug) {
                    return Err(Error::usage(format!(
                        "{}: slug {slug:?} must be letters, digits, - or _",
                        at()
                    )));
                }
                if checks.by_slug.insert(slug.clone(), named(slug)).is_some() {
                    return Err(Error::usage(format!(
                        "{}: slug {slug} is given twice",
                        at()
                    )));
                }
            }
        }
        if let Some(path) = &section.ping_key_file {
            let key = crate::base::secret::Secret::from_file(path, "the gate's ping key")?;
            checks.ping_key = Some(key.expose().trim().to_string());
        }
        checks.source = source.map(|path| {
            let changed = modified(&path);
            (path, changed)
        });
        Ok(checks)
    }

    pub fn len(&self) -> usize {
        self.by_uuid.len() + self.by_slug.len()
    }

    pub fn find(&self, token: &Token) -> Option<&Check> {
        match token {
            Token::Uuid(uuid) => self.by_uuid.get(uuid),
            Token::Slug { key, slug } => {
                let ours = self.ping_key.as_deref()?;
                // Compared as digests: the time taken says nothing of
                // how much of the key a guess got right.
                use sha2::Digest;
                let same =
                    sha2::Sha256::digest(ours.as_bytes()) == sha2::Sha256::digest(key.as_bytes());
                same.then(|| self.by_slug.get(slug)).flatten()
            }
        }
    }

    /// Takes the configuration file as it is now as read (a change that
    /// could not be read is not tried again until the next change).
    pub fn seen_source(&mut self) {
        if let Some((path, when)) = &mut self.source {
            *when = modified(path);
        }
    }

    /// The configuration file, when it changed since these were read.
    pub fn changed_source(&self) -> Option<&Path> {
        let (path, when) = self.source.as_ref()?;
        (modified(path) != *when).then_some(path.as_path())
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// A check's host and tag name something: not empty, no control
/// characters (they become the event's and, later, a mail's header).
fn plain_names(host: &str, tag: &str) -> std::result::Result<(), String> {
    for (name, value) in [("host", host), ("tag", tag)] {
        if value.trim().is_empty() || value.chars().any(char::is_control) {
            return Err(format!(
                "{name} {value:?} is empty or has control characters"
            ));
        }
    }
    Ok(())
}

/// A random version 4 UUID, as healthchecks.io gives its checks.
pub fn new_uuid() -> Result<String> {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 16];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| Error::io("the system's random source failed"))?;
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = hex::encode(bytes);
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    ))
}

/// `sd-gate add HOST TAG`: a new check appended to the configuration
/// file (the one in use, or the default one made), its UUID returned.
pub fn add(
    base: &ConfigArgs,
    host: &str,
    tag: &str,
    slug: Option<&str>,
) -> Result<(String, PathBuf)> {
    plain_names(host, tag).map_err(Error::usage)?;
    if let Some(slug) = slug
        && !is_token(slug)
    {
        return Err(Error::usage(format!(
            "slug {slug:?} must be letters, digits, - or _"
        )));
    }
    let (config, path) = base.load()?;
    let path = match path {
        Some(path) => path,
        // None yet: root's is the system's, anyone else's their own.
        None => {
            let candidates = crate::base::paths::config_candidates();
            let chosen = match crate::base::ident::is_root() {
                true => candidates.last(),
                false => candidates.first(),
            };
            chosen.cloned().ok_or_else(|| {
                Error::usage("no configuration file to add the check to; name one with --config")
            })?
        }
    };
    if let Some(slug) = slug
        && config
            .gate
            .check
            .iter()
            .any(|c| c.slug.as_deref() == Some(slug))
    {
        return Err(Error::usage(format!("slug {slug} is already a check's")));
    }
    let uuid = new_uuid()?;
    let mut block = String::from("\n[[gate.check]]\n");
    block.push_str(&format!("uuid = {}\n", toml_string(&uuid)));
    if let Some(slug) = slug {
        block.push_str(&format!("slug = {}\n", toml_string(slug)));
    }
    block.push_str(&format!(
        "host = {}\ntag = {}\n",
        toml_string(host),
        toml_string(tag)
    ));
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).context("making", dir.display())?;
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .context("opening", path.display())?;
    file.write_all(block.as_bytes())
        .and_then(|()| file.sync_all())
        .context("writing", path.display())?;
    Ok((uuid, path))
}

fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::GateCheckSection;

    fn section(checks: Vec<GateCheckSection>) -> GateSection {
        GateSection {
            check: checks,
            ..GateSection::default()
        }
    }

    #[test]
    fn a_uuid_finds_its_check_and_a_slug_needs_the_key() {
        let checks = Checks::from_section(
            &section(vec![GateCheckSection {
                uuid: Some("0123456789abcdef".into()),
                slug: Some("backup".into()),
                host: "nas".into(),
                tag: "backup".into(),
            }]),
            None,
        )
        .unwrap();
        let found = checks
            .find(&Token::Uuid("0123456789abcdef".into()))
            .unwrap();
        assert_eq!((found.host.as_str(), found.tag.as_str()), ("nas", "backup"));
        assert!(
            checks
                .find(&Token::Uuid("fedcba9876543210".into()))
                .is_none()
        );
        // No ping key configured: no slug is found.
        let slug = Token::Slug {
            key: "anything".into(),
            slug: "backup".into(),
        };
        assert!(checks.find(&slug).is_none());
    }

    #[test]
    fn bad_checks_are_refused_with_their_number() {
        let short = section(vec![GateCheckSection {
            uuid: Some("abc".into()),
            host: "nas".into(),
            tag: "t".into(),
            ..GateCheckSection::default()
        }]);
        let err = Checks::from_section(&short, None)
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("number 1") && err.contains("at least 8"),
            "{err}"
        );
        let nameless = section(vec![GateCheckSection {
            host: "nas".into(),
            tag: "t".into(),
            ..GateCheckSection::default()
        }]);
        assert!(Checks::from_section(&nameless, None).is_err());
    }

    #[test]
    fn new_uuids_are_version_4_and_differ() {
        let a = new_uuid().unwrap();
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert_ne!(a, new_uuid().unwrap());
    }
}
