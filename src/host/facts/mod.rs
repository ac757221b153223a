//! `sd-facts`: one `facts` event with the machine's indicators, and a
//! `warn` event for each threshold it is past (what the earlier
//! sheepdog's storage check did) — and an `ok` for each it is under, so a
//! warning clears when the disk is fine again — so `sd-query --fact` can pick machines
//! by what they are and what they run.

mod gather;

use crate::base::error::Result;
use crate::base::exit::Exit;
use crate::base::{cli, ident};
use crate::event::{Event, Status};
use clap::{ArgMatches, Parser};
use serde_json::{Map, Value};

const LONG_ABOUT: &str = "\
Print one event (kind facts, status info) with the machine's indicators: \
hostname, os, kernel, uptime_s, load1, load5, load15, cpus, \
mem_total_bytes, mem_available_bytes, swap_total_bytes, swap_free_bytes, \
disk.MOUNT.size_bytes and disk.MOUNT.used_pct for every real filesystem, and \
pkg.NAME for installed packages (the version as the package manager prints \
it: dpkg, rpm, apk or Guix, whichever exists).

With thresholds, an event follows for each value watched: `warn` when it \
is past its threshold (tag disk:MOUNT, mem or load), `ok` when it is not, \
which clears an earlier warning of the same tag on the board and in mail. \
Pipe into sd-bark; sd-store keeps each host's latest \
facts for `sd-query --fact`.";

#[derive(Debug, Parser)]
#[command(name = "sd-facts", version, about = "Report the machine's indicators as a facts event", long_about = LONG_ABOUT)]
pub struct Args {
    /// Only these packages (comma-separated); all of them without it.
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub packages: Option<Vec<String>>,

    /// Report no packages at all.
    #[arg(long, conflicts_with = "packages")]
    pub no_packages: bool,

    /// Warn for each filesystem used more than this (90%).
    #[arg(long, value_name = "PCT", value_parser = parse_pct)]
    pub disk_warn: Option<f64>,

    /// Warn when more than this much memory is in use (95%).
    #[arg(long, value_name = "PCT", value_parser = parse_pct)]
    pub mem_warn: Option<f64>,

    /// Warn when the one-minute load is above this (8).
    #[arg(long, value_name = "LOAD")]
    pub load_warn: Option<f64>,

    /// The tag of the facts event.
    #[arg(long, value_name = "TAG", default_value = "facts")]
    pub tag: String,
}

fn parse_pct(text: &str) -> Result<f64, String> {
    let number = text.trim().trim_end_matches('%');
    match number.parse::<f64>() {
        Ok(p) if (0.0..=100.0).contains(&p) => Ok(p),
        _ => Err(format!("`{text}` is not a percentage (try 90%)")),
    }
}

pub fn run(args: Args, _: &ArgMatches) -> Result<Exit> {
    let host = ident::short_hostname();
    let mut facts = Map::new();
    gather::system(&mut facts);
    let disks = gather::disks();
    for disk in &disks {
        facts.insert(
            format!("disk.{}.size_bytes", disk.mount),
            disk.size_bytes.into(),
        );
        facts.insert(
            format!("disk.{}.used_pct", disk.mount),
            disk.used_pct.into(),
        );
    }
    if !args.no_packages {
        for (name, version) in gather::packages(args.packages.as_deref()) {
            facts.insert(format!("pkg.{name}"), version.into());
        }
    }

    let mut events = Vec::new();
    let mut report = Event::report(&host, &args.tag, "facts", Status::Info);
    report.set("msg", format!("facts of {host}: {} values", facts.len()));
    let readings = thresholds(&args, &facts, &disks);
    report.set("facts", Value::Object(facts));
    events.push(report);
    for reading in readings {
        let (status, reason) = match reading.over {
            true => (Status::Warn, reading.reason),
            false => (Status::Ok, "normal"),
        };
        let mut event = Event::report(&host, &reading.tag, "facts", status);
        event.set("reason", reason).set("msg", reading.msg);
        events.push(event);
    }
    cli::print_events(&events)?;
    Ok(Exit::Ok)
}

/// One watched value against its threshold.
struct Reading {
    tag: String,
    /// Past the threshold: a `warn`; otherwise an `ok` that clears an
    /// earlier warning of the same tag (docs/ARCHITECTURE.md §1).
    over: bool,
    reason: &'static str,
    msg: String,
}

/// A reading for each threshold asked for, over it or not.
fn thresholds(args: &Args, facts: &Map<String, Value>, disks: &[gather::Disk]) -> Vec<Reading> {
    let number = |name: &str| facts.get(name).and_then(Value::as_f64);
    let mut readings = Vec::new();
    if let Some(limit) = args.disk_warn {
        for disk in disks {
            let over = disk.used_pct > limit;
            readings.push(Reading {
                tag: format!("disk:{}", disk.mount),
                over,
                reason: "disk-full",
                msg: format!(
                    "{} is {:.1}% full ({} {limit}%)",
                    disk.mount,
                    disk.used_pct,
                    if over { "more than" } else { "at most" }
                ),
            });
        }
    }
    if let (Some(limit), Some(total), Some(available)) = (
        args.mem_warn,
        number("mem_total_bytes"),
        number("mem_available_bytes"),
    ) && total > 0.0
    {
        let used = 100.0 * (total - available) / total;
        let over = used > limit;
        readings.push(Reading {
            tag: "mem".to_string(),
            over,
            reason: "memory-low",
            msg: format!(
                "{used:.1}% of memory is in use ({} {limit}%)",
                if over { "more than" } else { "at most" }
            ),
        });
    }
    if let (Some(limit), Some(load)) = (args.load_warn, number("load1")) {
        let over = load > limit;
        readings.push(Reading {
            tag: "load".to_string(),
            over,
            reason: "load-high",
            msg: format!(
                "load is {load} ({} {limit})",
                if over { "more than" } else { "at most" }
            ),
        });
    }
    readings
}
