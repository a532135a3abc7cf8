//! Integration tests: the agent against the NetBackup simulator over real HTTP.

mod common;

mod binary;
mod bridge;
mod broken_records;
mod client_errors;
mod collect;
mod faults;
mod job_store;
mod negotiation;
mod operations;
mod pipeline;
mod prometheus;
mod recorded_pages;
mod resilience;
mod vendor_schema;
