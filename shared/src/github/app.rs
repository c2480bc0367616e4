//! A GitHub App: its installations (optionally limited to an allow-list of organizations, each
//! with the permissions it was granted) and one client per installation, each with its own token
//! cache and concurrency limit.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use secrecy::SecretString;
use serde::Deserialize;

use super::auth::{
    AppJwtSigner, AppPrivateKey, InstallationTokenCache, TokenCacheSettings, TokenSource,
};
use super::client::{ClientConfig, Feature, GitHubClient, http_client, parse_base};
use super::clock::Clock;
use super::error::GitHubError;
use super::etag::EtagStore;
use crate::secrets::CachedSecret;

/// One installation of the App.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Installation {
    pub id: u64,
    pub account: InstallationAccount,
    /// `all` or `selected`.
    #[serde(default)]
    pub repository_selection: Option<String>,
    /// What the installation was granted: permission key → `read`, `write` or `admin`.
    #[serde(default)]
    pub permissions: BTreeMap<String, String>,
    /// The webhook events the App's installation subscribes to.
    #[serde(default)]
    pub events: Vec<String>,
}

/// The organization or user an installation belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct InstallationAccount {
    pub login: String,
    #[serde(rename = "type", default)]
    pub account_type: Option<String>,
}

/// A GitHub App and its installation clients.
#[derive(Debug)]
pub struct GitHubApp {
    signer: Arc<AppJwtSigner>,
    config: ClientConfig,
    token_settings: TokenCacheSettings,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
    etags: Arc<dyn EtagStore>,
    app_client: GitHubClient,
    clients: Mutex<HashMap<u64, (GitHubClient, Arc<InstallationTokenCache>)>>,
}

impl GitHubApp {
    /// An App from its ID (or client ID) and private key (PEM or base64 PEM).
    pub fn new(
        config: ClientConfig,
        token_settings: TokenCacheSettings,
        app_id: &str,
        private_key: &SecretString,
        clock: Arc<dyn Clock>,
        etags: Arc<dyn EtagStore>,
    ) -> Result<Self, GitHubError> {
        let signer = Arc::new(AppJwtSigner::new(app_id, private_key, clock.clone())?);
        Self::with_signer(config, token_settings, signer, clock, etags)
    }

    /// An App whose private key is read (and re-read after its TTL, or when GitHub refuses it)
    /// from `key`.
    pub fn with_key(
        config: ClientConfig,
        token_settings: TokenCacheSettings,
        app_id: &str,
        key: Arc<CachedSecret<AppPrivateKey>>,
        clock: Arc<dyn Clock>,
        etags: Arc<dyn EtagStore>,
    ) -> Result<Self, GitHubError> {
        let signer = Arc::new(AppJwtSigner::with_key(app_id, key, clock.clone())?);
        Self::with_signer(config, token_settings, signer, clock, etags)
    }

    fn with_signer(
        config: ClientConfig,
        token_settings: TokenCacheSettings,
        signer: Arc<AppJwtSigner>,
        clock: Arc<dyn Clock>,
        etags: Arc<dyn EtagStore>,
    ) -> Result<Self, GitHubError> {
        let http = http_client(&config)?;
        let app_client = GitHubClient::new(
            config.clone(),
            http.clone(),
            TokenSource::App(signer.clone()),
            clock.clone(),
            etags.clone(),
        )?;
        Ok(Self {
            signer,
            config,
            token_settings,
            http,
            clock,
            etags,
            app_client,
            clients: Mutex::new(HashMap::new()),
        })
    }

    /// The installations (`GET /app/installations`, every page), keeping only the accounts in
    /// `allow` when it is given (case-insensitive, as GitHub logins are).
    pub async fn installations(
        &self,
        allow: Option<&[String]>,
    ) -> Result<Vec<Installation>, GitHubError> {
        let mut pages = self
            .app_client
            .pages("/app/installations", None, Feature::Required)?;
        let mut found = Vec::new();
        while let Some(page) = pages.next_page().await? {
            for item in page.items {
                let installation: Installation =
                    serde_json::from_value(item).map_err(|source| GitHubError::Decode {
                        path: "/app/installations".to_owned(),
                        source,
                    })?;
                let allowed = allow.is_none_or(|allow| {
                    allow
                        .iter()
                        .any(|org| org.eq_ignore_ascii_case(&installation.account.login))
                });
                if allowed {
                    found.push(installation);
                }
            }
        }
        Ok(found)
    }

    /// The App itself (`GET /app`, with the App JWT): GitHub accepts the JWT only when the App ID
    /// and the private key belong together, so this is the credentials' own test.
    pub async fn app_info(&self) -> Result<serde_json::Value, GitHubError> {
        self.app_client.get("/app", Feature::Required).await
    }

    /// One installation as GitHub has it now (`GET /app/installations/{id}`), with the
    /// permissions the organization granted it.
    pub async fn installation(&self, installation_id: u64) -> Result<Installation, GitHubError> {
        let path = format!("/app/installations/{installation_id}");
        let body = self.app_client.get(&path, Feature::Required).await?;
        serde_json::from_value(body).map_err(|source| GitHubError::Decode { path, source })
    }

    /// The client of one installation: created once, then shared (one token cache, one
    /// concurrency limit per installation).
    pub fn installation_client(&self, installation_id: u64) -> Result<GitHubClient, GitHubError> {
        Ok(self.installation_entry(installation_id)?.0)
    }

    /// The token cache of one installation (for metrics and tests).
    pub fn token_cache(
        &self,
        installation_id: u64,
    ) -> Result<Arc<InstallationTokenCache>, GitHubError> {
        Ok(self.installation_entry(installation_id)?.1)
    }

    fn installation_entry(
        &self,
        installation_id: u64,
    ) -> Result<(GitHubClient, Arc<InstallationTokenCache>), GitHubError> {
        let mut clients = self
            .clients
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(entry) = clients.get(&installation_id) {
            return Ok(entry.clone());
        }
        let base = parse_base(&self.config.base_url)?;
        let cache = Arc::new(InstallationTokenCache::new(
            installation_id,
            self.signer.clone(),
            self.http.clone(),
            &base,
            self.clock.clone(),
            self.token_settings.clone(),
        )?);
        let client = GitHubClient::new(
            self.config.clone(),
            self.http.clone(),
            TokenSource::Installation(cache.clone()),
            self.clock.clone(),
            self.etags.clone(),
        )?;
        clients.insert(installation_id, (client.clone(), cache.clone()));
        Ok((client, cache))
    }
}
