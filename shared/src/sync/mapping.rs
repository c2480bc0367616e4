//! The mapping in use, shared by every task of a container: a compiled mapping with its
//! fingerprint and the selectors derived from it, swapped whole when Port holds another version.
//! The live path asks Port at most every minute; the resync uses the version its run started
//! with. Either way, a version is compiled once: the same fingerprint keeps the one in use.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use serde_json::Value;

use super::selection::selector_json;
use crate::github::kinds::Kind;
use crate::mapping::{CompileError, CompiledMapping, ConfigError, JqOptions, PortAppConfig};

/// Why a mapping cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum MappingError {
    /// The mapping file could not be read.
    #[error("{0}")]
    Read(#[source] std::io::Error),
    /// It is not a `port-app-config` document.
    #[error("{0}")]
    Parse(#[source] ConfigError),
    /// A jq expression does not compile.
    #[error("{0}")]
    Compile(#[source] CompileError),
}

/// A compiled mapping and what is derived from it.
pub struct LoadedMapping {
    mapping: Arc<CompiledMapping>,
    /// Of the Port configuration it was compiled from (`None`: not from Port).
    fingerprint: Option<u64>,
    /// Per kind, the first resource's selector as the GitHub kind functions read it.
    selectors: HashMap<Kind, Value>,
}

impl LoadedMapping {
    fn new(mapping: Arc<CompiledMapping>, fingerprint: Option<u64>) -> Self {
        let mut selectors = HashMap::new();
        for resource in mapping.resources() {
            selectors
                .entry(resource.config().kind)
                .or_insert_with(|| selector_json(resource));
        }
        Self {
            mapping,
            fingerprint,
            selectors,
        }
    }

    pub fn mapping(&self) -> &Arc<CompiledMapping> {
        &self.mapping
    }

    /// The fingerprint of the Port configuration it came from (`None`: not from Port).
    pub fn fingerprint(&self) -> Option<u64> {
        self.fingerprint
    }

    /// The first resource's selector of `kind`, as JSON for the GitHub kind functions.
    pub fn selector(&self, kind: Kind) -> Option<&Value> {
        self.selectors.get(&kind)
    }
}

/// The mapping in use; readers get the whole of one version.
pub struct MappingCache {
    loaded: RwLock<Arc<LoadedMapping>>,
}

impl MappingCache {
    /// Starts with `mapping` (not from Port, so any Port version replaces it).
    pub fn new(mapping: Arc<CompiledMapping>) -> Self {
        Self {
            loaded: RwLock::new(Arc::new(LoadedMapping::new(mapping, None))),
        }
    }

    pub fn current(&self) -> Arc<LoadedMapping> {
        self.loaded
            .read()
            .map(|l| l.clone())
            .unwrap_or_else(|poisoned| poisoned.into_inner().clone())
    }

    pub fn mapping(&self) -> Arc<CompiledMapping> {
        self.current().mapping.clone()
    }

    /// Uses `config` (Port's `port-app-config`), compiling it unless it is the version in use.
    /// `Ok(true)`: another version is now in use; on an error the one in use stays.
    pub fn use_config(&self, config: &Value) -> Result<bool, MappingError> {
        let fingerprint = crate::mapping::config_fingerprint(config);
        if self.current().fingerprint == Some(fingerprint) {
            return Ok(false);
        }
        let parsed = PortAppConfig::from_value(config).map_err(MappingError::Parse)?;
        let compiled = CompiledMapping::compile(&parsed, &JqOptions::default())
            .map_err(MappingError::Compile)?;
        let replacement = Arc::new(LoadedMapping::new(Arc::new(compiled), Some(fingerprint)));
        match self.loaded.write() {
            Ok(mut loaded) => *loaded = replacement,
            Err(poisoned) => *poisoned.into_inner() = replacement,
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config(blueprint: &str) -> Value {
        json!({"resources": [{"kind": "repository", "selector": {"query": "true", "includedFiles": ["README.md"]},
            "port": {"entity": {"mappings": {"identifier": ".name", "blueprint": format!("\"{blueprint}\"")}}}}]})
    }

    fn builtin() -> Arc<CompiledMapping> {
        let parsed =
            PortAppConfig::from_yaml_or_json(crate::mapping::defaults::DEFAULT_PORT_APP_CONFIG)
                .unwrap();
        Arc::new(CompiledMapping::compile(&parsed, &JqOptions::default()).unwrap())
    }

    #[test]
    fn a_version_is_compiled_once_and_swapped_whole() {
        let cache = MappingCache::new(builtin());
        assert_eq!(cache.current().fingerprint(), None);
        assert!(
            cache.use_config(&config("a")).unwrap(),
            "Port's replaces the built-in"
        );
        let first = cache.current();
        assert_eq!(
            first.selector(Kind::Repository).unwrap()["includedFiles"],
            json!(["README.md"])
        );
        assert!(!cache.use_config(&config("a")).unwrap(), "the same version");
        assert!(Arc::ptr_eq(&first, &cache.current()));
        assert!(cache.use_config(&config("b")).unwrap());
        assert_ne!(first.fingerprint(), cache.current().fingerprint());
    }

    #[test]
    fn a_version_that_does_not_compile_leaves_the_one_in_use() {
        let cache = MappingCache::new(builtin());
        let broken = json!({"resources": [{"kind": "repository", "selector": {"query": "true"},
            "port": {"entity": {"mappings": {"identifier": ".name |||", "blueprint": "\"b\""}}}}]});
        assert!(matches!(
            cache.use_config(&broken),
            Err(MappingError::Compile(_))
        ));
        assert!(matches!(
            cache.use_config(&json!({"resources": "no"})),
            Err(MappingError::Parse(_))
        ));
        assert_eq!(cache.current().fingerprint(), None);
        assert!(cache.mapping().resources().len() > 1, "still the built-in");
    }
}
