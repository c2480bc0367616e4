//! The workspace's Lambda binaries for tests of another package (Cargo gives a test only its
//! own package's binaries): built on demand with the same Cargo and profile as the test, so the
//! binary is never stale, and found beside the test's own binary.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Builds `binary` of `package` (a no-op when it is up to date) and returns its path, next to
/// `own_binary` (an `env!("CARGO_BIN_EXE_...")` of the calling test). Fails with what to run
/// when it cannot build.
pub fn workspace_binary(own_binary: &str, package: &str, binary: &str) -> anyhow::Result<PathBuf> {
    let dir = Path::new(own_binary)
        .parent()
        .ok_or_else(|| anyhow::anyhow!("{own_binary} has no directory"))?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let release = dir.file_name().is_some_and(|name| name == "release");
    let mut command = Command::new(&cargo);
    command.args(["build", "--quiet", "-p", package, "--bin", binary]);
    if release {
        command.arg("--release");
    }
    let status = command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .map_err(|error| anyhow::anyhow!("cannot run {cargo}: {error}"))?;
    anyhow::ensure!(
        status.success(),
        "`cargo build -p {package} --bin {binary}` failed: build it, then run the test again"
    );
    let path = dir.join(binary);
    anyhow::ensure!(path.exists(), "{} was not built", path.display());
    Ok(path)
}
