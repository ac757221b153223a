//! What sd-order sent and is still valid, so that a rule run from cron
//! (`sd-query ask --orders 'block_ip(H, Ip)' | sd-order --ttl 10m` every
//! five minutes) does not send the same block again under a new id each
//! time it decides it again. An order is the same when its host, action
//! and arguments are; it is remembered until it expires. A local SQLite
//! file under the state directory, one per user that signs.

use super::Order;
use crate::base::error::{Context, Result};
use rusqlite::{Connection, OptionalExtension, params};
use std::path::{Path, PathBuf};

const MIGRATIONS: &[&str] = &["
    CREATE TABLE sent (
        host       TEXT NOT NULL,
        action     TEXT NOT NULL,
        args       TEXT NOT NULL,
        id         TEXT NOT NULL,
        expires_ms INTEGER NOT NULL,
        PRIMARY KEY (host, action, args)
    ) WITHOUT ROWID;
"];

pub struct Sent {
    conn: Connection,
    path: PathBuf,
}

/// An identical order still valid.
#[derive(Debug, PartialEq, Eq)]
pub struct Earlier {
    pub id: String,
    pub expires_ms: i64,
}

impl Sent {
    /// The default place: `$XDG_STATE_HOME/sheepdog/orders-sent.db`
    /// (`/var/lib/sheepdog` for root).
    pub fn default_path() -> PathBuf {
        crate::base::paths::state_dir().join("orders-sent.db")
    }

    pub fn open(path: &Path) -> Result<Sent> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).context("creating", dir.display())?;
        }
        let mut conn = crate::base::sqlite::open_wal(
            path,
            "sent orders",
            "FULL",
            crate::base::sqlite::NewFile::default(),
        )?;
        crate::base::sqlite::migrate(&mut conn, MIGRATIONS)
            .context("migrating the sent orders", path.display())?;
        Ok(Sent {
            conn,
            path: path.to_path_buf(),
        })
    }

    /// An order identical to `order` sent before and valid at `now_ms`.
    pub fn still_valid(&self, order: &Order, now_ms: i64) -> Result<Option<Earlier>> {
        self.conn
            .query_row(
                "SELECT id, expires_ms FROM sent
                 WHERE host = ?1 AND action = ?2 AND args = ?3 AND expires_ms > ?4",
                params![order.host, order.action, args_text(order), now_ms],
                |r| {
                    Ok(Earlier {
                        id: r.get(0)?,
                        expires_ms: r.get(1)?,
                    })
                },
            )
            .optional()
            .context("reading", self.path.display())
    }

    /// Remembers `order`, sent, until it expires; forgets what expired.
    pub fn record(&self, order: &Order) -> Result<()> {
        let expires_ms = crate::base::time::parse_rfc3339_ms(&order.expires).unwrap_or(i64::MAX);
        self.conn
            .execute(
                "INSERT INTO sent (host, action, args, id, expires_ms) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (host, action, args) DO UPDATE SET id = excluded.id,
                     expires_ms = excluded.expires_ms",
                params![
                    order.host,
                    order.action,
                    args_text(order),
                    order.id,
                    expires_ms
                ],
            )
            .and_then(|_| {
                self.conn.execute(
                    "DELETE FROM sent WHERE expires_ms <= ?1",
                    [crate::base::time::now_ms()],
                )
            })
            .context("writing", self.path.display())?;
        Ok(())
    }
}

/// The arguments as one text, in name order (a `BTreeMap`'s).
fn args_text(order: &Order) -> String {
    serde_json::to_string(&order.args).expect("arguments serialise")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::time::Duration;

    #[test]
    fn the_same_order_is_remembered_until_it_expires() {
        let dir = tempfile::tempdir().unwrap();
        let sent = Sent::open(&dir.path().join("sent.db")).unwrap();
        let args = BTreeMap::from([("ip".to_string(), "203.0.113.7".to_string())]);
        let first = Order::new(
            "tux01",
            "block-ip",
            args.clone(),
            Duration::from_secs(600),
            "me",
        );
        let now = crate::base::time::now_ms();
        assert_eq!(sent.still_valid(&first, now).unwrap(), None);
        sent.record(&first).unwrap();
        let again = Order::new(
            "tux01",
            "block-ip",
            args.clone(),
            Duration::from_secs(600),
            "me",
        );
        let earlier = sent.still_valid(&again, now).unwrap().unwrap();
        assert_eq!(earlier.id, first.id);
        // Another host, another argument: not the same order.
        let elsewhere = Order::new("tux02", "block-ip", args, Duration::from_secs(600), "me");
        assert_eq!(sent.still_valid(&elsewhere, now).unwrap(), None);
        // Once it expired, it is sent again.
        assert_eq!(sent.still_valid(&again, now + 601_000).unwrap(), None);
    }
}
