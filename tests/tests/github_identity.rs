//! What `port-github check` asks GitHub about its credentials, against the simulator: `GET /app`
//! answers only the App's JWT (401 for a JWT signed with another key, or a token), the
//! installation reports its permissions, events and repository selection, `GET /user` answers a
//! personal token with its `x-oauth-scopes` (none for a fine-grained token) and refuses an
//! installation token (403), and injected faults reach these routes as every other.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use port_github_core::github::{Feature, GitHubApp, GitHubError, TokenCacheSettings};
use port_github_simulators::github_sim::permissions::NOT_ACCESSIBLE;
use port_github_simulators::github_sim::{OrgSpec, SimConfig, SimHarness, TEST_OTHER_PRIVATE_KEY};
use secrecy::SecretString;

fn small() -> OrgSpec {
    OrgSpec {
        repos: 2,
        installation_repos: Some(1),
        ..OrgSpec::default()
    }
}

#[tokio::test]
async fn get_app_answers_the_apps_own_jwt_only() {
    let h = SimHarness::start(small()).await.unwrap();
    let app = h.app(h.client_config()).unwrap();
    let info = app.app_info().await.unwrap();
    assert_eq!(info["id"], 4242);
    assert_eq!(info["owner"]["login"], "sim-org");
    assert!(info["permissions"].is_object() && info["events"].is_array());

    let forged = GitHubApp::new(
        h.client_config(),
        TokenCacheSettings::default(),
        h.sim.app_id(),
        &SecretString::from(TEST_OTHER_PRIVATE_KEY.to_owned()),
        Arc::new(h.clock.clone()),
        h.etags.clone(),
    )
    .unwrap();
    let refused = forged.app_info().await;
    assert!(
        matches!(refused, Err(GitHubError::Auth { .. })),
        "{refused:?}"
    );
    // A token is not a JWT.
    let pat = h.pat_client(h.client_config()).unwrap();
    let refused = pat.get("/app", Feature::Required).await;
    assert!(
        matches!(refused, Err(GitHubError::Auth { .. })),
        "{refused:?}"
    );
    assert_eq!(h.sim.count("GET /app").total, 3);
}

#[tokio::test]
async fn the_installation_reports_its_events_and_selection() {
    let h = SimHarness::start(small()).await.unwrap();
    let app = h.app(h.client_config()).unwrap();
    let handled: Vec<String> = port_github_simulators::fixtures::handled_events_from_spec()
        .into_iter()
        .map(|(event, _)| event)
        .collect();
    let listed = app.installations(None).await.unwrap();
    assert_eq!(listed[0].events, handled);
    assert_eq!(listed[0].repository_selection.as_deref(), Some("selected"));
    h.sim.set_events(&["push", "issues"]);
    let one = app.installation(h.sim.installation_id()).await.unwrap();
    assert_eq!(one.events, ["push", "issues"]);
    let client = app.installation_client(h.sim.installation_id()).unwrap();
    let repos = client
        .get("/installation/repositories?per_page=1", Feature::Required)
        .await
        .unwrap();
    assert_eq!(repos["total_count"], 1);
}

#[tokio::test]
async fn get_user_answers_a_personal_token_with_its_scopes_and_refuses_an_installation() {
    let h = SimHarness::start(small()).await.unwrap();
    let pat = h.pat_client(h.client_config()).unwrap();
    let answer = pat.get_fetched("/user", Feature::Required).await.unwrap();
    assert_eq!(answer.body["login"], "user-0");
    assert_eq!(
        answer.oauth_scopes.as_deref(),
        Some("admin:org_hook, read:org, repo")
    );

    let app = h.app(h.client_config()).unwrap();
    let installation = app.installation_client(h.sim.installation_id()).unwrap();
    match installation.get("/user", Feature::Required).await {
        Err(GitHubError::Permanent {
            status: 403,
            message,
            ..
        }) => assert!(message.contains(NOT_ACCESSIBLE), "{message}"),
        other => panic!("expected 403, got {other:?}"),
    }

    let fine_grained = SimHarness::start_with(SimConfig {
        spec: small(),
        personal_token_scopes: None,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let pat = fine_grained
        .pat_client(fine_grained.client_config())
        .unwrap();
    let answer = pat.get_fetched("/user", Feature::Required).await.unwrap();
    assert_eq!(answer.oauth_scopes, None);
}

#[tokio::test]
async fn injected_faults_reach_the_identity_routes() {
    let h = SimHarness::start(small()).await.unwrap();
    let app = h.app(h.client_config()).unwrap();
    h.sim.faults(|f| {
        f.status_next = 10;
        f.status_of_next = 503;
    });
    let failed = app.app_info().await;
    assert!(
        matches!(failed, Err(GitHubError::Transient { .. })),
        "{failed:?}"
    );
    h.sim.faults(|f| f.status_next = 0);
    let pat = h.pat_client(h.client_config()).unwrap();
    h.sim.faults(|f| f.bad_gateway_next = 1);
    assert!(
        pat.get_fetched("/user", Feature::Required).await.is_ok(),
        "one 502 is retried"
    );
}
