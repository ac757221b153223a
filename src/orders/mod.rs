//! Orders: the listening half (docs/ARCHITECTURE.md §10). The server asks a
//! host to do something; every safeguard is on the host that obeys.
//!
//! Wire format (sheepdog(7), ORDERS): one stream per host,
//! `sheepdog:orders:HOST`, so Redis ACLs can let a host read only its own
//! orders. An entry has the fields `order` (the order's JSON text), `sig`
//! (an Ed25519 signature over exactly those bytes, base64) and `key` (the
//! signing key's id). Without a broker, the same three travel as one JSON
//! line in the local orders spool.

pub mod args;
pub mod keys;
pub mod ledger;
pub mod sent;

pub use crate::log::orders::Signed;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What the server asks of one host.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Order {
    pub v: u64,
    pub id: String,
    /// When it was made (RFC 3339, UTC).
    pub time: String,
    /// The host that is to act.
    pub host: String,
    pub action: String,
    #[serde(default)]
    pub args: BTreeMap<String, String>,
    /// After this it is refused (RFC 3339, UTC).
    pub expires: String,
    /// Who asked (user@host of the sd-order that signed it).
    #[serde(default)]
    pub by: String,
}

impl Order {
    pub fn new(
        host: &str,
        action: &str,
        args: BTreeMap<String, String>,
        ttl: std::time::Duration,
        by: &str,
    ) -> Order {
        let now = crate::base::time::now_ms();
        Order {
            v: 1,
            id: ulid::Ulid::new().to_string(),
            time: crate::base::time::format_ms(now),
            host: host.to_string(),
            action: action.to_string(),
            args,
            expires: crate::base::time::format_ms(now + ttl.as_millis() as i64),
            by: by.to_string(),
        }
    }

    /// The exact text that is signed and sent.
    pub fn to_text(&self) -> String {
        serde_json::to_string(self).expect("an order serialises")
    }
}

/// Signs an order with the server's key, for the log.
pub fn sign(order: &Order, key: &keys::SigningKey) -> Signed {
    let text = order.to_text();
    Signed {
        sig: key.sign(&text),
        key: key.id.clone(),
        order: text,
    }
}
