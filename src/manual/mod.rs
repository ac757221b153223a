//! Every command declared once ([`commands`]), and what is made from the
//! declarations: `--help`, the man pages and the shell completions.

pub mod commands;
#[cfg(feature = "gen")]
pub mod completions;
#[cfg(feature = "gen")]
pub mod man;
pub mod tool;
