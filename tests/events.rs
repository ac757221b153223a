//! Golden cases for the event rules (docs/ARCHITECTURE.md §1): each folder under
//! tests/fixtures/events holds `in.jsonl`, the `out.jsonl` the parser,
//! normaliser and stamper must make of it, `err.txt` with the rejected
//! lines (absent when none are), and optionally `limit`, the event size
//! limit in bytes. Stamped ids and times vary, so a stamped id is written
//! `<ulid>` and a stamped time `<now>`, after checking they are right.
//! Regenerate with `SD_UPDATE_FIXTURES=1 cargo test golden` and review the
//! diff.

use sheepdog::event::lines::{EventReader, Item};
use sheepdog::event::{DEFAULT_MAX_EVENT_BYTES, Event};
use std::path::Path;

#[test]
fn golden_event_fixtures() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/events");
    let update = std::env::var_os("SD_UPDATE_FIXTURES").is_some();
    let mut cases: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    cases.sort();
    assert!(
        cases.len() >= 8,
        "fixtures missing under {}",
        root.display()
    );
    let mut failures = Vec::new();
    for case in cases {
        let input = std::fs::read(case.join("in.jsonl")).unwrap();
        let limit = std::fs::read_to_string(case.join("limit"))
            .map(|t| t.trim().parse().unwrap())
            .unwrap_or(DEFAULT_MAX_EVENT_BYTES);
        let (out, err) = process(&input, limit);
        if update {
            std::fs::write(case.join("out.jsonl"), &out).unwrap();
            if err.is_empty() {
                let _ = std::fs::remove_file(case.join("err.txt"));
            } else {
                std::fs::write(case.join("err.txt"), &err).unwrap();
            }
            continue;
        }
        let want_out = std::fs::read_to_string(case.join("out.jsonl")).unwrap_or_default();
        let want_err = std::fs::read_to_string(case.join("err.txt")).unwrap_or_default();
        if out != want_out || err != want_err {
            failures.push(format!(
                "{}:\n--- got out ---\n{out}--- want out ---\n{want_out}--- got err ---\n{err}--- want err ---\n{want_err}",
                case.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn process(input: &[u8], limit: usize) -> (String, String) {
    let mut reader = EventReader::new(input, limit);
    let (mut out, mut err) = (String::new(), String::new());
    let before = sheepdog::base::time::now_ms();
    while let Some((number, item)) = reader.next_item(&|event: Event| event).unwrap() {
        match item {
            Item::Event(mut event) => {
                let had_id = event.get("id").is_some();
                let had_time = event.get("time").is_some();
                event.stamp("tux01");
                if !had_id {
                    assert!(ulid::Ulid::from_string(event.id().unwrap()).is_ok());
                    event.set("id", "<ulid>");
                }
                if !had_time {
                    let ms = event.time_ms().unwrap();
                    assert!(ms >= before && ms <= sheepdog::base::time::now_ms());
                    event.set("time", "<now>");
                }
                out.push_str(&event.to_line());
                out.push('\n');
            }
            Item::Rejected(why) => err.push_str(&format!("line {number}: {why}\n")),
            Item::Blank => {}
        }
    }
    (out, err)
}
