//! How often one check, or one address, may ping: a token bucket for
//! each, so a burst is taken and a flood is answered 429. The table of
//! buckets is bounded too: an attacker with many addresses fills it, and
//! then the buckets that are full again (their senders quiet) are
//! forgotten first.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::Instant;

/// Buckets by key, each refilled at `rate` a second up to `burst`.
pub struct Buckets<K> {
    rate: f64,
    burst: f64,
    buckets: HashMap<K, (f64, Instant)>,
    max_keys: usize,
}

impl<K: Hash + Eq + Clone> Buckets<K> {
    pub fn new(rate: f64, max_keys: usize) -> Buckets<K> {
        let rate = rate.max(0.001);
        Buckets {
            rate,
            // A burst of three seconds' worth, at least a few.
            burst: (rate * 3.0).max(5.0),
            buckets: HashMap::new(),
            max_keys,
        }
    }

    /// Takes one from `key`'s bucket: false when it is empty.
    pub fn take(&mut self, key: &K, now: Instant) -> bool {
        if !self.buckets.contains_key(key) && self.buckets.len() >= self.max_keys {
            self.forget_full(now);
            if self.buckets.len() >= self.max_keys {
                return false;
            }
        }
        let (rate, burst) = (self.rate, self.burst);
        let (level, at) = self.buckets.entry(key.clone()).or_insert((burst, now));
        *level = (*level + now.saturating_duration_since(*at).as_secs_f64() * rate).min(burst);
        *at = now;
        if *level >= 1.0 {
            *level -= 1.0;
            true
        } else {
            false
        }
    }

    fn forget_full(&mut self, now: Instant) {
        let (rate, burst) = (self.rate, self.burst);
        self.buckets.retain(|_, (level, at)| {
            *level + now.saturating_duration_since(*at).as_secs_f64() * rate < burst
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_burst_is_taken_a_flood_is_not_and_time_refills() {
        let mut buckets = Buckets::new(10.0, 100);
        let now = Instant::now();
        let taken = (0..100).filter(|_| buckets.take(&"a", now)).count();
        assert_eq!(taken, 30, "three seconds' worth");
        assert!(buckets.take(&"b", now), "another key has its own bucket");
        assert!(!buckets.take(&"a", now));
        assert!(buckets.take(&"a", now + Duration::from_millis(200)));
    }

    #[test]
    fn the_table_stays_bounded_and_forgets_the_quiet_first() {
        let mut buckets = Buckets::new(1.0, 2);
        let now = Instant::now();
        assert!(buckets.take(&1, now));
        assert!(buckets.take(&2, now));
        assert!(!buckets.take(&3, now), "full of senders still counted");
        let later = now + Duration::from_secs(10);
        assert!(buckets.take(&3, later), "the quiet ones were forgotten");
        assert!(buckets.buckets.len() <= 2);
    }
}
