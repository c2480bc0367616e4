//! The end of a complete run: delete the entities this integration owns that the run did not
//! see. Seen = the records of the scopes the run visited (its organizations, the repositories it
//! listed) for the resources of the current mapping. A kind that answered "not available" on
//! every repository looks like a missing permission or an outage: its entities are kept. Nothing
//! is deleted when the stale share of the owned entities is above `entityDeletionThreshold`.
//! Deletes never cascade (see the rounds below): `deleteDependentEntities` is for live deletes.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::records::{self, ORG_SCOPE, RecordKey, resource_key};
use super::{CurrentRun, Resync, ResyncError, run_partition};
use crate::github::kinds::AvailabilityTally;
use crate::state::Key;

/// Rounds of deletes while entities wait for their dependents to go.
const MAX_DELETE_ROUNDS: usize = 5;

/// What the cleanup did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CleanupReport {
    /// Entities this integration owned in Port before the cleanup.
    pub owned: usize,
    /// Entities the run produced.
    pub seen: usize,
    /// Owned and not seen.
    pub stale: usize,
    pub deleted: usize,
    /// Stale entities Port did not delete (with the reason logged).
    pub not_deleted: usize,
    /// Stale entities kept because entities this run saw still relate to them.
    #[serde(default)]
    pub kept_for_dependents: usize,
    /// Kinds that were not available on any repository: their entities were kept.
    pub protected_kinds: Vec<String>,
    /// Seen entities missing from Port (deleted behind the integration's back): sent again by
    /// the next run.
    pub missing: usize,
    /// Why nothing was deleted, when nothing was.
    pub skipped: Option<String>,
}

pub(super) async fn cleanup(
    resync: &Resync,
    current: &CurrentRun,
) -> Result<CleanupReport, ResyncError> {
    let state = resync.state.as_ref();
    let now = resync.clock.now();
    let partition = run_partition(&current.run);
    let counters = state.counters(Key::new(&partition, "counters")).await?;
    let mut visited: HashMap<String, HashSet<String>> = HashMap::new();
    for (item, record) in state.list(&partition, "repos/", now).await? {
        let Some(org) = item.split('/').nth(1) else {
            continue;
        };
        let names: Vec<String> = serde_json::from_str(&record.value).unwrap_or_default();
        visited.entry(org.to_owned()).or_default().extend(names);
    }
    let orgs: HashSet<&str> = current.orgs.iter().map(|o| o.login.as_str()).collect();
    let mapping = resync.mapping();
    let valid: HashSet<String> = mapping
        .resources()
        .iter()
        .enumerate()
        .map(|(index, r)| resource_key(index, &r.config().kind))
        .collect();
    let protected_kinds = outage_kinds(&counters);
    for kind in &protected_kinds {
        tracing::warn!(
            kind,
            "not available on any repository (a missing permission or an outage?): its entities are kept"
        );
    }

    let all = records::load_all(state, now).await?;
    let mut seen: HashSet<(String, String)> = HashSet::new();
    let mut protected: HashSet<(String, String)> = HashSet::new();
    // Records of scopes the run did not visit (deleted repositories, removed resources), and
    // records of kinds that were not available here: both end up empty.
    let mut garbage: Vec<(RecordKey, usize)> = Vec::new();
    let mut emptied: Vec<(RecordKey, String, usize, Option<i64>)> = Vec::new();
    for (key, record) in &all {
        let in_run = orgs.contains(key.org.as_str())
            && (key.scope == ORG_SCOPE
                || visited
                    .get(&key.org)
                    .is_some_and(|names| names.contains(&key.scope)))
            && valid.contains(&key.resource);
        let keys = record.entries.iter().map(|e| (e.b.clone(), e.i.clone()));
        if protected_kinds.contains(&record.kind) && (record.not_available || !in_run) {
            protected.extend(keys);
        } else if in_run && !record.not_available {
            seen.extend(keys);
        } else if in_run {
            // Not available here (and not everywhere): nothing of the kind exists any more; the
            // record stays flagged, so the next runs skip asking until it is time to check.
            if !record.entries.is_empty() {
                emptied.push((
                    key.clone(),
                    record.kind.clone(),
                    record.chunks,
                    record.not_available_at,
                ));
            }
        } else {
            garbage.push((key.clone(), record.chunks));
        }
    }

    let owned = resync.port.sweep_owned_entities().await?;
    let owned_set: HashSet<(String, String)> = owned
        .iter()
        .map(|e| (e.blueprint.clone(), e.identifier.clone()))
        .collect();
    let stale: Vec<(String, String)> = owned_set
        .iter()
        .filter(|key| !seen.contains(*key) && !protected.contains(*key))
        .cloned()
        .collect();
    let mut report = CleanupReport {
        owned: owned_set.len(),
        seen: seen.len(),
        stale: stale.len(),
        protected_kinds: protected_kinds.iter().cloned().collect(),
        ..CleanupReport::default()
    };

    // Seen but not in Port: clear their hashes so the next run sends them again.
    let missing: HashSet<&(String, String)> = seen
        .iter()
        .filter(|key| !owned_set.contains(*key))
        .collect();
    report.missing = missing.len();
    if !missing.is_empty() {
        for (key, record) in &all {
            if record.not_available
                || !record
                    .entries
                    .iter()
                    .any(|e| missing.contains(&(e.b.clone(), e.i.clone())))
            {
                continue;
            }
            let entries: Vec<records::Entry> = record
                .entries
                .iter()
                .map(|e| {
                    let mut e = e.clone();
                    if missing.contains(&(e.b.clone(), e.i.clone())) {
                        e.h.clear();
                    }
                    e
                })
                .collect();
            records::store(state, key, &record.kind, &entries, None, record.chunks, now).await?;
        }
    }

    let threshold = mapping.config().entity_deletion_threshold;
    if report.owned > 0 && (stale.len() as f64 / report.owned as f64) > threshold {
        let reason = format!(
            "{} of {} owned entities ({:.0} %) would be deleted, above entityDeletionThreshold {threshold}: nothing deleted",
            stale.len(),
            report.owned,
            100.0 * stale.len() as f64 / report.owned as f64
        );
        tracing::warn!(reason, "cleanup skipped");
        report.skipped = Some(reason);
        return Ok(report);
    }

    let mut by_blueprint: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (blueprint, identifier) in stale {
        by_blueprint.entry(blueprint).or_default().push(identifier);
    }
    // Never cascade: Port's dependents of a stale entity may be entities this run saw (a
    // placeholder Port made for `createMissingRelatedEntities` is owned and stale, while the
    // deployments relating to it are not). Port refuses to delete an entity others still relate
    // to, and a bulk delete with one such entity fails as a whole: the first round is in bulk,
    // the refused are then tried one by one, again while rounds make progress (stale dependents
    // go first), and what live entities still relate to is kept.
    let mut round = 0;
    loop {
        round += 1;
        let mut retry: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut progress = false;
        for (blueprint, mut identifiers) in std::mem::take(&mut by_blueprint) {
            identifiers.sort();
            let outcomes: Vec<(String, Result<(), crate::port::EntityFailure>)> = if round == 1 {
                let deleted = resync
                    .port
                    .delete_entities(&blueprint, &identifiers, false)
                    .await;
                deleted
                    .deleted
                    .into_iter()
                    .map(|id| (id, Ok(())))
                    .chain(
                        deleted
                            .not_deleted
                            .into_iter()
                            .map(|n| (n.identifier, Err(n.failure))),
                    )
                    .collect()
            } else {
                let mut outcomes = Vec::with_capacity(identifiers.len());
                for identifier in identifiers {
                    let result = resync
                        .port
                        .delete_entity(&blueprint, &identifier, false)
                        .await
                        .map(|_| ())
                        .map_err(|error| crate::port::EntityFailure::from_error(&error));
                    outcomes.push((identifier, result));
                }
                outcomes
            };
            for (identifier, outcome) in outcomes {
                match outcome {
                    Ok(()) => {
                        progress = true;
                        report.deleted += 1;
                    }
                    Err(failure) if failure.code.contains("dependent") => {
                        retry.entry(blueprint.clone()).or_default().push(identifier);
                    }
                    Err(failure) => {
                        tracing::warn!(blueprint, identifier, code = %failure.code,
                            message = %failure.message, "stale entity not deleted");
                        report.not_deleted += 1;
                    }
                }
            }
        }
        if retry.is_empty() {
            break;
        }
        // After the bulk round, always try one by one at least once: the bulk refusal may have
        // come from a single entity of the call.
        if (!progress && round > 1) || round >= MAX_DELETE_ROUNDS {
            let left: usize = retry.values().map(Vec::len).sum();
            tracing::info!(
                left,
                "stale entities kept: entities this run saw still relate to them"
            );
            report.kept_for_dependents += left;
            break;
        }
        by_blueprint = retry;
    }
    for (key, chunks) in garbage {
        records::remove(state, &key, chunks).await?;
    }
    for (key, kind, chunks, not_available_at) in emptied {
        records::store(state, &key, &kind, &[], not_available_at, chunks, now).await?;
    }
    Ok(report)
}

/// Kinds listed on at least one repository and available on none.
fn outage_kinds(counters: &BTreeMap<String, i64>) -> HashSet<String> {
    let mut tallies: BTreeMap<&str, AvailabilityTally> = BTreeMap::new();
    for (name, value) in counters {
        let count = usize::try_from(*value).unwrap_or(0);
        if let Some(kind) = name.strip_prefix("ok-") {
            tallies.entry(kind).or_default().available += count;
        } else if let Some(kind) = name.strip_prefix("na-") {
            tallies.entry(kind).or_default().not_available += count;
        }
    }
    tallies
        .into_iter()
        .filter(|(_, tally)| tally.looks_like_an_outage(1))
        .map(|(kind, _)| kind.to_owned())
        .collect()
}
