//! How an order travels (sheepdog(7), ORDERS): one stream per host,
//! `sheepdog:orders:HOST`, so Redis ACLs can let a host read only its own
//! orders. An entry has the fields `order` (the order's JSON text), `sig`
//! (an Ed25519 signature over exactly those bytes, base64) and `key` (the
//! signing key's id). Without a broker, the same three travel as one JSON
//! line in the local orders spool. What an order says, and who may sign
//! one, is [`crate::orders`]'s.

use serde::{Deserialize, Serialize};

/// An order as it travels: its text, the signature over that text, and
/// the id of the key that made it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Signed {
    pub order: String,
    pub sig: String,
    pub key: String,
}

/// The entry fields of an order.
pub const ORDER_FIELD: &str = "order";
pub const SIG_FIELD: &str = "sig";
pub const KEY_FIELD: &str = "key";

/// The stream a host reads its orders from.
pub fn stream_for(host: &str) -> String {
    format!("{STREAM_PREFIX}{host}")
}

/// What every host's orders stream is named after.
pub const STREAM_PREFIX: &str = "sheepdog:orders:";

/// The group a host's sd-obey reads its orders through.
pub const OBEY_GROUP: &str = "obey";

/// The host a signed order is addressed to, when it says.
pub fn addressee(signed: &Signed) -> Option<String> {
    let order: serde_json::Value = serde_json::from_str(&signed.order).ok()?;
    Some(order.get("host")?.as_str()?.to_string())
}
