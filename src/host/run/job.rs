//! Running one job: its own process group (so a timeout or a forwarded
//! signal reaches everything it started), its output captured through
//! pipes, its end awaited with an optional timeout.
//!
//! One thread does it all with poll(2): the two output pipes and a
//! self-pipe that the signal handlers write to (SIGCHLD for the job's end,
//! SIGINT/SIGTERM/SIGHUP/SIGQUIT to forward). No helper threads, so
//! wrapping a job costs little more than starting it.

use crate::base::process::{Output, Pipe};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use signal_hook::SigId;
use signal_hook::consts::{SIGCHLD, SIGHUP, SIGINT, SIGQUIT, SIGTERM};
use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// After the job itself exited, how long processes it left behind may
/// keep its output pipes open before sd-run reports without them.
const DRAIN: Duration = Duration::from_secs(2);

/// Signals sent to sd-run that go on to the job's process group.
const FORWARDED: [i32; 4] = [SIGINT, SIGTERM, SIGHUP, SIGQUIT];

pub struct Job {
    pub argv: Vec<OsString>,
    pub timeout: Option<Duration>,
    /// Between SIGTERM and SIGKILL on a timeout.
    pub kill_after: Duration,
    pub max_output: usize,
    pub tee: bool,
}

/// How the job ended.
pub enum Ending {
    Exited(i32),
    Signaled(i32),
}

pub struct Finished {
    pub ending: Ending,
    pub timed_out: bool,
    pub elapsed: Duration,
    pub stdout: String,
    pub stderr: String,
}

pub enum Outcome {
    Finished(Finished),
    /// The job could not be started at all.
    NotStarted(io::Error),
}

impl Job {
    pub fn run(&self) -> io::Result<Outcome> {
        // Installed before the job exists, so a signal arriving during the
        // spawn is remembered and forwarded once there is a group to reach.
        let signals = SignalPipe::install()?;
        let started = Instant::now();
        let spawned = Command::new(&self.argv[0])
            .args(&self.argv[1..])
            .stdin(Stdio::inherit())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn();
        let mut child = match spawned {
            Ok(child) => child,
            Err(err) => return Ok(Outcome::NotStarted(err)),
        };
        let group = Pid::from_raw(child.id() as i32);
        let mut outputs = [
            Output::new(
                child.stdout.take().map(|p| Box::new(p) as Pipe),
                self.max_output,
            )?,
            Output::new(
                child.stderr.take().map(|p| Box::new(p) as Pipe),
                self.max_output,
            )?,
        ];
        let mut tee = self.tee.then(io::stderr);

        let timeout_at = self.timeout.map(|t| started + t);
        let mut kill_at = None;
        let mut timed_out = false;
        let mut ended: Option<(ExitStatus, Duration)> = None;
        let mut drain_until = None;
        loop {
            let now = Instant::now();
            if ended.is_none()
                && let Some(status) = child.try_wait()?
            {
                ended = Some((status, started.elapsed()));
                drain_until = Some(now + DRAIN);
            }
            if ended.is_some()
                && (outputs.iter().all(Output::is_closed) || drain_until.is_some_and(|d| now >= d))
            {
                break;
            }
            if ended.is_none() {
                if !timed_out && timeout_at.is_some_and(|t| now >= t) {
                    timed_out = true;
                    let _ = killpg(group, Signal::SIGTERM);
                    kill_at = Some(now + self.kill_after);
                }
                if kill_at.is_some_and(|k| now >= k) {
                    let _ = killpg(group, Signal::SIGKILL);
                    kill_at = None;
                }
            }

            let next = [timeout_at.filter(|_| !timed_out), kill_at, drain_until]
                .into_iter()
                .flatten()
                .min();
            let wait = match next {
                Some(at) => PollTimeout::try_from(at.saturating_duration_since(now))
                    .unwrap_or(PollTimeout::MAX),
                None => PollTimeout::NONE,
            };
            signals.wait(&outputs, wait)?;

            for output in outputs.iter_mut() {
                output.read_available(tee.as_mut().map(|t| t as &mut dyn Write));
            }
            for signal in signals.take_pending() {
                let _ = killpg(group, signal);
            }
        }
        signals.uninstall();

        let (status, elapsed) = ended.expect("the loop ends only once the job has ended");
        let ending = match (status.code(), status.signal()) {
            (Some(code), _) => Ending::Exited(code),
            (None, Some(signal)) => Ending::Signaled(signal),
            (None, None) => Ending::Exited(-1),
        };
        let [stdout, stderr] = outputs;
        Ok(Outcome::Finished(Finished {
            ending,
            timed_out,
            elapsed,
            stdout: stdout.into_text(),
            stderr: stderr.into_text(),
        }))
    }
}

/// The self-pipe trick: signal handlers write a byte to a socket that
/// poll(2) watches, and raise a flag saying which signal came.
struct SignalPipe {
    wake: UnixStream,
    flags: Vec<(Signal, Arc<AtomicBool>)>,
    ids: Vec<SigId>,
}

impl SignalPipe {
    fn install() -> io::Result<SignalPipe> {
        let (wake, writer) = UnixStream::pair()?;
        wake.set_nonblocking(true)?;
        writer.set_nonblocking(true)?;
        let mut ids = Vec::new();
        let mut flags = Vec::new();
        for raw in FORWARDED {
            let flag = Arc::new(AtomicBool::new(false));
            ids.push(signal_hook::flag::register(raw, Arc::clone(&flag))?);
            if let Ok(signal) = Signal::try_from(raw) {
                flags.push((signal, flag));
            }
        }
        for raw in FORWARDED.into_iter().chain([SIGCHLD]) {
            ids.push(signal_hook::low_level::pipe::register(
                raw,
                writer.try_clone()?,
            )?);
        }
        Ok(SignalPipe { wake, flags, ids })
    }

    /// Sleeps until output arrives, a signal comes, or `timeout` passes.
    fn wait(&self, outputs: &[Output], timeout: PollTimeout) -> io::Result<()> {
        let mut fds: Vec<PollFd> = outputs
            .iter()
            .filter_map(Output::fd)
            .map(|fd| PollFd::new(fd, PollFlags::POLLIN))
            .collect();
        fds.push(PollFd::new(self.fd(), PollFlags::POLLIN));
        match poll(&mut fds, timeout) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    fn fd(&self) -> BorrowedFd<'_> {
        self.wake.as_fd()
    }

    /// The signals to forward that arrived since the last call.
    fn take_pending(&self) -> Vec<Signal> {
        let mut sink = [0u8; 64];
        while matches!((&self.wake).read(&mut sink), Ok(n) if n > 0) {}
        self.flags
            .iter()
            .filter(|(_, flag)| flag.swap(false, Ordering::SeqCst))
            .map(|(signal, _)| *signal)
            .collect()
    }

    fn uninstall(self) {
        for id in self.ids {
            signal_hook::low_level::unregister(id);
        }
    }
}
