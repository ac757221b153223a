//! The foundations every command stands on: errors and exit codes, the
//! terminal and signals, reading lines, batches, sizes and times, where
//! files live, SQLite and its checkpoints, running child processes,
//! comparing values, and backoff.

pub mod backoff;
pub mod batch;
pub mod checkpoint;
pub mod cli;
pub mod compare;
pub mod error;
pub mod exit;
pub mod fuzzing;
pub mod ident;
pub mod lines;
pub mod paths;
pub mod process;
pub mod size;
pub mod sqlite;
#[cfg(test)]
pub(crate) mod testing;
pub mod time;
