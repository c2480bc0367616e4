//! The configuration tests: each function's settings from a sample environment, and each
//! missing, conflicting or invalid setting named in its error.

use std::time::Duration;

use super::*;

const QUEUE: &str = "http://localhost/123/events.fifo";

#[test]
fn refuses_to_start_without_a_secret() {
    let err = WebhookConfig::from_env(&Env::from_pairs([("EVENTS_QUEUE_URL", QUEUE)])).unwrap_err();
    assert!(matches!(
        err,
        ConfigError::Missing {
            name: "WEBHOOK_SECRET",
            ..
        }
    ));
    let blank = Env::from_pairs([("EVENTS_QUEUE_URL", QUEUE), ("WEBHOOK_SECRET", "   ")]);
    assert!(WebhookConfig::from_env(&blank).is_err());
}

#[test]
fn plain_and_arn_secrets() {
    let env = Env::from_pairs([("EVENTS_QUEUE_URL", QUEUE), ("WEBHOOK_SECRET", "s3cret")]);
    let cfg = WebhookConfig::from_env(&env).unwrap();
    assert!(matches!(cfg.secret, SecretSetting::Plain(_)));
    assert!(
        !format!("{cfg:?}").contains("s3cret"),
        "secrets must not show in Debug output"
    );
    assert_eq!(cfg.max_message_bytes, 262_144);
    assert_eq!(cfg.secret_ttl, Duration::from_secs(300));

    let env = Env::from_pairs([
        ("EVENTS_QUEUE_URL", QUEUE),
        ("WEBHOOK_SECRET_ARN", "arn:aws:secretsmanager:x"),
    ]);
    assert!(matches!(
        WebhookConfig::from_env(&env).unwrap().secret,
        SecretSetting::SecretsManager { .. }
    ));

    let both = Env::from_pairs([
        ("EVENTS_QUEUE_URL", QUEUE),
        ("WEBHOOK_SECRET", "a"),
        ("WEBHOOK_SECRET_ARN", "b"),
    ]);
    assert!(WebhookConfig::from_env(&both).is_err());
}

#[test]
fn malformed_numbers_and_queues_name_the_variable() {
    let env = Env::from_pairs([
        ("EVENTS_QUEUE_URL", QUEUE),
        ("WEBHOOK_SECRET", "s"),
        ("MAX_BODY_BYTES", "lots"),
    ]);
    let err = WebhookConfig::from_env(&env).unwrap_err();
    assert!(err.to_string().contains("MAX_BODY_BYTES"), "{err}");
    let env = Env::from_pairs([
        ("EVENTS_QUEUE_URL", QUEUE),
        ("WEBHOOK_SECRET", "s"),
        ("MAX_MESSAGE_BYTES", "10"),
    ]);
    assert!(
        WebhookConfig::from_env(&env)
            .unwrap_err()
            .to_string()
            .contains("MAX_MESSAGE_BYTES")
    );
    let env = Env::from_pairs([
        ("EVENTS_QUEUE_URL", "http://localhost/123/events"),
        ("WEBHOOK_SECRET", "s"),
    ]);
    assert!(
        WebhookConfig::from_env(&env)
            .unwrap_err()
            .to_string()
            .contains("FIFO")
    );
    let env = Env::from_pairs([("WEBHOOK_SECRET", "s")]);
    assert!(
        WebhookConfig::from_env(&env)
            .unwrap_err()
            .to_string()
            .contains("EVENTS_QUEUE_URL")
    );
}

#[test]
fn the_worker_queues_are_optional_and_fifo() {
    let none = WorkerQueuesConfig::from_env(&Env::from_pairs([("X", "y")])).unwrap();
    assert_eq!(none, WorkerQueuesConfig::default());
    let both = WorkerQueuesConfig::from_env(&Env::from_pairs([
        ("EVENTS_DLQ_URL", "https://sqs/1/events-dlq.fifo"),
        ("EVENTS_QUEUE_URL", QUEUE),
    ]))
    .unwrap();
    assert_eq!(
        both.dead_letter_queue_url.as_deref(),
        Some("https://sqs/1/events-dlq.fifo")
    );
    assert_eq!(both.events_queue_url.as_deref(), Some(QUEUE));
    let standard =
        WorkerQueuesConfig::from_env(&Env::from_pairs([("EVENTS_DLQ_URL", "https://sqs/1/dlq")]))
            .unwrap_err();
    assert!(
        standard.to_string().contains("EVENTS_DLQ_URL"),
        "{standard}"
    );
}

fn worker_env(extra: &[(&str, &str)]) -> Env {
    let mut pairs = vec![
        ("PORT_INTEGRATION_ID", "gh"),
        ("PORT_CLIENT_ID", "id"),
        ("PORT_CLIENT_SECRET", "s3cret"),
    ];
    pairs.extend_from_slice(extra);
    Env::from_pairs(pairs)
}

#[test]
fn worker_settings_are_checked_with_one_clear_line() {
    let app = WorkerConfig::from_env(&worker_env(&[
        ("GITHUB_APP_ID", "12"),
        ("GITHUB_APP_PRIVATE_KEY", "pem"),
    ]))
    .unwrap();
    assert!(matches!(app.github_auth, GitHubAuthSetting::App { .. }));
    assert_eq!(app.github_api_url, "https://api.github.com");
    assert_eq!(app.port_integration_type, DEFAULT_INTEGRATION_TYPE);
    assert_eq!(app.secret_ttl, Duration::from_secs(300));
    assert!(!format!("{app:?}").contains("s3cret") && !format!("{app:?}").contains("pem"));
    let token = WorkerConfig::from_env(&worker_env(&[
        ("GITHUB_TOKEN_ARN", "arn:x"),
        ("GITHUB_ORGANIZATIONS", "a, b,"),
    ]))
    .unwrap();
    assert!(matches!(
        token.github_auth,
        GitHubAuthSetting::Token(SecretSetting::SecretsManager { .. })
    ));
    assert_eq!(
        token.organizations,
        Some(vec!["a".to_owned(), "b".to_owned()])
    );

    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[], "GITHUB_APP_ID"),
        (&[("GITHUB_APP_ID", "12")], "GITHUB_APP_PRIVATE_KEY"),
        (&[("GITHUB_APP_PRIVATE_KEY", "pem")], "GITHUB_APP_ID"),
        (
            &[("GITHUB_TOKEN", "t"), ("SECRET_TTL_SECONDS", "0")],
            "SECRET_TTL_SECONDS",
        ),
        (
            &[("GITHUB_TOKEN", "t"), ("GITHUB_API_URL", "api.github.com")],
            "GITHUB_API_URL",
        ),
        (
            &[("GITHUB_TOKEN", "t"), ("GITHUB_TOKEN_ARN", "arn")],
            "GITHUB_TOKEN",
        ),
    ];
    for (extra, named) in cases {
        let error = WorkerConfig::from_env(&worker_env(extra))
            .unwrap_err()
            .to_string();
        assert!(error.contains(named), "{extra:?}: {error}");
    }
    let no_port = Env::from_pairs([("GITHUB_TOKEN", "t"), ("PORT_INTEGRATION_ID", "gh")]);
    assert!(
        WorkerConfig::from_env(&no_port)
            .unwrap_err()
            .to_string()
            .contains("PORT_CREDENTIALS_ARN")
    );
    let no_id = Env::from_pairs([("GITHUB_TOKEN", "t"), ("PORT_CREDENTIALS_ARN", "arn")]);
    assert!(
        WorkerConfig::from_env(&no_id)
            .unwrap_err()
            .to_string()
            .contains("PORT_INTEGRATION_ID")
    );
}

#[test]
fn the_mapping_is_a_file_or_a_secrets_manager_secret() {
    let base = [("GITHUB_TOKEN", "t")];
    let mapping = |extra: &[(&str, &str)]| {
        let mut pairs = base.to_vec();
        pairs.extend_from_slice(extra);
        WorkerConfig::from_env(&worker_env(&pairs)).map(|c| c.port_app_config)
    };
    assert_eq!(mapping(&[]).unwrap(), None);
    assert_eq!(
        mapping(&[("PORT_APP_CONFIG", "m.yml")]).unwrap(),
        Some(MappingSetting::File("m.yml".into()))
    );
    let arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:mapping-AbCdEf";
    assert_eq!(
        mapping(&[("PORT_APP_CONFIG_ARN", arn)]).unwrap(),
        Some(MappingSetting::SecretsManager { arn: arn.into() })
    );
    let both = mapping(&[("PORT_APP_CONFIG", "m.yml"), ("PORT_APP_CONFIG_ARN", arn)]);
    assert!(both.unwrap_err().to_string().contains("not both"));
    let ssm = mapping(&[("PORT_APP_CONFIG_ARN", "arn:aws:ssm:eu-west-1:1:parameter/m")]);
    assert!(ssm.unwrap_err().to_string().contains("PORT_APP_CONFIG_ARN"));
}

#[test]
fn resync_settings_are_checked_with_one_clear_line() {
    let base = [
        ("GITHUB_TOKEN", "t"),
        ("STATE_TABLE", "state"),
        ("RESYNC_QUEUE_URL", "https://sqs/jobs"),
    ];
    let config = ResyncConfig::from_env(&worker_env(&base)).unwrap();
    assert_eq!(config.rate_limit_reserve, 0.05);
    assert!(config.send_raw_examples);
    assert_eq!(config.interval, Duration::from_secs(3_600));
    assert_eq!(config.time_budget, None);
    assert_eq!(config.webhook_url, None);
    let error = |extra: &[(&str, &str)]| {
        let mut pairs = base.to_vec();
        pairs.extend_from_slice(extra);
        ResyncConfig::from_env(&worker_env(&pairs))
            .unwrap_err()
            .to_string()
    };
    assert!(error(&[("RATE_LIMIT_RESERVE", "5%")]).contains("RATE_LIMIT_RESERVE"));
    assert!(error(&[("RATE_LIMIT_RESERVE", "1.5")]).contains("RATE_LIMIT_RESERVE"));
    assert!(error(&[("SEND_RAW_DATA_EXAMPLES", "maybe")]).contains("SEND_RAW_DATA_EXAMPLES"));
    assert!(error(&[("PORT_CREATE_RESOURCES", "perhaps")]).contains("PORT_CREATE_RESOURCES"));
    assert!(error(&[("RESYNC_INTERVAL_MINUTES", "5")]).contains("RESYNC_INTERVAL_MINUTES"));
    assert!(error(&[("RESYNC_TIME_BUDGET_SECONDS", "-3")]).contains("RESYNC_TIME_BUDGET_SECONDS"));
    assert!(error(&[("WEBHOOK_URL", "https://hook")]).contains("WEBHOOK_SECRET"));
    let missing = ResyncConfig::from_env(&worker_env(&base[..2]))
        .unwrap_err()
        .to_string();
    assert!(missing.contains("RESYNC_QUEUE_URL"));
    let missing = ResyncConfig::from_env(&worker_env(&[base[0], base[2]]))
        .unwrap_err()
        .to_string();
    assert!(missing.contains("STATE_TABLE"));
    let mut full = base.to_vec();
    full.extend_from_slice(&[
        ("WEBHOOK_URL", "https://hook.example/"),
        ("WEBHOOK_SECRET", "w"),
        ("SEND_RAW_DATA_EXAMPLES", "false"),
        ("RESYNC_TIME_BUDGET_SECONDS", "30"),
        ("RESYNC_INTERVAL_MINUTES", "1440"),
    ]);
    let config = ResyncConfig::from_env(&worker_env(&full)).unwrap();
    assert_eq!(config.webhook_url.as_deref(), Some("https://hook.example"));
    assert!(!config.send_raw_examples);
    assert_eq!(config.time_budget, Some(Duration::from_secs(30)));
    assert_eq!(config.interval, Duration::from_secs(86_400));
}
