//! The sections of the file, one module each: the declaration of its keys (see
//! [`section!`](super::declare)), the parse function of each key, and the section's own rules.
//! The rules between keys are in [`cross`](super::validate::cross); [`assemble`](super::assemble)
//! puts the sections together.

pub(super) mod collection;
pub(super) mod events;
pub(super) mod otlp;
pub(super) mod server;
pub(super) mod service;
pub(super) mod sharding;
pub(super) mod site;
pub(super) mod sources;
