//! How long runs take (`elapsed_ms`), and whether the latest is unusual:
//! far slower than the median of the runs before it, or suspiciously fast
//! (a backup that "succeeds" in one second). `sd-query durations` reports
//! it; `sd-expect --slower/--faster` warns about it.
//!
//! Only successful runs count (`store::schema::IS_SUCCESS`): a run that
//! failed at its first step says nothing about how long the job takes.

use crate::store::schema::IS_SUCCESS;
use rusqlite::{Connection, params};

/// Runs before the latest that are needed to call it unusual.
pub const MIN_BASELINE: usize = 3;

/// A successful run: when it ended, how long it took, its event.
#[derive(Clone, Debug, PartialEq)]
pub struct Run {
    pub time_ms: i64,
    pub elapsed_ms: i64,
    pub id: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outlier {
    Slow,
    Fast,
}

impl Outlier {
    pub fn as_str(self) -> &'static str {
        match self {
            Outlier::Slow => "slow",
            Outlier::Fast => "fast",
        }
    }
}

/// What counts as unusual: slower than `slower` × the median, faster than
/// `faster` × the median (either may be off).
#[derive(Clone, Copy, Debug)]
pub struct Bounds {
    pub slower: Option<f64>,
    pub faster: Option<f64>,
}

impl Bounds {
    /// The latest run against the median of those before it.
    pub fn judge(&self, latest_ms: i64, median_ms: i64) -> Option<Outlier> {
        let (latest, median) = (latest_ms as f64, median_ms as f64);
        if self.slower.is_some_and(|f| latest > f * median) {
            return Some(Outlier::Slow);
        }
        if self.faster.is_some_and(|f| latest < f * median) {
            return Some(Outlier::Fast);
        }
        None
    }
}

/// A factor as people write it: `3x`, `0.1x`, `3`.
pub fn parse_factor(text: &str) -> Result<f64, String> {
    let number = text.trim().trim_end_matches(['x', 'X', '×']);
    match number.parse::<f64>() {
        Ok(f) if f.is_finite() && f > 0.0 => Ok(f),
        _ => Err(format!(
            "`{text}` is not a factor; write it like 3x or 0.1x"
        )),
    }
}

/// The `q` quantile (0.5: the median) of durations, by the nearest rank.
pub fn quantile(sorted: &[i64], q: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// The median of some durations (sorted here).
pub fn median(durations: &[i64]) -> Option<i64> {
    let mut sorted = durations.to_vec();
    sorted.sort_unstable();
    quantile(&sorted, 0.5)
}

/// The newest successful runs of a host and tag with a duration, newest
/// first, at most `limit`.
pub fn latest_runs(
    conn: &Connection,
    host: &str,
    tag: &str,
    limit: usize,
) -> rusqlite::Result<Vec<Run>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT time_ms, elapsed_ms, id FROM events
         WHERE tag = ?2 AND host = ?1 AND elapsed_ms IS NOT NULL AND {IS_SUCCESS}
         ORDER BY time_ms DESC, id DESC LIMIT ?3"
    ))?;
    stmt.query_map(params![host, tag, limit as i64], |r| {
        Ok(Run {
            time_ms: r.get(0)?,
            elapsed_ms: r.get(1)?,
            id: r.get(2)?,
        })
    })?
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_by_the_nearest_rank() {
        let d: Vec<i64> = (1..=20).collect();
        assert_eq!(quantile(&d, 0.5), Some(10));
        assert_eq!(quantile(&d, 0.95), Some(19));
        assert_eq!(quantile(&[7], 0.95), Some(7));
        assert_eq!(median(&[30, 10, 20]), Some(20));
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn slow_and_suspiciously_fast() {
        let bounds = Bounds {
            slower: Some(3.0),
            faster: Some(0.1),
        };
        assert_eq!(bounds.judge(3_100, 1_000), Some(Outlier::Slow));
        assert_eq!(bounds.judge(2_900, 1_000), None);
        assert_eq!(bounds.judge(99, 1_000), Some(Outlier::Fast));
        let only_slow = Bounds {
            slower: Some(3.0),
            faster: None,
        };
        assert_eq!(only_slow.judge(1, 1_000), None);
    }

    #[test]
    fn factors_are_written_with_an_x() {
        assert_eq!(parse_factor("3x"), Ok(3.0));
        assert_eq!(parse_factor("0.1x"), Ok(0.1));
        assert_eq!(parse_factor("2"), Ok(2.0));
        assert!(parse_factor("0x").is_err());
        assert!(parse_factor("fast").is_err());
    }
}
