//! The log: where events and orders travel between machines.

pub mod groups;
pub mod outbox;
pub mod redis;
pub mod spool;
