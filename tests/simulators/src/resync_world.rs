//! A resync wired to the simulators with in-process state and queue, on the GitHub simulator's
//! manual clock (rate-limit resets and job delays cost no real time). Used by the resync tests,
//! the local demo and the benchmark.

use std::sync::Arc;

use anyhow::Context as _;
use port_github_core::clock::Clock;
use port_github_core::github::ClientConfig;
use port_github_core::mapping::defaults::{DEFAULT_BLUEPRINTS, DEFAULT_PORT_APP_CONFIG};
use port_github_core::mapping::{CompiledMapping, JqOptions, PortAppConfig};
use port_github_core::port::PortClient;
use port_github_core::port::provision::Provisioner;
use port_github_core::queue::InMemoryJobQueue;
use port_github_core::resync::driver::{DriveReport, DriveSettings, run_to_end};
use port_github_core::resync::{Resync, ResyncError, ResyncSettings};
use port_github_core::state::{InMemoryStateStore, StateStore};
use port_github_core::sync::{AppClients, TokenClients};
use serde_json::Value;

use crate::github_sim::{OrgSpec, SimConfig, SimHarness};
use crate::port_sim::harness::client_config;
use crate::port_sim::{Blueprint, PortSim};

pub struct ResyncWorld {
    pub github: SimHarness,
    pub port: PortSim,
    pub state: Arc<dyn StateStore>,
    pub queue: Arc<InMemoryJobQueue>,
    pub clock: Arc<dyn Clock>,
    pub mapping: Arc<CompiledMapping>,
    pub settings: ResyncSettings,
    /// Whether each run provisions Port first (`PORT_CREATE_RESOURCES`), as deployed.
    pub provisioning: bool,
}

/// The built-in blueprints, as the Port simulator takes them; an error names a built-in
/// blueprint the simulator cannot read (rather than leaving it out).
pub fn default_blueprints() -> anyhow::Result<Vec<Blueprint>> {
    let blueprints: Value =
        serde_json::from_str(DEFAULT_BLUEPRINTS).context("the built-in blueprints")?;
    let list = blueprints
        .as_array()
        .context("the built-in blueprints are not a list")?;
    list.iter()
        .map(|b| {
            Blueprint::from_port_json(b).with_context(|| {
                format!("built-in blueprint {:?} is unreadable", b.get("identifier"))
            })
        })
        .collect()
}

impl ResyncWorld {
    /// The simulators serving `config`, the built-in mapping unless `mapping` is given.
    pub async fn start(config: SimConfig, mapping: Option<&str>) -> anyhow::Result<Self> {
        let port = PortSim::start(default_blueprints()?).await?;
        Self::start_on(config, mapping, port).await
    }

    /// The same, against a fresh Port organization (Port's `_user` and `_team` blueprints only,
    /// no integration): what a first deployment meets.
    pub async fn start_fresh(config: SimConfig, mapping: Option<&str>) -> anyhow::Result<Self> {
        let port = PortSim::start_fresh().await?;
        Self::start_on(config, mapping, port).await
    }

    async fn start_on(
        config: SimConfig,
        mapping: Option<&str>,
        port: PortSim,
    ) -> anyhow::Result<Self> {
        let github = SimHarness::start_with(config).await?;
        let text = mapping.unwrap_or(DEFAULT_PORT_APP_CONFIG);
        let mapping = Arc::new(CompiledMapping::compile(
            &PortAppConfig::from_yaml_or_json(text)?,
            &JqOptions::default(),
        )?);
        let clock: Arc<dyn Clock> = Arc::new(github.clock.clone());
        let settings = ResyncSettings {
            organizations: Some(vec![github.sim.org().to_owned()]),
            ..ResyncSettings::default()
        };
        Ok(Self {
            github,
            port,
            state: Arc::new(InMemoryStateStore::default()),
            queue: Arc::new(InMemoryJobQueue::new(clock.clone())),
            clock,
            mapping,
            settings,
            provisioning: true,
        })
    }

    /// A small organization of `spec`.
    pub async fn with_spec(spec: OrgSpec, mapping: Option<&str>) -> anyhow::Result<Self> {
        Self::start(
            SimConfig {
                spec,
                ..SimConfig::default()
            },
            mapping,
        )
        .await
    }

    /// GitHub client settings for a resync: the resync Lambda's longest wait.
    pub fn client_config(&self) -> ClientConfig {
        ClientConfig {
            max_wait: port_github_core::resync::setup::RESYNC_MAX_WAIT,
            ..self.github.client_config()
        }
    }

    /// A resync (personal token) over this world's state and queue. Each call is a new
    /// "container": nothing but the state store and the queue is shared.
    pub fn resync(&self) -> anyhow::Result<Resync> {
        let client = self.github.pat_client(self.client_config())?;
        Ok(Resync::new(
            Arc::new(TokenClients(client)),
            PortClient::new(client_config(self.port.base_url()))?,
            self.mapping.clone(),
            self.state.clone(),
            self.queue.clone(),
            self.clock.clone(),
            self.settings.clone(),
        )
        .with_provisioning(Arc::new(Provisioner::new(
            self.provisioning,
            DEFAULT_BLUEPRINTS,
        ))))
    }

    /// The same resync authenticated as the simulator's GitHub App (per-installation clients,
    /// the installation's permissions) instead of the personal token.
    pub fn app_resync(&self) -> anyhow::Result<Resync> {
        let app = self.github.app(self.client_config())?;
        Ok(Resync::new(
            Arc::new(AppClients::new(app)),
            PortClient::new(client_config(self.port.base_url()))?,
            self.mapping.clone(),
            self.state.clone(),
            self.queue.clone(),
            self.clock.clone(),
            self.settings.clone(),
        )
        .with_provisioning(Arc::new(Provisioner::new(
            self.provisioning,
            DEFAULT_BLUEPRINTS,
        ))))
    }

    /// One whole run, driven in process.
    pub async fn run(&self, drive: &DriveSettings) -> Result<DriveReport, ResyncError> {
        let resync = self
            .resync()
            .map_err(|e| ResyncError::NothingToSync(e.to_string()))?;
        run_to_end(&resync, &self.queue, self.clock.clone(), drive, |_| {}).await
    }
}

/// A small mapping for the moto-backed resync tests: repositories and three of their kinds,
/// after the built-in mapping (`shared/src/mapping/default-port-app-config.yml`), with relations
/// only to entities the run itself creates.
pub const SMALL_MAPPING: &str = r#"
deleteDependentEntities: true
createMissingRelatedEntities: true
enableMergeEntity: true
entityDeletionThreshold: 0.9
repositoryType: all
resources:
  - kind: repository
    selector:
      query: "true"
    port:
      entity:
        mappings:
          identifier: ".name"
          title: ".name"
          blueprint: '"githubRepository"'
          properties:
            description: '.description // ""'
            defaultBranch: ".default_branch"
            url: ".html_url"
  - kind: pull-request
    selector:
      query: "true"
      states: ["open"]
    port:
      entity:
        mappings:
          identifier: '.__repository + "-" + (.number | tostring)'
          title: ".title"
          blueprint: '"githubPullRequest"'
          properties:
            number: ".number"
            status: 'if .merged_at != null then "merged" else .state end'
            link: ".html_url"
          relations:
            repository: ".__repository"
  - kind: issue
    selector:
      query: ".pull_request == null"
      state: "open"
    port:
      entity:
        mappings:
          identifier: '.__repository + "-" + (.number | tostring)'
          title: ".title"
          blueprint: '"githubIssue"'
          properties:
            number: ".number"
            status: ".state"
          relations:
            repository: ".__repository"
  - kind: release
    selector:
      query: "true"
    port:
      entity:
        mappings:
          identifier: '.__repository + "-" + (.id | tostring)'
          title: ".name // .tag_name"
          blueprint: '"githubRelease"'
          properties:
            tag: ".tag_name"
          relations:
            repository: ".__repository"
"#;
