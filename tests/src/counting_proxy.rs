//! An HTTP proxy in front of the moto server that counts the AWS operations it forwards (by
//! `X-Amz-Target`, e.g. `secretsmanager.GetSecretValue`), so a test can say how often the code
//! under test read its secrets. Point the AWS SDK (`endpoint_url`) or a function binary
//! (`AWS_ENDPOINT_URL`) at [`CountingProxy::endpoint`]; everything else is forwarded unchanged.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

/// The Secrets Manager read the functions make for each secret.
pub const GET_SECRET_VALUE: &str = "secretsmanager.GetSecretValue";

struct Shared {
    upstream: String,
    http: reqwest::Client,
    counts: Mutex<HashMap<String, u64>>,
}

/// A running proxy. Dropping it stops it.
pub struct CountingProxy {
    endpoint: String,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for CountingProxy {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl CountingProxy {
    /// A proxy on `127.0.0.1:<free port>` forwarding to `upstream` (moto's endpoint).
    pub async fn start(upstream: &str) -> anyhow::Result<Self> {
        let shared = Arc::new(Shared {
            upstream: upstream.trim_end_matches('/').to_owned(),
            http: reqwest::Client::new(),
            counts: Mutex::new(HashMap::new()),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let app = Router::new()
            .fallback(forward)
            .with_state(Arc::clone(&shared));
        let server = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                eprintln!("counting proxy stopped: {error}");
            }
        });
        Ok(Self {
            endpoint,
            shared,
            server,
        })
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// How many requests of `operation` (an `X-Amz-Target` value) went through.
    pub fn count(&self, operation: &str) -> u64 {
        self.shared
            .counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(operation)
            .copied()
            .unwrap_or(0)
    }

    /// An AWS SDK configuration pointed at the proxy, with moto's dummy credentials.
    pub async fn sdk_config(&self) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(&self.endpoint)
            .region(Region::new("us-east-1"))
            .credentials_provider(aws_sdk_sqs::config::Credentials::new(
                "testing", "testing", None, None, "moto",
            ))
            .load()
            .await
    }

    /// The environment a function binary needs to reach moto through the proxy.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
        ]
    }
}

async fn forward(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(target) = headers.get("x-amz-target").and_then(|v| v.to_str().ok()) {
        *shared
            .counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(target.to_owned())
            .or_insert(0) += 1;
    }
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut forwarded = headers.clone();
    forwarded.remove("host");
    forwarded.remove("content-length");
    let answer = shared
        .http
        .request(method, format!("{}{path}", shared.upstream))
        .headers(forwarded)
        .body(body)
        .send()
        .await;
    let answer = match answer {
        Ok(answer) => answer,
        Err(error) => return (StatusCode::BAD_GATEWAY, error.to_string()).into_response(),
    };
    let status = answer.status();
    let mut headers = answer.headers().clone();
    headers.remove("content-length");
    headers.remove("transfer-encoding");
    match answer.bytes().await {
        Ok(bytes) => (status, headers, bytes).into_response(),
        Err(error) => (StatusCode::BAD_GATEWAY, error.to_string()).into_response(),
    }
}
