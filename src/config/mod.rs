//! Settings every command shares, and where each one comes from.
//!
//! Precedence (docs/ARCHITECTURE.md §4): flag > environment (`SD_…`) > configuration
//! file > default. clap resolves the first two from one definition
//! ([`CommonArgs`]); [`Settings::resolve`] adds the file and the defaults.
//! Secrets come from `password_file` or a URL; one in a URL on the command
//! line draws a warning, since every user sees argv through `ps`.

mod file;

pub use file::{
    ActionSection, BrokerSection, CheckSection, HeartbeatSection, MailSection, NotifySection,
    ObeySection, OrderSection, RouteSection, StoreSection,
};
pub use file::{ArgType, CommandLine, ConfigFile, HumanDuration};

use crate::base::error::{Context, Error, Result};
use clap::ArgMatches;
use clap::parser::ValueSource;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const DEFAULT_STREAM: &str = "sheepdog:events";
pub const DEFAULT_BROKER_TIMEOUT: Duration = Duration::from_secs(5);
/// Default safety cap on the stream's length: ten million entries.
pub const DEFAULT_MAX_LEN: u64 = 10_000_000;

/// Flags common to the commands that move or keep events.
#[derive(Clone, Debug, Default, clap::Args)]
#[command(next_help_heading = "Common options")]
pub struct CommonArgs {
    /// Redis broker: redis://[USER:PASSWORD@]HOST[:PORT][/DB], rediss://…
    /// (TLS), unix:///PATH, or through Sentinel
    /// redis+sentinel://HOST:PORT,…/MASTER. Without one, events stay in the
    /// local spool.
    /// Prefer password_file in the configuration file to a password here,
    /// which `ps` shows to every user.
    #[arg(long, env = "SD_BROKER", value_name = "URL", global = true)]
    pub broker: Option<String>,

    /// CA certificate (PEM) to trust for a rediss:// broker.
    #[arg(long, env = "SD_BROKER_CA", value_name = "FILE", global = true)]
    pub broker_ca: Option<PathBuf>,

    /// Redis stream key events travel on [default: sheepdog:events].
    #[arg(long, env = "SD_STREAM", value_name = "KEY", global = true)]
    pub stream: Option<String>,

    /// Local spool database [default: $XDG_STATE_HOME/sheepdog/spool.db,
    /// /var/lib/sheepdog/spool.db for root].
    #[arg(long, env = "SD_SPOOL", value_name = "PATH", global = true)]
    pub spool: Option<PathBuf>,

    #[command(flatten)]
    pub base: ConfigArgs,
}

/// The flags every command that reads the configuration file takes.
#[derive(Clone, Debug, Default, clap::Args)]
#[command(next_help_heading = "Common options")]
pub struct ConfigArgs {
    /// Configuration file [default: ~/.config/sheepdog/sheepdog.toml, then
    /// /etc/sheepdog/sheepdog.toml].
    #[arg(long, env = "SD_CONFIG", value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,

    /// Print nothing on stderr but errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

impl ConfigArgs {
    /// The configuration file named, or the first default one that
    /// exists, or an empty one.
    pub fn load(&self) -> Result<(ConfigFile, Option<PathBuf>)> {
        load_config(self.config.as_deref())
    }
}

/// A password or other secret: never printed, never in a message.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Self {
        Secret(value)
    }

    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Reads a secret from a file of its own (`what`: "password file",
    /// "key file", for the message); the trailing newline an editor adds
    /// is not part of it.
    pub fn from_file(path: &Path, what: &str) -> Result<Secret> {
        let text = std::fs::read_to_string(path)
            .usage_context(&format!("reading {what}"), path.display())?;
        Ok(Secret(text.trim_end_matches(['\n', '\r']).to_string()))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// Where to find the broker and how to talk to it.
#[derive(Clone, Debug)]
pub struct BrokerSettings {
    /// The URL as given, password included if it had one: pass it to the
    /// client, never to a message (use [`redact_url`]).
    pub url: String,
    /// A password from `password_file`, which wins over one in the URL.
    pub password: Option<Secret>,
    /// The sentinels' own password, from `sentinel_password_file`.
    pub sentinel_password: Option<Secret>,
    pub ca_file: Option<PathBuf>,
    pub timeout: Duration,
    pub key_file: Option<PathBuf>,
    /// The safety cap on the stream's length (`XADD … MAXLEN ~`).
    pub max_len: u64,
    /// Replicas that must confirm a batch (`WAIT`) before it counts as
    /// published; 0: the master's answer is enough.
    pub min_replicas: u32,
}

/// Everything common flags, environment and configuration file decided.
#[derive(Debug)]
pub struct Settings {
    pub config: ConfigFile,
    pub config_path: Option<PathBuf>,
    pub broker: Option<BrokerSettings>,
    pub stream: String,
    pub spool: PathBuf,
    pub quiet: bool,
}

impl Settings {
    /// Applies the precedence rule. `matches` tells whether `--broker`
    /// came from the command line, for the password warning.
    pub fn resolve(args: &CommonArgs, matches: &ArgMatches) -> Result<Settings> {
        let from_argv = args.broker.is_some()
            && matches.value_source("broker") == Some(ValueSource::CommandLine);
        Settings::from_args(args, from_argv)
    }

    /// The same, saying whether `--broker` came from the command line
    /// (a command without the flag passes false: SD_BROKER or the file).
    pub fn from_args(args: &CommonArgs, from_argv: bool) -> Result<Settings> {
        let (config, config_path) = args.base.load()?;
        let broker_section = &config.broker;
        let url = args.broker.clone().or_else(|| broker_section.url.clone());
        if let Some(given) = &args.broker {
            // The file's URL was checked as the file was read.
            check_broker_url(given).map_err(|why| {
                let origin = if from_argv { "--broker" } else { "SD_BROKER" };
                Error::usage(format!("{origin}: {why}"))
            })?;
        }
        let broker = match url.filter(|u| !u.trim().is_empty()) {
            None => None,
            Some(url) => {
                if from_argv && url_password(&url).is_some() && !args.base.quiet {
                    crate::base::cli::warn(
                        "the password in --broker is visible to every user through ps; \
                         put it in password_file in the configuration file or in SD_BROKER",
                    );
                }
                let password = match &broker_section.password_file {
                    Some(path) => Some(Secret::from_file(path, "password file")?),
                    None => None,
                };
                let sentinel_password = match &broker_section.sentinel_password_file {
                    Some(path) => Some(Secret::from_file(path, "sentinel password file")?),
                    None => None,
                };
                Some(BrokerSettings {
                    url,
                    password,
                    sentinel_password,
                    ca_file: args
                        .broker_ca
                        .clone()
                        .or_else(|| broker_section.ca_file.clone()),
                    timeout: broker_section
                        .timeout
                        .map_or(DEFAULT_BROKER_TIMEOUT, |d| d.0),
                    key_file: broker_section.key_file.clone(),
                    max_len: broker_section.max_len.unwrap_or(DEFAULT_MAX_LEN),
                    min_replicas: broker_section.min_replicas.unwrap_or(0),
                })
            }
        };
        let stream = args
            .stream
            .clone()
            .or_else(|| broker_section.stream.clone())
            .unwrap_or_else(|| DEFAULT_STREAM.to_string());
        let spool = args
            .spool
            .clone()
            .or_else(|| config.spool.path.clone())
            .unwrap_or_else(|| crate::base::paths::state_dir().join("spool.db"));
        Ok(Settings {
            config,
            config_path,
            broker,
            stream,
            spool,
            quiet: args.base.quiet,
        })
    }
}

/// The named file, or the first default one that exists, or none.
fn load_config(named: Option<&Path>) -> Result<(ConfigFile, Option<PathBuf>)> {
    if let Some(path) = named {
        return Ok((ConfigFile::load(path)?, Some(path.to_path_buf())));
    }
    for candidate in crate::base::paths::config_candidates() {
        if candidate.exists() {
            let config = ConfigFile::load(&candidate)?;
            return Ok((config, Some(candidate)));
        }
    }
    Ok((ConfigFile::default(), None))
}

/// Whether a broker URL is one sheepdog can use: a known scheme, a port,
/// a database number. Empty means no broker. A URL that is wrong is a
/// usage error (exit 2), never "the broker is unavailable" (exit 69).
pub fn check_broker_url(text: &str) -> Result<(), String> {
    const FORMS: &str = "expected redis://[USER:PASSWORD@]HOST[:PORT][/DB], rediss://…, unix:///PATH or \
         redis+sentinel://HOST:PORT[,HOST:PORT…]/MASTER[/DB]";
    if text.trim().is_empty() {
        return Ok(());
    }
    let shown = redact_url(text);
    if crate::log::redis::sentinel::is_sentinel(text) {
        return crate::log::redis::sentinel::parse(text)
            .map(drop)
            .map_err(|why| format!("`{shown}`: {why}"));
    }
    let url =
        url::Url::parse(text).map_err(|e| format!("`{shown}` is not a URL: {e} ({FORMS})"))?;
    match url.scheme() {
        "redis" | "rediss" => {
            if url.host_str().is_none_or(str::is_empty) {
                return Err(format!("`{shown}` names no host ({FORMS})"));
            }
            let db = url.path().trim_matches('/');
            if !db.is_empty() && db.parse::<u32>().is_err() {
                return Err(format!(
                    "`{shown}`: the database must be a number, not `{db}` ({FORMS})"
                ));
            }
        }
        "unix" | "redis+unix" => {
            if url.path().is_empty() {
                return Err(format!("`{shown}` names no socket path ({FORMS})"));
            }
        }
        other => return Err(format!("`{shown}`: unknown scheme {other}: ({FORMS})")),
    }
    redis::IntoConnectionInfo::into_connection_info(text)
        .map(|_| ())
        .map_err(|e| {
            format!(
                "`{shown}`: {} ({FORMS})",
                crate::base::error::plain(e.to_string())
            )
        })
}

/// The password part of a URL's user information, if any.
fn url_password(url: &str) -> Option<&str> {
    let (_, rest) = url.split_once("://")?;
    let authority = rest.split('/').next()?;
    let (userinfo, _) = authority.rsplit_once('@')?;
    let (_, password) = userinfo.split_once(':')?;
    (!password.is_empty()).then_some(password)
}

/// A URL fit for a message: its password replaced by `***`.
pub fn redact_url(url: &str) -> String {
    match url_password(url) {
        Some(password) => {
            let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
            let at = rest.find('@').unwrap_or(0);
            let userinfo = &rest[..at];
            let user = userinfo.strip_suffix(password).unwrap_or(userinfo);
            format!("{scheme}://{user}***{}", &rest[at..])
        }
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_found_and_redacted() {
        assert_eq!(url_password("redis://:s3cret@host:6379/0"), Some("s3cret"));
        assert_eq!(url_password("redis://user:pw@host"), Some("pw"));
        assert_eq!(url_password("redis://host:6379"), None);
        assert_eq!(url_password("redis://user@host"), None);
        assert_eq!(
            redact_url("redis://user:pw@host:1/0"),
            "redis://user:***@host:1/0"
        );
        assert_eq!(redact_url("rediss://:pw@host"), "rediss://:***@host");
        assert_eq!(
            redact_url("unix:///run/redis.sock"),
            "unix:///run/redis.sock"
        );
    }

    #[test]
    fn broker_urls_are_checked_before_use() {
        for good in [
            "",
            "redis://127.0.0.1:6379",
            "redis://:pw@host:1/0",
            "rediss://host",
            "unix:///run/redis.sock",
        ] {
            assert_eq!(check_broker_url(good), Ok(()), "{good}");
        }
        for (bad, why) in [
            ("http://localhost:6379", "unknown scheme http"),
            ("redis://127.0.0.1:6379/abc", "database must be a number"),
            ("redis://127.0.0.1:99999", "invalid port"),
            ("localhost:6379", "expected redis://"),
            ("redis://:s3cret@host/x", "database"),
        ] {
            let err = check_broker_url(bad).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
            assert!(!err.contains("s3cret"), "{err}");
        }
    }

    #[test]
    fn secrets_do_not_print() {
        let secret = Secret::new("hunter2".into());
        assert!(!format!("{secret:?}").contains("hunter2"));
    }
}
