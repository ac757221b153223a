//! sheepdog: keep a herd of machines sane.
//!
//! Small commands report what happened as JSON lines (`sd-run`,
//! `sd-heartbeat`, `sd-facts`), carry them between machines (`sd-bark`,
//! `sd-recv`), keep them (`sd-store`), answer questions (`sd-query`) and
//! tell a person (`sd-mail`). This library holds all of their logic; each
//! `bins/sd-*.rs` only calls into it. docs/ARCHITECTURE.md maps it.
//!
//! The tree is the map, from the ground up: [`base`] (errors, exits,
//! lines, time, SQLite — what every command stands on), [`config`],
//! [`event`] (the one schema), [`log`] (where events and orders travel:
//! Redis or the local spool, behind one contract), [`store`] (SQLite on
//! the server), [`rules`], [`orders`] (the server asks, a host obeys),
//! then the commands a [`host`] runs and those the [`server`] runs, and
//! the [`manual`] that declares and documents them all.

pub mod base;
pub mod config;
pub mod enroll;
pub mod event;
#[doc(hidden)]
pub mod fuzzing;
pub mod gate;
pub mod host;
pub mod log;
pub mod manual;
pub mod orders;
pub mod rules;
pub mod server;
pub mod store;
