//! The configuration file (docs/ARCHITECTURE.md §6): TOML, every key optional, an
//! unknown key or a wrong type an error naming the file, line and key.

use crate::base::error::{Context, Error, Result};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConfigFile {
    pub broker: BrokerSection,
    pub spool: SpoolSection,
    pub store: StoreSection,
    pub mail: MailSection,
    pub heartbeat: HeartbeatSection,
    pub check: Vec<CheckSection>,
    pub order: OrderSection,
    pub obey: ObeySection,
    pub action: Vec<ActionSection>,
    pub rules: RulesSection,
    pub notify: Vec<NotifySection>,
    pub route: Vec<RouteSection>,
    pub bark: BarkSection,
    pub gate: GateSection,
    pub maintenance: Vec<MaintenanceSection>,
}

/// `[gate]`: sd-gate, pings over HTTP turned into events.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GateSection {
    /// Address and port to listen on [default: 127.0.0.1:8470].
    pub listen: Option<String>,
    /// The gate's URL as clients reach it, for `sd-gate add` to print.
    pub url: Option<String>,
    /// The project's key in `/ping/KEY/SLUG`.
    pub ping_key_file: Option<PathBuf>,
    /// TLS: certificate chain and private key (PEM).
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Largest request body taken, in bytes [default: 1 MiB].
    pub max_body: Option<u64>,
    /// Pings a second one check may send, and one address [10, 200].
    pub check_rate: Option<f64>,
    pub address_rate: Option<f64>,
    /// Connections served at once [64], and from one address [32].
    pub workers: Option<usize>,
    pub address_connections: Option<usize>,
    pub check: Vec<GateCheckSection>,
}

/// One `[[gate.check]]`: a token and what its pings are about.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GateCheckSection {
    /// `/ping/UUID` and Uptime Kuma's `/api/push/UUID`.
    pub uuid: Option<String>,
    /// `/ping/KEY/SLUG`, with `[gate] ping_key_file`.
    pub slug: Option<String>,
    pub host: String,
    pub tag: String,
}

/// One `[[maintenance]]`: a recurring window on the server, when the
/// hosts and tags it names are down on purpose.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MaintenanceSection {
    /// Globs [default: every host, every tag].
    pub hosts: Option<String>,
    pub tags: Option<String>,
    /// When each window starts: sd-expect --cron's syntax.
    pub cron: String,
    /// Its time zone [default: the server's].
    pub timezone: Option<String>,
    #[serde(rename = "for")]
    pub length: Option<HumanDuration>,
    pub reason: Option<String>,
}

/// `[bark]`: what sd-bark adds to this host's events.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BarkSection {
    /// Who should hear of them: `notify_to` for events that name no one.
    pub notify_to: Vec<String>,
}

/// One `[[route]]` table: which notifications go to whom (sd-mail).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RouteSection {
    /// Globs on the event the notification is about.
    pub host: Option<String>,
    pub tag: Option<String>,
    pub kind: Option<String>,
    pub status: Option<String>,
    /// Mail recipients.
    pub to: Vec<String>,
    /// Names of `[[notify]]` channels, or `*` for all.
    pub channels: Vec<String>,
    /// Addresses an event's `notify_to` may add (globs).
    pub allow_event_recipients: Vec<String>,
    /// Go on to the next routes after this one matched.
    #[serde(rename = "continue")]
    pub keep_going: bool,
}

/// One `[[notify]]` table: a channel sd-mail tells besides mail.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotifySection {
    /// ntfy, gotify, matrix, slack, json, program or syslog.
    #[serde(rename = "type")]
    pub kind: String,
    /// Its name in the state file [default: made of the type and address].
    pub name: Option<String>,
    /// The webhook (ntfy: the topic's URL; matrix: the homeserver).
    pub url: Option<String>,
    /// The token (gotify, matrix, ntfy), read from this file only.
    pub token_file: Option<PathBuf>,
    /// ntfy: min, low, default, high, max.
    pub priority: Option<String>,
    /// ntfy: tags (emoji names) added to each message.
    pub tags: Vec<String>,
    /// matrix: the room id, `!abc:example.org`.
    pub room: Option<String>,
    /// program: the command, an array of words (no shell).
    pub program: Option<Vec<String>>,
    /// syslog: the facility [default: daemon].
    pub facility: Option<String>,
    /// syslog: the name messages carry [default: sheepdog].
    pub ident: Option<String>,
    /// syslog: the socket [default: /dev/log].
    pub socket: Option<PathBuf>,
}

/// `[rules]`: the rule file (sd-query ask, alerts; sd-mail's suppression).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RulesSection {
    /// [default: /etc/sheepdog/rules.dl]
    pub path: Option<PathBuf>,
    /// What `sd-query alerts` remembers between runs [default: STATE/alerts.json].
    pub alerts_state: Option<PathBuf>,
    /// How long one question to the rules may take [default: 10s].
    pub timeout: Option<HumanDuration>,
}

/// `[order]`: the server side of orders (sd-order).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OrderSection {
    /// The private key that signs orders.
    pub key_file: Option<PathBuf>,
}

/// `[obey]`: what this host trusts (sd-obey).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ObeySection {
    /// Public keys whose orders are obeyed.
    pub trusted_keys: Vec<PathBuf>,
    /// The name orders are addressed to [default: the short host name].
    pub host: Option<String>,
    /// The ledger of what ran [default: STATE/obey.db].
    pub ledger: Option<PathBuf>,
}

/// What an action's argument may be, as the allow-list writes it: a type
/// by name, or the words allowed (`orders::args` says what each admits).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum ArgType {
    /// `ip`, `cidr`, `int`, `word`, `duration`.
    Named(String),
    /// One of these words.
    OneOf(Vec<String>),
}

/// One `[[action]]`: something this host agrees to do when ordered.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionSection {
    pub name: String,
    /// The command, `{NAME}` standing for an argument's value.
    pub cmd: CommandLine,
    /// Each argument and its type: ip, cidr, int, word, duration, or a
    /// list of the words allowed.
    #[serde(default)]
    pub args: std::collections::BTreeMap<String, ArgType>,
    /// The user it runs as [default: the one sd-obey runs as].
    pub user: Option<String>,
    pub timeout: Option<HumanDuration>,
    /// Run again after a crash mid-run (only for actions safe to repeat).
    #[serde(default)]
    pub retry: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BrokerSection {
    #[serde(deserialize_with = "broker_url")]
    pub url: Option<String>,
    pub password_file: Option<PathBuf>,
    /// The sentinels' own password (`requirepass` of redis-sentinel).
    pub sentinel_password_file: Option<PathBuf>,
    pub stream: Option<String>,
    pub ca_file: Option<PathBuf>,
    pub timeout: Option<HumanDuration>,
    pub key_file: Option<PathBuf>,
    /// The safety cap on the stream's length (`XADD … MAXLEN ~`).
    pub max_len: Option<u64>,
    /// A batch counts as published once this many replicas have it.
    pub min_replicas: Option<u32>,
    /// The site of this host and its server (NATS JetStream).
    pub site: Option<String>,
    /// On the hub: the sites whose events it takes in.
    pub sites: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpoolSection {
    pub path: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreSection {
    pub path: Option<PathBuf>,
    /// How long events are kept (`retain` was its first name).
    #[serde(alias = "retain")]
    pub keep: Option<HumanDuration>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailSection {
    pub smtp: Option<String>,
    pub smtp_ca: Option<PathBuf>,
    pub sendmail: Option<PathBuf>,
    pub user: Option<String>,
    pub password_file: Option<PathBuf>,
    pub from: Option<String>,
    pub to: Vec<String>,
    /// Addresses an event's `notify_to` may add where no route matched.
    pub allow_event_recipients: Vec<String>,
    pub notify: Option<Vec<String>>,
    pub repeat: Option<HumanDuration>,
    pub group_wait: Option<HumanDuration>,
    pub digest: Option<HumanDuration>,
    pub max_age: Option<HumanDuration>,
    pub state: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HeartbeatSection {
    pub user: Option<String>,
    pub state_dir: Option<PathBuf>,
}

/// One `[[check]]` table: a service for `sd-heartbeat --checks FILE`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CheckSection {
    pub tag: Option<String>,
    pub http: Option<String>,
    pub tcp: Option<String>,
    pub exec: Option<CommandLine>,
    pub method: Option<String>,
    pub expect: Option<String>,
    pub body_match: Option<String>,
    pub ca: Option<PathBuf>,
    pub timeout: Option<HumanDuration>,
    pub restart: Option<CommandLine>,
    pub shepherd: Option<String>,
    pub systemd: Option<String>,
    pub if_running: Option<CommandLine>,
    pub after: Option<u32>,
    pub max_restarts: Option<String>,
}

/// `[broker] url`, checked as it is read, so a mistake is named with its
/// line like any other.
fn broker_url<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    let url = String::deserialize(deserializer)?;
    crate::log::check_broker_url(&url).map_err(serde::de::Error::custom)?;
    Ok(Some(url))
}

/// A duration written for people (`30s`, `5m`, `24h`, `30d`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

impl From<HumanDuration> for Duration {
    fn from(d: HumanDuration) -> Duration {
        d.0
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        crate::base::cli::parse_duration(&text)
            .map(HumanDuration)
            .map_err(serde::de::Error::custom)
    }
}

/// A command given as one string (split into words like a shell would,
/// without running one) or as an array of words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandLine(pub Vec<String>);

impl<'de> Deserialize<'de> for CommandLine {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            Line(String),
            Words(Vec<String>),
        }
        match Form::deserialize(deserializer)? {
            Form::Line(line) => crate::base::cli::split_command(&line)
                .map(CommandLine)
                .map_err(serde::de::Error::custom),
            Form::Words(words) if words.is_empty() => {
                Err(serde::de::Error::custom("the command must not be empty"))
            }
            Form::Words(words) => Ok(CommandLine(words)),
        }
    }
}

impl ConfigFile {
    /// Reads and checks a configuration file.
    pub fn load(path: &Path) -> Result<ConfigFile> {
        let text = std::fs::read_to_string(path)
            .usage_context("reading configuration file", path.display())?;
        ConfigFile::parse(&text)
            .map_err(|why| Error::usage(format!("configuration file {}{why}", path.display())))
    }

    /// Parses configuration text; the error starts with `, line N` when
    /// the place is known (for [`ConfigFile::load`] to put a path before).
    pub fn parse(text: &str) -> Result<ConfigFile, String> {
        toml::from_str(text).map_err(|e| describe_toml_error(text, &e))
    }
}

/// `, line 7, key `after`: invalid type: string "2", expected u32`.
fn describe_toml_error(text: &str, err: &toml::de::Error) -> String {
    let message = err.message().trim_end().to_string();
    let Some(span) = err.span() else {
        return format!(": {message}");
    };
    let line_number = text[..span.start.min(text.len())].matches('\n').count() + 1;
    let line = text.lines().nth(line_number - 1).unwrap_or_default();
    match key_on_line(line) {
        Some(key) => format!(", line {line_number}, key `{key}`: {message}"),
        None => format!(", line {line_number}: {message}"),
    }
}

/// The key a `key = value` line sets, if it is one.
fn key_on_line(line: &str) -> Option<&str> {
    let line = line.trim();
    if line.starts_with('[') || line.starts_with('#') {
        return None;
    }
    let (key, _) = line.split_once('=')?;
    let key = key.trim().trim_matches('"');
    (!key.is_empty()).then_some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_design_example_loads() {
        let text = r#"
[broker]
url = "redis://sheepdog.example.org:6379/0"
password_file = "/etc/sheepdog/redis.pass"
stream = "sheepdog:events"
ca_file = "/etc/sheepdog/ca.pem"
timeout = "5s"
key_file = "/etc/sheepdog/host.key"

[spool]
path = "/var/lib/sheepdog/spool.db"

[store]
path = "/var/lib/sheepdog/events.db"
keep = "400d"

[mail]
smtp = "smtp://mail.example.org:587"
user = "sheepdog"
password_file = "/etc/sheepdog/smtp.pass"
from = "sheepdog@example.org"
to = ["admin@example.org"]
notify = ["fail", "error"]
repeat = "24h"
group_wait = "30s"

[heartbeat]
user = "sheepdog"

[[check]]
tag = "mympd"
http = "http://localhost/browse/"
timeout = "5s"
shepherd = "mympd"
after = 2
restart = ["sv", "restart", "mympd"]
if_running = "pgrep -x 'my mpd'"
"#;
        let config = ConfigFile::parse(text).unwrap();
        assert_eq!(
            config.store.keep,
            Some(HumanDuration(Duration::from_secs(400 * 86400)))
        );
        assert_eq!(config.check[0].after, Some(2));
        assert_eq!(
            config.check[0].restart.as_ref().unwrap().0,
            ["sv", "restart", "mympd"]
        );
        assert_eq!(
            config.check[0].if_running.as_ref().unwrap().0,
            ["pgrep", "-x", "my mpd"]
        );
    }

    #[test]
    fn unknown_keys_name_line_and_key() {
        let err = ConfigFile::parse("[broker]\nurl = \"redis://x\"\nurll = \"y\"\n").unwrap_err();
        assert!(
            err.starts_with(", line 3, key `urll`: unknown field `urll`"),
            "{err}"
        );
    }

    #[test]
    fn wrong_types_name_line_and_key() {
        let err = ConfigFile::parse("[[check]]\ntag = \"x\"\nafter = \"two\"\n").unwrap_err();
        assert!(
            err.starts_with(", line 3, key `after`: invalid type: string"),
            "{err}"
        );
        let err = ConfigFile::parse("[mail]\nrepeat = \"often\"\n").unwrap_err();
        assert!(err.starts_with(", line 2, key `repeat`:"), "{err}");
    }

    #[test]
    fn broken_toml_names_the_line() {
        let err = ConfigFile::parse("[broker\n").unwrap_err();
        assert!(err.starts_with(", line 1"), "{err}");
    }
}
