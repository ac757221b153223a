//! The registry: every sheepdog command, in the order a reader meets
//! them, each declared once as a [`Tool`] — its name, its clap definition
//! (`Args` of its module), how it runs (`run` of its module) and its page
//! (`src/manual/pages/NAME.toml`). It sits above all the commands; nothing but
//! the `bins/`, the page generator and the tests imports it.

use crate::manual::tool::Tool;

/// The [`Tool`] of the command `$name` whose `Args` and `run` live in
/// `$module`.
macro_rules! tool {
    ($name:literal, $($module:ident)::+) => {
        Tool {
            name: $name,
            definition: <crate::$($module)::+::Args as clap::CommandFactory>::command,
            run: crate::runner!(crate::$($module)::+::Args, crate::$($module)::+::run),
            page: include_str!(concat!("pages/", $name, ".toml")),
        }
    };
}

pub const RUN: Tool = tool!("sd-run", host::run);
pub const BARK: Tool = tool!("sd-bark", host::bark);
pub const RECV: Tool = tool!("sd-recv", server::recv);
pub const STORE: Tool = tool!("sd-store", store::cli);
pub const QUERY: Tool = tool!("sd-query", server::query);
pub const EXPECT: Tool = tool!("sd-expect", server::expect);
pub const MAIL: Tool = tool!("sd-mail", server::mail);
pub const HEARTBEAT: Tool = tool!("sd-heartbeat", host::heartbeat);
pub const FACTS: Tool = tool!("sd-facts", host::facts);
pub const ORDER: Tool = tool!("sd-order", server::order);
pub const OBEY: Tool = tool!("sd-obey", host::obey);
pub const ENROLL: Tool = tool!("sd-enroll", enroll);
pub const GATE: Tool = tool!("sd-gate", gate);

/// Every command.
pub const ALL: [&Tool; 13] = [
    &RUN, &BARK, &RECV, &STORE, &QUERY, &EXPECT, &MAIL, &HEARTBEAT, &FACTS, &ORDER, &OBEY, &ENROLL,
    &GATE,
];

/// A command by its name (`sd-run`).
pub fn find(name: &str) -> Option<&'static Tool> {
    ALL.into_iter().find(|tool| tool.name == name)
}

/// The whole of the `sheepdog` program, which is every command at once:
/// installed as `sd-run`, `sd-bark` … (links to one file), it is the
/// command it is called as; called as `sheepdog`, the first argument names
/// the command (`sheepdog sd-run …` or `sheepdog run …`). One program
/// instead of eleven is one link-time optimisation instead of eleven: the
/// release build takes half as long (bench/BENCHMARKS.md, build time).
pub fn main() -> std::process::ExitCode {
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let called = args
        .first()
        .map(std::path::Path::new)
        .and_then(|path| path.file_name())
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    if let Some(tool) = find(&called) {
        return tool.main_with(args);
    }
    let asked = args.get(1).map(|a| a.to_string_lossy().into_owned());
    let tool = asked
        .as_deref()
        .and_then(|name| find(name).or_else(|| find(&format!("sd-{name}"))));
    match tool {
        Some(tool) => {
            args.remove(0);
            tool.main_with(args)
        }
        None => {
            let names: Vec<&str> = ALL.iter().map(|tool| tool.name).collect();
            eprintln!(
                "sheepdog: which command? sheepdog COMMAND [ARGS…], or the command itself: {}",
                names.join(", ")
            );
            std::process::ExitCode::from(crate::base::exit::Exit::Usage.code())
        }
    }
}
