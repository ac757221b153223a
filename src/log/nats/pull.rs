//! Reading a group: pull requests of our own on one subscription per
//! group, and what a message's acknowledgement subject says of it.
//!
//! The client's JetStream reader makes a subscription for every batch and
//! clones its whole context into every message; at thousands of events a
//! second that was a tenth of a receiver's time (bench/BENCHMARKS.md). A
//! pull request is one small publish (`CONSUMER.MSG.NEXT`) whose messages
//! come back to an inbox; the server ends a batch it cannot fill with a
//! status message (404 nothing waiting, 408 the wait is over).

use async_nats::{Client, Message, StatusCode, Subject, Subscriber};
use futures_util::StreamExt;
use std::time::Duration;

/// Where one group's pull requests go and are answered.
pub struct Pulls {
    /// The consumer's `CONSUMER.MSG.NEXT` subject.
    next: Subject,
    inbox: Subject,
    answers: Subscriber,
}

impl Pulls {
    pub async fn open(client: &Client, next: Subject) -> Result<Pulls, async_nats::Error> {
        let inbox = Subject::from(client.new_inbox());
        let answers = client.subscribe(inbox.clone()).await?;
        Ok(Pulls {
            next,
            inbox,
            answers,
        })
    }

    /// Asks the consumer for up to `count` messages, waiting up to `wait`
    /// for the first (none: only what is there now), and adds them to
    /// `got`.
    pub async fn take(
        &mut self,
        client: &Client,
        count: usize,
        wait: Option<Duration>,
        got: &mut Vec<Message>,
    ) -> Result<(), async_nats::Error> {
        let request = match wait {
            None => format!(r#"{{"batch":{count},"no_wait":true}}"#),
            Some(wait) => format!(r#"{{"batch":{count},"expires":{}}}"#, wait.as_nanos()),
        };
        client
            .publish_with_reply(self.next.clone(), self.inbox.clone(), request.into())
            .await?;
        let wanted = got.len() + count;
        while got.len() < wanted {
            let Some(message) = self.answers.next().await else {
                return Err("the server ended the subscription".into());
            };
            match message.status {
                None | Some(StatusCode::OK) => got.push(message),
                Some(StatusCode::IDLE_HEARTBEAT) => {}
                // Nothing more waiting, or the wait is over.
                Some(StatusCode::NOT_FOUND | StatusCode::TIMEOUT) => break,
                Some(StatusCode::NO_RESPONDERS) => {
                    return Err("no consumer answers (the group retired, or JetStream off)".into());
                }
                Some(status) => {
                    let why = message.description.unwrap_or_default();
                    return Err(format!("the server ended the read: {status} {why}").into());
                }
            }
        }
        Ok(())
    }
}

/// What the acknowledgement subject of a delivered message says.
#[derive(Debug, PartialEq)]
pub struct Delivery {
    /// The message's sequence in its stream.
    pub sequence: u64,
    /// How many times it has been delivered, this one included.
    pub delivered: u64,
    /// When the stream took it, in nanoseconds since the epoch.
    pub published_ns: i64,
}

/// Reads `$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer
/// seq>.<time>.<pending>`, or the newer form with the domain and the
/// account's hash after `ACK` and perhaps more tokens at the end.
pub fn delivery(reply: &str) -> Option<Delivery> {
    let rest = reply.strip_prefix("$JS.ACK.")?;
    let mut tokens = [""; 9];
    let mut n = 0;
    for token in rest.split('.') {
        if let Some(slot) = tokens.get_mut(n) {
            *slot = token;
        }
        n += 1;
    }
    let at = match n {
        7 => 2,
        n if n >= 9 => 4,
        _ => return None,
    };
    Some(Delivery {
        delivered: tokens[at].parse().ok()?,
        sequence: tokens[at + 1].parse().ok()?,
        published_ns: tokens[at + 3].parse().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms_of_the_acknowledgement_subject_are_read() {
        let expected = Some(Delivery {
            sequence: 42,
            delivered: 3,
            published_ns: 1_765_000_000_123_456_789,
        });
        assert_eq!(
            delivery("$JS.ACK.sheepdog_events.store.3.42.40.1765000000123456789.7"),
            expected
        );
        assert_eq!(
            delivery("$JS.ACK.hub.ACCHASH.sheepdog_events.store.3.42.40.1765000000123456789.7"),
            expected
        );
        assert_eq!(
            delivery(
                "$JS.ACK.hub.ACCHASH.sheepdog_events.store.3.42.40.1765000000123456789.7.tok.more"
            ),
            expected
        );
        for wrong in [
            "",
            "$JS.ACK.",
            "_INBOX.x.y",
            "$JS.ACK.s.c.3.42.40.1765",
            "$JS.ACK.s.c.x.42.40.1765000000123456789.7",
        ] {
            assert_eq!(delivery(wrong), None, "{wrong}");
        }
    }
}
