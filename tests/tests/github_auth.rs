//! App authentication against the simulator: JWTs it verifies with the App's public key,
//! installations, installation tokens renewed ahead of expiry on a manual clock, one refresh for
//! many concurrent callers, the 401 right after minting, tokens expiring mid-run, and secrets
//! kept out of Debug output.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use port_github_core::github::{
    AppJwtSigner, ClientConfig, Feature, GitHubApp, GitHubError, ManualClock, TokenCacheSettings,
};
use port_github_simulators::github_sim::{
    OrgSpec, SimConfig, SimHarness, TEST_APP_PRIVATE_KEY, TEST_OTHER_PRIVATE_KEY,
};
use secrecy::SecretString;

fn small() -> OrgSpec {
    OrgSpec {
        repos: 2,
        ..OrgSpec::default()
    }
}

fn app_with_key(harness: &SimHarness, app_id: &str, key: &str) -> Result<GitHubApp, GitHubError> {
    GitHubApp::new(
        harness.client_config(),
        TokenCacheSettings::default(),
        app_id,
        &SecretString::from(key.to_owned()),
        Arc::new(harness.clock.clone()),
        harness.etags.clone(),
    )
}

#[tokio::test]
async fn the_app_jwt_lists_installations_and_a_foreign_key_is_refused() -> anyhow::Result<()> {
    let harness = SimHarness::start(small()).await?;
    let app = harness.app(harness.client_config())?;
    let installations = app.installations(None).await?;
    assert_eq!(installations.len(), 1);
    assert_eq!(installations[0].id, harness.sim.installation_id());
    assert_eq!(installations[0].account.login, "sim-org");
    assert!(
        app.installations(Some(&["other-org".to_owned()]))
            .await?
            .is_empty()
    );
    assert_eq!(
        app.installations(Some(&["SIM-ORG".to_owned()]))
            .await?
            .len(),
        1
    );

    let forged = app_with_key(&harness, harness.sim.app_id(), TEST_OTHER_PRIVATE_KEY)?;
    let refused = forged.installations(None).await;
    assert!(
        matches!(refused, Err(GitHubError::Auth { .. })),
        "{refused:?}"
    );
    let wrong_issuer = app_with_key(&harness, "999", TEST_APP_PRIVATE_KEY)?;
    assert!(wrong_issuer.installations(None).await.is_err());
    Ok(())
}

#[tokio::test]
async fn a_client_id_issuer_and_a_base64_key_are_accepted() -> anyhow::Result<()> {
    let harness = SimHarness::start_with(SimConfig {
        spec: small(),
        app_id: "Iv23liSimulated".to_owned(),
        ..SimConfig::default()
    })
    .await?;
    let encoded = base64::engine::general_purpose::STANDARD.encode(TEST_APP_PRIVATE_KEY);
    let app = app_with_key(&harness, "Iv23liSimulated", &encoded)?;
    assert_eq!(app.installations(None).await?.len(), 1);

    let garbage = app_with_key(&harness, "1", "not a key");
    assert!(matches!(garbage, Err(GitHubError::Config { .. })));
    Ok(())
}

#[tokio::test]
async fn the_jwt_is_backdated_a_minute_and_expires_within_ten() -> anyhow::Result<()> {
    let clock = ManualClock::new(OrgSpec::default().epoch);
    let signer = AppJwtSigner::new(
        "4242",
        &SecretString::from(TEST_APP_PRIVATE_KEY.to_owned()),
        Arc::new(clock.clone()),
    )?;
    let jwt = signer.sign().await?;
    let payload = secrecy::ExposeSecret::expose_secret(&jwt)
        .split('.')
        .nth(1)
        .map(str::to_owned)
        .unwrap_or_default();
    let claims: serde_json::Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload)?)?;
    let now = OrgSpec::default().epoch.timestamp();
    assert_eq!(claims["iat"], now - 60);
    assert!(
        claims["exp"]
            .as_i64()
            .is_some_and(|exp| exp > now && exp <= now + 600)
    );
    assert_eq!(claims["iss"], 4242);
    assert!(!format!("{signer:?}").contains("PRIVATE"));
    Ok(())
}

#[tokio::test]
async fn the_installation_token_is_reused_then_renewed_five_minutes_before_expiry()
-> anyhow::Result<()> {
    let harness = SimHarness::start(small()).await?;
    let app = harness.app(harness.client_config())?;
    let client = app.installation_client(harness.sim.installation_id())?;
    client.get("/orgs/sim-org", Feature::Required).await?;
    harness.clock.advance(Duration::from_secs(50 * 60));
    client.get("/orgs/sim-org", Feature::Required).await?;
    assert_eq!(
        harness.sim.tokens_minted(),
        1,
        "still an hour-long token with 10 minutes left"
    );
    harness.clock.advance(Duration::from_secs(6 * 60));
    client.get("/orgs/sim-org", Feature::Required).await?;
    assert_eq!(
        harness.sim.tokens_minted(),
        2,
        "renewed with 4 minutes left"
    );
    assert_eq!(
        app.token_cache(harness.sim.installation_id())?.mint_count(),
        2
    );
    Ok(())
}

#[tokio::test]
async fn concurrent_callers_share_one_refresh() -> anyhow::Result<()> {
    let harness = SimHarness::start(small()).await?;
    let app = harness.app(harness.client_config())?;
    let client = app.installation_client(harness.sim.installation_id())?;
    for round in 1..=2u64 {
        let calls = (0..20).map(|_| {
            let client = client.clone();
            tokio::spawn(async move {
                client
                    .get("/repos/sim-org/repo-0001", Feature::Required)
                    .await
            })
        });
        for call in futures_util::future::join_all(calls).await {
            call??;
        }
        assert_eq!(harness.sim.tokens_minted(), round);
        harness.clock.advance(Duration::from_secs(3_600));
    }
    Ok(())
}

#[tokio::test]
async fn a_401_right_after_minting_is_waited_out() -> anyhow::Result<()> {
    let harness = SimHarness::start(small()).await?;
    let app = harness.app(harness.client_config())?;
    let client = app.installation_client(harness.sim.installation_id())?;
    harness
        .sim
        .faults(|faults| faults.unauthorized_after_mint = Duration::from_secs(3));
    let org = client.get("/orgs/sim-org", Feature::Required).await?;
    assert_eq!(org["login"], "sim-org");
    assert_eq!(
        harness.sim.tokens_minted(),
        1,
        "the fresh token was kept, not replaced"
    );
    assert!(harness.clock.total_slept() >= Duration::from_secs(3));
    assert!(harness.clock.total_slept() <= Duration::from_secs(5));
    Ok(())
}

#[tokio::test]
async fn a_token_that_expires_mid_run_is_replaced_once() -> anyhow::Result<()> {
    let harness = SimHarness::start(small()).await?;
    let app = harness.app(harness.client_config())?;
    let client = app.installation_client(harness.sim.installation_id())?;
    client.get("/orgs/sim-org", Feature::Required).await?;
    harness.clock.advance(Duration::from_secs(60));
    harness.sim.expire_tokens();
    let calls = (0..10).map(|_| {
        let client = client.clone();
        tokio::spawn(async move { client.get("/orgs/sim-org", Feature::Required).await })
    });
    for call in futures_util::future::join_all(calls).await {
        call??;
    }
    assert_eq!(harness.sim.tokens_minted(), 2);
    Ok(())
}

#[tokio::test]
async fn an_unknown_installation_is_an_auth_error() -> anyhow::Result<()> {
    let harness = SimHarness::start(small()).await?;
    let app = harness.app(ClientConfig {
        max_retries: 0,
        ..harness.client_config()
    })?;
    let client = app.installation_client(12_345)?;
    let refused = client.get("/orgs/sim-org", Feature::Required).await;
    assert!(
        matches!(refused, Err(GitHubError::Auth { .. })),
        "{refused:?}"
    );
    Ok(())
}

#[tokio::test]
async fn tokens_never_show_in_debug_output() -> anyhow::Result<()> {
    let harness = SimHarness::start(small()).await?;
    let app = harness.app(harness.client_config())?;
    let cache = app.token_cache(harness.sim.installation_id())?;
    let token = cache.token().await?;
    let secret = secrecy::ExposeSecret::expose_secret(&token.token).to_owned();
    assert!(secret.starts_with("ghs_"));
    let printed = format!(
        "{token:?} {cache:?} {app:?} {:?}",
        app.installation_client(harness.sim.installation_id())?
    );
    assert!(!printed.contains(&secret), "{printed}");
    let pat = harness.pat_client(harness.client_config())?;
    assert!(!format!("{pat:?}").contains("ghp_simulated"));
    Ok(())
}
