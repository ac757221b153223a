//! Host and tag pairs, numbered as events are read.
//!
//! The interruption tracker and the board each keep something per host
//! and tag, and look it up for every event stored. Looked up by name on
//! the thread that writes to SQLite, that was a tenth of its time (cache
//! misses in two maps of maps; bench/BENCHMARKS.md). So the thread that
//! reads input numbers each event's pair, and the writing thread finds
//! what it keeps by that number, in a vector.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// A pair's number: an index into what the store keeps per pair.
pub type Pair = usize;

/// The numbering, shared by the reading and the writing thread.
#[derive(Clone, Default)]
pub struct Pairs(Arc<Mutex<Numbering>>);

#[derive(Default)]
pub struct Numbering {
    /// By host, then tag: looked up with borrowed names, no allocation.
    numbers: HashMap<String, HashMap<String, Pair>>,
    names: Vec<(String, String)>,
}

impl Pairs {
    /// The pair's number, given the first time it is seen.
    pub fn number(&self, host: &str, tag: &str) -> Pair {
        self.lock().number(host, tag)
    }

    /// The host and tag of each pair, copied out: the lock is let go
    /// before the caller writes to SQLite, so the reading thread, which
    /// numbers pairs with it, never waits for the disk.
    pub fn names_of(&self, pairs: impl IntoIterator<Item = Pair>) -> Vec<(String, String)> {
        let numbering = self.lock();
        pairs
            .into_iter()
            .map(|pair| {
                let (host, tag) = numbering.names(pair);
                (host.to_string(), tag.to_string())
            })
            .collect()
    }

    /// The numbering held, for many lookups at once.
    pub fn lock(&self) -> MutexGuard<'_, Numbering> {
        // The numbering is never left half-changed: a panic elsewhere
        // while it was held does not make it wrong.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Numbering {
    pub fn number(&mut self, host: &str, tag: &str) -> Pair {
        if let Some(&pair) = self.numbers.get(host).and_then(|tags| tags.get(tag)) {
            return pair;
        }
        let pair = self.names.len();
        self.names.push((host.to_string(), tag.to_string()));
        self.numbers
            .entry(host.to_string())
            .or_default()
            .insert(tag.to_string(), pair);
        pair
    }

    /// The host and tag of a pair numbered here.
    pub fn names(&self, pair: Pair) -> (&str, &str) {
        let (host, tag) = &self.names[pair];
        (host, tag)
    }
}

/// What is kept per pair, by number; `None` where nothing is yet.
pub struct PerPair<T>(Vec<Option<T>>);

impl<T> Default for PerPair<T> {
    fn default() -> Self {
        PerPair(Vec::new())
    }
}

impl<T> PerPair<T> {
    pub fn get(&self, pair: Pair) -> Option<&T> {
        self.0.get(pair).and_then(Option::as_ref)
    }

    /// The pair's place, made if need be.
    pub fn slot(&mut self, pair: Pair) -> &mut Option<T> {
        if pair >= self.0.len() {
            self.0.resize_with(pair + 1, || None);
        }
        &mut self.0[pair]
    }

    pub fn take(&mut self, pair: Pair) -> Option<T> {
        self.0.get_mut(pair).and_then(Option::take)
    }

    pub fn clear(&mut self) {
        self.0.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_pair_keeps_its_number_and_names() {
        let pairs = Pairs::default();
        let web = pairs.number("h1", "web");
        let db = pairs.number("h1", "db");
        let other = pairs.clone().number("h2", "web");
        assert_eq!([web, db, other], [0, 1, 2]);
        assert_eq!(pairs.number("h1", "db"), db);
        assert_eq!(pairs.lock().names(other), ("h2", "web"));
        let mut kept = PerPair::default();
        *kept.slot(other) = Some("x");
        assert_eq!((kept.get(web), kept.get(other)), (None, Some(&"x")));
        assert_eq!(kept.take(other), Some("x"));
        assert_eq!(kept.get(other), None);
    }
}
