//! The handler protocol (docs/ARCHITECTURE.md §2): sd-recv writes events to the
//! handler's stdin from one thread and reads its stdout from another; an
//! event is acknowledged once the handler echoes its `id` (the event's
//! line, or any JSON object with that id). At most `window` events are in
//! flight. A handler that dies is started again with backoff and gets again
//! what it had not echoed; an event delivered `max_deliveries` times without
//! an echo goes to the dead letters.
//!
//! A handler that dies with several events in flight does not say which
//! one killed it: none of them is counted, and they are sent again one at
//! a time, each waiting for the echo of the one before, until the one it
//! dies on is alone — only that one uses up a delivery. A crash on one
//! host's event is never a reason to dead-letter another host's.

use super::source::{Delivery, Received, Source};
use crate::base::backoff::Backoff;
use crate::base::cli;
use crate::base::error::{Error, Result};
use crate::base::exit::Exit;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread;
use std::time::{Duration, Instant};

pub struct Options {
    pub argv: Vec<String>,
    pub window: usize,
    pub max_deliveries: u64,
    pub count: Option<u64>,
    pub once: bool,
    pub block: Duration,
}

enum FromHandler {
    Echo(String),
    /// The stdout of the handler started as this generation closed: it
    /// exited or is about to. (An earlier handler's news must not be
    /// taken for the running one's.)
    Closed(u64),
}

/// An event sent to the handler and not yet echoed.
struct InFlight {
    /// Entries carrying this id (a duplicate publish is one event).
    entries: Vec<String>,
    /// Shared with the thread writing to the handler, not copied.
    line: Arc<String>,
    deliveries: u64,
    sent_order: u64,
    /// Held back after a crash, to be sent alone (see the module's doc).
    held: bool,
}

struct Running {
    child: Child,
    to_handler: Option<Sender<Arc<String>>>,
    generation: u64,
}

pub fn run(source: &mut dyn Source, options: &Options, stop: &Arc<AtomicBool>) -> Result<Exit> {
    let (echo_tx, echo_rx) = mpsc::channel::<FromHandler>();
    let mut handler = start(&options.argv, &echo_tx, 0)?;
    let mut in_flight: HashMap<String, InFlight> = HashMap::new();
    let mut order = 0u64;
    let mut received = 0u64;
    let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(10));
    let mut draining = false;
    let mut said_stopping = false;
    // Set by a crash with several events in flight (`resend`), until the
    // held are through: only then is the window looked through for them,
    // not at every turn of the loop.
    let mut isolating = false;
    loop {
        let stopping = stop.load(Ordering::SeqCst);
        if stopping && !said_stopping {
            said_stopping = true;
            cli::note(format!(
                "stopping: finishing the {} event(s) in flight",
                in_flight.len()
            ));
        }
        // After a crash, suspects go one at a time, and nothing new comes
        // in until they are through.
        let mut handler_busy = !in_flight.is_empty();
        if isolating {
            isolating = in_flight.values().any(|f| f.held);
            handler_busy = in_flight.values().any(|f| !f.held);
            if isolating && !stopping && !handler_busy {
                send_next_suspect(&mut handler, &mut in_flight);
                handler_busy = true;
            }
        }
        let done_receiving =
            stopping || draining || isolating || options.count.is_some_and(|n| received >= n);
        // Stopping, the held are left pending: the next sd-recv gets them.
        if done_receiving && !handler_busy && (stopping || !isolating) {
            break;
        }
        // Take more while there is room in the window.
        if !done_receiving && in_flight.len() < options.window {
            let room = options.window - in_flight.len();
            let room = options
                .count
                .map_or(room, |n| room.min((n - received) as usize));
            let block = if in_flight.is_empty() {
                options.block
            } else {
                Duration::from_millis(5)
            };
            let batch = source.receive(room, block)?;
            if batch.is_empty() && options.once && in_flight.is_empty() {
                draining = true;
            }
            for item in batch {
                match item {
                    Received::Bad(bad) => {
                        super::source::set_aside(source, &bad)?;
                    }
                    Received::Event(delivery) => {
                        received += 1;
                        admit(
                            source,
                            &mut handler,
                            &mut in_flight,
                            &mut order,
                            delivery,
                            options,
                        )?;
                    }
                }
            }
        }
        // Acknowledge what came back.
        let wait = if in_flight.len() >= options.window || done_receiving {
            Duration::from_millis(100)
        } else {
            Duration::ZERO
        };
        let (acked, closed) = collect_echoes(&echo_rx, &mut in_flight, wait);
        let closed = closed.contains(&handler.generation);
        if !acked.is_empty() {
            source.ack(&acked)?;
            backoff.reset();
        }
        source.housekeeping();
        if closed || handler.child.try_wait().ok().flatten().is_some() {
            let status = reap(&mut handler.child);
            // Whatever it echoed before dying still counts.
            let (late, _) = collect_echoes(&echo_rx, &mut in_flight, Duration::from_millis(50));
            source.ack(&late)?;
            if done_receiving && in_flight.is_empty() {
                break;
            }
            if stop.load(Ordering::SeqCst) {
                // Told to stop (a service manager may signal the handler
                // too): not started again; what it did not finish is
                // delivered again to the next sd-recv.
                cli::note(format!(
                    "handler {} exited while stopping; {} event(s) it had not finished will be delivered again",
                    options.argv[0],
                    in_flight.len()
                ));
                break;
            }
            cli::note(format!(
                "handler {} exited ({}); starting it again in {} ms with the {} event(s) it had not finished",
                options.argv[0],
                status.map_or("unknown status".into(), |s| s.to_string()),
                backoff.peek().as_millis(),
                in_flight.len()
            ));
            backoff.sleep();
            handler = start(&options.argv, &echo_tx, handler.generation + 1)?;
            let temporary = status.and_then(|s| s.code()).is_some_and(|code| {
                [Exit::TempFail, Exit::IoErr]
                    .iter()
                    .any(|e| code == i32::from(e.code()))
            });
            isolating |= resend(source, &mut handler, &mut in_flight, options, temporary)?;
        }
    }
    // Let the handler see the end of its input and finish.
    handler.to_handler = None;
    let _ = handler.child.wait();
    source.finish();
    Ok(Exit::Ok)
}

/// Waits for a handler whose stdout closed; one that lingers without it
/// is of no use and is killed.
fn reap(child: &mut Child) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    child.wait().ok()
}

/// Echoes that arrive within `wait` (returning as soon as some came): the
/// entries they acknowledge, and the generations whose stdout closed.
fn collect_echoes(
    echoes: &Receiver<FromHandler>,
    in_flight: &mut HashMap<String, InFlight>,
    wait: Duration,
) -> (Vec<String>, Vec<u64>) {
    let mut acked = Vec::new();
    let mut closed = Vec::new();
    let deadline = Instant::now() + wait;
    let mut take = |message: FromHandler, acked: &mut Vec<String>| match message {
        FromHandler::Echo(id) => {
            if let Some(done) = in_flight.remove(&id) {
                acked.extend(done.entries);
            }
        }
        FromHandler::Closed(generation) => closed.push(generation),
    };
    while let Ok(message) = echoes.recv_timeout(deadline.saturating_duration_since(Instant::now()))
    {
        take(message, &mut acked);
        if !acked.is_empty() {
            // Take everything already waiting, but wait no longer.
            while let Ok(more) = echoes.try_recv() {
                take(more, &mut acked);
            }
            break;
        }
    }
    (acked, closed)
}

fn admit(
    source: &mut dyn Source,
    handler: &mut Running,
    in_flight: &mut HashMap<String, InFlight>,
    order: &mut u64,
    delivery: Delivery,
    options: &Options,
) -> Result<()> {
    if let Some(existing) = in_flight.get_mut(&delivery.id) {
        // The same event again (republished, or reclaimed from ourselves):
        // one echo acknowledges both.
        if !existing.entries.contains(&delivery.entry) {
            existing.entries.push(delivery.entry);
        }
        return Ok(());
    }
    if delivery.deliveries > options.max_deliveries {
        return dead(
            source,
            &delivery.entry,
            &delivery.line,
            delivery.deliveries - 1,
        );
    }
    *order += 1;
    let line = Arc::new(delivery.line);
    send(handler, &line);
    in_flight.insert(
        delivery.id,
        InFlight {
            entries: vec![delivery.entry],
            line,
            deliveries: delivery.deliveries,
            sent_order: *order,
            held: false,
        },
    );
    Ok(())
}

/// Sends a restarted handler what the last one had not finished. A
/// handler that exited 75 (`EX_TEMPFAIL`: its mail server or channel is
/// away) or 74 (`EX_IOERR`: its disk is full, its store unwritable) has
/// nothing against the events: it does not use up their deliveries, it is
/// waited for with backoff, and the events stay.
fn resend(
    source: &mut dyn Source,
    handler: &mut Running,
    in_flight: &mut HashMap<String, InFlight>,
    options: &Options,
    temporary: bool,
) -> Result<bool> {
    // The events the dead handler had been given (the held ones it never
    // saw); with several, none is known to have killed it: all are held,
    // and go again one at a time. Whether it began holding them.
    let given = in_flight.values().filter(|f| !f.held).count();
    if !temporary && given > 1 {
        for flight in in_flight.values_mut() {
            flight.held = true;
        }
        send_next_suspect(handler, in_flight);
        return Ok(true);
    }
    let mut again: Vec<(&String, &mut InFlight)> =
        in_flight.iter_mut().filter(|(_, f)| !f.held).collect();
    again.sort_by_key(|(_, f)| f.sent_order);
    let mut dead_ids = Vec::new();
    for (id, flight) in again {
        if !temporary {
            flight.deliveries += 1;
        }
        if flight.deliveries > options.max_deliveries {
            dead_ids.push(id.clone());
        } else {
            send(handler, &flight.line);
        }
    }
    for id in dead_ids {
        if let Some(flight) = in_flight.remove(&id) {
            for entry in &flight.entries {
                dead(source, entry, &flight.line, flight.deliveries - 1)?;
            }
        }
    }
    Ok(false)
}

/// Sends the oldest held event, alone.
fn send_next_suspect(handler: &mut Running, in_flight: &mut HashMap<String, InFlight>) {
    if let Some(next) = in_flight
        .values_mut()
        .filter(|f| f.held)
        .min_by_key(|f| f.sent_order)
    {
        next.held = false;
        send(handler, &next.line);
    }
}

fn dead(source: &mut dyn Source, entry: &str, line: &str, deliveries: u64) -> Result<()> {
    let reason = format!("not echoed by the handler after {deliveries} deliveries");
    cli::note(format!(
        "entry {entry}: {reason} (moved to the dead letters)"
    ));
    source.dead_letter(entry, line, &reason)
}

fn send(handler: &mut Running, line: &Arc<String>) {
    if let Some(tx) = &handler.to_handler {
        // A handler that died is noticed through its stdout closing.
        let _ = tx.send(Arc::clone(line));
    }
}

fn start(argv: &[String], echoes: &Sender<FromHandler>, generation: u64) -> Result<Running> {
    // Its own process group: Ctrl-C in a terminal reaches sd-recv, which
    // stops reading and closes the handler's input, rather than killing
    // the handler with events in flight. But it dies with its receiver:
    // a handler left behind would finish its work for a receiver that is
    // gone — sd-mail under a lease would tell what it had queued without
    // the lease, while the standby tells it too. Whatever it had not
    // finished is pending in the group for the next receiver.
    let mut command = Command::new(&argv[0]);
    crate::base::process::dies_with_parent(&mut command);
    let mut child = command
        .args(&argv[1..])
        .process_group(0)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| {
            Error::new(
                Exit::Usage,
                format!(
                    "starting handler {}: {}",
                    argv[0],
                    crate::base::error::describe_io(&e)
                ),
            )
        })?;
    let stdin = child.stdin.take().expect("piped");
    let stdout = child.stdout.take().expect("piped");
    widen_pipe(&stdin);
    widen_pipe(&stdout);
    let (tx, rx) = mpsc::channel::<Arc<String>>();
    thread::spawn(move || write_events(stdin, rx));
    let echoes = echoes.clone();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            match echoed_id(&line) {
                Some(id) => {
                    if echoes.send(FromHandler::Echo(id)).is_err() {
                        return;
                    }
                }
                None => cli::warn(format!(
                    "the handler printed a line with no event id; ignored: {}",
                    short(&line)
                )),
            }
        }
        let _ = echoes.send(FromHandler::Closed(generation));
    });
    Ok(Running {
        child,
        to_handler: Some(tx),
        generation,
    })
}

/// Pipes of 1 MiB instead of 64 KiB: each event crosses two of them (to
/// the handler and echoed back), and under load a larger pipe means
/// fewer system calls and fewer wake-ups of either side. Best effort:
/// the default works, only slower.
fn widen_pipe(pipe: &impl std::os::fd::AsFd) {
    let _ = nix::fcntl::fcntl(pipe, nix::fcntl::FcntlArg::F_SETPIPE_SZ(1 << 20));
}

/// Writes events to the handler, flushing whenever no more are waiting.
fn write_events(stdin: ChildStdin, lines: Receiver<Arc<String>>) {
    let mut out = std::io::BufWriter::with_capacity(256 * 1024, stdin);
    while let Ok(line) = lines.recv() {
        if writeln!(out, "{line}").is_err() {
            return;
        }
        while let Ok(more) = lines.try_recv() {
            if writeln!(out, "{more}").is_err() {
                return;
            }
        }
        if out.flush().is_err() {
            return;
        }
    }
}

/// The `id` of a JSON object line, which is what an echo is.
fn echoed_id(line: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct WithId {
        id: String,
    }
    serde_json::from_str::<WithId>(line).ok().map(|w| w.id)
}

fn short(line: &str) -> &str {
    crate::base::size::prefix(line, 80)
}
