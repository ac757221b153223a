//! Running a child process to its end without a shell: its output read
//! while it runs (a child that prints more than a pipe holds never blocks
//! on a parent that only waits), kept bounded (head and tail), and a
//! timeout that kills its whole process group.
//!
//! sd-run's job loop (run/job.rs) adds signal forwarding on top of the
//! same [`Output`]; sd-heartbeat's restarts, status questions and exec
//! checks use [`run`] as it is, sd-obey's actions [`run_action`].
//!
//! A child never outlives the process that runs it by accident: it gets
//! SIGKILL when its parent dies (`PR_SET_PDEATHSIG`), so a killed sd-obey
//! leaves no action running past its timeout. What the child itself put
//! in the background is in its process group: for an action that group
//! is killed as the action ends; for a whole service under systemd, the
//! unit's control group (KillMode=control-group, the default) ends the
//! rest when the service dies.

pub mod capture;

/// Has the child started by `command` get SIGKILL when this process (the
/// thread that starts it) dies, even before the child's first line runs.
pub fn dies_with_parent(command: &mut Command) {
    let parent = nix::unistd::getpid();
    // SAFETY: between fork and exec only async-signal-safe calls: prctl,
    // getppid and _exit.
    unsafe {
        command.pre_exec(move || {
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)?;
            // The parent may have died before the line above.
            if nix::unistd::getppid() != parent {
                nix::libc::_exit(1);
            }
            Ok(())
        });
    }
}

pub use capture::Capture;

use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// After the child itself exited, how long processes it left behind may
/// keep its output pipes open before it is reported without them.
pub const DRAIN: Duration = Duration::from_secs(2);

/// How a child ended.
#[derive(Debug)]
pub struct Finished {
    /// None when it was killed at the timeout.
    pub status: Option<ExitStatus>,
    pub timed_out: bool,
    pub elapsed: Duration,
    pub stdout: String,
    pub stderr: String,
}

/// The event reason for a command that could not start: `not-found`, or
/// `cannot-run` (permission denied, not executable …).
pub fn reason_not_started(err: &io::Error) -> &'static str {
    if err.kind() == io::ErrorKind::NotFound {
        "not-found"
    } else {
        "cannot-run"
    }
}

/// Runs `cmd` (no shell) in a process group of its own, stdin from
/// /dev/null, keeping at most `max_output` bytes of each output stream;
/// at `timeout` the group is killed. An error means it could not start.
pub fn run(cmd: &[String], timeout: Duration, max_output: usize) -> io::Result<Finished> {
    run_as(cmd, timeout, max_output, None, Leftovers::Stay)
}

/// An order's action: as [`run`], as another user (uid, gid) when given
/// (started as root, the child drops its supplementary groups, then its
/// group, then its user, before it runs anything); whatever it left
/// running in its process group (`sh -c 'sleep 30 &'`) is killed as it
/// ends, so nothing an order started outlives its event.
pub fn run_action(
    cmd: &[String],
    timeout: Duration,
    max_output: usize,
    identity: Option<(u32, u32)>,
) -> io::Result<Finished> {
    run_as(cmd, timeout, max_output, identity, Leftovers::Killed)
}

/// What becomes of processes a child leaves in its group when it ends.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Leftovers {
    Stay,
    Killed,
}

fn run_as(
    cmd: &[String],
    timeout: Duration,
    max_output: usize,
    identity: Option<(u32, u32)>,
    leftovers: Leftovers,
) -> io::Result<Finished> {
    let Some((program, args)) = cmd.split_first() else {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "no command"));
    };
    let started = Instant::now();
    let mut command = Command::new(program);
    if let Some((uid, gid)) = identity {
        // std calls setgroups([]) before setgid and setuid when it is root.
        command.uid(uid).gid(gid);
    }
    // Run after the user change (which would clear the death signal).
    dies_with_parent(&mut command);
    let mut child = command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()?;
    let group = Pid::from_raw(child.id() as i32);
    let mut outputs = [
        Output::new(child.stdout.take().map(|p| Box::new(p) as Pipe), max_output)?,
        Output::new(child.stderr.take().map(|p| Box::new(p) as Pipe), max_output)?,
    ];
    let deadline = started + timeout;
    let mut timed_out = false;
    let mut ended: Option<(Option<ExitStatus>, Duration)> = None;
    let mut drain_until = None;
    let mut idle_tick = Duration::from_millis(1);
    loop {
        let now = Instant::now();
        if ended.is_none() {
            if let Some(status) = child.try_wait()? {
                ended = Some((Some(status), started.elapsed()));
                drain_until = Some(now + DRAIN);
                if leftovers == Leftovers::Killed {
                    let _ = killpg(group, Signal::SIGKILL);
                }
            } else if now >= deadline {
                let _ = killpg(group, Signal::SIGKILL);
                let _ = child.wait();
                timed_out = true;
                ended = Some((None, started.elapsed()));
                drain_until = Some(now + DRAIN);
            }
        }
        if ended.is_some()
            && (outputs.iter().all(Output::is_closed) || drain_until.is_some_and(|d| now >= d))
        {
            break;
        }
        // The child's end is noticed by polling its status: a short tick
        // rather than a SIGCHLD handler, which would be process-wide. Once
        // its pipes are closed it is about to end, so the tick starts at a
        // millisecond and grows: a quick command costs no 20 ms wait
        // (bench/BENCHMARKS.md, orders).
        let until = drain_until.unwrap_or(deadline);
        let tick = if outputs.iter().all(Output::is_closed) {
            let tick = idle_tick;
            idle_tick = (idle_tick * 2).min(Duration::from_millis(20));
            tick
        } else {
            Duration::from_millis(20)
        };
        let wait = until.saturating_duration_since(now).min(tick);
        let mut fds: Vec<PollFd> = outputs
            .iter()
            .filter_map(Output::fd)
            .map(|fd| PollFd::new(fd, PollFlags::POLLIN))
            .collect();
        match poll(
            &mut fds,
            PollTimeout::try_from(wait).unwrap_or(PollTimeout::MAX),
        ) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
        drop(fds);
        for output in outputs.iter_mut() {
            output.read_available(None);
        }
    }
    let (status, elapsed) = ended.expect("the loop ends only once the child has ended");
    let [stdout, stderr] = outputs;
    Ok(Finished {
        status,
        timed_out,
        elapsed,
        stdout: stdout.into_text(),
        stderr: stderr.into_text(),
    })
}

pub type Pipe = Box<dyn ReadFd>;

pub trait ReadFd: Read + AsFd {}
impl<T: Read + AsFd> ReadFd for T {}

/// One of a child's output pipes and what was kept of it.
pub struct Output {
    pipe: Option<Pipe>,
    capture: Capture,
}

impl Output {
    pub fn new(pipe: Option<Pipe>, limit: usize) -> io::Result<Output> {
        if let Some(pipe) = &pipe {
            let flags = fcntl(pipe.as_fd(), FcntlArg::F_GETFL)?;
            let flags = OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK;
            fcntl(pipe.as_fd(), FcntlArg::F_SETFL(flags))?;
        }
        Ok(Output {
            pipe,
            capture: Capture::new(limit),
        })
    }

    pub fn is_closed(&self) -> bool {
        self.pipe.is_none()
    }

    /// The pipe to wait on, while it is open.
    pub fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.pipe.as_ref().map(|p| p.as_fd())
    }

    /// What was kept, as text.
    pub fn into_text(self) -> String {
        self.capture.into_text()
    }

    /// Reads whatever is there without blocking; closes at end of file.
    pub fn read_available(&mut self, mut tee: Option<&mut dyn Write>) {
        let Some(pipe) = self.pipe.as_mut() else {
            return;
        };
        let mut buf = [0u8; 64 * 1024];
        loop {
            match pipe.read(&mut buf) {
                Ok(0) => {
                    self.pipe = None;
                    return;
                }
                Ok(n) => {
                    self.capture.push(&buf[..n]);
                    if let Some(out) = tee.as_mut() {
                        // A closed stderr must not stop the capture.
                        let _ = out.write_all(&buf[..n]).and_then(|_| out.flush());
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(_) => {
                    self.pipe = None;
                    return;
                }
            }
        }
    }
}
