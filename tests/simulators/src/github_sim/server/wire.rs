//! The simulator's wire details: decoding the query string and path segments, building replies
//! (GitHub's JSON error body, its content type), reading the bearer token, base64 as the
//! contents API sends it, and the `Link` header of a paged list.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::Response;
use base64::Engine as _;
use serde_json::json;

use super::SimState;

/// Base64 as GitHub's contents API sends it (lines of 60 characters).
pub(crate) fn base64_lines(bytes: &[u8]) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
    encoded
        .as_bytes()
        .chunks(60)
        .map(|chunk| String::from_utf8_lossy(chunk).into_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

pub(super) fn percent_decode(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i], bytes.get(i + 1..i + 3)) {
            (b'%', Some(hex))
                if std::str::from_utf8(hex)
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .is_some() =>
            {
                out.push(
                    std::str::from_utf8(hex)
                        .ok()
                        .and_then(|h| u8::from_str_radix(h, 16).ok())
                        .unwrap_or(b'?'),
                );
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub(super) fn parse_query(query: Option<&str>) -> Vec<(String, String)> {
    query
        .unwrap_or("")
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(key), percent_decode(value))
        })
        .collect()
}

pub(super) fn reply(
    status: StatusCode,
    headers: Vec<(&'static str, String)>,
    body: Option<Vec<u8>>,
) -> Response {
    let mut response = Response::new(body.map(Body::from).unwrap_or_else(Body::empty));
    *response.status_mut() = status;
    let map = response.headers_mut();
    if status != StatusCode::NOT_MODIFIED {
        map.insert(
            "content-type",
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
    }
    for (name, value) in headers {
        if let Ok(value) = HeaderValue::from_str(&value) {
            map.insert(name, value);
        }
    }
    response
}

pub(super) fn message(
    status: StatusCode,
    text: &str,
    headers: Vec<(&'static str, String)>,
) -> Response {
    let body = json!({"message": text, "documentation_url": "https://docs.github.com/rest"});
    reply(status, headers, Some(body.to_string().into_bytes()))
}

pub(super) fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("authorization")?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

impl SimState {
    pub(super) fn link_header(
        &self,
        uri: &Uri,
        query: &[(String, String)],
        page: usize,
        last: usize,
    ) -> Option<String> {
        let url_for = |target: usize| {
            let mut pairs: Vec<String> = query
                .iter()
                .filter(|(key, _)| key != "page")
                .map(|(key, value)| {
                    format!(
                        "{key}={}",
                        port_github_core::github::kinds::query_value(value)
                    )
                })
                .collect();
            pairs.push(format!("page={target}"));
            format!("<{}{}?{}>", self.origin, uri.path(), pairs.join("&"))
        };
        let mut links = Vec::new();
        if page < last {
            links.push(format!("{}; rel=\"next\"", url_for(page + 1)));
            links.push(format!("{}; rel=\"last\"", url_for(last)));
        }
        if page > 1 {
            links.push(format!("{}; rel=\"prev\"", url_for(page - 1)));
            links.push(format!("{}; rel=\"first\"", url_for(1)));
        }
        (!links.is_empty()).then(|| links.join(", "))
    }
}
