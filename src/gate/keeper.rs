//! The gate's way to sd-bark's outbox: every worker hands its event to
//! one keeper thread, which commits what has come together in one spool
//! transaction (one fsync for many pings) and publishes it, the same way
//! sd-bark does; a worker answers its client only once its event is
//! committed, so an `OK` is never a ping that a crash can lose (one that
//! could not be kept, the disk full and no broker, is answered 503 and
//! sent again by the client's retries). While
//! nothing comes, the keeper still sends the spool's backlog now and
//! then, so events held during a broker outage go out when it ends.

use crate::base::exit::Exit;
use crate::log::Place;
use crate::log::outbox::Outbox;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::thread::JoinHandle;
use std::time::Duration;

/// Events committed together at most.
const BATCH: usize = 1000;
/// How often the backlog is tried while no event comes.
const IDLE_PUBLISH: Duration = Duration::from_secs(1);

/// Told whether the event was kept (in the spool, or by the broker).
type Kept = SyncSender<bool>;

#[derive(Clone)]
pub struct Keeper {
    events: SyncSender<(String, Kept)>,
}

impl Keeper {
    pub fn start(place: Place, quiet: bool) -> (Keeper, JoinHandle<Exit>) {
        let (events, incoming) = mpsc::sync_channel(4 * BATCH);
        let thread = std::thread::spawn(move || keep(Outbox::open(place, quiet), &incoming));
        (Keeper { events }, thread)
    }

    /// Commits one event line: false if it could not be kept (the spool
    /// unwritable and no broker to take it) or the keeper has stopped.
    pub fn keep(&self, line: String) -> bool {
        let (kept, committed) = mpsc::sync_channel(1);
        self.events.send((line, kept)).is_ok() && committed.recv() == Ok(true)
    }
}

fn keep(mut outbox: Outbox, incoming: &Receiver<(String, Kept)>) -> Exit {
    loop {
        let first = match incoming.recv_timeout(IDLE_PUBLISH) {
            Ok(first) => first,
            Err(RecvTimeoutError::Timeout) => {
                outbox.publish_backlog();
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let mut lines = Vec::new();
        let mut waiting = Vec::new();
        for (line, kept) in std::iter::once(first).chain(incoming.try_iter().take(BATCH - 1)) {
            lines.push(line);
            waiting.push(kept);
        }
        let kept = outbox.commit(lines);
        for waiter in waiting {
            let _ = waiter.send(kept);
        }
    }
    outbox.finish()
}
