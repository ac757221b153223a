//! Redis Sentinel (docs/ARCHITECTURE.md §13): a broker URL that names the
//! sentinels and the master's name instead of a server —
//! `redis+sentinel://[USER:PASSWORD@]S1:26379,S2:26379,S3:26379/NAME[/DB]`
//! (`rediss+sentinel://` for TLS) — is turned into the URL of the master
//! the sentinels know now. Every command connects through
//! [`Broker::connect`](crate::log::redis::Broker::connect), so each reconnect
//! after a failover asks again and follows the new master, no restart.
//!
//! The user and password in the URL are the master's; the sentinels'
//! own password (redis-sentinel's `requirepass`) comes from `[broker]
//! sentinel_password_file`. Over TLS, the broker's `ca_file` is trusted
//! for the sentinels as for the master. A master the sentinels still name while it is
//! being demoted refuses writes (READONLY); the command reports the broker
//! unavailable, and its next connection asks the sentinels again.

use redis::IntoConnectionInfo;
use std::time::Duration;

/// A parsed `redis+sentinel://` URL.
#[derive(Debug, PartialEq)]
pub struct SentinelUrl {
    pub tls: bool,
    /// `USER:PASSWORD@` as written, or empty.
    pub userinfo: String,
    /// `host:port` of each sentinel.
    pub sentinels: Vec<String>,
    pub master: String,
    pub db: Option<u32>,
}

pub const FORM: &str = "redis+sentinel://[USER:PASSWORD@]HOST:PORT[,HOST:PORT…]/MASTER[/DB]";

/// Whether a URL names sentinels (and is then parsed by [`parse`]).
pub fn is_sentinel(url: &str) -> bool {
    url.starts_with("redis+sentinel://") || url.starts_with("rediss+sentinel://")
}

pub fn parse(url: &str) -> Result<SentinelUrl, String> {
    let (tls, rest) = if let Some(rest) = url.strip_prefix("rediss+sentinel://") {
        (true, rest)
    } else if let Some(rest) = url.strip_prefix("redis+sentinel://") {
        (false, rest)
    } else {
        return Err(format!("expected {FORM}"));
    };
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let (userinfo, hosts) = match authority.rsplit_once('@') {
        Some((user, hosts)) => (format!("{user}@"), hosts),
        None => (String::new(), authority),
    };
    let sentinels: Vec<String> = hosts
        .split(',')
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .collect();
    if sentinels.is_empty() {
        return Err(format!("no sentinel named (expected {FORM})"));
    }
    for s in &sentinels {
        let port = s.rsplit_once(':').map(|(_, p)| p);
        if port.is_none_or(|p| p.parse::<u16>().is_err()) {
            return Err(format!(
                "sentinel `{s}` needs HOST:PORT (26379 is Sentinel's own)"
            ));
        }
    }
    let mut parts = path.split('/').filter(|p| !p.is_empty());
    let master = parts
        .next()
        .ok_or_else(|| format!("no master name after the sentinels (expected {FORM})"))?
        .to_string();
    let db = match parts.next() {
        Some(db) => Some(
            db.parse::<u32>()
                .map_err(|_| format!("the database must be a number, not `{db}`"))?,
        ),
        None => None,
    };
    Ok(SentinelUrl {
        tls,
        userinfo,
        sentinels,
        master,
        db,
    })
}

/// The master's URL, as the first sentinel that answers says it is now.
/// Over TLS the sentinels are trusted as the master is: by `ca_pem` (the
/// broker's `ca_file`) when given, else by the system's roots.
/// `password` is the sentinels' own, if they ask for one.
pub fn master_url(
    url: &SentinelUrl,
    timeout: Duration,
    ca_pem: Option<&[u8]>,
    password: Option<&str>,
) -> Result<String, NoMaster> {
    let scheme = if url.tls { "rediss" } else { "redis" };
    let mut why = Vec::new();
    let mut refused = 0;
    for sentinel in &url.sentinels {
        let asked: redis::RedisResult<Option<(String, u16)>> = ask(
            url,
            sentinel,
            "get-master-addr-by-name",
            timeout,
            ca_pem,
            password,
        );
        match asked {
            Ok(Some((host, port))) => {
                let host = if host.contains(':') {
                    format!("[{host}]")
                } else {
                    host
                };
                let db = url.db.map(|d| format!("/{d}")).unwrap_or_default();
                return Ok(format!("{scheme}://{}{host}:{port}{db}", url.userinfo));
            }
            Ok(None) => why.push(format!("{sentinel} knows no master `{}`", url.master)),
            Err(e) => {
                refused += usize::from(crate::log::redis::client::is_refusal(&e));
                why.push(format!(
                    "{sentinel}: {}",
                    crate::base::error::plain(e.to_string())
                ));
            }
        }
    }
    Err(NoMaster {
        why: why.join("; "),
        refused: refused == url.sentinels.len(),
    })
}

/// The URLs of the master's replicas, as the first sentinel that answers
/// knows them (with the URL's user and database, like [`master_url`]'s):
/// what is set on every node by hand, as ACL users are, is set on these
/// too. A replica the sentinels call down is left out.
pub fn replica_urls(
    url: &SentinelUrl,
    timeout: Duration,
    ca_pem: Option<&[u8]>,
    password: Option<&str>,
) -> Result<Vec<String>, String> {
    let scheme = if url.tls { "rediss" } else { "redis" };
    let mut why = Vec::new();
    for sentinel in &url.sentinels {
        let asked: redis::RedisResult<Vec<std::collections::HashMap<String, String>>> =
            ask(url, sentinel, "replicas", timeout, ca_pem, password);
        match asked {
            Ok(replicas) => {
                let db = url.db.map(|d| format!("/{d}")).unwrap_or_default();
                return Ok(replicas
                    .iter()
                    .filter(|r| r.get("flags").is_none_or(|f| !f.contains("down")))
                    .filter_map(|r| {
                        let (ip, port) = (r.get("ip")?, r.get("port")?);
                        let host = if ip.contains(':') {
                            format!("[{ip}]")
                        } else {
                            ip.clone()
                        };
                        Some(format!("{scheme}://{}{host}:{port}{db}", url.userinfo))
                    })
                    .collect());
            }
            Err(e) => why.push(format!(
                "{sentinel}: {}",
                crate::base::error::plain(e.to_string())
            )),
        }
    }
    Err(why.join("; "))
}

/// `SENTINEL SUBCOMMAND master` of one sentinel, within `timeout`; over
/// TLS trusting `ca_pem` when given.
fn ask<T: redis::FromRedisValue>(
    url: &SentinelUrl,
    sentinel: &str,
    subcommand: &str,
    timeout: Duration,
    ca_pem: Option<&[u8]>,
    password: Option<&str>,
) -> redis::RedisResult<T> {
    let scheme = if url.tls { "rediss" } else { "redis" };
    let address = format!("{scheme}://{sentinel}").into_connection_info()?;
    let client = crate::log::redis::client::open(address, password, ca_pem.filter(|_| url.tls))?;
    let mut conn = client.get_connection_with_timeout(timeout)?;
    conn.set_read_timeout(Some(timeout))?;
    conn.set_write_timeout(Some(timeout))?;
    redis::cmd("SENTINEL")
        .arg(subcommand)
        .arg(&url.master)
        .query(&mut conn)
}

/// The same URL with another user (and no password): what a host is
/// given, to follow the master through the same sentinels.
pub fn with_user(url: &SentinelUrl, user: &str) -> String {
    let scheme = if url.tls {
        "rediss+sentinel"
    } else {
        "redis+sentinel"
    };
    let db = url.db.map(|d| format!("/{d}")).unwrap_or_default();
    format!(
        "{scheme}://{user}@{}/{}{db}",
        url.sentinels.join(","),
        url.master
    )
}

/// Why no master was found: what each sentinel said, and whether every
/// one of them refused our password (the configuration's mistake, not an
/// outage).
#[derive(Debug)]
pub struct NoMaster {
    pub why: String,
    pub refused: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_sentinels_a_master_and_a_database() {
        let url = parse("redis+sentinel://:pw@10.0.0.1:26379,s2:26380/mymaster/2").unwrap();
        assert_eq!(
            url,
            SentinelUrl {
                tls: false,
                userinfo: ":pw@".into(),
                sentinels: vec!["10.0.0.1:26379".into(), "s2:26380".into()],
                master: "mymaster".into(),
                db: Some(2),
            }
        );
        assert!(parse("rediss+sentinel://s1:26379/m").unwrap().tls);
        assert!(
            parse("redis+sentinel://s1/m")
                .unwrap_err()
                .contains("HOST:PORT")
        );
        assert!(
            parse("redis+sentinel://s1:26379")
                .unwrap_err()
                .contains("master name")
        );
        assert!(
            parse("redis+sentinel://s1:26379/m/x")
                .unwrap_err()
                .contains("number")
        );
    }
}
