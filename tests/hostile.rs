//! One corpus of bad input fed to every command that reads events on
//! stdin: garbage bytes, invalid UTF-8, a 100 MB line, JSON nested 100,000
//! deep, NUL bytes, CR/LF inside fields and at line ends. No crash,
//! bounded memory, each bad line named, every good line kept.

use crate::util::TestEnv;

fn good(id: &str) -> String {
    format!(
        r#"{{"v":1,"id":"{id}","time":"{}","host":"h","tag":"t","status":"fail","msg":"line one\r\nline two"}}"#,
        sheepdog::base::time::format_ms(sheepdog::base::time::now_ms())
    )
}

fn corpus() -> Vec<u8> {
    let mut input = (good("g1") + "\n").into_bytes();
    input.extend(std::iter::repeat_n(b'x', 100 * 1024 * 1024)); // line 2: 100 MB
    input.push(b'\n');
    input.extend_from_slice(b"{\"tag\":\"nul\0inside\"}\n"); // 3: NUL
    input.extend_from_slice(b"\x00\x01\x02\xff garbage\r\n"); // 4: not UTF-8
    input.extend_from_slice(format!("{{\"a\":{}}}\n", "[".repeat(100_000)).as_bytes()); // 5
    input.extend_from_slice((good("g2") + "\r\n").as_bytes()); // 6: CRLF line end, kept
    input.extend_from_slice(b"\xc3\x28\n"); // 7: invalid UTF-8 sequence
    input.extend_from_slice(b"[1, 2, 3]\n"); // 8: JSON, not an object
    input.extend_from_slice((good("g3") + "\n").as_bytes());
    input
}

#[test]
fn every_reader_of_events_names_bad_lines_keeps_good_ones_in_bounded_memory() {
    let env = TestEnv::new();
    let input = corpus();
    let runs: [(&str, Vec<String>); 3] = [
        ("sd-bark", vec![]),
        (
            "sd-store",
            vec!["--echo".into(), env.path("events.db").display().to_string()],
        ),
        (
            "sd-mail",
            vec![
                "--echo".into(),
                "--dry-run".into(),
                "--to".into(),
                "admin@example.org".into(),
                "--group-wait".into(),
                "0s".into(),
            ],
        ),
    ];
    for (program, args) in runs {
        let rss_file = env.path(&format!("{program}.rss"));
        let run = env
            .external("/usr/bin/time", program)
            .args(["-f", "%M", "-o"])
            .arg(&rss_file)
            .arg(crate::util::bin(program))
            .args(&args)
            .stdin(input.clone())
            .run();
        assert_eq!(run.code(), Some(65), "{program}: {}", run.report());
        let stderr = run.stderr();
        for (line, cause) in [
            (2, "event of 100 MiB is larger than the limit of 1 MiB"),
            (3, "invalid JSON"),
            (4, "not UTF-8"),
            (5, "recursion limit"),
            (7, "not UTF-8"),
            (8, "expected a JSON object"),
        ] {
            let wanted = format!("{program}: line {line}: ");
            assert!(
                stderr
                    .lines()
                    .any(|l| l.starts_with(&wanted) && l.contains(cause)),
                "{program}: line {line} ({cause}) not named in:\n{stderr}"
            );
        }
        let peak_kib: u64 = std::fs::read_to_string(&rss_file)
            .unwrap()
            .trim()
            .lines()
            .last()
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            peak_kib < 64 * 1024,
            "{program} used {peak_kib} KiB for a 100 MB line"
        );
        if program != "sd-bark" {
            let echoed = run.ids();
            assert_eq!(echoed, ["g1", "g2", "g3"], "{program}");
        }
    }
    let kept = env
        .cmd("sd-recv")
        .args(["--group", "g", "--once"])
        .expect_code(0);
    let msgs: Vec<serde_json::Value> = kept
        .stdout()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ids: Vec<&str> = msgs.iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["g1", "g2", "g3"], "the good events, and only they");
    assert_eq!(
        msgs[1]["msg"], "line one\r\nline two",
        "CR/LF inside a field is kept as is"
    );
}
