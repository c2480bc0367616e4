//! The Port heading of `port-github check`: the credentials (a token request), the integration
//! record, the mapping (read and compiled as the functions do: the deployer's file or secret, else
//! Port's, else the built-in one; jq errors shown), and the blueprints it targets. What is missing
//! is a pass with a note when `PORT_CREATE_RESOURCES` makes the first run create it. The clients,
//! the mapping loader and the targets are the core's (`sync::setup`, `port::provision`).

use std::collections::BTreeSet;

use port_github_core::config::{MappingSetting, WorkerConfig};
use port_github_core::mapping::CompiledMapping;
use port_github_core::mapping::defaults::DEFAULT_BLUEPRINTS;
use port_github_core::port::provision::mapping_targets;
use port_github_core::port::{PortClient, PortClientConfig, PortError};
use port_github_core::sync::setup::{MappingSource, SetupError, load_mapping, port_client};
use secrecy::SecretString;
use serde_json::Value;

use super::report::{Section, chain};

/// The mapping in use, or why there is none.
pub type MappingOutcome = Result<(CompiledMapping, MappingSource), String>;

/// What the Port checks found: their lines, and the mapping for the other headings.
pub struct PortFindings {
    pub section: Section,
    pub mapping: MappingOutcome,
}

const CREDENTIALS_FIX: &str = "check PORT_CLIENT_ID and PORT_CLIENT_SECRET (or the secret PORT_CREDENTIALS_ARN, {\"clientId\", \"clientSecret\"}) against Port: Settings → Credentials";

/// Runs the Port checks with the worker's settings.
pub async fn check(
    config: &WorkerConfig,
    secrets_manager: Option<&aws_sdk_secretsmanager::Client>,
) -> PortFindings {
    let mut section = Section::new("Port");
    let client = credentials(&mut section, config, secrets_manager).await;
    let id = &config.port_integration_id;
    let integration_what = format!("integration \"{id}\"");
    match &client {
        Some(client) => integration(&mut section, client, config, &integration_what).await,
        None => section.not_run(integration_what, "the Port credentials failed"),
    }
    let mapping = mapping(&mut section, client.as_ref(), config, secrets_manager).await;
    match (&client, &mapping) {
        (Some(client), Ok((mapping, _))) => blueprints(&mut section, client, mapping, config).await,
        (None, _) => section.not_run("blueprints", "the Port credentials failed"),
        (_, Err(_)) => section.not_run("blueprints", "the mapping could not be loaded"),
    }
    PortFindings { section, mapping }
}

/// The Port client, when it could be built and Port gave it a token.
async fn credentials(
    section: &mut Section,
    config: &WorkerConfig,
    secrets_manager: Option<&aws_sdk_secretsmanager::Client>,
) -> Option<PortClient> {
    const WHAT: &str = "credentials";
    let client = match port_client(config, secrets_manager).await {
        Ok(client) => client,
        Err(error @ SetupError::Secret(_)) => {
            section.fail(
                WHAT,
                chain(&error),
                "put {\"clientId\": \"...\", \"clientSecret\": \"...\"} in the secret PORT_CREDENTIALS_ARN (see AWS below)",
            );
            return None;
        }
        Err(error) => {
            section.fail(WHAT, chain(&error), CREDENTIALS_FIX);
            return None;
        }
    };
    let client_id = client.config().client_id.clone();
    match client.authenticate().await {
        Ok(()) => {
            section.pass(format!(
                "{WHAT}: Port issued an access token to client id \"{client_id}\""
            ));
            Some(client)
        }
        Err(error) if error.status() == Some(401) => {
            section.fail(
                WHAT,
                format!("Port refused client id \"{client_id}\" and its secret (HTTP 401)"),
                CREDENTIALS_FIX,
            );
            None
        }
        Err(error) => {
            section.fail(
                WHAT,
                format!(
                    "no access token from Port at {}: {}",
                    config.port_api_url,
                    chain(&error)
                ),
                "check PORT_API_URL (https://api.port.io, or https://api.us.port.io for Port's US region) and the network",
            );
            None
        }
    }
}

async fn integration(
    section: &mut Section,
    client: &PortClient,
    config: &WorkerConfig,
    what: &str,
) {
    match client.integration_record().await {
        Ok(Some(record)) if record.config_is_empty() => section.pass(format!(
            "{what} exists (its mapping is empty: the first run fills it with the one in use)"
        )),
        Ok(Some(_)) => section.pass(format!("{what} exists")),
        Ok(None) if config.create_port_resources => section.pass(format!(
            "{what}: not in Port yet; will be created on first run (PORT_CREATE_RESOURCES)"
        )),
        Ok(None) => section.fail(
            what,
            "not found in Port",
            "create the integration in Port with this identifier (PORT_INTEGRATION_ID), or set PORT_CREATE_RESOURCES=true to create it on the first run",
        ),
        Err(error) => section.fail(
            what,
            format!("cannot be read: {}", chain(&error)),
            forbidden_fix(&error),
        ),
    }
}

fn forbidden_fix(error: &PortError) -> &'static str {
    if error.status() == Some(403) {
        "give the credentials' client a role that may read it in Port (admin or moderator)"
    } else {
        "check PORT_API_URL and try again; Port may be unavailable"
    }
}

/// The mapping as the functions load it. Without a working Port client, a mapping of the
/// deployer's own is still read: `load_mapping` asks Port only when none is set, so a client that
/// is never used stands in.
async fn mapping(
    section: &mut Section,
    client: Option<&PortClient>,
    config: &WorkerConfig,
    secrets_manager: Option<&aws_sdk_secretsmanager::Client>,
) -> MappingOutcome {
    const WHAT: &str = "mapping";
    let setting = config.port_app_config.as_ref();
    let unused;
    let client = match (client, setting) {
        (Some(client), _) => client,
        (None, Some(_)) => {
            let settings = PortClientConfig::new(
                config.port_api_url.clone(),
                "not-used",
                SecretString::from(String::new()),
                config.port_integration_id.clone(),
                config.port_integration_type.clone(),
            );
            match PortClient::new(settings) {
                Ok(client) => {
                    unused = client;
                    &unused
                }
                Err(error) => {
                    let reason = chain(&error);
                    section.fail(WHAT, &reason, "check PORT_API_URL");
                    return Err(reason);
                }
            }
        }
        (None, None) => {
            let because = "it is read from Port, and the Port credentials failed";
            section.not_run(WHAT, because);
            return Err(because.to_owned());
        }
    };
    match load_mapping(setting, secrets_manager, client).await {
        Ok((mapping, source)) => {
            let kinds: BTreeSet<&str> = mapping
                .resources()
                .iter()
                .map(|r| r.config().kind.as_str())
                .collect();
            section.pass(format!(
                "{WHAT} compiles: {} resource(s) from {} ({})",
                mapping.resources().len(),
                source_name(&source),
                kinds.into_iter().collect::<Vec<_>>().join(", ")
            ));
            Ok((mapping, source))
        }
        Err(SetupError::Mapping { source: error, .. }) => {
            let reason = error.to_string();
            // The built-in mapping always compiles: without a setting, this is Port's.
            let source = match setting {
                Some(MappingSetting::File(path)) => MappingSource::File(path.clone()),
                Some(MappingSetting::SecretsManager { arn }) => MappingSource::Secret(arn.clone()),
                None => MappingSource::Port,
            };
            section.fail(
                format!("{WHAT} from {}", source_name(&source)),
                &reason,
                "correct the mapping (`port-github map --config FILE --kind KIND` tries it on raw objects)",
            );
            Err(reason)
        }
        Err(error) => {
            let reason = chain(&error);
            section.fail(
                WHAT,
                format!("cannot be read: {reason}"),
                "check PORT_APP_CONFIG / PORT_APP_CONFIG_ARN, or the integration's mapping in Port",
            );
            Err(reason)
        }
    }
}

/// Where the mapping came from, in words.
pub fn source_name(source: &MappingSource) -> String {
    match source {
        MappingSource::File(path) => format!("the file {path}"),
        MappingSource::Secret(arn) => format!("the secret {arn}"),
        MappingSource::Port => "Port (the integration's mapping)".to_owned(),
        MappingSource::BuiltIn => "the built-in mapping (none set, none in Port)".to_owned(),
    }
}

async fn blueprints(
    section: &mut Section,
    client: &PortClient,
    mapping: &CompiledMapping,
    config: &WorkerConfig,
) {
    let builtin: BTreeSet<String> = serde_json::from_str::<Vec<Value>>(DEFAULT_BLUEPRINTS)
        .unwrap_or_default()
        .iter()
        .filter_map(|b| Some(b.get("identifier")?.as_str()?.to_owned()))
        .collect();
    let (targets, computed) = mapping_targets(mapping);
    let mut missing = Vec::new();
    for target in &targets {
        match client.blueprint(target).await {
            Ok(Some(_)) => {}
            Ok(None) => missing.push(target.clone()),
            Err(error) => {
                section.fail(
                    format!("blueprint {target}"),
                    format!("cannot be read: {}", chain(&error)),
                    forbidden_fix(&error),
                );
                return;
            }
        }
    }
    let present = targets.len() - missing.len();
    if missing.is_empty() {
        section.pass(format!(
            "blueprints: the {} the mapping targets exist",
            targets.len()
        ));
    } else {
        section.pass(format!(
            "blueprints: {present} of the {} the mapping targets exist",
            targets.len()
        ));
    }
    for blueprint in missing {
        let what = format!("blueprint {blueprint}");
        match (config.create_port_resources, builtin.contains(&blueprint)) {
            (true, true) => section.pass(format!(
                "{what}: not in Port yet; will be created on first run (PORT_CREATE_RESOURCES)"
            )),
            (true, false) => section.fail(
                what,
                "not in Port, and not one of the built-in blueprints the first run creates",
                "create it in Port (its entities are refused until it exists)",
            ),
            (false, true) => section.fail(
                what,
                "not in Port",
                "create it in Port, or set PORT_CREATE_RESOURCES=true to create it on the first run",
            ),
            (false, false) => section.fail(
                what,
                "not in Port",
                "create it in Port (its entities are refused until it exists)",
            ),
        }
    }
    for kind in computed {
        section.pass(format!(
            "blueprint of the {kind} resource: computed per object, not checked"
        ));
    }
}
