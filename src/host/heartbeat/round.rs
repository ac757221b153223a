//! What sd-heartbeat does once its flags are read: one [`Round`] checks
//! every service through the unprivileged worker, prints an event for
//! each, and follows up — counting failures across runs and restarting a
//! service, within its limits, when it is due (docs/ARCHITECTURE.md §5).

use super::check::{Outcome, Probe};
use super::restart::{self, Memory, RateLimit, Supervisor};
use super::worker::Worker;
use crate::base::cli;
use crate::base::error::{Error, Result};
use crate::base::exit::Exit;
use crate::base::time;
use crate::event::{Event, Status};
use std::path::Path;
use std::time::Duration;

/// One service to check, with everything its restarts need.
#[derive(Debug)]
pub(super) struct Service {
    pub(super) tag: String,
    pub(super) probe: Probe,
    pub(super) timeout: Duration,
    pub(super) supervisor: Option<Supervisor>,
    pub(super) if_running: Option<Vec<String>>,
    pub(super) after: u32,
    pub(super) max_restarts: RateLimit,
}

/// No check can run at all (its user does not exist, privileges cannot
/// be dropped): an `error` event for each on stdout, so `| sd-bark` tells
/// the server, besides the message on stderr.
pub(super) fn cannot_check(host: &str, services: &[Service], err: Error) -> Error {
    let events: Vec<Event> = services
        .iter()
        .map(|service| {
            let mut event =
                service_event(host, service, "heartbeat", Status::Error, "cannot-check");
            event.set("msg", err.message.clone());
            event
        })
        .collect();
    let _ = cli::print_events(&events);
    err
}

fn service_event(host: &str, service: &Service, kind: &str, status: Status, reason: &str) -> Event {
    let mut event = Event::report(host, &service.tag, kind, status);
    event.set("reason", reason);
    event
}

/// One round of checks and what follows from them.
pub(super) struct Round<'a> {
    pub(super) worker: &'a mut Worker,
    pub(super) state_dir: &'a Path,
    pub(super) host: &'a str,
}

impl Round<'_> {
    pub(super) fn run(&mut self, services: &[Service]) -> Result<Exit> {
        let mut exit = Exit::Ok;
        // Which services are supposed to be running (asked as root, all
        // at once: a thousand `herd status` one after another would take
        // longer than the checks).
        let answers: Vec<_> = std::thread::scope(|scope| {
            let asking: Vec<_> = services
                .iter()
                .map(|service| scope.spawn(move || supposed_to_run(service)))
                .collect();
            asking
                .into_iter()
                .map(|a| {
                    a.join()
                        .unwrap_or_else(|_| Err("asking its manager failed".into()))
                })
                .collect()
        });
        let mut due = Vec::new();
        for (service, answer) in services.iter().zip(answers) {
            match answer {
                Ok(()) => due.push(service),
                Err(why) => {
                    let mut event = self.event(service, "heartbeat", Status::Info, "skipped");
                    event.set("msg", why);
                    self.print(&event)?;
                }
            }
        }
        let probes: Vec<(Probe, Duration)> =
            due.iter().map(|s| (s.probe.clone(), s.timeout)).collect();
        let outcomes = match self.worker.run(&probes) {
            Ok(outcomes) => outcomes,
            Err(e) => {
                // No check ran (privileges could not be dropped, or the
                // worker died): every one of them is an error.
                for service in &due {
                    let mut event = self.event(service, "heartbeat", Status::Error, "cannot-check");
                    event.set("msg", e.message.clone());
                    self.print(&event)?;
                }
                if !due.is_empty() {
                    cli::warn(&e.message);
                    return Ok(Exit::CannotCheck);
                }
                return Ok(exit);
            }
        };
        for (service, outcome) in due.iter().zip(outcomes) {
            exit = exit.worst(match outcome.status {
                Status::Ok => Exit::Ok,
                Status::Error => Exit::CannotCheck,
                _ => Exit::Failed,
            });
            let mut event = self.event(service, "heartbeat", outcome.status, &outcome.reason);
            event.set("target", service.probe.target());
            event.set("elapsed_ms", outcome.elapsed_ms);
            event.set("user", self.worker.user.clone());
            event.set("msg", outcome.msg.clone());
            if let Some(out) = &outcome.stdout {
                event.set("stdout", out.clone());
            }
            if let Some(err) = &outcome.stderr {
                event.set("stderr", err.clone());
            }
            self.print(&event)?;
            self.follow_up(service, &outcome)?;
        }
        Ok(exit)
    }

    /// Counts failures and restarts when due.
    fn follow_up(&mut self, service: &Service, outcome: &Outcome) -> Result<()> {
        let path = restart::memory_path(self.state_dir, &service.tag);
        let mut memory = Memory::load(&path);
        let before = (memory.failures, memory.restarts.clone());
        match outcome.status {
            Status::Ok => memory.failures = 0,
            Status::Fail => memory.failures += 1,
            // error: the check, not the service, is broken — no count, no restart.
            _ => {}
        }
        let now = time::now_ms();
        if outcome.status == Status::Fail
            && memory.failures >= service.after
            && let Some(supervisor) = &service.supervisor
        {
            let limit = service.max_restarts;
            let recent = memory.recent_restarts(limit, now);
            if recent >= limit.count {
                let mut event = self.event(service, "restart", Status::Info, "restart-limit");
                event.set(
                    "msg",
                    format!(
                        "not restarting {}: {recent} restart(s) in the last {} already (--max-restarts {limit})",
                        service.tag,
                        crate::base::time::human(limit.window)
                    ),
                );
                self.print(&event)?;
            } else {
                let ran = restart::run(&supervisor.restart_command());
                memory.restarts.push(now);
                memory.failures = 0;
                let (status, reason, verb) = if ran.success() {
                    (Status::Info, "restarted", "restarted")
                } else {
                    (Status::Error, "restart-failed", "could not restart")
                };
                let mut event = self.event(service, "restart", status, reason);
                event.set("cmd", ran.cmd.clone());
                if let Some(code) = ran.code {
                    event.set("code", code);
                }
                let detail = if ran.output.is_empty() {
                    String::new()
                } else {
                    format!(": {}", ran.output.lines().last().unwrap_or_default())
                };
                event.set(
                    "msg",
                    format!(
                        "{verb} {} after {} failure(s) ({}){detail}",
                        service.tag,
                        service.after,
                        shell_words::join(&ran.cmd)
                    ),
                );
                self.print(&event)?;
            }
        }
        if (memory.failures, &memory.restarts) != (before.0, &before.1) {
            memory.save(&path)?;
        }
        Ok(())
    }

    fn event(&self, service: &Service, kind: &str, status: Status, reason: &str) -> Event {
        service_event(self.host, service, kind, status, reason)
    }

    fn print(&mut self, event: &Event) -> Result<()> {
        cli::print_events([event])
    }
}

/// Ok when the service should be checked; otherwise why not.
fn supposed_to_run(service: &Service) -> std::result::Result<(), String> {
    let ran = match (&service.if_running, &service.supervisor) {
        (Some(cmd), _) => restart::run(cmd),
        (None, Some(supervisor)) => match supervisor.should_run() {
            Some(ran) => ran,
            None => return Ok(()),
        },
        (None, None) => return Ok(()),
    };
    if ran.success() {
        Ok(())
    } else {
        Err(format!(
            "{} is not supposed to be running ({} said so{}); not checked",
            service.tag,
            shell_words::join(&ran.cmd),
            ran.code.map(|c| format!(", exit {c}")).unwrap_or_default()
        ))
    }
}
