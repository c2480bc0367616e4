//! The live path end to end: signed deliveries through the webhook handler into a moto SQS FIFO
//! queue, received as SQS hands them to the worker, processed against the GitHub and Port
//! simulators.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use http::{HeaderMap, HeaderValue};
use port_github_core::github::{Feature, GitHubClient};
use port_github_core::live::{
    BatchSettings, DeadLetters, InMemoryDeadLetters, LiveProcessor, Outcome, QueuedEvent,
    SqsDeadLetters, process_batch,
};
use port_github_core::mapping::{CompiledMapping, JqOptions, PortAppConfig};
use port_github_core::queue::SqsEventQueue;
use port_github_core::sync::TokenClients;
use port_github_core::webhook::{
    WebhookHandler, WebhookLimits, WebhookRequest, fixed_secrets, sign,
};
use port_github_simulators::fixtures::fixtures_dir;
use port_github_simulators::github_sim::{OrgSpec, SimHarness};
use port_github_simulators::port_sim::PortSim;
use port_github_simulators::port_sim::harness::spawn;
use port_github_tests::fixtures::webhook_examples;
use port_github_tests::moto::{create_fifo_queue, moto};
use serde_json::{Value, json};

const SECRET: &str = "worker-secret";

struct Pipeline {
    github: SimHarness,
    client: GitHubClient,
    port: PortSim,
    processor: LiveProcessor,
    webhook: WebhookHandler,
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    redeliver_at_once: bool,
}

async fn pipeline() -> Pipeline {
    let github = SimHarness::start(OrgSpec::default()).await.unwrap();
    let client = github.pat_client(github.client_config()).unwrap();
    let (port, port_client, _) = spawn().await.unwrap();
    let text = std::fs::read_to_string(fixtures_dir().join("ocean/port-app-config.yml")).unwrap();
    let mapping = CompiledMapping::compile(
        &PortAppConfig::from_yaml_or_json(&text).unwrap(),
        &JqOptions::default(),
    )
    .unwrap();
    let processor = LiveProcessor::new(
        Arc::new(TokenClients(client.clone())),
        port_client,
        Arc::new(mapping),
    );
    let sqs = aws_sdk_sqs::Client::new(&moto().sdk_config().await);
    let queue_url = create_fifo_queue(&sqs, "worker").await.unwrap();
    let limits = WebhookLimits {
        max_body_bytes: 25 << 20,
        max_message_bytes: 256 * 1024,
    };
    let webhook = WebhookHandler::new(
        fixed_secrets(SECRET, None),
        Arc::new(SqsEventQueue::new(sqs.clone(), queue_url.clone())),
        limits,
    );
    Pipeline {
        github,
        client,
        port,
        processor,
        webhook,
        sqs,
        queue_url,
        redeliver_at_once: false,
    }
}

impl Pipeline {
    async fn deliver(&self, event: &str, delivery: &str, payload: &Value) -> u16 {
        self.deliver_from("1", event, delivery, payload).await
    }

    /// A delivery through the hook `hook_id` (the App's own webhook and an organization webhook
    /// have different ids; GitHub gives one event the same delivery GUID on both).
    async fn deliver_from(
        &self,
        hook_id: &'static str,
        event: &str,
        delivery: &str,
        payload: &Value,
    ) -> u16 {
        let body = serde_json::to_vec(payload).unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("x-github-event", HeaderValue::from_str(event).unwrap());
        headers.insert(
            "x-github-delivery",
            HeaderValue::from_str(delivery).unwrap(),
        );
        headers.insert("x-github-hook-id", HeaderValue::from_static(hook_id));
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        headers.insert(
            "x-hub-signature-256",
            HeaderValue::from_str(&sign(SECRET, &body)).unwrap(),
        );
        self.webhook
            .handle(WebhookRequest {
                method: "POST",
                headers: &headers,
                body: &body,
            })
            .await
            .status
    }

    /// Receives everything queued, in batches of up to 10 as Lambda would, runs the worker on each
    /// batch, deletes what it acknowledged; returns the ids it handed back.
    async fn run_worker(&self) -> Vec<String> {
        use aws_sdk_sqs::types::MessageSystemAttributeName;
        let mut handed_back = Vec::new();
        loop {
            let received = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .visibility_timeout(30)
                .send()
                .await
                .unwrap();
            let messages = received.messages.unwrap_or_default();
            if messages.is_empty() {
                return handed_back;
            }
            let batch: Vec<QueuedEvent> = messages
                .iter()
                .map(|m| QueuedEvent {
                    message_id: m.message_id.clone().unwrap(),
                    group_id: m
                        .attributes
                        .as_ref()
                        .and_then(|a| a.get(&MessageSystemAttributeName::MessageGroupId))
                        .cloned(),
                    body: m.body.clone().unwrap(),
                })
                .collect();
            let failed = process_batch(&self.processor, &batch, BatchSettings::default())
                .await
                .handed_back();
            for message in &messages {
                let id = message.message_id.clone().unwrap();
                if failed.contains(&id) {
                    handed_back.push(id);
                    if self.redeliver_at_once {
                        // As if the visibility timeout had passed: SQS delivers it again.
                        self.sqs
                            .change_message_visibility()
                            .queue_url(&self.queue_url)
                            .receipt_handle(message.receipt_handle.clone().unwrap())
                            .visibility_timeout(0)
                            .send()
                            .await
                            .unwrap();
                    }
                } else {
                    self.sqs
                        .delete_message()
                        .queue_url(&self.queue_url)
                        .receipt_handle(message.receipt_handle.clone().unwrap())
                        .send()
                        .await
                        .unwrap();
                }
            }
            if !failed.is_empty() && !self.redeliver_at_once {
                return handed_back;
            }
        }
    }
}

async fn open_prs(client: &GitHubClient) -> (Value, Vec<Value>) {
    let repos = client
        .get("/orgs/sim-org/repos?per_page=100", Feature::Required)
        .await
        .unwrap();
    let repo = repos[0].clone();
    let prs = client
        .get(
            &format!(
                "/repos/sim-org/{}/pulls?state=open&per_page=100",
                repo["name"].as_str().unwrap()
            ),
            Feature::Required,
        )
        .await
        .unwrap();
    (repo, prs.as_array().unwrap().clone())
}

#[tokio::test]
async fn deliveries_flow_from_the_webhook_through_sqs_to_the_catalog() {
    let p = pipeline().await;
    let (repo, prs) = open_prs(&p.client).await;
    assert!(prs.len() >= 2);
    for (i, pr) in prs.iter().enumerate() {
        let payload = json!({"action": "opened", "pull_request": pr, "repository": repo, "organization": {"login": "sim-org"}});
        assert_eq!(
            p.deliver("pull_request", &format!("pr-{i}"), &payload)
                .await,
            202
        );
        // A redelivery of the same event: deduplicated by the queue, harmless if not.
        assert_eq!(
            p.deliver("pull_request", &format!("pr-{i}"), &payload)
                .await,
            202
        );
    }
    assert!(p.run_worker().await.is_empty(), "nothing to retry");
    let stored = p.port.entities_of("githubPullRequest");
    assert_eq!(stored.len(), prs.len(), "each PR once");
}

#[tokio::test]
async fn one_event_through_the_app_hook_and_an_organization_hook_is_processed_once() {
    use port_github_simulators::port_sim::Endpoint;
    let p = pipeline().await;
    let (repo, prs) = open_prs(&p.client).await;
    let payload = json!({"action": "edited", "pull_request": prs[0], "repository": repo,
        "organization": {"login": "sim-org"}});
    let upserts = || p.port.count(Endpoint::BulkUpsert) + p.port.count(Endpoint::Upsert);
    // The App's webhook (hook 1) and an organization webhook (hook 2) both deliver the event,
    // with the same delivery GUID.
    let guid = "9e2c4d10-7a1b-11f0-8f3a-0242ac120002";
    assert_eq!(
        p.deliver_from("1", "pull_request", guid, &payload).await,
        202
    );
    assert_eq!(
        p.deliver_from("2", "pull_request", guid, &payload).await,
        202
    );
    let queued = p
        .sqs
        .receive_message()
        .queue_url(&p.queue_url)
        .max_number_of_messages(10)
        .visibility_timeout(0)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default();
    assert_eq!(
        queued.len(),
        1,
        "the FIFO queue kept one of the two deliveries"
    );
    let before = upserts();
    assert!(p.run_worker().await.is_empty(), "nothing to retry");
    let pair = upserts() - before;
    assert!(pair > 0, "the event was processed");
    // One delivery of another event costs the same: the pair was processed once.
    assert_eq!(
        p.deliver_from("2", "pull_request", "another-guid", &payload)
            .await,
        202
    );
    let before = upserts();
    assert!(p.run_worker().await.is_empty());
    assert_eq!(
        upserts() - before,
        pair,
        "a pair of deliveries is one processing"
    );
    assert_eq!(p.port.entities_of("githubPullRequest").len(), 1);
}

#[tokio::test]
async fn every_example_payload_is_acknowledged_without_touching_others_entities() {
    let p = pipeline().await;
    // Someone else's entity with the identifier a fixture repository maps to.
    p.port
        .seed_entity(
            "githubRepository",
            json!({"identifier": "Hello-World", "properties": {}}),
            Some("port-ocean/github/1/other/exporter"),
        )
        .unwrap();
    let mut queued = 0;
    for (i, (event, _file, body)) in webhook_examples().into_iter().enumerate() {
        let payload: Value = serde_json::from_slice(&body).unwrap();
        let body_json: Value = payload.clone();
        if p.deliver(&event, &format!("fixture-{i}"), &body_json).await == 202 {
            queued += 1;
        }
    }
    assert!(queued > 80);
    // The fixtures name repositories the simulated GitHub does not have: every event is decided
    // (re-fetch finds nothing, deletion finds nothing owned) and acknowledged; nothing is retried.
    assert!(p.run_worker().await.is_empty());
    assert!(
        p.port.entity("githubRepository", "Hello-World").is_some(),
        "another integration's entity survives"
    );
}

#[tokio::test]
async fn a_transient_failure_holds_back_its_group_but_not_the_others() {
    let p = pipeline().await;
    let (repo, prs) = open_prs(&p.client).await;
    let event = |pr: &Value, delivery: &str| {
        QueuedEvent {
        message_id: delivery.to_owned(),
        group_id: Some(format!("repo-{}-pr-{}", repo["id"], pr["number"])),
        body: json!({"version": 1, "event": "pull_request", "action": "edited", "delivery_id": delivery,
            "received_at": "2026-11-24T00:00:00Z", "organization": "sim-org",
            "payload": {"action": "edited", "pull_request": pr, "repository": repo}})
        .to_string(),
    }
    };
    let malformed = QueuedEvent {
        message_id: "junk".into(),
        group_id: Some("g".into()),
        body: "{not json".into(),
    };
    let future = QueuedEvent {
        message_id: "v9".into(),
        group_id: Some("g".into()),
        body: json!({"version": 9, "event": "x", "delivery_id": "v9", "received_at": "t", "payload": {}}).to_string(),
    };
    // Port is down for the first PR's upsert: it and the later message of its group come back.
    p.port.fail_next(
        None,
        port_github_simulators::port_sim::Fault::BadGateway,
        1000,
    );
    let batch = vec![event(&prs[0], "a1"), malformed.clone(), future.clone()];
    let kept = InMemoryDeadLetters::new(10);
    let settings = BatchSettings {
        dead_letters: Some(&kept),
        deadline: None,
    };
    let failed = process_batch(&p.processor, &batch, settings)
        .await
        .handed_back();
    assert_eq!(
        failed,
        ["a1"],
        "malformed and unknown-version messages are not retried"
    );
    let letters = kept.letters();
    assert_eq!(
        letters
            .iter()
            .map(|l| l.message_id.as_str())
            .collect::<Vec<_>>(),
        ["junk", "v9"],
        "they are kept, with their reasons"
    );
    assert!(
        letters[0].reason.contains("not an event envelope"),
        "{}",
        letters[0].reason
    );
    assert!(
        letters[1].reason.contains("unknown envelope version 9"),
        "{}",
        letters[1].reason
    );
    assert_eq!(letters[1].body, future.body, "the message as received");
    // Without dead letters they are handed back (the redrive policy keeps them), never lost.
    let without = process_batch(
        &p.processor,
        std::slice::from_ref(&malformed),
        BatchSettings::default(),
    )
    .await;
    assert_eq!(without.handed_back(), ["junk"]);
    p.port.clear_faults();

    // Port still down: the PR's group is held back whole (a2 is not even tried), while another
    // group whose event needs no Port write (no resource maps collaborators) goes through.
    p.port.fail_next(
        None,
        port_github_simulators::port_sim::Fault::BadGateway,
        1000,
    );
    let member = QueuedEvent {
        message_id: "b1".into(),
        group_id: Some("repo-x-collaborator-9".into()),
        body: json!({"version": 1, "event": "member", "action": "added", "delivery_id": "b1",
            "received_at": "2026-11-24T00:00:00Z", "organization": "sim-org",
            "payload": {"action": "added", "member": {"login": "someone", "id": 9}, "repository": repo}})
        .to_string(),
    };
    let batch = vec![event(&prs[0], "a1"), member, event(&prs[0], "a2")];
    let outcome = process_batch(&p.processor, &batch, BatchSettings::default()).await;
    assert_eq!(outcome.handed_back(), ["a1", "a2"]);
    assert!(matches!(outcome.get("b1"), Some(Outcome::Applied(_))));
    p.port.clear_faults();
    assert!(
        process_batch(
            &p.processor,
            &[event(&prs[0], "a1")],
            BatchSettings::default()
        )
        .await
        .handed_back()
        .is_empty(),
        "recovers once Port is back"
    );
}

#[tokio::test]
async fn bursts_of_port_and_github_failures_lose_and_duplicate_nothing() {
    let mut p = pipeline().await;
    p.redeliver_at_once = true;
    let (repo, prs) = open_prs(&p.client).await;
    for (i, pr) in prs.iter().enumerate() {
        for action in ["opened", "edited", "synchronize"] {
            let payload = json!({"action": action, "pull_request": pr, "repository": repo, "organization": {"login": "sim-org"}});
            assert_eq!(
                p.deliver("pull_request", &format!("burst-{i}-{action}"), &payload)
                    .await,
                202
            );
        }
    }
    // Port: a burst of 502s and 429s (with retry-after); GitHub: a secondary limit, then 502s.
    p.port
        .fail_next(None, port_github_simulators::port_sim::Fault::BadGateway, 9);
    p.port.fail_next(
        None,
        port_github_simulators::port_sim::Fault::RateLimited {
            retry_after_secs: 1,
        },
        5,
    );
    p.github.sim.faults(|f| {
        f.secondary_next = 2;
        f.secondary_retry_after = Some(1);
        f.bad_gateway_next = 4;
    });
    let handed_back = p.run_worker().await;
    // Some messages may have been handed back and redelivered; in the end the queue is empty ...
    let left = p
        .sqs
        .get_queue_attributes()
        .queue_url(&p.queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await
        .unwrap();
    let left = left.attributes.unwrap()
        [&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages]
        .clone();
    assert_eq!(
        left,
        "0",
        "every event applied (handed back on the way: {})",
        handed_back.len()
    );
    // ... and the catalog has each PR exactly once, in GitHub's current state.
    let stored = p.port.entities_of("githubPullRequest");
    assert_eq!(stored.len(), prs.len());
    for entity in stored {
        assert_eq!(entity.properties["status"], "open");
    }
}

#[tokio::test]
async fn a_message_that_keeps_failing_ends_in_the_dead_letter_queue() {
    use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
    let p = pipeline().await;
    // The deployed shape: the events queue redrives to a FIFO DLQ after 3 receives.
    let dlq_url = create_fifo_queue(&p.sqs, "worker-dlq").await.unwrap();
    let dlq_arn = p
        .sqs
        .get_queue_attributes()
        .queue_url(&dlq_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()[&QueueAttributeName::QueueArn]
        .clone();
    let policy = json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3}).to_string();
    p.sqs
        .set_queue_attributes()
        .queue_url(&p.queue_url)
        .attributes(QueueAttributeName::RedrivePolicy, policy)
        .send()
        .await
        .unwrap();

    let (repo, prs) = open_prs(&p.client).await;
    let payload = json!({"action": "opened", "pull_request": prs[0], "repository": repo, "organization": {"login": "sim-org"}});
    assert_eq!(p.deliver("pull_request", "doomed", &payload).await, 202);
    // GitHub is down for good: every attempt is transient and handed back.
    p.github.sim.faults(|f| f.bad_gateway_next = 10_000);
    for attempt in 1..=3 {
        let received = p
            .sqs
            .receive_message()
            .queue_url(&p.queue_url)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .unwrap();
        let message = received
            .messages
            .unwrap_or_default()
            .pop()
            .unwrap_or_else(|| panic!("attempt {attempt}: delivered"));
        let event = QueuedEvent {
            message_id: message.message_id.clone().unwrap(),
            group_id: message
                .attributes
                .as_ref()
                .and_then(|a| a.get(&MessageSystemAttributeName::MessageGroupId))
                .cloned(),
            body: message.body.clone().unwrap(),
        };
        assert_eq!(
            process_batch(&p.processor, &[event], BatchSettings::default())
                .await
                .handed_back()
                .len(),
            1,
            "attempt {attempt}: handed back"
        );
        // Lambda leaves a handed-back message in the queue; it is visible again after the timeout.
        p.sqs
            .change_message_visibility()
            .queue_url(&p.queue_url)
            .receipt_handle(message.receipt_handle.unwrap())
            .visibility_timeout(0)
            .send()
            .await
            .unwrap();
    }
    let after = p
        .sqs
        .receive_message()
        .queue_url(&p.queue_url)
        .send()
        .await
        .unwrap();
    assert!(
        after.messages.unwrap_or_default().is_empty(),
        "no fourth delivery"
    );
    let dead = p
        .sqs
        .receive_message()
        .queue_url(&dlq_url)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default();
    assert_eq!(
        dead.len(),
        1,
        "the message is in the DLQ, with its envelope intact"
    );
    let envelope: port_github_core::webhook::envelope::Envelope =
        serde_json::from_str(dead[0].body().unwrap()).unwrap();
    assert_eq!(envelope.delivery_id, "doomed");
}

#[tokio::test]
async fn events_that_fail_for_good_go_to_the_dead_letter_queue_with_their_reason() {
    use aws_sdk_sqs::types::MessageSystemAttributeName;
    let p = pipeline().await;
    let dlq_url = create_fifo_queue(&p.sqs, "worker-kept").await.unwrap();
    let dead_letters = SqsDeadLetters::new(p.sqs.clone(), dlq_url.clone());
    let (repo, prs) = open_prs(&p.client).await;
    // Port refuses the entity for good (403: the credentials' role may not write it).
    p.port
        .fail_next(None, port_github_simulators::port_sim::Fault::Forbidden, 1);
    let payload = json!({"action": "edited", "pull_request": prs[0], "repository": repo, "organization": {"login": "sim-org"}});
    assert_eq!(p.deliver("pull_request", "refused-1", &payload).await, 202);
    let received = p
        .sqs
        .receive_message()
        .queue_url(&p.queue_url)
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default();
    assert_eq!(received.len(), 1);
    let message = &received[0];
    let batch = [
        QueuedEvent {
            message_id: message.message_id.clone().unwrap(),
            group_id: message
                .attributes
                .as_ref()
                .and_then(|a| a.get(&MessageSystemAttributeName::MessageGroupId))
                .cloned(),
            body: message.body.clone().unwrap(),
        },
        QueuedEvent {
            message_id: "garbage".into(),
            group_id: Some("other".into()),
            body: "[1, 2".into(),
        },
    ];
    let settings = BatchSettings {
        dead_letters: Some(&dead_letters as &dyn DeadLetters),
        deadline: None,
    };
    let outcome = process_batch(&p.processor, &batch, settings).await;
    assert!(outcome.handed_back().is_empty(), "{outcome:?}");
    let Some(Outcome::DeadLettered { reason }) = outcome.get(&batch[0].message_id) else {
        panic!("dead-lettered: {outcome:?}");
    };
    assert!(reason.contains("Port refused 1 entity"), "{reason}");
    assert!(reason.contains("403"), "{reason}");

    let dead = p
        .sqs
        .receive_message()
        .queue_url(&dlq_url)
        .max_number_of_messages(10)
        .message_attribute_names("All")
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default();
    assert_eq!(dead.len(), 2, "both kept");
    let by_source = |id: &str| {
        dead.iter()
            .find(|m| {
                m.message_attributes()
                    .and_then(|a| a.get("source_message_id"))
                    .and_then(|v| v.string_value())
                    == Some(id)
            })
            .unwrap_or_else(|| panic!("{id} in the DLQ"))
    };
    let refused = by_source(&batch[0].message_id);
    assert_eq!(
        refused.body(),
        Some(batch[0].body.as_str()),
        "the body untouched"
    );
    let attributes = refused.message_attributes().unwrap();
    assert!(
        attributes["reason"]
            .string_value()
            .unwrap()
            .contains("Port refused"),
        "{attributes:?}"
    );
    assert_eq!(attributes["delivery_id"].string_value(), Some("refused-1"));
    assert_eq!(attributes["event"].string_value(), Some("pull_request"));
    assert_eq!(
        refused
            .attributes()
            .and_then(|a| a.get(&MessageSystemAttributeName::MessageGroupId))
            .map(String::as_str),
        batch[0].group_id.as_deref(),
        "in its own group"
    );
    let garbage = by_source("garbage");
    assert!(
        garbage.message_attributes().unwrap()["reason"]
            .string_value()
            .unwrap()
            .contains("not an event envelope")
    );
}

#[tokio::test]
async fn a_handed_back_message_comes_back_after_its_known_wait() {
    use port_github_core::live::requeue::{Requeue, set_visibility};
    let p = pipeline().await;
    let (repo, prs) = open_prs(&p.client).await;
    let payload = json!({"action": "opened", "pull_request": prs[0], "repository": repo, "organization": {"login": "sim-org"}});
    assert_eq!(p.deliver("pull_request", "wait-1", &payload).await, 202);
    let receive = || async {
        p.sqs
            .receive_message()
            .queue_url(&p.queue_url)
            .visibility_timeout(600)
            .send()
            .await
            .unwrap()
            .messages
            .unwrap_or_default()
    };
    let first = receive().await;
    assert_eq!(first.len(), 1);
    // A known wait of 2 s: not back at once, back after it (the queue's timeout here: 600 s).
    let handle = first[0].receipt_handle().unwrap().to_owned();
    set_visibility(
        &p.sqs,
        &p.queue_url,
        &[Requeue {
            receipt_handle: handle,
            after: std::time::Duration::from_secs(2),
        }],
    )
    .await;
    assert!(receive().await.is_empty(), "invisible for its wait");
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let again = receive().await;
    assert_eq!(
        again.len(),
        1,
        "back after its wait, not the queue's timeout"
    );
    // "At once" (a message the batch had no time to start): back immediately.
    set_visibility(
        &p.sqs,
        &p.queue_url,
        &[Requeue {
            receipt_handle: again[0].receipt_handle().unwrap().to_owned(),
            after: std::time::Duration::ZERO,
        }],
    )
    .await;
    let again = receive().await;
    assert_eq!(again.len(), 1, "visible again at once");
    assert_eq!(again[0].message_id(), first[0].message_id());
}
