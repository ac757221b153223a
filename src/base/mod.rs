//! The foundations every command stands on: errors and exit codes, the
//! terminal and signals, sizes and times, secrets, where files live,
//! SQLite and its checkpoints, running child processes, comparing values,
//! and backoff.

pub mod backoff;
pub mod checkpoint;
pub mod cli;
pub mod compare;
pub mod error;
pub mod exit;
pub mod ident;
pub mod paths;
pub mod process;
pub mod secret;
pub mod size;
pub mod sqlite;
#[cfg(test)]
pub(crate) mod testing;
pub mod time;
