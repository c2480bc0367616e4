//! The versioned message the webhook queues for the worker, and how an oversized payload is
//! reduced to fit one SQS message without losing what the worker needs. Pure: no I/O.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub const ENVELOPE_VERSION: u32 = 1;

/// What the worker receives. `P` is `serde_json::Value` when reading; the webhook writes the
/// payload's raw text without re-encoding it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Envelope<P = Value> {
    pub version: u32,
    pub event: String,
    #[serde(default)]
    pub action: Option<String>,
    pub delivery_id: String,
    #[serde(default)]
    pub hook_id: Option<String>,
    #[serde(default)]
    pub installation_id: Option<u64>,
    #[serde(default)]
    pub organization: Option<String>,
    #[serde(default)]
    pub repository: Option<String>,
    /// RFC 3339, when the webhook accepted the delivery.
    pub received_at: String,
    /// True when the payload was cut down to fit the queue (see `reduce_payload`); the worker
    /// re-fetches everything it needs from GitHub anyway.
    #[serde(default)]
    pub payload_reduced: bool,
    pub payload: P,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EnvelopeError {
    #[error("the event does not fit in {limit} bytes even reduced to its identifiers")]
    TooLarge { limit: usize },
}

/// Checks that the worker can read `text` (an encoded envelope) as it will: serde_json with its
/// nesting limit, every string escape valid, every number in range. The webhook parses only the
/// payload's head, which lets through what the worker's full read would refuse (a lone
/// surrogate escape, nesting deeper than 128): such an event could be queued but never applied.
/// Reads without building anything.
pub fn check_readable(text: &str) -> Result<(), serde_json::Error> {
    serde_json::from_str::<Envelope<Readable>>(text).map(|_| ())
}

/// Any JSON value, read in full and kept as nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Readable;

impl<'de> Deserialize<'de> for Readable {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ReadableVisitor)
    }
}

struct ReadableVisitor;

impl<'de> serde::de::Visitor<'de> for ReadableVisitor {
    type Value = Readable;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Readable, E> {
        Ok(Readable)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Readable, E> {
        Ok(Readable)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Readable, E> {
        Ok(Readable)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Readable, E> {
        Ok(Readable)
    }
    fn visit_str<E>(self, _: &str) -> Result<Readable, E> {
        Ok(Readable)
    }
    fn visit_unit<E>(self) -> Result<Readable, E> {
        Ok(Readable)
    }
    fn visit_none<E>(self) -> Result<Readable, E> {
        Ok(Readable)
    }
    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Readable, D::Error> {
        Readable::deserialize(d)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Readable, A::Error> {
        while seq.next_element::<Readable>()?.is_some() {}
        Ok(Readable)
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Readable, A::Error> {
        while map.next_entry::<Readable, Readable>()?.is_some() {}
        Ok(Readable)
    }
}

/// Serializes `meta` with `raw_payload` (valid JSON text) as its payload. When that exceeds
/// `max_bytes`, the payload is reduced step by step (`reduce_payload`) until it fits.
pub fn encode(
    meta: &Envelope<()>,
    raw_payload: &str,
    max_bytes: usize,
) -> Result<String, EnvelopeError> {
    let whole = splice(meta, raw_payload);
    if whole.len() <= max_bytes {
        return Ok(whole);
    }
    let Ok(mut payload) = serde_json::from_str::<Value>(raw_payload) else {
        return Err(EnvelopeError::TooLarge { limit: max_bytes });
    };
    let reduced_meta = Envelope {
        payload_reduced: true,
        ..meta.clone()
    };
    for step in ReductionStep::ALL {
        step.apply(&meta.event, &mut payload);
        let text = splice(&reduced_meta, &payload.to_string());
        if text.len() <= max_bytes {
            return Ok(text);
        }
        if step == ReductionStep::Identity {
            // Last resort for push: trim the changed-path lists (the worker then re-reads the tree).
            while shrink_changed_paths(&mut payload) {
                let text = splice(&reduced_meta, &payload.to_string());
                if text.len() <= max_bytes {
                    return Ok(text);
                }
            }
        }
    }
    Err(EnvelopeError::TooLarge { limit: max_bytes })
}

/// `{...meta..., "payload": <raw>}` without re-encoding the payload. Characters SQS refuses
/// (U+FFFE, U+FFFF; valid JSON can only hold them inside strings) are escaped.
fn splice(meta: &Envelope<()>, raw_payload: &str) -> String {
    let head = serde_json::to_string(meta).unwrap_or_default();
    let head = head.strip_suffix(",\"payload\":null}").unwrap_or(&head);
    let mut out = String::with_capacity(head.len() + raw_payload.len() + 16);
    out.push_str(head);
    out.push_str(",\"payload\":");
    if raw_payload.contains(['\u{FFFE}', '\u{FFFF}']) {
        out.push_str(
            &raw_payload
                .replace('\u{FFFE}', "\\ufffe")
                .replace('\u{FFFF}', "\\uffff"),
        );
    } else {
        out.push_str(raw_payload.trim());
    }
    out.push('}');
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReductionStep {
    /// push: the commit list becomes the set of changed paths (what the worker acts on).
    CollapseCommits,
    /// Every object keeps only the fields that identify it.
    Identity,
}

impl ReductionStep {
    const ALL: [Self; 2] = [Self::CollapseCommits, Self::Identity];

    fn apply(self, event: &str, payload: &mut Value) {
        let Some(object) = payload.as_object_mut() else {
            return;
        };
        match self {
            Self::CollapseCommits if event == "push" => collapse_commits(object),
            Self::CollapseCommits => {}
            Self::Identity => {
                for (key, value) in object.iter_mut() {
                    if key != "changed_paths" {
                        keep_identity(value, 0);
                    }
                }
            }
        }
    }
}

fn collapse_commits(object: &mut Map<String, Value>) {
    let mut added = BTreeSet::new();
    let mut modified = BTreeSet::new();
    let mut removed = BTreeSet::new();
    let commits = object.remove("commits");
    let head = object.get("head_commit").cloned();
    for commit in commits
        .iter()
        .flat_map(|c| c.as_array().into_iter().flatten())
        .chain(head.iter())
    {
        for (list, set) in [
            ("added", &mut added),
            ("modified", &mut modified),
            ("removed", &mut removed),
        ] {
            for path in commit
                .get(list)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(path) = path.as_str() {
                    set.insert(path.to_owned());
                }
            }
        }
    }
    if let Some(Value::Object(head)) = object.get_mut("head_commit") {
        head.retain(|k, _| matches!(k.as_str(), "id" | "tree_id" | "timestamp" | "distinct"));
    }
    let to_array =
        |set: BTreeSet<String>| Value::Array(set.into_iter().map(Value::String).collect());
    let mut paths = Map::new();
    paths.insert("added".into(), to_array(added));
    paths.insert("modified".into(), to_array(modified));
    paths.insert("removed".into(), to_array(removed));
    paths.insert("truncated".into(), Value::Bool(false));
    object.insert("changed_paths".into(), Value::Object(paths));
}

/// Halves the longest changed-path list; false when there is nothing left to trim.
fn shrink_changed_paths(payload: &mut Value) -> bool {
    let Some(paths) = payload
        .get_mut("changed_paths")
        .and_then(Value::as_object_mut)
    else {
        return false;
    };
    let longest = ["added", "modified", "removed"]
        .into_iter()
        .max_by_key(|k| paths.get(*k).and_then(Value::as_array).map_or(0, Vec::len));
    let Some(list) = longest
        .and_then(|k| paths.get_mut(k))
        .and_then(Value::as_array_mut)
    else {
        return false;
    };
    if list.is_empty() {
        return false;
    }
    list.truncate(list.len() / 2);
    paths.insert("truncated".into(), Value::Bool(true));
    true
}

/// Fields that identify a GitHub object or say what happened to it.
const IDENTITY_FIELDS: &[&str] = &[
    "id",
    "node_id",
    "number",
    "name",
    "full_name",
    "login",
    "slug",
    "type",
    "state",
    "state_reason",
    "merged",
    "draft",
    "private",
    "visibility",
    "archived",
    "default_branch",
    "html_url",
    "url",
    "ref",
    "sha",
    "tag_name",
    "environment",
    "head_branch",
    "head_sha",
    "status",
    "conclusion",
    "workflow_id",
    "role",
    "permission",
    "created_at",
    "updated_at",
    "closed_at",
    "merged_at",
    "before",
    "after",
    "created",
    "deleted",
    "forced",
    "ref_type",
    "action",
    "owner",
    "user",
    "head",
    "base",
    "repo",
    "pull_request",
    "dismissed_reason",
    "changes",
    "from",
];

fn keep_identity(value: &mut Value, depth: usize) {
    match value {
        Value::Object(map) => {
            map.retain(|k, _| IDENTITY_FIELDS.contains(&k.as_str()));
            for (_, v) in map.iter_mut() {
                if depth >= 3 {
                    *v = match v {
                        Value::Object(_) | Value::Array(_) => Value::Null,
                        _ => v.take(),
                    };
                } else {
                    keep_identity(v, depth + 1);
                }
            }
        }
        Value::Array(items) => {
            items.truncate(100);
            items.iter_mut().for_each(|v| keep_identity(v, depth + 1));
        }
        Value::String(text) if text.len() > 2048 => {
            let mut end = 2048;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.truncate(end);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn meta(event: &str) -> Envelope<()> {
        Envelope {
            version: ENVELOPE_VERSION,
            event: event.into(),
            action: None,
            delivery_id: "d-1".into(),
            hook_id: Some("42".into()),
            installation_id: Some(7),
            organization: Some("octo".into()),
            repository: Some("octo/r".into()),
            received_at: "2026-11-24T00:00:00Z".into(),
            payload_reduced: false,
            payload: (),
        }
    }

    #[test]
    fn small_payloads_pass_through_unchanged() {
        let raw = r#"{"a": [1, 2], "b": "é"}"#;
        let text = encode(&meta("push"), raw, 4096).unwrap();
        let back: Envelope = serde_json::from_str(&text).unwrap();
        assert_eq!(back.payload, json!({"a": [1, 2], "b": "é"}));
        assert!(!back.payload_reduced);
        assert_eq!(back.hook_id.as_deref(), Some("42"));
    }

    #[test]
    fn characters_sqs_refuses_are_escaped() {
        let raw = "{\"a\":\"x\u{FFFE}y\"}";
        let text = encode(&meta("push"), raw, 4096).unwrap();
        assert!(!text.contains('\u{FFFE}'));
        let back: Envelope = serde_json::from_str(&text).unwrap();
        assert_eq!(back.payload["a"], json!("x\u{FFFE}y"));
    }

    #[test]
    fn a_huge_push_keeps_its_identity_and_changed_paths() {
        let commits: Vec<Value> = (0..500)
            .map(|i| {
                json!({"id": format!("c{i}"), "message": "m".repeat(2000),
                       "added": [format!("src/f{i}.rs")], "modified": ["README.md"], "removed": []})
            })
            .collect();
        let payload = json!({"ref": "refs/heads/main", "before": "a", "after": "b",
            "repository": {"id": 1, "full_name": "octo/r", "description": "d".repeat(10_000)},
            "commits": commits, "head_commit": {"id": "c499", "added": ["x"], "message": "big"}});
        let raw = payload.to_string();
        assert!(raw.len() > 1_000_000);
        let text = encode(&meta("push"), &raw, 256 * 1024).unwrap();
        assert!(text.len() <= 256 * 1024);
        let back: Envelope = serde_json::from_str(&text).unwrap();
        assert!(back.payload_reduced);
        assert_eq!(back.payload["ref"], "refs/heads/main");
        assert_eq!(back.payload["after"], "b");
        assert_eq!(back.payload["repository"]["full_name"], "octo/r");
        let added = back.payload["changed_paths"]["added"].as_array().unwrap();
        assert_eq!(added.len(), 501, "every added path survives");
        assert_eq!(
            back.payload["changed_paths"]["modified"],
            json!(["README.md"])
        );
        assert_eq!(back.payload["changed_paths"]["truncated"], json!(false));
    }

    #[test]
    fn path_lists_are_trimmed_and_flagged_as_a_last_resort() {
        let commits: Vec<Value> = (0..3000)
            .map(|i| json!({"added": [format!("very/long/directory/name/file-{i:05}.txt")]}))
            .collect();
        let raw = json!({"ref": "refs/heads/main", "repository": {"id": 1}, "commits": commits})
            .to_string();
        let text = encode(&meta("push"), &raw, 8192).unwrap();
        assert!(text.len() <= 8192);
        let back: Envelope = serde_json::from_str(&text).unwrap();
        assert_eq!(back.payload["changed_paths"]["truncated"], json!(true));
        assert_eq!(back.payload["repository"]["id"], 1);
    }

    #[test]
    fn what_the_worker_cannot_read_is_found_before_queueing() {
        let ok = encode(
            &meta("push"),
            r#"{"a": [1, {"b": "\u00e9\ud83d\ude00"}], "n": 1e10}"#,
            4096,
        )
        .unwrap();
        assert!(check_readable(&ok).is_ok());
        let back: Envelope = serde_json::from_str(&ok).unwrap();
        assert_eq!(back.payload["a"][1]["b"], "é😀");
        // A lone surrogate escape, a number out of range, nesting past serde_json's limit (the
        // envelope is one level): the head parse lets them through, the worker's read would not.
        for (raw, readable) in [(r#"{"a": "\ud800"}"#, false), (r#"{"a": 1e400}"#, false)] {
            let text = encode(&meta("push"), raw, 1 << 20).unwrap();
            assert_eq!(check_readable(&text).is_ok(), readable, "{raw}");
            assert!(
                serde_json::from_str::<Envelope>(&text).is_err(),
                "the worker agrees: {raw}"
            );
        }
        for depth in [100, 124, 125, 126, 127, 200] {
            let raw = format!("{{\"a\":{}1{}}}", "[".repeat(depth), "]".repeat(depth));
            let text = encode(&meta("push"), &raw, 1 << 20).unwrap();
            let worker = serde_json::from_str::<Envelope>(&text).is_ok();
            assert_eq!(check_readable(&text).is_ok(), worker, "nested {depth} deep");
            assert_eq!(
                worker,
                depth < 126,
                "serde_json's limit, the envelope counted"
            );
        }
    }

    #[test]
    fn other_events_shrink_to_identifiers() {
        let raw = json!({"action": "edited", "pull_request": {"id": 5, "number": 3, "state": "open",
            "body": "b".repeat(400_000), "head": {"ref": "f", "sha": "s"}}, "repository": {"id": 1}})
        .to_string();
        let text = encode(&meta("pull_request"), &raw, 256 * 1024).unwrap();
        let back: Envelope = serde_json::from_str(&text).unwrap();
        assert_eq!(back.payload["pull_request"]["number"], 3);
        assert_eq!(back.payload["pull_request"]["head"]["sha"], "s");
        assert!(back.payload["pull_request"].get("body").is_none());
    }
}
