//! The log kept in Redis Streams (docs/ARCHITECTURE.md §2, sheepdog(7)):
//! one stream, one entry per event, the JSON text in the entry field
//! `event`; consumer groups give each role every event once; each host's
//! orders in a stream of its own.
//!
//! Every call has a bounded timeout, so a cron job never hangs on a broker
//! that is away; every failure is an [`Exit::Unavailable`] error whose
//! message names the broker without its password — except a refused
//! password or ACL, which is the configuration's mistake (exit 2): it is
//! not waited out, it is said.

pub mod client;
pub mod sentinel;
pub mod wire;

use crate::base::error::{Context, Error, Result};
use crate::base::exit::Exit;
use crate::base::secret::redact_url;
use crate::log::orders::Signed;
use crate::log::{Aside, BrokerSettings, Entry, GroupInfo, GroupState, Log};
use redis::streams::{StreamAutoClaimReply, StreamId, StreamInfoGroupsReply};
use redis::{Connection, ConnectionLike, IntoConnectionInfo, RedisError, Value};
use std::time::Duration;
use wire::{EVENT_FIELD, write_command};

/// Whether a Redis URL is one sheepdog can use: a known scheme, a port, a
/// database number ([`crate::log::check_broker_url`] asks).
pub fn check_url(text: &str) -> Result<(), String> {
    const FORMS: &str = "expected redis://[USER:PASSWORD@]HOST[:PORT][/DB], rediss://…, unix:///PATH, \
         redis+sentinel://HOST:PORT[,HOST:PORT…]/MASTER[/DB] or nats://[USER:PASSWORD@]HOST[:PORT]";
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

pub struct Redis {
    conn: Connection,
    /// The URL without its password, for messages.
    shown: String,
    stream: String,
    timeout: Duration,
    /// The safety cap on the stream's length (`XADD … MAXLEN ~`).
    max_len: u64,
    /// Replicas that must confirm each batch ([`Redis::append`]).
    min_replicas: u32,
    /// This host's key: published events are signed with it.
    signer: Option<crate::event::signing::Key>,
    /// Where the master is, its password set, and the CA file's text:
    /// for opening [`Redis::wire`].
    info: Box<redis::ConnectionInfo>,
    ca_pem: Option<Vec<u8>>,
    /// The connection streams are read from, opened at the first read.
    wire: Option<Box<crate::log::redis::wire::Wire>>,
}

impl Redis {
    /// Connects within the configured timeout.
    pub fn connect(settings: &BrokerSettings, stream: &str) -> Result<Redis> {
        let shown = redact_url(&settings.url);
        if settings.is_nats() {
            // The log is one capability; what is Redis's own is not yet
            // the other engine's (sheepdog(7) "Across sites").
            return Err(Error::usage(format!(
                "{shown} is a NATS server: leases (--lease) and sd-enroll need a Redis \
                 broker for now"
            )));
        }
        // Trusted for the sentinels and the master alike.
        let ca_pem = match &settings.ca_file {
            Some(ca) => Some(std::fs::read(ca).usage_context("reading broker CA", ca.display())?),
            None => None,
        };
        // Through Sentinel: the master as the sentinels know it now.
        let url = if crate::log::redis::sentinel::is_sentinel(&settings.url) {
            let parsed = crate::log::redis::sentinel::parse(&settings.url)
                .map_err(|why| Error::usage(format!("invalid broker URL {shown}: {why}")))?;
            let password = settings.sentinel_password.as_ref().map(|p| p.expose());
            crate::log::redis::sentinel::master_url(
                &parsed,
                settings.timeout,
                ca_pem.as_deref(),
                password,
            )
            .map_err(|no| {
                if no.refused {
                    Error::usage(format!(
                        "finding the master through {shown}: the sentinels refused us ({}): \
                             fix [broker] sentinel_password_file; waiting would not help",
                        no.why
                    ))
                } else {
                    Error::new(
                        crate::base::exit::Exit::Unavailable,
                        format!("finding the master through {shown}: {}", no.why),
                    )
                }
            })?
        } else {
            settings.url.clone()
        };
        let info = url.as_str().into_connection_info().map_err(|e| {
            Error::usage(format!(
                "invalid broker URL {shown}: {} (expected redis://HOST:PORT, rediss://… or unix:///PATH)",
                describe(&e)
            ))
        })?;
        let password = settings.password.as_ref().map(|p| p.expose());
        let client = crate::log::redis::client::open(info, password, ca_pem.as_deref())
            .map_err(|e| unavailable(&shown, "connecting to", &e))?;
        let info = Box::new(client.get_connection_info().clone());
        let conn = client
            .get_connection_with_timeout(settings.timeout)
            .map_err(|e| unavailable(&shown, "connecting to", &e))?;
        let broker = Redis {
            conn,
            shown,
            stream: stream.to_string(),
            timeout: settings.timeout,
            max_len: settings.max_len,
            min_replicas: settings.min_replicas,
            signer: None,
            info,
            ca_pem,
            wire: None,
        };
        broker.set_timeout(Duration::ZERO)?;
        Ok(broker)
    }

    /// One command of an administrator's (`ACL SETUSER …`, `ACL SAVE`):
    /// its reply, or the error Redis gave (a refusal says which right is
    /// missing). The arguments are never shown: they may hold a password.
    pub fn admin(&mut self, args: &[&str]) -> std::result::Result<Value, RedisError> {
        let mut command = redis::cmd(args[0]);
        for arg in &args[1..] {
            command.arg(*arg);
        }
        command.query(&mut self.conn)
    }

    /// The broker as messages show it: its URL without the password.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// Socket timeouts: the command timeout plus however long the command
    /// itself may block.
    fn set_timeout(&self, blocking: Duration) -> Result<()> {
        let limit = Some(self.timeout + blocking);
        self.conn
            .set_read_timeout(limit)
            .and_then(|_| self.conn.set_write_timeout(limit))
            .map_err(|e| self.error("talking to", &e))
    }

    fn error(&self, what: &str, err: &RedisError) -> Error {
        unavailable(&self.shown, what, err)
    }

    /// Appends events in order, pipelined, capped by `MAXLEN ~`.
    fn xadd_events(&mut self, lines: &mut dyn Iterator<Item = &str>) -> Result<usize> {
        // The commands are written straight into one buffer: building each
        // through the client's command type (a vector per argument, a set
        // of ignored replies) cost sd-bark more than the spool did.
        let mut packed = Vec::new();
        let mut count = 0;
        let max_len = self.max_len.to_string();
        for line in lines {
            let signature = self.signer.as_ref().map(|key| key.sign(line));
            let mut args = [
                "XADD",
                &self.stream,
                "MAXLEN",
                "~",
                &max_len,
                "*",
                EVENT_FIELD,
                line,
                crate::event::signing::SIG_FIELD,
                "",
            ];
            let used = match &signature {
                Some(sig) => {
                    args[9] = sig;
                    10
                }
                None => 8,
            };
            write_command(&mut packed, &args[..used]);
            count += 1;
        }
        if count > 0 {
            self.conn
                .req_packed_commands(&packed, 0, count)
                .and_then(|replies| {
                    replies
                        .into_iter()
                        .try_for_each(|reply| reply.extract_error().map(drop))
                })
                .map_err(|e| self.error("publishing to", &e))?;
            self.confirm_replicas()?;
        }
        Ok(count)
    }

    /// With `[broker] min_replicas = N`: waits (`WAIT`, within the
    /// timeout) until N replicas have everything this connection wrote; a
    /// batch fewer confirm is not published — it stays in the spool and is
    /// sent again (its ids absorb the repeat), so a failover cannot lose
    /// it.
    fn confirm_replicas(&mut self) -> Result<()> {
        if self.min_replicas == 0 {
            return Ok(());
        }
        self.set_timeout(self.timeout)?;
        let confirmed: u64 = redis::cmd("WAIT")
            .arg(self.min_replicas)
            .arg(self.timeout.as_millis() as u64)
            .query(&mut self.conn)
            .map_err(|e| self.error("waiting for replicas of", &e))?;
        self.set_timeout(Duration::ZERO)?;
        if confirmed < u64::from(self.min_replicas) {
            return Err(Error::new(
                Exit::Unavailable,
                format!(
                    "{}: {confirmed} of the {} replicas [broker] min_replicas asks for confirmed \
                     the batch within {}; it stays in the spool and is sent again",
                    self.shown,
                    self.min_replicas,
                    crate::base::time::human(self.timeout)
                ),
            ));
        }
        Ok(())
    }

    /// Appends a signed order to the stream of the host it is for.
    fn xadd_order(&mut self, signed: &Signed, host: &str) -> Result<String> {
        use crate::log::orders::{KEY_FIELD, ORDER_FIELD, SIG_FIELD, stream_for};
        redis::cmd("XADD")
            .arg(stream_for(host))
            .arg("MAXLEN")
            .arg("~")
            .arg(self.max_len)
            .arg("*")
            .arg(ORDER_FIELD)
            .arg(&signed.order)
            .arg(SIG_FIELD)
            .arg(&signed.sig)
            .arg(KEY_FIELD)
            .arg(&signed.key)
            .query::<String>(&mut self.conn)
            .map_err(|e| self.error("publishing an order to", &e))
    }

    /// Creates the group if it does not exist: from the start of the
    /// stream, or only for what arrives from now on.
    fn xgroup_create(&mut self, group: &str, from_now: bool) -> Result<()> {
        let created: redis::RedisResult<()> = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(&self.stream)
            .arg(group)
            .arg(if from_now { "$" } else { "0" })
            .arg("MKSTREAM")
            .query(&mut self.conn);
        match created {
            Ok(()) => Ok(()),
            Err(e) if e.code() == Some("BUSYGROUP") => Ok(()),
            Err(e) => Err(self.error("creating the consumer group on", &e)),
        }
    }

    fn xreadgroup(
        &mut self,
        group: &str,
        consumer: &str,
        count: usize,
        block: Duration,
    ) -> std::result::Result<Vec<Entry>, RedisError> {
        self.read(&["XREADGROUP", "GROUP", group, consumer], count, block, ">")
    }

    /// The consumer's own pending entries after `after`: reading them
    /// again counts as a delivery, and the counts are asked for as
    /// XAUTOCLAIM's are.
    fn xreadgroup_pending(
        &mut self,
        group: &str,
        consumer: &str,
        after: &str,
        count: usize,
    ) -> std::result::Result<Vec<Entry>, RedisError> {
        let mut entries = self.read(
            &["XREADGROUP", "GROUP", group, consumer],
            count,
            Duration::ZERO,
            after,
        )?;
        self.count_deliveries(group, &mut entries)?;
        Ok(entries)
    }

    /// Each entry's delivery count, from XPENDING.
    fn count_deliveries(
        &mut self,
        group: &str,
        entries: &mut [Entry],
    ) -> std::result::Result<(), RedisError> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        for e in entries.iter() {
            pipe.cmd("XPENDING")
                .arg(&self.stream)
                .arg(group)
                .arg(&e.id)
                .arg(&e.id)
                .arg(1);
        }
        let counts: Vec<Vec<(String, String, u64, u64)>> = pipe.query(&mut self.conn)?;
        for (e, pending) in entries.iter_mut().zip(counts) {
            e.deliveries = pending.first().map_or(1, |p| p.3);
        }
        Ok(())
    }

    fn xread(
        &mut self,
        last: &str,
        count: usize,
        block: Duration,
    ) -> std::result::Result<Vec<Entry>, RedisError> {
        self.read(&["XREAD"], count, block, last)
    }

    /// XREAD or XREADGROUP with what both take: a count, a time to block,
    /// the stream and where to start.
    fn read(
        &mut self,
        command: &[&str],
        count: usize,
        block: Duration,
        after: &str,
    ) -> std::result::Result<Vec<Entry>, RedisError> {
        let (count, block_ms) = (count.to_string(), block.as_millis().to_string());
        let mut args = command.to_vec();
        args.extend(["COUNT", &count]);
        // BLOCK 0 would wait for ever: no time to wait is no BLOCK.
        if !block.is_zero() {
            args.extend(["BLOCK", &block_ms]);
        }
        args.extend(["STREAMS", &self.stream, after]);
        let wire = match &mut self.wire {
            Some(wire) => wire,
            None => self.wire.insert(Box::new(wire::Wire::connect(
                &self.info,
                self.ca_pem.as_deref(),
                self.timeout,
            )?)),
        };
        wire.set_timeout(self.timeout + block)?;
        wire.read_entries(&args)
    }

    /// The ID of the newest entry, for following from now.
    fn newest_id(&mut self) -> std::result::Result<String, RedisError> {
        let reply: redis::streams::StreamRangeReply = redis::cmd("XREVRANGE")
            .arg(&self.stream)
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(1)
            .query(&mut self.conn)?;
        Ok(reply
            .ids
            .first()
            .map_or_else(|| "0-0".to_string(), |e| e.id.clone()))
    }

    fn xautoclaim(
        &mut self,
        group: &str,
        consumer: &str,
        idle: Duration,
        count: usize,
    ) -> std::result::Result<Vec<Entry>, RedisError> {
        let reply: StreamAutoClaimReply = redis::cmd("XAUTOCLAIM")
            .arg(&self.stream)
            .arg(group)
            .arg(consumer)
            .arg(idle.as_millis() as u64)
            .arg("0-0")
            .arg("COUNT")
            .arg(count)
            .query(&mut self.conn)?;
        let mut claimed: Vec<Entry> = reply.claimed.into_iter().map(entry).collect();
        self.count_deliveries(group, &mut claimed)?;
        Ok(claimed)
    }

    fn xack(&mut self, group: &str, ids: &[String]) -> std::result::Result<(), RedisError> {
        if ids.is_empty() {
            return Ok(());
        }
        redis::cmd("XACK")
            .arg(&self.stream)
            .arg(group)
            .arg(ids)
            .query::<()>(&mut self.conn)
    }

    /// Moves an entry to `to` (`sheepdog:dead`, or `sheepdog:rejected`
    /// for a failed signature check) with the reason, then acknowledges
    /// it. Not in a MULTI transaction: the receiver's ACL (sheepdog(7))
    /// grants no MULTI, and redis-rs mishandles a refused MULTI (a panic
    /// in its reply count). Cut off between the two, the entry is moved
    /// again at its next delivery: twice in the dead letters, never lost.
    fn move_to(
        &mut self,
        to: &str,
        group: &str,
        entry: &Entry,
        reason: &str,
    ) -> std::result::Result<(), RedisError> {
        redis::pipe()
            .cmd("XADD")
            .arg(to)
            .arg("*")
            .arg(EVENT_FIELD)
            .arg(entry.text.as_deref().unwrap_or(""))
            .arg("reason")
            .arg(reason)
            .arg("stream")
            .arg(&self.stream)
            .arg("entry")
            .arg(&entry.id)
            .arg("group")
            .arg(group)
            .ignore()
            .cmd("XACK")
            .arg(&self.stream)
            .arg(group)
            .arg(&entry.id)
            .ignore()
            .query::<()>(&mut self.conn)
    }

    fn xinfo_groups(&mut self) -> std::result::Result<Vec<GroupInfo>, RedisError> {
        let exists: bool = redis::cmd("EXISTS")
            .arg(&self.stream)
            .query(&mut self.conn)?;
        if !exists {
            return Ok(Vec::new());
        }
        let info: StreamInfoGroupsReply = redis::cmd("XINFO")
            .arg("GROUPS")
            .arg(&self.stream)
            .query(&mut self.conn)?;
        let mut groups = Vec::new();
        for group in info.groups {
            let consumers: redis::streams::StreamInfoConsumersReply = redis::cmd("XINFO")
                .arg("CONSUMERS")
                .arg(&self.stream)
                .arg(&group.name)
                .query(&mut self.conn)?;
            groups.push(GroupInfo {
                idle_ms: consumers.consumers.iter().map(|c| c.idle as u64).min(),
                name: group.name,
                consumers: group.consumers as u64,
                pending: group.pending as u64,
                lag: group.lag.map(|l| l as u64),
            });
        }
        Ok(groups)
    }

    fn xgroup_destroy(&mut self, group: &str) -> std::result::Result<bool, RedisError> {
        let destroyed: std::result::Result<i64, RedisError> = redis::cmd("XGROUP")
            .arg("DESTROY")
            .arg(&self.stream)
            .arg(group)
            .query(&mut self.conn);
        match destroyed {
            Ok(n) => Ok(n > 0),
            // No stream at all: no group either.
            Err(e) if e.to_string().contains("no such key") => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// `XTRIM MINID` below the oldest entry a group still needs.
    fn xtrim(&mut self) -> std::result::Result<Vec<GroupState>, RedisError> {
        let info: StreamInfoGroupsReply = redis::cmd("XINFO")
            .arg("GROUPS")
            .arg(&self.stream)
            .query(&mut self.conn)?;
        if info.groups.is_empty() {
            return Ok(Vec::new());
        }
        let mut needed: Option<(u64, u64)> = None;
        let mut states = Vec::new();
        for group in &info.groups {
            let after_delivered = parse_id(&group.last_delivered_id).map(|(ms, seq)| (ms, seq + 1));
            let oldest = if group.pending > 0 {
                let summary: (u64, Option<String>, Option<String>, Value) = redis::cmd("XPENDING")
                    .arg(&self.stream)
                    .arg(&group.name)
                    .query(&mut self.conn)?;
                // Nothing pending any more (acknowledged since XINFO): the
                // group still holds back what it has not been given.
                summary.1.as_deref().and_then(parse_id).or(after_delivered)
            } else {
                after_delivered
            };
            if let Some(id) = oldest {
                needed = Some(needed.map_or(id, |n| n.min(id)));
            }
            states.push(GroupState {
                name: group.name.clone(),
                pending: group.pending as u64,
                lag: group.lag.map(|l| l as u64),
            });
        }
        if let Some((ms, seq)) = needed {
            redis::cmd("XTRIM")
                .arg(&self.stream)
                .arg("MINID")
                .arg(format!("{ms}-{seq}"))
                .query::<()>(&mut self.conn)?;
        }
        Ok(states)
    }
}

impl Log for Redis {
    fn shown(&self) -> String {
        self.shown.clone()
    }

    fn entry_prefix(&self) -> &'static str {
        "redis"
    }

    fn sign_with(&mut self, key: crate::event::signing::Key) {
        self.signer = Some(key);
    }

    fn append(&mut self, lines: &mut dyn Iterator<Item = &str>) -> Result<usize> {
        self.xadd_events(lines)
    }

    fn append_order(&mut self, host: &str, signed: &Signed) -> Result<()> {
        self.xadd_order(signed, host).map(drop)
    }

    fn ensure_group(&mut self, group: &str, from_now: bool) -> Result<()> {
        self.xgroup_create(group, from_now)
    }

    fn read_group(
        &mut self,
        group: &str,
        consumer: &str,
        count: usize,
        block: Duration,
    ) -> Result<Vec<Entry>> {
        self.xreadgroup(group, consumer, count, block)
            .map_err(|e| self.error("reading from", &e))
    }

    fn read_own_pending(
        &mut self,
        group: &str,
        consumer: &str,
        after: &str,
        count: usize,
    ) -> Result<Vec<Entry>> {
        self.xreadgroup_pending(group, consumer, after, count)
            .map_err(|e| self.error("reading from", &e))
    }

    fn claim_idle(
        &mut self,
        group: &str,
        consumer: &str,
        idle: Duration,
        count: usize,
    ) -> Result<Vec<Entry>> {
        self.set_timeout(Duration::ZERO)?;
        self.xautoclaim(group, consumer, idle, count)
            .map_err(|e| self.error("claiming idle entries on", &e))
    }

    fn ack(&mut self, group: &str, ids: &[String]) -> Result<()> {
        self.xack(group, ids)
            .map_err(|e| self.error("acknowledging on", &e))
    }

    fn set_aside(&mut self, aside: Aside, group: &str, entry: &Entry, reason: &str) -> Result<()> {
        self.move_to(aside.name(), group, entry, reason)
            .map_err(|e| self.error("setting an entry aside on", &e))
    }

    fn last_id(&mut self) -> Result<String> {
        self.newest_id().map_err(|e| self.error("reading", &e))
    }

    fn read_after(&mut self, last: &str, count: usize, block: Duration) -> Result<Vec<Entry>> {
        self.xread(last, count, block)
            .map_err(|e| self.error("reading from", &e))
    }

    fn groups(&mut self) -> Result<Vec<GroupInfo>> {
        self.xinfo_groups()
            .map_err(|e| self.error("listing the groups on", &e))
    }

    fn retire_group(&mut self, group: &str) -> Result<bool> {
        self.xgroup_destroy(group)
            .map_err(|e| self.error("retiring the group on", &e))
    }

    fn trim(&mut self) -> Result<Vec<GroupState>> {
        self.xtrim().map_err(|e| self.error("trimming", &e))
    }

    fn capacity(&self) -> Option<u64> {
        Some(self.max_len)
    }
}

fn owned_text(value: Value) -> Option<String> {
    match value {
        Value::BulkString(bytes) => String::from_utf8(bytes).ok(),
        Value::SimpleString(text) => Some(text),
        _ => None,
    }
}

fn entry(id: StreamId) -> Entry {
    let mut entry = Entry::new(id.id, id.delivered_count.unwrap_or(1) as u64);
    // Taken out of the reply, not copied.
    for (name, value) in id.map {
        if let Some(slot) = wire::slot(&mut entry, name.as_bytes()) {
            *slot = owned_text(value);
        }
    }
    entry
}

/// `1700000000000-3` as numbers.
pub fn parse_id(id: &str) -> Option<(u64, u64)> {
    let (ms, seq) = id.split_once('-')?;
    Some((ms.parse().ok()?, seq.parse().ok()?))
}

/// A broker failure as an exit-69 error: `connecting to redis://…: why`;
/// a password or ACL refused, as a usage error (exit 2) naming the fix.
fn unavailable(shown: &str, what: &str, err: &RedisError) -> Error {
    if is_refusal(err) {
        let why = match err.kind() {
            redis::ErrorKind::AuthenticationFailed => "authentication failed".to_string(),
            _ => crate::base::error::plain(err.to_string()),
        };
        return Error::usage(format!(
            "{what} {shown}: the broker refused us ({why}): fix the user or [broker] \
             password_file, or the ACL on the server; waiting would not help"
        ));
    }
    if err.code() == Some("NOGROUP") {
        // Redis lost the group (restarted without persistence): an
        // outage, after which the group is made again.
        return Error::new(
            Exit::Unavailable,
            format!(
                "{what} {shown}: the consumer group is gone ({})",
                describe(err)
            ),
        );
    }
    if err.kind() == redis::ErrorKind::Parse {
        // Something answered, but not in Redis's protocol: a web server,
        // an SSH daemon — the wrong port, most likely.
        return Error::new(
            Exit::Unavailable,
            format!(
                "not a Redis server at {shown} ({what} it: what answered does not speak \
                 the Redis protocol; check the host and port)"
            ),
        );
    }
    Error::new(
        Exit::Unavailable,
        format!("{what} {shown}: {}", describe(err)),
    )
}

use client::is_refusal;

/// A Redis error in plain words; passwords never appear in them.
fn describe(err: &RedisError) -> String {
    if err.is_timeout() {
        return "timed out (is the broker overloaded or unreachable?)".to_string();
    }
    if err.is_connection_refusal() {
        return "connection refused (is redis-server running there?)".to_string();
    }
    match err.kind() {
        redis::ErrorKind::AuthenticationFailed => {
            "authentication failed (check the user and password_file)".to_string()
        }
        redis::ErrorKind::Parse => {
            "what answered does not speak the Redis protocol (check the host and port)".to_string()
        }
        _ => crate::base::error::plain(err.to_string()),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn broker_urls_are_checked_before_use() {
        for good in [
            "",
            "redis://127.0.0.1:6379",
            "redis://:pw@host:1/0",
            "rediss://host",
            "unix:///run/redis.sock",
            "nats://127.0.0.1:4222",
        ] {
            assert_eq!(crate::log::check_broker_url(good), Ok(()), "{good}");
        }
        for (bad, why) in [
            ("http://localhost:6379", "unknown scheme http"),
            ("redis://127.0.0.1:6379/abc", "database must be a number"),
            ("redis://127.0.0.1:99999", "invalid port"),
            ("localhost:6379", "expected redis://"),
            ("redis://:s3cret@host/x", "database"),
        ] {
            let err = crate::log::check_broker_url(bad).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
            assert!(!err.contains("s3cret"), "{err}");
        }
    }
}
