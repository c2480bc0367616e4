//! The local AWS emulator (moto server) for tests: one server per test process on a free
//! loopback port, stopped when the process exits. Tests namespace their queues and secrets with
//! `unique_name`, so they can share it.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use aws_config::{BehaviorVersion, Region, SdkConfig};

pub struct Moto {
    endpoint: String,
    // Kept open: the launcher exits when this pipe closes (when the test process ends).
    _stdin: Mutex<ChildStdin>,
    _child: Mutex<Child>,
}

static MOTO: OnceLock<Moto> = OnceLock::new();

const HOW_TO: &str = "run the suite with `bash tests/run` (it installs moto into .venv), or set \
PORT_GITHUB_TEST_PYTHON to a python that has moto[server] (see tests/requirements.txt)";

/// The shared moto server, started on first use. Fails the test (never skips) when moto is missing.
pub fn moto() -> &'static Moto {
    MOTO.get_or_init(|| match start() {
        Ok(moto) => moto,
        Err(reason) => panic!("cannot start moto server: {reason}; {HOW_TO}"),
    })
}

fn start() -> Result<Moto, String> {
    let python = std::env::var("PORT_GITHUB_TEST_PYTHON")
        .map_err(|_| "PORT_GITHUB_TEST_PYTHON is not set".to_owned())?;
    let launcher = concat!(env!("CARGO_MANIFEST_DIR"), "/moto_launcher.py");
    let mut child = Command::new(&python)
        .arg(launcher)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot run {python}: {e}"))?;
    let stdout = child.stdout.take().ok_or("no stdout from the launcher")?;
    let stdin = child.stdin.take().ok_or("no stdin to the launcher")?;
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .map_err(|e| format!("launcher output unreadable: {e}"))?;
    let port = line
        .strip_prefix("MOTO_PORT ")
        .and_then(|p| p.trim().parse::<u16>().ok())
        .ok_or_else(|| {
            format!("launcher said {line:?} instead of its port (is moto installed?)")
        })?;
    Ok(Moto {
        endpoint: format!("http://127.0.0.1:{port}"),
        _stdin: Mutex::new(stdin),
        _child: Mutex::new(child),
    })
}

impl Moto {
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// An AWS SDK configuration pointed at this server, with dummy credentials.
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

    /// The environment a function binary needs to reach this server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
        ]
    }
}

/// A name no other test in any process uses: `prefix-<pid>-<n>`.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Creates a FIFO queue (content-based deduplication off: the sender sets the ids) and returns its URL.
pub async fn create_fifo_queue(sqs: &aws_sdk_sqs::Client, prefix: &str) -> anyhow::Result<String> {
    use aws_sdk_sqs::types::QueueAttributeName;
    let name = format!("{}.fifo", unique_name(prefix));
    let created = sqs
        .create_queue()
        .queue_name(name)
        .attributes(QueueAttributeName::FifoQueue, "true")
        .attributes(QueueAttributeName::ContentBasedDeduplication, "false")
        .send()
        .await?;
    created
        .queue_url
        .ok_or_else(|| anyhow::anyhow!("moto returned no queue URL"))
}

/// Every message currently in the queue (received, then deleted), in order.
pub async fn drain_queue(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
) -> anyhow::Result<Vec<aws_sdk_sqs::types::Message>> {
    use aws_sdk_sqs::types::MessageSystemAttributeName;
    let mut all = Vec::new();
    loop {
        let received = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .wait_time_seconds(0)
            .send()
            .await?;
        let messages = received.messages.unwrap_or_default();
        if messages.is_empty() {
            return Ok(all);
        }
        for message in &messages {
            if let Some(handle) = &message.receipt_handle {
                sqs.delete_message()
                    .queue_url(url)
                    .receipt_handle(handle)
                    .send()
                    .await?;
            }
        }
        all.extend(messages);
    }
}

/// Creates a state table shaped like the deployed one (`pk`/`sk` strings, on demand) and returns
/// its name.
pub async fn create_state_table(
    dynamodb: &aws_sdk_dynamodb::Client,
    prefix: &str,
) -> anyhow::Result<String> {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    let name = unique_name(prefix);
    let attribute = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
    };
    let key = |name: &str, kind: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
    };
    dynamodb
        .create_table()
        .table_name(&name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute("pk")?)
        .attribute_definitions(attribute("sk")?)
        .key_schema(key("pk", KeyType::Hash)?)
        .key_schema(key("sk", KeyType::Range)?)
        .send()
        .await?;
    Ok(name)
}

/// Creates a Secrets Manager secret named after `prefix` holding `value`, and returns its ARN.
pub async fn create_secret(
    secrets: &aws_sdk_secretsmanager::Client,
    prefix: &str,
    value: &str,
) -> anyhow::Result<String> {
    let created = secrets
        .create_secret()
        .name(unique_name(prefix))
        .secret_string(value)
        .send()
        .await?;
    created
        .arn
        .ok_or_else(|| anyhow::anyhow!("moto returned no secret ARN"))
}

/// Creates a standard queue (the resync jobs queue's kind) with a short visibility timeout, and
/// returns its URL.
pub async fn create_standard_queue(
    sqs: &aws_sdk_sqs::Client,
    prefix: &str,
) -> anyhow::Result<String> {
    use aws_sdk_sqs::types::QueueAttributeName;
    let created = sqs
        .create_queue()
        .queue_name(unique_name(prefix))
        .attributes(QueueAttributeName::VisibilityTimeout, "60")
        .send()
        .await?;
    created
        .queue_url
        .ok_or_else(|| anyhow::anyhow!("moto returned no queue URL"))
}

/// Up to `max` (at most 10) messages visible now, without waiting.
pub async fn receive_batch(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    max: i32,
) -> anyhow::Result<Vec<aws_sdk_sqs::types::Message>> {
    let received = sqs
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(max.clamp(1, 10))
        .wait_time_seconds(0)
        .send()
        .await?;
    Ok(received.messages.unwrap_or_default())
}

/// The next batch (up to 10) of a queue a test drains as Lambda would: waits while messages are
/// in flight or delayed, `None` once the queue is empty, an error after `give_up`.
pub async fn next_batch(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    give_up: std::time::Instant,
) -> anyhow::Result<Option<Vec<aws_sdk_sqs::types::Message>>> {
    loop {
        anyhow::ensure!(
            std::time::Instant::now() < give_up,
            "the queue {url} did not empty in time"
        );
        let messages = receive_batch(sqs, url, 10).await?;
        if !messages.is_empty() {
            return Ok(Some(messages));
        }
        if queue_depth(sqs, url).await? == 0 {
            return Ok(None);
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

/// Settles a received batch as Lambda's event source mapping does with `ReportBatchItemFailures`:
/// the messages not named in `failed` are deleted; the failed ones become visible again at once
/// (Lambda would wait for the visibility timeout).
pub async fn settle_batch(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    messages: &[aws_sdk_sqs::types::Message],
    failed: &[String],
) -> anyhow::Result<()> {
    for message in messages {
        let Some(handle) = message.receipt_handle() else {
            continue;
        };
        if failed
            .iter()
            .any(|id| Some(id.as_str()) == message.message_id())
        {
            sqs.change_message_visibility()
                .queue_url(url)
                .receipt_handle(handle)
                .visibility_timeout(0)
                .send()
                .await?;
        } else {
            sqs.delete_message()
                .queue_url(url)
                .receipt_handle(handle)
                .send()
                .await?;
        }
    }
    Ok(())
}

/// Messages in the queue, visible or not (in flight, delayed).
pub async fn queue_depth(sqs: &aws_sdk_sqs::Client, url: &str) -> anyhow::Result<u64> {
    use aws_sdk_sqs::types::QueueAttributeName;
    let names = [
        QueueAttributeName::ApproximateNumberOfMessages,
        QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
        QueueAttributeName::ApproximateNumberOfMessagesDelayed,
    ];
    let mut request = sqs.get_queue_attributes().queue_url(url);
    for name in &names {
        request = request.attribute_names(name.clone());
    }
    let answer = request.send().await?;
    let attributes = answer.attributes.unwrap_or_default();
    Ok(names
        .iter()
        .filter_map(|name| attributes.get(name))
        .filter_map(|count| count.parse::<u64>().ok())
        .sum())
}

/// Stores `value` as the secret's new current version (a rotation).
pub async fn put_secret(
    client: &aws_sdk_secretsmanager::Client,
    arn: &str,
    value: &str,
) -> anyhow::Result<()> {
    client
        .put_secret_value()
        .secret_id(arn)
        .secret_string(value)
        .send()
        .await?;
    Ok(())
}
