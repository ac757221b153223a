//! Handing a mail to the mail system: SMTP (lettre, with the URLs of
//! docs/ARCHITECTURE.md §4), a sendmail program, or standard output for `--dry-run`.
//!
//! - `smtp://host[:587]` — STARTTLS, required (on a loopback address,
//!   used when offered: a local relay often has no certificate, and
//!   nothing crosses a network);
//! - `smtp://host?tls=opportunistic` — STARTTLS when offered;
//! - `smtp://host?tls=none` — plaintext (loopback test servers);
//! - `smtps://host[:465]` — TLS from the first byte.
//!
//! The user comes from the URL or `[mail] user`, the password from
//! `[mail] password_file` or `SD_SMTP_PASSWORD` (never from argv, never
//! printed).

use crate::base::error::{Context, Error, Result};
use crate::base::exit::Exit;
use crate::base::secret::Secret;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{Message, SendmailTransport, SmtpTransport, Transport as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub enum Transport {
    Smtp {
        mailer: SmtpTransport,
        shown: String,
    },
    Sendmail(PathBuf),
    /// Mails are printed, to stdout or (when stdout carries the echo) to
    /// stderr.
    DryRun {
        to_stderr: bool,
    },
}

/// Where and how to send, as flags and configuration said.
pub struct SmtpSettings<'a> {
    pub url: &'a str,
    pub user: Option<&'a str>,
    pub password: Option<Secret>,
    pub ca: Option<&'a Path>,
    pub timeout: Duration,
}

#[derive(Debug, PartialEq, Eq)]
enum Security {
    Required,
    Opportunistic,
    None,
    Wrapper,
}

impl Transport {
    pub fn smtp(settings: SmtpSettings<'_>) -> Result<Transport> {
        let bad = |why: &str| {
            Error::usage(format!(
                "--smtp {}: {why} (try smtp://mail.example.org:587, smtps://mail.example.org:465 \
                 or smtp://127.0.0.1:2525?tls=none)",
                crate::base::secret::redact_url(settings.url)
            ))
        };
        let url = url::Url::parse(settings.url).map_err(|e| bad(&format!("not a URL ({e})")))?;
        let mut security = match url.scheme() {
            "smtp" => Security::Required,
            "smtps" => Security::Wrapper,
            _ => return Err(bad("the scheme must be smtp or smtps")),
        };
        let mut tls_given = false;
        for (key, value) in url.query_pairs() {
            tls_given |= key == "tls";
            security = match (key.as_ref(), value.as_ref(), &security) {
                ("tls", "required", Security::Required) => Security::Required,
                ("tls", "opportunistic", Security::Required) => Security::Opportunistic,
                ("tls", "none", Security::Required) => Security::None,
                _ => return Err(bad(&format!("unknown option `{key}={value}`"))),
            };
        }
        let host = match url.host() {
            Some(url::Host::Domain(name)) if !name.is_empty() => name.to_string(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            _ => return Err(bad("no host")),
        };
        let host = host.as_str();
        if security == Security::Required && !tls_given && is_loopback(host) {
            security = Security::Opportunistic;
        }
        let port = url.port().unwrap_or(if security == Security::Wrapper {
            465
        } else {
            587
        });
        if url.password().is_some() {
            return Err(bad(
                "put the password in [mail] password_file or SD_SMTP_PASSWORD, not in the URL",
            ));
        }
        // A user name is percent-encoded in a URL (`me%40example.org`).
        let url_user = match url.username() {
            "" => None,
            user => Some(
                percent_decode(user)
                    .ok_or_else(|| bad("the user name is not UTF-8 once decoded"))?,
            ),
        };
        if security == Security::None && !is_loopback(host) {
            crate::base::cli::warn(format!(
                "mail to {host} goes over plaintext SMTP (tls=none): passwords and mail can be read on the way"
            ));
        }
        let tls = if security == Security::None {
            Tls::None
        } else {
            let mut builder = TlsParameters::builder(host.to_string());
            if let Some(ca) = settings.ca {
                let pem = std::fs::read(ca).usage_context("reading --smtp-ca", ca.display())?;
                let cert = Certificate::from_pem(&pem)
                    .map_err(|e| Error::usage(format!("--smtp-ca {}: {e}", ca.display())))?;
                builder = builder.add_root_certificate(cert);
            }
            let params = builder
                .build_rustls()
                .map_err(|e| Error::usage(format!("setting up TLS for {host}: {e}")))?;
            match security {
                Security::Required => Tls::Required(params),
                Security::Opportunistic => Tls::Opportunistic(params),
                _ => Tls::Wrapper(params),
            }
        };
        let mut builder = SmtpTransport::builder_dangerous(host)
            .port(port)
            .tls(tls)
            .timeout(Some(settings.timeout));
        match (url_user.as_deref().or(settings.user), settings.password) {
            (Some(user), Some(password)) => {
                builder = builder.credentials(Credentials::new(
                    user.to_string(),
                    password.expose().to_string(),
                ));
            }
            (Some(user), None) => {
                return Err(Error::usage(format!(
                    "SMTP user {user} has no password: set [mail] password_file or SD_SMTP_PASSWORD"
                )));
            }
            (None, _) => {}
        }
        Ok(Transport::Smtp {
            mailer: builder.build(),
            shown: format!("{host}:{port}"),
        })
    }

    /// Hands one mail over. The error says whether trying again may help.
    pub fn send(&self, message: &Message) -> Result<(), Failure> {
        match self {
            Transport::Smtp { mailer, shown } => {
                mailer.send(message).map(drop).map_err(|e| Failure {
                    retry: !e.is_permanent(),
                    message: describe_smtp(shown, &e),
                })
            }
            Transport::Sendmail(program) => SendmailTransport::new_with_command(program)
                .send(message)
                .map_err(|e| Failure {
                    retry: true,
                    message: format!("{}: {e}", program.display()),
                }),
            // A preview is printed as text by the mailer, never encoded.
            Transport::DryRun { .. } => Ok(()),
        }
    }
}

/// Why a mail was not accepted.
#[derive(Debug)]
pub struct Failure {
    pub retry: bool,
    pub message: String,
}

impl Failure {
    pub fn into_error(self) -> Error {
        Error::new(Exit::TempFail, self.message)
    }
}

fn describe_smtp(server: &str, e: &lettre::transport::smtp::Error) -> String {
    // lettre's Display gives the cause chain's top only; the source says
    // what the TLS library or the socket said.
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    let text = crate::base::error::plain(text);
    let hint = if text.contains("UnknownIssuer") || text.contains("certificate") {
        " (if the server's certificate is from a private CA, give it with --smtp-ca FILE)"
    } else if text.contains("STARTTLS") {
        " (a server that offers no STARTTLS is reached with ?tls=opportunistic, or ?tls=none for plain SMTP: smtp://HOST:PORT?tls=opportunistic)"
    } else if e.is_permanent() && text.contains("535") {
        " (check [mail] user and password_file)"
    } else {
        ""
    };
    format!("mail server {server}: {text}{hint}")
}

/// `%40` → `@`, as a URL's user name is written.
fn percent_decode(text: &str) -> Option<String> {
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .ok()
        .map(|user| user.into_owned())
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn smtp(url: &str) -> Result<Transport> {
        Transport::smtp(SmtpSettings {
            url,
            user: None,
            password: None,
            ca: None,
            timeout: Duration::from_secs(5),
        })
    }

    #[test]
    fn urls_are_checked() {
        assert!(smtp("smtp://mail.example.org:587").is_ok());
        assert!(smtp("smtps://mail.example.org").is_ok());
        assert!(smtp("smtp://127.0.0.1:2525?tls=none").is_ok());
        assert!(smtp("smtp://[::1]:2525?tls=opportunistic").is_ok());
        for bad in [
            "mail.example.org",
            "http://mail.example.org",
            "smtp://mail.example.org?tls=maybe",
            "smtps://mail.example.org?tls=none",
            "smtp://:25",
            "smtp://host:port",
        ] {
            assert!(smtp(bad).is_err(), "{bad}");
        }
        let err = smtp("smtp://me:secret@mail.example.org").err().unwrap();
        assert!(!err.message.contains("secret"), "{}", err.message);
        assert!(
            smtp("smtp://me@mail.example.org").is_err(),
            "a user needs a password"
        );
        // A user name with an @ is written %40 in a URL.
        let with_password = Transport::smtp(SmtpSettings {
            url: "smtp://me%40example.org@mail.example.org",
            user: None,
            password: Some(crate::base::secret::Secret::new("pw".into())),
            ca: None,
            timeout: Duration::from_secs(5),
        });
        assert!(with_password.is_ok());
        assert_eq!(
            percent_decode("me%40example.org").as_deref(),
            Some("me@example.org")
        );
        assert_eq!(percent_decode("%ff"), None);
    }
}
