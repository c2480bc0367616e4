//! The end of a complete run: delete the entities this integration owns that the run did not
//! see. Seen = the records of the scopes the run visited (its organizations, the repositories it
//! listed) for the resources of the current mapping. A kind that answered "not available" on
//! every repository looks like a missing permission or an outage: its entities are kept. Nothing
//! is deleted when the stale share of the owned entities is above `entityDeletionThreshold`.
//! Deletes never cascade (see the rounds below): `deleteDependentEntities` is for live deletes.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

use super::ledger::CurrentRun;
use super::records::{self, ORG_SCOPE, RecordKey, resource_key};
use super::{Resync, ResyncError};
use crate::github::kinds::AvailabilityTally;
use crate::state::{LiveWrite, LiveWrites};

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
    /// Owned, not seen, but written live (by the worker) since the run started: kept.
    #[serde(default)]
    pub written_live: usize,
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

/// A record that answered "not available" in a scope the run visited, to be emptied.
#[derive(Debug, Default)]
struct Emptied {
    kind: String,
    chunks: usize,
    had_entries: bool,
    not_available_at: Option<i64>,
}

pub(super) async fn cleanup(
    resync: &Resync,
    current: &CurrentRun,
) -> Result<CleanupReport, ResyncError> {
    let state = resync.state.as_ref();
    let now = resync.clock.now();
    let counters = resync.ledger.counters(&current.run).await?;
    let visited = resync.ledger.visited(&current.run).await?;
    let orgs: HashSet<&str> = current.orgs.iter().map(|o| o.login.as_str()).collect();
    let mapping = resync.mapping();
    let valid: HashSet<String> = mapping
        .resources()
        .iter()
        .enumerate()
        .map(|(index, r)| resource_key(index, r.config().kind.as_str()))
        .collect();
    let protected_kinds = outage_kinds(&counters);
    for kind in &protected_kinds {
        tracing::warn!(
            kind,
            "not available on any repository (a missing permission or an outage?): its entities are kept"
        );
    }

    // Pass 1, a page of record chunks at a time: which entities the run saw, which belong to a
    // protected kind, and which records are garbage or emptied. Entities are kept as 16-byte
    // keys, so the cleanup's memory is a few dozen bytes per entity, not the records.
    let mut seen: HashSet<u128> = HashSet::new();
    let mut protected: HashSet<u128> = HashSet::new();
    // Records of scopes the run did not visit (deleted repositories, removed resources), and
    // records of kinds that were not available here: both end up empty.
    let mut garbage: BTreeMap<RecordKey, usize> = BTreeMap::new();
    let mut emptied: BTreeMap<RecordKey, Emptied> = BTreeMap::new();
    let mut pager = records::ChunkPager::default();
    while let Some(page) = pager.next_page(state, now).await? {
        for chunk in page {
            let key = &chunk.key;
            let in_run = orgs.contains(key.org.as_str())
                && (key.scope == ORG_SCOPE
                    || visited
                        .get(&key.org)
                        .is_some_and(|names| names.contains(&key.scope)))
                && valid.contains(&key.resource);
            let keys = chunk
                .entries
                .iter()
                .map(|e| records::entity_key(&e.b, &e.i));
            if protected_kinds.contains(&chunk.kind) && (chunk.not_available || !in_run) {
                protected.extend(keys);
            } else if in_run && !chunk.not_available {
                seen.extend(keys);
            } else if in_run {
                // Not available here (and not everywhere): nothing of the kind exists any
                // more; the record stays flagged, so the next runs skip asking until it is
                // time to check.
                let record = emptied.entry(chunk.key).or_insert_with(|| Emptied {
                    kind: chunk.kind,
                    ..Emptied::default()
                });
                record.chunks += 1;
                record.had_entries |= !chunk.entries.is_empty();
                record.not_available_at = record.not_available_at.or(chunk.not_available_at);
            } else {
                *garbage.entry(chunk.key).or_default() += 1;
            }
        }
    }
    emptied.retain(|_, record| record.had_entries);

    // Pass 2, a page of Port's owned entities at a time: stale = owned, not seen, not protected.
    let mut owned: HashSet<u128> = HashSet::new();
    let mut stale: Vec<(String, String)> = Vec::new();
    resync
        .port
        .sweep_owned_entity_pages(|page| {
            for entity in page {
                let key = records::entity_key(&entity.blueprint, &entity.identifier);
                if owned.insert(key) && !seen.contains(&key) && !protected.contains(&key) {
                    stale.push((entity.blueprint, entity.identifier));
                }
            }
        })
        .await?;
    // Written live since the run started (the worker's journal, with a clock-skew margin): not
    // stale, whatever the run saw.
    let written_live = LiveWrites::new(resync.state.clone(), resync.clock.clone())
        .keys_since(LiveWrite::Upserted, current.started_at, records::entity_key)
        .await?;
    let before = stale.len();
    stale.retain(|(blueprint, identifier)| {
        !written_live.contains(&records::entity_key(blueprint, identifier))
    });
    let mut report = CleanupReport {
        written_live: before - stale.len(),
        owned: owned.len(),
        seen: seen.len(),
        stale: stale.len(),
        protected_kinds: protected_kinds.iter().cloned().collect(),
        ..CleanupReport::default()
    };

    // Seen but not in Port: clear their hashes so the next run sends them again (pass 3, only
    // when there are any).
    let missing: HashSet<u128> = seen
        .iter()
        .filter(|key| !owned.contains(*key))
        .copied()
        .collect();
    drop(owned);
    drop(seen);
    drop(protected);
    report.missing = missing.len();
    if !missing.is_empty() {
        let mut pager = records::ChunkPager::default();
        while let Some(page) = pager.next_page(state, now).await? {
            for mut chunk in page {
                if chunk.not_available {
                    continue;
                }
                let mut changed = false;
                for entry in &mut chunk.entries {
                    if !entry.h.is_empty()
                        && missing.contains(&records::entity_key(&entry.b, &entry.i))
                    {
                        entry.h.clear();
                        changed = true;
                    }
                }
                if changed {
                    records::store_chunk(state, &chunk, now).await?;
                }
            }
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

    // Never cascade: Port's dependents of a stale entity may be entities this run saw (a
    // placeholder Port made for `createMissingRelatedEntities` is owned and stale, while the
    // deployments relating to it are not). Port refuses to delete an entity others still relate
    // to, and a bulk delete with one such entity fails as a whole: the first round is in bulk,
    // the refused are then tried one by one, again while rounds make progress (stale dependents
    // go first), and what live entities still relate to is kept.
    //
    // What an earlier run kept is remembered for a day: those entities get one bulk attempt per
    // run, not one request each, and the refused stay kept until the daily recheck.
    let known = kept::load(state, now).await?;
    let mut fresh: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut known_stale: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (blueprint, identifier) in stale {
        let target = if known
            .keys
            .contains(&records::entity_key(&blueprint, &identifier))
        {
            &mut known_stale
        } else {
            &mut fresh
        };
        target.entry(blueprint).or_default().push(identifier);
    }
    let mut kept_now: Vec<(String, String)> = Vec::new();
    let mut by_blueprint = fresh;
    let mut round = 0;
    while !by_blueprint.is_empty() {
        round += 1;
        let (retry, progress) = delete_round(resync, by_blueprint, round == 1, &mut report).await;
        if retry.is_empty() {
            break;
        }
        // After the bulk round, always try one by one at least once: the bulk refusal may have
        // come from a single entity of the call.
        if (!progress && round > 1) || round >= MAX_DELETE_ROUNDS {
            kept_now.extend(flatten(retry));
            break;
        }
        by_blueprint = retry;
    }
    if !known_stale.is_empty() {
        let (retry, _) = delete_round(resync, known_stale, true, &mut report).await;
        kept_now.extend(flatten(retry));
    }
    report.kept_for_dependents = kept_now.len();
    if !kept_now.is_empty() {
        tracing::info!(
            left = kept_now.len(),
            "stale entities kept: entities this run saw still relate to them"
        );
    }
    let keys: Vec<u128> = kept_now
        .iter()
        .map(|(b, i)| records::entity_key(b, i))
        .collect();
    kept::store(state, &keys, known.since.unwrap_or(now), known.chunks, now).await?;
    for (key, chunks) in garbage {
        records::remove(state, &key, chunks).await?;
    }
    for (key, record) in emptied {
        records::store(
            state,
            &key,
            &record.kind,
            &[],
            record.not_available_at,
            record.chunks,
            now,
        )
        .await?;
    }
    Ok(report)
}

fn flatten(by_blueprint: BTreeMap<String, Vec<String>>) -> impl Iterator<Item = (String, String)> {
    by_blueprint
        .into_iter()
        .flat_map(|(blueprint, identifiers)| {
            identifiers
                .into_iter()
                .map(move |identifier| (blueprint.clone(), identifier))
        })
}

/// One round of deletes (in bulk, or one request per entity); returns the entities refused
/// because others still relate to them, and whether anything was deleted.
async fn delete_round(
    resync: &Resync,
    by_blueprint: BTreeMap<String, Vec<String>>,
    bulk: bool,
    report: &mut CleanupReport,
) -> (BTreeMap<String, Vec<String>>, bool) {
    let mut retry: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut progress = false;
    for (blueprint, mut identifiers) in by_blueprint {
        // Sorted, so that related identifiers (one repository's) tend to share a bulk call.
        identifiers.sort();
        let outcomes: Vec<(String, Result<(), crate::port::EntityFailure>)> = if bulk {
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
    (retry, progress)
}

/// The stale entities a run kept because live entities relate to them, remembered until the
/// daily recheck (the items expire then) in partition `cleanup`, items `kept#NNNN`.
mod kept {
    use std::collections::HashSet;

    use chrono::{DateTime, TimeDelta, Utc};
    use serde::{Deserialize, Serialize};

    use crate::state::{Expect, Key, StateError, StateStore};

    const PARTITION: &str = "cleanup";
    /// Keys per item: 8,000 × 34 bytes stays far below DynamoDB's 400 KB.
    const CHUNK: usize = 8_000;
    /// How long a kept entity goes without one-by-one attempts.
    const RECHECK_HOURS: i64 = 24;

    #[derive(Serialize, Deserialize)]
    struct Item {
        /// When the set began (epoch seconds); it expires a day later.
        since: i64,
        keys: Vec<String>,
    }

    #[derive(Debug, Default)]
    pub(super) struct Known {
        pub keys: HashSet<u128>,
        pub since: Option<DateTime<Utc>>,
        pub chunks: usize,
    }

    fn item(index: usize) -> String {
        format!("kept#{index:04}")
    }

    /// The set kept by earlier runs, empty once the recheck is due. An unreadable item is
    /// ignored (the cost is one request per entity, once).
    pub(super) async fn load(
        state: &dyn StateStore,
        now: DateTime<Utc>,
    ) -> Result<Known, StateError> {
        let mut known = Known::default();
        for (name, record) in state.list(PARTITION, "kept#", now).await? {
            known.chunks += 1;
            let Ok(chunk) = serde_json::from_str::<Item>(&record.value) else {
                tracing::warn!(item = name, "unreadable kept-entities item ignored");
                continue;
            };
            known.since = known
                .since
                .or_else(|| DateTime::from_timestamp(chunk.since, 0));
            known.keys.extend(
                chunk
                    .keys
                    .iter()
                    .filter_map(|key| u128::from_str_radix(key, 16).ok()),
            );
        }
        Ok(known)
    }

    pub(super) async fn store(
        state: &dyn StateStore,
        keys: &[u128],
        since: DateTime<Utc>,
        previous_chunks: usize,
        now: DateTime<Utc>,
    ) -> Result<(), StateError> {
        let expires = since + TimeDelta::hours(RECHECK_HOURS);
        let chunks: Vec<&[u128]> = keys.chunks(CHUNK).collect();
        for (index, chunk) in chunks.iter().enumerate() {
            let value = serde_json::to_string(&Item {
                since: since.timestamp(),
                keys: chunk.iter().map(|key| format!("{key:032x}")).collect(),
            })
            .unwrap_or_default();
            state
                .put(
                    Key::new(PARTITION, &item(index)),
                    &value,
                    Expect::Anything,
                    Some(expires),
                    now,
                )
                .await?;
        }
        for index in chunks.len()..previous_chunks {
            state.delete(Key::new(PARTITION, &item(index))).await?;
        }
        Ok(())
    }
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
