//! Run durations, wired as the crontab wires them: runs reach the store
//! through sd-bark, Redis and sd-recv; `sd-expect --slower/--faster |
//! sd-bark` judges the latest against the usual and its verdict goes back
//! into the store; the next normal run clears it; `sd-query durations`
//! reports the same.

use crate::util::TestEnv;
use crate::util::redis::RedisServer;
use serde_json::Value;

const MIN: i64 = 60_000;

fn run_event(id: &str, hours_ago: i64, elapsed_ms: i64, status: &str) -> String {
    let time = sheepdog::base::time::now_ms() - hours_ago * 3_600_000;
    format!(
        r#"{{"v":1,"id":"{id}","time":"{}","host":"tux01","tag":"BORG","kind":"run","status":"{status}","elapsed_ms":{elapsed_ms},"cmd":["borg","create"]}}"#,
        sheepdog::base::time::format_ms(time)
    ) + "\n"
}

#[test]
fn an_unusual_run_is_warned_about_once_and_cleared_by_the_next() {
    let mut env = TestEnv::new();
    let redis = RedisServer::start(env.path("redis"));
    env.set("SD_BROKER", redis.url());
    let db = env.path("events.db");
    let bark = |lines: String| {
        env.cmd("sd-bark").stdin(lines).expect_code(0);
        env.receive_into(&db);
    };
    let judge = || {
        let run = env
            .cmd("sd-expect")
            .args(["--tag", "BORG", "--slower", "3x", "--faster", "0.1x"])
            .arg(&db)
            .expect_code(0);
        let verdicts: Vec<Value> = run.lines();
        bark(run.stdout());
        verdicts
    };
    let board = || -> String {
        let rows: Vec<Value> = env
            .cmd("sd-query")
            .arg(&db)
            .args(["status", "--tag", "BORG"])
            .expect_code(0)
            .lines();
        rows[0]["status"].as_str().unwrap().to_string()
    };

    // Ten nights of about 40 minutes; one failed at once (not counted).
    let mut nights = String::new();
    for n in 0..10 {
        nights += &run_event(&format!("r{n}"), 240 - n * 24, 40 * MIN + n * 1000, "ok");
    }
    nights += &run_event("failed", 10, 2_000, "fail");
    bark(nights);
    assert!(judge().is_empty(), "nothing unusual yet");

    // A backup that "succeeds" in one second.
    bark(run_event("quick", 5, 1_000, "ok"));
    let verdicts = judge();
    assert_eq!(verdicts.len(), 1, "{verdicts:?}");
    let v = &verdicts[0];
    assert_eq!(
        (&v["status"], &v["kind"], &v["reason"], &v["run"]),
        (
            &Value::from("warn"),
            &Value::from("duration"),
            &Value::from("fast"),
            &Value::from("quick")
        )
    );
    assert!(v["msg"].as_str().unwrap().contains("took 1s"), "{v}");
    assert_eq!(board(), "warn");
    assert!(
        judge().is_empty(),
        "said once, not at every run of the switch"
    );
    let report: Vec<Value> = env
        .cmd("sd-query")
        .arg(&db)
        .args(["durations", "--tag", "BORG"])
        .expect_code(0)
        .lines();
    assert_eq!(report.len(), 1);
    assert_eq!(report[0]["runs"], 11);
    assert_eq!(report[0]["last_ms"], 1_000);
    assert_eq!(report[0]["outlier"], "fast");
    assert_eq!(report[0]["median_ms"], 40 * MIN + 4_000);

    // The next run is normal: its own ok clears the warning.
    bark(run_event("normal", 4, 41 * MIN, "ok"));
    assert_eq!(board(), "ok");
    assert!(judge().is_empty());

    // One that takes far longer than usual.
    bark(run_event("slow", 3, 200 * MIN, "ok"));
    let verdicts = judge();
    assert_eq!(verdicts.len(), 1, "{verdicts:?}");
    assert_eq!(verdicts[0]["reason"], "slow");
    assert_eq!(board(), "warn");

    // The switch's verdicts are no runs: its own deadline is still kept by
    // the job alone.
    let fresh = env
        .cmd("sd-expect")
        .args(["--tag", "BORG", "--within", "4h"])
        .arg(&db)
        .expect_code(0);
    assert!(
        fresh.stdout().contains("\"reason\":\"fresh\""),
        "{}",
        fresh.report()
    );
    let none = env
        .cmd("sd-expect")
        .args(["--tag", "BORG"])
        .arg(&db)
        .expect_code(2);
    assert!(
        none.stderr().contains("what is expected?"),
        "{}",
        none.report()
    );
}
