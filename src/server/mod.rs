//! The commands the server runs: receive (`sd-recv`), ask (`sd-query`),
//! notice what did not happen (`sd-expect`) and tell a person
//! (`sd-mail`). `sd-store` is the store's own face ([`crate::store`]).
//! `sd-order` asks hosts to act ([`order`]) and `sd-mail` tells a person.

pub mod expect;
pub mod mail;
pub mod maintenance;
pub mod order;
pub mod query;
pub mod recv;
