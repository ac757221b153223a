//! sd-bark's way of never losing an event (docs/ARCHITECTURE.md §2): every batch is
//! committed to the local spool first; then, when a broker is configured,
//! whoever holds the publisher lock publishes the spool's backlog, oldest
//! first, until it is empty. A broker that is away delays events, never
//! loses them; a spool that cannot be written is bypassed by publishing
//! directly, and when that fails too the events go to stderr (so cron
//! mails them) and the exit status says so.
//!
//! A stream of batches ([`Outbox::streaming`]) is published on a thread
//! of its own while the next batch is committed, so the spool and Redis
//! work at once; the two threads take turns at writing to the spool, and
//! its checkpoints are made on a third.

mod publisher;

use crate::base::checkpoint::{Checkpoints, Gate};
use crate::base::cli;
use crate::base::exit::Exit;
use crate::log::Place;
use crate::log::spool::{FORWARD, Spool};
use publisher::{Publisher, Turns};
use std::sync::Arc;
use std::sync::mpsc::{self, SyncSender};
use std::thread::JoinHandle;

/// The spool's WAL restarts from the beginning at this size: each
/// restart holds the committing thread for two fsyncs, and a spool that
/// is emptied as fast as it fills writes its pages many times over (at
/// 16 MiB, as the store's, the restarts were a quarter of sd-bark's time).
const SPOOL_WAL_RESTART_AT_BYTES: i64 = 64 << 20;

pub struct Outbox {
    place: Place,
    quiet: bool,
    spool: Option<Spool>,
    spool_failed: bool,
    publishing: Publishing,
}

/// Where the publisher runs.
enum Publishing {
    /// Here, after each commit.
    Inline(Box<Publisher>),
    /// On its own thread, given each batch once it is committed.
    Thread(Background),
}

struct Background {
    batches: SyncSender<Work>,
    thread: JoinHandle<Publisher>,
    turns: Arc<Turns>,
    /// Checkpoints the spool's WAL on a thread of their own, told of each
    /// commit.
    checkpoints: Option<(SyncSender<()>, JoinHandle<()>)>,
}

/// What the publishing thread is given, in order.
enum Work {
    /// Committed to the spool; its last sequence number.
    Spooled(Vec<String>, i64),
    /// Not kept by the spool: publish it, or write it to stderr.
    Unspooled(Vec<String>),
}

impl Outbox {
    /// An outbox for a few events: published after each commit.
    pub fn open(place: Place, quiet: bool) -> Outbox {
        let publisher = Publisher::new(&place, quiet, None);
        Outbox::with(place, quiet, Publishing::Inline(Box::new(publisher)))
    }

    /// An outbox for a stream of batches: published on a thread of its
    /// own while the next batch is committed.
    pub fn streaming(place: Place, quiet: bool) -> Outbox {
        let mut outbox = Outbox::open(place, quiet);
        let Some(spool) = outbox
            .spool
            .as_ref()
            .filter(|_| outbox.place.broker().is_some())
        else {
            // Nothing to publish, or no spool to take turns at.
            return outbox;
        };
        // Checkpoints wait for the disk (two fsyncs each): on the
        // committing thread they were a third of sd-bark's time.
        let mut checkpoints = None;
        let mut turns = Turns::default();
        if let Some(db) = spool.checkpoint_elsewhere() {
            let gate = Gate::default();
            let mut log = Checkpoints::new("spool", db, gate.clone(), SPOOL_WAL_RESTART_AT_BYTES);
            let (commits, committed) = mpsc::sync_channel::<()>(64);
            let thread = std::thread::spawn(move || {
                while committed.recv().is_ok() {
                    log.after(1 + committed.try_iter().count());
                }
            });
            checkpoints = Some((commits, thread));
            turns.gate = Some(gate);
        }
        let checkpointed_elsewhere = checkpoints.is_some();
        let turns = Arc::new(turns);
        let mut publisher = Publisher::new(&outbox.place, outbox.quiet, Some(turns.clone()));
        // Two batches in hand at most: a broker slower than the spool
        // holds the reading back instead of filling memory.
        let (batches, work) = mpsc::sync_channel::<Work>(2);
        let thread = std::thread::spawn(move || {
            // Its own connection, to read back what waits and move the
            // cursor in its turn.
            let mut spool = match Spool::open(publisher.spool_path()) {
                Ok(spool) => {
                    if checkpointed_elsewhere {
                        // Its cursor moves are small, but a commit that
                        // happens to checkpoint waits for the disk.
                        spool.checkpoint_elsewhere();
                    }
                    Some(spool)
                }
                Err(err) => {
                    cli::note(format!("{err} (events stay in the spool)"));
                    None
                }
            };
            for work in work {
                match (work, spool.as_mut()) {
                    (Work::Spooled(lines, last), Some(spool)) => {
                        publisher.publish(spool, Some((&lines, last)));
                    }
                    (Work::Spooled(..), None) => {}
                    (Work::Unspooled(lines), _) => publisher.publish_directly(&lines),
                }
            }
            publisher
        });
        outbox.publishing = Publishing::Thread(Background {
            batches,
            thread,
            turns,
            checkpoints,
        });
        outbox
    }

    fn with(place: Place, quiet: bool, publishing: Publishing) -> Outbox {
        let mut outbox = Outbox {
            place,
            quiet,
            spool: None,
            spool_failed: false,
            publishing,
        };
        match Spool::open(outbox.place.spool()) {
            Ok(spool) => outbox.spool = Some(spool),
            Err(err) => outbox.spool_broken(&err),
        }
        outbox
    }

    fn spool_broken(&mut self, err: &crate::base::error::Error) {
        if !self.spool_failed {
            cli::note(format!(
                "{err} ({})",
                if self.place.broker().is_some() {
                    "publishing directly to the broker instead"
                } else {
                    "events will be written to stderr instead"
                }
            ));
        }
        self.spool_failed = true;
    }

    /// Keeps a batch: spool, then publish what is waiting. Whether it
    /// was kept, in the spool or by the broker (false: it went to stderr,
    /// or to a publishing thread that may not keep it either); a server
    /// that answers for it (sd-gate) tells its client to send it again.
    pub fn commit(&mut self, lines: Vec<String>) -> bool {
        if lines.is_empty() {
            return true;
        }
        let appended = {
            let _turn = match &self.publishing {
                Publishing::Thread(background) => Some(background.turns.take()),
                Publishing::Inline(_) => None,
            };
            self.spool.as_mut().map(|s| s.append(&lines))
        };
        let spooled = match appended {
            Some(Ok(last)) => Some(last),
            Some(Err(err)) => {
                self.spool_broken(&err);
                None
            }
            None => None,
        };
        match &mut self.publishing {
            Publishing::Inline(publisher) => match (spooled, self.spool.as_mut()) {
                (Some(last), Some(spool)) => {
                    publisher.publish(spool, Some((&lines, last)));
                    true
                }
                _ => {
                    let lost_before = publisher.lost_to_stderr;
                    publisher.publish_directly(&lines);
                    publisher.lost_to_stderr == lost_before
                }
            },
            Publishing::Thread(background) => {
                if let Some((commits, _)) = &background.checkpoints {
                    // Full: the checkpointer is busy and counts this one
                    // with the next.
                    let _ = commits.try_send(());
                }
                let kept = spooled.is_some();
                let work = match spooled {
                    Some(last) => Work::Spooled(lines, last),
                    None => Work::Unspooled(lines),
                };
                // A publisher that stopped leaves the events in the spool;
                // `finish` says what happened.
                let _ = background.batches.send(work);
                kept
            }
        }
    }

    /// Publishes the spool's backlog if a broker is configured and this
    /// process can take the publisher lock; another process holding it
    /// publishes until the outbox is empty, ours included.
    pub fn publish_backlog(&mut self) {
        if let (Publishing::Inline(publisher), Some(spool)) =
            (&mut self.publishing, self.spool.as_mut())
        {
            publisher.publish(spool, None);
        }
    }

    /// Sends `lines` once, as sd-bark would (spool, then the broker): for
    /// a command whose own events are few. The exit status of
    /// [`Outbox::finish`].
    pub fn send(place: Place, quiet: bool, lines: Vec<String>) -> Exit {
        let mut outbox = Outbox::open(place, quiet);
        outbox.commit(lines);
        outbox.finish()
    }

    /// The exit status this run deserves, after a last attempt to publish.
    pub fn finish(self) -> Exit {
        let Outbox {
            place,
            quiet,
            mut spool,
            publishing,
            ..
        } = self;
        let mut publisher = match publishing {
            Publishing::Inline(publisher) => *publisher,
            Publishing::Thread(background) => {
                drop(background.batches);
                let joined = background.thread.join();
                if let Some((commits, thread)) = background.checkpoints {
                    // The spool's connection checkpoints what is left
                    // when it closes.
                    drop(commits);
                    let _ = thread.join();
                }
                let Ok(mut publisher) = joined else {
                    cli::note(
                        "the publishing thread stopped unexpectedly; events stay in the spool",
                    );
                    return Exit::IoErr;
                };
                publisher.turns = None;
                // What others added to the spool meanwhile goes too.
                if let Some(spool) = spool.as_mut() {
                    publisher.publish(spool, None);
                }
                publisher
            }
        };
        if let Some(spool) = spool.as_mut() {
            publisher.last_try(spool);
        }
        if publisher.lost_to_stderr > 0 {
            return Exit::IoErr;
        }
        if let Some((err, announced)) = publisher.outage() {
            let waiting = spool
                .as_ref()
                .and_then(|s| s.backlog(FORWARD).ok())
                .unwrap_or(0);
            if !quiet {
                // The cause was said when it happened; say it once.
                let cause = if announced {
                    String::new()
                } else {
                    format!("{err}: ")
                };
                cli::note(format!(
                    "{cause}{waiting} event(s) wait in the spool {}; they go out the next time \
                     sd-bark runs (or run `sd-bark --flush`)",
                    place.spool().display()
                ));
            }
            // A setting that is wrong (a key file that cannot be read) is
            // the admin's to fix, not an outage to wait out.
            return if err.exit == Exit::Usage {
                Exit::Usage
            } else {
                Exit::Unavailable
            };
        }
        if publisher.local_failure {
            Exit::IoErr
        } else {
            Exit::Ok
        }
    }
}
