//! What the voice decided and said, kept where every server keeps
//! everything. With `--record`, sd-mail sends two kinds of `info` events
//! (tag `sd-mail`) through the spool to the broker:
//!
//! - `decided`: a notification is due (before the events that called for
//!   it are let go), with the state sd-mail then holds for its host and
//!   tag and what the mail needs;
//! - `notified`: it was told (after the mail server or a channel took it).
//!
//! Every server's store keeps them. A server that becomes the voice
//! (sd-recv --lease) reads them from its own store before it decides
//! anything: it takes the newest state of each host and tag, and queues
//! what was decided and never told. A voice killed between telling and
//! recording is followed by one that tells that notification once more;
//! nothing decided is lost with the machine it was decided on.

use super::policy::{Notice, TagState};
use super::state::{Item, Silence, State};
use crate::base::error::{Error, Result};
use crate::event::{Event, Status};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;

/// The tag of the records, and their kinds.
pub const TAG: &str = "sd-mail";
pub const DECIDED: &str = "decided";
pub const TOLD: &str = "notified";

/// Kinds of the records of silences, set and lifted.
pub const SILENCED: &str = "silenced";
pub const UNSILENCED: &str = "unsilenced";

/// The record of a silence set (`set`) or lifted.
pub fn silence(server: &str, silence: &Silence, set: bool) -> String {
    let kind = if set { SILENCED } else { UNSILENCED };
    let mut event = Event::report(server, TAG, kind, Status::Info);
    event.set("about_host", silence.host.as_str());
    event.set("about_tag", silence.tag.as_str());
    event.set("until_ms", silence.until_ms);
    if let Some(reason) = &silence.reason {
        event.set("reason", reason.as_str());
    }
    event.set(
        "msg",
        format!("{kind}: {} on {}", silence.tag, silence.host),
    );
    event.to_line()
}

/// An event line carried whole up to this size; a longer one is carried as
/// its main fields (the mail about it says less, but is sent).
const LINE_CARRIED: usize = 16 * 1024;

/// A record of `kind` about one notification, as a JSON line.
pub fn record(
    server: &str,
    kind: &str,
    item: &Item,
    state: &TagState,
    held: Option<bool>,
) -> String {
    let mut event = Event::report(server, TAG, kind, Status::Info);
    event.set("about_host", item.host.as_str());
    event.set("about_tag", item.tag.as_str());
    event.set("notice", item.notice.as_str());
    event.set("about_id", event_id(&item.line).unwrap_or_default());
    event.set(
        "state",
        json!({
            "status": state.status.as_str(),
            "time_ms": state.time_ms,
            "id": state.id,
            "since_ms": state.since_ms,
            "notified": state.notified.map(Status::as_str),
            "mailed_ms": state.mailed_ms,
        }),
    );
    if let Some(held) = held {
        event.set("held", held);
    }
    if kind == DECIDED {
        event.set("previous", item.previous.map(Status::as_str));
        event.set("since_ms", item.since_ms);
        event.set("line", carried(&item.line));
    }
    event.set(
        "msg",
        format!(
            "{kind}: {} of {} on {}",
            item.notice.as_str(),
            item.tag,
            item.host
        ),
    );
    event.to_line()
}

fn event_id(line: &str) -> Option<String> {
    let event: Value = serde_json::from_str(line).ok()?;
    event["id"].as_str().map(str::to_string)
}

/// The event line, or its main fields when it is long.
fn carried(line: &str) -> String {
    if line.len() <= LINE_CARRIED {
        return line.to_string();
    }
    let Ok(Value::Object(event)) = serde_json::from_str::<Value>(line) else {
        return String::new();
    };
    let kept: serde_json::Map<String, Value> = event
        .into_iter()
        .filter(|(k, v)| {
            [
                "v", "id", "time", "host", "tag", "kind", "status", "reason", "code",
            ]
            .contains(&k.as_str())
                || (k == "msg" && v.as_str().is_some_and(|m| m.len() < 1024))
        })
        .collect();
    Value::Object(kept).to_string()
}

/// One record read back.
struct Record {
    /// Whether the suppression held it back (a `notified` record).
    held: Option<bool>,
    host: String,
    tag: String,
    key: (String, String),
    state: TagState,
    item: Option<Item>,
}

/// A silence record: (set or lifted, the silence).
fn parse_silence(event: &Value) -> Option<(bool, Silence)> {
    let set = match event["kind"].as_str()? {
        SILENCED => true,
        UNSILENCED => false,
        _ => return None,
    };
    Some((
        set,
        Silence {
            host: event["about_host"].as_str()?.to_string(),
            tag: event["about_tag"].as_str()?.to_string(),
            until_ms: event["until_ms"].as_i64()?,
            reason: event["reason"].as_str().map(str::to_string),
        },
    ))
}

fn parse(event: &Value) -> Option<Record> {
    let kind = event["kind"].as_str()?.to_string();
    if kind != DECIDED && kind != TOLD {
        return None;
    }
    let state = &event["state"];
    let status = |v: &Value| v.as_str().and_then(|s| s.parse::<Status>().ok());
    let host = event["about_host"].as_str()?.to_string();
    let tag = event["about_tag"].as_str()?.to_string();
    let notice = Notice::parse(event["notice"].as_str()?)?;
    let key = (
        event["about_id"].as_str()?.to_string(),
        notice.as_str().to_string(),
    );
    let item = (kind == DECIDED).then(|| Item {
        mail: 0,
        notice,
        host: host.clone(),
        tag: tag.clone(),
        previous: status(&event["previous"]),
        since_ms: event["since_ms"].as_i64().unwrap_or_default(),
        line: event["line"].as_str().unwrap_or_default().to_string(),
    });
    Some(Record {
        held: event["held"].as_bool(),
        host,
        tag,
        key,
        state: TagState {
            status: status(&state["status"])?,
            time_ms: state["time_ms"].as_i64()?,
            id: state["id"].as_str()?.to_string(),
            since_ms: state["since_ms"].as_i64()?,
            notified: status(&state["notified"]),
            mailed_ms: state["mailed_ms"].as_i64(),
        },
        item,
    })
}

/// What [`rebuild`] took in.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Rebuilt {
    /// Hosts and tags whose state came from the records.
    pub states: usize,
    /// Notifications decided by the last voice and never told, queued.
    pub queued: usize,
    /// Silences set or lifted on the other server.
    pub silences: usize,
}

/// Takes into `state` every record in the store newer than what it has
/// read before: the newest state of each host and tag (over an older one
/// of its own), and each notification decided and not told (unless its
/// own outbox has it already). Remembers how far it has read.
pub fn rebuild(
    state: &mut State,
    store: &Path,
    stream: Option<&crate::config::Settings>,
    now_ms: i64,
    group_wait_ms: i64,
) -> Result<Rebuilt> {
    let mut rebuilt = Rebuilt::default();
    // The store's records, then those the stream holds that the store has
    // not taken in yet (its receiver may lag behind the one that made this
    // server the voice): each once, by its id.
    let mut records = store_records(store)?;
    let mut ids: std::collections::HashSet<String> = records
        .iter()
        .filter_map(|r| r["id"].as_str().map(str::to_string))
        .collect();
    if let Some(settings) = stream {
        for record in stream_records(settings)? {
            if record["id"]
                .as_str()
                .is_some_and(|id| ids.insert(id.to_string()))
            {
                records.push(record);
            }
        }
    }
    let mut newest: BTreeMap<(String, String), TagState> = BTreeMap::new();
    let mut untold: BTreeMap<(String, String), Item> = BTreeMap::new();
    let mut held: BTreeMap<(String, String), bool> = BTreeMap::new();
    let mut silences: Vec<(bool, Silence)> = Vec::new();
    for event in &records {
        if let Some(silence) = parse_silence(event) {
            silences.push(silence);
            continue;
        }
        let Some(record) = parse(event) else {
            continue;
        };
        if let Some(h) = record.held {
            held.insert((record.host.clone(), record.tag.clone()), h);
        }
        match record.item {
            Some(item) => {
                untold.insert(record.key.clone(), item);
            }
            None => {
                untold.remove(&record.key);
            }
        }
        let pair = (record.host, record.tag);
        if newest
            .get(&pair)
            .is_none_or(|k| later_than(&record.state, k))
        {
            newest.insert(pair, record.state);
        }
    }
    let tx = state.transaction()?;
    for ((host, tag), told) in &newest {
        let known = tx.tag_state(host, tag)?;
        if known.as_ref().is_none_or(|k| later_than(told, k)) {
            tx.set_tag_state(host, tag, told)?;
            rebuilt.states += 1;
        }
    }
    for ((id, notice), item) in &untold {
        if !tx.queued(id, notice)? {
            tx.queue(item, now_ms, group_wait_ms)?;
            rebuilt.queued += 1;
        }
    }
    tx.commit(now_ms)?;
    for ((host, tag), h) in &held {
        state.set_held(host, tag, *h)?;
    }
    for (set, silence) in &silences {
        if *set {
            if silence.until_ms > now_ms {
                state.silence(silence)?;
                rebuilt.silences += 1;
            }
        } else if state.unsilence(&silence.host, &silence.tag)? {
            rebuilt.silences += 1;
        }
    }
    Ok(rebuilt)
}

/// Every record the store holds, oldest first.
fn store_records(store: &Path) -> Result<Vec<Value>> {
    if !store.exists() {
        return Ok(Vec::new());
    }
    let conn = crate::store::Store::open_read_only(store)?;
    let failed = |e: rusqlite::Error| Error::io(format!("reading {}: {e}", store.display()));
    let mut stmt = conn
        .prepare("SELECT body FROM events WHERE tag = ?1 ORDER BY time_ms, rowid")
        .map_err(failed)?;
    let bodies = stmt
        .query_map([TAG], |r| r.get::<_, String>(0))
        .map_err(failed)?
        .collect::<rusqlite::Result<Vec<String>>>()
        .map_err(failed)?;
    Ok(bodies
        .iter()
        .filter_map(|b| serde_json::from_str(b).ok())
        .collect())
}

/// The records the stream still holds, in its order. A stream that
/// cannot be read is an error, never a partial answer: records the store
/// has not taken in yet may be there, and a voice that missed them would
/// say again what was said (sd-recv starts it again).
fn stream_records(settings: &crate::config::Settings) -> Result<Vec<Value>> {
    let mut records = Vec::new();
    let unread = |e: Error| {
        Error::new(
            e.exit,
            format!(
                "{e}; the records the stream holds are needed before speaking, and the next \
                 run reads them again"
            ),
        )
    };
    let mut log = settings.log().open(&settings.stream).map_err(unread)?;
    let (mut last, mut read) = ("0".to_string(), 0usize);
    // Bounded: a stream is capped by its max_len, this by the same order.
    while read < 10_000_000 {
        let entries = log
            .read_after(&last, 1000, std::time::Duration::from_millis(1))
            .map_err(unread)?;
        let Some(end) = entries.last() else {
            break;
        };
        last = end.id.clone();
        read += entries.len();
        for entry in entries {
            let Some(text) = entry.text.filter(|t| t.contains("\"sd-mail\"")) else {
                continue;
            };
            if let Ok(event) = serde_json::from_str::<Value>(&text)
                && event["tag"] == TAG
            {
                records.push(event);
            }
        }
    }
    Ok(records)
}

/// Whether a recorded state is later than a known one: a newer event, or
/// the same event with a later mail.
fn later_than(told: &TagState, known: &TagState) -> bool {
    (told.time_ms, told.id.as_str()) > (known.time_ms, known.id.as_str())
        || ((told.time_ms, told.id.as_str()) == (known.time_ms, known.id.as_str())
            && told.mailed_ms > known.mailed_ms)
}
