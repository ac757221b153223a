//! The checks themselves: does the service answer? HTTP (ureq), TCP, or a
//! command. Each gives an [`Outcome`]: ok, fail (the service did not
//! answer as it should) or error (the check itself could not be run — a
//! bad URL, a command that does not exist), with a short reason.
//!
//! These run in the worker process, after privileges were dropped.

use crate::event::Status;
use serde::{Deserialize, Serialize};
use std::io::Read;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// What to check, as the worker receives it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Probe {
    Http {
        url: String,
        method: String,
        /// Accepted status codes, as ranges.
        expect: Vec<(u16, u16)>,
        body_match: Option<String>,
        ca: Option<PathBuf>,
    },
    Tcp {
        address: String,
    },
    Exec {
        command: Vec<String>,
    },
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Outcome {
    pub status: Status,
    pub reason: String,
    pub msg: String,
    pub elapsed_ms: i64,
    /// The tail of an exec check's output.
    pub stdout: Option<String>,
    pub stderr: Option<String>,
}

/// Bytes of an exec check's output kept (the tail).
const OUTPUT_KEPT: usize = 4096;
/// Bytes of an HTTP body read for `--body-match`.
const BODY_READ: u64 = 1 << 20;

impl Probe {
    /// Where the check goes, for messages.
    pub fn target(&self) -> String {
        match self {
            Probe::Http { url, .. } => url.clone(),
            Probe::Tcp { address } => address.clone(),
            Probe::Exec { command } => shell_words::join(command),
        }
    }

    pub fn run(&self, timeout: Duration) -> Outcome {
        let start = Instant::now();
        let (status, reason, msg, output) = match self {
            Probe::Http {
                url,
                method,
                expect,
                body_match,
                ca,
            } => {
                let (s, r, m) = http(
                    url,
                    method,
                    expect,
                    body_match.as_deref(),
                    ca.as_ref(),
                    timeout,
                );
                (s, r, m, None)
            }
            Probe::Tcp { address } => {
                let (s, r, m) = tcp(address, timeout);
                (s, r, m, None)
            }
            Probe::Exec { command } => exec(command, timeout),
        };
        let elapsed = start.elapsed();
        let (stdout, stderr) = output.unwrap_or_default();
        Outcome {
            status,
            reason,
            msg: format!("{msg} in {}", crate::base::time::human(elapsed)),
            elapsed_ms: elapsed.as_millis() as i64,
            stdout,
            stderr,
        }
    }
}

type Verdict = (Status, String, String);

fn http(
    url: &str,
    method: &str,
    expect: &[(u16, u16)],
    body_match: Option<&str>,
    ca: Option<&PathBuf>,
    timeout: Duration,
) -> Verdict {
    let agent = match agent(ca, timeout) {
        Ok(agent) => agent,
        Err(why) => return (Status::Error, "bad-ca".into(), why),
    };
    let request = match ureq::http::Request::builder()
        .method(method)
        .uri(url)
        .body(())
    {
        Ok(request) => request,
        Err(e) => return (Status::Error, "bad-url".into(), format!("{url}: {e}")),
    };
    // A name that does not resolve says nothing about the service: it is
    // the check's own error, never a reason to restart (a broken resolver
    // must not restart every service on the host).
    if let Err(why) = resolve(request.uri(), timeout) {
        return (Status::Error, "resolve".into(), format!("{url}: {why}"));
    }
    let mut response = match agent.run(request) {
        Ok(response) => response,
        Err(e) => return http_failure(url, &e),
    };
    let code = response.status().as_u16();
    if !expect.iter().any(|(lo, hi)| (*lo..=*hi).contains(&code)) {
        return (
            Status::Fail,
            format!("http-{code}"),
            format!(
                "{method} {url} answered {code}, expected {}",
                show_ranges(expect)
            ),
        );
    }
    if let Some(pattern) = body_match {
        let mut body = Vec::new();
        let read = response
            .body_mut()
            .as_reader()
            .take(BODY_READ)
            .read_to_end(&mut body);
        if let Err(e) = read {
            return (
                Status::Fail,
                "body-unreadable".into(),
                format!("{method} {url}: reading the body: {e}"),
            );
        }
        if !String::from_utf8_lossy(&body).contains(pattern) {
            return (
                Status::Fail,
                "body-mismatch".into(),
                format!("{method} {url} answered {code} without {pattern:?} in the body"),
            );
        }
    }
    (
        Status::Ok,
        format!("http-{code}"),
        format!("{method} {url} answered {code}"),
    )
}

fn http_failure(url: &str, e: &ureq::Error) -> Verdict {
    use ureq::Error as E;
    let (status, reason) = match e {
        E::HostNotFound | E::Timeout(ureq::Timeout::Resolve) => (Status::Error, "resolve"),
        E::Timeout(_) => (Status::Fail, "timeout"),
        E::ConnectionFailed => (Status::Fail, "refused"),
        E::Io(io)
            if io
                .get_ref()
                .is_some_and(|inner| inner.is::<rustls::Error>()) =>
        {
            (Status::Fail, "tls")
        }
        E::Io(io) => match io.kind() {
            std::io::ErrorKind::ConnectionRefused => (Status::Fail, "refused"),
            std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => {
                (Status::Fail, "timeout")
            }
            _ => (Status::Fail, "io"),
        },
        E::Tls(_) | E::Rustls(_) | E::Pem(_) => (Status::Fail, "tls"),
        E::BadUri(_) | E::Http(_) | E::RequireHttpsOnly(_) => (Status::Error, "bad-url"),
        _ => (Status::Fail, "protocol"),
    };
    (status, reason.into(), format!("{url}: {e}"))
}

/// One HTTP client per CA and timeout, shared by every check that uses
/// them: a thousand checks then share one TLS configuration instead of
/// parsing the system's roots a thousand times.
fn agent(ca: Option<&PathBuf>, timeout: Duration) -> Result<ureq::Agent, String> {
    type Agents = std::collections::HashMap<(Option<PathBuf>, Duration), ureq::Agent>;
    static AGENTS: std::sync::Mutex<Option<Agents>> = std::sync::Mutex::new(None);
    let key = (ca.cloned(), timeout);
    let mut agents = AGENTS.lock().unwrap_or_else(|e| e.into_inner());
    let agents = agents.get_or_insert_with(Agents::new);
    if let Some(agent) = agents.get(&key) {
        return Ok(agent.clone());
    }
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .max_redirects(0)
        .user_agent(concat!("sd-heartbeat/", env!("CARGO_PKG_VERSION")))
        // A check reads a status line and headers (and at most 1 MiB of
        // body, streamed): small buffers keep a thousand at once cheap.
        .input_buffer_size(16 * 1024)
        .output_buffer_size(4 * 1024)
        .tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(root_certs(ca)?)
                .build(),
        )
        .build()
        .into();
    agents.insert(key, agent.clone());
    Ok(agent)
}

/// The system's roots, and the CA given.
fn root_certs(ca: Option<&PathBuf>) -> Result<ureq::tls::RootCerts, String> {
    use ureq::tls::{Certificate, PemItem, RootCerts};
    // Read once per process: a thousand checks share them.
    static SYSTEM: std::sync::OnceLock<Vec<Certificate<'static>>> = std::sync::OnceLock::new();
    let system = SYSTEM.get_or_init(|| {
        rustls_native_certs::load_native_certs()
            .certs
            .iter()
            .map(|der| Certificate::from_der(der.as_ref()).to_owned())
            .collect()
    });
    let mut certs = system.clone();
    if let Some(ca) = ca {
        let pem = std::fs::read(ca).map_err(|e| {
            format!(
                "reading --ca {}: {}",
                ca.display(),
                crate::base::error::describe_io(&e)
            )
        })?;
        for item in ureq::tls::parse_pem(&pem) {
            match item {
                Ok(PemItem::Certificate(cert)) => certs.push(cert),
                Ok(_) => {}
                Err(e) => return Err(format!("--ca {}: {e}", ca.display())),
            }
        }
    }
    if certs.is_empty() {
        return Ok(RootCerts::WebPki);
    }
    Ok(RootCerts::new_with_certs(&certs))
}

fn show_ranges(ranges: &[(u16, u16)]) -> String {
    ranges
        .iter()
        .map(|(lo, hi)| {
            if lo == hi {
                lo.to_string()
            } else {
                format!("{lo}-{hi}")
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// `200-399,404` as ranges.
pub fn parse_expect(text: &str) -> Result<Vec<(u16, u16)>, String> {
    let bad = || format!("`{text}` is not a set of HTTP status codes (try 200-399 or 200,204)");
    text.split(',')
        .map(|part| {
            let part = part.trim();
            let (lo, hi) = part.split_once('-').unwrap_or((part, part));
            let lo: u16 = lo.trim().parse().map_err(|_| bad())?;
            let hi: u16 = hi.trim().parse().map_err(|_| bad())?;
            if !(100..=599).contains(&lo) || !(100..=599).contains(&hi) || lo > hi {
                return Err(bad());
            }
            Ok((lo, hi))
        })
        .collect()
}

/// The addresses `host:port` resolves to, within `timeout` (the resolver
/// has no timeout of its own, so it asks from a thread of its own).
fn lookup(address: String, timeout: Duration) -> Result<Vec<SocketAddr>, String> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let asked = address.clone();
    std::thread::spawn(move || {
        let _ = tx.send(asked.to_socket_addrs().map(Iterator::collect::<Vec<_>>));
    });
    match rx.recv_timeout(timeout) {
        Ok(Ok(addresses)) if !addresses.is_empty() => Ok(addresses),
        Ok(Ok(_)) => Err(format!("{address} resolves to no address")),
        Ok(Err(e)) => Err(format!("cannot resolve {address}: {e}")),
        Err(_) => Err(format!(
            "resolving {address} took longer than {}",
            crate::base::time::human(timeout)
        )),
    }
}

/// Whether the URL's host resolves, before the service is asked.
fn resolve(uri: &ureq::http::Uri, timeout: Duration) -> Result<(), String> {
    let Some(host) = uri.host() else {
        return Ok(()); // ureq itself says what is wrong with the URL
    };
    let port = uri
        .port_u16()
        .unwrap_or(if uri.scheme_str() == Some("https") {
            443
        } else {
            80
        });
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let address = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    lookup(address, timeout).map(|_| ())
}

/// Connects to every address the name resolves to, until one answers.
fn tcp(address: &str, timeout: Duration) -> Verdict {
    let deadline = Instant::now() + timeout;
    let addresses = match lookup(address.to_string(), timeout) {
        Ok(addresses) => addresses,
        Err(why) => return (Status::Error, "resolve".into(), why),
    };
    let mut last = String::from("no address");
    let mut reason = "refused";
    for addr in &addresses {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            reason = "timeout";
            break;
        }
        match TcpStream::connect_timeout(addr, left) {
            Ok(_) => {
                return (
                    Status::Ok,
                    "connected".into(),
                    format!("connected to {address} ({addr})"),
                );
            }
            Err(e) => {
                reason = match e.kind() {
                    std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => "timeout",
                    std::io::ErrorKind::ConnectionRefused => "refused",
                    _ => "unreachable",
                };
                last = format!("{addr}: {}", crate::base::error::describe_io(&e));
            }
        }
    }
    (
        Status::Fail,
        reason.into(),
        format!("cannot connect to {address}: {last}"),
    )
}

type ExecVerdict = (
    Status,
    String,
    String,
    Option<(Option<String>, Option<String>)>,
);

/// Runs the command (no shell), killing its process group at the timeout.
fn exec(command: &[String], timeout: Duration) -> ExecVerdict {
    let shown = shell_words::join(command);
    if command.is_empty() {
        return (
            Status::Error,
            "no-command".into(),
            "no command given".into(),
            None,
        );
    }
    let finished = match crate::base::process::run(command, timeout, OUTPUT_KEPT) {
        Ok(finished) => finished,
        Err(e) => {
            let reason = crate::base::process::reason_not_started(&e);
            return (
                Status::Error,
                reason.into(),
                format!("{shown}: {}", crate::base::error::describe_io(&e)),
                None,
            );
        }
    };
    let nonempty = |s: String| (!s.is_empty()).then_some(s);
    let output = Some((nonempty(finished.stdout), nonempty(finished.stderr)));
    use std::os::unix::process::ExitStatusExt;
    match finished.status {
        None => (
            Status::Fail,
            "timeout".into(),
            format!("{shown} did not finish"),
            output,
        ),
        Some(s) if s.success() => (
            Status::Ok,
            "exit-0".into(),
            format!("{shown} succeeded"),
            output,
        ),
        Some(s) => match (s.code(), s.signal()) {
            (Some(code), _) => (
                Status::Fail,
                format!("exit-{code}"),
                format!("{shown} exited {code}"),
                output,
            ),
            (None, signal) => (
                Status::Fail,
                "signal".into(),
                format!("{shown} was killed by signal {}", signal.unwrap_or(0)),
                output,
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_codes_parse() {
        assert_eq!(parse_expect("200-399").unwrap(), [(200, 399)]);
        assert_eq!(
            parse_expect("200, 204,301-302").unwrap(),
            [(200, 200), (204, 204), (301, 302)]
        );
        for bad in ["", "abc", "399-200", "99", "200-"] {
            assert!(parse_expect(bad).is_err(), "{bad}");
        }
    }
}
