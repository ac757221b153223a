//! Deciding whether an event is worth a mail: the whole policy of sd-mail,
//! as a pure function of what is known of its host and tag, so it can be
//! read (and tested) in one place.
//!
//! - A change to one of the `--notify` statuses is a problem mail; a
//!   return to `ok` after one is a recovery mail. `info` changes nothing.
//! - While the status stays the same, a reminder at most every `--repeat`,
//!   measured in event time, so a replay gives the same mails as the
//!   original stream did.
//! - An event older than what is known of its host and tag changes
//!   nothing. One older than `--max-age` updates the state but never mails
//!   at once: a receiver replaying history must not flood anyone.
//! - A silenced host and tag is tracked but never mailed; what it was told
//!   is forgotten at recovery, so the silence hides nothing afterwards.
//! - One in a maintenance window is tracked and held: nothing is mailed
//!   while the window lasts, and at its end the state as it stands is
//!   told once ([`Policy::as_it_stands`]) — a failure still there, or the
//!   recovery of one told before; a failure that came and went inside
//!   is not mailed, and no recovery follows a failure never mailed.

use crate::event::Status;

/// What is known of one host and tag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TagState {
    pub status: Status,
    /// Time of the newest state event, and its id (ties broken by id).
    pub time_ms: i64,
    pub id: String,
    /// When the current status began.
    pub since_ms: i64,
    /// The problem status the last mail told about, while not recovered.
    pub notified: Option<Status>,
    /// Event time of the last mail about this host and tag.
    pub mailed_ms: Option<i64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Notice {
    Problem,
    Reminder,
    Recovery,
}

impl Notice {
    pub fn as_str(self) -> &'static str {
        match self {
            Notice::Problem => "problem",
            Notice::Reminder => "reminder",
            Notice::Recovery => "recovery",
        }
    }

    pub fn parse(text: &str) -> Option<Notice> {
        match text {
            "problem" => Some(Notice::Problem),
            "reminder" => Some(Notice::Reminder),
            "recovery" => Some(Notice::Recovery),
            _ => None,
        }
    }
}

/// The settings the policy needs.
#[derive(Clone, Debug)]
pub struct Policy {
    pub notify: Vec<Status>,
    pub repeat_ms: i64,
    pub max_age_ms: i64,
}

/// Whether the host and tag may be mailed about now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quiet {
    No,
    /// `sd-mail silence`: tracked, never mailed.
    Silenced,
    /// In a maintenance window: tracked, told as it stands at its end.
    Held,
}

/// The event being decided on.
pub struct Incoming<'a> {
    pub status: Status,
    pub time_ms: i64,
    pub id: &'a str,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    /// Older than what is known (or `info`): nothing changes.
    Unchanged,
    /// The new state, and the mail it calls for, if any.
    Changed {
        state: TagState,
        notice: Option<Notice>,
        /// The status before, for the mail (None: never seen).
        previous: Option<(Status, i64)>,
    },
}

impl Policy {
    pub fn decide(
        &self,
        known: Option<&TagState>,
        event: &Incoming<'_>,
        now_ms: i64,
        quiet: Quiet,
    ) -> Decision {
        if !event.status.carries_state() {
            return Decision::Unchanged;
        }
        if let Some(known) = known
            && (event.time_ms, event.id) <= (known.time_ms, known.id.as_str())
        {
            return Decision::Unchanged;
        }
        let same = known.is_some_and(|k| k.status == event.status);
        let mut state = TagState {
            status: event.status,
            time_ms: event.time_ms,
            id: event.id.to_string(),
            since_ms: match known {
                Some(k) if same => k.since_ms,
                _ => event.time_ms,
            },
            notified: known.and_then(|k| k.notified),
            mailed_ms: known.and_then(|k| k.mailed_ms),
        };
        let fresh = now_ms - event.time_ms <= self.max_age_ms;
        let wanted = self.notify.contains(&event.status);
        let notice = if quiet == Quiet::Held {
            // What was told stays told: the window's end compares with it.
            None
        } else if event.status == Status::Ok {
            // Told about a problem: it is over, whether or not we may say so.
            let told = state.notified.take().is_some();
            (told && fresh && quiet == Quiet::No).then_some(Notice::Recovery)
        } else if !wanted || !fresh || quiet == Quiet::Silenced {
            None
        } else if state.notified != Some(event.status) {
            Some(Notice::Problem)
        } else if state
            .mailed_ms
            .is_none_or(|at| event.time_ms - at >= self.repeat_ms)
        {
            Some(Notice::Reminder)
        } else {
            None
        };
        if let Some(notice) = notice {
            state.mailed_ms = Some(event.time_ms);
            if notice != Notice::Recovery {
                state.notified = Some(event.status);
            }
        }
        Decision::Changed {
            notice,
            previous: known.map(|k| (k.status, k.since_ms)),
            state,
        }
    }

    /// At the end of a maintenance window, what `state` calls for, as it
    /// stands: a problem not told yet, or the recovery of one told; the
    /// state as it is after telling.
    pub fn as_it_stands(&self, mut state: TagState, now_ms: i64) -> (TagState, Option<Notice>) {
        let notice = if state.status == Status::Ok {
            state.notified.take().map(|_| Notice::Recovery)
        } else if self.notify.contains(&state.status) && state.notified != Some(state.status) {
            state.notified = Some(state.status);
            Some(Notice::Problem)
        } else {
            None
        };
        if notice.is_some() {
            state.mailed_ms = Some(now_ms);
        }
        (state, notice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incoming(status: Status, time_ms: i64, id: &str) -> Incoming<'_> {
        Incoming {
            status,
            time_ms,
            id,
        }
    }

    const HOUR: i64 = 3_600_000;

    fn policy() -> Policy {
        Policy {
            notify: vec![Status::Fail, Status::Error],
            repeat_ms: 24 * HOUR,
            max_age_ms: 24 * HOUR,
        }
    }

    /// Feeds statuses at one-hour steps ending now; the notices given.
    fn run(policy: &Policy, statuses: &[Status]) -> Vec<Option<Notice>> {
        let now = 1_000 * HOUR;
        let start = now - statuses.len() as i64 * HOUR;
        let mut state: Option<TagState> = None;
        let mut out = Vec::new();
        for (i, status) in statuses.iter().enumerate() {
            let id = format!("e{i:03}");
            let event = incoming(*status, start + i as i64 * HOUR, &id);
            match policy.decide(state.as_ref(), &event, now, Quiet::No) {
                Decision::Unchanged => out.push(None),
                Decision::Changed {
                    state: next,
                    notice,
                    ..
                } => {
                    state = Some(next);
                    out.push(notice);
                }
            }
        }
        out
    }

    use Notice::*;
    use Status::{Error as E, Fail as F, Info as I, Ok as O, Warn as W};

    #[test]
    fn changes_are_mailed_once_and_recoveries_follow_problems() {
        assert_eq!(
            run(&policy(), &[O, F, F, F, O, O, F]),
            [
                None,
                Some(Problem),
                None,
                None,
                Some(Recovery),
                None,
                Some(Problem)
            ]
        );
        // fail then error is a change worth a mail; warn and info are not.
        assert_eq!(
            run(&policy(), &[F, E, W, I, O]),
            [Some(Problem), Some(Problem), None, None, Some(Recovery)]
        );
    }

    #[test]
    fn reminders_come_at_most_every_repeat() {
        let every_3h = Policy {
            repeat_ms: 3 * HOUR,
            ..policy()
        };
        let notices = run(&every_3h, &[F; 10]);
        assert_eq!(
            notices,
            [
                Some(Problem),
                None,
                None,
                Some(Reminder),
                None,
                None,
                Some(Reminder),
                None,
                None,
                Some(Reminder)
            ]
        );
    }

    /// The new state and notice of a decision that changes the state.
    fn changed(decision: Decision) -> (TagState, Option<Notice>) {
        match decision {
            Decision::Changed { state, notice, .. } => (state, notice),
            Decision::Unchanged => panic!("expected the state to change"),
        }
    }

    #[test]
    fn old_events_update_the_state_but_never_mail() {
        let p = policy();
        let now = 100 * HOUR;
        let (state, notice) =
            changed(p.decide(None, &incoming(F, now - 30 * HOUR, "a"), now, Quiet::No));
        assert_eq!(notice, None);
        // A fresh failure of the same status is then news: nobody was told.
        let fresh = incoming(F, now - HOUR, "b");
        assert_eq!(
            changed(p.decide(Some(&state), &fresh, now, Quiet::No)).1,
            Some(Problem)
        );
        // Older than the state: nothing at all.
        let older = incoming(O, now - 40 * HOUR, "c");
        assert_eq!(
            p.decide(Some(&state), &older, now, Quiet::No),
            Decision::Unchanged
        );
    }

    #[test]
    fn silence_tracks_without_mail_and_forgets_at_recovery() {
        let p = policy();
        let now = 100 * HOUR;
        let (state, notice) = changed(p.decide(
            None,
            &incoming(F, now - 2 * HOUR, "a"),
            now,
            Quiet::Silenced,
        ));
        assert_eq!((notice, state.status), (None, F));
        let ok = incoming(O, now - HOUR, "b");
        assert_eq!(
            changed(p.decide(Some(&state), &ok, now, Quiet::No)).1,
            None,
            "no recovery for a problem never mailed"
        );
    }

    /// Decides `statuses` one after the other, held or not; the state
    /// after them and the notices given.
    fn through(
        p: &Policy,
        start: Option<TagState>,
        statuses: &[(Status, Quiet)],
    ) -> (TagState, Vec<Option<Notice>>) {
        let now = 1_000 * HOUR;
        let mut state = start;
        let mut notices = Vec::new();
        for (i, (status, quiet)) in statuses.iter().enumerate() {
            let id = format!("w{i:03}");
            let event = incoming(*status, now - 10 * HOUR + i as i64 * HOUR, &id);
            let (next, notice) = changed(p.decide(state.as_ref(), &event, now, *quiet));
            state = Some(next);
            notices.push(notice);
        }
        (state.unwrap(), notices)
    }

    #[test]
    fn a_window_holds_everything_and_its_end_tells_the_state_as_it_stands() {
        let p = policy();
        let now = 1_000 * HOUR;
        const H: Quiet = Quiet::Held;
        // Failed and recovered inside: nothing, during or after.
        let (state, notices) = through(
            &p,
            None,
            &[(Status::Ok, Quiet::No), (F, H), (Status::Ok, H)],
        );
        assert_eq!(notices, vec![None, None, None]);
        assert_eq!(p.as_it_stands(state, now).1, None);
        // Failed inside and still failing: one problem at the end, once.
        let (state, notices) = through(&p, None, &[(Status::Ok, Quiet::No), (F, H), (F, H)]);
        assert_eq!(notices, vec![None, None, None]);
        let (state, notice) = p.as_it_stands(state, now);
        assert_eq!(notice, Some(Notice::Problem));
        assert_eq!(p.as_it_stands(state, now).1, None);
        // Told before the window, recovered inside: the recovery at the end.
        let (state, notices) = through(&p, None, &[(F, Quiet::No), (Status::Ok, H)]);
        assert_eq!(notices, vec![Some(Notice::Problem), None]);
        assert_eq!(p.as_it_stands(state, now).1, Some(Notice::Recovery));
    }
}
