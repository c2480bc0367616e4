//! The built-in default mapping and blueprints (our own), used when no mapping is configured.

/// The built-in `port-app-config` (YAML), covering every kind.
pub const DEFAULT_PORT_APP_CONFIG: &str = include_str!("default-port-app-config.yml");
/// The blueprints the built-in mapping targets (JSON array), with their relations.
pub const DEFAULT_BLUEPRINTS: &str = include_str!("default-blueprints.json");
