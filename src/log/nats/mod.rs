//! The log kept in NATS JetStream (sheepdog(7) "Across sites"): one
//! JetStream stream per log, one message per event, published on the
//! subject of its site and host (`sheepdog.events.SITE.HOST`) with the
//! event's id as `Nats-Msg-Id`, so a batch sent again after an outage is
//! dropped by the server within the dedup window; every consumer group a
//! durable pull consumer with explicit acknowledgement; each host's orders
//! on a subject of its own (`sheepdog.orders.HOST`), read by a consumer
//! that filters on it.
//!
//! The client is asynchronous; a current-thread runtime lives in each
//! [`Nats`] and nowhere else, and every call is bounded by the broker
//! timeout (plus however long a read may wait), so the commands stay
//! blocking and a cron job never hangs on a server that went away.

mod pull;
mod purge;
mod subjects;

use crate::base::error::{Error, Result};
use crate::base::exit::Exit;
use crate::base::secret::redact_url;
use crate::log::BrokerSettings;
use crate::log::orders::Signed;
use crate::log::{Aside, Entry, GroupInfo, GroupState, Log};
use async_nats::jetstream::{self, consumer, stream};
use futures_util::StreamExt;
use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;
pub use subjects::{HUB, Sites, Target, check_url};

/// The header carrying an event's (or order's) signature.
const SIG_HEADER: &str = "Sheepdog-Sig";
/// The header carrying the id of the key that signed an order.
const KEY_HEADER: &str = "Sheepdog-Key";
/// Headers of an entry set aside: why, by which group, which entry.
const REASON_HEADER: &str = "Sheepdog-Reason";

/// How long a delivered message may go unacknowledged before the server
/// gives it to the group again, until a receiver says otherwise
/// ([`Log::claim_idle`] sets it to its --claim-idle).
const ACK_WAIT: Duration = Duration::from_secs(60);

/// How long the server drops a repeated `Nats-Msg-Id`: a spool that sends
/// a batch again after a lost acknowledgement does so within it.
const DEDUP_WINDOW: Duration = Duration::from_secs(2 * 3600);

/// What a group may have delivered and unacknowledged at once: more than
/// any receiver's window.
const MAX_IN_FLIGHT: i64 = 1_000_000;

/// How long a stream keeps a message whoever still needs it: long enough
/// for a site cut off for weeks to be sourced by the hub when it returns.
const MAX_AGE: Duration = Duration::from_secs(30 * 86400);

pub struct Nats {
    runtime: tokio::runtime::Runtime,
    client: async_nats::Client,
    context: jetstream::Context,
    /// The URL without its password, for messages.
    shown: String,
    /// Where the host is (its site, the hub's sites).
    settings: BrokerSettings,
    target: Target,
    timeout: Duration,
    /// The stream's cap in messages (`[broker] max_len`).
    max_len: u64,
    signer: Option<crate::event::signing::Key>,
    /// Consumers by group, with the ack wait each was last given.
    consumers: HashMap<String, (consumer::PullConsumer, Duration)>,
    /// Messages delivered and not yet acknowledged, by entry id: the
    /// subject each one's acknowledgement goes to. Not the whole message:
    /// moved through a vector and a map for every event, it cost more than
    /// the rest of a read.
    held: HashMap<String, async_nats::Subject>,
    /// The streams opened (the log's, the dead letters'), by name: asked
    /// of the server once, not before every batch.
    streams: HashMap<String, stream::Stream>,
    /// What the server last refused (a permission), said asynchronously:
    /// a publish it refuses is otherwise only a timeout.
    refused: std::sync::Arc<std::sync::Mutex<Option<String>>>,
    /// Where each group's pull requests are answered, made at its first
    /// read.
    pulls: HashMap<String, pull::Pulls>,
    /// The JetStream API's subject prefix, in the context's domain.
    api: String,
}

impl Nats {
    /// Connects within the configured timeout.
    pub fn connect(settings: &BrokerSettings, stream: &str) -> Result<Nats> {
        let shown = redact_url(&settings.url);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::io(format!("starting the NATS client: {e}")))?;
        let url = url::Url::parse(&settings.url)
            .map_err(|e| Error::usage(format!("invalid broker URL {shown}: {e}")))?;
        let mut options = async_nats::ConnectOptions::new()
            .connection_timeout(settings.timeout)
            .request_timeout(Some(settings.timeout))
            // A command that lost its server fails and its caller (the
            // spool, the reconnecting reader) decides; the client does not
            // retry behind its back for ever.
            .max_reconnects(Some(1));
        let refused = std::sync::Arc::new(std::sync::Mutex::new(None));
        let noted = std::sync::Arc::clone(&refused);
        options = options.event_callback(move |event| {
            if let async_nats::Event::ServerError(error) = &event {
                let text = error.to_string();
                if text.to_lowercase().contains("permission")
                    && let Ok(mut last) = noted.lock()
                {
                    *last = Some(text);
                }
            }
            async {}
        });
        let user = percent_encoding::percent_decode_str(url.username())
            .decode_utf8_lossy()
            .to_string();
        let password = match &settings.password {
            Some(p) => Some(p.expose().to_string()),
            None => url.password().map(|p| {
                percent_encoding::percent_decode_str(p)
                    .decode_utf8_lossy()
                    .to_string()
            }),
        };
        if let Some(password) = password {
            options = options.user_and_password(user, password);
        }
        if let Some(ca) = &settings.ca_file {
            options = options.add_root_certificates(ca.clone()).require_tls(true);
        }
        if url.scheme() == "tls" {
            options = options.require_tls(true);
        }
        let address = format!(
            "{}:{}",
            url.host_str().unwrap_or("127.0.0.1"),
            url.port().unwrap_or(4222)
        );
        let connecting = options.connect(address);
        let client = runtime
            .block_on(async { tokio::time::timeout(settings.timeout, connecting).await })
            .map_err(|_| {
                Error::new(
                    Exit::Unavailable,
                    format!("connecting to {shown}: timed out (is nats-server running there?)"),
                )
            })?
            .map_err(|e| failure(&shown, "connecting to", &e.to_string()))?;
        // The site's own JetStream domain: the leaf server of the site
        // keeps the log while the hub is away.
        let domain = settings.site.as_deref().map(subjects::token);
        let mut builder = jetstream::ContextBuilder::new().timeout(settings.timeout);
        if let Some(domain) = &domain {
            builder = jetstream::ContextBuilder::new()
                .domain(domain)
                .timeout(settings.timeout);
        }
        // The context starts a task of its own: on this runtime.
        let context = {
            let _inside = runtime.enter();
            builder.build(client.clone())
        };
        Ok(Nats {
            runtime,
            client,
            context,
            shown,
            settings: settings.clone(),
            target: Target::of(stream, sites(settings)),
            timeout: settings.timeout,
            max_len: settings.max_len,
            signer: None,
            consumers: HashMap::new(),
            held: HashMap::new(),
            streams: HashMap::new(),
            refused,
            pulls: HashMap::new(),
            api: match domain {
                Some(domain) => format!("$JS.{domain}.API"),
                None => "$JS.API".to_string(),
            },
        })
    }

    /// Runs `work` on the engine's runtime, bounded by the timeout plus
    /// `block`; a failure is said with `what` and the server.
    fn run<T, E: std::fmt::Display>(
        &self,
        what: &str,
        block: Duration,
        work: impl Future<Output = std::result::Result<T, E>>,
    ) -> Result<T> {
        let outcome = self
            .runtime
            .block_on(async { tokio::time::timeout(self.timeout + block, work).await });
        if outcome.as_ref().map_or(true, |done| done.is_err())
            && let Some(why) = self.refused.lock().ok().and_then(|mut r| r.take())
        {
            return Err(failure(&self.shown, what, &why));
        }
        match outcome {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(failure(&self.shown, what, &e.to_string())),
            Err(_) => Err(Error::new(
                Exit::Unavailable,
                format!(
                    "{what} {}: timed out (is the server overloaded or unreachable?)",
                    self.shown
                ),
            )),
        }
    }

    /// The log's stream, created on first use with the documented limits.
    fn stream(&mut self) -> Result<stream::Stream> {
        let target = self.target.clone();
        self.stream_of(&target)
    }

    /// `target`'s stream, created on first use.
    fn stream_of(&mut self, target: &Target) -> Result<stream::Stream> {
        if let Some(stream) = self.streams.get(&target.stream) {
            return Ok(stream.clone());
        }
        let config = stream::Config {
            name: target.stream.clone(),
            subjects: target.subjects.clone(),
            sources: (!target.sources.is_empty()).then(|| {
                target
                    .sources
                    .iter()
                    .map(|domain| stream::Source {
                        name: target.stream.clone(),
                        domain: Some(domain.clone()),
                        ..Default::default()
                    })
                    .collect()
            }),
            max_messages: i64::try_from(self.max_len).unwrap_or(i64::MAX),
            duplicate_window: DEDUP_WINDOW,
            max_age: MAX_AGE,
            storage: stream::StorageType::File,
            ..Default::default()
        };
        let context = self.context.clone();
        let stream = self.run("opening the stream on", Duration::ZERO, async move {
            let stream = context
                .get_or_create_stream(config.clone())
                .await
                .map_err(|e| e.to_string())?;
            // The hub's list of sites grew (or shrank): the stream sources
            // what the settings say.
            let had = stream.cached_info().config.sources.clone();
            if source_domains(&had) == source_domains(&config.sources) {
                return Ok(stream);
            }
            context
                .update_stream(&config)
                .await
                .map_err(|e| e.to_string())?;
            context
                .get_stream(&config.name)
                .await
                .map_err(|e| e.to_string())
        })?;
        self.streams.insert(target.stream.clone(), stream.clone());
        Ok(stream)
    }

    /// The group's durable consumer, made if missing.
    fn consumer(&mut self, group: &str, from_now: bool) -> Result<consumer::PullConsumer> {
        if let Some((consumer, _)) = self.consumers.get(group) {
            return Ok(consumer.clone());
        }
        let stream = self.stream()?;
        let name = self.target.consumer(group);
        let config = consumer::pull::Config {
            durable_name: Some(name.clone()),
            deliver_policy: if from_now {
                consumer::DeliverPolicy::New
            } else {
                consumer::DeliverPolicy::All
            },
            ack_policy: consumer::AckPolicy::Explicit,
            ack_wait: ACK_WAIT,
            // The receiver bounds what is in flight (sd-recv --window);
            // the server's default of 1,000 would stall it mid-window.
            max_ack_pending: MAX_IN_FLIGHT,
            // A stream that holds this log alone needs no filter, and the
            // server finds each next message without matching its subject.
            filter_subject: match self.target.shares_its_stream() {
                true => self.target.filter.clone(),
                false => String::new(),
            },
            ..Default::default()
        };
        let consumer = self.run("making the group on", Duration::ZERO, async move {
            stream
                .get_or_create_consumer::<consumer::pull::Config>(&name, config)
                .await
        })?;
        self.consumers
            .insert(group.to_string(), (consumer.clone(), ACK_WAIT));
        Ok(consumer)
    }

    /// Messages of the group's consumer: those waiting, up to `count`,
    /// waiting at most `block` for the first.
    fn fetch(&mut self, group: &str, count: usize, block: Duration) -> Result<Vec<Entry>> {
        self.consumer(group, false)?;
        let count = count.clamp(1, 4000);
        // The group's subscription, or where a new one will ask.
        let pulls = self.pulls.remove(group).ok_or_else(|| {
            async_nats::Subject::from(format!(
                "{}.CONSUMER.MSG.NEXT.{}.{}",
                self.api,
                self.target.stream,
                self.target.consumer(group)
            ))
        });
        let client = self.client.clone();
        let (messages, pulls) = self.run("reading from", block, async move {
            let mut pulls = match pulls {
                Ok(pulls) => pulls,
                Err(next) => pull::Pulls::open(&client, next).await?,
            };
            // What is waiting, at once; only when nothing is, a pull that
            // waits (a short wait is not worth a pull the server keeps:
            // it is slept instead, or a receiver waiting for its handler
            // would ask the server again and again meanwhile).
            let mut got = Vec::new();
            pulls.take(&client, count, None, &mut got).await?;
            if got.is_empty() && block < Duration::from_millis(100) {
                tokio::time::sleep(block).await;
            } else if got.is_empty() {
                pulls.take(&client, count, Some(block), &mut got).await?;
            }
            Ok::<_, async_nats::Error>((got, pulls))
        })?;
        // Kept only after a read that ended well: after a failure, what a
        // late answer brings goes to no one and comes back after the ack
        // wait.
        self.pulls.insert(group.to_string(), pulls);
        Ok(messages
            .into_iter()
            .filter_map(|message| {
                let reply = message.reply?;
                let delivery = pull::delivery(&reply)?;
                let mut entry =
                    Entry::new(delivery.sequence.to_string(), delivery.delivered.max(1));
                entry.added_ms = Some(delivery.published_ns / 1_000_000);
                fill(&mut entry, &message.payload, message.headers.as_ref());
                self.held.insert(entry.id.clone(), reply);
                Some(entry)
            })
            .collect())
    }

    /// Publishes one message to `target`'s stream and waits for the
    /// server to keep it.
    fn publish(
        &mut self,
        target: &Target,
        subject: String,
        headers: async_nats::HeaderMap,
        payload: String,
    ) -> Result<()> {
        self.stream_of(target)?;
        let context = self.context.clone();
        self.run("publishing to", Duration::ZERO, async move {
            context
                .publish_with_headers(subject, headers, payload.into())
                .await?
                .await
                .map_err(async_nats::Error::from)
        })
        .map(drop)
    }

    /// The log's stream, its last sequence number, and every consumer on
    /// it (the groups of this log and, on a shared stream, others').
    fn listing(&mut self, what: &str) -> Result<(stream::Stream, u64, Vec<consumer::Info>)> {
        let stream = self.stream()?;
        self.run(what, Duration::ZERO, async move {
            let mut stream = stream;
            let last = stream.info().await?.state.last_sequence;
            let mut infos = Vec::new();
            {
                let mut list = stream.consumers();
                while let Some(info) = list.next().await {
                    infos.push(info?);
                }
            }
            Ok::<_, async_nats::Error>((stream, last, infos))
        })
    }
}

/// The domains a stream sources from, however the server wrote them.
fn source_domains(sources: &Option<Vec<stream::Source>>) -> Vec<String> {
    let mut domains: Vec<String> = sources
        .iter()
        .flatten()
        .filter_map(|source| {
            source.domain.clone().or_else(|| {
                let api = &source.external.as_ref()?.api_prefix;
                Some(api.strip_prefix("$JS.")?.strip_suffix(".API")?.to_string())
            })
        })
        .collect();
    domains.sort();
    domains
}

/// Where the settings put this host.
fn sites(settings: &BrokerSettings) -> Sites<'_> {
    Sites {
        site: settings.site.as_deref(),
        sources: &settings.sites,
    }
}

/// An entry's text, signature and key, from a message's payload and
/// headers.
fn fill(entry: &mut Entry, payload: &[u8], headers: Option<&async_nats::HeaderMap>) {
    entry.text = std::str::from_utf8(payload).ok().map(str::to_string);
    if let Some(headers) = headers {
        entry.sig = headers.get(SIG_HEADER).map(|v| v.as_str().to_string());
        entry.key = headers.get(KEY_HEADER).map(|v| v.as_str().to_string());
    }
}

/// A failure of the server as an error: a refused user or permission is
/// the configuration's (exit 2), anything else an outage (exit 69).
fn failure(shown: &str, what: &str, why: &str) -> Error {
    let lower = why.to_lowercase();
    if lower.contains("authorization") || lower.contains("permission") {
        return Error::usage(format!(
            "{what} {shown}: the server refused us ({}): fix the user, [broker] password_file, \
             or the permissions on the server; waiting would not help",
            crate::base::error::plain(why.to_string())
        ));
    }
    Error::new(
        Exit::Unavailable,
        format!(
            "{what} {shown}: {}",
            crate::base::error::plain(why.to_string())
        ),
    )
}

impl Drop for Nats {
    /// What is queued on the connection (acknowledgements) is sent before
    /// the log is closed.
    fn drop(&mut self) {
        let client = self.client.clone();
        let _ = self.run(
            "closing",
            Duration::ZERO,
            async move { client.flush().await },
        );
    }
}

impl Log for Nats {
    fn shown(&self) -> String {
        self.shown.clone()
    }

    fn entry_prefix(&self) -> &'static str {
        "nats"
    }

    fn sign_with(&mut self, key: crate::event::signing::Key) {
        self.signer = Some(key);
    }

    fn append(&mut self, lines: &mut dyn Iterator<Item = &str>) -> Result<usize> {
        self.stream()?;
        let mut outgoing = Vec::new();
        for line in lines {
            let mut headers = async_nats::HeaderMap::new();
            // The event's own id makes a repeat within the window one
            // message; an event without one is simply published.
            if let Some(id) = subjects::event_id(line) {
                headers.insert(async_nats::header::NATS_MESSAGE_ID, id.as_str());
            }
            if let Some(key) = &self.signer {
                headers.insert(SIG_HEADER, key.sign(line).as_str());
            }
            outgoing.push((headers, line.to_string()));
        }
        let count = outgoing.len();
        if count == 0 {
            return Ok(0);
        }
        let context = self.context.clone();
        let subject = self.target.publish.clone();
        // Pipelined: every message sent, then every acknowledgement
        // awaited; the batch counts once the server has kept them all.
        self.run("publishing to", Duration::ZERO, async move {
            let mut acks = Vec::with_capacity(count);
            for (headers, line) in outgoing {
                acks.push(
                    context
                        .publish_with_headers(subject.clone(), headers, line.into())
                        .await?,
                );
            }
            for ack in acks {
                ack.await?;
            }
            Ok::<_, async_nats::Error>(())
        })?;
        Ok(count)
    }

    fn append_order(&mut self, host: &str, signed: &Signed) -> Result<()> {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(SIG_HEADER, signed.sig.as_str());
        headers.insert(KEY_HEADER, signed.key.as_str());
        let target = Target::of(&crate::log::orders::stream_for(host), sites(&self.settings));
        let subject = target.publish.clone();
        self.publish(&target, subject, headers, signed.order.clone())
    }

    fn ensure_group(&mut self, group: &str, from_now: bool) -> Result<()> {
        self.consumer(group, from_now).map(drop)
    }

    fn read_group(
        &mut self,
        group: &str,
        _consumer: &str,
        count: usize,
        block: Duration,
    ) -> Result<Vec<Entry>> {
        self.fetch(group, count, block)
    }

    /// A group's messages are not a consumer's own in JetStream: what a
    /// receiver held when it died comes back to the group once the ack
    /// wait (--claim-idle) is over, to whoever reads it first.
    fn read_own_pending(
        &mut self,
        _group: &str,
        _consumer: &str,
        _after: &str,
        _count: usize,
    ) -> Result<Vec<Entry>> {
        Ok(Vec::new())
    }

    /// The server gives again what went unacknowledged for the ack wait;
    /// the consumer's ack wait is made `idle` (at least a second), and
    /// what is waiting is read at once.
    fn claim_idle(
        &mut self,
        group: &str,
        _consumer: &str,
        idle: Duration,
        count: usize,
    ) -> Result<Vec<Entry>> {
        let consumer = self.consumer(group, false)?;
        // Zero is a takeover (sd-recv --lease): what the last holder left
        // comes back at the end of its ack wait, and the wait stays.
        let takeover = idle.is_zero();
        let idle = idle.max(Duration::from_millis(100));
        if !takeover
            && self
                .consumers
                .get(group)
                .is_some_and(|(_, wait)| *wait != idle)
        {
            let stream = self.stream()?;
            let mut config = consumer.cached_info().config.clone();
            config.ack_wait = idle;
            self.run(
                "setting the group's ack wait on",
                Duration::ZERO,
                async move {
                    // Made again with the same name: the server edits it.
                    stream.create_consumer(config).await
                },
            )?;
            self.consumers.insert(group.to_string(), (consumer, idle));
        }
        let entries = self.fetch(group, count, Duration::ZERO)?;
        Ok(entries)
    }

    fn ack(&mut self, _group: &str, ids: &[String]) -> Result<()> {
        let replies: Vec<async_nats::Subject> =
            ids.iter().filter_map(|id| self.held.remove(id)).collect();
        if replies.is_empty() {
            return Ok(());
        }
        let client = self.client.clone();
        self.run("acknowledging on", Duration::ZERO, async move {
            for reply in replies {
                // An empty body acknowledges, as `jetstream::Message::ack`.
                client.publish(reply, "".into()).await?;
            }
            // Sent, not just queued: the connection runs only while this
            // engine is asked something, and an acknowledgement that waits
            // past the ack wait has its event delivered again.
            client.flush().await?;
            Ok::<_, async_nats::Error>(())
        })
    }

    fn set_aside(&mut self, aside: Aside, group: &str, entry: &Entry, reason: &str) -> Result<()> {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(
            REASON_HEADER,
            crate::base::error::plain(reason.to_string()).as_str(),
        );
        headers.insert("Sheepdog-Group", group);
        headers.insert("Sheepdog-Entry", entry.id.as_str());
        let target = Target::of(aside.name(), Sites::default());
        let subject = target.publish.clone();
        self.publish(
            &target,
            subject,
            headers,
            entry.text.clone().unwrap_or_default(),
        )?;
        if let Some(reply) = self.held.remove(&entry.id) {
            let client = self.client.clone();
            self.run("acknowledging on", Duration::ZERO, async move {
                client
                    .publish(reply, jetstream::AckKind::Term.into())
                    .await?;
                client.flush().await?;
                Ok::<_, async_nats::Error>(())
            })?;
        }
        Ok(())
    }

    fn last_id(&mut self) -> Result<String> {
        let mut stream = self.stream()?;
        let info = self.run("reading", Duration::ZERO, async move {
            stream.info().await.map(|i| i.state.last_sequence)
        })?;
        Ok(info.to_string())
    }

    fn read_after(&mut self, last: &str, count: usize, block: Duration) -> Result<Vec<Entry>> {
        let stream = self.stream()?;
        let after: u64 = last.parse().unwrap_or(0);
        let filter = self.target.filter.clone();
        let count = count.clamp(1, 1000);
        let messages = self.run("reading from", block, async move {
            let deadline = tokio::time::Instant::now() + block;
            let mut got = Vec::new();
            let mut next = after + 1;
            loop {
                match stream
                    .raw_message_builder()
                    .next_by_subject(filter.clone())
                    .sequence(next)
                    .send()
                    .await
                {
                    Ok(message) => {
                        next = message.sequence + 1;
                        got.push(message);
                        if got.len() >= count {
                            break;
                        }
                    }
                    Err(e)
                        if e.kind()
                            == async_nats::jetstream::stream::RawMessageErrorKind::NoMessageFound =>
                    {
                        if !got.is_empty() || tokio::time::Instant::now() >= deadline {
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    Err(e) => return Err(e),
                }
            }
            Ok(got)
        })?;
        Ok(messages
            .into_iter()
            .map(|message| {
                let mut entry = Entry::new(message.sequence.to_string(), 1);
                entry.added_ms = Some(message.time.timestamp_millis());
                fill(&mut entry, &message.payload, Some(&message.headers));
                entry
            })
            .collect())
    }

    fn groups(&mut self) -> Result<Vec<GroupInfo>> {
        let target = self.target.clone();
        let (_, _, infos) = self.listing("listing the groups on")?;
        let now = chrono::Utc::now();
        Ok(infos
            .into_iter()
            .filter_map(|info| {
                let name = target.group_of(&info.name)?;
                Some(GroupInfo {
                    name,
                    consumers: u64::from(info.num_waiting > 0),
                    pending: info.num_ack_pending as u64,
                    lag: Some(info.num_pending),
                    idle_ms: info
                        .delivered
                        .last_active
                        .map(|at| (now - at).num_milliseconds().max(0) as u64),
                })
            })
            .collect::<Vec<_>>())
        .map(|mut groups| {
            groups.sort_by(|a, b| a.name.cmp(&b.name));
            groups
        })
    }

    fn retire_group(&mut self, group: &str) -> Result<bool> {
        let stream = self.stream()?;
        let name = self.target.consumer(group);
        self.consumers.remove(group);
        self.run("retiring the group on", Duration::ZERO, async move {
            match stream.delete_consumer(&name).await {
                Ok(_) => Ok(true),
                Err(e) if e.to_string().to_lowercase().contains("not found") => Ok(false),
                Err(e) => Err(e),
            }
        })
    }

    /// Purges what every group of this log has had and acknowledged
    /// (never what one still needs: see [`purge`]; a log no group reads is
    /// kept whole), and says how far each group is behind. JetStream also
    /// keeps the stream within `max_len` messages itself, the oldest
    /// dropped.
    fn trim(&mut self) -> Result<Vec<GroupState>> {
        let target = self.target.clone();
        let (stream, last, infos) = self.listing("trimming")?;
        let mut progress = Vec::new();
        let mut states = Vec::new();
        for info in infos {
            let Some(name) = target.group_of(&info.name) else {
                continue;
            };
            let pending = info.num_ack_pending as u64;
            progress.push(purge::GroupProgress {
                ack_floor: info.ack_floor.stream_sequence,
                delivered: info.delivered.stream_sequence,
                pending,
            });
            states.push(GroupState {
                name,
                pending,
                lag: Some(info.num_pending),
            });
        }
        if let Some(keep_from) = purge::keep_from(&progress, last) {
            // A stream that holds this log alone is purged whole below
            // `keep_from`: whole blocks dropped, where a filter makes the
            // server look at every message (bench/BENCHMARKS.md).
            let filter = target.shares_its_stream().then(|| target.filter.clone());
            self.run("trimming", Duration::ZERO, async move {
                let purge = stream.purge().sequence(keep_from);
                match filter {
                    Some(filter) => purge.filter(filter).await,
                    None => purge.await,
                }
            })?;
        }
        Ok(states)
    }

    fn capacity(&self) -> Option<u64> {
        Some(self.max_len)
    }
}
