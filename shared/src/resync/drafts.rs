//! A resource's new record while its job runs: each mapped entity becomes an entry, with the
//! upsert it waits for when its content changed (or is due to be sent again), or the previous
//! entry when it did not; a list continued from an earlier job carries that job's partial
//! records; a list that answered "not available" keeps the previous entries, flagged.

use std::collections::HashMap;

use serde_json::Value;

use super::gathering::Gathered;
use super::records::{self, Entry, RecordKey, ResourceRecord, content_hash};
use super::{Job, Resync};
use crate::mapping::CompiledResource;
use crate::state::StateError;

/// One entity of a resource's new record, with the upsert it waits for.
pub(super) struct DraftEntry {
    pub(super) entry: Entry,
    /// Index into the job's upserts when it is being sent now.
    pub(super) upsert: Option<usize>,
}

/// A resource's new record, written when its job's upserts are known.
pub(super) struct Draft {
    pub(super) key: RecordKey,
    pub(super) kind: String,
    pub(super) entries: Vec<DraftEntry>,
    pub(super) previous: Option<ResourceRecord>,
    /// An unfinished resource: its entries so far wait in a run record for the continuation.
    pub(super) partial: bool,
    /// Partial records of earlier parts, merged into this one and then removed.
    pub(super) merged_partials: Vec<String>,
    /// How many of `entries` (at the front) came from those partial records.
    pub(super) carried: usize,
    /// The list answered "not available" (when it was checked): the previous entries are kept,
    /// flagged.
    pub(super) not_available_at: Option<i64>,
    /// Where each entity of `previous` is, by [`records::entity_key`].
    previous_index: HashMap<u128, usize>,
}

impl Draft {
    pub(super) fn new(key: RecordKey, kind: &str, previous: Option<ResourceRecord>) -> Self {
        let previous_index = previous
            .iter()
            .flat_map(|p| p.entries.iter().enumerate())
            .map(|(index, e)| (records::entity_key(&e.b, &e.i), index))
            .collect();
        Self {
            key,
            kind: kind.to_owned(),
            entries: Vec::new(),
            previous,
            partial: false,
            merged_partials: Vec::new(),
            carried: 0,
            not_available_at: None,
            previous_index,
        }
    }

    /// The previous record's entry of an entity.
    fn previous_entry(&self, blueprint: &str, identifier: &str) -> Option<&Entry> {
        let index = self
            .previous_index
            .get(&records::entity_key(blueprint, identifier))?;
        self.previous.as_ref()?.entries.get(*index)
    }

    /// The list answered "not available" (checked at `checked`): the previous entries stay,
    /// flagged.
    pub(super) fn keep_previous(&mut self, checked: i64) {
        self.not_available_at = Some(checked);
        self.entries = self
            .previous
            .iter()
            .flat_map(|p| p.entries.iter().cloned())
            .map(|entry| DraftEntry {
                entry,
                upsert: None,
            })
            .collect();
    }
}

impl Resync {
    /// Maps one raw object with one resource, and drafts what it selects.
    pub(super) fn map_raw(
        &self,
        resource: &CompiledResource,
        raw: &Value,
        draft: &mut Draft,
        gathered: &mut Gathered,
    ) {
        let applied = crate::sync::apply(resource, raw);
        if applied.field_errors > 0 {
            gathered.count("field-errors".into(), applied.field_errors as i64);
        }
        if !applied.selected {
            return;
        }
        let now = self.clock.now().timestamp();
        let fresh_after =
            now - i64::try_from(self.settings.resend_after.as_secs()).unwrap_or(i64::MAX);
        for entity in applied.entities {
            let hash = content_hash(&entity);
            let unchanged = draft
                .previous_entry(&entity.blueprint, &entity.identifier)
                .filter(|e| e.h == hash && e.t > fresh_after);
            gathered.count(format!("entities-{}", draft.kind), 1);
            match unchanged {
                Some(entry) => {
                    gathered.count("unchanged".into(), 1);
                    gathered.count(format!("unchanged-{}", draft.kind), 1);
                    draft.entries.push(DraftEntry {
                        entry: entry.clone(),
                        upsert: None,
                    });
                }
                None => {
                    draft.entries.push(DraftEntry {
                        entry: Entry {
                            b: entity.blueprint.clone(),
                            i: entity.identifier.clone(),
                            h: hash,
                            t: now,
                        },
                        upsert: Some(gathered.upserts.len()),
                    });
                    gathered.upserts.push((draft.kind.clone(), entity));
                }
            }
        }
    }

    /// Carries the entries earlier parts of an unfinished list kept in partial records.
    pub(super) async fn load_partials(
        &self,
        job: &Job,
        draft: &mut Draft,
    ) -> Result<(), StateError> {
        for (item, entries) in self.ledger.partials(&job.run, &draft.key).await? {
            draft
                .entries
                .extend(entries.into_iter().map(|entry| DraftEntry {
                    entry,
                    upsert: None,
                }));
            draft.merged_partials.push(item);
        }
        draft.carried = draft.entries.len();
        Ok(())
    }
}
