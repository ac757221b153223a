//! Where the broker is and how to talk to it: the settings every engine
//! of the log takes, whichever the URL names.

use crate::base::secret::Secret;
use std::path::PathBuf;
use std::time::Duration;

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
    /// The site this host belongs to (`[broker] site`, NATS): its events'
    /// subject and the JetStream domain of its site's server.
    pub site: Option<String>,
    /// On the hub: the sites whose events its stream takes in.
    pub sites: Vec<String>,
}

impl BrokerSettings {
    /// Whether the URL names a NATS server (JetStream), not Redis.
    pub fn is_nats(&self) -> bool {
        is_nats(&self.url)
    }
}

/// Whether a broker URL names a NATS server.
pub fn is_nats(url: &str) -> bool {
    url.starts_with("nats://") || url.starts_with("tls://")
}
