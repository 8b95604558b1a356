//! Core integration tests, one binary (one link on a two-core machine instead
//! of fourteen). Each module was a test file of its own; `vault` holds the
//! vault tests with their shared `support`.

#[macro_use]
mod gate;

mod alerts_webhook;
mod audit_chain;
mod audit_store;
mod auto_rotation_sim;
mod checks_sim;
mod exchange_fixtures;
mod exchange_sim;
mod exchange_vectors;
mod incident_sim;
mod manage_sim;
mod managed_sim;
mod mfa_rfc6238;
mod mfa_step_up;
mod mfa_store;
mod rotation_sim;
mod scan_api;
mod vault;
