//! Test support shared by the end-to-end tests, the local demo and the benchmarks: the moto
//! (local AWS emulator) harness and a counting proxy in front of it, a Lambda Runtime API
//! emulator, and the GitHub and Port API simulators.

pub mod binaries;
pub mod counting_proxy;
pub mod fixtures;
pub mod github_sim;
pub mod lambda_runtime_api;
pub mod moto;
pub mod port_sim;
pub mod request_bounds;
pub mod resync_world;
