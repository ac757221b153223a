//! The registry: every sheepdog command, in the order a reader meets
//! them, each declared once as a [`Tool`] — its name, its clap definition
//! (`Args` of its module), how it runs (`run` of its module) and its page
//! (`src/pages/NAME.toml`). It sits above all the commands; nothing but
//! the `bins/`, the page generator and the tests imports it.

use crate::tool::Tool;

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

pub const RUN: Tool = tool!("sd-run", run);
pub const BARK: Tool = tool!("sd-bark", bark);
pub const RECV: Tool = tool!("sd-recv", recv);
pub const STORE: Tool = tool!("sd-store", store::cli);
pub const QUERY: Tool = tool!("sd-query", query);
pub const EXPECT: Tool = tool!("sd-expect", expect);
pub const MAIL: Tool = tool!("sd-mail", mail);
pub const HEARTBEAT: Tool = tool!("sd-heartbeat", heartbeat);
pub const FACTS: Tool = tool!("sd-facts", facts);

/// Every command.
pub const ALL: [&Tool; 9] = [
    &RUN, &BARK, &RECV, &STORE, &QUERY, &EXPECT, &MAIL, &HEARTBEAT, &FACTS,
];

/// A command by its name (`sd-run`).
pub fn find(name: &str) -> Option<&'static Tool> {
    ALL.into_iter().find(|tool| tool.name == name)
}
