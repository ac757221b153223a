//! How sheepdog compares the values people write, wherever they are
//! written (`--fact`, rules): numbers and sizes as numbers, package
//! versions in Debian order.

use std::cmp::Ordering;

/// A number, or a size with a unit (`4GiB`, `512MB`).
pub fn number(text: &str) -> Option<f64> {
    text.trim()
        .parse::<f64>()
        .ok()
        .or_else(|| crate::size::parse(text).map(|b| b as f64))
}

/// Debian ordering; a wanted version without a revision is compared with
/// the installed one's epoch and upstream part only.
pub fn compare_versions(installed: &str, wanted: &str) -> Option<Ordering> {
    let installed: debversion::Version = installed.trim().parse().ok()?;
    let wanted: debversion::Version = wanted.trim().parse().ok()?;
    if wanted.debian_revision.is_none() {
        let upstream = debversion::Version {
            epoch: installed.epoch,
            upstream_version: installed.upstream_version.clone(),
            debian_revision: None,
        };
        return Some(upstream.cmp(&wanted));
    }
    Some(installed.cmp(&wanted))
}
