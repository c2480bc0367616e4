//! Faithful in-process simulators of the GitHub REST API and the Port API, with fault injection:
//! each is an HTTP server on loopback that answers the endpoints the integration calls with the
//! service's own shapes, status codes, pagination and limits, and fails on demand while it runs
//! (error statuses, rate limits, latency, rejected tokens). This crate owns the two simulators
//! ([`github_sim`], [`port_sim`]), a resync wired to both ([`resync_world`]) and the fixture
//! readers they need ([`fixtures`]); the local demo, the tests and the benchmarks use them.

pub mod fixtures;
pub mod github_sim;
pub mod port_sim;
pub mod resync_world;
