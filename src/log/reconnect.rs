//! The one way a long-running reader (sd-recv, sd-obey, sd-order --wait)
//! lives with a log that goes away: it waits with backoff, says so once
//! when it starts waiting and once when it is back, makes its group again
//! when the engine lost it (Redis restarted without persistence), and
//! stops waiting when told to stop. A refused password or ACL is the
//! configuration's mistake, not an outage: it is returned at once.

use super::{Group, Log, Place, is_outage};
use crate::base::backoff::Backoff;
use crate::base::cli;
use crate::base::error::{Error, Result};
use crate::base::exit::Exit;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How long a reader waits for a log that is away.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Patience {
    /// A service: for as long as it takes (until it is told to stop).
    Forever,
    /// A run that drains what is there (`--once`, a wait with a
    /// deadline): this many failures in a row, then exit 69.
    Tries(u32),
}

pub struct Reconnecting {
    place: Place,
    stream: String,
    /// The group made (again) at each connection.
    group: Option<Group>,
    log: Option<Box<dyn Log>>,
    shown: String,
    stop: Arc<AtomicBool>,
    patience: Patience,
    quiet: bool,
    /// Connections made so far: a reader that reads its own pending
    /// entries again after a reconnection looks here.
    connections: u64,
}

impl Reconnecting {
    /// Opens `stream` of the log at `place` and, with a group, makes it
    /// when missing. An engine away at the start is waited for, as
    /// `patience` allows.
    pub fn open(
        place: &Place,
        stream: &str,
        group: Option<Group>,
        patience: Patience,
        stop: Arc<AtomicBool>,
        quiet: bool,
    ) -> Result<Reconnecting> {
        let mut reader = Reconnecting {
            shown: place.shown(stream),
            place: place.clone(),
            stream: stream.to_string(),
            group,
            log: None,
            stop,
            patience,
            quiet,
            connections: 0,
        };
        match reader.connect() {
            Ok(_) => Ok(reader),
            Err(e) if is_outage(&e) && patience == Patience::Forever => {
                reader.wait_at_start(e)?;
                Ok(reader)
            }
            Err(e) => Err(e),
        }
    }

    /// Where the log is, for messages.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// Connections made so far (1 after opening).
    pub fn connections(&self) -> u64 {
        self.connections
    }

    /// The log as it is, when connected: for housekeeping that can skip a
    /// turn rather than wait.
    pub fn connected(&mut self) -> Option<&mut (dyn Log + 'static)> {
        self.log.as_deref_mut()
    }

    /// Drops the connection; the next [`Reconnecting::with`] makes one.
    pub fn lose(&mut self) {
        self.log = None;
    }

    fn connect(&mut self) -> Result<&mut dyn Log> {
        if self.log.is_none() {
            let mut log = self.place.open(&self.stream)?;
            if let Some(group) = &self.group {
                log.ensure_group(&group.name, group.from_now)?;
            }
            self.log = Some(log);
            self.connections += 1;
        }
        Ok(self.log.as_deref_mut().expect("just connected"))
    }

    /// Waits, with backoff, until the log answers (or a stop is asked
    /// for): one message when waiting starts, one when it connects.
    fn wait_at_start(&mut self, first: Error) -> Result<()> {
        if !self.quiet {
            cli::note(format!("{first}; waiting for it (retrying with backoff)"));
        }
        let mut backoff = Backoff::new(Duration::from_millis(250), Duration::from_secs(5));
        loop {
            let until = Instant::now() + backoff.next_wait();
            while Instant::now() < until {
                if self.stop.load(Ordering::SeqCst) {
                    return Err(Error::quiet(Exit::Ok));
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            match self.connect() {
                Ok(_) => {
                    if !self.quiet {
                        cli::note(format!("connected to {}", self.shown));
                    }
                    return Ok(());
                }
                Err(e) if is_outage(&e) => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Runs `op` on the log, connecting again with backoff for as long as
    /// it is away (and [`Patience`] allows).
    pub fn with<T>(&mut self, mut op: impl FnMut(&mut dyn Log) -> Result<T>) -> Result<T> {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
        let mut announced = false;
        let mut stopping_tries = 0;
        let mut failures = 0;
        loop {
            let attempt = match self.connect() {
                Ok(log) => match op(log) {
                    Ok(value) => Ok(value),
                    Err(e) if is_outage(&e) => {
                        self.log = None;
                        Err(e.message)
                    }
                    Err(e) => return Err(e),
                },
                Err(e) if is_outage(&e) => Err(e.message),
                Err(e) => return Err(e),
            };
            match attempt {
                Ok(value) => {
                    if announced && !self.quiet {
                        cli::note(format!("reconnected to {}", self.shown));
                    }
                    return Ok(value);
                }
                Err(why) if self.stop.load(Ordering::SeqCst) => {
                    // Stopping: a read cut short by the signal is no
                    // outage; try a few times quietly (to acknowledge what
                    // is done), then leave it to the next run.
                    stopping_tries += 1;
                    if stopping_tries > 3 {
                        return Err(Error::new(
                            Exit::Unavailable,
                            format!(
                                "stopping without reaching {} ({why}); what was not acknowledged is delivered again",
                                self.shown
                            ),
                        ));
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(why) if matches!(self.patience, Patience::Tries(n) if failures + 1 >= n) => {
                    // A script draining with --once is told, not kept
                    // waiting on a broker that answers nonsense.
                    return Err(Error::new(
                        Exit::Unavailable,
                        format!(
                            "{} failed {} times ({why}); giving up, what was not acknowledged is delivered again",
                            self.shown,
                            failures + 1
                        ),
                    ));
                }
                Err(why) => {
                    failures += 1;
                    if !announced {
                        cli::note(format!("{why}; reconnecting"));
                        announced = true;
                    }
                    backoff.sleep();
                }
            }
        }
    }
}
