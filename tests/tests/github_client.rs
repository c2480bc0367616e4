//! The REST client against the simulator: pagination, conditional requests, retries, every
//! rate-limit scenario and the "not available here" outcome. Waits run on the manual clock.

use std::time::Duration;

use port_github_core::github::kinds::security::{ScanningSelector, list_code_scanning_alerts};
use port_github_core::github::kinds::{Listed, Repo};
use port_github_core::github::{Clock, Feature, GitHubError, LimitKind};
use port_github_simulators::github_sim::{OrgSpec, SimHarness};

fn spec(repos: usize) -> OrgSpec {
    OrgSpec {
        repos,
        ..OrgSpec::default()
    }
}

async fn count_items(
    client: &port_github_core::github::GitHubClient,
    path: &str,
) -> Result<(usize, usize, usize), GitHubError> {
    let mut pages = client.pages(path, None, Feature::Required)?;
    let (mut items, mut count, mut not_modified) = (0, 0, 0);
    while let Some(page) = pages.next_page().await? {
        items += page.items.len();
        count += 1;
        not_modified += usize::from(page.not_modified);
    }
    Ok((items, count, not_modified))
}

#[tokio::test]
async fn lists_follow_link_pagination_with_100_per_page() -> anyhow::Result<()> {
    let harness = SimHarness::start(spec(250)).await?;
    let client = harness.pat_client(harness.client_config())?;
    let (items, pages, _) = count_items(&client, "/orgs/sim-org/repos?type=all").await?;
    assert_eq!((items, pages), (250, 3));
    assert_eq!(harness.sim.count("GET /orgs/{org}/repos").total, 3);
    assert_eq!(
        harness.sim.missing_version_header(),
        0,
        "every request carries X-GitHub-Api-Version"
    );
    Ok(())
}

#[tokio::test]
async fn a_saved_cursor_resumes_where_the_list_stopped() -> anyhow::Result<()> {
    let harness = SimHarness::start(spec(230)).await?;
    let client = harness.pat_client(harness.client_config())?;
    let mut pages = client.pages("/orgs/sim-org/repos", None, Feature::Required)?;
    let first = pages.next_page().await?.map(|page| page.items.len());
    assert_eq!(first, Some(100));
    let cursor = pages
        .cursor()
        .map(str::to_owned)
        .ok_or_else(|| anyhow::anyhow!("no cursor after page 1"))?;
    drop(pages);
    let rest = client
        .resume_pages(&cursor, None, Feature::Required)?
        .collect_items()
        .await?;
    assert_eq!(rest.len(), 130);
    assert_eq!(rest[0]["name"], "repo-0100");
    Ok(())
}

#[tokio::test]
async fn an_unchanged_list_is_answered_304_from_the_etag_store_without_spending_budget()
-> anyhow::Result<()> {
    let harness = SimHarness::start(spec(250)).await?;
    let client = harness.pat_client(harness.client_config())?;
    count_items(&client, "/orgs/sim-org/repos").await?;
    let after_first = client.budget().map(|budget| budget.remaining);
    let (items, pages, not_modified) = count_items(&client, "/orgs/sim-org/repos").await?;
    assert_eq!((items, pages, not_modified), (250, 3, 3));
    assert_eq!(
        client.budget().map(|budget| budget.remaining),
        after_first,
        "304s are free"
    );
    assert_eq!(harness.sim.count("GET /orgs/{org}/repos").not_modified, 3);

    harness.sim.touch_repo(150);
    let (items, _, not_modified) = count_items(&client, "/orgs/sim-org/repos").await?;
    assert_eq!(
        (items, not_modified),
        (250, 2),
        "only the changed page is sent again"
    );
    Ok(())
}

#[tokio::test]
async fn bad_gateways_are_retried_then_reported_as_transient() -> anyhow::Result<()> {
    let harness = SimHarness::start(spec(2)).await?;
    let client = harness.pat_client(harness.client_config())?;
    harness.sim.faults(|faults| faults.bad_gateway_next = 2);
    let org = client.get("/orgs/sim-org", Feature::Required).await?;
    assert_eq!(org["login"], "sim-org");
    assert_eq!(harness.sim.count("GET /orgs/{org}").total, 3);

    harness.sim.faults(|faults| faults.bad_gateway_next = 100);
    let failed = client.get("/orgs/sim-org", Feature::Required).await;
    assert!(
        matches!(failed, Err(GitHubError::Transient { .. })),
        "{failed:?}"
    );
    // One attempt plus max_retries (4).
    assert_eq!(harness.sim.count("GET /orgs/{org}").total, 3 + 5);
    Ok(())
}

#[tokio::test]
async fn primary_exhaustion_hands_back_the_reset_time_and_stops_sending() -> anyhow::Result<()> {
    let harness = SimHarness::start(spec(2)).await?;
    let mut config = harness.client_config();
    config.max_wait = Duration::from_secs(60);
    let client = harness.pat_client(config)?;
    client.get("/orgs/sim-org", Feature::Required).await?;
    harness.sim.exhaust_primary();
    let limited = client.get("/orgs/sim-org", Feature::Required).await;
    let Err(GitHubError::RateLimited {
        kind: LimitKind::Primary,
        until,
        ..
    }) = limited
    else {
        anyhow::bail!("expected a primary rate limit, got {limited:?}");
    };
    let reset = client
        .budget()
        .map(|budget| budget.reset)
        .ok_or_else(|| anyhow::anyhow!("no budget"))?;
    assert!(until > reset, "retry after the reset, not before");
    let sent = harness.sim.count("GET /orgs/{org}").total;
    let again = client.get("/orgs/sim-org", Feature::Required).await;
    assert!(matches!(again, Err(GitHubError::RateLimited { .. })));
    assert_eq!(
        harness.sim.count("GET /orgs/{org}").total,
        sent,
        "no request while known to be limited"
    );
    Ok(())
}

#[tokio::test]
async fn primary_exhaustion_within_the_wait_limit_waits_for_the_reset() -> anyhow::Result<()> {
    let harness = SimHarness::start(spec(2)).await?;
    let client = harness.pat_client(harness.client_config())?;
    client.get("/orgs/sim-org", Feature::Required).await?;
    harness.sim.exhaust_primary();
    let org = client.get("/orgs/sim-org", Feature::Required).await?;
    assert_eq!(org["login"], "sim-org");
    assert!(
        harness.clock.total_slept() >= Duration::from_secs(59 * 60),
        "waited for the hourly reset"
    );
    assert!(harness.clock.total_slept() <= Duration::from_secs(62 * 60));
    Ok(())
}

#[tokio::test]
async fn secondary_limit_honours_retry_after_exactly() -> anyhow::Result<()> {
    let harness = SimHarness::start(spec(2)).await?;
    let client = harness.pat_client(harness.client_config())?;
    harness.sim.faults(|faults| {
        faults.secondary_next = 1;
        faults.secondary_retry_after = Some(30);
    });
    client.get("/orgs/sim-org", Feature::Required).await?;
    assert_eq!(harness.clock.total_slept(), Duration::from_secs(30));
    Ok(())
}

#[tokio::test]
async fn secondary_limit_without_retry_after_backs_off_at_least_a_minute_exponentially()
-> anyhow::Result<()> {
    let harness = SimHarness::start(spec(2)).await?;
    let client = harness.pat_client(harness.client_config())?;
    harness.sim.faults(|faults| {
        faults.secondary_next = 2;
        faults.secondary_retry_after = None;
    });
    client.get("/orgs/sim-org", Feature::Required).await?;
    let slept = harness.clock.total_slept();
    assert!(
        slept >= Duration::from_secs(60 + 120),
        "60 s then 120 s, got {slept:?}"
    );
    assert!(
        slept <= Duration::from_secs(200),
        "jitter stays within 10 %, got {slept:?}"
    );
    Ok(())
}

#[tokio::test]
async fn a_persistent_secondary_limit_ends_transient_and_a_long_one_is_handed_back()
-> anyhow::Result<()> {
    let harness = SimHarness::start(spec(2)).await?;
    let client = harness.pat_client(harness.client_config())?;
    harness.sim.faults(|faults| {
        faults.secondary_next = 100;
        faults.secondary_retry_after = Some(5);
    });
    let persisted = client.get("/orgs/sim-org", Feature::Required).await;
    assert!(
        matches!(persisted, Err(GitHubError::Transient { .. })),
        "{persisted:?}"
    );

    let mut config = harness.client_config();
    config.max_wait = Duration::from_secs(10);
    let impatient = harness.pat_client(config)?;
    harness
        .sim
        .faults(|faults| faults.secondary_retry_after = Some(600));
    let long = impatient.get("/orgs/sim-org", Feature::Required).await;
    let Err(GitHubError::RateLimited {
        kind: LimitKind::Secondary,
        until,
        ..
    }) = long
    else {
        anyhow::bail!("expected a secondary limit, got {long:?}");
    };
    assert_eq!(until, harness.clock.now() + chrono::TimeDelta::seconds(600));
    Ok(())
}

#[tokio::test]
async fn a_disabled_feature_is_an_outcome_and_a_missing_object_is_not_found() -> anyhow::Result<()>
{
    let harness = SimHarness::start(OrgSpec {
        repos: 4,
        features_off_every: 2,
        ..OrgSpec::default()
    })
    .await?;
    let client = harness.pat_client(harness.client_config())?;
    let repo = Repo::from_object(
        client
            .get("/repos/sim-org/repo-0000", Feature::Required)
            .await?,
    )?;
    let mut alerts = list_code_scanning_alerts(&client, &repo, &ScanningSelector::default())?;
    let Listed::NotAvailable { status, .. } = alerts.next().await? else {
        anyhow::bail!("code scanning is off on repo-0000");
    };
    assert_eq!(status, 403);

    let enabled = Repo::from_object(
        client
            .get("/repos/sim-org/repo-0001", Feature::Required)
            .await?,
    )?;
    let found = list_code_scanning_alerts(&client, &enabled, &ScanningSelector::default())?
        .collect()
        .await?;
    assert_eq!(found.map(|items| items.len()), Some(2));

    let missing = client
        .get("/repos/sim-org/no-such-repo", Feature::Required)
        .await;
    assert!(
        matches!(missing, Err(GitHubError::NotFound { status: 404, .. })),
        "{missing:?}"
    );
    assert!(
        client
            .get_if_exists("/repos/sim-org/no-such-repo")
            .await?
            .is_none()
    );
    Ok(())
}

#[tokio::test]
async fn the_budget_left_is_reported_for_the_reserve() -> anyhow::Result<()> {
    let harness = SimHarness::start(spec(2)).await?;
    let mut config = harness.client_config();
    config.max_wait = Duration::from_secs(1);
    let client = harness.pat_client(config)?;
    assert!(client.budget().is_none());
    client.get("/orgs/sim-org", Feature::Required).await?;
    client
        .get("/repos/sim-org/repo-0001", Feature::Required)
        .await?;
    let budget = client
        .budget()
        .ok_or_else(|| anyhow::anyhow!("no budget"))?;
    assert_eq!((budget.limit, budget.remaining), (5_000, 4_998));
    assert!(!budget.below_reserve(0.05));
    harness.sim.exhaust_primary();
    let limited = client.get("/orgs/sim-org", Feature::Required).await;
    assert!(limited.is_err_and(|err| err.retry_at().is_some()));
    assert!(
        client
            .budget()
            .is_some_and(|budget| budget.below_reserve(0.05))
    );
    Ok(())
}

#[tokio::test]
async fn a_wrong_personal_token_is_an_auth_error() -> anyhow::Result<()> {
    let harness = SimHarness::start(spec(1)).await?;
    let client = port_github_core::github::GitHubClient::with_token(
        harness.client_config(),
        secrecy::SecretString::from("ghp_wrong".to_owned()),
        std::sync::Arc::new(harness.clock.clone()),
        harness.etags.clone(),
    )?;
    let refused = client.get("/orgs/sim-org", Feature::Required).await;
    assert!(
        matches!(refused, Err(GitHubError::Auth { .. })),
        "{refused:?}"
    );
    Ok(())
}

#[tokio::test]
async fn requests_in_flight_stay_within_the_configured_concurrency() -> anyhow::Result<()> {
    let harness = SimHarness::start(spec(2)).await?;
    let mut config = harness.client_config();
    config.max_concurrency = 3;
    let client = harness.pat_client(config)?;
    harness
        .sim
        .faults(|faults| faults.latency = Duration::from_millis(20));
    let calls = (0..24).map(|_| {
        let client = client.clone();
        tokio::spawn(async move { client.get("/orgs/sim-org", Feature::Required).await })
    });
    for call in futures_util::future::join_all(calls).await {
        call??;
    }
    assert_eq!(harness.sim.count("GET /orgs/{org}").total, 24);
    assert!(
        harness.sim.max_in_flight() <= 3,
        "{} in flight",
        harness.sim.max_in_flight()
    );
    Ok(())
}

#[tokio::test]
async fn a_request_that_times_out_is_retried_then_transient() -> anyhow::Result<()> {
    let harness = SimHarness::start(spec(2)).await?;
    let mut config = harness.client_config();
    config.request_timeout = Duration::from_millis(100);
    config.max_retries = 1;
    let client = harness.pat_client(config)?;
    harness
        .sim
        .faults(|faults| faults.latency = Duration::from_millis(400));
    let timed_out = client.get("/orgs/sim-org", Feature::Required).await;
    let Err(GitHubError::Transient { reason, .. }) = &timed_out else {
        anyhow::bail!("expected a transient timeout, got {timed_out:?}");
    };
    assert_eq!(reason, "timed out");
    harness.sim.faults(|faults| faults.latency = Duration::ZERO);
    assert_eq!(
        client.get("/orgs/sim-org", Feature::Required).await?["login"],
        "sim-org"
    );
    Ok(())
}

#[tokio::test]
async fn a_handed_back_secondary_limit_holds_off_later_calls_without_sending() -> anyhow::Result<()>
{
    let harness = SimHarness::start(spec(2)).await?;
    let mut config = harness.client_config();
    config.max_wait = Duration::from_secs(10);
    let client = harness.pat_client(config)?;
    harness.sim.faults(|faults| {
        faults.secondary_next = 1;
        faults.secondary_retry_after = Some(120);
    });
    let first = client.get("/orgs/sim-org", Feature::Required).await;
    assert!(
        matches!(
            first,
            Err(GitHubError::RateLimited {
                kind: LimitKind::Secondary,
                ..
            })
        ),
        "{first:?}"
    );
    let second = client
        .get("/repos/sim-org/repo-0001", Feature::Required)
        .await;
    assert!(
        matches!(
            second,
            Err(GitHubError::RateLimited {
                kind: LimitKind::Secondary,
                ..
            })
        ),
        "{second:?}"
    );
    assert_eq!(harness.sim.total().total, 1, "the second call was not sent");
    harness.clock.advance(Duration::from_secs(121));
    assert_eq!(
        client
            .get("/repos/sim-org/repo-0001", Feature::Required)
            .await?["name"],
        "repo-0001"
    );
    Ok(())
}

#[tokio::test]
async fn a_4xx_that_will_not_change_is_not_retried_but_a_503_is() -> anyhow::Result<()> {
    let harness = SimHarness::start(spec(2)).await?;
    let client = harness.pat_client(harness.client_config())?;
    harness.sim.faults(|faults| {
        faults.status_next = 1;
        faults.status_of_next = 422;
    });
    let refused = client.get("/orgs/sim-org", Feature::Required).await;
    assert!(
        matches!(refused, Err(GitHubError::Permanent { status: 422, .. })),
        "{refused:?}"
    );
    assert_eq!(harness.sim.count("GET /orgs/{org}").total, 1);

    harness.sim.faults(|faults| {
        faults.status_next = 2;
        faults.status_of_next = 503;
    });
    assert_eq!(
        client.get("/orgs/sim-org", Feature::Required).await?["login"],
        "sim-org"
    );
    assert_eq!(harness.sim.count("GET /orgs/{org}").total, 1 + 3);
    Ok(())
}

#[derive(Debug)]
struct BrokenStore;

impl port_github_core::github::EtagStore for BrokenStore {
    fn get<'a>(
        &'a self,
        _key: &'a str,
    ) -> futures_util::future::BoxFuture<
        'a,
        Result<
            Option<port_github_core::github::CachedPage>,
            port_github_core::github::EtagStoreError,
        >,
    > {
        Box::pin(async {
            Err(port_github_core::github::EtagStoreError {
                reason: "table missing".to_owned(),
                source: None,
            })
        })
    }

    fn put<'a>(
        &'a self,
        _key: &'a str,
        _page: port_github_core::github::CachedPage,
    ) -> futures_util::future::BoxFuture<'a, Result<(), port_github_core::github::EtagStoreError>>
    {
        Box::pin(async {
            Err(port_github_core::github::EtagStoreError {
                reason: "table missing".to_owned(),
                source: None,
            })
        })
    }
}

#[tokio::test]
async fn a_failing_etag_store_only_costs_unconditional_requests() -> anyhow::Result<()> {
    let harness = SimHarness::start(spec(120)).await?;
    let client = port_github_core::github::GitHubClient::with_token(
        harness.client_config(),
        secrecy::SecretString::from(harness.sim.personal_token().unwrap_or_default().to_owned()),
        std::sync::Arc::new(harness.clock.clone()),
        std::sync::Arc::new(BrokenStore),
    )?;
    for _ in 0..2 {
        let (items, pages, not_modified) = count_items(&client, "/orgs/sim-org/repos").await?;
        assert_eq!((items, pages, not_modified), (120, 2, 0));
    }
    Ok(())
}

#[tokio::test]
async fn pages_also_read_as_a_stream() -> anyhow::Result<()> {
    use futures_util::StreamExt;
    let harness = SimHarness::start(spec(205)).await?;
    let client = harness.pat_client(harness.client_config())?;
    let sizes: Vec<usize> = client
        .pages("/orgs/sim-org/repos", None, Feature::Required)?
        .into_stream()
        .map(|page| page.map(|page| page.items.len()))
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    assert_eq!(sizes, vec![100, 100, 5]);
    Ok(())
}

#[tokio::test]
async fn an_enterprise_server_base_url_with_a_path_is_kept_for_every_page_and_app_call()
-> anyhow::Result<()> {
    use port_github_simulators::github_sim::SimConfig;
    let harness = SimHarness::start_with(SimConfig {
        spec: spec(150),
        path_prefix: "/api/v3".to_owned(),
        ..SimConfig::default()
    })
    .await?;
    assert!(harness.sim.base_url().ends_with("/api/v3"));
    let app = harness.app(harness.client_config())?;
    assert_eq!(app.installations(None).await?.len(), 1);
    let client = app.installation_client(harness.sim.installation_id())?;
    let repos = client
        .pages(
            "/installation/repositories",
            Some("repositories"),
            Feature::Required,
        )?
        .collect_items()
        .await?;
    assert_eq!(repos.len(), 150);
    assert_eq!(harness.sim.count("unknown").total, 0);
    Ok(())
}
