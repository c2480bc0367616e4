//! The simulator's credential checks: App JWTs verified against the App's current public key
//! (issuer, issue and expiry times), personal and installation tokens (expired, or refused for a
//! while after minting when that fault is set), and minting installation tokens.

use std::sync::atomic::Ordering;

use chrono::TimeDelta;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};

use super::{SimState, TokenInfo, lock};

impl SimState {
    pub(super) fn verify_jwt(&self, token: &str) -> bool {
        let public_key = lock(&self.accepted).public_key_pem.clone();
        let Ok(key) = DecodingKey::from_rsa_pem(public_key.as_bytes()) else {
            return false;
        };
        let mut validation = Validation::new(Algorithm::RS256);
        validation.validate_exp = false;
        validation.required_spec_claims.clear();
        let Ok(decoded) = jsonwebtoken::decode::<Value>(token, &key, &validation) else {
            return false;
        };
        let claims = decoded.claims;
        let now = self.clock.now().timestamp();
        let (Some(iat), Some(exp)) = (claims["iat"].as_i64(), claims["exp"].as_i64()) else {
            return false;
        };
        let issuer_ok = match &claims["iss"] {
            Value::Number(number) => number.to_string() == self.config.app_id,
            Value::String(text) => *text == self.config.app_id,
            _ => false,
        };
        issuer_ok && iat <= now + 60 && exp > now && exp - iat <= 660
    }

    /// `Ok(identity)` for a usable token, `Err(reason)` for a 401.
    pub(super) fn check_token(&self, token: &str) -> Result<&'static str, &'static str> {
        if lock(&self.accepted).personal_token.as_deref() == Some(token) {
            return Ok("personal");
        }
        let tokens = lock(&self.tokens);
        let Some(info) = tokens.get(token) else {
            return Err("Bad credentials");
        };
        let now = self.clock.now();
        if now >= info.expires_at {
            return Err("Bad credentials");
        }
        let grace = lock(&self.faults).unauthorized_after_mint;
        if now - info.minted_at < TimeDelta::from_std(grace).unwrap_or_default() {
            return Err("Bad credentials");
        }
        Ok("installation")
    }

    pub(super) fn mint(&self) -> Value {
        let serial = self.minted.fetch_add(1, Ordering::Relaxed) + 1;
        let token = format!("ghs_sim{serial:012}");
        let now = self.clock.now();
        let expires_at =
            now + TimeDelta::from_std(self.config.token_ttl).unwrap_or(TimeDelta::hours(1));
        lock(&self.tokens).insert(
            token.clone(),
            TokenInfo {
                minted_at: now,
                expires_at,
            },
        );
        json!({
            "token": token,
            "expires_at": expires_at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            "permissions": lock(&self.permissions).clone(),
            "repository_selection": if self.data.spec.installation_repos.is_some() { "selected" } else { "all" },
        })
    }
}
