//! What the catalog looked like after the last sync, per organization, scope (a repository, or
//! `~` for the organization itself) and mapping resource: each entity's identity, a hash of its
//! mapped content and when it was last sent. A resync compares against it to skip unchanged
//! entities, and the cleanup unions the records of the scopes a run visited into the set of
//! entities the run saw. Records are rewritten only when they change, so an unchanged
//! organization costs reads, not writes.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::port::Entity;
use crate::state::{Expect, Key, StateError, StateStore};

/// The state partition holding every record.
pub const PARTITION: &str = "catalog";
/// Entries per stored item (an item stays far below DynamoDB's 400 KB).
const CHUNK: usize = 1_000;
/// The scope name of organization-level resources (not a valid repository name).
pub const ORG_SCOPE: &str = "~";

/// One entity as a record remembers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Blueprint.
    pub b: String,
    /// Identifier.
    pub i: String,
    /// Hash of the mapped content; empty when Port refused it or it must be sent again.
    pub h: String,
    /// When it was last sent (epoch seconds).
    pub t: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Chunk {
    kind: String,
    entries: Vec<Entry>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    na: bool,
    /// When the list last answered "not available" (epoch seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    na_at: Option<i64>,
}

/// A resource's record, all chunks together.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResourceRecord {
    pub kind: String,
    pub entries: Vec<Entry>,
    /// How many chunks it is stored in.
    pub chunks: usize,
    /// The last list answered "not available" (403/404): `entries` are what was there before,
    /// kept until the cleanup knows whether that was this repository or an outage.
    pub not_available: bool,
    /// When that answer was last checked (epoch seconds).
    pub not_available_at: Option<i64>,
}

/// Where one resource's record of one scope lives.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordKey {
    pub org: String,
    pub scope: String,
    /// `<index>-<kind>` of the resource in the mapping.
    pub resource: String,
}

impl RecordKey {
    fn scope_prefix(org: &str, scope: &str) -> String {
        format!("{org}/{scope}/")
    }

    fn item(&self, chunk: usize) -> String {
        format!("{}/{}/{}#{chunk:04}", self.org, self.scope, self.resource)
    }

    /// Reads `org/scope/resource#chunk`.
    pub fn parse(item: &str) -> Option<(Self, usize)> {
        let (path, chunk) = item.rsplit_once('#')?;
        let mut parts = path.splitn(3, '/');
        let org = parts.next()?.to_owned();
        let scope = parts.next()?.to_owned();
        let resource = parts.next()?.to_owned();
        Some((
            Self {
                org,
                scope,
                resource,
            },
            chunk.parse().ok()?,
        ))
    }
}

/// The key of resource `index` of kind `kind`.
pub fn resource_key(index: usize, kind: &str) -> String {
    format!("{index:03}-{kind}")
}

/// A hash of what would be sent for `entity` (its blueprint included).
pub fn content_hash(entity: &Entity) -> String {
    let mut hasher = Sha256::new();
    hasher.update(entity.blueprint.as_bytes());
    hasher.update([0]);
    // serde_json writes object keys in a fixed order for equal maps, so equal content hashes
    // equally.
    hasher.update(serde_json::to_vec(entity).unwrap_or_default());
    hex::encode(&hasher.finalize()[..16])
}

/// Every record of one scope, by resource key.
pub async fn load_scope(
    state: &dyn StateStore,
    org: &str,
    scope: &str,
    now: DateTime<Utc>,
) -> Result<HashMap<String, ResourceRecord>, StateError> {
    let items = state
        .list(PARTITION, &RecordKey::scope_prefix(org, scope), now)
        .await?;
    let mut out: HashMap<String, ResourceRecord> = HashMap::new();
    for (item, record) in items {
        let Some((key, _)) = RecordKey::parse(&item) else {
            continue;
        };
        let chunk = parse_chunk(&item, &record.value)?;
        let entry = out.entry(key.resource).or_default();
        entry.kind = chunk.kind;
        entry.entries.extend(chunk.entries);
        entry.chunks += 1;
        entry.not_available |= chunk.na;
        entry.not_available_at = entry.not_available_at.or(chunk.na_at);
    }
    Ok(out)
}

/// Record chunks read per state-store page: a chunk of 1,000 entries is about 100 KB, so a page
/// stays near DynamoDB's 1 MB query page.
const PAGE_CHUNKS: usize = 10;

/// One stored chunk of a resource's record (the cleanup reads records chunk by chunk).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredChunk {
    pub key: RecordKey,
    pub index: usize,
    pub kind: String,
    pub entries: Vec<Entry>,
    /// The list answered "not available" (every chunk of a record carries the same flag).
    pub not_available: bool,
    pub not_available_at: Option<i64>,
}

/// Every record of every scope, a page of chunks at a time: memory stays bounded by the page,
/// whatever the size of the organization.
#[derive(Debug, Default)]
pub struct ChunkPager {
    after: Option<String>,
    done: bool,
}

impl ChunkPager {
    /// The next page of chunks, in item order; `None` when every chunk was read.
    pub async fn next_page(
        &mut self,
        state: &dyn StateStore,
        now: DateTime<Utc>,
    ) -> Result<Option<Vec<StoredChunk>>, StateError> {
        if self.done {
            return Ok(None);
        }
        let page = state
            .list_page(PARTITION, "", self.after.as_deref(), PAGE_CHUNKS, now)
            .await?;
        self.done = page.next.is_none();
        self.after = page.next;
        let mut chunks = Vec::with_capacity(page.records.len());
        for (item, record) in page.records {
            let Some((key, index)) = RecordKey::parse(&item) else {
                continue;
            };
            let chunk = parse_chunk(&item, &record.value)?;
            chunks.push(StoredChunk {
                key,
                index,
                kind: chunk.kind,
                entries: chunk.entries,
                not_available: chunk.na,
                not_available_at: chunk.na_at,
            });
        }
        Ok(Some(chunks))
    }
}

/// Writes one chunk back (the cleanup clearing hashes of entities missing from Port).
pub async fn store_chunk(
    state: &dyn StateStore,
    chunk: &StoredChunk,
    now: DateTime<Utc>,
) -> Result<(), StateError> {
    let stored = Chunk {
        kind: chunk.kind.clone(),
        entries: chunk.entries.clone(),
        na: chunk.not_available,
        na_at: chunk.not_available_at,
    };
    put_chunk(state, &chunk.key, chunk.index, &stored, now).await
}

async fn put_chunk(
    state: &dyn StateStore,
    key: &RecordKey,
    index: usize,
    chunk: &Chunk,
    now: DateTime<Utc>,
) -> Result<(), StateError> {
    let value = serde_json::to_string(chunk).unwrap_or_default();
    state
        .put(
            Key::new(PARTITION, &key.item(index)),
            &value,
            Expect::Anything,
            None,
            now,
        )
        .await?;
    Ok(())
}

/// A compact, collision-safe identity of an entity (blueprint and identifier) for the
/// cleanup's sets: 16 bytes instead of two strings.
pub fn entity_key(blueprint: &str, identifier: &str) -> u128 {
    let mut hasher = Sha256::new();
    hasher.update(blueprint.as_bytes());
    hasher.update([0]);
    hasher.update(identifier.as_bytes());
    let digest = hasher.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    u128::from_le_bytes(bytes)
}

fn parse_chunk(item: &str, value: &str) -> Result<Chunk, StateError> {
    serde_json::from_str(value).map_err(|e| StateError::Malformed {
        partition: PARTITION.to_owned(),
        item: item.to_owned(),
        reason: e.to_string(),
    })
}

/// Writes a resource's record (chunk by chunk) and removes the chunks the previous version had
/// beyond the new count.
pub async fn store(
    state: &dyn StateStore,
    key: &RecordKey,
    kind: &str,
    entries: &[Entry],
    not_available_at: Option<i64>,
    previous_chunks: usize,
    now: DateTime<Utc>,
) -> Result<(), StateError> {
    let chunks: Vec<&[Entry]> = if entries.is_empty() {
        vec![&[]]
    } else {
        entries.chunks(CHUNK).collect()
    };
    for (index, chunk) in chunks.iter().enumerate() {
        let chunk = Chunk {
            kind: kind.to_owned(),
            entries: chunk.to_vec(),
            na: not_available_at.is_some(),
            na_at: not_available_at,
        };
        put_chunk(state, key, index, &chunk, now).await?;
    }
    for stale in chunks.len()..previous_chunks {
        state.delete(Key::new(PARTITION, &key.item(stale))).await?;
    }
    Ok(())
}

/// Removes a resource's record.
pub async fn remove(
    state: &dyn StateStore,
    key: &RecordKey,
    chunks: usize,
) -> Result<(), StateError> {
    for chunk in 0..chunks.max(1) {
        state.delete(Key::new(PARTITION, &key.item(chunk))).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::InMemoryStateStore;

    #[test]
    fn keys_round_trip() {
        let key = RecordKey {
            org: "acme".into(),
            scope: "my.repo".into(),
            resource: resource_key(3, "pull-request"),
        };
        assert_eq!(RecordKey::parse(&key.item(2)), Some((key, 2)));
        assert_eq!(RecordKey::parse("nonsense"), None);
    }

    #[tokio::test]
    async fn records_are_chunked_and_shrink() {
        let state = InMemoryStateStore::default();
        let now = Utc::now();
        let key = RecordKey {
            org: "acme".into(),
            scope: "repo".into(),
            resource: resource_key(1, "issue"),
        };
        let entries: Vec<Entry> = (0..2_500)
            .map(|n| Entry {
                b: "githubIssue".into(),
                i: n.to_string(),
                h: "h".into(),
                t: 1,
            })
            .collect();
        store(&state, &key, "issue", &entries, None, 0, now)
            .await
            .unwrap();
        let loaded = load_scope(&state, "acme", "repo", now).await.unwrap();
        let record = &loaded[&key.resource];
        assert_eq!(record.chunks, 3);
        assert_eq!(record.entries, entries);
        store(&state, &key, "issue", &entries[..10], None, 3, now)
            .await
            .unwrap();
        let mut pager = ChunkPager::default();
        let mut chunks = Vec::new();
        while let Some(page) = pager.next_page(&state, now).await.unwrap() {
            chunks.extend(page);
        }
        assert_eq!(chunks.len(), 1);
        assert_eq!((chunks[0].index, chunks[0].entries.len()), (0, 10));
        assert_eq!(chunks[0].key, key);
        assert!(
            load_scope(&state, "acme", "rep", now)
                .await
                .unwrap()
                .is_empty(),
            "a scope prefix does not match a longer scope name"
        );
    }

    #[tokio::test]
    async fn the_chunk_pager_reads_every_chunk_once_across_pages() {
        let state = InMemoryStateStore::default();
        let now = Utc::now();
        let mut expected = Vec::new();
        for repo in 0..(PAGE_CHUNKS * 2 + 3) {
            let key = RecordKey {
                org: "acme".into(),
                scope: format!("repo-{repo:02}"),
                resource: resource_key(0, "issue"),
            };
            let entries: Vec<Entry> = (0..(repo % 3) * 700)
                .map(|n| Entry {
                    b: "githubIssue".into(),
                    i: format!("{repo}-{n}"),
                    h: "h".into(),
                    t: 1,
                })
                .collect();
            store(&state, &key, "issue", &entries, None, 0, now)
                .await
                .unwrap();
            expected.extend(entries);
        }
        let mut pager = ChunkPager::default();
        let (mut pages, mut read) = (0, Vec::new());
        while let Some(page) = pager.next_page(&state, now).await.unwrap() {
            pages += 1;
            assert!(page.len() <= PAGE_CHUNKS);
            read.extend(page.into_iter().flat_map(|chunk| chunk.entries));
        }
        assert!(pages >= 3, "{pages} pages");
        assert_eq!(read, expected);
        assert_eq!(pager.next_page(&state, now).await.unwrap(), None);
    }

    #[test]
    fn entity_keys_tell_blueprints_and_identifiers_apart() {
        assert_eq!(entity_key("a", "b"), entity_key("a", "b"));
        assert_ne!(entity_key("a", "bc"), entity_key("ab", "c"));
        assert_ne!(entity_key("a", "b"), entity_key("b", "a"));
    }

    #[test]
    fn equal_entities_hash_equally_and_blueprint_counts() {
        let entity: Entity = serde_json::from_value(serde_json::json!({
            "identifier": "a", "properties": {"x": 1, "y": [1, 2]}, "relations": {}
        }))
        .unwrap();
        let mut other = entity.clone();
        assert_eq!(content_hash(&entity), content_hash(&other));
        other.blueprint = "b".into();
        assert_ne!(content_hash(&entity), content_hash(&other));
    }
}
