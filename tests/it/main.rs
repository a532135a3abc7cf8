//! Integration tests: the agent against the NetBackup simulator over real HTTP.

mod common;

mod alerting;
mod binary;
mod bridge;
mod broken_records;
mod churn;
mod churn_model;
mod client_errors;
mod collect;
mod command_line;
mod dashboards;
mod deploy;
mod faults;
mod golden;
mod hostile;
mod job_events;
mod job_store;
mod leaks;
mod migrate;
mod negotiation;
mod operations;
mod opt_in;
mod otlp_export;
mod otlp_http;
mod pipeline;
mod prometheus;
mod proxy;
mod quiet_start;
mod readiness;
mod recorded_pages;
mod reload;
mod resilience;
mod secrecy;
mod shared_reader;
mod vendor_schema;
