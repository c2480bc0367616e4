//! What the live path (`live`) and the resync (`resync`) both stand on, so neither imports the
//! other: the set-up of clients and mapping for every entry point (`setup`), the GitHub client per
//! installation or token (`clients`), the mapping in use and its reload from Port (`mapping`),
//! what a resource's selector asks of the GitHub kind functions (`selection`), and the one way a
//! raw object becomes Port entities (`apply`).

pub mod apply;
pub mod clients;
pub mod mapping;
pub mod selection;
pub mod setup;

pub use apply::{Applied, apply, entities_ignoring_selector};
pub use clients::{AppClients, GitHubClients, OrgAccess, TokenClients};
pub use mapping::{LoadedMapping, MappingCache, MappingError};
