//! The commands the server runs: receive (`sd-recv`), ask (`sd-query`),
//! notice what did not happen (`sd-expect`) and tell a person
//! (`sd-mail`). `sd-store` is the store's own face ([`crate::store`]);
//! `sd-order` is in [`crate::orders`].

pub mod expect;
pub mod mail;
pub mod query;
pub mod recv;
