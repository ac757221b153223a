//! Integration tests: the real binaries, run as a user would run them,
//! each test in its own temporary directory, against real servers the
//! tests start on free loopback ports (docs/ARCHITECTURE.md §9).

mod util;

mod acl;
mod broker_errors;
mod channels;
mod chaos;
mod contrib;
mod disk_full;
mod durations;
mod enroll;
mod events;
mod expect;
mod facts;
mod fuzz_corpus;
mod gate;
mod groups;
mod heartbeat;
mod hostile;
mod install;
mod log;
mod mail;
mod maintenance;
mod nats;
// Pages and completions are made by the `gen` feature (tests/check.sh
// turns it on): the commands themselves do not link the generator.
#[cfg(feature = "gen")]
mod man_pages;
mod orders;
mod package;
mod pair;
mod query;
mod rollout;
mod rules;
mod run;
mod sentinel;
mod signing;
mod sites;
mod store;
mod surface;
mod transport;
