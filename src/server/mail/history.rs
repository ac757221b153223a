//! What the voice said, kept where every server keeps everything: with
//! `--record`, each notification told is followed by an event (tag
//! `sd-mail`, kind `notified`, status `info`) carrying the state sd-mail
//! then holds for that host and tag. It travels like any event, so every
//! server's store has it; a server that becomes the voice (sd-recv
//! --lease) rebuilds from its own store, before it decides anything, what
//! the last voice had said, and does not say it again.

use super::policy::TagState;
use super::state::{Item, State};
use crate::base::error::{Error, Result};
use crate::event::{Event, Status};
use serde_json::{Value, json};
use std::path::Path;

/// The tag and kind of a record.
pub const TAG: &str = "sd-mail";
pub const KIND: &str = "notified";

/// The record of one notification told, as a JSON line.
pub fn record(server: &str, item: &Item, state: &TagState) -> String {
    let mut event = Event::report(server, TAG, KIND, Status::Info);
    event.set("about_host", item.host.as_str());
    event.set("about_tag", item.tag.as_str());
    event.set("notice", item.notice.as_str());
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
    event.set(
        "msg",
        format!(
            "told: {} of {} on {}",
            item.notice.as_str(),
            item.tag,
            item.host
        ),
    );
    event.to_line()
}

/// A record's host, tag and state; `None` for anything else.
fn parse(body: &str) -> Option<(String, String, TagState)> {
    let event: Value = serde_json::from_str(body).ok()?;
    if event["kind"] != KIND {
        return None;
    }
    let state = &event["state"];
    let status = |v: &Value| v.as_str().and_then(|s| s.parse::<Status>().ok());
    Some((
        event["about_host"].as_str()?.to_string(),
        event["about_tag"].as_str()?.to_string(),
        TagState {
            status: status(&state["status"])?,
            time_ms: state["time_ms"].as_i64()?,
            id: state["id"].as_str()?.to_string(),
            since_ms: state["since_ms"].as_i64()?,
            notified: status(&state["notified"]),
            mailed_ms: state["mailed_ms"].as_i64(),
        },
    ))
}

/// Takes into `state` every record in the store newer than what it knows
/// of that host and tag (the last voice's word wins over an older one of
/// this server's own), and remembers how far it has read. Returns how many
/// hosts and tags it changed.
pub fn rebuild(state: &mut State, store: &Path, now_ms: i64) -> Result<usize> {
    if !store.exists() {
        return Ok(0);
    }
    let conn = crate::store::Store::open_read_only(store)?;
    let from = state.meta("records_read_ms")?.unwrap_or(i64::MIN);
    let failed = |e: rusqlite::Error| Error::io(format!("reading {}: {e}", store.display()));
    let mut stmt = conn
        .prepare(
            "SELECT time_ms, body FROM events WHERE tag = ?1 AND time_ms >= ?2
             ORDER BY time_ms, rowid",
        )
        .map_err(failed)?;
    let mut rows = stmt.query(rusqlite::params![TAG, from]).map_err(failed)?;
    let tx = state.transaction()?;
    let (mut changed, mut through) = (0, from);
    while let Some(row) = rows.next().map_err(failed)? {
        through = row.get(0).map_err(failed)?;
        let body: String = row.get(1).map_err(failed)?;
        let Some((host, tag, told)) = parse(&body) else {
            continue;
        };
        let known = tx.tag_state(&host, &tag)?;
        let newer = known.as_ref().is_none_or(|k| {
            (told.time_ms, told.id.as_str()) > (k.time_ms, k.id.as_str())
                || (told.time_ms, told.id.as_str()) == (k.time_ms, k.id.as_str())
                    && told.mailed_ms > k.mailed_ms
        });
        if newer {
            tx.set_tag_state(&host, &tag, &told)?;
            changed += 1;
        }
    }
    tx.commit(now_ms)?;
    state.set_meta("records_read_ms", through)?;
    Ok(changed)
}
