//! Restarting a service that stopped answering (docs/ARCHITECTURE.md §5): through a
//! command, GNU Shepherd's `herd` or systemd's `systemctl`; only when it
//! is supposed to be running; only after `--after` failures in a row,
//! counted across one-shot runs in a state file; and at most
//! `--max-restarts` times per window, so a broken service cannot cause a
//! restart storm. Restarts run in the parent, with its privileges.

use crate::base::error::{Context, Result};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How a restart (and the question "should it run?") is done.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Supervisor {
    Command(Vec<String>),
    Shepherd(String),
    Systemd(String),
}

/// A restart or a status question takes at most this long.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);

/// What a supervisor command did.
pub struct Ran {
    pub cmd: Vec<String>,
    pub code: Option<i32>,
    pub output: String,
}

impl Ran {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
}

impl Supervisor {
    pub fn restart_command(&self) -> Vec<String> {
        match self {
            Supervisor::Command(cmd) => cmd.clone(),
            Supervisor::Shepherd(service) => words(&["herd", "restart", service]),
            Supervisor::Systemd(unit) => words(&["systemctl", "restart", unit]),
        }
    }

    /// Whether the service is supposed to be running, when its manager
    /// can say: `herd status` reports it started, `systemctl is-active`
    /// succeeds. (An explicit `--if-running` wins over this.)
    pub fn should_run(&self) -> Option<Ran> {
        let cmd = match self {
            Supervisor::Command(_) => return None,
            Supervisor::Shepherd(service) => words(&["herd", "status", service]),
            Supervisor::Systemd(unit) => words(&["systemctl", "is-active", "--quiet", unit]),
        };
        let mut ran = run(&cmd);
        if let Supervisor::Shepherd(_) = self {
            // herd status succeeds for stopped services too: read it.
            let running =
                ran.output.contains("It is started") || ran.output.contains("It is running");
            if ran.success() && !running {
                ran.code = Some(1);
            }
        }
        Some(ran)
    }
}

fn words(w: &[&str]) -> Vec<String> {
    w.iter().map(|s| s.to_string()).collect()
}

/// What a restart command may print that is kept (head and tail).
const OUTPUT_KEPT: usize = 64 * 1024;

/// Runs a command without a shell, output captured (and read while it
/// runs, so a chatty restart never blocks), within the timeout.
pub fn run(cmd: &[String]) -> Ran {
    let program = cmd.first().map_or("", String::as_str);
    match crate::base::process::run(cmd, COMMAND_TIMEOUT, OUTPUT_KEPT) {
        Ok(finished) => {
            let mut output = finished.stdout;
            output.push_str(&finished.stderr);
            if finished.timed_out {
                output.push_str(&format!(
                    "\nkilled after {}",
                    crate::base::time::human(COMMAND_TIMEOUT)
                ));
            }
            Ran {
                cmd: cmd.to_vec(),
                code: finished.status.and_then(|s| s.code()),
                output: output.trim().to_string(),
            }
        }
        Err(e) => Ran {
            cmd: cmd.to_vec(),
            code: None,
            output: format!("{program}: {}", crate::base::error::describe_io(&e)),
        },
    }
}

/// `3/1h`: at most 3 restarts in any hour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    pub count: usize,
    pub window: Duration,
}

impl std::str::FromStr for RateLimit {
    type Err = String;

    fn from_str(text: &str) -> std::result::Result<Self, String> {
        let bad = || format!("`{text}` is not a rate (try 3/1h: three restarts an hour at most)");
        let (count, window) = text.split_once('/').ok_or_else(bad)?;
        Ok(RateLimit {
            count: count.trim().parse().map_err(|_| bad())?,
            window: crate::base::cli::parse_duration(window).map_err(|_| bad())?,
        })
    }
}

impl std::fmt::Display for RateLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}/{}",
            self.count,
            crate::base::time::human(self.window)
        )
    }
}

/// What one check remembers between runs.
#[derive(Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Memory {
    /// Failures in a row since the last success or restart.
    pub failures: u32,
    /// When restarts happened (ms), within the rate window.
    pub restarts: Vec<i64>,
}

/// The state file of one check: `<dir>/<tag>.json`.
pub fn memory_path(dir: &Path, tag: &str) -> PathBuf {
    crate::base::paths::file_for_tag(dir, tag, "json")
}

impl Memory {
    /// Reads it; a missing or unreadable file is a fresh start.
    pub fn load(path: &Path) -> Memory {
        std::fs::read(path)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    }

    /// Writes it whole and atomically: a temporary file of its own in the
    /// same directory, flushed to disk, renamed over the old one — two
    /// overlapping runs never leave a half-written or mixed file.
    pub fn save(&self, path: &Path) -> Result<()> {
        let write = || -> std::io::Result<()> {
            let dir = path.parent().unwrap_or(Path::new("."));
            std::fs::create_dir_all(dir)?;
            let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
            tmp.write_all(&serde_json::to_vec(self).unwrap_or_default())?;
            tmp.as_file().sync_all()?;
            tmp.persist(path).map_err(|e| e.error)?;
            Ok(())
        };
        write().context("writing heartbeat state", path.display())?;
        Ok(())
    }

    /// Restarts still inside the window ending now.
    pub fn recent_restarts(&mut self, limit: RateLimit, now_ms: i64) -> usize {
        let since = now_ms - limit.window.as_millis() as i64;
        self.restarts.retain(|&t| t > since);
        self.restarts.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse() {
        let r: RateLimit = "3/1h".parse().unwrap();
        assert_eq!((r.count, r.window), (3, Duration::from_secs(3600)));
        assert!("3".parse::<RateLimit>().is_err());
        assert!("x/1h".parse::<RateLimit>().is_err());
    }
}
