//! The registry: every sheepdog command, in the order a reader meets
//! them. It sits above all of them and nothing imports it but the page
//! generator, the tests and the `bins/`; each command is declared once, as
//! the [`Tool`] value of its own module.

use crate::tool::Tool;

/// Every command.
pub const ALL: [&Tool; 9] = [
    &crate::run::TOOL,
    &crate::bark::TOOL,
    &crate::recv::TOOL,
    &crate::store::cli::TOOL,
    &crate::query::TOOL,
    &crate::expect::TOOL,
    &crate::mail::TOOL,
    &crate::heartbeat::TOOL,
    &crate::facts::TOOL,
];

/// A command by its name (`sd-run`).
pub fn find(name: &str) -> Option<&'static Tool> {
    ALL.into_iter().find(|tool| tool.name == name)
}
