//! One live event, end to end: route it, re-fetch the current objects from GitHub (so duplicate
//! and out-of-order deliveries converge on the truth), map them with every resource of their kind,
//! then upsert what is selected and delete, only where this integration owns it, what is gone or
//! no longer selected. Errors say whether SQS should retry the message.

use std::sync::Arc;

use serde_json::Value;

use super::error::LiveError;
use super::fetch;
use super::routing::{Operation, Target, WorkItem, route};
use crate::github::kinds::{Kind, Repo};
use crate::mapping::CompiledMapping;
use crate::port::{PortClient, UpsertOptions, UpsertResult};
use crate::sync::{GitHubClients, MappingCache, apply, entities_ignoring_selector};
use crate::webhook::envelope::Envelope;

mod pushes;

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
    pub unmapped_kinds: Vec<Kind>,
    /// The event's organization is not in `GITHUB_ORGANIZATIONS`: nothing was done.
    pub outside_organizations: bool,
    /// Entities Port refused for good (`blueprint/identifier: code message`); the event then
    /// fails as permanent once the rest of it is done.
    pub refused: Vec<String>,
}

pub struct LiveProcessor {
    clients: Arc<dyn GitHubClients>,
    port: PortClient,
    mapping: MappingCache,
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

impl LiveProcessor {
    pub fn new(
        clients: Arc<dyn GitHubClients>,
        port: PortClient,
        mapping: Arc<CompiledMapping>,
    ) -> Self {
        Self {
            clients,
            port,
            mapping: MappingCache::new(mapping),
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
            Some(journal) => {
                journal
                    .note(write, entities)
                    .await
                    .map_err(|error| LiveError::Transient {
                        reason: format!("the live-write journal: {error}"),
                        source: Some(Box::new(error)),
                    })
            }
            None => Ok(()),
        }
    }

    /// The mapping is the one users edit in Port: look for a new version at most every
    /// `every` (the mapping given to [`LiveProcessor::new`] stays in use while Port has none).
    pub fn with_mapping_from_port(mut self, every: std::time::Duration) -> Self {
        self.refresh = Some(every);
        self
    }

    /// The Port client the processor writes with.
    pub fn port(&self) -> &PortClient {
        &self.port
    }

    /// The mapping in use.
    pub fn mapping(&self) -> Arc<CompiledMapping> {
        self.mapping.mapping()
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
        match self.mapping.use_config(&config) {
            Ok(true) => tracing::info!("the mapping changed in Port: using the new one"),
            Ok(false) => {}
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
        let loaded = self.mapping.current();
        if let Some(provisioner) = &self.provisioner {
            // Logged inside; a failure leaves entities to be refused, not the event.
            let _ = provisioner.ensure(&self.port, loaded.mapping()).await;
        }
        let items = route(envelope).map_err(|error| LiveError::Permanent {
            reason: error.to_string(),
            source: Some(Box::new(error)),
        })?;
        let (mapped, unmapped): (Vec<WorkItem>, Vec<WorkItem>) =
            items.into_iter().partition(|item| {
                loaded
                    .mapping()
                    .resources_for_kind(item.kind.as_str())
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
                        repo = Some(fetch::repository(&client, envelope).await?);
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
                    let selector = self.raw_selector(item.kind);
                    let selector = selector.as_ref();
                    let current = if target.needs_repo() {
                        if repo.is_none() {
                            repo = Some(fetch::repository(&client, envelope).await?);
                        }
                        match repo.as_ref().and_then(Option::as_ref) {
                            Some(repo) => {
                                fetch::current_object(&client, envelope, repo, &target, selector)
                                    .await?
                            }
                            None => None, // the repository itself is gone
                        }
                    } else {
                        fetch::org_object(&client, envelope, &target, selector).await?
                    };
                    match current {
                        Some(raw) => self.apply(item.kind, &raw, &mut report).await?,
                        None => {
                            let Some(raw) = target.payload_object(&envelope.payload) else {
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
            return Err(LiveError::permanent(format!(
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

    /// The first resource's selector of `kind` as JSON, for the GitHub kind functions (built
    /// once per mapping).
    fn raw_selector(&self, kind: Kind) -> Option<Value> {
        self.mapping.current().selector(kind).cloned()
    }

    /// Upserts what every resource of `kind` selects from `raw`; deletes (if owned) what a
    /// resource no longer selects.
    async fn apply(
        &self,
        kind: Kind,
        raw: &Value,
        report: &mut LiveReport,
    ) -> Result<(), LiveError> {
        let mapping = self.mapping();
        let mut upserts = Vec::new();
        for resource in mapping.resources_for_kind(kind.as_str()) {
            let applied = apply(resource, raw);
            report.field_errors += applied.field_errors;
            if applied.selected {
                upserts.extend(applied.entities);
            } else {
                for entity in entities_ignoring_selector(resource, raw) {
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
                        Some(wait) => LiveError::Deferred {
                            reason,
                            wait,
                            source: None,
                        },
                        None => LiveError::transient(reason),
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
        kind: Kind,
        raw: &Value,
        keep: &[(String, String)],
        report: &mut LiveReport,
    ) -> Result<(), LiveError> {
        let mapping = self.mapping();
        for resource in mapping.resources_for_kind(kind.as_str()) {
            for entity in entities_ignoring_selector(resource, raw) {
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
