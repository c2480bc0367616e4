//! Redelivery of failed webhook deliveries: GitHub keeps an organization hook's deliveries for 3
//! days and never retries a failed one by itself. This module lists the deliveries since the last
//! check, asks GitHub once to redeliver each event (GUID) that failed and has not succeeded since,
//! and remembers in the state store what it handled, so nothing is redelivered twice. It does not
//! decide which hook is ours (see `reconcile`).

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use reqwest::Method;
use serde::Deserialize;

use crate::github::{Feature, GitHubClient, GitHubError};
use crate::state::{Expect, Key, PutOutcome, StateError, StateStore};

/// State-store partition of checkpoints and handled GUIDs.
pub const REDELIVERY_PARTITION: &str = "webhook-redelivery";
/// How long GitHub keeps deliveries (and accepts redelivery requests for them).
pub const DELIVERY_WINDOW: Duration = Duration::from_secs(3 * 24 * 3_600);
/// How far before the last checkpoint a run looks again, for deliveries that were still being
/// attempted or were listed late. Handled GUIDs are remembered, so looking twice is harmless.
pub const CHECKPOINT_OVERLAP: Duration = Duration::from_secs(15 * 60);

/// One delivery as GitHub lists it (only the fields used).
#[derive(Debug, Clone, Deserialize)]
pub struct Delivery {
    pub id: u64,
    pub guid: String,
    #[serde(deserialize_with = "timestamp")]
    pub delivered_at: DateTime<Utc>,
    #[serde(default)]
    pub redelivery: bool,
    #[serde(default)]
    pub status_code: Option<i64>,
}

fn timestamp<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<DateTime<Utc>, D::Error> {
    let text = String::deserialize(deserializer)?;
    DateTime::parse_from_rfc3339(&text)
        .map(|at| at.with_timezone(&Utc))
        .map_err(serde::de::Error::custom)
}

impl Delivery {
    fn succeeded(&self) -> bool {
        self.status_code
            .is_some_and(|code| (200..300).contains(&code))
    }
}

/// What one [`redeliver_failed`] run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RedeliveryReport {
    /// GUIDs GitHub accepted a redelivery request for, in the order sent.
    pub redelivered: Vec<String>,
    /// Failed GUIDs an earlier run (or a concurrent one) already handled.
    pub already_handled: usize,
    /// GUIDs that failed and then succeeded (a redelivery, or GitHub's own attempt).
    pub succeeded_since: usize,
    /// GUIDs GitHub refused to redeliver, with the reason; they are not asked for again.
    pub refused: Vec<(String, String)>,
    /// GUIDs left for the next run after a transient failure.
    pub deferred: Vec<String>,
    /// Deliveries read within the window.
    pub deliveries_seen: usize,
    /// Where the next run starts (the newest delivery seen), when it moved.
    pub checkpoint: Option<DateTime<Utc>>,
}

#[derive(Debug, thiserror::Error)]
pub enum RedeliveryError {
    #[error(transparent)]
    GitHub(#[from] GitHubError),
    #[error("cannot read or record redelivery state")]
    State(#[from] StateError),
}

impl RedeliveryError {
    /// The GitHub error, when that is what failed.
    pub fn github(&self) -> Option<&GitHubError> {
        match self {
            Self::GitHub(err) => Some(err),
            Self::State(_) => None,
        }
    }
}

#[derive(Debug, Default)]
struct Event {
    succeeded: bool,
    /// The newest failed delivery that was not a redelivery: the one redelivered.
    latest_failure: Option<(DateTime<Utc>, u64)>,
}

fn delta(duration: Duration) -> TimeDelta {
    TimeDelta::from_std(duration).unwrap_or(TimeDelta::MAX)
}

/// Redelivers, once each, the failed events of hook `hook_id` of `org` since the last check
/// (at most [`DELIVERY_WINDOW`] back). A 403/404 on the list comes back as the GitHub error (see
/// `reconcile::permission_denied`); refusals of single redeliveries are in the report.
pub async fn redeliver_failed(
    client: &GitHubClient,
    org: &str,
    hook_id: u64,
    state: &dyn StateStore,
    now: DateTime<Utc>,
) -> Result<RedeliveryReport, RedeliveryError> {
    let scope = format!("{}/{hook_id}", org.to_ascii_lowercase());
    let checkpoint_item = format!("{scope}/checkpoint");
    let previous = state
        .get(Key::new(REDELIVERY_PARTITION, &checkpoint_item), now)
        .await?
        .and_then(|record| DateTime::parse_from_rfc3339(&record.value).ok())
        .map(|at| at.with_timezone(&Utc));
    let window_start = now - delta(DELIVERY_WINDOW);
    let since = previous
        .map(|at| at - delta(CHECKPOINT_OVERLAP))
        .filter(|at| *at > window_start)
        .unwrap_or(window_start);

    let mut report = RedeliveryReport::default();
    let mut events: BTreeMap<String, Event> = BTreeMap::new();
    let mut newest: Option<DateTime<Utc>> = None;
    let mut pages = client.pages(
        &format!("/orgs/{org}/hooks/{hook_id}/deliveries"),
        None,
        Feature::Required,
    )?;
    // GitHub lists the newest first: the first delivery older than `since` ends the scan.
    'pages: while let Some(page) = pages.next_page().await? {
        for item in page.items {
            let delivery = match serde_json::from_value::<Delivery>(item) {
                Ok(delivery) => delivery,
                Err(err) => {
                    tracing::warn!(org, hook_id, error = %err, "skipping a delivery listed in an unexpected shape");
                    continue;
                }
            };
            if delivery.delivered_at < since {
                break 'pages;
            }
            report.deliveries_seen += 1;
            newest = newest.max(Some(delivery.delivered_at));
            let event = events.entry(delivery.guid.clone()).or_default();
            if delivery.succeeded() {
                event.succeeded = true;
            } else if !delivery.redelivery {
                event.latest_failure = event
                    .latest_failure
                    .max(Some((delivery.delivered_at, delivery.id)));
            }
        }
    }

    let mut stopped_by_limit = false;
    for (guid, event) in events {
        let Some((_, delivery_id)) = event.latest_failure else {
            continue;
        };
        if event.succeeded {
            report.succeeded_since += 1;
            continue;
        }
        if stopped_by_limit {
            report.deferred.push(guid);
            continue;
        }
        let handled_item = format!("{scope}/guid/{guid}");
        let handled = Key::new(REDELIVERY_PARTITION, &handled_item);
        let claim = state
            .put(
                handled,
                &delivery_id.to_string(),
                Expect::Absent,
                Some(now + delta(DELIVERY_WINDOW)),
                now,
            )
            .await?;
        if claim == PutOutcome::Conflict {
            report.already_handled += 1;
            continue;
        }
        let path = format!("/orgs/{org}/hooks/{hook_id}/deliveries/{delivery_id}/attempts");
        match client.send_empty(Method::POST, &path).await {
            Ok(_) => {
                tracing::info!(org, hook_id, delivery_id, guid = %guid, "asked GitHub to redeliver a failed delivery");
                report.redelivered.push(guid);
            }
            Err(err) if err.is_retryable() => {
                // Not sent: give the claim back so the next run tries again.
                state.delete(handled).await?;
                tracing::warn!(org, hook_id, delivery_id, guid = %guid, error = %err, "redelivery request failed; left for the next run");
                stopped_by_limit = matches!(err, GitHubError::RateLimited { .. });
                report.deferred.push(guid);
            }
            Err(err) => {
                tracing::warn!(org, hook_id, delivery_id, guid = %guid, error = %err, "GitHub refused a redelivery; not asking again");
                report.refused.push((guid, err.to_string()));
            }
        }
    }

    // Move the checkpoint only when nothing was left over, so deferred events are seen again.
    if report.deferred.is_empty()
        && let Some(newest) = newest.filter(|at| previous.is_none_or(|prev| *at > prev))
    {
        state
            .put(
                Key::new(REDELIVERY_PARTITION, &checkpoint_item),
                &newest.to_rfc3339(),
                Expect::Anything,
                Some(newest + delta(DELIVERY_WINDOW)),
                now,
            )
            .await?;
        report.checkpoint = Some(newest);
    }
    tracing::info!(
        org,
        hook_id,
        seen = report.deliveries_seen,
        redelivered = report.redelivered.len(),
        already_handled = report.already_handled,
        succeeded_since = report.succeeded_since,
        refused = report.refused.len(),
        deferred = report.deferred.len(),
        "redelivery check done"
    );
    Ok(report)
}
