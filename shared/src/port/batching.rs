//! Splitting entities into Port bulk requests: one blueprint per request, at most 20 entities
//! and 1 MiB of body each. Pure: it decides the batches, it sends nothing.

use std::collections::HashMap;

use super::Entity;

/// Port's limit on entities per bulk upsert.
pub const BULK_UPSERT_MAX_ENTITIES: usize = 20;
/// Port's limit on any request body (1 MiB).
pub const BULK_UPSERT_MAX_BYTES: usize = 1024 * 1024;

/// `{"entities":[` and `]}` around the comma-separated entities.
pub(crate) const BULK_ENVELOPE_BYTES: usize = r#"{"entities":[]}"#.len();

/// One bulk request: a blueprint and the positions of its entities in the caller's slice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    pub blueprint: String,
    pub indices: Vec<usize>,
}

/// Splits entities into bulk requests: grouped by blueprint (in order of first appearance), at
/// most [`BULK_UPSERT_MAX_ENTITIES`] each, and at most [`BULK_UPSERT_MAX_BYTES`] of body. An entity
/// too big on its own still gets a batch of its own (Port's 413 then reports it).
pub fn plan_batches(entities: &[Entity]) -> Vec<Batch> {
    let sizes: Vec<usize> = entities
        .iter()
        .map(|e| serde_json::to_vec(e).map_or(0, |bytes| bytes.len()))
        .collect();
    plan(entities.iter().map(|e| e.blueprint.as_str()).zip(sizes))
}

/// Plans batches from (blueprint, serialized size) pairs; indices count from 0 in that order.
pub(crate) fn plan<'a>(items: impl Iterator<Item = (&'a str, usize)>) -> Vec<Batch> {
    let mut batches: Vec<(Batch, usize)> = Vec::new();
    let mut open: HashMap<&str, usize> = HashMap::new(); // blueprint → its last batch
    for (index, (blueprint, size)) in items.enumerate() {
        let fits = |(batch, bytes): &(Batch, usize)| {
            batch.indices.len() < BULK_UPSERT_MAX_ENTITIES
                && bytes + 1 + size <= BULK_UPSERT_MAX_BYTES
        };
        match open.get(blueprint).copied() {
            Some(at) if batches.get(at).is_some_and(fits) => {
                if let Some((batch, bytes)) = batches.get_mut(at) {
                    batch.indices.push(index);
                    *bytes += 1 + size;
                }
            }
            _ => {
                open.insert(blueprint, batches.len());
                let batch = Batch {
                    blueprint: blueprint.to_owned(),
                    indices: vec![index],
                };
                batches.push((batch, BULK_ENVELOPE_BYTES + size));
            }
        }
    }
    batches.into_iter().map(|(batch, _)| batch).collect()
}

/// The body of one bulk request from already-serialized entities.
pub(crate) fn bulk_body<'a>(entities: impl Iterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(br#"{"entities":["#);
    for (n, entity) in entities.enumerate() {
        if n > 0 {
            body.push(b',');
        }
        body.extend_from_slice(entity);
    }
    body.extend_from_slice(b"]}");
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entity(blueprint: &str, identifier: &str, filler: usize) -> Entity {
        let mut properties = serde_json::Map::new();
        properties.insert(
            "readme".to_owned(),
            serde_json::Value::String("x".repeat(filler)),
        );
        Entity {
            identifier: identifier.to_owned(),
            title: None,
            blueprint: blueprint.to_owned(),
            icon: None,
            team: serde_json::Value::Null,
            properties,
            relations: serde_json::Map::new(),
        }
    }

    #[test]
    fn batches_hold_at_most_twenty_of_one_blueprint() {
        let mut entities: Vec<Entity> = (0..45)
            .map(|i| entity("repo", &format!("r{i}"), 10))
            .collect();
        entities.insert(3, entity("org", "o1", 10));
        let batches = plan_batches(&entities);
        let shape: Vec<(&str, usize)> = batches
            .iter()
            .map(|b| (b.blueprint.as_str(), b.indices.len()))
            .collect();
        assert_eq!(
            shape,
            vec![("repo", 20), ("org", 1), ("repo", 20), ("repo", 5)]
        );
        assert_eq!(batches.get(1).map(|b| b.indices.clone()), Some(vec![3]));
        let mut all: Vec<usize> = batches.iter().flat_map(|b| b.indices.clone()).collect();
        all.sort_unstable();
        assert_eq!(all, (0..46).collect::<Vec<_>>());
    }

    #[test]
    fn batches_stay_under_one_mebibyte() {
        let entities: Vec<Entity> = (0..10)
            .map(|i| entity("repo", &format!("r{i}"), 300 * 1024))
            .collect();
        let batches = plan_batches(&entities);
        assert_eq!(
            batches.iter().map(|b| b.indices.len()).collect::<Vec<_>>(),
            vec![3, 3, 3, 1]
        );
        for batch in &batches {
            let size: usize = BULK_ENVELOPE_BYTES
                + batch
                    .indices
                    .iter()
                    .filter_map(|&i| entities.get(i))
                    .map(|e| serde_json::to_vec(e).map_or(0, |b| b.len() + 1))
                    .sum::<usize>();
            assert!(size <= BULK_UPSERT_MAX_BYTES, "{size}");
        }
        let huge = plan_batches(&[
            entity("repo", "big", 2 * 1024 * 1024),
            entity("repo", "small", 1),
        ]);
        assert_eq!(
            huge.iter().map(|b| b.indices.clone()).collect::<Vec<_>>(),
            vec![vec![0], vec![1]]
        );
    }

    #[test]
    fn bulk_body_is_the_entities_array() {
        let body = bulk_body(
            [
                br#"{"identifier":"a"}"#.as_slice(),
                br#"{"identifier":"b"}"#.as_slice(),
            ]
            .into_iter(),
        );
        let parsed: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        assert_eq!(
            parsed,
            serde_json::json!({"entities": [{"identifier": "a"}, {"identifier": "b"}]})
        );
        assert_eq!(bulk_body(std::iter::empty()).len(), BULK_ENVELOPE_BYTES);
    }
}
