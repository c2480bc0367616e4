//! Phase two of a batch: every entity its jobs want sent, in one bulk upsert (20 per request,
//! grouped by blueprint), or to the dry run's sink. An entity the worker deleted live since the
//! listing began is left out, and one deleted while the upserts were on their way is deleted
//! again, so a run never brings back what a live event removed.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::gathering::{Gathered, Outcome};
use super::{Resync, retry_delay};
use crate::port::{Entity, EntityFailure, UpsertOptions, UpsertResult};
use crate::state::{LiveWrite, LiveWrites};

impl Resync {
    /// Phase two: every entity the batch's jobs want sent, in one bulk upsert (20 per request,
    /// grouped by blueprint). Returns, per job, the result of each of its upserts.
    pub(super) async fn send_upserts(
        &self,
        gathered: &mut [(String, Gathered)],
        listed_from: DateTime<Utc>,
    ) -> Vec<Vec<UpsertResult>> {
        // Entities deleted live since the listing began are not sent back (tombstones).
        let any = gathered.iter().any(|(_, job)| !job.upserts.is_empty());
        let deleted_live = if any && self.settings.dry_run.is_none() {
            self.deleted_live_since(gathered, listed_from).await
        } else {
            HashMap::new()
        };
        let mut all: Vec<Entity> = Vec::new();
        // Per job, per upsert: its index in `all`, or none when it is left out.
        let mut positions: Vec<Vec<Option<usize>>> = Vec::new();
        for (_, job) in gathered.iter_mut() {
            let usable = matches!(job.outcome, Outcome::Complete | Outcome::Continue(..));
            let mut slots = Vec::with_capacity(job.upserts.len());
            for (index, (_, entity)) in job.upserts.iter().enumerate() {
                let key = (entity.blueprint.clone(), entity.identifier.clone());
                if !usable {
                    slots.push(None);
                } else if deleted_live.contains_key(&key) {
                    job.deleted_live.insert(index);
                    slots.push(None);
                } else {
                    slots.push(Some(all.len()));
                    all.push(entity.clone());
                }
            }
            positions.push(slots);
        }
        let results: Vec<UpsertResult> = if all.is_empty() {
            Vec::new()
        } else if let Some(sink) = &self.settings.dry_run {
            for ((_, job), slots) in gathered.iter().zip(&positions) {
                for ((kind, _), slot) in job.upserts.iter().zip(slots) {
                    if let Some(at) = slot
                        && let Some(entity) = all.get(*at)
                    {
                        sink.entity(kind, entity);
                    }
                }
            }
            all.iter()
                .map(|_| UpsertResult::Upserted { created: None })
                .collect()
        } else {
            let mapping = self.mapping();
            let config = mapping.config();
            let options = UpsertOptions {
                merge: config.enable_merge_entity,
                create_missing_related_entities: config.create_missing_related_entities,
            };
            self.port
                .upsert_entities(&all, options)
                .await
                .into_iter()
                .map(|outcome| outcome.result)
                .collect()
        };
        let left_out = UpsertResult::Failed(EntityFailure::local(
            "deleted_live",
            "deleted live while the run listed it",
        ));
        let mut per_job: Vec<Vec<UpsertResult>> = positions
            .iter()
            .map(|slots| {
                slots
                    .iter()
                    .map(|slot| match slot {
                        Some(at) => results
                            .get(*at)
                            .cloned()
                            .unwrap_or_else(|| left_out.clone()),
                        None => left_out.clone(),
                    })
                    .collect()
            })
            .collect();
        if self.settings.dry_run.is_none() && !all.is_empty() {
            // A delete that reached Port while the upserts were on their way: undo the upsert
            // (the worker notes a delete before making it, so it is seen here).
            self.undo_upserts_deleted_live(gathered, &mut per_job, listed_from)
                .await;
        }
        per_job
    }

    /// The entities noted as deleted live since `listed_from` (with the skew margin); when the
    /// journal cannot be read, every job is retried later rather than risk re-creating them.
    async fn deleted_live_since(
        &self,
        gathered: &mut [(String, Gathered)],
        listed_from: DateTime<Utc>,
    ) -> HashMap<(String, String), DateTime<Utc>> {
        let journal = LiveWrites::new(self.state.clone(), self.clock.clone());
        match journal.since(LiveWrite::Deleted, listed_from).await {
            Ok(found) => found,
            Err(error) => {
                for (_, job) in gathered.iter_mut() {
                    if matches!(job.outcome, Outcome::Complete | Outcome::Continue(..)) {
                        job.outcome = Outcome::Retry(
                            retry_delay(job.job.attempt),
                            format!("the live-write journal: {error}"),
                        );
                    }
                }
                HashMap::new()
            }
        }
    }

    async fn undo_upserts_deleted_live(
        &self,
        gathered: &mut [(String, Gathered)],
        per_job: &mut [Vec<UpsertResult>],
        listed_from: DateTime<Utc>,
    ) {
        let journal = LiveWrites::new(self.state.clone(), self.clock.clone());
        let deleted = match journal.since(LiveWrite::Deleted, listed_from).await {
            Ok(deleted) if deleted.is_empty() => return,
            Ok(deleted) => deleted,
            Err(error) => {
                tracing::warn!(%error, "the live-write journal could not be read after the upserts");
                return;
            }
        };
        let dependents = self.mapping().config().delete_dependent_entities;
        for ((_, job), results) in gathered.iter_mut().zip(per_job.iter_mut()) {
            for (index, (_, entity)) in job.upserts.iter().enumerate() {
                let key = (entity.blueprint.clone(), entity.identifier.clone());
                let upserted = matches!(results.get(index), Some(UpsertResult::Upserted { .. }));
                if !upserted || !deleted.contains_key(&key) {
                    continue;
                }
                match self
                    .port
                    .delete_entity(&entity.blueprint, &entity.identifier, dependents)
                    .await
                {
                    Ok(_) => {
                        tracing::info!(blueprint = %entity.blueprint, identifier = %entity.identifier,
                            "deleted live during the run: the run's upsert was undone");
                        job.deleted_live.insert(index);
                        if let Some(slot) = results.get_mut(index) {
                            *slot = UpsertResult::Failed(EntityFailure::local(
                                "deleted_live",
                                "deleted live while the run sent it",
                            ));
                        }
                    }
                    Err(error) => {
                        tracing::warn!(blueprint = %entity.blueprint, identifier = %entity.identifier,
                            %error, "an entity deleted live during the run could not be deleted again")
                    }
                }
            }
        }
    }
}
