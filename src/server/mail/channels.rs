//! The ways a notification is heard besides mail (docs/ARCHITECTURE.md
//! §12): the local syslog, a program, and webhooks with presets for ntfy,
//! Gotify, Matrix, Slack-compatible servers and plain JSON. Each channel
//! is told the same decision sd-mail made, once, in its own shape, with
//! what came from events neutralised for its own markup: an event can add
//! no header, no mention and no formatting.

use super::transport::Failure;
use crate::base::error::{Error, Result};
use crate::base::secret::Secret;
use crate::config::NotifySection;
use serde_json::{Value, json};
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// What every channel is given: the mail's subject and text, and the
/// notifications as data.
pub struct Notification<'a> {
    pub subject: &'a str,
    pub text: &'a str,
    pub data: &'a Value,
    /// Whether it tells of a problem (rather than only recoveries).
    pub problem: bool,
    /// Unique per notification and channel: Matrix's transaction id, so a
    /// repeat after a lost answer is still one message.
    pub key: String,
}

#[derive(Debug)]
enum Kind {
    Ntfy {
        server: String,
        topic: String,
        priority: Option<String>,
        tags: Vec<String>,
    },
    Gotify {
        url: String,
    },
    Matrix {
        homeserver: String,
        room: String,
    },
    Slack {
        url: String,
    },
    Json {
        url: String,
    },
    Program {
        argv: Vec<String>,
    },
    Syslog {
        socket: PathBuf,
        facility: u8,
        ident: String,
    },
}

#[derive(Debug)]
pub struct Channel {
    /// Its name in the state file: which notifications it has delivered.
    pub name: String,
    kind: Kind,
    token: Option<Secret>,
    timeout: Duration,
}

const FACILITIES: [(&str, u8); 12] = [
    ("kern", 0),
    ("user", 1),
    ("mail", 2),
    ("daemon", 3),
    ("auth", 4),
    ("local0", 16),
    ("local1", 17),
    ("local2", 18),
    ("local3", 19),
    ("local4", 20),
    ("local5", 21),
    ("local6", 22),
];

impl Channel {
    /// A channel from a `[[notify]]` table.
    pub fn from_config(section: &NotifySection, timeout: Duration) -> Result<Channel> {
        let bad =
            |why: String| Error::usage(format!("[[notify]] type = \"{}\": {why}", section.kind));
        let url = || {
            section
                .url
                .clone()
                .map(|u| u.trim_end_matches('/').to_string())
                .ok_or_else(|| bad("needs url".into()))
        };
        let kind = match section.kind.as_str() {
            "ntfy" => {
                let topic_url = url()?;
                let (server, topic) = topic_url
                    .rsplit_once('/')
                    .filter(|(s, t)| s.contains("://") && !t.is_empty())
                    .ok_or_else(|| {
                        bad("url is the topic's, like https://ntfy.sh/my-alerts".into())
                    })?;
                Kind::Ntfy {
                    server: server.to_string(),
                    topic: topic.to_string(),
                    priority: section.priority.clone(),
                    tags: section.tags.clone(),
                }
            }
            "gotify" => Kind::Gotify { url: url()? },
            "matrix" => Kind::Matrix {
                homeserver: url()?,
                room: section
                    .room
                    .clone()
                    .ok_or_else(|| bad("needs room (!id:server)".into()))?,
            },
            "slack" => Kind::Slack { url: url()? },
            "json" => Kind::Json { url: url()? },
            "program" => Kind::Program {
                argv: section
                    .program
                    .clone()
                    .filter(|p| !p.is_empty())
                    .ok_or_else(|| bad("needs program = [\"/path\", \"arg\", …]".into()))?,
            },
            "syslog" => {
                let facility = section.facility.as_deref().unwrap_or("daemon");
                Kind::Syslog {
                    socket: section.socket.clone().unwrap_or_else(|| "/dev/log".into()),
                    facility: FACILITIES
                        .iter()
                        .find(|(n, _)| *n == facility)
                        .map(|(_, f)| *f)
                        .ok_or_else(|| bad(format!("unknown facility `{facility}`")))?,
                    ident: section.ident.clone().unwrap_or_else(|| "sheepdog".into()),
                }
            }
            other => {
                return Err(bad(format!(
                    "unknown type `{other}`; one of ntfy, gotify, matrix, slack, json, program, syslog"
                )));
            }
        };
        let token = match &section.token_file {
            Some(file) => Some(Secret::from_file(file, "token file")?),
            None => None,
        };
        if token.is_none() && matches!(kind, Kind::Gotify { .. } | Kind::Matrix { .. }) {
            return Err(bad(
                "needs token_file (the token is never read from argv)".into()
            ));
        }
        let name = section.name.clone().unwrap_or_else(|| match &kind {
            Kind::Ntfy { server, topic, .. } => format!("ntfy {server}/{topic}"),
            Kind::Gotify { url } | Kind::Slack { url } | Kind::Json { url } => {
                format!("{} {}", section.kind, crate::base::secret::redact_url(url))
            }
            Kind::Matrix { room, .. } => format!("matrix {room}"),
            Kind::Program { argv } => format!("program {}", argv[0]),
            Kind::Syslog { socket, .. } => format!("syslog {}", socket.display()),
        });
        Ok(Channel {
            name,
            kind,
            token,
            timeout,
        })
    }

    /// Tells one notification.
    pub fn deliver(&self, n: &Notification<'_>) -> Result<(), Failure> {
        let fail = |retry: bool, why: String| Failure {
            retry,
            message: format!("{}: {why}", self.name),
        };
        match &self.kind {
            Kind::Program { argv } => self.program(argv, n).map_err(|(retry, e)| fail(retry, e)),
            Kind::Syslog {
                socket,
                facility,
                ident,
            } => syslog(socket, *facility, ident, n).map_err(|e| fail(true, e)),
            hook => {
                let (method, url, body) = self.request(hook, n);
                self.post(method, &url, &body)
                    .map_err(|(retry, e)| fail(retry, e))
            }
        }
    }

    /// A webhook's method, URL and JSON body.
    fn request(&self, hook: &Kind, n: &Notification<'_>) -> (&'static str, String, Value) {
        match hook {
            Kind::Ntfy {
                server,
                topic,
                priority,
                tags,
            } => {
                let mut tags = tags.clone();
                tags.push(
                    if n.problem {
                        "warning"
                    } else {
                        "white_check_mark"
                    }
                    .into(),
                );
                let priority = match (priority.as_deref(), n.problem) {
                    (Some(p), _) => ntfy_priority(p),
                    (None, true) => 4,
                    (None, false) => 3,
                };
                // ntfy's JSON publishing: no header carries event text.
                let body = json!({"topic": topic, "title": n.subject, "message": n.text,
                                  "priority": priority, "tags": tags});
                ("POST", format!("{server}/"), body)
            }
            Kind::Gotify { url } => {
                // Plain text: Gotify renders Markdown only when asked to.
                let body = json!({"title": n.subject, "message": n.text,
                                  "priority": if n.problem { 8 } else { 4 },
                                  "extras": {"client::display": {"contentType": "text/plain"}}});
                ("POST", format!("{url}/message"), body)
            }
            Kind::Matrix { homeserver, room } => {
                let text = no_mentions(&format!("{}\n\n{}", n.subject, n.text));
                let body = json!({"msgtype": "m.notice", "body": text});
                let url = format!(
                    "{homeserver}/_matrix/client/v3/rooms/{}/send/m.room.message/{}",
                    path_part(room),
                    path_part(&n.key)
                );
                ("PUT", url, body)
            }
            Kind::Slack { url } => {
                // Everything from events inside one code block: no
                // formatting, no link, no mention renders there.
                let text = format!(
                    "{}\n```\n{}\n```",
                    slack_escape(&no_mentions(n.subject))
                        .replace('`', "ˋ")
                        .replace('*', "∗"),
                    slack_escape(&no_mentions(n.text)).replace('`', "ˋ")
                );
                ("POST", url.clone(), json!({"text": text}))
            }
            Kind::Json { url } => ("POST", url.clone(), n.data.clone()),
            Kind::Program { .. } | Kind::Syslog { .. } => unreachable!("not a webhook"),
        }
    }

    fn post(&self, method: &str, url: &str, body: &Value) -> Result<(), (bool, String)> {
        // Redirects are not followed: a 301/302 would carry the token to
        // wherever it points (and turn the POST into a bodiless GET whose
        // 200 counted as delivered). The channel's URL must be the final one.
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(self.timeout))
            .http_status_as_error(false)
            .max_redirects(0)
            .build()
            .into();
        let text = body.to_string();
        let mut request = match method {
            "PUT" => agent.put(url),
            _ => agent.post(url),
        }
        .header("Content-Type", "application/json");
        if let Some(token) = &self.token {
            request = match &self.kind {
                Kind::Gotify { .. } => request.header("X-Gotify-Key", token.expose()),
                _ => request.header("Authorization", &format!("Bearer {}", token.expose())),
            };
        }
        match request.send(text.as_bytes()) {
            Ok(response) if response.status().is_success() => Ok(()),
            Ok(response) if response.status().is_redirection() => {
                let to = response
                    .headers()
                    .get("location")
                    .and_then(|l| l.to_str().ok())
                    .map(|l| super::message::one_line(&l.chars().take(200).collect::<String>()))
                    .unwrap_or_default();
                let why = format!(
                    "the server answered HTTP {} to {to}: redirects are not followed, so that the channel's secret goes nowhere else (put the final URL in the channel)",
                    response.status().as_u16()
                );
                Err((false, why))
            }
            Ok(response) => {
                let status = response.status().as_u16();
                // 4xx but 408 and 429 will not change by trying again.
                let retry = status >= 500 || status == 408 || status == 429;
                Err((retry, format!("the server answered HTTP {status}")))
            }
            Err(e) => Err((true, e.to_string())),
        }
    }

    /// The notification as JSON on the program's stdin; its exit status
    /// says whether it was delivered.
    /// Fails with whether trying again may help: not for a program that
    /// cannot be started at all.
    fn program(&self, argv: &[String], n: &Notification<'_>) -> Result<(), (bool, String)> {
        let mut child = std::process::Command::new(&argv[0])
            .args(&argv[1..])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .map_err(|e| {
                let why = format!(
                    "cannot start {}: {}",
                    argv[0],
                    crate::base::error::describe_io(&e)
                );
                (false, why)
            })?;
        let input = n.data.to_string() + "\n";
        if let Some(mut stdin) = child.stdin.take() {
            // Written from a thread: a program that reads nothing would
            // otherwise hold sd-mail past the deadline once the input is
            // larger than the pipe. One that does not read still decides
            // by its exit status; the write ends when it is killed.
            std::thread::spawn(move || {
                let _ = stdin.write_all(input.as_bytes());
            });
        }
        let deadline = Instant::now() + self.timeout;
        loop {
            match child.try_wait() {
                Ok(Some(status)) if status.success() => return Ok(()),
                Ok(Some(status)) => return Err((true, format!("{} ended with {status}", argv[0]))),
                Ok(None) if Instant::now() >= deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let why = format!("{} took longer than {:?}", argv[0], self.timeout);
                    return Err((true, why));
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                Err(e) => return Err((true, e.to_string())),
            }
        }
    }
}

/// One datagram per notification as syslog(3) writes it to /dev/log:
/// `<PRI>Mmm dd hh:mm:ss IDENT[PID]: text`, on one line.
fn syslog(
    socket: &std::path::Path,
    facility: u8,
    ident: &str,
    n: &Notification<'_>,
) -> Result<(), String> {
    let severity = if n.problem { 3 } else { 5 };
    let stamp = chrono::Local::now().format("%b %e %H:%M:%S");
    let line = super::message::one_line(n.subject);
    let mut message = format!(
        "<{}>{stamp} {ident}[{}]: {line}",
        facility * 8 + severity,
        std::process::id()
    );
    let end = crate::base::size::prefix(&message, 8000).len();
    message.truncate(end);
    let sock = std::os::unix::net::UnixDatagram::unbound().map_err(|e| e.to_string())?;
    sock.send_to(message.as_bytes(), socket)
        .map(drop)
        .map_err(|e| {
            format!(
                "{}: {}",
                socket.display(),
                crate::base::error::describe_io(&e)
            )
        })
}

fn ntfy_priority(text: &str) -> u8 {
    match text {
        "min" | "1" => 1,
        "low" | "2" => 2,
        "high" | "4" => 4,
        "max" | "urgent" | "5" => 5,
        _ => 3,
    }
}

/// `@room`, `@channel`, `@here`, `@all`, `@everyone` broken by a word
/// joiner: shown the same, notifying no one.
pub fn no_mentions(text: &str) -> String {
    let mut out = text.to_string();
    for word in ["@room", "@channel", "@here", "@all", "@everyone"] {
        out = out.replace(word, &format!("@\u{2060}{}", &word[1..]));
    }
    out
}

/// Slack's three escapes: no `<…>` link or mention can be written.
fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A value as one URL path segment.
fn path_part(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_and_markup_are_neutralised() {
        let text = no_mentions("@room @channel <!here> `x` @roomy");
        assert!(!text.contains("@room ") && !text.contains("@channel"));
        assert_eq!(
            slack_escape("<!here> & <@U1>"),
            "&lt;!here&gt; &amp; &lt;@U1&gt;"
        );
        assert_eq!(path_part("!abc:example.org"), "%21abc%3Aexample.org");
    }
}
