//! sheepdog: keep a herd of machines sane.
//!
//! Small commands report what happened as JSON lines (`sd-run`,
//! `sd-heartbeat`, `sd-facts`), carry them between machines (`sd-bark`,
//! `sd-recv`), keep them (`sd-store`), answer questions (`sd-query`) and
//! tell a person (`sd-mail`). This library holds all of their logic; each
//! `bins/sd-*.rs` only calls into it. docs/ARCHITECTURE.md maps it.

pub mod backoff;
pub mod bark;
pub mod batch;
pub mod broker;
pub mod checkpoint;
pub mod cli;
pub mod client;
pub mod commands;
pub mod compare;
#[cfg(feature = "gen")]
pub mod completions;
pub mod config;
pub mod durations;
pub mod error;
pub mod event;
pub mod exit;
pub mod expect;
pub mod facts;
pub mod fuzzing;
pub mod groups;
pub mod heartbeat;
pub mod ident;
pub mod legacy;
pub mod lines;
pub mod mail;
#[cfg(feature = "gen")]
pub mod man;
pub mod obey;
pub mod order;
pub mod orders;
pub mod outbox;
pub mod paths;
pub mod process;
pub mod query;
pub mod recv;
pub mod rules;
pub mod run;
pub mod schedule;
pub mod sentinel;
pub mod signing;
pub mod size;
pub mod skim;
pub mod spool;
pub mod sqlite;
pub mod store;
#[cfg(test)]
mod testing;
pub mod time;
pub mod tool;
pub mod wire;
