//! Running one job: its own process group (so a timeout or a forwarded
//! signal reaches everything it started), its output captured through
//! pipes by one thread each, its end awaited with an optional timeout.

use super::capture::{self, Capture};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};
use signal_hook::iterator::Signals;
use std::ffi::OsString;
use std::io;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// After the job itself exited, how long processes it left behind may
/// keep its output pipes open before sd-run reports without them.
const DRAIN: Duration = Duration::from_secs(2);

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
        // Registered before the job exists so a signal arriving during the
        // spawn is queued, then forwarded once there is a group to reach.
        let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP, SIGQUIT])?;
        let signal_handle = signals.handle();

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
            Err(err) => {
                signal_handle.close();
                return Ok(Outcome::NotStarted(err));
            }
        };
        let group = Pid::from_raw(child.id() as i32);

        let forwarder = thread::spawn(move || {
            for signal in signals.forever() {
                if let Ok(signal) = Signal::try_from(signal) {
                    let _ = killpg(group, signal);
                }
            }
        });

        let stdout = self.reader(
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn io::Read + Send>),
        );
        let stderr = self.reader(
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn io::Read + Send>),
        );

        let (exited_tx, exited) = mpsc::channel::<io::Result<ExitStatus>>();
        thread::spawn(move || {
            let _ = exited_tx.send(child.wait());
        });

        let mut timed_out = false;
        let status = match self.timeout {
            None => exited.recv().map_err(io::Error::other)??,
            Some(limit) => match exited.recv_timeout(limit) {
                Ok(status) => status?,
                Err(_) => {
                    timed_out = true;
                    let _ = killpg(group, Signal::SIGTERM);
                    match exited.recv_timeout(self.kill_after) {
                        Ok(status) => status?,
                        Err(_) => {
                            let _ = killpg(group, Signal::SIGKILL);
                            exited.recv().map_err(io::Error::other)??
                        }
                    }
                }
            },
        };
        let elapsed = started.elapsed();
        signal_handle.close();
        let _ = forwarder.join();

        let deadline = Instant::now() + DRAIN;
        let stdout = stdout.finish(deadline);
        let stderr = stderr.finish(deadline);
        let ending = match (status.code(), status.signal()) {
            (Some(code), _) => Ending::Exited(code),
            (None, Some(signal)) => Ending::Signaled(signal),
            (None, None) => Ending::Exited(-1),
        };
        Ok(Outcome::Finished(Finished {
            ending,
            timed_out,
            elapsed,
            stdout,
            stderr,
        }))
    }

    fn reader(&self, pipe: Option<Box<dyn io::Read + Send>>) -> Reader {
        let capture = Arc::new(Mutex::new(Capture::new(self.max_output)));
        let (done_tx, done) = mpsc::channel();
        if let Some(pipe) = pipe {
            let shared = Arc::clone(&capture);
            let tee = self.tee;
            thread::spawn(move || {
                let mut stderr = io::stderr();
                let sink = SharedCapture(shared);
                capture::copy(pipe, sink, tee.then_some(&mut stderr as &mut dyn io::Write));
                let _ = done_tx.send(());
            });
        }
        Reader { capture, done }
    }
}

struct Reader {
    capture: Arc<Mutex<Capture>>,
    done: mpsc::Receiver<()>,
}

impl Reader {
    /// The captured text, once the pipe closed or the deadline passed.
    fn finish(self, deadline: Instant) -> String {
        let _ = self
            .done
            .recv_timeout(deadline.saturating_duration_since(Instant::now()));
        let mut guard = self.capture.lock().unwrap_or_else(|e| e.into_inner());
        std::mem::replace(&mut *guard, Capture::new(0)).into_text()
    }
}

/// A capture the reading thread fills while the main thread may take it.
struct SharedCapture(Arc<Mutex<Capture>>);

impl capture::Sink for SharedCapture {
    fn push(&mut self, bytes: &[u8]) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(bytes);
    }
}
