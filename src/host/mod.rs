//! The commands a host runs: wrap a job (`sd-run`), check a service
//! (`sd-heartbeat`), gather facts (`sd-facts`), and send what they say
//! (`sd-bark`). `sd-obey`, the host's half of orders, is in [`crate::orders`].

pub mod bark;
pub mod facts;
pub mod heartbeat;
pub mod run;
