//! Settings every command shares, and where each one comes from.
//!
//! Precedence (docs/ARCHITECTURE.md §4): flag > environment (`SD_…`) > configuration
//! file > default. clap resolves the first two from one definition
//! ([`CommonArgs`]); [`Settings::resolve`] adds the file and the defaults.
//! Secrets come from `password_file` or a URL; one in a URL on the command
//! line draws a warning, since every user sees argv through `ps`.

mod file;

pub use file::{
    ActionSection, BrokerSection, CheckSection, GateCheckSection, GateSection, HeartbeatSection,
    MailSection, MaintenanceSection, NotifySection, ObeySection, OrderSection, RouteSection,
    StoreSection,
};
pub use file::{ArgType, CommandLine, ConfigFile, HumanDuration};

use crate::base::error::{Error, Result};
use crate::base::secret::{Secret, url_password};
use crate::log::{BrokerSettings, check_broker_url};
use clap::ArgMatches;
use clap::parser::ValueSource;
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
    /// Broker: Redis redis://[USER:PASSWORD@]HOST[:PORT][/DB], rediss://…
    /// (TLS), unix:///PATH, or through Sentinel
    /// redis+sentinel://HOST:PORT,…/MASTER; or NATS JetStream
    /// nats://[USER:PASSWORD@]HOST:PORT, tls://… Without one, events stay
    /// in the local spool.
    /// Prefer password_file in the configuration file to a password here,
    /// which `ps` shows to every user.
    #[arg(long, env = "SD_BROKER", value_name = "URL", global = true)]
    pub broker: Option<String>,

    /// CA certificate (PEM) to trust for a rediss:// or tls:// broker.
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

/// The one precedence rule, for every setting of every command
/// (docs/ARCHITECTURE.md §4): the flag — or, without it, the environment
/// variable clap reads in its place (`SD_…`) — beats the configuration
/// file, and the file beats the default.
pub fn layered<T>(flag: Option<T>, file: Option<T>, default: impl FnOnce() -> T) -> T {
    flag_or_file(flag, file).unwrap_or_else(default)
}

/// [`layered`] for a setting that has no default.
pub fn flag_or_file<T>(flag: Option<T>, file: Option<T>) -> Option<T> {
    flag.or(file)
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
    /// Where the log is, as these settings say.
    pub fn log(&self) -> crate::log::Place {
        crate::log::Place::new(self.broker.clone(), self.spool.clone(), self.stream.clone())
    }

    /// Applies the precedence rule. `matches` tells whether `--broker`
    /// came from the command line, for the password warning.
    pub fn resolve(args: &CommonArgs, matches: &ArgMatches) -> Result<Settings> {
        let from_argv = args.broker.is_some()
            && matches.value_source("broker") == Some(ValueSource::CommandLine);
        Settings::from_args(args, from_argv)
    }

    /// For a command without the broker's flags that sends events of its
    /// own (sd-mail, sd-query alerts --lease): the broker, stream and
    /// spool from the environment (SD_BROKER …) and the configuration file.
    pub fn from_environment(base: &ConfigArgs) -> Result<Settings> {
        let env = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        let common = CommonArgs {
            broker: env("SD_BROKER").map(|v| v.to_string_lossy().into_owned()),
            broker_ca: env("SD_BROKER_CA").map(PathBuf::from),
            stream: env("SD_STREAM").map(|v| v.to_string_lossy().into_owned()),
            spool: env("SD_SPOOL").map(PathBuf::from),
            base: base.clone(),
        };
        Settings::from_args(&common, false)
    }

    /// The same, saying whether `--broker` came from the command line
    /// (a command without the flag passes false: SD_BROKER or the file).
    pub fn from_args(args: &CommonArgs, from_argv: bool) -> Result<Settings> {
        let (config, config_path) = args.base.load()?;
        let broker_section = &config.broker;
        let url = flag_or_file(args.broker.clone(), broker_section.url.clone());
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
                    ca_file: flag_or_file(args.broker_ca.clone(), broker_section.ca_file.clone()),
                    timeout: broker_section
                        .timeout
                        .map_or(DEFAULT_BROKER_TIMEOUT, |d| d.0),
                    key_file: broker_section.key_file.clone(),
                    max_len: broker_section.max_len.unwrap_or(DEFAULT_MAX_LEN),
                    min_replicas: broker_section.min_replicas.unwrap_or(0),
                    site: broker_section.site.clone(),
                    sites: broker_section.sites.clone(),
                })
            }
        };
        let stream = layered(args.stream.clone(), broker_section.stream.clone(), || {
            DEFAULT_STREAM.to_string()
        });
        let spool = layered(args.spool.clone(), config.spool.path.clone(), || {
            crate::base::paths::state_dir().join("spool.db")
        });
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
