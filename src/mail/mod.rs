//! Sending mail: templates, transports and the outbox worker. Campaigns and
//! transactional messages are created by `services::mail`; this module delivers them.

pub mod compose;
pub mod templates;
pub mod transport;
pub mod worker;
