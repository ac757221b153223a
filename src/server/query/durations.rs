//! `sd-query durations`: per host and tag, how long successful runs took
//! in the window — count, median, p95, the last — and whether the last is
//! unusual against the median of those before it.

use super::output::Answer;
use super::{Filters, since};
use crate::base::error::Result;
use crate::base::time::human_ms;
use crate::store::read;
use crate::store::run_times::{self, Bounds};
use rusqlite::Connection;
use serde_json::Map;
use std::time::Duration;

#[derive(Debug, Clone, clap::Args)]
pub struct DurationsArgs {
    #[command(flatten)]
    pub filters: Filters,
    /// The last run is slow when it took more than this times the median
    /// of the runs before it.
    #[arg(long, value_name = "FACTOR", value_parser = run_times::parse_factor, default_value = "3x")]
    pub slower: f64,
    /// The last run is suspiciously fast when it took less than this
    /// times the median.
    #[arg(long, value_name = "FACTOR", value_parser = run_times::parse_factor, default_value = "0.1x")]
    pub faster: f64,
}

pub fn durations(conn: &Connection, args: &DurationsArgs) -> Result<Answer> {
    let f = &args.filters;
    let unfiltered = Filters {
        status: None,
        ..f.clone()
    };
    let from = since(f, Some(Duration::from_secs(30 * 86400)));
    let bounds = Bounds {
        slower: Some(args.slower),
        faster: Some(args.faster),
    };
    let mut out = Vec::new();
    let mut sorted = Vec::new();
    read::run_times(
        conn,
        &unfiltered.selection(conn, from)?,
        |host, tag, elapsed| {
            let last = *elapsed.last().expect("a run");
            let before = &elapsed[..elapsed.len() - 1];
            let outlier = match run_times::median(before) {
                Some(median) if before.len() >= run_times::MIN_BASELINE => {
                    bounds.judge(last, median).map(|o| o.as_str())
                }
                _ => None,
            };
            sorted.clear();
            sorted.extend_from_slice(elapsed);
            sorted.sort_unstable();
            let median = run_times::quantile(&sorted, 0.5).expect("a run");
            let p95 = run_times::quantile(&sorted, 0.95).expect("a run");
            let mut m = Map::new();
            m.insert("host".into(), host.into());
            m.insert("tag".into(), tag.into());
            m.insert("runs".into(), elapsed.len().into());
            m.insert("median".into(), human_ms(median).into());
            m.insert("p95".into(), human_ms(p95).into());
            m.insert("last".into(), human_ms(last).into());
            m.insert("outlier".into(), outlier.into());
            m.insert("median_ms".into(), median.into());
            m.insert("p95_ms".into(), p95.into());
            m.insert("last_ms".into(), last.into());
            out.push(m);
            Ok(())
        },
    )?;
    Ok(Answer {
        columns: vec!["host", "tag", "runs", "median", "p95", "last", "outlier"],
        rows: out,
    })
}
