//! One live event, end to end: route it, re-fetch the current objects from GitHub (so duplicate
//! and out-of-order deliveries converge on the truth), map them with every resource of their kind,
//! then upsert what is selected and delete, only where this integration owns it, what is gone or
//! no longer selected. Errors say whether SQS should retry the message.

use std::sync::Arc;

use serde_json::Value;

use super::clients::GitHubClients;
use super::routing::{Operation, Target, WorkItem, route};
use super::selection::{passes_selector_options, path_patterns, selector_json};
use crate::github::kinds::{self, Repo};
use crate::github::{GitHubClient, GitHubError};
use crate::mapping::{CompiledMapping, CompiledResource};
use crate::port::{Entity, PortClient, PortError, UpsertOptions, UpsertResult};
use crate::webhook::envelope::Envelope;

/// What one event did to the catalog.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveReport {
    /// `(blueprint, identifier)` upserted.
    pub upserted: Vec<(String, String)>,
    /// `(blueprint, identifier)` deleted (or already gone).
    pub deleted: Vec<(String, String)>,
    /// Deletions skipped because another integration (or nobody) owns the entity.
    pub not_owned: Vec<(String, String)>,
    /// Mapping fields that failed (the entity was still written with `null` there).
    pub field_errors: usize,
    /// Kinds of the event that no mapping resource asks for.
    pub unmapped_kinds: Vec<&'static str>,
    /// The event's organization is not in `GITHUB_ORGANIZATIONS`: nothing was done.
    pub outside_organizations: bool,
    /// Entities Port refused for good (`blueprint/identifier: code message`); the event then
    /// fails as permanent once the rest of it is done.
    pub refused: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// May pass: SQS should deliver the message again.
    #[error("transient failure: {0}")]
    Transient(String),
    /// Cannot go on before `wait` has passed (a rate limit, Port's `retry-after`): deliver the
    /// message again after that.
    #[error("deferred for {}s: {reason}", wait.as_secs())]
    Deferred {
        reason: String,
        wait: std::time::Duration,
    },
    /// Will not pass: keep the message with its reason (the dead-letter queue) and acknowledge.
    #[error("permanent failure: {0}")]
    Permanent(String),
}

impl LiveError {
    /// The wait after which trying again makes sense, when it is known.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            Self::Deferred { wait, .. } => Some(*wait),
            _ => None,
        }
    }
}

impl From<GitHubError> for LiveError {
    /// Refused credentials are transient for an event: the secret was re-read once already, and
    /// the message is better redelivered (after a rotation completes, or to the DLQ) than dropped.
    fn from(error: GitHubError) -> Self {
        if let Some(until) = error.retry_at() {
            let wait = (until - chrono::Utc::now()).to_std().unwrap_or_default();
            return Self::Deferred {
                reason: error.to_string(),
                wait,
            };
        }
        if error.is_retryable() || matches!(error, GitHubError::Auth { .. }) {
            Self::Transient(error.to_string())
        } else {
            Self::Permanent(error.to_string())
        }
    }
}

impl From<PortError> for LiveError {
    /// Refused credentials (401, after a fresh token and a re-read of the secret) are transient
    /// for an event, as for GitHub.
    fn from(error: PortError) -> Self {
        match error.retry_after() {
            Some(wait) => Self::Deferred {
                reason: format!("{error}: {}", error.cause()),
                wait,
            },
            None if error.is_transient() || error.status() == Some(401) => {
                Self::Transient(format!("{error}: {}", error.cause()))
            }
            None => Self::Permanent(format!("{error}: {}", error.cause())),
        }
    }
}

pub struct LiveProcessor {
    clients: Arc<dyn GitHubClients>,
    port: PortClient,
    loaded: std::sync::RwLock<Arc<Loaded>>,
    /// When the mapping is the one users edit in Port: how often to look for a new version.
    refresh: Option<std::time::Duration>,
    /// When Port was last looked at for a new mapping.
    checked: std::sync::Mutex<std::time::Instant>,
    /// `GITHUB_ORGANIZATIONS`: when set, events of other organizations are left alone.
    organizations: Option<Vec<String>>,
    /// Creates what the mapping writes to in Port when it is missing (once per container).
    provisioner: Option<Arc<crate::port::provision::Provisioner>>,
    /// Notes each write before it is made, so a resync running meanwhile does not undo it.
    live_writes: Option<crate::state::LiveWrites>,
}

/// The mapping in use, and what is derived from it.
struct Loaded {
    mapping: Arc<CompiledMapping>,
    /// Per kind, the first resource's selector as the GitHub kind functions read it.
    selectors: std::collections::HashMap<String, Value>,
    /// Of the Port configuration it was compiled from (`None`: not from Port).
    fingerprint: Option<u64>,
}

impl Loaded {
    fn new(mapping: Arc<CompiledMapping>, fingerprint: Option<u64>) -> Self {
        let mut selectors = std::collections::HashMap::new();
        for resource in mapping.resources() {
            selectors
                .entry(resource.config().kind.to_string())
                .or_insert_with(|| selector_json(resource));
        }
        Self {
            mapping,
            selectors,
            fingerprint,
        }
    }
}

impl LiveProcessor {
    pub fn new(
        clients: Arc<dyn GitHubClients>,
        port: PortClient,
        mapping: Arc<CompiledMapping>,
    ) -> Self {
        Self {
            clients,
            port,
            loaded: std::sync::RwLock::new(Arc::new(Loaded::new(mapping, None))),
            refresh: None,
            checked: std::sync::Mutex::new(std::time::Instant::now()),
            organizations: None,
            provisioner: None,
            live_writes: None,
        }
    }

    /// Note every upsert and delete in the live-write journal before making it (see
    /// `state::live_writes`).
    pub fn with_live_writes(mut self, journal: crate::state::LiveWrites) -> Self {
        self.live_writes = Some(journal);
        self
    }

    /// Notes `write` of `entities` in the journal; a journal that cannot be written makes the
    /// event wait (a resync could otherwise undo the write).
    async fn note(
        &self,
        write: crate::state::LiveWrite,
        entities: &[(String, String)],
    ) -> Result<(), LiveError> {
        match &self.live_writes {
            Some(journal) => journal
                .note(write, entities)
                .await
                .map_err(|error| LiveError::Transient(format!("the live-write journal: {error}"))),
            None => Ok(()),
        }
    }

    /// The mapping is the one users edit in Port: look for a new version at most every
    /// `every` (the mapping given to [`LiveProcessor::new`] stays in use while Port has none).
    pub fn with_mapping_from_port(mut self, every: std::time::Duration) -> Self {
        self.refresh = Some(every);
        self
    }

    fn loaded(&self) -> Arc<Loaded> {
        self.loaded
            .read()
            .map(|l| l.clone())
            .unwrap_or_else(|poisoned| poisoned.into_inner().clone())
    }

    /// The Port client the processor writes with.
    pub fn port(&self) -> &PortClient {
        &self.port
    }

    /// The mapping in use.
    pub fn mapping(&self) -> Arc<CompiledMapping> {
        self.loaded().mapping.clone()
    }

    /// Picks up a mapping edited in Port (at most every `refresh`, past the Port client's own
    /// cache of the integration). A mapping that does not compile is logged and the one in use
    /// is kept; so is the one in use when Port cannot be read.
    async fn refresh_mapping(&self) {
        let Some(every) = self.refresh else {
            return;
        };
        {
            let mut checked = self
                .checked
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if checked.elapsed() < every {
                return;
            }
            *checked = std::time::Instant::now();
        }
        self.port.forget_integration_config().await;
        let config = match self.port.integration_config().await {
            Ok(Some(config)) if config.get("resources").is_some() => config,
            Ok(_) => return,
            Err(error) => {
                tracing::warn!(%error, "could not read the mapping from Port; keeping the one in use");
                return;
            }
        };
        let fingerprint = crate::mapping::config_fingerprint(&config);
        if self.loaded().fingerprint == Some(fingerprint) {
            return;
        }
        let compiled = crate::mapping::PortAppConfig::from_value(&config)
            .map_err(|e| e.to_string())
            .and_then(|parsed| {
                CompiledMapping::compile(&parsed, &crate::mapping::JqOptions::default())
                    .map_err(|e| e.to_string())
            });
        match compiled {
            Ok(compiled) => {
                tracing::info!("the mapping changed in Port: using the new one");
                let replacement = Arc::new(Loaded::new(Arc::new(compiled), Some(fingerprint)));
                if let Ok(mut loaded) = self.loaded.write() {
                    *loaded = replacement;
                }
            }
            Err(error) => {
                tracing::error!(%error, "the mapping in Port does not compile; keeping the one in use");
            }
        }
    }

    /// Before its first event (and after a mapping change), makes sure Port has the integration
    /// record and the blueprints the mapping targets (`PORT_CREATE_RESOURCES`).
    pub fn with_provisioning(
        mut self,
        provisioner: Arc<crate::port::provision::Provisioner>,
    ) -> Self {
        self.provisioner = Some(provisioner);
        self
    }

    /// Only events of these organizations (case-insensitive) are applied.
    pub fn with_organizations(mut self, organizations: Option<Vec<String>>) -> Self {
        self.organizations = organizations;
        self
    }

    pub async fn process(&self, envelope: &Envelope) -> Result<LiveReport, LiveError> {
        let mut report = LiveReport::default();
        if let Some(allowed) = &self.organizations {
            let org = envelope.organization.as_deref().unwrap_or_default();
            if !allowed.iter().any(|a| a.eq_ignore_ascii_case(org)) {
                report.outside_organizations = true;
                return Ok(report);
            }
        }
        self.refresh_mapping().await;
        let loaded = self.loaded();
        if let Some(provisioner) = &self.provisioner {
            // Logged inside; a failure leaves entities to be refused, not the event.
            let _ = provisioner.ensure(&self.port, &loaded.mapping).await;
        }
        let items = route(envelope).map_err(|e| LiveError::Permanent(e.to_string()))?;
        let (mapped, unmapped): (Vec<WorkItem>, Vec<WorkItem>) =
            items.into_iter().partition(|item| {
                loaded
                    .mapping
                    .resources_for_kind(item.kind)
                    .next()
                    .is_some()
            });
        report.unmapped_kinds = unmapped.iter().map(|item| item.kind).collect();
        if mapped.is_empty() {
            return Ok(report);
        }
        let client = self.clients.for_event(envelope).await?;
        let mut repo: Option<Option<Repo>> = None;
        for item in mapped {
            match item.operation {
                Operation::Refetch(Target::Paths {
                    branch,
                    paths,
                    truncated,
                }) => {
                    if repo.is_none() {
                        repo = Some(self.fetch_repo(&client, envelope).await?);
                    }
                    let Some(repo) = repo.as_ref().and_then(Option::as_ref) else {
                        continue;
                    };
                    self.refresh_paths(
                        &client,
                        repo,
                        item.kind,
                        &branch,
                        &paths,
                        truncated,
                        &mut report,
                    )
                    .await?;
                }
                Operation::Refetch(target) => {
                    let current = if target_needs_repo(&target) {
                        if repo.is_none() {
                            repo = Some(self.fetch_repo(&client, envelope).await?);
                        }
                        match repo.as_ref().and_then(Option::as_ref) {
                            Some(repo) => {
                                self.fetch(&client, envelope, repo, item.kind, &target)
                                    .await?
                            }
                            None => None, // the repository itself is gone
                        }
                    } else {
                        self.fetch_org_scoped(&client, envelope, item.kind, &target)
                            .await?
                    };
                    match current {
                        Some(raw) => self.apply(item.kind, &raw, &mut report).await?,
                        None => {
                            let Some(raw) = payload_object(envelope, &target) else {
                                continue;
                            };
                            self.delete_mapped(item.kind, &raw, &[], &mut report)
                                .await?;
                        }
                    }
                }
                Operation::Delete { raw } => {
                    self.delete_mapped(item.kind, &raw, &[], &mut report)
                        .await?
                }
                Operation::DeleteRenamed { raw } => {
                    let keep = report.upserted.clone();
                    self.delete_mapped(item.kind, &raw, &keep, &mut report)
                        .await?;
                }
            }
        }
        if !report.refused.is_empty() {
            crate::metrics::note_port_refusals(report.refused.len());
            return Err(LiveError::Permanent(format!(
                "Port refused {} entit{}: {}",
                report.refused.len(),
                if report.refused.len() == 1 {
                    "y"
                } else {
                    "ies"
                },
                report.refused.join("; ")
            )));
        }
        Ok(report)
    }

    /// A push changed these paths: workflows defined by them are re-read and upserted (GitHub
    /// only knows workflows on the default branch); files and folders matching a resource's
    /// patterns on the pushed branch are re-read, and removed files deleted.
    #[allow(clippy::too_many_arguments)]
    async fn refresh_paths(
        &self,
        client: &GitHubClient,
        repo: &Repo,
        kind: &str,
        branch: &str,
        paths: &[String],
        truncated: bool,
        report: &mut LiveReport,
    ) -> Result<(), LiveError> {
        if kind == "file" || kind == "folder" {
            return self
                .refresh_files(client, repo, kind, branch, paths, truncated, report)
                .await;
        }
        if branch != repo.default_branch {
            return Ok(());
        }
        if truncated {
            tracing::info!("the push's path list was cut: workflows are left to the next resync");
        }
        for path in paths {
            let Some(file) = workflow_file(path) else {
                continue;
            };
            if let Some(raw) = kinds::actions::get_workflow(client, repo, file).await? {
                self.apply(kind, &raw, report).await?;
            }
        }
        Ok(())
    }

    /// Files and folders of each resource whose patterns read `branch` and match a changed path.
    #[allow(clippy::too_many_arguments)]
    async fn refresh_files(
        &self,
        client: &GitHubClient,
        repo: &Repo,
        kind: &str,
        branch: &str,
        paths: &[String],
        truncated: bool,
        report: &mut LiveReport,
    ) -> Result<(), LiveError> {
        use kinds::files::{self, glob_matches};
        let mapping = self.mapping();
        let resources: Vec<&CompiledResource> = mapping.resources_for_kind(kind).collect();
        for resource in resources {
            let patterns: Vec<files::PathPattern> = path_patterns(resource)
                .into_iter()
                .filter(|p| p.branch_for(repo).as_deref() == Some(branch))
                .collect();
            // A folder is touched when a changed path lies under it.
            let touched = |pattern: &files::PathPattern| {
                truncated
                    || paths.iter().any(|path| {
                        if kind == "file" {
                            glob_matches(&pattern.path, path)
                        } else {
                            ancestors(path).any(|folder| glob_matches(&pattern.path, folder))
                        }
                    })
            };
            let relevant: Vec<files::PathPattern> =
                patterns.into_iter().filter(|p| touched(p)).collect();
            if relevant.is_empty() {
                continue;
            }
            let current = if kind == "file" {
                files::list_files(client, repo, &relevant).await?
            } else {
                files::list_folders(client, repo, &relevant).await?
            };
            let present: Vec<&str> = current
                .iter()
                .filter_map(|raw| {
                    raw.get("path")
                        .or_else(|| raw.pointer("/folder/path"))
                        .and_then(Value::as_str)
                })
                .collect();
            for raw in &current {
                let touched_now = raw
                    .get("path")
                    .or_else(|| raw.pointer("/folder/path"))
                    .and_then(Value::as_str)
                    .is_some_and(|p| {
                        truncated
                            || paths
                                .iter()
                                .any(|c| c == p || c.starts_with(&format!("{p}/")))
                    });
                if touched_now {
                    self.apply(kind, raw, report).await?;
                }
            }
            if kind == "file" {
                for gone in paths.iter().filter(|p| !present.contains(&p.as_str())) {
                    if !relevant
                        .iter()
                        .any(|pattern| glob_matches(&pattern.path, gone))
                    {
                        continue;
                    }
                    let name = gone.rsplit('/').next().unwrap_or(gone);
                    let raw = serde_json::json!({
                        "organization": repo.owner, "repository": repo.object, "branch": branch,
                        "path": gone, "name": name, "content": null, "metadata": {"path": gone},
                    });
                    self.delete_mapped(kind, &raw, &[], report).await?;
                }
            }
        }
        Ok(())
    }

    async fn fetch_repo(
        &self,
        client: &GitHubClient,
        envelope: &Envelope,
    ) -> Result<Option<Repo>, LiveError> {
        let payload = &envelope.payload;
        let owner = payload
            .pointer("/repository/owner/login")
            .and_then(Value::as_str);
        let name = payload.pointer("/repository/name").and_then(Value::as_str);
        let (Some(owner), Some(name)) = (owner, name) else {
            return Err(LiveError::Permanent(
                "the event has no repository owner and name".into(),
            ));
        };
        match kinds::organization::get_repository(client, owner, name).await? {
            Some(object) => Ok(Some(Repo::from_object(object)?)),
            None => Ok(None),
        }
    }

    async fn fetch(
        &self,
        client: &GitHubClient,
        envelope: &Envelope,
        repo: &Repo,
        kind: &str,
        target: &Target,
    ) -> Result<Option<Value>, LiveError> {
        use kinds::{actions, deployments, organization, people, pulls, refs, security};
        let found = match target {
            Target::Repository => {
                let selector = kinds::selector(self.raw_selector(kind).as_ref())?;
                Some(
                    organization::repository_raw(
                        client,
                        repo,
                        envelope.organization.as_deref(),
                        &selector,
                    )
                    .await?,
                )
            }
            Target::PullRequest { number } => {
                pulls::get_pull_request(client, repo, *number).await?
            }
            Target::Issue { number } => pulls::get_issue(client, repo, *number).await?,
            Target::Release { id } => refs::get_release(client, repo, *id).await?,
            Target::Tag { name } => refs::get_tag(client, repo, name).await?,
            Target::Branch { name } => {
                let selector = kinds::selector(self.raw_selector(kind).as_ref())?;
                refs::get_branch(client, repo, name, &selector).await?
            }
            Target::Environment { name } => {
                deployments::get_environment(client, repo, name).await?
            }
            Target::Deployment { id } => deployments::get_deployment(client, repo, *id).await?,
            Target::DeploymentStatus { deployment_id, id } => {
                deployments::get_deployment_status(client, repo, *deployment_id, *id).await?
            }
            Target::Workflow { id } => actions::get_workflow(client, repo, &id.to_string()).await?,
            Target::WorkflowRun { id } => actions::get_workflow_run(client, repo, *id).await?,
            Target::DependabotAlert { number } => {
                security::get_dependabot_alert(client, repo, *number).await?
            }
            Target::CodeScanningAlert { number } => {
                security::get_code_scanning_alert(client, repo, *number).await?
            }
            Target::SecretScanningAlert { number } => {
                let selector = kinds::selector(self.raw_selector(kind).as_ref())?;
                security::get_secret_scanning_alert(client, repo, *number, &selector).await?
            }
            Target::Collaborator { login } => people::get_collaborator(client, repo, login).await?,
            // Handled by `refresh_paths`.
            Target::Paths { .. } => None,
            Target::Team { .. } | Target::User { .. } => None,
        };
        Ok(found)
    }

    async fn fetch_org_scoped(
        &self,
        client: &GitHubClient,
        envelope: &Envelope,
        kind: &str,
        target: &Target,
    ) -> Result<Option<Value>, LiveError> {
        use kinds::people;
        let org = envelope.organization.as_deref().unwrap_or_default();
        match target {
            Target::Team { slug } => {
                let selector = kinds::selector(self.raw_selector(kind).as_ref())?;
                Ok(people::get_team(client, org, slug, &selector).await?)
            }
            Target::User { login } => Ok(people::get_user(client, login).await?),
            _ => Ok(None),
        }
    }

    /// The first resource's selector of `kind` as JSON, for the GitHub kind functions (built
    /// once per mapping).
    fn raw_selector(&self, kind: &str) -> Option<Value> {
        self.loaded().selectors.get(kind).cloned()
    }

    /// Upserts what every resource of `kind` selects from `raw`; deletes (if owned) what a
    /// resource no longer selects.
    async fn apply(
        &self,
        kind: &str,
        raw: &Value,
        report: &mut LiveReport,
    ) -> Result<(), LiveError> {
        let mapping = self.mapping();
        let resources: Vec<&CompiledResource> = mapping.resources_for_kind(kind).collect();
        let mut upserts = Vec::new();
        for resource in resources {
            let outcome = resource.map_item(raw);
            report.field_errors += outcome.field_errors.len();
            if outcome.selected && passes_selector_options(resource, raw) {
                upserts.extend(outcome.entities.iter().filter_map(Entity::from_mapped));
            } else {
                let gone = resource.map_item_ignoring_selector(raw);
                for entity in gone.entities.iter().filter_map(Entity::from_mapped) {
                    self.delete_if_owned(&entity.blueprint, &entity.identifier, report)
                        .await?;
                }
            }
        }
        if upserts.is_empty() {
            return Ok(());
        }
        let keys: Vec<(String, String)> = upserts
            .iter()
            .map(|e| (e.blueprint.clone(), e.identifier.clone()))
            .collect();
        self.note(crate::state::LiveWrite::Upserted, &keys).await?;
        let outcomes = self
            .port
            .upsert_entities(&upserts, self.upsert_options())
            .await;
        for (entity, outcome) in upserts.iter().zip(outcomes) {
            match outcome.result {
                UpsertResult::Upserted { .. } => report
                    .upserted
                    .push((entity.blueprint.clone(), entity.identifier.clone())),
                UpsertResult::Failed(failure)
                    if failure.transient || failure.status == Some(401) =>
                {
                    let reason = format!("Port: {} {}", failure.code, failure.message);
                    return Err(match failure.retry_after {
                        Some(wait) => LiveError::Deferred { reason, wait },
                        None => LiveError::Transient(reason),
                    });
                }
                UpsertResult::Failed(failure) => {
                    tracing::warn!(blueprint = %entity.blueprint, identifier = %entity.identifier,
                        code = %failure.code, "Port refused the entity");
                    report.refused.push(format!(
                        "{}/{}: {} {}",
                        entity.blueprint,
                        entity.identifier,
                        failure.status.map(|s| s.to_string()).unwrap_or_default(),
                        failure.code
                    ));
                    if !failure.message.is_empty()
                        && let Some(last) = report.refused.last_mut()
                    {
                        last.push_str(&format!(" ({})", failure.message));
                    }
                }
            }
        }
        Ok(())
    }

    async fn delete_mapped(
        &self,
        kind: &str,
        raw: &Value,
        keep: &[(String, String)],
        report: &mut LiveReport,
    ) -> Result<(), LiveError> {
        let mapping = self.mapping();
        let resources: Vec<&CompiledResource> = mapping.resources_for_kind(kind).collect();
        for resource in resources {
            for entity in resource
                .map_item_ignoring_selector(raw)
                .entities
                .iter()
                .filter_map(Entity::from_mapped)
            {
                let key = (entity.blueprint.clone(), entity.identifier.clone());
                if !keep.contains(&key) {
                    self.delete_if_owned(&entity.blueprint, &entity.identifier, report)
                        .await?;
                }
            }
        }
        Ok(())
    }

    async fn delete_if_owned(
        &self,
        blueprint: &str,
        identifier: &str,
        report: &mut LiveReport,
    ) -> Result<(), LiveError> {
        let key = (blueprint.to_owned(), identifier.to_owned());
        // The tombstone goes first, even when Port does not hold the entity yet: a resync's
        // upsert of it may be on its way, and must be undone.
        self.note(crate::state::LiveWrite::Deleted, std::slice::from_ref(&key))
            .await?;
        if !self.port.owns_entity(blueprint, identifier).await? {
            report.not_owned.push(key);
            return Ok(());
        }
        let dependents = self.mapping().config().delete_dependent_entities;
        self.port
            .delete_entity(blueprint, identifier, dependents)
            .await?;
        report.deleted.push(key);
        Ok(())
    }

    fn upsert_options(&self) -> UpsertOptions {
        let mapping = self.mapping();
        let config = mapping.config();
        UpsertOptions {
            merge: config.enable_merge_entity,
            create_missing_related_entities: config.create_missing_related_entities,
        }
    }
}

/// The folders above `path`: `a/b/c.txt` → `a/b`, `a`.
fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    path.match_indices('/')
        .map(move |(at, _)| &path[..at])
        .rev()
}

/// `.github/workflows/ci.yml` → `ci.yml` (a workflow definition directly in that folder).
fn workflow_file(path: &str) -> Option<&str> {
    let file = path.strip_prefix(".github/workflows/")?;
    (!file.contains('/') && (file.ends_with(".yml") || file.ends_with(".yaml"))).then_some(file)
}

fn target_needs_repo(target: &Target) -> bool {
    !matches!(target, Target::Team { .. } | Target::User { .. })
}

/// The payload's own object for a target whose current object is gone.
fn payload_object(envelope: &Envelope, target: &Target) -> Option<Value> {
    let p = &envelope.payload;
    let pointer = match target {
        Target::Repository => "/repository",
        Target::PullRequest { .. } => "/pull_request",
        Target::Issue { .. } => "/issue",
        Target::Release { .. } => "/release",
        Target::Deployment { .. } => "/deployment",
        Target::DeploymentStatus { .. } => "/deployment_status",
        Target::WorkflowRun { .. } => "/workflow_run",
        Target::DependabotAlert { .. }
        | Target::CodeScanningAlert { .. }
        | Target::SecretScanningAlert { .. } => "/alert",
        Target::Team { .. } => "/team",
        Target::User { .. } => "/membership/user",
        Target::Collaborator { .. } => "/member",
        Target::Tag { name } | Target::Branch { name } | Target::Environment { name } => {
            return Some(super::routing::enriched(
                p,
                serde_json::json!({ "name": name }),
            ));
        }
        Target::Workflow { .. } | Target::Paths { .. } => return None,
    };
    p.pointer(pointer)
        .cloned()
        .map(|object| super::routing::enriched(p, object))
}
