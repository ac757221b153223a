//! The commands a host runs: wrap a job (`sd-run`), check a service
//! (`sd-heartbeat`), gather facts (`sd-facts`), and send what they say
//! (`sd-bark`), and do what the server orders (`sd-obey`).

pub mod bark;
pub mod facts;
pub mod heartbeat;
pub mod obey;
pub mod run;
