//! Finding entities, read-only: the entities this integration owns, the two ways Port allows (a
//! `$datasource` search with two `contains` rules, optionally for one blueprint, and the paged
//! datasource-entities sweep used for stale cleanup), and the paged search of one blueprint.

use reqwest::Method;
use serde::Deserialize;

use super::PortClient;
use super::error::PortError;

/// Page size of the datasource-entities sweep.
const SWEEP_PAGE: u32 = 5000;
/// Page size of a blueprint search (Port's maximum).
const SEARCH_PAGE: u32 = 1000;

/// An entity's address in Port.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
pub struct EntityRef {
    pub blueprint: String,
    pub identifier: String,
}

/// `port-ocean/<type>/`: the start of every `$datasource` this integration type writes.
pub fn datasource_prefix(integration_type: &str) -> String {
    format!("port-ocean/{integration_type}/")
}

/// `/<identifier>/exporter`: the end of every `$datasource` this integration writes.
pub fn datasource_suffix(integration_id: &str) -> String {
    format!("/{integration_id}/exporter")
}

#[derive(Deserialize)]
struct SearchAnswer {
    #[serde(default)]
    entities: Vec<EntityRef>,
}

#[derive(Deserialize)]
struct PagedAnswer {
    #[serde(default)]
    entities: Vec<serde_json::Value>,
    #[serde(default)]
    next: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct SweepAnswer {
    #[serde(default)]
    entities: Vec<EntityRef>,
    #[serde(default)]
    next: Option<serde_json::Value>,
}

impl PortClient {
    /// The entities this integration owns (by `$datasource`), of one blueprint or of all.
    pub async fn search_owned_entities(
        &self,
        blueprint: Option<&str>,
    ) -> Result<Vec<EntityRef>, PortError> {
        let rules = blueprint
            .map(|blueprint| serde_json::json!({"property": "$blueprint", "operator": "=", "value": blueprint}))
            .into_iter()
            .collect();
        self.search_owned(rules).await
    }

    /// Whether this integration owns the entity `identifier` of `blueprint` (a live delete only
    /// removes what this integration wrote).
    pub async fn owns_entity(&self, blueprint: &str, identifier: &str) -> Result<bool, PortError> {
        let rules = vec![
            serde_json::json!({"property": "$blueprint", "operator": "=", "value": blueprint}),
            serde_json::json!({"property": "$identifier", "operator": "=", "value": identifier}),
        ];
        Ok(self
            .search_owned(rules)
            .await?
            .iter()
            .any(|e| e.identifier == identifier && e.blueprint == blueprint))
    }

    /// The entities matching `rules` and owned by this integration (the two `$datasource`
    /// `contains` rules are added), through the unpaged search.
    async fn search_owned(
        &self,
        mut rules: Vec<serde_json::Value>,
    ) -> Result<Vec<EntityRef>, PortError> {
        const ENDPOINT: &str = "search";
        let config = self.config();
        for value in [
            datasource_prefix(&config.integration_type),
            datasource_suffix(&config.integration_id),
        ] {
            rules.push(serde_json::json!({"property": "$datasource", "operator": "contains", "value": value}));
        }
        let body = serde_json::to_vec(&serde_json::json!({"combinator": "and", "rules": rules}))
            .map_err(|e| PortError::decode(ENDPOINT, e))?;
        let query = [
            ("exclude_calculated_properties", "true"),
            ("include", "blueprint"),
            ("include", "identifier"),
        ];
        let url = self.inner.url(&["entities", "search"], &query)?;
        let answer = self
            .inner
            .call(ENDPOINT, Method::POST, url, Some(body))
            .await?;
        let parsed: SearchAnswer =
            serde_json::from_slice(&answer.body).map_err(|e| PortError::decode(ENDPOINT, e))?;
        Ok(parsed.entities)
    }

    /// Every entity this integration owns, across blueprints, through the paged
    /// datasource-entities endpoint (the stale sweep).
    pub async fn sweep_owned_entities(&self) -> Result<Vec<EntityRef>, PortError> {
        let mut owned = Vec::new();
        self.sweep_owned_entity_pages(|page| owned.extend(page))
            .await?;
        Ok(owned)
    }

    /// The same sweep, handing each page to `each` as it arrives (a large catalog is never held
    /// whole).
    pub async fn sweep_owned_entity_pages(
        &self,
        mut each: impl FnMut(Vec<EntityRef>),
    ) -> Result<(), PortError> {
        const ENDPOINT: &str = "datasource entities";
        let config = self.config();
        let prefix = datasource_prefix(&config.integration_type);
        let suffix = datasource_suffix(&config.integration_id);
        let mut from = serde_json::Value::Null;
        loop {
            let mut request = serde_json::json!({
                "datasource_prefix": prefix,
                "datasource_suffix": suffix,
                "limit": SWEEP_PAGE,
            });
            if !from.is_null() {
                request["from"] = from.clone();
            }
            let body = serde_json::to_vec(&request).map_err(|e| PortError::decode(ENDPOINT, e))?;
            let url = self
                .inner
                .url(&["blueprints", "entities", "datasource-entities"], &[])?;
            let answer = self
                .inner
                .call(ENDPOINT, Method::POST, url, Some(body))
                .await?;
            let page: SweepAnswer =
                serde_json::from_slice(&answer.body).map_err(|e| PortError::decode(ENDPOINT, e))?;
            let empty = page.entities.is_empty();
            each(page.entities);
            match page.next {
                Some(next) if !next.is_null() && next != from && !empty => from = next,
                _ => return Ok(()),
            }
        }
    }

    /// Entities of one blueprint matching `query` (Port's `{"combinator", "rules"}`), with only
    /// the `include` fields when it is not empty, following the `next` cursor page by page.
    pub async fn search_blueprint_entities(
        &self,
        blueprint: &str,
        query: &serde_json::Value,
        include: &[&str],
    ) -> Result<Vec<serde_json::Value>, PortError> {
        const ENDPOINT: &str = "blueprint search";
        let url = self
            .inner
            .url(&["blueprints", blueprint, "entities", "search"], &[])?;
        let mut found = Vec::new();
        let mut from = serde_json::Value::Null;
        loop {
            let mut request = serde_json::json!({"query": query, "limit": SEARCH_PAGE});
            if !include.is_empty() {
                request["include"] = serde_json::json!(include);
            }
            if !from.is_null() {
                request["from"] = from.clone();
            }
            let body = serde_json::to_vec(&request).map_err(|e| PortError::decode(ENDPOINT, e))?;
            let answer = self
                .inner
                .call(ENDPOINT, Method::POST, url.clone(), Some(body))
                .await?;
            let page: PagedAnswer =
                serde_json::from_slice(&answer.body).map_err(|e| PortError::decode(ENDPOINT, e))?;
            let empty = page.entities.is_empty();
            found.extend(page.entities);
            match page.next {
                Some(next) if !next.is_null() && next != from && !empty => from = next,
                _ => return Ok(found),
            }
        }
    }
}
