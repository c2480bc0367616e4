//! The DynamoDB `EtagStore`: cached pages in the state table, so ETags survive across Lambda
//! containers and an unchanged organization costs 304s on every run. Items: `pk` = `etag#<key>`,
//! `sk` = `page`, `etag` (S), `next` (S, optional), `body` (B, deflate-compressed JSON), and the
//! TTL attribute `expires_at`, so pages nobody re-reads age out. A page that does not fit one
//! item even compressed is not kept (the next read is unconditional), as the trait allows.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use flate2::Compression;
use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;
use futures_util::future::BoxFuture;

use super::etag::{CachedPage, EtagStore, EtagStoreError};

/// DynamoDB's item limit is 400 KB including names and keys; keep a margin for them.
const MAX_COMPRESSED_BODY: usize = 380 * 1024;
/// Refuse to inflate anything bigger than this (a corrupt or hostile item must not exhaust memory).
const MAX_BODY: u64 = 64 * 1024 * 1024;

pub struct DynamoDbEtagStore {
    client: Client,
    table: String,
    ttl: Duration,
}

impl std::fmt::Debug for DynamoDbEtagStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamoDbEtagStore")
            .field("table", &self.table)
            .finish()
    }
}

impl DynamoDbEtagStore {
    /// `ttl`: how long a page is kept after its last write (a week is a good default: an
    /// hourly-to-daily resync re-reads and refreshes every page well within it).
    pub fn new(client: Client, table: impl Into<String>, ttl: Duration) -> Self {
        Self {
            client,
            table: table.into(),
            ttl,
        }
    }

    fn partition(key: &str) -> AttributeValue {
        AttributeValue::S(format!("etag#{key}"))
    }
}

fn store_error<E>(reason: &'static str) -> impl FnOnce(E) -> EtagStoreError
where
    E: std::error::Error + Send + Sync + 'static,
{
    move |error| EtagStoreError {
        reason: reason.to_owned(),
        source: Some(Box::new(error)),
    }
}

fn compress(body: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut encoder = DeflateEncoder::new(Vec::with_capacity(body.len() / 6), Compression::fast());
    encoder.write_all(body)?;
    encoder.finish()
}

fn inflate(compressed: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::with_capacity(compressed.len() * 6);
    DeflateDecoder::new(compressed)
        .take(MAX_BODY + 1)
        .read_to_end(&mut body)?;
    if body.len() as u64 > MAX_BODY {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "cached body too large",
        ));
    }
    Ok(body)
}

fn page_of(item: &HashMap<String, AttributeValue>) -> Result<Option<CachedPage>, EtagStoreError> {
    let malformed = |reason: &str| EtagStoreError {
        reason: format!("malformed cached page: {reason}"),
        source: None,
    };
    let (Some(AttributeValue::S(etag)), Some(AttributeValue::B(body))) =
        (item.get("etag"), item.get("body"))
    else {
        return Err(malformed("missing etag or body"));
    };
    let next = match item.get("next") {
        Some(AttributeValue::S(next)) => Some(next.clone()),
        Some(_) => return Err(malformed("next is not a string")),
        None => None,
    };
    let body = inflate(body.as_ref()).map_err(store_error("cannot inflate cached page"))?;
    Ok(Some(CachedPage {
        etag: etag.clone(),
        next,
        body,
    }))
}

impl EtagStore for DynamoDbEtagStore {
    fn get<'a>(
        &'a self,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<CachedPage>, EtagStoreError>> {
        Box::pin(async move {
            let output = self
                .client
                .get_item()
                .table_name(&self.table)
                .key("pk", Self::partition(key))
                .key("sk", AttributeValue::S("page".into()))
                .send()
                .await
                .map_err(store_error("cannot read cached page"))?;
            match output.item {
                Some(item) => page_of(&item),
                None => Ok(None),
            }
        })
    }

    fn put<'a>(
        &'a self,
        key: &'a str,
        page: CachedPage,
    ) -> BoxFuture<'a, Result<(), EtagStoreError>> {
        Box::pin(async move {
            let compressed = compress(&page.body).map_err(store_error("cannot compress page"))?;
            if compressed.len() > MAX_COMPRESSED_BODY {
                tracing::debug!(
                    bytes = page.body.len(),
                    "page too large to cache; next read is unconditional"
                );
                return Ok(());
            }
            let expires_at = chrono::Utc::now()
                .timestamp()
                .saturating_add(i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX / 2));
            let mut request = self
                .client
                .put_item()
                .table_name(&self.table)
                .item("pk", Self::partition(key))
                .item("sk", AttributeValue::S("page".into()))
                .item("etag", AttributeValue::S(page.etag))
                .item("body", AttributeValue::B(Blob::new(compressed)))
                .item("expires_at", AttributeValue::N(expires_at.to_string()));
            if let Some(next) = page.next {
                request = request.item("next", AttributeValue::S(next));
            }
            request
                .send()
                .await
                .map_err(store_error("cannot write cached page"))?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_round_trip_through_compression() {
        let body = serde_json::to_vec(&vec![
            serde_json::json!({"name": "repo", "description": "x".repeat(5000)});
            100
        ])
        .unwrap();
        let compressed = compress(&body).unwrap();
        assert!(
            compressed.len() * 10 < body.len(),
            "JSON pages compress well"
        );
        assert_eq!(inflate(&compressed).unwrap(), body);
        assert!(
            inflate(b"not deflate at all").is_err()
                || inflate(b"not deflate at all").unwrap() != body
        );
    }
}
