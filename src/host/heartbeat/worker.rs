//! The unprivileged worker (docs/ARCHITECTURE.md §5). Started as root, sd-heartbeat
//! forks one worker before any thread exists; the worker drops to the
//! check user — `setgroups([])`, `setgid`, `setuid`, in that order —,
//! proves it cannot become root again, and only then does any check's
//! I/O. The parent keeps root for restarts and talks to the worker over
//! two pipes, one JSON line each way per round of checks.
//!
//! Not started as root, there is nothing to drop, and the worker runs as
//! the user who started sd-heartbeat.

use super::check::{Outcome, Probe};
use crate::base::error::{Error, Result};
use crate::base::exit::Exit;
use nix::unistd::{ForkResult, Gid, Uid, User};
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::OwnedFd;
use std::time::Duration;

/// Stack of each check's thread: the worker runs them all at once, so
/// 1,000 checks take about one timeout; small stacks keep that cheap.
const CHECK_STACK: usize = 512 * 1024;

pub struct Worker {
    pid: nix::unistd::Pid,
    requests: File,
    answers: BufReader<File>,
    /// Who the checks run as, for events.
    pub user: String,
}

#[derive(Serialize, Deserialize)]
struct Request {
    probes: Vec<(Probe, u64)>,
}

#[derive(Serialize, Deserialize)]
enum Answer {
    Outcomes(Vec<Outcome>),
    /// The worker could not become the check user: nothing ran.
    CannotDrop(String),
}

impl Worker {
    /// Forks the worker.
    ///
    /// # Safety
    /// No other thread may exist when it is called: the child goes on to
    /// run ordinary code (allocate, look up users, run checks), which a
    /// forked child of a threaded process may not (only async-signal-safe
    /// calls). sd-heartbeat calls it first thing, before the signal
    /// thread or any check starts.
    pub unsafe fn start(user: Option<&str>) -> Result<Worker> {
        let target = match user {
            Some(name) => Some(lookup(name)?),
            None => None,
        };
        let shown = target
            .as_ref()
            .map_or_else(crate::base::ident::user_name, |u| u.name.clone());
        let (request_read, request_write) = pipe()?;
        let (answer_read, answer_write) = pipe()?;
        // SAFETY: the caller promises no other thread exists (see the
        // function's contract), so the child may do anything the parent
        // could.
        match unsafe { nix::unistd::fork() } {
            Err(e) => Err(Error::new(
                Exit::CannotCheck,
                format!("starting the check worker: {e}"),
            )),
            Ok(ForkResult::Child) => {
                drop((request_write, answer_read));
                let code = serve(target.as_ref(), request_read, answer_write);
                std::process::exit(code);
            }
            Ok(ForkResult::Parent { child }) => {
                drop((request_read, answer_write));
                Ok(Worker {
                    pid: child,
                    requests: File::from(request_write),
                    answers: BufReader::new(File::from(answer_read)),
                    user: shown,
                })
            }
        }
    }

    /// Runs every probe at once (each with its timeout) in the worker.
    pub fn run(&mut self, probes: &[(Probe, Duration)]) -> Result<Vec<Outcome>> {
        let lost = |what: &str| {
            Error::new(
                Exit::CannotCheck,
                format!("the check worker (pid {}) {what}", self.pid),
            )
        };
        let request = Request {
            probes: probes
                .iter()
                .map(|(p, t)| (p.clone(), t.as_millis() as u64))
                .collect(),
        };
        let line = serde_json::to_string(&request).map_err(|e| lost(&e.to_string()))?;
        writeln!(self.requests, "{line}")
            .and_then(|_| self.requests.flush())
            .map_err(|_| lost("is gone"))?;
        let mut answer = String::new();
        match self.answers.read_line(&mut answer) {
            Ok(0) | Err(_) => return Err(lost("stopped without answering")),
            Ok(_) => {}
        }
        match serde_json::from_str(&answer) {
            Ok(Answer::Outcomes(outcomes)) if outcomes.len() == probes.len() => Ok(outcomes),
            Ok(Answer::CannotDrop(why)) => Err(Error::new(Exit::CannotCheck, why)),
            _ => Err(lost("answered nonsense")),
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // Closing its input ends the worker; then it is reaped.
        let _ = nix::sys::signal::kill(self.pid, nix::sys::signal::Signal::SIGTERM);
        let _ = nix::sys::wait::waitpid(self.pid, None);
    }
}

fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| Error::new(Exit::CannotCheck, format!("creating a pipe: {e}")))
}

fn lookup(name: &str) -> Result<User> {
    match User::from_name(name) {
        Ok(Some(user)) => Ok(user),
        Ok(None) => Err(Error::new(
            Exit::CannotCheck,
            format!(
                "user {name} does not exist; create it (useradd --system --no-create-home {name}) \
                 or name another with --user or [heartbeat] user"
            ),
        )),
        Err(e) => Err(Error::new(
            Exit::CannotCheck,
            format!("looking up user {name}: {e}"),
        )),
    }
}

/// The worker's whole life: drop privileges, then answer requests until
/// the parent closes the pipe.
fn serve(user: Option<&User>, requests: OwnedFd, answers: OwnedFd) -> i32 {
    let _ = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGTERM);
    let mut answers = File::from(answers);
    let dropped = match user {
        Some(user) => become_user(user),
        None => Ok(()),
    };
    let mut reader = BufReader::new(File::from(requests));
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return 0,
            Ok(_) => {}
        }
        let answer = match (&dropped, serde_json::from_str::<Request>(&line)) {
            (Err(why), _) => Answer::CannotDrop(why.clone()),
            (Ok(()), Ok(request)) => Answer::Outcomes(run_all(request.probes)),
            (Ok(()), Err(_)) => return 2,
        };
        let text = serde_json::to_string(&answer).unwrap_or_default();
        if writeln!(answers, "{text}")
            .and_then(|_| answers.flush())
            .is_err()
        {
            return 0;
        }
    }
}

fn run_all(probes: Vec<(Probe, u64)>) -> Vec<Outcome> {
    let handles: Vec<_> = probes
        .into_iter()
        .map(|(probe, timeout_ms)| {
            let timeout = Duration::from_millis(timeout_ms);
            let spawned = std::thread::Builder::new().stack_size(CHECK_STACK).spawn({
                let probe = probe.clone();
                move || probe.run(timeout)
            });
            (probe, spawned)
        })
        .collect();
    handles
        .into_iter()
        .map(|(probe, spawned)| {
            spawned
                .ok()
                .and_then(|h| h.join().ok())
                .unwrap_or_else(|| Outcome {
                    status: crate::event::Status::Error,
                    reason: "worker".into(),
                    msg: format!("the check of {} could not be run", probe.target()),
                    elapsed_ms: 0,
                    stdout: None,
                    stderr: None,
                })
        })
        .collect()
}

/// Becomes `user` for good, or says why not.
fn become_user(user: &User) -> std::result::Result<(), String> {
    use nix::unistd::{getegid, geteuid, getgid, getuid, setgid, setgroups, setuid};
    let fail = |step: &str, e: nix::Error| {
        format!(
            "cannot drop privileges to {} ({step}: {e}); no check runs as root",
            user.name
        )
    };
    setgroups(&[]).map_err(|e| fail("setgroups", e))?;
    setgid(user.gid).map_err(|e| fail("setgid", e))?;
    setuid(user.uid).map_err(|e| fail("setuid", e))?;
    let regained = user.uid != Uid::from_raw(0)
        && (setuid(Uid::from_raw(0)).is_ok() || nix::unistd::seteuid(Uid::from_raw(0)).is_ok());
    let stuck = getuid() != user.uid
        || geteuid() != user.uid
        || getgid() != user.gid
        || getegid() != user.gid
        || nix::unistd::getgroups()
            .is_ok_and(|g| g.iter().any(|&g| g != user.gid && g == Gid::from_raw(0)));
    if regained || stuck {
        return Err(format!(
            "dropping privileges to {} did not hold; no check runs as root",
            user.name
        ));
    }
    let _ = nix::sys::prctl::set_no_new_privs();
    // SAFETY: the worker is single-threaded here; no check has started.
    unsafe {
        std::env::set_var("HOME", &user.dir);
        std::env::set_var("USER", &user.name);
        std::env::set_var("LOGNAME", &user.name);
    }
    Ok(())
}
