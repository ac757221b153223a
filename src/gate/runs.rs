//! Runs started and not yet ended: `/start` notes when, and the run's
//! end (success, failure, an exit status) gets `elapsed_ms` from it —
//! the start with the same `rid`, or without one the check's last start,
//! as healthchecks.io pairs them. Kept in memory, bounded in number and
//! in age: a restarted gate forgets its open runs, whose ends then
//! simply carry no duration.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// Open runs at most; the oldest is forgotten first.
const MAX_OPEN: usize = 10_000;
/// A start older than this pairs with nothing (healthchecks: 12 h).
const MAX_AGE: Duration = Duration::from_secs(12 * 3600);

#[derive(Default)]
pub struct Runs {
    started: HashMap<(String, Option<String>), Instant>,
    /// Starts in the order they came, to forget the oldest; an entry
    /// whose run ended or started again is skipped when it comes up.
    order: VecDeque<((String, Option<String>), Instant)>,
}

impl Runs {
    pub fn start(&mut self, check: &str, run_id: Option<&str>, now: Instant) {
        let key = (check.to_string(), run_id.map(str::to_string));
        self.started.insert(key.clone(), now);
        self.order.push_back((key, now));
        while self.started.len() > MAX_OPEN || self.order.len() > 2 * MAX_OPEN {
            let Some((oldest, at)) = self.order.pop_front() else {
                break;
            };
            if self.started.get(&oldest) == Some(&at) {
                self.started.remove(&oldest);
            }
        }
    }

    /// How long the run that ends now took, if its start is known.
    pub fn end(&mut self, check: &str, run_id: Option<&str>, now: Instant) -> Option<Duration> {
        let key = (check.to_string(), run_id.map(str::to_string));
        let took = now.saturating_duration_since(self.started.remove(&key)?);
        (took <= MAX_AGE).then_some(took)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_end_pairs_with_its_start_by_rid_once() {
        let mut runs = Runs::default();
        let t0 = Instant::now();
        runs.start("c", Some("r1"), t0);
        runs.start("c", Some("r2"), t0 + Duration::from_secs(1));
        runs.start("c", None, t0 + Duration::from_secs(2));
        let later = t0 + Duration::from_secs(10);
        assert_eq!(
            runs.end("c", Some("r1"), later),
            Some(Duration::from_secs(10))
        );
        assert_eq!(runs.end("c", Some("r1"), later), None, "ended once");
        assert_eq!(runs.end("c", None, later), Some(Duration::from_secs(8)));
        assert_eq!(runs.end("other", Some("r2"), later), None);
    }

    #[test]
    fn open_runs_are_bounded() {
        let mut runs = Runs::default();
        let now = Instant::now();
        for i in 0..MAX_OPEN + 5 {
            runs.start("c", Some(&i.to_string()), now);
        }
        assert_eq!(runs.started.len(), MAX_OPEN);
        assert_eq!(runs.end("c", Some("0"), now), None, "the oldest went first");
    }
}
