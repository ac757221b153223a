//! The log's contract (docs/ARCHITECTURE.md §2), one body per clause, run
//! against each engine: Redis Streams (a redis-server of the test's own)
//! and this machine's SQLite spool. The library's `Log` is asked directly
//! where the clause is the log's; the commands are run where the clause
//! is what a user sees (dead letters, `sd-order --wait`).

use crate::util::nats::NatsServer;
use crate::util::redis::RedisServer;
use crate::util::{TestEnv, bin, wait_until};
use sheepdog::config::{CommonArgs, ConfigArgs, Settings};
use sheepdog::log::{Aside, Entry, Group, Log, Patience, Reconnecting};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

const EVENTS: &str = "sheepdog:events";
const WAIT: Duration = Duration::from_millis(200);

/// One engine, in a test's private world.
struct Engine {
    env: TestEnv,
    redis: Option<RedisServer>,
    nats: Option<NatsServer>,
}

impl Engine {
    fn redis() -> Engine {
        let mut env = TestEnv::new();
        let redis = RedisServer::start(env.path("redis"));
        env.set("SD_BROKER", redis.url());
        Engine {
            env,
            redis: Some(redis),
            nats: None,
        }
    }

    fn nats() -> Engine {
        let mut env = TestEnv::new();
        let nats = NatsServer::start(env.path("nats"));
        env.set("SD_BROKER", nats.url());
        Engine {
            env,
            redis: None,
            nats: Some(nats),
        }
    }

    fn spool() -> Engine {
        Engine {
            env: TestEnv::new(),
            redis: None,
            nats: None,
        }
    }

    fn settings(&self) -> Settings {
        let args = CommonArgs {
            broker: self
                .redis
                .as_ref()
                .map(RedisServer::url)
                .or_else(|| self.nats.as_ref().map(NatsServer::url)),
            spool: Some(self.env.path("state/spool.db")),
            base: ConfigArgs {
                config: Some(self.env.path("config/sheepdog/sheepdog.toml")),
                quiet: true,
            },
            ..CommonArgs::default()
        };
        Settings::from_args(&args, false).expect("settings")
    }

    fn open(&self, stream: &str) -> Box<dyn Log> {
        self.settings().log().open(stream).expect("the log opens")
    }

    /// The engine goes away and comes back: Redis restarts without
    /// persistence (its stream and groups gone); nats-server restarts with
    /// its store; the spool is a file, closed and opened again.
    fn restart(&mut self) {
        if let Some(redis) = &mut self.redis {
            redis.restart();
        }
        if let Some(nats) = &mut self.nats {
            nats.restart();
        }
    }

    /// How many entries were set aside.
    fn set_aside(&self) -> i64 {
        if self.nats.is_some() {
            let mut dead = self.open("sheepdog:dead");
            return dead.read_after("0", 1000, WAIT).unwrap().len() as i64;
        }
        match &self.redis {
            Some(redis) => redis
                .cli(&["XLEN", "sheepdog:dead"])
                .unwrap_or_default()
                .trim()
                .parse()
                .unwrap(),
            None => rusqlite::Connection::open(self.env.path("state/spool.db"))
                .unwrap()
                .query_row("SELECT count(*) FROM dead", [], |r| r.get(0))
                .unwrap(),
        }
    }
}

fn append(log: &mut dyn Log, lines: &[&str]) {
    assert_eq!(log.append(&mut lines.iter().copied()).unwrap(), lines.len());
}

fn texts(entries: &[Entry]) -> Vec<&str> {
    entries.iter().filter_map(|e| e.text.as_deref()).collect()
}

fn ids(entries: &[Entry]) -> Vec<String> {
    entries.iter().map(|e| e.id.clone()).collect()
}

/// Each clause, once per engine.
macro_rules! contract {
    ($($clause:ident),* $(,)?) => {
        mod on_redis {
            $(#[test]
            fn $clause() {
                super::$clause(&mut super::Engine::redis());
            })*
        }
        mod on_the_spool {
            $(#[test]
            fn $clause() {
                super::$clause(&mut super::Engine::spool());
            })*
        }
        mod on_nats {
            $(#[test]
            fn $clause() {
                super::$clause(&mut super::Engine::nats());
            })*
        }
    };
}

contract!(
    appends_and_reads_back_in_order,
    redelivers_what_was_not_acknowledged,
    a_dead_consumers_entries_are_claimed,
    what_is_set_aside_is_kept_with_its_reason_and_acknowledged,
    trims_never_below_a_group,
    a_retired_group_holds_nothing_back,
    follows_without_a_group_from_now,
    orders_reach_their_host_only,
    a_reader_carries_on_after_the_engine_restarts,
    an_event_no_handler_finishes_goes_to_the_dead_letters,
    order_wait_answers_while_the_store_receives,
);

fn appends_and_reads_back_in_order(engine: &mut Engine) {
    let mut log = engine.open(EVENTS);
    log.ensure_group("g", false).unwrap();
    append(&mut *log, &[r#"{"n":1}"#, r#"{"n":2}"#, r#"{"n":3}"#]);
    let got = log.read_group("g", "c", 10, WAIT).unwrap();
    assert_eq!(texts(&got), [r#"{"n":1}"#, r#"{"n":2}"#, r#"{"n":3}"#]);
    assert!(got.iter().all(|e| e.time_ms().is_some()), "{got:?}");
    log.ack("g", &ids(&got)).unwrap();
    assert!(log.read_group("g", "c", 10, WAIT).unwrap().is_empty());
    // A group made from now on sees only what comes next.
    log.ensure_group("late", true).unwrap();
    append(&mut *log, &[r#"{"n":4}"#]);
    let late = log.read_group("late", "c", 10, WAIT).unwrap();
    assert_eq!(texts(&late), [r#"{"n":4}"#]);
}

fn redelivers_what_was_not_acknowledged(engine: &mut Engine) {
    let mut log = engine.open(EVENTS);
    log.ensure_group("g", false).unwrap();
    append(&mut *log, &["{\"n\":1}", "{\"n\":2}"]);
    let first = log.read_group("g", "c", 10, WAIT).unwrap();
    assert_eq!(first.len(), 2);
    // The consumer died before acknowledging: started again, it gets
    // what it was given, and nothing new is there.
    drop(log);
    let mut log = engine.open(EVENTS);
    if engine.nats.is_some() {
        // JetStream: a group's messages are no consumer's own; what the
        // dead one held comes back to the group after the ack wait
        // (--claim-idle), to whoever reads first.
        assert!(log.read_own_pending("g", "c", "0", 10).unwrap().is_empty());
        let idle = Duration::from_millis(300);
        let mut again = Vec::new();
        assert!(wait_until(5, || {
            again.extend(log.claim_idle("g", "c", idle, 10).unwrap());
            again.len() == 2
        }));
        assert_eq!(ids(&again), ids(&first));
        assert!(again.iter().all(|e| e.deliveries == 2), "{again:?}");
        log.ack("g", &ids(&again)).unwrap();
        std::thread::sleep(idle * 2);
        assert!(log.claim_idle("g", "c", idle, 10).unwrap().is_empty());
        return;
    }
    let again = log.read_own_pending("g", "c", "0", 10).unwrap();
    assert_eq!(ids(&again), ids(&first));
    assert!(again.iter().all(|e| e.deliveries == 2), "{again:?}");
    // Page by page: after the first, the second (delivered a third time).
    let rest = log.read_own_pending("g", "c", &again[0].id, 10).unwrap();
    assert_eq!(ids(&rest), ids(&first)[1..]);
    assert_eq!(rest[0].deliveries, 3);
    assert!(
        log.read_own_pending("g", "c", &again[1].id, 10)
            .unwrap()
            .is_empty()
    );
    assert!(log.read_group("g", "c", 10, WAIT).unwrap().is_empty());
    log.ack("g", &ids(&again)).unwrap();
    assert!(log.read_own_pending("g", "c", "0", 10).unwrap().is_empty());
}

fn a_dead_consumers_entries_are_claimed(engine: &mut Engine) {
    let mut log = engine.open(EVENTS);
    log.ensure_group("g", false).unwrap();
    append(&mut *log, &["{\"n\":1}", "{\"n\":2}"]);
    let dead = log.read_group("g", "dead", 10, WAIT).unwrap();
    assert_eq!(dead.len(), 2);
    // Not idle long enough yet: nothing to take over.
    let idle = Duration::from_millis(300);
    assert!(log.claim_idle("g", "alive", idle, 10).unwrap().is_empty());
    std::thread::sleep(idle + Duration::from_millis(50));
    let claimed = log.claim_idle("g", "alive", idle, 10).unwrap();
    assert_eq!(ids(&claimed), ids(&dead));
    assert!(claimed.iter().all(|e| e.deliveries == 2), "{claimed:?}");
    log.ack("g", &ids(&claimed)).unwrap();
    std::thread::sleep(idle + Duration::from_millis(50));
    assert!(log.claim_idle("g", "other", idle, 10).unwrap().is_empty());
}

fn what_is_set_aside_is_kept_with_its_reason_and_acknowledged(engine: &mut Engine) {
    let mut log = engine.open(EVENTS);
    log.ensure_group("g", false).unwrap();
    append(&mut *log, &["not json"]);
    let got = log.read_group("g", "c", 10, WAIT).unwrap();
    log.set_aside(Aside::Dead, "g", &got[0], "why: not an event")
        .unwrap();
    assert!(log.read_own_pending("g", "c", "0", 10).unwrap().is_empty());
    assert_eq!(engine.set_aside(), 1);
}

fn trims_never_below_a_group(engine: &mut Engine) {
    let mut log = engine.open(EVENTS);
    log.ensure_group("fast", false).unwrap();
    log.ensure_group("slow", false).unwrap();
    append(&mut *log, &["{\"n\":1}", "{\"n\":2}", "{\"n\":3}"]);
    let fast = log.read_group("fast", "c", 10, WAIT).unwrap();
    log.ack("fast", &ids(&fast)).unwrap();
    log.trim().unwrap();
    // The slow group still gets all three.
    let slow = log.read_group("slow", "c", 10, WAIT).unwrap();
    assert_eq!(slow.len(), 3);
    log.trim().unwrap();
    if engine.nats.is_none() {
        let slow_again = log.read_own_pending("slow", "c", "0", 10).unwrap();
        assert_eq!(ids(&slow_again), ids(&slow), "pending entries are kept");
    }
    log.ack("slow", &ids(&slow)).unwrap();
    let states = log.trim().unwrap();
    assert!(
        states
            .iter()
            .all(|s| s.pending == 0 && s.lag.unwrap_or(0) == 0),
        "{states:?}"
    );
    // Everyone is done: a new group from the start finds nothing left
    // (JetStream keeps the newest, so that a server killed after the trim
    // numbers on from it).
    log.ensure_group("new", false).unwrap();
    let left = log.read_group("new", "c", 10, WAIT).unwrap();
    match engine.nats {
        Some(_) => assert_eq!(texts(&left), [r#"{"n":3}"#]),
        None => assert!(left.is_empty(), "{left:?}"),
    }
}

fn a_retired_group_holds_nothing_back(engine: &mut Engine) {
    let mut log = engine.open(EVENTS);
    log.ensure_group("once", false).unwrap();
    log.ensure_group("kept", false).unwrap();
    append(&mut *log, &["{\"n\":1}"]);
    let names = |log: &mut dyn Log| -> Vec<String> {
        log.groups().unwrap().into_iter().map(|g| g.name).collect()
    };
    assert_eq!(names(&mut *log), ["kept", "once"]);
    let held = log.groups().unwrap()[1].held_back();
    assert_eq!(held, 1);
    assert!(log.retire_group("once").unwrap());
    assert!(!log.retire_group("once").unwrap(), "retired already");
    assert_eq!(names(&mut *log), ["kept"]);
}

fn follows_without_a_group_from_now(engine: &mut Engine) {
    let mut log = engine.open(EVENTS);
    append(&mut *log, &["{\"old\":1}"]);
    let last = log.last_id().unwrap();
    append(&mut *log, &["{\"n\":1}", "{\"n\":2}"]);
    let got = log.read_after(&last, 10, WAIT).unwrap();
    assert_eq!(texts(&got), ["{\"n\":1}", "{\"n\":2}"]);
    let newest = got.last().unwrap().id.clone();
    assert!(log.read_after(&newest, 10, WAIT).unwrap().is_empty());
    // Following acknowledges nothing: a group reads everything still.
    log.ensure_group("g", false).unwrap();
    assert_eq!(log.read_group("g", "c", 10, WAIT).unwrap().len(), 3);
}

fn orders_reach_their_host_only(engine: &mut Engine) {
    let key = engine.env.path("orders.key");
    engine
        .env
        .cmd("sd-order")
        .arg("keygen")
        .arg(&key)
        .expect_code(0);
    for (host, name) in [("tux02", "b"), ("tux01", "a")] {
        engine
            .env
            .cmd("sd-order")
            .arg("--key-file")
            .arg(&key)
            .args(["--host", host, "touch"])
            .arg(format!("name={name}"))
            .expect_code(0);
    }
    // A host's orders log, and what its sd-obey group reads of it.
    let obey = |host: &str| {
        let mut orders = engine.open(&sheepdog::log::orders::stream_for(host));
        orders
            .ensure_group(sheepdog::log::orders::OBEY_GROUP, false)
            .unwrap();
        let got = orders
            .read_group(
                sheepdog::log::orders::OBEY_GROUP,
                &format!("obey-{host}"),
                10,
                WAIT,
            )
            .unwrap();
        (orders, got)
    };
    let (mut orders, got) = obey("tux01");
    assert_eq!(got.len(), 1, "{got:?}");
    let order: serde_json::Value = serde_json::from_str(got[0].text.as_deref().unwrap()).unwrap();
    assert_eq!(order["host"], "tux01");
    assert_eq!(order["args"]["name"], "a");
    assert!(got[0].sig.is_some() && got[0].key.is_some(), "{got:?}");
    // tux01 done with its orders trims them; tux02's stay (on NATS every
    // host's orders share one stream).
    orders
        .ack(sheepdog::log::orders::OBEY_GROUP, &ids(&got))
        .unwrap();
    orders.trim().unwrap();
    let (_, got) = obey("tux02");
    assert_eq!(got.len(), 1, "{got:?}");
}

fn a_reader_carries_on_after_the_engine_restarts(engine: &mut Engine) {
    let group = Group {
        name: "g".into(),
        consumer: "c".into(),
        from_now: false,
    };
    let mut reader = Reconnecting::open(
        &engine.settings().log(),
        EVENTS,
        Some(group),
        Patience::Tries(20),
        Arc::new(AtomicBool::new(false)),
        true,
    )
    .unwrap();
    append(&mut *engine.open(EVENTS), &["{\"n\":1}"]);
    let first = reader
        .with(|log| log.read_group("g", "c", 10, WAIT))
        .unwrap();
    assert_eq!(texts(&first), ["{\"n\":1}"]);
    reader.with(|log| log.ack("g", &ids(&first))).unwrap();
    engine.restart();
    append(&mut *engine.open(EVENTS), &["{\"n\":2}"]);
    // The group is made again where the engine lost it, and the reader
    // gets what came after the restart.
    let mut after = Vec::new();
    assert!(wait_until(20, || {
        after.extend(
            reader
                .with(|log| log.read_group("g", "c", 10, WAIT))
                .unwrap(),
        );
        after.iter().any(|e| e.text.as_deref() == Some("{\"n\":2}"))
    }));
    // A killed nats-server may have lost the last acknowledgements (it
    // writes consumer state behind): what was done may come once more.
    if engine.nats.is_some() {
        after.retain(|e| e.text.as_deref() != Some("{\"n\":1}"));
    }
    assert_eq!(texts(&after), ["{\"n\":2}"]);
}

fn an_event_no_handler_finishes_goes_to_the_dead_letters(engine: &mut Engine) {
    let env = &engine.env;
    env.cmd("sd-bark")
        .args(["--tag", "t", "--status", "fail"])
        .expect_code(0);
    // The handler takes the event and dies without echoing it, twice.
    let run = env
        .cmd("sd-recv")
        .args(["--group", "h", "--once", "--max-deliveries", "2"])
        .args(["--", "sh", "-c", "read line; exit 1"])
        .expect_code(65);
    assert!(run.stderr().contains("dead letters"), "{}", run.report());
    assert_eq!(engine.set_aside(), 1, "{}", run.report());
    // Set aside is done with: the next run has nothing to do.
    env.cmd("sd-recv")
        .args(["--group", "h", "--once", "--", "cat"])
        .expect_code(0);
}

/// `sd-order --wait` reads the answers from the events stream while the
/// server's receiver stores (and trims) them: it must still see every
/// answer, and leave no group of its own behind.
fn order_wait_answers_while_the_store_receives(engine: &mut Engine) {
    let env = &engine.env;
    let key = env.path("orders.key");
    env.cmd("sd-order").arg("keygen").arg(&key).expect_code(0);
    let dir = env.path("tux01");
    std::fs::create_dir_all(&dir).unwrap();
    let config = env.path("tux01.toml");
    std::fs::write(
        &config,
        format!(
            "[obey]\nhost = \"tux01\"\ntrusted_keys = [\"{}.pub\"]\nledger = \"{}\"\n\n\
             [[action]]\nname = \"touch\"\ncmd = [\"touch\", \"{}/{{name}}\"]\n\
             args = {{ name = \"word\" }}\n",
            key.display(),
            env.path("tux01.ledger.db").display(),
            dir.display()
        ),
    )
    .unwrap();
    let store = crate::util::Background::new(
        env.cmd("sd-recv")
            .args(["--group", "store", "--", bin("sd-store"), "--echo"])
            .arg(env.path("events.db"))
            .own_group()
            .spawn_to(&env.path("store.out"), &env.path("store.err")),
    );
    let obeying = crate::util::Background::new(
        env.external("sh", "sd-obey | sd-bark")
            .arg("-c")
            .arg(format!(
                "exec {} --config {} | {}",
                bin("sd-obey"),
                config.display(),
                bin("sd-bark")
            ))
            .own_group()
            .spawn_to(&env.path("obey.out"), &env.path("obey.err")),
    );
    for name in ["w1", "w2", "w3"] {
        let run = env
            .cmd("sd-order")
            .arg("--key-file")
            .arg(&key)
            .args(["--host", "tux01", "--wait", "30s", "touch"])
            .arg(format!("name={name}"))
            .run();
        assert_eq!(run.code(), Some(0), "{}", run.report());
        let answers: Vec<serde_json::Value> = run.lines();
        assert_eq!(
            answers.len(),
            2,
            "the order and its answer: {}",
            run.report()
        );
        assert_eq!(answers[1]["status"], "ok");
    }
    obeying.terminate();
    store.terminate();
    // The waits left no group of their own behind.
    let groups = env.cmd("sd-recv").arg("--groups").expect_code(0).stdout();
    assert_eq!(groups.lines().count(), 1, "{groups}");
}
