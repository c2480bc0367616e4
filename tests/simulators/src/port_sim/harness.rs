//! Wiring for tests and the demo: a simulator seeded with the real blueprints fixture, and a
//! Port client pointed at it whose retry waits are recorded instead of slept.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use port_github_core::port::{PortClient, PortClientConfig, RetrySettings, Sleeper};
use secrecy::SecretString;

use super::{CLIENT_ID, CLIENT_SECRET, PortSim};

/// The integration identity the test clients use.
pub const INTEGRATION_ID: &str = "test-github";
pub const INTEGRATION_TYPE: &str = "github-serverless";
pub const INTEGRATION_VERSION: &str = "0.1.0";

/// Port's own GitHub blueprints (`tests/fixtures/ocean/blueprints.json`).
pub fn blueprints_fixture() -> PathBuf {
    crate::fixtures::fixtures_dir().join("ocean/blueprints.json")
}

/// Records the waits the client asks for and returns at once.
#[derive(Debug, Default)]
pub struct RecordingSleeper {
    waits: Mutex<Vec<Duration>>,
}

impl RecordingSleeper {
    pub fn waits(&self) -> Vec<Duration> {
        self.waits.lock().map(|w| w.clone()).unwrap_or_default()
    }
}

impl Sleeper for RecordingSleeper {
    fn sleep(&self, wait: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        if let Ok(mut waits) = self.waits.lock() {
            waits.push(wait);
        }
        Box::pin(std::future::ready(()))
    }
}

/// A client configuration for a simulator at `base_url`, with fast, bounded retries.
pub fn client_config(base_url: &str) -> PortClientConfig {
    let mut config = PortClientConfig::new(
        base_url,
        CLIENT_ID,
        SecretString::from(CLIENT_SECRET),
        INTEGRATION_ID,
        INTEGRATION_TYPE,
    );
    config.integration_version = INTEGRATION_VERSION.to_owned();
    config.request_timeout = Duration::from_secs(10);
    config.retry = RetrySettings {
        max_attempts: 4,
        initial_backoff: Duration::from_millis(100),
        max_wait: Duration::from_secs(10),
    };
    config
}

/// A simulator knowing the fixture blueprints, and a client for it built from `config`
/// (which gets the simulator's URL).
pub async fn spawn_with(
    adjust: impl FnOnce(&mut PortClientConfig),
) -> anyhow::Result<(PortSim, PortClient, Arc<RecordingSleeper>)> {
    let path = blueprints_fixture();
    if !path.is_file() {
        anyhow::bail!(
            "missing {}: the checkout is incomplete (tests/fixtures is tracked in git)",
            path.display()
        );
    }
    let sim = PortSim::start_with_blueprints_file(&path).await?;
    let mut config = client_config(sim.base_url());
    adjust(&mut config);
    let sleeper = Arc::new(RecordingSleeper::default());
    let client = PortClient::with_sleeper(config, Arc::clone(&sleeper) as Arc<dyn Sleeper>)?;
    Ok((sim, client, sleeper))
}

/// [`spawn_with`] with the default test configuration.
pub async fn spawn() -> anyhow::Result<(PortSim, PortClient, Arc<RecordingSleeper>)> {
    spawn_with(|_| {}).await
}
