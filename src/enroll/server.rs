//! The server's half of enrollment: a host's Redis user (sheepdog(7), "Who
//! may speak"), its HMAC key in the keyring sd-recv checks, and the
//! bundle that carries both to the host; taking them back; listing them.

use super::bundle::{self, Bundle};
pub use super::owner::user_of;
use crate::base::error::{Context, Error, Result};
use crate::base::secret::redact_url;
use crate::config::Settings;
use crate::log::BrokerSettings;
use crate::log::redis::Redis;
use redis::Value;
use std::path::{Path, PathBuf};

/// The action every new host may be ordered to run: harmless, and proof
/// that orders reach it.
pub fn starter_actions() -> Vec<(String, Vec<String>)> {
    vec![("uptime".to_string(), vec!["uptime".to_string()])]
}

/// What `add` needs besides the host's name.
pub struct Enrolling<'a> {
    pub settings: &'a Settings,
    pub keyring: &'a Path,
    /// The broker's URL as hosts reach it, if not the server's own.
    pub host_url: Option<&'a str>,
    pub order_key: Option<PathBuf>,
}

/// What `add` did.
pub struct Enrolled {
    pub bundle: Bundle,
    pub key_file: PathBuf,
    pub persisted: Persisted,
}

/// Makes (or remakes: the old password and key stop working) a host's
/// broker user and key.
pub fn add(host: &str, how: &Enrolling<'_>) -> Result<Enrolled> {
    bundle::check_host(host).map_err(Error::usage)?;
    let broker = admin_broker(how.settings)?;
    let password = bundle::random_hex(32)?;
    let key = bundle::random_hex(32)?;
    let user = user_of(host);
    let orders = crate::log::orders::stream_for(host);
    let events_selector = format!("(+xadd ~{})", how.settings.stream);
    let mut persisted = Persisted::AclFile;
    // On every node: Redis does not replicate its users, and after a
    // failover a replica is the master the host speaks to.
    for mut redis in nodes(broker, &how.settings.stream)? {
        // `reset` first: a second `add` leaves no old password behind.
        admin(
            &mut redis,
            &[
                "ACL",
                "SETUSER",
                &user,
                "reset",
                "on",
                &format!(">{password}"),
                "resetkeys",
                "resetchannels",
                "-@all",
                "+xreadgroup",
                "+xack",
                "+xgroup|create",
                &format!("~{orders}"),
                &events_selector,
            ],
        )?;
        // Whoever spoke with the old password is heard no more.
        let _ = redis.admin(&["CLIENT", "KILL", "USER", &user]);
        persisted = persisted.worst(persist(&mut redis)?);
    }
    let key_file = keyring_file(how.keyring, host);
    write_key(how.keyring, &key_file, &key)?;
    let order_public_key = match &how.order_key {
        Some(private) => {
            let public = crate::orders::keys::public_path(private);
            Some(
                std::fs::read_to_string(&public)
                    .usage_context("reading the orders' public key", public.display())?,
            )
        }
        None => None,
    };
    let ca = match &broker.ca_file {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .usage_context("reading the broker's CA", path.display())?,
        ),
        None => None,
    };
    let broker_url = host_url(how.host_url.unwrap_or(&broker.url), &user)?;
    Ok(Enrolled {
        bundle: Bundle {
            sheepdog_bundle: bundle::VERSION,
            host: host.to_string(),
            broker_url,
            password,
            stream: how.settings.stream.clone(),
            key,
            order_public_key,
            ca,
            sentinel_password: broker
                .sentinel_password
                .as_ref()
                .map(|p| p.expose().to_string()),
            actions: starter_actions(),
        },
        key_file,
        persisted,
    })
}

/// Deletes a host's broker user (its connections are closed) and its key:
/// its next bark is refused and waits in its spool.
pub fn revoke(host: &str, settings: &Settings, keyring: &Path) -> Result<(bool, bool, Persisted)> {
    bundle::check_host(host).map_err(Error::usage)?;
    let broker = admin_broker(settings)?;
    let (mut had_user, mut persisted) = (false, Persisted::AclFile);
    for mut redis in nodes(broker, &settings.stream)? {
        let deleted = admin(&mut redis, &["ACL", "DELUSER", &user_of(host)])?;
        had_user |= matches!(deleted, Value::Int(n) if n > 0);
        persisted = persisted.worst(persist(&mut redis)?);
    }
    let key_file = keyring_file(keyring, host);
    let had_key = match std::fs::remove_file(&key_file) {
        Ok(()) => true,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => return Err(e).context("removing the key", key_file.display()),
    };
    Ok((had_user, had_key, persisted))
}

/// Every enrolled host: the keyring's keys, and whether the broker still
/// has each one's user (when it can be asked).
pub fn hosts(settings: &Settings, keyring: &Path) -> Result<Vec<(String, i64, Option<bool>)>> {
    let mut hosts = Vec::new();
    let entries = match std::fs::read_dir(keyring) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(hosts),
        Err(e) => return Err(e).usage_context("reading the keyring", keyring.display()),
    };
    let users: Option<Vec<String>> = match admin_broker(settings) {
        Ok(broker) => Redis::connect(broker, &settings.stream)
            .ok()
            .and_then(|mut redis| redis.admin(&["ACL", "USERS"]).ok())
            .and_then(|reply| redis::from_redis_value(reply).ok()),
        Err(_) => None,
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(host) = name.strip_suffix(".key") else {
            continue;
        };
        let since = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_millis() as i64);
        let has_user = users.as_ref().map(|u| u.contains(&user_of(host)));
        hosts.push((host.to_string(), since, has_user));
    }
    hosts.sort();
    Ok(hosts)
}

/// How the users were kept for the next start of Redis.
#[derive(Debug, PartialEq, Eq)]
pub enum Persisted {
    /// `ACL SAVE`, to the aclfile.
    AclFile,
    /// `CONFIG REWRITE`, into redis.conf (no aclfile).
    ConfigFile,
    /// Neither could: the users live until Redis restarts (the reason).
    Not(String),
}

impl Persisted {
    /// Of two nodes, the one that kept less.
    fn worst(self, other: Persisted) -> Persisted {
        match (self, other) {
            (Persisted::Not(why), _) | (_, Persisted::Not(why)) => Persisted::Not(why),
            (Persisted::ConfigFile, _) | (_, Persisted::ConfigFile) => Persisted::ConfigFile,
            _ => Persisted::AclFile,
        }
    }
}

/// Every node users are set on: the broker, or through Sentinel the
/// master and each replica the sentinels know.
fn nodes(broker: &BrokerSettings, stream: &str) -> Result<Vec<Redis>> {
    let mut nodes = vec![Redis::connect(broker, stream)?];
    if crate::log::redis::sentinel::is_sentinel(&broker.url) {
        let url = crate::log::redis::sentinel::parse(&broker.url).map_err(Error::usage)?;
        let ca = match &broker.ca_file {
            Some(path) => Some(std::fs::read(path).usage_context("reading", path.display())?),
            None => None,
        };
        let password = broker.sentinel_password.as_ref().map(|p| p.expose());
        let replicas = crate::log::redis::sentinel::replica_urls(
            &url,
            broker.timeout,
            ca.as_deref(),
            password,
        )
        .map_err(|why| {
            Error::new(
                crate::base::exit::Exit::Unavailable,
                format!("asking the sentinels for the replicas: {why}"),
            )
        })?;
        for replica in replicas {
            let settings = BrokerSettings {
                url: replica,
                ..broker.clone()
            };
            nodes.push(Redis::connect(&settings, stream)?);
        }
    }
    Ok(nodes)
}

fn persist(redis: &mut Redis) -> Result<Persisted> {
    let acl = match redis.admin(&["ACL", "SAVE"]) {
        Ok(_) => return Ok(Persisted::AclFile),
        Err(e) => crate::base::error::plain(e.to_string()),
    };
    match redis.admin(&["CONFIG", "REWRITE"]) {
        Ok(_) => Ok(Persisted::ConfigFile),
        Err(e) => Ok(Persisted::Not(format!(
            "ACL SAVE: {acl}; CONFIG REWRITE: {}",
            crate::base::error::plain(e.to_string())
        ))),
    }
}

fn admin(redis: &mut Redis, args: &[&str]) -> Result<Value> {
    redis.admin(args).map_err(|e| {
        let why = crate::base::error::plain(e.to_string());
        if crate::log::redis::client::is_refusal(&e) {
            Error::usage(format!(
                "{} {} on {}: refused ({why}): sd-enroll needs the broker's administrator \
                 (a user allowed ACL and CONFIG), in [broker] or SD_BROKER",
                args[0],
                args[1],
                redis.shown()
            ))
        } else {
            Error::new(
                crate::base::exit::Exit::Unavailable,
                format!("{} {} on {}: {why}", args[0], args[1], redis.shown()),
            )
        }
    })
}

fn admin_broker(settings: &Settings) -> Result<&BrokerSettings> {
    settings.broker.as_ref().ok_or_else(|| {
        Error::usage(
            "sd-enroll speaks to the broker as its administrator: set [broker] url and \
             password_file (or SD_BROKER) to a user allowed ACL",
        )
    })
}

/// The keyring's file for a host, as sd-recv --keyring reads it.
pub fn keyring_file(keyring: &Path, host: &str) -> PathBuf {
    keyring.join(format!("{host}.key"))
}

/// Writes the server's copy of a host's key: the keyring readable by the
/// receivers' group (sheepdog) when there is one, by no one else.
fn write_key(keyring: &Path, path: &Path, key: &str) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o750)
        .create(keyring)
        .usage_context("making the keyring", keyring.display())?;
    let group = super::owner::sheepdog_group();
    super::owner::give_to_group(keyring, group)?;
    let mode = super::owner::secret_mode(group);
    crate::base::paths::replace_file_with(path, format!("{key}\n").as_bytes(), Some(mode), |new| {
        super::owner::give_to_group(new, group).map_err(|e| std::io::Error::other(e.message))
    })
    .context("writing the key", path.display())
}

/// The URL a host uses: `url` (the server's, or the one given) without
/// its credentials, with the host's user.
fn host_url(url: &str, user: &str) -> Result<String> {
    if crate::log::redis::sentinel::is_sentinel(url) {
        let parsed = crate::log::redis::sentinel::parse(url).map_err(Error::usage)?;
        return Ok(crate::log::redis::sentinel::with_user(&parsed, user));
    }
    if url.starts_with("unix:") {
        // A socket on the server is no way for a host to reach it.
        return Err(Error::usage(format!(
            "{}: give --host-url redis://… or rediss://…, the broker as hosts reach it",
            redact_url(url)
        )));
    }
    let mut parsed =
        url::Url::parse(url).map_err(|e| Error::usage(format!("{}: {e}", redact_url(url))))?;
    let _ = parsed.set_password(None);
    parsed
        .set_username(user)
        .map_err(|_| Error::usage(format!("{}: cannot carry a user", redact_url(url))))?;
    Ok(parsed.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_url_carries_the_hosts_user_and_no_password() {
        assert_eq!(
            host_url("redis://admin:secret@srv.example.org:6379/0", "sd-tux01").unwrap(),
            "redis://sd-tux01@srv.example.org:6379/0"
        );
        assert_eq!(
            host_url(
                "redis+sentinel://admin:pw@s1:26379,s2:26379/mymaster/1",
                "sd-x"
            )
            .unwrap(),
            "redis+sentinel://sd-x@s1:26379,s2:26379/mymaster/1"
        );
        assert!(host_url("unix:///run/redis.sock", "sd-x").is_err());
    }
}
