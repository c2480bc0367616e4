//! First contact with a Port organization: the integration makes sure Port has what it writes
//! to. The integration record is created when missing (with the mapping in use as its config),
//! or given that mapping when its config is empty; a config that holds anything is never
//! touched. The blueprints the mapping targets are created when missing, from the built-in
//! definitions, in the order Port requires (bare first, then relations, then the rest of the
//! body), and a blueprint that exists is never changed, whatever it holds: it is the user's.
//! [`Provisioner`] does this once per container and mapping, and is a no-op afterwards.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use serde_json::{Map, Value};
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::PortClient;
use super::blueprints::Created;
use super::error::PortError;
use crate::mapping::CompiledMapping;

/// How long after a failed attempt the next one may run (a Port outage must not make every
/// event ask again).
pub const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(60);

/// Body fields a blueprint is first created without: relations need their targets to exist,
/// and these refer to relations.
const LATER_FIELDS: [&str; 6] = [
    "relations",
    "mirrorProperties",
    "calculationProperties",
    "aggregationProperties",
    "teamInheritance",
    "ownership",
];

/// What happened to the integration record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum IntegrationStep {
    /// It existed with a mapping: left alone.
    #[default]
    Present,
    /// Created, with the mapping in use as its config.
    Created,
    /// Another container created it at the same moment (409).
    CreatedElsewhere,
    /// It existed with an empty config, which now holds the mapping in use.
    ConfigFilled,
}

/// What provisioning found and did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ProvisionReport {
    pub integration: IntegrationStep,
    /// Blueprints created by this call.
    pub created: Vec<String>,
    /// Targets of the mapping that existed already (left unchanged).
    pub present: Vec<String>,
    /// Targets that neither exist in Port nor are built in: the user must create them.
    pub not_provided: Vec<String>,
    /// Relations of created blueprints left out because their target blueprint does not exist
    /// (`blueprint.relation → target`).
    pub relations_left_out: Vec<String>,
    /// Resources whose blueprint is computed per item (not a literal), so it cannot be known here.
    pub computed_targets: Vec<String>,
}

impl ProvisionReport {
    /// Whether this call changed anything in Port.
    pub fn changed_anything(&self) -> bool {
        !self.created.is_empty()
            || matches!(
                self.integration,
                IntegrationStep::Created | IntegrationStep::ConfigFilled
            )
    }
}

/// Why provisioning could not finish.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    /// The client id and secret were refused when asking for a token.
    #[error(
        "Port refused the client id \"{client_id}\" and its secret (PORT_CLIENT_ID / PORT_CLIENT_SECRET or PORT_CREDENTIALS_ARN): check the credentials in Port (Settings → Credentials)"
    )]
    Credentials {
        client_id: String,
        #[source]
        cause: PortError,
    },
    /// The credentials work but may not do this.
    #[error(
        "Port refused to {action}: the credentials of client id \"{client_id}\" lack that permission (they need an admin or moderator role in Port, or set PORT_CREATE_RESOURCES=false and create it yourself)"
    )]
    Forbidden {
        action: String,
        client_id: String,
        #[source]
        cause: PortError,
    },
    /// Anything else Port answered or failed with.
    #[error("Port: could not {action}")]
    Port {
        action: String,
        #[source]
        cause: PortError,
    },
    /// The built-in blueprints are not a JSON array of blueprints.
    #[error("the built-in blueprints cannot be read")]
    BuiltIn(#[source] serde_json::Error),
}

impl ProvisionError {
    /// Whether trying again later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, ProvisionError::Port { cause, .. } if cause.is_transient())
    }

    fn from_port(port: &PortClient, action: impl Into<String>, cause: PortError) -> Self {
        let client_id = port.config().client_id.clone();
        match cause.status() {
            Some(401) if cause.endpoint() == "auth" => {
                ProvisionError::Credentials { client_id, cause }
            }
            Some(401 | 403) => ProvisionError::Forbidden {
                action: action.into(),
                client_id,
                cause,
            },
            _ => ProvisionError::Port {
                action: action.into(),
                cause,
            },
        }
    }
}

/// The blueprints the mapping writes to, in mapping order (literal `blueprint` expressions), and
/// the kinds of resources whose blueprint is computed.
pub fn mapping_targets(mapping: &CompiledMapping) -> (Vec<String>, Vec<String>) {
    let mut targets: Vec<String> = Vec::new();
    let mut computed = Vec::new();
    for resource in mapping.resources() {
        match resource.blueprint_constant() {
            Some(blueprint) => {
                if !targets.iter().any(|t| t == blueprint) {
                    targets.push(blueprint.to_owned());
                }
            }
            None => computed.push(resource.config().kind.to_string()),
        }
    }
    (targets, computed)
}

/// Makes sure Port has the integration record and every blueprint `mapping` targets.
/// `builtin` is the JSON array of blueprint definitions to create missing ones from.
pub async fn provision(
    port: &PortClient,
    mapping: &CompiledMapping,
    builtin: &str,
) -> Result<ProvisionReport, ProvisionError> {
    let builtin: Vec<Value> = serde_json::from_str(builtin).map_err(ProvisionError::BuiltIn)?;
    let builtin: BTreeMap<String, Value> = builtin
        .into_iter()
        .filter_map(|bp| Some((bp.get("identifier")?.as_str()?.to_owned(), bp)))
        .collect();
    let mut report = ProvisionReport {
        integration: integration_record(port, &mapping.config().document).await?,
        ..ProvisionReport::default()
    };
    let (targets, computed) = mapping_targets(mapping);
    report.computed_targets = computed;

    // Which blueprints exist: every target, and every relation target of those we create.
    let mut exists: BTreeMap<String, bool> = BTreeMap::new();
    let mut to_create = Vec::new();
    for target in &targets {
        if lookup(port, &mut exists, target).await? {
            report.present.push(target.clone());
        } else if let Some(definition) = builtin.get(target) {
            to_create.push((target.clone(), definition.clone()));
        } else {
            report.not_provided.push(target.clone());
        }
    }
    // Stage 1: every missing blueprint, bare.
    let mut created = Vec::new();
    for (identifier, definition) in &to_create {
        let mut bare = definition.as_object().cloned().unwrap_or_default();
        for field in LATER_FIELDS {
            bare.remove(field);
        }
        let action = format!("create blueprint {identifier}");
        match port.create_blueprint(&Value::Object(bare)).await {
            Ok(Created::New) => {
                created.push((identifier.clone(), definition.clone()));
                report.created.push(identifier.clone());
            }
            // Someone else was first: theirs, left as they made it.
            Ok(Created::AlreadyExisted) => report.present.push(identifier.clone()),
            Err(cause) => return Err(ProvisionError::from_port(port, action, cause)),
        }
        exists.insert(identifier.clone(), true);
    }
    // Stage 2: their relations, now that the targets exist (those that do).
    for (identifier, definition) in &created {
        let Some(relations) = definition.get("relations").and_then(Value::as_object) else {
            continue;
        };
        let mut kept = Map::new();
        for (name, relation) in relations {
            let target = relation.get("target").and_then(Value::as_str).unwrap_or("");
            if target == identifier || lookup(port, &mut exists, target).await? {
                kept.insert(name.clone(), relation.clone());
            } else {
                report
                    .relations_left_out
                    .push(format!("{identifier}.{name} → {target}"));
            }
        }
        if kept.is_empty() {
            continue;
        }
        let changes = serde_json::json!({ "relations": kept });
        if let Err(cause) = port.patch_blueprint(identifier, &changes).await {
            let action = format!("add the relations of blueprint {identifier}");
            return Err(ProvisionError::from_port(port, action, cause));
        }
    }
    // Stage 3: what refers to relations (mirror, calculation, aggregation properties…).
    for (identifier, definition) in &created {
        let rest: Map<String, Value> = LATER_FIELDS
            .iter()
            .filter(|field| **field != "relations")
            .filter_map(|field| Some((field.to_string(), definition.get(*field)?.clone())))
            .collect();
        if rest.is_empty() {
            continue;
        }
        if let Err(cause) = port.patch_blueprint(identifier, &Value::Object(rest)).await {
            let action = format!("complete blueprint {identifier}");
            return Err(ProvisionError::from_port(port, action, cause));
        }
    }
    Ok(report)
}

/// Whether a blueprint exists, asking Port once per identifier.
async fn lookup(
    port: &PortClient,
    exists: &mut BTreeMap<String, bool>,
    identifier: &str,
) -> Result<bool, ProvisionError> {
    if let Some(known) = exists.get(identifier) {
        return Ok(*known);
    }
    let found = port
        .blueprint(identifier)
        .await
        .map_err(|cause| {
            ProvisionError::from_port(port, format!("read blueprint {identifier}"), cause)
        })?
        .is_some();
    exists.insert(identifier.to_owned(), found);
    Ok(found)
}

async fn integration_record(
    port: &PortClient,
    config: &Value,
) -> Result<IntegrationStep, ProvisionError> {
    let id = &port.config().integration_id;
    let record = port.integration_record().await.map_err(|cause| {
        ProvisionError::from_port(port, format!("read integration {id}"), cause)
    })?;
    match record {
        Some(record) if !record.config_is_empty() => Ok(IntegrationStep::Present),
        Some(_) => {
            port.patch_integration_config(config)
                .await
                .map_err(|cause| {
                    ProvisionError::from_port(
                        port,
                        format!("set the mapping of integration {id}"),
                        cause,
                    )
                })?;
            Ok(IntegrationStep::ConfigFilled)
        }
        None => match port.create_integration(config).await {
            Ok(Created::New) => Ok(IntegrationStep::Created),
            Ok(Created::AlreadyExisted) => Ok(IntegrationStep::CreatedElsewhere),
            Err(cause) => Err(ProvisionError::from_port(
                port,
                format!("create integration {id}"),
                cause,
            )),
        },
    }
}

/// Provisioning once per container and mapping: the first caller runs it, later callers with
/// the same mapping return at once; after a failure the next attempt waits
/// [`RETRY_AFTER_FAILURE`]. Turned off, it never calls Port.
pub struct Provisioner {
    enabled: bool,
    builtin: &'static str,
    state: Mutex<Attempts>,
}

#[derive(Default)]
struct Attempts {
    /// The fingerprint of the mapping provisioned last.
    done_for: Option<u64>,
    failed_at: Option<(u64, Instant)>,
}

impl Provisioner {
    /// `enabled` is `PORT_CREATE_RESOURCES`; `builtin` the blueprints to create missing ones from.
    pub fn new(enabled: bool, builtin: &'static str) -> Self {
        Provisioner {
            enabled,
            builtin,
            state: Mutex::new(Attempts::default()),
        }
    }

    /// Provisions for `mapping` unless already done for it in this container (or turned off,
    /// or a failure was too recent): `Some(report or error)` when it ran, `None` otherwise.
    /// Single-flight: concurrent callers wait for the one that runs.
    pub async fn ensure(
        &self,
        port: &PortClient,
        mapping: &CompiledMapping,
    ) -> Option<Result<ProvisionReport, ProvisionError>> {
        if !self.enabled {
            return None;
        }
        let fingerprint = crate::mapping::config_fingerprint(&mapping.config().document);
        let mut state = self.state.lock().await;
        if state.done_for == Some(fingerprint) {
            return None;
        }
        if let Some((failed_for, at)) = state.failed_at
            && failed_for == fingerprint
            && at.elapsed() < RETRY_AFTER_FAILURE
        {
            return None;
        }
        let outcome = provision(port, mapping, self.builtin).await;
        match &outcome {
            Ok(report) => {
                state.done_for = Some(fingerprint);
                state.failed_at = None;
                log_report(report);
            }
            Err(error) => {
                state.failed_at = Some((fingerprint, Instant::now()));
                tracing::error!(error = %error, cause = %ErrorChain(error), "Port provisioning failed; entities may be refused until it succeeds");
            }
        }
        Some(outcome)
    }
}

fn log_report(report: &ProvisionReport) {
    if report.changed_anything() {
        tracing::info!(
            integration = ?report.integration,
            created = ?report.created,
            present = report.present.len(),
            "provisioned Port"
        );
    }
    if !report.not_provided.is_empty() {
        tracing::warn!(blueprints = ?report.not_provided,
            "the mapping targets blueprints that are neither in Port nor built in: create them in Port, or entities of those blueprints are refused");
    }
    if !report.relations_left_out.is_empty() {
        tracing::warn!(relations = ?report.relations_left_out,
            "relations left out of created blueprints: their target blueprint does not exist");
    }
}

/// An error with its causes, `: `-separated, for one log field.
struct ErrorChain<'a>(&'a dyn std::error::Error);

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut source = self.0.source();
        let mut first = true;
        while let Some(cause) = source {
            if !first {
                f.write_str(": ")?;
            }
            write!(f, "{cause}")?;
            first = false;
            source = cause.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::defaults::DEFAULT_PORT_APP_CONFIG;
    use crate::mapping::{JqOptions, PortAppConfig};
    use std::collections::BTreeSet;

    #[test]
    fn the_built_in_mapping_targets_every_built_in_blueprint() {
        let config = PortAppConfig::from_yaml_or_json(DEFAULT_PORT_APP_CONFIG).ok();
        let mapping = config.and_then(|c| CompiledMapping::compile(&c, &JqOptions::default()).ok());
        let Some(mapping) = mapping else {
            panic!("the built-in mapping compiles");
        };
        let (targets, computed) = mapping_targets(&mapping);
        let builtin: Vec<Value> =
            serde_json::from_str(crate::mapping::defaults::DEFAULT_BLUEPRINTS).unwrap_or_default();
        let builtin: BTreeSet<&str> = builtin
            .iter()
            .filter_map(|b| b.get("identifier")?.as_str())
            .collect();
        assert!(computed.is_empty());
        assert_eq!(
            targets.iter().map(String::as_str).collect::<BTreeSet<_>>(),
            builtin
        );
    }
}
