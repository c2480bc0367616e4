//! One-call set-up for tests and benches: a simulator on a manual clock, and GitHub clients
//! (personal token or App installation) pointed at it with small retry waits.

use std::sync::Arc;
use std::time::Duration;

use port_github_core::github::{
    ClientConfig, GitHubApp, GitHubClient, InMemoryEtagStore, ManualClock, TokenCacheSettings,
};
use secrecy::SecretString;

use super::{GitHubSim, OrgSpec, SimConfig, TEST_APP_PRIVATE_KEY};

/// A running simulator, the clock it shares with the clients, and one ETag store.
#[derive(Debug)]
pub struct SimHarness {
    pub sim: GitHubSim,
    pub clock: ManualClock,
    pub etags: Arc<InMemoryEtagStore>,
}

impl SimHarness {
    /// A simulator serving `spec`, its clock set to the spec's epoch.
    pub async fn start(spec: OrgSpec) -> std::io::Result<Self> {
        Self::start_with(SimConfig {
            spec,
            ..SimConfig::default()
        })
        .await
    }

    /// A simulator with a full configuration.
    pub async fn start_with(config: SimConfig) -> std::io::Result<Self> {
        let clock = ManualClock::new(config.spec.epoch);
        let sim = GitHubSim::start(config, Arc::new(clock.clone())).await?;
        Ok(Self {
            sim,
            clock,
            etags: Arc::new(InMemoryEtagStore::new()),
        })
    }

    /// Client settings for the simulator: its base URL, quick retries, waits up to two hours
    /// (on the manual clock, waiting costs no real time).
    pub fn client_config(&self) -> ClientConfig {
        ClientConfig {
            base_url: self.sim.base_url().to_owned(),
            max_wait: Duration::from_secs(2 * 3_600),
            retry_base: Duration::from_millis(10),
            request_timeout: Duration::from_secs(10),
            ..ClientConfig::default()
        }
    }

    /// A client with the simulator's personal token.
    pub fn pat_client(
        &self,
        config: ClientConfig,
    ) -> Result<GitHubClient, port_github_core::github::GitHubError> {
        let token = SecretString::from(self.sim.personal_token().unwrap_or_default().to_owned());
        GitHubClient::with_token(
            config,
            token,
            Arc::new(self.clock.clone()),
            self.etags.clone(),
        )
    }

    /// The simulator's App, signing with the throwaway test key.
    pub fn app(
        &self,
        config: ClientConfig,
    ) -> Result<GitHubApp, port_github_core::github::GitHubError> {
        GitHubApp::new(
            config,
            TokenCacheSettings {
                retry_base: Duration::from_millis(10),
                ..TokenCacheSettings::default()
            },
            self.sim.app_id(),
            &SecretString::from(TEST_APP_PRIVATE_KEY.to_owned()),
            Arc::new(self.clock.clone()),
            self.etags.clone(),
        )
    }
}
