//! Manual pages, rendered from each command's [`Tool`] so `--help` and
//! `man` never drift apart. clap_mangen writes the NAME, SYNOPSIS,
//! DESCRIPTION and OPTIONS sections; the sections a clap definition has no
//! place for (ENVIRONMENT, FILES, EXIT STATUS, EXAMPLES, SEE ALSO) are
//! written here from the rest of the [`Tool`]. The pages are checked into
//! `man/`, and a test fails when one is stale.
//!
//! Only the page generator needs this (the `gen` feature): the commands
//! themselves do not carry clap_mangen and roff.

use crate::manual::tool::Tool;
use roff::{Roff, bold, italic, roman};

/// The complete page in roff.
pub fn render(page: &Tool) -> String {
    let mut command = page.definition_for_pages();
    command.build();
    let man = clap_mangen::Man::new(command.clone())
        .section("1")
        .source(format!("sheepdog {}", env!("CARGO_PKG_VERSION")))
        .manual("sheepdog manual");
    let preamble = Roff::new().render();
    let mut out = String::new();
    let mut section = |render: &dyn Fn(&mut Vec<u8>) -> std::io::Result<()>| {
        let mut buf = Vec::new();
        render(&mut buf).expect("writing to memory");
        let text = String::from_utf8(buf).expect("roff is UTF-8");
        if out.is_empty() {
            out.push_str(&text);
        } else {
            out.push_str(text.strip_prefix(&preamble).unwrap_or(&text));
        }
    };
    section(&|w| man.render_title(w));
    section(&|w| man.render_name_section(w));
    section(&|w| man.render_synopsis_section(w));
    section(&|w| man.render_description_section(w));
    section(&|w| man.render_options_section(w));
    // Subcommands are described here, options and all, rather than in
    // pages of their own.
    let subcommands: Vec<&clap::Command> = command
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .collect();
    if !subcommands.is_empty() {
        let mut roff = Roff::new();
        roff.control("SH", ["COMMANDS"]);
        for sub in &subcommands {
            let about = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
            roff.control("TP", [])
                .text([bold(sub.get_name())])
                .text([roman(about)]);
        }
        out.push_str(&roff.to_roff());
        for sub in &subcommands {
            let sub_man = clap_mangen::Man::new((*sub).clone());
            let mut buf = Vec::new();
            sub_man
                .render_options_section(&mut buf)
                .expect("writing to memory");
            let text = String::from_utf8(buf).expect("roff is UTF-8");
            let text = text.strip_prefix(&preamble).unwrap_or(&text);
            let heading = format!(".SH \"OPTIONS OF {}\"", sub.get_name().to_uppercase());
            out.push_str(&text.replacen(".SH OPTIONS", &heading, 1));
        }
    }
    out.push_str(&extra_sections(page, &command).to_roff());
    ascii_only(&out)
}

/// groff reads its input as Latin-1 unless told otherwise, so every
/// character outside ASCII is written as a groff escape (`\[u2026]`).
fn ascii_only(roff: &str) -> String {
    let mut out = String::with_capacity(roff.len());
    for c in roff.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            out.push_str(&format!("\\[u{:04X}]", c as u32));
        }
    }
    out
}

fn extra_sections(tool: &Tool, command: &clap::Command) -> Roff {
    let page = tool.page();
    let mut roff = Roff::new();

    let from_flags: Vec<(String, String)> = command
        .get_arguments()
        .filter_map(|arg| {
            let variable = arg.get_env()?.to_string_lossy().into_owned();
            let flag = arg.get_long().map(|l| format!("--{l}")).unwrap_or_default();
            Some((variable, format!("Default for {flag}.")))
        })
        .collect();
    if !from_flags.is_empty() || !page.environment.is_empty() {
        roff.control("SH", ["ENVIRONMENT"]);
        let extra = page
            .environment
            .iter()
            .map(|v| (v.name.clone(), v.what.clone()));
        for (variable, what) in from_flags.into_iter().chain(extra) {
            roff.control("TP", [])
                .text([bold(variable)])
                .text([roman(what)]);
        }
    }

    if !page.files.is_empty() {
        roff.control("SH", ["FILES"]);
        for file in &page.files {
            roff.control("TP", [])
                .text([italic(file.path.as_str())])
                .text([roman(file.what.as_str())]);
        }
    }

    roff.control("SH", ["EXIT STATUS"]);
    for exit in page.exits() {
        roff.control("TP", [])
            .text([bold(exit.code().to_string())])
            .text([roman(exit.meaning())]);
    }
    for note in &page.exit_notes {
        roff.control("PP", []).text([roman(note.as_str())]);
    }
    roff.control("PP", []).text([roman(
        "Every sheepdog command uses the same statuses; sheepdog(7) lists them all.",
    )]);

    if !page.examples.is_empty() {
        roff.control("SH", ["EXAMPLES"]);
        for example in &page.examples {
            roff.control("PP", []).text([roman(example.what.as_str())]);
            roff.control("RS", ["4"]).control("nf", []);
            roff.text([bold(example.line.as_str())]);
            roff.control("fi", []).control("RE", []);
        }
    }

    roff.control("SH", ["SEE ALSO"]);
    let names: Vec<&str> = page
        .see_also
        .iter()
        .map(String::as_str)
        .chain(["sheepdog(7)"])
        .collect();
    roff.text([roman(names.join(", "))]);
    roff
}
