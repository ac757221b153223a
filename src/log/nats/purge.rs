//! How far a stream may be purged, given where its groups are.
//!
//! A group's ack floor is not that point. nats-server moves a consumer's
//! floor on acknowledgements by delivery number, and a message delivered
//! again gets a new one: the floor can pass a message still pending
//! (nats-server 2.9 even moves it on an acknowledgement of a message no
//! longer pending, one sent again after the server restarted). A purge to
//! such a floor takes the pending message out of the stream, and the
//! server never gives it again: the chaos test through NATS lost the first
//! third of its events so, about one run in twenty. What a group has
//! delivered is all acknowledged only when nothing of it is pending.

/// Where one group of the stream is.
#[derive(Clone, Copy, Debug)]
pub struct GroupProgress {
    /// The stream sequence below which the server says all is
    /// acknowledged, and the last it delivered.
    pub ack_floor: u64,
    pub delivered: u64,
    /// Messages delivered and not acknowledged.
    pub pending: u64,
}

/// The first sequence a purge keeps: everything below it every group has
/// had and acknowledged. None: nothing may go (a group still has messages
/// pending, no group reads the stream, or nothing is below the point).
/// The newest message (`last`) is always kept: a stream purged empty and
/// then killed comes back numbering from 1 again, below what its groups
/// have read, and they would skip what comes next.
pub fn keep_from(groups: &[GroupProgress], last: u64) -> Option<u64> {
    if groups.iter().any(|g| g.pending > 0) {
        return None;
    }
    groups
        .iter()
        .map(|g| g.ack_floor.min(g.delivered) + 1)
        .min()
        .map(|keep| keep.min(last))
        .filter(|keep| *keep > 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(ack_floor: u64, delivered: u64, pending: u64) -> GroupProgress {
        GroupProgress {
            ack_floor,
            delivered,
            pending,
        }
    }

    #[test]
    fn a_group_with_messages_pending_keeps_everything_whatever_its_floor() {
        // The floor (90) passed a message still pending (as nats-server
        // reports after a redelivery): nothing is purged.
        assert_eq!(keep_from(&[group(90, 100, 1)], 100), None);
        assert_eq!(
            keep_from(&[group(100, 100, 0), group(90, 100, 3)], 100),
            None
        );
    }

    #[test]
    fn groups_done_with_what_they_had_keep_from_the_slowest() {
        assert_eq!(
            keep_from(&[group(40, 40, 0), group(70, 70, 0)], 100),
            Some(41)
        );
        // A floor past what was delivered does not count beyond it.
        assert_eq!(keep_from(&[group(90, 60, 0)], 100), Some(61));
    }

    #[test]
    fn the_newest_message_and_a_stream_no_group_reads_are_kept() {
        assert_eq!(keep_from(&[group(100, 100, 0)], 100), Some(100));
        assert_eq!(keep_from(&[], 100), None);
        assert_eq!(keep_from(&[group(0, 0, 0)], 100), None);
    }
}
