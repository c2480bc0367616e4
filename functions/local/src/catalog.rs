//! The embedded Port-compatible catalog: when no Port credentials are set, `serve` and `resync`
//! write to a catalog in this process (the Port simulator with the built-in blueprints) instead
//! of Port, and save it as JSON, so the product can be tried against a real GitHub organization
//! without a Port account.

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::Context as _;
use port_github_simulators::port_sim::{CLIENT_ID, CLIENT_SECRET, PortSim};

/// The Port settings whose absence means "no Port account".
const PORT_SETTINGS: [&str; 4] = [
    "PORT_CLIENT_ID",
    "PORT_CLIENT_SECRET",
    "PORT_CREDENTIALS_ARN",
    "PORT_API_URL",
];

/// The integration identifier the embedded catalog uses when none is set.
const LOCAL_INTEGRATION: &str = "github-local";

pub struct EmbeddedCatalog {
    port: PortSim,
    path: PathBuf,
}

impl EmbeddedCatalog {
    /// Starts the embedded catalog when none of the Port settings is given, and points `vars`
    /// at it; `None` when Port settings are given.
    pub async fn start_if_no_port(
        vars: &mut HashMap<String, String>,
    ) -> anyhow::Result<Option<Self>> {
        let given = PORT_SETTINGS
            .iter()
            .any(|name| vars.get(*name).is_some_and(|v| !v.trim().is_empty()));
        if given {
            return Ok(None);
        }
        // A fresh Port organization: the integration provisions its record and blueprints.
        let port = PortSim::start_fresh()
            .await
            .context("the embedded catalog")?;
        // Not Port: no integration log to ship to.
        port.set_log_attributes(false);
        vars.insert("PORT_API_URL".into(), port.base_url().to_owned());
        vars.insert("PORT_CLIENT_ID".into(), CLIENT_ID.to_owned());
        vars.insert("PORT_CLIENT_SECRET".into(), CLIENT_SECRET.to_owned());
        vars.entry("PORT_INTEGRATION_ID".into())
            .or_insert_with(|| LOCAL_INTEGRATION.to_owned());
        let dir = vars
            .get("PORT_GITHUB_CATALOG_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| std::env::temp_dir().join("port-github-catalog"));
        Ok(Some(Self {
            port,
            path: dir.join("catalog.json"),
        }))
    }

    /// Writes the catalog (every entity, as Port would return it) and returns where.
    pub fn save(&self) -> anyhow::Result<&PathBuf> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let catalog = self.port.catalog();
        std::fs::write(&self.path, serde_json::to_vec_pretty(&catalog)?)
            .with_context(|| format!("writing {}", self.path.display()))?;
        Ok(&self.path)
    }

    pub fn len(&self) -> usize {
        self.port.entity_count()
    }
}
