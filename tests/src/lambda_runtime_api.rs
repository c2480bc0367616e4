//! A Lambda Runtime API emulator: the HTTP interface a function binary polls for invocations
//! (`AWS_LAMBDA_RUNTIME_API`). Tests and benches start a real function binary against it and
//! invoke it with real event JSON, as Lambda would: each invocation gets a deadline
//! (`Lambda-Runtime-Deadline-Ms`, the function's timeout after it is handed out), and every
//! invocation is recorded with its answer and whether the answer came in time.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use tokio::sync::{mpsc, oneshot};

const PREFIX: &str = "/2018-06-01/runtime";

/// What a function answered to one invocation.
#[derive(Debug, Clone)]
pub enum Outcome {
    Response(serde_json::Value),
    Error(serde_json::Value),
}

/// One invocation as the emulator saw it.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub request_id: String,
    pub event: serde_json::Value,
    /// When the function took it (`/invocation/next`).
    pub started: Instant,
    /// The deadline it was given (`started` + the timeout).
    pub deadline: Instant,
    /// When it answered, and what.
    pub finished: Option<Instant>,
    pub outcome: Option<Outcome>,
}

impl Invocation {
    /// True when the answer came after the deadline (Lambda would have stopped the function).
    pub fn late(&self) -> bool {
        self.finished.is_some_and(|at| at > self.deadline)
    }
}

struct Shared {
    pending: tokio::sync::Mutex<mpsc::UnboundedReceiver<(String, Bytes)>>,
    waiting: Mutex<HashMap<String, oneshot::Sender<Outcome>>>,
    first_poll: Mutex<Option<Instant>>,
    init_error: Mutex<Option<serde_json::Value>>,
    timeout: Duration,
    invocations: Mutex<Vec<Invocation>>,
}

pub struct RuntimeApi {
    addr: SocketAddr,
    sender: mpsc::UnboundedSender<(String, Bytes)>,
    shared: Arc<Shared>,
    counter: Mutex<u64>,
}

/// The timeout an invocation gets unless told otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

impl RuntimeApi {
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_with_timeout(DEFAULT_TIMEOUT).await
    }

    /// An emulator whose invocations each have `timeout` (the function's configured timeout).
    pub async fn start_with_timeout(timeout: Duration) -> anyhow::Result<Self> {
        let (sender, receiver) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            pending: tokio::sync::Mutex::new(receiver),
            waiting: Mutex::new(HashMap::new()),
            first_poll: Mutex::new(None),
            init_error: Mutex::new(None),
            timeout,
            invocations: Mutex::new(Vec::new()),
        });
        let app = Router::new()
            .route(&format!("{PREFIX}/invocation/next"), get(next))
            .route(
                &format!("{PREFIX}/invocation/{{id}}/response"),
                post(response),
            )
            .route(&format!("{PREFIX}/invocation/{{id}}/error"), post(error))
            .route(&format!("{PREFIX}/init/error"), post(init_error))
            .with_state(Arc::clone(&shared));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            addr,
            sender,
            shared,
            counter: Mutex::new(0),
        })
    }

    /// The value for `AWS_LAMBDA_RUNTIME_API`.
    pub fn host_port(&self) -> String {
        self.addr.to_string()
    }

    /// The environment Lambda gives every function.
    pub fn lambda_env(&self, function_name: &str) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_LAMBDA_RUNTIME_API", self.host_port()),
            ("AWS_LAMBDA_FUNCTION_NAME", function_name.to_owned()),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128".into()),
            (
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/{function_name}"),
            ),
            ("AWS_LAMBDA_LOG_STREAM_NAME", "test".into()),
        ]
    }

    /// When the function first asked for an invocation (its start-up is done).
    pub fn first_poll(&self) -> Option<Instant> {
        *self
            .shared
            .first_poll
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// What the function reported through `/init/error`, if it failed to start.
    pub fn init_error(&self) -> Option<serde_json::Value> {
        self.shared
            .init_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Every invocation handed out so far, in order, with its answer.
    pub fn invocations(&self) -> Vec<Invocation> {
        self.shared
            .invocations
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Sends one event and waits (at most `timeout`) for the function's answer.
    pub async fn invoke(
        &self,
        event: &serde_json::Value,
        timeout: Duration,
    ) -> anyhow::Result<Outcome> {
        let id = {
            let mut counter = self.counter.lock().unwrap_or_else(|p| p.into_inner());
            *counter += 1;
            format!("req-{counter}")
        };
        let (done, answer) = oneshot::channel();
        self.shared
            .waiting
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.clone(), done);
        self.sender
            .send((id, Bytes::from(serde_json::to_vec(event)?)))?;
        Ok(tokio::time::timeout(timeout, answer).await??)
    }
}

async fn next(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    {
        let mut first = shared.first_poll.lock().unwrap_or_else(|p| p.into_inner());
        first.get_or_insert_with(Instant::now);
    }
    let mut pending = shared.pending.lock().await;
    let Some((id, body)) = pending.recv().await else {
        return (StatusCode::GONE, HeaderMap::new(), Bytes::new());
    };
    let started = Instant::now();
    shared
        .invocations
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(Invocation {
            request_id: id.clone(),
            event: json_or_text(&body),
            started,
            deadline: started + shared.timeout,
            finished: None,
            outcome: None,
        });
    let deadline = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() + shared.timeout.as_millis())
        .unwrap_or(0);
    let mut headers = HeaderMap::new();
    let pairs = [
        ("lambda-runtime-aws-request-id", id),
        ("lambda-runtime-deadline-ms", deadline.to_string()),
        (
            "lambda-runtime-invoked-function-arn",
            "arn:aws:lambda:us-east-1:123456789012:function:test".into(),
        ),
        (
            "lambda-runtime-trace-id",
            "Root=1-00000000-000000000000000000000000;Parent=0;Sampled=0".into(),
        ),
        ("content-type", "application/json".into()),
    ];
    for (name, value) in pairs {
        if let Ok(value) = value.parse() {
            headers.insert(name, value);
        }
    }
    (StatusCode::OK, headers, body)
}

fn finish(shared: &Shared, id: &str, outcome: Outcome) -> StatusCode {
    if let Some(invocation) = shared
        .invocations
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter_mut()
        .find(|i| i.request_id == id && i.finished.is_none())
    {
        invocation.finished = Some(Instant::now());
        invocation.outcome = Some(outcome.clone());
    }
    match shared
        .waiting
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(id)
    {
        Some(waiter) => {
            let _ = waiter.send(outcome);
            StatusCode::ACCEPTED
        }
        None => StatusCode::BAD_REQUEST,
    }
}

fn json_or_text(body: &Bytes) -> serde_json::Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(body).into_owned()))
}

async fn response(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> StatusCode {
    finish(&shared, &id, Outcome::Response(json_or_text(&body)))
}

async fn error(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> StatusCode {
    finish(&shared, &id, Outcome::Error(json_or_text(&body)))
}

async fn init_error(State(shared): State<Arc<Shared>>, body: Bytes) -> StatusCode {
    *shared.init_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(json_or_text(&body));
    StatusCode::ACCEPTED
}

/// One SQS record as Lambda hands it to a function: `group` makes it a FIFO record (with its
/// group, deduplication id and sequence number), `queue_arn` is its `eventSourceARN`.
pub fn sqs_record(
    id: &str,
    group: Option<&str>,
    body: String,
    queue_arn: &str,
) -> serde_json::Value {
    let mut attributes = serde_json::json!({"ApproximateReceiveCount": "1",
        "SentTimestamp": "1795536000000", "SenderId": "AROAEXAMPLE",
        "ApproximateFirstReceiveTimestamp": "1795536000001"});
    if let Some(group) = group {
        attributes["MessageGroupId"] = serde_json::json!(group);
        attributes["MessageDeduplicationId"] = serde_json::json!(id);
        attributes["SequenceNumber"] = serde_json::json!("1");
    }
    serde_json::json!({"messageId": id, "receiptHandle": format!("handle-{id}"), "body": body,
        "attributes": attributes, "messageAttributes": {}, "md5OfBody": "0",
        "eventSource": "aws:sqs", "eventSourceARN": queue_arn, "awsRegion": "us-east-1"})
}

/// A record of the events FIFO queue, in message group `group`.
pub fn events_record(id: &str, group: &str, body: String) -> serde_json::Value {
    sqs_record(
        id,
        Some(group),
        body,
        "arn:aws:sqs:us-east-1:123456789012:events.fifo",
    )
}

/// A function binary started by a test, killed (and reaped) when the test ends.
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
