//! How sheepdog compares the values people write, wherever they are
//! written (`--fact`, rules): numbers and sizes as numbers, package
//! versions in Debian order.

use std::cmp::Ordering;

/// A comparison, as `--fact` and the rules write it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    /// Whether `a OP b` holds for `a` ordered so against `b`.
    pub fn holds(self, ordering: Ordering) -> bool {
        match self {
            CmpOp::Eq => ordering == Ordering::Equal,
            CmpOp::Ne => ordering != Ordering::Equal,
            CmpOp::Lt => ordering == Ordering::Less,
            CmpOp::Le => ordering != Ordering::Greater,
            CmpOp::Gt => ordering == Ordering::Greater,
            CmpOp::Ge => ordering != Ordering::Less,
        }
    }

    /// The operator as written (and as SQL writes it).
    pub fn sql(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
}

/// A number, or a size with a unit (`4GiB`, `512MB`).
pub fn number(text: &str) -> Option<f64> {
    text.trim()
        .parse::<f64>()
        .ok()
        .or_else(|| crate::base::size::parse(text).map(|b| b as f64))
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
