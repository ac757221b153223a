//! What sd-mail does with events once its flags are read: the
//! [`Decider`] decides, inside each batch's transaction, which events call for a mail
//! (the [`policy`](super::policy) over the [`state`](super::state)), and
//! the [`Mailer`] sends what is due — grouped, retried with backoff,
//! digested — and echoes each event once it is done with.

use super::channels::{Channel, Notification};
use super::message;
use super::policy::{Decision, Incoming, Notice, Policy, Quiet, TagState};
use super::routes::{Routes, Targets};
use super::state::{self, Item, State};
use super::transport::{Failure, Transport};
use crate::base::backoff::Backoff;
use crate::base::error::{Error, Result};
use crate::base::exit::Exit;
use crate::base::{cli, time};
use crate::event::batch::Batches;
use crate::event::{Event, Status};
use crate::server::maintenance;
use lettre::Message;
use lettre::message::{Mailbox, header::ContentType};
use std::io::{self, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub(super) struct Envelope {
    pub(super) from: Mailbox,
    pub(super) to: Vec<Mailbox>,
    pub(super) host: String,
}

pub(super) struct Mailer {
    pub(super) state: State,
    pub(super) path: PathBuf,
    pub(super) transport: Transport,
    pub(super) envelope: Envelope,
    pub(super) decider: Decider,
    pub(super) digest_ms: Option<i64>,
    pub(super) retries: u32,
    pub(super) echo: Option<io::BufWriter<io::Stdout>>,
    /// Wall-clock time (ms) of the next mail or digest due.
    pub(super) next_due: Option<i64>,
    pub(super) quiet: bool,
    /// The rule file's `suppress`, when it has one.
    pub(super) suppression: Option<super::suppress::Suppression>,
    /// Whether notifications are mailed (there is someone to mail).
    pub(super) mail: bool,
    /// The other ways they are told.
    pub(super) channels: Vec<Channel>,
    /// Who hears what.
    pub(super) routes: Routes,
    /// With --echo: how sd-mail sends events of its own (as sd-bark).
    pub(super) events: Option<crate::config::Settings>,
    /// With --record: each notification told is recorded as an event.
    pub(super) record: bool,
}

/// Mail's name among the channels, in the state file.
const MAIL: &str = "mail";

impl Mailer {
    fn echo(&mut self, lines: &[String]) -> Result<()> {
        if let Some(out) = &mut self.echo {
            for line in lines {
                writeln!(out, "{line}").map_err(cli::stdout_error)?;
            }
            out.flush().map_err(cli::stdout_error)?;
        }
        Ok(())
    }

    /// Works out when to wake next: the first mail due, or the digest.
    pub(super) fn plan(&mut self) -> Result<()> {
        let mail = self.state.next_due()?;
        let digest = match self.digest_ms {
            Some(period) => Some(match self.state.meta("digest_sent_ms")? {
                Some(sent) => sent + period,
                None => {
                    // The first period starts now.
                    let now = time::now_ms();
                    self.state.set_meta("digest_sent_ms", now)?;
                    now + period
                }
            }),
            None => None,
        };
        let window_end = self.state.next_window_end()?;
        self.next_due = [mail, digest, window_end].into_iter().flatten().min();
        Ok(())
    }

    /// Sends every mail of the outbox due by `until_ms`, oldest first,
    /// and the digest when its period is over.
    pub(super) fn send_due(&mut self, until_ms: i64) -> Result<()> {
        let now = time::now_ms();
        let mut down = Vec::new();
        // What the suppress rules hold, asked of the store once per round
        // of sending, not once per mail.
        let mut suppressed = None;
        for (mail, due, items) in self.state.outbox()? {
            if due > until_ms {
                break;
            }
            let (mailed, held) = self.hold_back(items, &mut suppressed)?;
            if !mailed.is_empty() {
                // One notification per route the group's items take.
                let mut done = true;
                for (targets, told) in self.route(&mailed) {
                    let rules = self.suppression.as_ref().map_or("", |s| s.origin());
                    let text = message::notification(&told, &held, rules, now);
                    done &=
                        self.tell_everywhere(mail, &targets, (&told, &held), &text, &mut down)?;
                }
                if !done {
                    continue;
                }
            } else if !self.quiet {
                let names: Vec<String> = held
                    .iter()
                    .map(|i| format!("{} on {}", i.tag, i.host))
                    .collect();
                cli::note(format!(
                    "held back by suppress rules: {}",
                    message::one_line(&names.join(", "))
                ));
            }
            // A problem held stays held until its recovery (held too); one
            // told about is held no more.
            for item in &held {
                self.state
                    .set_held(&item.host, &item.tag, item.notice != Notice::Recovery)?;
            }
            if self.suppression.is_some() {
                for item in mailed.iter().filter(|i| i.notice != Notice::Recovery) {
                    self.state.set_held(&item.host, &item.tag, false)?;
                }
            }
            self.state.sent(mail)?;
            // After the telling, never before: a voice that dies between
            // the two is followed by one that says it once more, rather
            // than by one that believes it said what never went.
            let told: Vec<Item> = mailed.into_iter().chain(held).collect();
            self.record_told(&told)?;
        }
        if let Some(failure) = down.into_iter().reduce(|mut all, next| {
            all.message = format!("{}; {}", all.message, next.message);
            all
        }) {
            return Err(self.kept(failure));
        }
        if let Some(period) = self.digest_ms.filter(|_| self.mail) {
            let sent = self.state.meta("digest_sent_ms")?.unwrap_or(now);
            if now >= sent + period {
                let diary = self.state.diary()?;
                if !diary.counts.is_empty() {
                    self.deliver(&message::digest(&diary, sent, now))?;
                }
                self.state.clear_diary(now)?;
            }
        }
        Ok(())
    }

    /// With --record: the state after each notification told, as an
    /// event through the spool to the broker ([`history`](super::history)).
    fn record_told(&mut self, items: &[Item]) -> Result<()> {
        if !self.record || self.events.is_none() {
            return Ok(());
        }
        let held: Vec<bool> = items
            .iter()
            .map(|i| self.state.was_held(&i.host, &i.tag))
            .collect::<Result<_>>()?;
        let tx = self.state.transaction()?;
        let mut lines = Vec::new();
        for (item, held) in items.iter().zip(held) {
            if let Some(state) = tx.tag_state(&item.host, &item.tag)? {
                lines.push(super::history::record(
                    &self.envelope.host,
                    super::history::TOLD,
                    item,
                    &state,
                    Some(held),
                ));
            }
        }
        tx.commit(time::now_ms())?;
        self.publish(lines).map_err(|failed| {
            Error::new(
                failed,
                "what was just told is recorded in the spool, not yet in the broker; \
                 stopping so that nothing more is told unrecorded (the record goes out \
                 with the next run)",
            )
        })
    }

    /// With --record, what an earlier run left in the spool goes out before
    /// anything is told or decided: a voice that stopped because a record
    /// could not reach the broker tells nothing more until it has.
    pub(super) fn send_waiting_records(&self) -> Result<()> {
        let Some(settings) = self.events.as_ref().filter(|_| self.record) else {
            return Ok(());
        };
        let mut outbox = crate::log::outbox::Outbox::open(settings.log(), settings.quiet);
        outbox.publish_backlog();
        match outbox.finish() {
            Exit::Ok => Ok(()),
            failed => Err(Error::new(
                failed,
                "records of what an earlier run told or decided wait in the spool and cannot \
                 reach the broker; nothing is told until they have",
            )),
        }
    }

    /// Events of sd-mail's own through the spool to the broker, as sd-bark
    /// sends them (stdout carries the echo). A record that did not reach
    /// the broker is one the other server cannot read: the caller stops
    /// rather than go on as if it had (its exit status is the error).
    fn publish(&self, lines: Vec<String>) -> std::result::Result<(), Exit> {
        let Some(settings) = &self.events else {
            return Ok(());
        };
        match crate::log::outbox::Outbox::send(settings.log(), settings.quiet, lines) {
            Exit::Ok => Ok(()),
            failed => Err(failed),
        }
    }

    /// An `error` event saying a channel refused a notification for good:
    /// on stdout for `| sd-bark`, or, when stdout carries the echo (sd-recv
    /// would take it for an acknowledgement), through the spool.
    fn undeliverable(&mut self, channel: &str, failure: &Failure, subject: &str) -> Result<()> {
        let mut event = Event::report(
            &self.envelope.host,
            "sd-mail",
            "notify",
            crate::event::Status::Error,
        );
        event.set("reason", "undeliverable");
        event.set("channel", channel);
        event.set(
            "msg",
            format!(
                "{}; not told there: {}",
                failure.message,
                message::one_line(subject)
            ),
        );
        event.stamp(&self.envelope.host);
        let line = event.to_line();
        if let Some(settings) = &self.events {
            // Stdout carries the echo: the event goes out as sd-bark would
            // send it, through the spool to the broker.
            cli::warn(format!("{}; said as an error event", failure.message));
            crate::log::outbox::Outbox::send(settings.log(), settings.quiet, vec![line]);
        } else {
            let mut out = io::stdout().lock();
            writeln!(out, "{line}").map_err(cli::stdout_error)?;
            out.flush().map_err(cli::stdout_error)?;
        }
        Ok(())
    }

    /// The group's notifications by where they go ([`Routes`]); an
    /// address an event asked for that no route allows is said, not used.
    fn route(&self, items: &[Item]) -> Vec<(Targets, Vec<Item>)> {
        let mut by_targets: Vec<(Targets, Vec<Item>)> = Vec::new();
        for item in items {
            let event = message::fields(&item.line);
            let (targets, refused) = self.routes.targets(&event);
            if !refused.is_empty() && !self.quiet {
                cli::warn(format!(
                    "{} on {}: notify_to {} allowed by no route's allow_event_recipients; not told",
                    message::one_line(&item.tag),
                    message::one_line(&item.host),
                    message::one_line(&refused.join(", "))
                ));
            }
            match by_targets.iter_mut().find(|(t, _)| *t == targets) {
                Some((_, list)) => list.push(item.clone()),
                None => by_targets.push((targets, vec![item.clone()])),
            }
        }
        by_targets
    }

    /// Splits a mail's notifications into those to send and those a
    /// suppress rule holds back (and the recoveries of those held).
    fn hold_back(
        &mut self,
        items: Vec<Item>,
        suppressed: &mut Option<std::collections::HashSet<(String, String)>>,
    ) -> Result<(Vec<Item>, Vec<Item>)> {
        let Some(suppression) = &mut self.suppression else {
            return Ok((items, Vec::new()));
        };
        let suppressed = suppressed.get_or_insert_with(|| suppression.held());
        let (mut mailed, mut held) = (Vec::new(), Vec::new());
        for item in items {
            let hold = match item.notice {
                Notice::Recovery => self.state.was_held(&item.host, &item.tag)?,
                _ => suppressed.contains(&(item.host.clone(), item.tag.clone())),
            };
            if hold {
                held.push(item);
            } else {
                mailed.push(item);
            }
        }
        Ok((mailed, held))
    }

    /// Hands one mail to the transport, retrying with backoff; the error
    /// says the mail is kept.
    fn deliver(&mut self, mail: &message::Mail) -> Result<()> {
        let to = self.envelope.to.clone();
        self.mail_once(mail, &to)
            .map_err(|failure| self.kept(failure))
    }

    /// The mail to the transport (or the preview), retried with backoff.
    fn mail_once(&self, mail: &message::Mail, to: &[Mailbox]) -> Result<(), Failure> {
        if let Transport::DryRun { to_stderr } = self.transport {
            return self.preview(mail, to, to_stderr).map_err(|e| Failure {
                retry: false,
                message: e.message,
            });
        }
        let message = self.build(mail, to).map_err(|e| Failure {
            retry: false,
            message: e.message,
        })?;
        self.retrying(|| self.transport.send(&message))
    }

    /// Tries `send` until it works, it fails for good, or the retries are
    /// spent, waiting longer each time.
    fn retrying(&self, mut send: impl FnMut() -> Result<(), Failure>) -> Result<(), Failure> {
        let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
        let mut attempt = 0;
        loop {
            match send() {
                Err(failure) if failure.retry && attempt < self.retries => {
                    if !self.quiet {
                        cli::warn(format!(
                            "{}; trying again in {}",
                            failure.message,
                            time::human(backoff.peek())
                        ));
                    }
                    backoff.sleep();
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    /// The error for notifications a channel could not deliver: they stay
    /// in the state file for the next run.
    fn kept(&self, failure: Failure) -> Error {
        let waiting = self.state.outbox().map(|o| o.len()).unwrap_or(0);
        let mut error = failure.into_error();
        error.message = format!(
            "{}; {waiting} notification(s) kept in {}, sent first on the next run",
            error.message,
            self.path.display()
        );
        error
    }

    /// Tells one notification through every channel that has not told it
    /// yet, and mail; whether all have. A channel that fails is `down` for
    /// the rest of this run: the others go on, and it is tried again on
    /// the next run with what it missed.
    fn tell_everywhere(
        &mut self,
        mail: i64,
        targets: &Targets,
        items: (&[Item], &[Item]),
        text: &message::Mail,
        down: &mut Vec<Failure>,
    ) -> Result<bool> {
        let (told, held) = items;
        let data = message::data(told, held, text, time::now_ms());
        // Deliveries are remembered per channel and per notification of
        // the group (a group split by routes is several).
        let first = data["notifications"][0]["event"]["id"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let notification = Notification {
            subject: &text.subject,
            text: &text.body,
            data: &data,
            problem: told.iter().any(|i| i.notice != Notice::Recovery),
            key: format!("sheepdog.{mail}.{first}"),
        };
        let mut all = true;
        for i in 0..self.channels.len() {
            let name = self.channels[i].name.clone();
            if !targets.channels.contains(&name) {
                continue;
            }
            let key = format!("{name} {first}");
            if self.state.delivered(mail, &key)? {
                continue;
            }
            if down
                .iter()
                .any(|f| f.message.starts_with(&format!("{name}: ")))
            {
                all = false;
                continue;
            }
            match self.retrying(|| self.channels[i].deliver(&notification)) {
                Ok(()) => self.state.set_delivered(mail, &key)?,
                // Refused for good (HTTP 4xx, no such program): trying
                // again cannot help. Said as an error event, and this
                // channel gives that notification up.
                Err(failure) if !failure.retry => {
                    self.undeliverable(&name, &failure, &text.subject)?;
                    self.state.set_delivered(mail, &key)?;
                }
                Err(failure) => {
                    down.push(failure);
                    all = false;
                }
            }
        }
        let recipients: Vec<Mailbox> = targets.to.iter().filter_map(|a| a.parse().ok()).collect();
        let key = format!("{MAIL} {first}");
        if self.mail && !recipients.is_empty() && !self.state.delivered(mail, &key)? {
            if down.iter().any(|f| f.message.starts_with("mail: ")) {
                return Ok(false);
            }
            match self.mail_once(text, &recipients) {
                Ok(()) => self.state.set_delivered(mail, &key)?,
                Err(failure) => {
                    down.push(Failure {
                        retry: failure.retry,
                        message: format!("mail: {}", failure.message),
                    });
                    all = false;
                }
            }
        }
        Ok(all)
    }

    /// The mail as a person reads it: its headers and its text, not the
    /// encoded form that goes over the wire.
    fn preview(&self, mail: &message::Mail, to: &[Mailbox], to_stderr: bool) -> Result<()> {
        // Built all the same, so a preview fails where a real mail would.
        self.build(mail, to)?;
        let to: Vec<String> = to.iter().map(|m| m.to_string()).collect();
        let text = format!(
            "From: {}\nTo: {}\nSubject: {}\n\n{}\n",
            self.envelope.from,
            to.join(", "),
            mail.subject,
            mail.body
        );
        let written = if to_stderr {
            io::stderr().lock().write_all(text.as_bytes())
        } else {
            let mut out = io::stdout().lock();
            out.write_all(text.as_bytes()).and_then(|_| out.flush())
        };
        written.map_err(|e| Error::local_io("printing the mail", e))
    }

    fn build(&self, mail: &message::Mail, to: &[Mailbox]) -> Result<Message> {
        let mut builder = Message::builder()
            .from(self.envelope.from.clone())
            .subject(mail.subject.clone())
            .date_now()
            .message_id(Some(format!(
                "<{}.sheepdog@{}>",
                ulid::Ulid::new(),
                message::one_line(&self.envelope.host)
            )))
            .header(ContentType::TEXT_PLAIN);
        for to in to {
            builder = builder.to(to.clone());
        }
        builder
            .body(mail.body.clone())
            .map_err(|e| Error::io(format!("composing a mail: {e}")))
    }
}

/// What decides, kept apart from the state it writes to.
pub(super) struct Decider {
    pub(super) policy: Policy,
    pub(super) group_wait_ms: i64,
    pub(super) digest: bool,
    /// The configuration's recurring maintenance windows.
    pub(super) windows: maintenance::Recurrences,
}

impl Decider {
    /// Decides on one event inside the batch's transaction, queueing the
    /// mail it calls for; returns it with the state after it, if any.
    fn decide(
        &self,
        tx: &state::Tx<'_>,
        event: &Event,
        line: &str,
        now: i64,
    ) -> Result<Option<(Item, TagState)>> {
        if event.kind() == Some(crate::event::maintenance::KIND) {
            return self.declare(tx, event).map(|()| None);
        }
        // A verdict's `ok` is no recovery: the state is the job's own.
        let status = event.status().and_then(|s| s.state_for(event.kind()));
        let (Some(id), Some(status)) = (event.id(), status) else {
            return Ok(None);
        };
        if !tx.first_sight(id, now)? {
            return Ok(None);
        }
        let host = event.host().unwrap_or_default();
        let tag = event.tag().unwrap_or_default();
        let incoming = Incoming {
            status,
            time_ms: event.time_ms().unwrap_or(now),
            id,
        };
        let known = tx.tag_state(host, tag)?;
        // Held by a window in force when it happened: a replay of what
        // a window held is held again, and told as it stands.
        let window = self.window_over(tx, host, tag, incoming.time_ms)?;
        let quiet = if tx.silenced(host, tag, now)? {
            Quiet::Silenced
        } else if window.is_some() {
            Quiet::Held
        } else {
            Quiet::No
        };
        let Decision::Changed {
            state,
            notice,
            previous,
        } = self.policy.decide(known.as_ref(), &incoming, now, quiet)
        else {
            return Ok(None);
        };
        tx.set_tag_state(host, tag, &state)?;
        let before = previous.map(|(s, _)| s);
        if let (Quiet::Held, Some(window)) = (quiet, &window) {
            let held = state::Held {
                line: line.to_string(),
                before,
                failed: matches!(status, Status::Fail | Status::Error),
            };
            tx.hold_in_window(host, tag, window.until_ms, &held)?;
        }
        if self.digest {
            // Held: counted, but its changes are one line at the end.
            let before = if quiet == Quiet::Held {
                Some(status)
            } else {
                before
            };
            tx.write_diary(incoming.time_ms, host, tag, status, before, line)?;
        }
        let Some(notice) = notice else {
            return Ok(None);
        };
        let item = Item {
            mail: 0,
            notice,
            host: host.to_string(),
            tag: tag.to_string(),
            previous: previous.map(|(s, _)| s),
            since_ms: match (notice, previous) {
                (Notice::Recovery, Some((_, since))) => since,
                _ => state.since_ms,
            },
            line: line.to_string(),
        };
        tx.queue(&item, now, self.group_wait_ms)?;
        Ok(Some((item, state)))
    }

    /// The digest's one line for what a window held of a host and tag:
    /// its change across the window, or that it failed and recovered
    /// inside.
    fn digest_window(
        &self,
        tx: &state::Tx<'_>,
        host: &str,
        tag: &str,
        now_status: Status,
        held: &state::Held,
        now: i64,
    ) -> Result<()> {
        if held.before != Some(now_status) {
            return tx.write_change(now, host, tag, now_status, held.before, &held.line);
        }
        if !held.failed {
            return Ok(());
        }
        let mut event = message::fields(&held.line);
        event.insert("reason".into(), "maintenance".into());
        event.insert(
            "msg".into(),
            "failed and recovered inside a maintenance window; not mailed".into(),
        );
        let line = serde_json::Value::Object(event).to_string();
        tx.write_change(now, host, tag, now_status, Some(Status::Fail), &line)
    }

    /// The window covering `host` and `tag` at `at_ms`: one it declared
    /// or a recurring one, the later-ending.
    fn window_over(
        &self,
        tx: &state::Tx<'_>,
        host: &str,
        tag: &str,
        at_ms: i64,
    ) -> Result<Option<maintenance::Window>> {
        Ok(maintenance::longer(
            tx.declared_window(host, tag, at_ms)?,
            self.windows.covering(host, tag, at_ms),
        ))
    }

    /// A host's own maintenance window, from its event.
    fn declare(&self, tx: &state::Tx<'_>, event: &Event) -> Result<()> {
        let until = event.str("until").and_then(time::parse_rfc3339_ms);
        let (Some(host), Some(tag), Some(from), Some(until)) =
            (event.host(), event.tag(), event.time_ms(), until)
        else {
            return Ok(());
        };
        if !tx.declare_window(host, tag, from, until, event.str("maintenance_reason"))? {
            // An older declaration than the one known: it changes nothing.
            return Ok(());
        }
        // Ended early or shortened, what it held is told by its new end
        // (end_windows looks whether another window still covers it).
        tx.shorten_held(host, tag, until.max(from))
    }

    /// The windows ended by `now`: what each held back is told as it
    /// stands, queued like any notification; a host and tag that another
    /// window still covers waits for that one's end.
    fn end_windows(&self, tx: &state::Tx<'_>, now: i64) -> Result<Vec<(Item, TagState)>> {
        let mut told = Vec::new();
        for (host, tag, held) in tx.held_until(now)? {
            let still = self.window_over(tx, &host, &tag, now)?;
            if let Some(window) = still {
                tx.hold_in_window(&host, &tag, window.until_ms, &held)?;
                continue;
            }
            tx.release_from_window(&host, &tag)?;
            let Some(state) = tx.tag_state(&host, &tag)? else {
                continue;
            };
            if self.digest {
                self.digest_window(tx, &host, &tag, state.status, &held, now)?;
            }
            let (state, notice) = self.policy.as_it_stands(state, now);
            let line = held.line;
            let Some(notice) = notice else {
                continue;
            };
            tx.set_tag_state(&host, &tag, &state)?;
            let item = Item {
                mail: 0,
                notice,
                host,
                tag,
                previous: None,
                since_ms: state.since_ms,
                line,
            };
            tx.queue(&item, now, self.group_wait_ms)?;
            told.push((item, state));
        }
        Ok(told)
    }
}

impl Mailer {
    /// With --record, what is to be told is recorded as decided before
    /// it is told (super::history): a voice that dies before telling
    /// leaves it to the next one. `otherwise` says what a failure means.
    fn record_decided(&mut self, queued: &[(Item, TagState)], otherwise: &str) -> Result<()> {
        if !self.record || queued.is_empty() {
            return Ok(());
        }
        let lines = queued
            .iter()
            .map(|(item, state)| {
                super::history::record(
                    &self.envelope.host,
                    super::history::DECIDED,
                    item,
                    state,
                    None,
                )
            })
            .collect();
        self.publish(lines).map_err(|failed| {
            Error::new(
                failed,
                format!("what is to be told could not be recorded in the broker; {otherwise}"),
            )
        })
    }
}

impl Batches<(Event, String)> for Mailer {
    fn commit(&mut self, batch: Vec<(Event, String)>) -> Result<()> {
        let now = time::now_ms();
        let mut decided = Vec::with_capacity(batch.len());
        let mut queued = Vec::new();
        let tx = self.state.transaction()?;
        for (event, line) in batch {
            queued.extend(self.decider.decide(&tx, &event, &line, now)?);
            decided.push(line);
        }
        queued.extend(self.decider.end_windows(&tx, now)?);
        tx.commit(now)?;
        // With --record, what is to be told is recorded before the events
        // are let go: a voice that dies before telling leaves it to the
        // next one (super::history).
        // Not let go unrecorded: the events stay pending in the group,
        // for this voice's next run or the other server's.
        self.record_decided(
            &queued,
            "the events are not let go, so the next voice decides them again",
        )?;
        // Each event is done with once decided: a mail it calls for is
        // committed to the state file (synchronous=FULL) and sent from
        // there, through a mail server's absence and sd-mail's restarts.
        // Echoed only once sent, a mail server away for a minute put the
        // events in the dead letters although their mails later went out.
        self.echo(&decided)?;
        self.plan()
    }

    fn deadline(&self) -> Option<Instant> {
        self.next_due.map(|due| {
            let wait = (due - time::now_ms()).max(0) as u64;
            Instant::now() + Duration::from_millis(wait)
        })
    }

    fn wake(&mut self) -> Result<()> {
        let now = time::now_ms();
        let tx = self.state.transaction()?;
        let told = self.decider.end_windows(&tx, now)?;
        tx.commit(now)?;
        // No events wait on it: what the window held is told by this
        // voice either way; the other server may tell it again.
        if let Err(err) = self.record_decided(&told, "this voice tells it unrecorded") {
            cli::warn(err);
        }
        self.send_due(now)?;
        self.plan()
    }

    /// The input is over: the burst is complete, so nothing waits for the
    /// rest of its group wait.
    fn finish(&mut self) -> Result<()> {
        self.send_due(i64::MAX)
    }
}
