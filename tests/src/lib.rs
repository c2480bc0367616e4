//! Test support shared by the end-to-end tests and the benchmarks: the moto (local AWS emulator)
//! harness and a counting proxy in front of it, a Lambda Runtime API emulator, the workspace's
//! binaries for tests of another package, GitHub's example webhook payloads, and the lower bounds
//! of a resync's GitHub requests. The GitHub and Port API simulators are their own crate,
//! `port-github-simulators`.

pub mod binaries;
pub mod counting_proxy;
pub mod fixtures;
pub mod lambda_runtime_api;
pub mod moto;
pub mod request_bounds;
