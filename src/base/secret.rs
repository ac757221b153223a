//! Secrets are never printed: a password or token is a [`Secret`], whose
//! debug form hides it, and a URL is shown with its password replaced
//! ([`redact_url`]).

use crate::base::error::{Context, Result};
use std::fmt;
use std::path::Path;

/// A password or other secret: never printed, never in a message.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Self {
        Secret(value)
    }

    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Reads a secret from a file of its own (`what`: "password file",
    /// "key file", for the message); the trailing newline an editor adds
    /// is not part of it.
    pub fn from_file(path: &Path, what: &str) -> Result<Secret> {
        let text = std::fs::read_to_string(path)
            .usage_context(&format!("reading {what}"), path.display())?;
        Ok(Secret(text.trim_end_matches(['\n', '\r']).to_string()))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// The password part of a URL's user information, if any.
pub fn url_password(url: &str) -> Option<&str> {
    let (_, rest) = url.split_once("://")?;
    let authority = rest.split('/').next()?;
    let (userinfo, _) = authority.rsplit_once('@')?;
    let (_, password) = userinfo.split_once(':')?;
    (!password.is_empty()).then_some(password)
}

/// A URL fit for a message: its password replaced by `***`.
pub fn redact_url(url: &str) -> String {
    match url_password(url) {
        Some(password) => {
            let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
            let at = rest.find('@').unwrap_or(0);
            let userinfo = &rest[..at];
            let user = userinfo.strip_suffix(password).unwrap_or(userinfo);
            format!("{scheme}://{user}***{}", &rest[at..])
        }
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_found_and_redacted() {
        assert_eq!(url_password("redis://:s3cret@host:6379/0"), Some("s3cret"));
        assert_eq!(url_password("redis://user:pw@host"), Some("pw"));
        assert_eq!(url_password("redis://host:6379"), None);
        assert_eq!(url_password("redis://user@host"), None);
        assert_eq!(
            redact_url("redis://user:pw@host:1/0"),
            "redis://user:***@host:1/0"
        );
        assert_eq!(redact_url("rediss://:pw@host"), "rediss://:***@host");
        assert_eq!(
            redact_url("unix:///run/redis.sock"),
            "unix:///run/redis.sock"
        );
    }

    #[test]
    fn secrets_do_not_print() {
        let secret = Secret::new("hunter2".into());
        assert!(!format!("{secret:?}").contains("hunter2"));
    }
}
