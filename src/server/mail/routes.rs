//! Who hears what (sheepdog(7), CHANNELS): `[[route]]` tables match a
//! notification's host, tag, kind and status (globs) to mail recipients
//! and channels, the first that matches (or each, with `continue`), else
//! the default route: `[mail] to` and every channel.
//!
//! An event may name who should hear of it (`notify_to`, from `sd-run
//! --notify-to` or any script); an address from an event is honoured only
//! where the matching route allows it (`allow_event_recipients`, globs):
//! a client can never make the server mail anyone it likes.

use crate::base::error::{Error, Result};
use crate::config::RouteSection;
use glob::Pattern;
use lettre::message::Mailbox;
use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// Where one notification goes: mail recipients and channel names.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Targets {
    pub to: BTreeSet<String>,
    pub channels: BTreeSet<String>,
}

struct Route {
    host: Option<Pattern>,
    tag: Option<Pattern>,
    kind: Option<Pattern>,
    status: Option<Pattern>,
    targets: Targets,
    allow: Vec<Pattern>,
    keep_going: bool,
}

pub struct Routes {
    routes: Vec<Route>,
    default: Targets,
    default_allow: Vec<Pattern>,
}

fn patterns(list: &[String], what: &str) -> Result<Vec<Pattern>> {
    list.iter()
        .map(|p| {
            Pattern::new(p).map_err(|e| Error::usage(format!("{what} `{p}`: not a glob: {e}")))
        })
        .collect()
}

fn pattern(text: &Option<String>, what: &str) -> Result<Option<Pattern>> {
    Ok(match text {
        Some(p) => patterns(std::slice::from_ref(p), what)?.pop(),
        None => None,
    })
}

impl Routes {
    /// The routes of the configuration; `to` and `channels` make the
    /// default one.
    pub fn new(
        sections: &[RouteSection],
        to: &[String],
        channels: &[String],
        allow_event_recipients: &[String],
    ) -> Result<Routes> {
        let mut routes = Vec::new();
        for (n, r) in sections.iter().enumerate() {
            let what = format!("[[route]] {}", n + 1);
            for address in &r.to {
                check_address(address).map_err(|e| Error::usage(format!("{what}: {e}")))?;
            }
            for name in &r.channels {
                if name != "*" && !channels.contains(name) {
                    return Err(Error::usage(format!(
                        "{what}: no channel named `{name}` (the [[notify]] names: {})",
                        channels.join(", ")
                    )));
                }
            }
            let all = r.channels.iter().any(|c| c == "*");
            routes.push(Route {
                host: pattern(&r.host, &what)?,
                tag: pattern(&r.tag, &what)?,
                kind: pattern(&r.kind, &what)?,
                status: pattern(&r.status, &what)?,
                targets: Targets {
                    to: r.to.iter().cloned().collect(),
                    channels: if all {
                        channels.iter().cloned().collect()
                    } else {
                        r.channels.iter().cloned().collect()
                    },
                },
                allow: patterns(&r.allow_event_recipients, &what)?,
                keep_going: r.keep_going,
            });
        }
        Ok(Routes {
            routes,
            default: Targets {
                to: to.iter().cloned().collect(),
                channels: channels.iter().cloned().collect(),
            },
            default_allow: patterns(allow_event_recipients, "[mail] allow_event_recipients")?,
        })
    }

    /// Where a notification about this event goes, and the addresses the
    /// event asked for that no route allows.
    pub fn targets(&self, event: &Map<String, Value>) -> (Targets, Vec<String>) {
        let field = |name: &str| event.get(name).and_then(Value::as_str).unwrap_or("");
        let matches =
            |p: &Option<Pattern>, value: &str| p.as_ref().is_none_or(|p| p.matches(value));
        let asked = asked_for(event);
        let mut targets = Targets::default();
        let mut allowed: BTreeSet<String> = BTreeSet::new();
        let mut matched = false;
        for route in &self.routes {
            if matches(&route.host, field("host"))
                && matches(&route.tag, field("tag"))
                && matches(&route.kind, field("kind"))
                && matches(&route.status, field("status"))
            {
                matched = true;
                targets.to.extend(route.targets.to.iter().cloned());
                targets
                    .channels
                    .extend(route.targets.channels.iter().cloned());
                allowed.extend(permitted(&asked, &route.allow));
                if !route.keep_going {
                    break;
                }
            }
        }
        if !matched {
            targets = self.default.clone();
            allowed.extend(permitted(&asked, &self.default_allow));
        }
        let refused = asked
            .iter()
            .filter(|a| !allowed.contains(*a))
            .cloned()
            .collect();
        targets.to.extend(allowed);
        (targets, refused)
    }
}

/// The addresses an event names in `notify_to` (one, or a list).
fn asked_for(event: &Map<String, Value>) -> Vec<String> {
    match event.get("notify_to") {
        Some(Value::String(one)) => vec![one.clone()],
        Some(Value::Array(many)) => many
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

/// Those of `asked` that are plain addresses matching one of `allow`.
fn permitted(asked: &[String], allow: &[Pattern]) -> Vec<String> {
    asked
        .iter()
        .filter(|a| check_address(a).is_ok() && allow.iter().any(|p| p.matches(a)))
        .cloned()
        .collect()
}

/// One plain address (`user@host`), no name, no list, no line break.
fn check_address(address: &str) -> std::result::Result<(), String> {
    let plain = !address.is_empty()
        && address
            .chars()
            .all(|c| !c.is_control() && !c.is_whitespace() && !"<>,;\"'()".contains(c));
    match address.parse::<Mailbox>() {
        Ok(m) if plain && m.name.is_none() => Ok(()),
        _ => Err(format!("`{address}` is not a plain mail address")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(host: &str, to: &str, allow: &[&str], keep_going: bool) -> RouteSection {
        RouteSection {
            host: Some(host.into()),
            to: vec![to.into()],
            allow_event_recipients: allow.iter().map(|s| s.to_string()).collect(),
            keep_going,
            ..Default::default()
        }
    }

    fn event(host: &str, notify_to: Value) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("host".into(), host.into());
        m.insert("tag".into(), "borg".into());
        m.insert("notify_to".into(), notify_to);
        m
    }

    #[test]
    fn first_match_continue_and_the_default() {
        let routes = Routes::new(
            &[
                route("db*", "dba@example.org", &["*@example.org"], true),
                route("db1", "oncall@example.org", &[], false),
                route("db*", "never@example.org", &[], false),
            ],
            &["admin@example.org".into()],
            &["matrix".into()],
            &[],
        )
        .unwrap();
        let (t, _) = routes.targets(&event("db1", Value::Null));
        assert_eq!(
            t.to.iter().collect::<Vec<_>>(),
            ["dba@example.org", "oncall@example.org"]
        );
        assert!(t.channels.is_empty());
        let (t, _) = routes.targets(&event("web1", Value::Null));
        assert_eq!(t.to.iter().collect::<Vec<_>>(), ["admin@example.org"]);
        assert_eq!(t.channels.iter().collect::<Vec<_>>(), ["matrix"]);
    }

    #[test]
    fn an_event_names_only_whom_a_route_allows() {
        let routes = Routes::new(
            &[route("*", "ops@example.org", &["*@example.org"], false)],
            &[],
            &[],
            &[],
        )
        .unwrap();
        let hostile = serde_json::json!([
            "dev@example.org",
            "boss@evil.example",
            "x@example.org\r\nBcc: all@evil.example",
            "Evil <x@example.org>",
            "a@example.org, b@evil.example"
        ]);
        let (t, refused) = routes.targets(&event("web1", hostile));
        assert_eq!(
            t.to.iter().collect::<Vec<_>>(),
            ["dev@example.org", "ops@example.org"]
        );
        assert_eq!(refused.len(), 4);
        let (t, _) = routes.targets(&event("web1", "boss@evil.example".into()));
        assert_eq!(t.to.iter().collect::<Vec<_>>(), ["ops@example.org"]);
    }
}
