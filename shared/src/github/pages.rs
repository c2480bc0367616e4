//! `Link` pagination: a list read one page at a time, with a cursor (the next page's URL) that
//! can be saved and resumed, and a `Stream` view. Holds at most one page in memory.

use futures_util::Stream;
use serde_json::Value;

use reqwest::header::HeaderMap;

use super::client::{Feature, GitHubClient, header_str};
use super::error::GitHubError;

/// One page of a list.
#[derive(Debug, Clone)]
pub struct Page {
    /// The URL this page was read from.
    pub url: String,
    /// The items (already taken out of a wrapper field such as `workflows`).
    pub items: Vec<Value>,
    /// True when GitHub answered 304 and the items come from the ETag store.
    pub not_modified: bool,
}

/// A list being read page by page. Holds at most one page; the cursor can be saved and resumed
/// with [`GitHubClient::resume_pages`] (for resync continuations).
#[derive(Debug)]
pub struct Pages {
    pub(crate) client: GitHubClient,
    pub(crate) next: Option<String>,
    pub(crate) items_field: Option<String>,
    pub(crate) feature: Feature,
}

impl Pages {
    /// The wrapper field items are read from, if any.
    pub fn items_field(&self) -> Option<&str> {
        self.items_field.as_deref()
    }

    /// Whether 403/404 means "not available here" for this list.
    pub fn feature(&self) -> Feature {
        self.feature
    }

    /// The URL of the next page to read, `None` when the list is done.
    pub fn cursor(&self) -> Option<&str> {
        self.next.as_deref()
    }

    /// Reads the next page; `Ok(None)` once the list is done.
    pub async fn next_page(&mut self) -> Result<Option<Page>, GitHubError> {
        let Some(link) = self.next.take() else {
            return Ok(None);
        };
        let url = self.client.same_origin(&link)?;
        let fetched = match self.client.fetch(url, self.feature).await {
            Ok(fetched) => fetched,
            Err(err) => {
                // Keep the cursor so the caller can retry or re-queue from here.
                self.next = Some(link);
                return Err(err);
            }
        };
        let items = match (self.items_field.as_deref(), fetched.body) {
            (Some(field), Value::Object(mut object)) => match object.remove(field) {
                Some(Value::Array(items)) => items,
                _ => Vec::new(),
            },
            (_, Value::Array(items)) => items,
            (_, Value::Null) => Vec::new(),
            // A list endpoint that answered one object: keep it rather than lose it.
            (_, other) => vec![other],
        };
        self.next = fetched.next;
        Ok(Some(Page {
            url: link,
            items,
            not_modified: fetched.not_modified,
        }))
    }

    /// The pages as a `Stream`, ending after the last page or the first error.
    pub fn into_stream(self) -> impl Stream<Item = Result<Page, GitHubError>> + Send {
        futures_util::stream::unfold(Some(self), |state| async move {
            let mut pages = state?;
            match pages.next_page().await {
                Ok(Some(page)) => Some((Ok(page), Some(pages))),
                Ok(None) => None,
                Err(err) => Some((Err(err), None)),
            }
        })
    }

    /// Reads every remaining item (only for lists known to be small, e.g. one repo's environments).
    pub async fn collect_items(mut self) -> Result<Vec<Value>, GitHubError> {
        let mut all = Vec::new();
        while let Some(page) = self.next_page().await? {
            all.extend(page.items);
        }
        Ok(all)
    }
}

/// The `rel="next"` target of a `Link` header.
pub fn next_link(headers: &HeaderMap) -> Option<String> {
    let link = header_str(headers, "link")?;
    link.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        let is_next = params
            .split(';')
            .any(|param| param.trim().replace(' ', "") == "rel=\"next\"");
        is_next.then(|| {
            target
                .trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_owned()
        })
    })
}

#[cfg(test)]
mod tests {
    use super::next_link;
    use reqwest::header::{HeaderMap, HeaderValue};

    fn link(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert("link", value);
        }
        headers
    }

    #[test]
    fn next_is_found_among_the_other_relations() {
        let headers = link(
            "<https://api.github.com/repositories/1/issues?per_page=3&page=3>; rel=\"prev\", \
             <https://api.github.com/repositories/1/issues?per_page=3&page=5>; rel=\"next\", \
             <https://api.github.com/repositories/1/issues?per_page=3&page=1>; rel=\"first\"",
        );
        assert_eq!(
            next_link(&headers).as_deref(),
            Some("https://api.github.com/repositories/1/issues?per_page=3&page=5")
        );
    }

    #[test]
    fn the_last_page_has_no_next() {
        let headers = link(
            "<https://api.github.com/x?page=1>; rel=\"first\", <https://api.github.com/x?page=4>; rel=\"prev\"",
        );
        assert_eq!(next_link(&headers), None);
        assert_eq!(next_link(&HeaderMap::new()), None);
    }

    #[test]
    fn recorded_github_link_headers_parse() {
        let recorded: serde_json::Value = match serde_json::from_str(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/github/rest/list-issues.octokit-fixtures-recorded.headers.json"
        ))) {
            Ok(value) => value,
            Err(err) => panic!("fixture is not JSON: {err}"),
        };
        let responses = recorded.as_array().cloned().unwrap_or_default();
        assert_eq!(responses.len(), 5);
        let nexts: Vec<Option<String>> = responses
            .iter()
            .map(|response| next_link(&link(response["headers"]["link"].as_str().unwrap_or(""))))
            .collect();
        assert!(
            nexts[..4]
                .iter()
                .all(|next| next.as_deref().is_some_and(|url| url.contains("page=")))
        );
        assert_eq!(nexts[4], None, "the fifth page is the last");
    }
}
