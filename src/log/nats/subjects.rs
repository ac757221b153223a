//! Where each log lives in JetStream (sheepdog(7) "Across sites"):
//!
//! | log                  | stream              | subjects                         |
//! |----------------------|---------------------|----------------------------------|
//! | `sheepdog:events`    | `sheepdog_events`   | `sheepdog.events.SITE.HOST`      |
//! | `sheepdog:orders:H`  | `sheepdog_orders`   | `sheepdog.orders.H`              |
//! | `sheepdog:dead`      | `sheepdog_dead`     | `sheepdog.dead`                  |
//! | `sheepdog:rejected`  | `sheepdog_rejected` | `sheepdog.rejected`              |
//!
//! A host publishes its events on its own subject and reads its own
//! orders' subject only, so the server's permissions can say so per host.

use crate::log::orders::STREAM_PREFIX;
use crate::log::{DEAD_STREAM, REJECTED_STREAM};

/// The site of a host that names none.
pub const DEFAULT_SITE: &str = "default";

/// The hub's site, and its JetStream domain: where orders are sent from,
/// and whose events stream sources every site's (`[broker] sites`).
pub const HUB: &str = "hub";

/// Where a host is: its site (none: one server, no sites) and, on the
/// hub, the sites whose events it takes in.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sites<'a> {
    pub site: Option<&'a str>,
    pub sources: &'a [String],
}

/// One log's place in JetStream.
#[derive(Clone, Debug)]
pub struct Target {
    /// The JetStream stream's name.
    pub stream: String,
    /// The subjects the stream takes (none: it only sources).
    pub subjects: Vec<String>,
    /// The JetStream domains whose stream of the same name it sources.
    pub sources: Vec<String>,
    /// The subjects this log reads (a consumer's filter).
    pub filter: String,
    /// The subject this host publishes on.
    pub publish: String,
    /// The host whose orders these are.
    orders_of: Option<String>,
}

impl Target {
    /// The place of the log named `log` (`[broker] stream`, an orders
    /// stream, the dead letters) for a host where `sites` says.
    ///
    /// Orders are sent at the hub: its orders stream takes their subjects,
    /// and a site's sources the hub's, so an order sent while the link is
    /// down reaches the site when it is back. Each site's events stream
    /// takes its own site's subjects only (the leaf link would otherwise
    /// bring it the hub's), and the hub's sources every site's.
    pub fn of(log: &str, sites: Sites) -> Target {
        let at_a_site = sites.site.map(token).filter(|s| s != HUB);
        if let Some(host) = log.strip_prefix(STREAM_PREFIX) {
            let subject = format!("sheepdog.orders.{}", token(host));
            let (subjects, sources) = match at_a_site {
                Some(_) => (Vec::new(), vec![HUB.to_string()]),
                None => (vec!["sheepdog.orders.>".to_string()], Vec::new()),
            };
            return Target {
                stream: "sheepdog_orders".into(),
                subjects,
                sources,
                filter: subject.clone(),
                publish: subject,
                orders_of: Some(host.to_string()),
            };
        }
        let dotted = dotted(log);
        if log == DEAD_STREAM || log == REJECTED_STREAM {
            return Target {
                stream: name(log),
                subjects: vec![dotted.clone()],
                sources: Vec::new(),
                filter: dotted.clone(),
                publish: dotted,
                orders_of: None,
            };
        }
        let site = sites.site.map(token);
        let host = token(&crate::base::ident::short_hostname());
        Target {
            stream: name(log),
            subjects: vec![match &site {
                Some(site) => format!("{dotted}.{site}.>"),
                None => format!("{dotted}.>"),
            }],
            sources: sites.sources.iter().map(|s| token(s)).collect(),
            filter: format!("{dotted}.>"),
            publish: format!(
                "{dotted}.{}.{host}",
                site.as_deref().unwrap_or(DEFAULT_SITE)
            ),
            orders_of: None,
        }
    }

    /// Whether the stream holds other logs than this one (the orders of
    /// every host share one).
    pub fn shares_its_stream(&self) -> bool {
        self.orders_of.is_some()
    }

    /// The durable consumer that is `group` (on an orders log, the
    /// group of this host's orders).
    pub fn consumer(&self, group: &str) -> String {
        match &self.orders_of {
            Some(host) => name(&format!("{group}@{host}")),
            None => name(group),
        }
    }

    /// The group a consumer is, when it is one of this log's.
    pub fn group_of(&self, consumer: &str) -> Option<String> {
        let decoded = unname(consumer)?;
        match &self.orders_of {
            Some(host) => decoded
                .strip_suffix(&format!("@{host}"))
                .map(str::to_string),
            None => Some(decoded),
        }
    }
}

/// A name JetStream takes for any text, and gives back
/// ([`unname`]): letters, digits, `-` and `_` as they are, anything else
/// as `~` and its bytes in hex.
fn name(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' => out.push(byte as char),
            b':' => out.push('_'),
            other => out.push_str(&format!("~{other:02x}")),
        }
    }
    out
}

/// The text a [`name`] stands for (`_` back to `:` where it was one is
/// not told apart: group names keep `_`, and no group has `:`).
fn unname(name: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(name.len());
    let mut rest = name.as_bytes();
    while let Some((&first, tail)) = rest.split_first() {
        if first == b'~' {
            let hex = std::str::from_utf8(tail.get(..2)?).ok()?;
            bytes.push(u8::from_str_radix(hex, 16).ok()?);
            rest = &tail[2..];
        } else {
            bytes.push(first);
            rest = tail;
        }
    }
    String::from_utf8(bytes).ok()
}

/// A log's name as subject tokens: `sheepdog:events` is `sheepdog.events`.
fn dotted(log: &str) -> String {
    log.split(':').map(token).collect::<Vec<_>>().join(".")
}

/// One subject token for any text: what a token may not hold (`.`, `*`,
/// `>`, white space) as `_`; never empty.
pub fn token(text: &str) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| match c {
            '.' | '*' | '>' => '_',
            c if c.is_whitespace() || c.is_control() => '_',
            c => c,
        })
        .collect();
    if cleaned.is_empty() {
        "_".into()
    } else {
        cleaned
    }
}

/// The event's id, for `Nats-Msg-Id`, when the line has one.
pub fn event_id(line: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Id<'a> {
        #[serde(borrow)]
        id: Option<std::borrow::Cow<'a, str>>,
    }
    let id: Id = serde_json::from_str(line).ok()?;
    id.id.map(|id| id.into_owned()).filter(|id| !id.is_empty())
}

/// Whether a `nats://` or `tls://` URL is one sheepdog can use.
pub fn check_url(text: &str) -> Result<(), String> {
    const FORMS: &str = "expected nats://[USER:PASSWORD@]HOST[:PORT] or tls://…";
    let shown = crate::base::secret::redact_url(text);
    let url =
        url::Url::parse(text).map_err(|e| format!("`{shown}` is not a URL: {e} ({FORMS})"))?;
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("`{shown}` names no host ({FORMS})"));
    }
    if !matches!(url.path(), "" | "/") {
        return Err(format!(
            "`{shown}`: a NATS URL has no path ({FORMS}; the stream is [broker] stream)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_log_has_its_stream_and_subjects() {
        let office = Sites {
            site: Some("office"),
            sources: &[],
        };
        let events = Target::of("sheepdog:events", office);
        assert_eq!(events.stream, "sheepdog_events");
        assert_eq!(events.subjects, ["sheepdog.events.office.>"]);
        assert_eq!(events.filter, "sheepdog.events.>");
        assert!(events.publish.starts_with("sheepdog.events.office."));
        // At a site, orders come from the hub's stream.
        let site_orders = Target::of("sheepdog:orders:web1", office);
        assert!(site_orders.subjects.is_empty());
        assert_eq!(site_orders.sources, [HUB]);
        // The hub sources every site's events, and takes the orders.
        let sites = ["office".to_string(), "colo".to_string()];
        let hub = Sites {
            site: Some(HUB),
            sources: &sites,
        };
        assert_eq!(Target::of("sheepdog:events", hub).sources, sites);
        assert_eq!(
            Target::of("sheepdog:orders:web1", hub).subjects,
            ["sheepdog.orders.>"]
        );
        let orders = Target::of("sheepdog:orders:web.1", Sites::default());
        assert_eq!(orders.stream, "sheepdog_orders");
        assert_eq!(orders.publish, "sheepdog.orders.web_1");
        assert_eq!(orders.consumer("obey"), "obey~40web~2e1");
        assert_eq!(
            orders.group_of(&orders.consumer("obey")).as_deref(),
            Some("obey")
        );
        assert_eq!(orders.group_of("obey~40other"), None);
        let dead = Target::of("sheepdog:dead", Sites::default());
        assert_eq!(
            (dead.stream.as_str(), dead.publish.as_str()),
            ("sheepdog_dead", "sheepdog.dead")
        );
    }

    #[test]
    fn group_names_go_and_come_back() {
        let events = Target::of("sheepdog:events", Sites::default());
        for group in ["store", "store@a", "mail", "with space", "ü.x*"] {
            assert_eq!(
                events.group_of(&events.consumer(group)).as_deref(),
                Some(group)
            );
        }
    }

    #[test]
    fn urls_are_checked() {
        assert_eq!(check_url("nats://127.0.0.1:4222"), Ok(()));
        assert_eq!(check_url("tls://u:p@host"), Ok(()));
        assert!(check_url("nats://").is_err());
        let err = check_url("nats://u:s3cret@host/x").unwrap_err();
        assert!(err.contains("no path") && !err.contains("s3cret"), "{err}");
    }

    #[test]
    fn the_message_id_is_the_events() {
        assert_eq!(event_id(r#"{"id":"01J","n":1}"#).as_deref(), Some("01J"));
        assert_eq!(event_id(r#"{"n":1}"#), None);
        assert_eq!(event_id("not json"), None);
    }
}
