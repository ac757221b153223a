//! The ping APIs the gate speaks, as their clients already call them:
//! healthchecks.io's (`/ping/UUID[/start|/fail|/log|/N]`,
//! `/ping/KEY/SLUG[/…]`, `?rid=`) and Uptime Kuma's push
//! (`/api/push/TOKEN?status=up|down&msg=…&ping=…`), plus sheepdog's
//! own `/ping/UUID/maintenance?for=30m`. A request target becomes a
//! [`Call`]: which check it names and what it says; nothing here knows
//! of hosts, tags or events.

use percent_encoding::percent_decode_str;
use std::time::Duration;

/// How a check is named in a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Token {
    /// `/ping/UUID…` and `/api/push/TOKEN`.
    Uuid(String),
    /// `/ping/KEY/SLUG…`.
    Slug { key: String, slug: String },
}

/// What a ping says about its check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Signal {
    /// The job succeeded (`/ping/UUID`, `/ping/UUID/0`, Kuma `status=up`).
    Success,
    /// The job started (`/start`): the next end of it has its duration.
    Start,
    /// The job failed (`/fail`, Kuma `status=down`).
    Fail,
    /// The job exited with this status (`/ping/UUID/N`, 1–255).
    Exit(u8),
    /// Something to keep, with no change of state (`/log`).
    Log,
    /// The check is down on purpose for this long (`/maintenance?for=`);
    /// zero ends a window early (`for=off`).
    Maintenance(Duration),
}

/// Which API a call came through: it decides the answer's form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Api {
    Healthchecks,
    Kuma,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    pub api: Api,
    pub token: Token,
    pub signal: Signal,
    /// `rid`: pairs a start with its end.
    pub run_id: Option<String>,
    /// Kuma's `msg`, or `reason` of a maintenance window.
    pub msg: Option<String>,
    /// Kuma's `ping`: a response time in milliseconds.
    pub elapsed_ms: Option<u64>,
}

/// Why a target is not a call, said to the client with a 400 or 404.
#[derive(Debug, PartialEq, Eq)]
pub enum NotACall {
    /// Not a path of these APIs: 404.
    Unknown,
    /// A path of them with something wrong in it: 400.
    Bad(String),
}

/// Tokens and slugs are short and plain: anything else is not one.
const MAX_TOKEN: usize = 128;

/// The call `target` (path and query) makes.
pub fn parse(target: &str) -> Result<Call, NotACall> {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let segments = path
        .strip_prefix('/')
        .ok_or(NotACall::Unknown)?
        .split('/')
        .map(decode)
        .collect::<Result<Vec<_>, _>>()?;
    let params = Params::parse(query)?;
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    match segments.as_slice() {
        ["ping", rest @ ..] => healthchecks(rest, &params),
        ["api", "push", token] => kuma(token, &params),
        _ => Err(NotACall::Unknown),
    }
}

fn healthchecks(rest: &[&str], params: &Params) -> Result<Call, NotACall> {
    // /ping/UUID[/SIGNAL] or /ping/KEY/SLUG[/SIGNAL]: a second segment
    // that is a signal makes the first a UUID.
    let (token, signal) = match rest {
        [uuid] => (Token::Uuid(token(uuid)?), None),
        [first, second] if is_signal(second) => (Token::Uuid(token(first)?), Some(*second)),
        [key, slug] => (slug_token(key, slug)?, None),
        [key, slug, signal] => (slug_token(key, slug)?, Some(*signal)),
        _ => return Err(NotACall::Unknown),
    };
    let signal = match signal {
        None => Signal::Success,
        Some("start") => Signal::Start,
        Some("fail") => Signal::Fail,
        Some("log") => Signal::Log,
        Some("maintenance") => Signal::Maintenance(maintenance_length(params)?),
        Some(code) => match code.parse::<u16>() {
            Ok(0) => Signal::Success,
            Ok(code @ 1..=255) => Signal::Exit(code as u8),
            _ => {
                return Err(NotACall::Bad(format!(
                    "{code:?} is not start, fail, log, maintenance or an exit status 0-255"
                )));
            }
        },
    };
    let run_id = params.get("rid");
    if run_id.is_some_and(|rid| rid.len() > MAX_TOKEN) {
        return Err(NotACall::Bad(format!(
            "rid is longer than {MAX_TOKEN} bytes"
        )));
    }
    Ok(Call {
        api: Api::Healthchecks,
        token,
        signal,
        run_id: run_id.map(str::to_string),
        msg: params.get("reason").map(str::to_string),
        elapsed_ms: None,
    })
}

fn kuma(token_text: &str, params: &Params) -> Result<Call, NotACall> {
    let signal = match params.get("status").unwrap_or("up") {
        "up" => Signal::Success,
        "down" => Signal::Fail,
        other => {
            return Err(NotACall::Bad(format!(
                "status {other:?} is neither up nor down"
            )));
        }
    };
    let elapsed_ms = match params.get("ping").filter(|p| !p.is_empty()) {
        None => None,
        Some(ping) => Some(
            ping.parse::<f64>()
                .ok()
                .filter(|ms| ms.is_finite() && *ms >= 0.0 && *ms < 1e12)
                .ok_or_else(|| NotACall::Bad(format!("ping {ping:?} is not milliseconds")))?
                .round() as u64,
        ),
    };
    Ok(Call {
        api: Api::Kuma,
        token: Token::Uuid(token(token_text)?),
        signal,
        run_id: None,
        msg: params
            .get("msg")
            .filter(|m| !m.is_empty() && *m != "OK")
            .map(str::to_string),
        elapsed_ms,
    })
}

fn is_signal(segment: &str) -> bool {
    matches!(segment, "start" | "fail" | "log" | "maintenance")
        || (!segment.is_empty()
            && segment.len() <= 3
            && segment.bytes().all(|b| b.is_ascii_digit()))
}

fn maintenance_length(params: &Params) -> Result<Duration, NotACall> {
    let text = params.get("for").ok_or_else(|| {
        NotACall::Bad("maintenance needs ?for=DURATION (30m, 2h) or ?for=off".into())
    })?;
    crate::event::maintenance::parse_length(text).map_err(|why| NotACall::Bad(format!("for={why}")))
}

/// A token or slug: short and plain (letters, digits, `-`, `_`).
pub fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= MAX_TOKEN
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn token(text: &str) -> Result<String, NotACall> {
    match is_token(text) {
        true => Ok(text.to_string()),
        false => Err(NotACall::Unknown),
    }
}

fn slug_token(key: &str, slug: &str) -> Result<Token, NotACall> {
    Ok(Token::Slug {
        key: token(key)?,
        slug: token(slug)?,
    })
}

/// A path segment, percent-decoded; not UTF-8 is a bad request.
fn decode(segment: &str) -> Result<String, NotACall> {
    percent_decode_str(segment)
        .decode_utf8()
        .map(|text| text.into_owned())
        .map_err(|_| NotACall::Bad("the path is not UTF-8".into()))
}

/// The query's parameters, the first of each name.
struct Params(Vec<(String, String)>);

impl Params {
    fn parse(query: &str) -> Result<Params, NotACall> {
        let mut params = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()).take(32) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let plus_as_space = |text: &str| text.replace('+', " ");
            let decode = |text: &str| {
                percent_decode_str(&plus_as_space(text))
                    .decode_utf8()
                    .map(|t| t.into_owned())
                    .map_err(|_| NotACall::Bad("the query is not UTF-8".into()))
            };
            params.push((decode(name)?, decode(value)?));
        }
        Ok(Params(params))
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const UUID: &str = "5bf66975-d4c7-4bf5-bcc8-b8d8a82ea278";

    fn signal(target: &str) -> Signal {
        parse(target).unwrap().signal
    }

    #[test]
    fn healthchecks_paths_say_what_their_documentation_says() {
        assert_eq!(signal(&format!("/ping/{UUID}")), Signal::Success);
        assert_eq!(signal(&format!("/ping/{UUID}/start")), Signal::Start);
        assert_eq!(signal(&format!("/ping/{UUID}/fail")), Signal::Fail);
        assert_eq!(signal(&format!("/ping/{UUID}/log")), Signal::Log);
        assert_eq!(signal(&format!("/ping/{UUID}/0")), Signal::Success);
        assert_eq!(signal(&format!("/ping/{UUID}/37")), Signal::Exit(37));
        assert_eq!(
            signal(&format!(
                "/ping/{UUID}/maintenance?for=30m&reason=kernel+update"
            )),
            Signal::Maintenance(Duration::from_secs(1800))
        );
        let call = parse(&format!("/ping/{UUID}/start?rid=abc")).unwrap();
        assert_eq!(call.run_id.as_deref(), Some("abc"));
        assert_eq!(call.token, Token::Uuid(UUID.into()));
        let slug = parse("/ping/KEYKEY/db-backup/fail").unwrap();
        assert_eq!(
            slug.token,
            Token::Slug {
                key: "KEYKEY".into(),
                slug: "db-backup".into()
            }
        );
        assert_eq!(slug.signal, Signal::Fail);
        assert_eq!(signal("/ping/KEYKEY/db-backup"), Signal::Success);
    }

    #[test]
    fn kuma_push_says_up_down_message_and_time() {
        let call = parse("/api/push/abcDEF123?status=down&msg=disk%20full&ping=12.6").unwrap();
        assert_eq!(call.api, Api::Kuma);
        assert_eq!(call.signal, Signal::Fail);
        assert_eq!(call.msg.as_deref(), Some("disk full"));
        assert_eq!(call.elapsed_ms, Some(13));
        let up = parse("/api/push/abcDEF123?status=up&msg=OK&ping=").unwrap();
        assert_eq!(
            (up.signal, up.msg, up.elapsed_ms),
            (Signal::Success, None, None)
        );
    }

    #[test]
    fn what_is_not_a_call_is_unknown_or_bad() {
        assert_eq!(parse("/"), Err(NotACall::Unknown));
        assert_eq!(parse("/ping/"), Err(NotACall::Unknown));
        assert_eq!(parse("/ping/a/b/c/d"), Err(NotACall::Unknown));
        assert_eq!(parse("/ping/a%20b"), Err(NotACall::Unknown));
        assert_eq!(parse("/etc/passwd"), Err(NotACall::Unknown));
        assert!(matches!(parse("/ping/%ff%fe"), Err(NotACall::Bad(_))));
        assert!(matches!(
            parse(&format!("/ping/{UUID}/256")),
            Err(NotACall::Bad(_))
        ));
        assert!(matches!(
            parse(&format!("/ping/{UUID}/maintenance")),
            Err(NotACall::Bad(_))
        ));
        assert!(matches!(
            parse(&format!("/ping/{UUID}/maintenance?for=400d")),
            Err(NotACall::Bad(_))
        ));
        assert!(matches!(
            parse("/api/push/abc123?status=sideways"),
            Err(NotACall::Bad(_))
        ));
        assert!(matches!(
            parse("/api/push/abc123?ping=NaN"),
            Err(NotACall::Bad(_))
        ));
        let long = "a".repeat(MAX_TOKEN + 1);
        assert_eq!(parse(&format!("/ping/{long}")), Err(NotACall::Unknown));
        // Open runs are kept by rid: a long one would make them large.
        assert!(matches!(
            parse(&format!("/ping/{UUID}/start?rid={long}")),
            Err(NotACall::Bad(_))
        ));
    }
}
