//! One voice among servers: a lease in the broker (`SET key holder NX
//! PX ttl`), held by one process at a time and renewed at a third of its
//! length. Two servers each run the same role (`sd-recv --group mail
//! --lease mail -- sd-mail …`); the one holding the lease works, the other
//! waits and says it is the standby, and takes over once the lease ends —
//! at most the lease's length after the holder died. A holder that cannot
//! renew in time (the broker away, a partition) stops working before the
//! lease can end, so two never work at once.

use crate::base::error::{Error, Result};
use crate::base::exit::Exit;
use crate::log::BrokerSettings;
use crate::log::redis::Redis;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The key of a lease: one per role.
pub fn key(name: &str) -> String {
    format!("sheepdog:lease:{name}")
}

/// Renews only a lease still ours (compare and extend, atomically).
const RENEW: &str = "if redis.call('GET', KEYS[1]) == ARGV[1] then \
                     return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end";
/// Lets go only of a lease still ours.
const RELEASE: &str = "if redis.call('GET', KEYS[1]) == ARGV[1] then \
                       return redis.call('DEL', KEYS[1]) else return 0 end";

/// A lease held: renewed on a thread of its own until dropped (then let
/// go, so the standby need not wait out its length).
pub struct Lease {
    lost: Arc<AtomicBool>,
    done: Arc<AtomicBool>,
    renewer: Option<std::thread::JoinHandle<()>>,
    broker: BrokerSettings,
    key: String,
    holder: String,
}

/// Takes the lease for `ms`, or extends it when `holder` has it already;
/// `Some(holder)`: someone else's.
fn take(
    redis: &mut Redis,
    key: &str,
    holder: &str,
    ms: &str,
) -> std::result::Result<Option<String>, redis::RedisError> {
    if redis.admin(&["SET", key, holder, "NX", "PX", ms])? == redis::Value::Okay {
        return Ok(None);
    }
    if redis.admin(&["EVAL", RENEW, "1", key, holder, ms])? == redis::Value::Int(1) {
        return Ok(None);
    }
    let current: Option<String> = redis::from_redis_value(redis.admin(&["GET", key])?)?;
    // Gone between the two: free again, taken at the next try.
    Ok(Some(
        current.unwrap_or_else(|| "another server".to_string()),
    ))
}

/// A failure at the lease: a refusal names the rights it needs.
fn failure(key: &str, shown: &str, e: &redis::RedisError) -> Error {
    let why = crate::base::error::plain(e.to_string());
    if crate::log::redis::client::is_refusal(e) {
        Error::usage(format!(
            "the lease {key} on {shown}: refused ({why}): the user needs SET, GET, PEXPIRE, \
             DEL and EVAL on {key}"
        ))
    } else {
        Error::new(
            Exit::Unavailable,
            format!("the lease {key} on {shown}: {why}"),
        )
    }
}

impl Lease {
    /// Waits until the lease named `name` is ours (or `stop` is set:
    /// `None`). `standby` is called once with the holder's name when
    /// someone else has it. Once held, a lease that cannot be renewed in
    /// time sets `stop` too: the work stops before the lease can end.
    pub fn acquire(
        broker: &BrokerSettings,
        name: &str,
        holder: &str,
        ttl: Duration,
        stop: &Arc<AtomicBool>,
        mut standby: impl FnMut(&str),
    ) -> Result<Option<Lease>> {
        let key = key(name);
        let ms = ttl.as_millis().max(1).to_string();
        let mut told = false;
        while !stop.load(Ordering::SeqCst) {
            // A broker that is away is waited out like any other reader's.
            match Redis::connect(broker, "") {
                Ok(mut redis) => match take(&mut redis, &key, holder, &ms) {
                    Ok(None) => return Ok(Some(Lease::start(broker, key, holder, ttl, stop))),
                    Ok(Some(other)) => {
                        if !told {
                            standby(&other);
                            told = true;
                        }
                    }
                    Err(e) if crate::log::redis::client::is_refusal(&e) => {
                        return Err(failure(&key, redis.shown(), &e));
                    }
                    Err(_) => {}
                },
                Err(e) if e.exit == Exit::Usage => return Err(e),
                Err(_) => {}
            }
            sleep_unless(stop, ttl / 3);
        }
        Ok(None)
    }

    /// For a command run from cron on each server (`sd-query alerts`):
    /// takes the lease, or renews it when this holder has it, for `ttl`
    /// from now — longer than the time between runs, so the holder keeps
    /// it from run to run and the other server's runs stand by, until
    /// the holder has not run for `ttl`. `Some(holder)`: someone else's.
    pub fn hold_between_runs(
        broker: &BrokerSettings,
        name: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<Option<String>> {
        let key = key(name);
        let ms = ttl.as_millis().max(1).to_string();
        let mut redis = Redis::connect(broker, "")?;
        take(&mut redis, &key, holder, &ms).map_err(|e| failure(&key, redis.shown(), &e))
    }

    fn start(
        broker: &BrokerSettings,
        key: String,
        holder: &str,
        ttl: Duration,
        stop: &Arc<AtomicBool>,
    ) -> Lease {
        let lost = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicBool::new(false));
        let renewer = {
            let (lost, done, stop) = (Arc::clone(&lost), Arc::clone(&done), Arc::clone(stop));
            let (broker, key, holder) = (broker.clone(), key.clone(), holder.to_string());
            std::thread::spawn(move || {
                renew(&broker, &key, &holder, ttl, &done);
                // Stopped renewing before being let go: the lease is lost.
                if !done.load(Ordering::SeqCst) {
                    lost.store(true, Ordering::SeqCst);
                    stop.store(true, Ordering::SeqCst);
                }
            })
        };
        Lease {
            lost,
            done,
            renewer: Some(renewer),
            broker: broker.clone(),
            key,
            holder: holder.to_string(),
        }
    }

    /// Set once the lease could not be renewed in time: stop working.
    pub fn lost(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.lost)
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.done.store(true, Ordering::SeqCst);
        if let Some(renewer) = self.renewer.take() {
            let _ = renewer.join();
        }
        if !self.lost.load(Ordering::SeqCst)
            && let Ok(mut redis) = Redis::connect(&self.broker, "")
        {
            let _ = redis.admin(&["EVAL", RELEASE, "1", &self.key, &self.holder]);
        }
    }
}

/// Renews every third of the lease until `done`; returns early when the
/// lease is someone else's or could not be renewed for two thirds of it,
/// before it can have ended.
fn renew(broker: &BrokerSettings, key: &str, holder: &str, ttl: Duration, done: &AtomicBool) {
    let ms = ttl.as_millis().max(1).to_string();
    let mut renewed = Instant::now();
    let mut redis: Option<Redis> = None;
    while !done.load(Ordering::SeqCst) {
        sleep_unless(done, ttl / 3);
        if done.load(Ordering::SeqCst) {
            return;
        }
        if redis.is_none() {
            redis = Redis::connect(broker, "").ok();
        }
        let answer = redis
            .as_mut()
            .map(|r| r.admin(&["EVAL", RENEW, "1", key, holder, &ms]));
        match answer {
            Some(Ok(redis::Value::Int(1))) => renewed = Instant::now(),
            Some(Ok(_)) => return,
            Some(Err(_)) | None => redis = None,
        }
        if renewed.elapsed() >= ttl * 2 / 3 {
            return;
        }
    }
}

fn sleep_unless(flag: &AtomicBool, how_long: Duration) {
    let until = Instant::now() + how_long;
    while !flag.load(Ordering::SeqCst) && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50).min(until - Instant::now()));
    }
}
