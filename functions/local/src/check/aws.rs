//! The AWS heading of `port-github check`, for a deployed stack named by the settings the
//! functions read (`*_ARN` secrets, `STATE_TABLE`): each secret readable, not empty, and in the
//! form its function parses (the core's secret types), and the last resync as the state table
//! records it (partition `resync`, items `last-start` and `last-completed`, written by
//! `resync::schedule`). Values are parsed and dropped, never shown.

use port_github_core::clock::{Clock as _, SystemClock};
use port_github_core::config::Env;
use port_github_core::github::AppPrivateKey;
use port_github_core::mapping::PortAppConfig;
use port_github_core::resync::schedule::RunMark;
use port_github_core::secrets::{
    ParseSecret, PlainSecret, PortCredentials, SecretError, SecretSource as _,
    SecretsManagerSecret, WebhookSecrets,
};
use port_github_core::state::{DynamoDbStateStore, Key, StateError, StateStore};
use secrecy::{ExposeSecret as _, SecretString};

use super::report::{Section, chain};

/// The state table's partition and items of the schedule's marks (`resync::schedule`).
const PARTITION: &str = "resync";
const LAST_START: &str = "last-start";
const LAST_COMPLETED: &str = "last-completed";

/// How the function parses a secret, and what its value looks like (for the fix).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    PrivateKey,
    Token,
    PortCredentials,
    WebhookSecret,
    Mapping,
}

impl Form {
    fn example(self) -> &'static str {
        match self {
            Form::PrivateKey => "\"$(cat app.private-key.pem)\"",
            Form::Token => "TOKEN",
            Form::PortCredentials => "'{\"clientId\":\"...\",\"clientSecret\":\"...\"}'",
            Form::WebhookSecret => "SECRET (or '{\"current\":\"...\",\"previous\":\"...\"}')",
            Form::Mapping => "\"$(cat port-app-config.yml)\"",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Form::PrivateKey => "an RSA private key",
            Form::Token => "a token",
            Form::PortCredentials => "{\"clientId\", \"clientSecret\"}",
            Form::WebhookSecret => "a webhook secret",
            Form::Mapping => "a port-app-config",
        }
    }

    fn parse(self, name: &str, raw: &SecretString) -> Result<(), String> {
        let parsed = match self {
            Form::PrivateKey => AppPrivateKey::parse(name, raw).map(drop),
            Form::Token => PlainSecret::parse(name, raw).map(drop),
            Form::PortCredentials => PortCredentials::parse(name, raw).map(drop),
            Form::WebhookSecret => WebhookSecrets::parse(name, raw).map(drop),
            Form::Mapping => {
                return PortAppConfig::from_yaml_or_json(raw.expose_secret())
                    .map(drop)
                    .map_err(|error| error.to_string());
            }
        };
        parsed.map_err(|error| chain(&error))
    }
}

/// The stack's names, as the functions read them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StackNames {
    secrets: Vec<(&'static str, String, Form)>,
    state_table: Option<String>,
}

impl StackNames {
    pub fn from_env(env: &Env) -> Self {
        let forms = [
            ("GITHUB_APP_PRIVATE_KEY_ARN", Form::PrivateKey),
            ("GITHUB_TOKEN_ARN", Form::Token),
            ("PORT_CREDENTIALS_ARN", Form::PortCredentials),
            ("WEBHOOK_SECRET_ARN", Form::WebhookSecret),
            ("PORT_APP_CONFIG_ARN", Form::Mapping),
        ];
        Self {
            secrets: forms
                .into_iter()
                .filter_map(|(name, form)| Some((name, env.get(name)?.to_owned(), form)))
                .collect(),
            state_table: env.get("STATE_TABLE").map(str::to_owned),
        }
    }

    /// Whether any name is given (the AWS checks run only then).
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty() && self.state_table.is_none()
    }
}

/// How to turn the AWS heading on.
pub const HOW_TO_ENABLE: &str = "set STATE_TABLE and the *_ARN settings as the functions have them (the stack's outputs) to check its secrets and last resync";

pub async fn check(names: &StackNames, aws: &aws_config::SdkConfig) -> Section {
    let mut section = Section::new("AWS");
    let secrets = aws_sdk_secretsmanager::Client::new(aws);
    for (name, arn, form) in &names.secrets {
        secret(&mut section, &secrets, name, arn, *form).await;
    }
    if let Some(table) = &names.state_table {
        let store = DynamoDbStateStore::new(aws_sdk_dynamodb::Client::new(aws), table.clone());
        match last_runs(&store).await {
            Ok(marks) => section.pass(format!("last resync: {}", describe_runs(&marks))),
            Err(error) => section.fail(
                format!("state table {table}"),
                format!("cannot be read: {}", chain(&error)),
                "check STATE_TABLE (the stack's StateTableName output), the region, and that your AWS credentials may read it (dynamodb:GetItem)",
            ),
        }
    }
    section
}

async fn secret(
    section: &mut Section,
    client: &aws_sdk_secretsmanager::Client,
    name: &str,
    arn: &str,
    form: Form,
) {
    let what = format!("secret {name} ({arn})");
    let put = format!(
        "aws secretsmanager put-secret-value --secret-id {arn} --secret-string {}",
        form.example()
    );
    let raw = match SecretsManagerSecret::new(client.clone(), arn).fetch().await {
        Ok(raw) => raw,
        Err(SecretError::Empty { .. }) => {
            section.fail(what, "empty (its value is blank)", put);
            return;
        }
        Err(error) => {
            // A secret the stack created without a value has no current version to read.
            let exists = client.describe_secret().secret_id(arn).send().await.is_ok();
            if exists {
                section.fail(what, "empty: it has no value yet", put);
            } else {
                section.fail(
                    what,
                    format!("cannot be read: {}", chain(&error)),
                    "check the ARN (the stack's outputs), the region, and that your AWS credentials may read it (secretsmanager:GetSecretValue)",
                );
            }
            return;
        }
    };
    match form.parse(name, &raw) {
        Ok(()) => section.pass(format!("{what}: readable, {}", form.describe())),
        Err(reason) => section.fail(what, format!("not {}: {reason}", form.describe()), put),
    }
}

/// The schedule's marks: the last run started, and the last one completed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LastRuns {
    pub started: Option<RunMark>,
    pub completed: Option<RunMark>,
}

/// Reads the marks; an unreadable one counts as absent, as the schedule reads it.
pub async fn last_runs(state: &dyn StateStore) -> Result<LastRuns, StateError> {
    Ok(LastRuns {
        started: mark(state, LAST_START).await?,
        completed: mark(state, LAST_COMPLETED).await?,
    })
}

async fn mark(state: &dyn StateStore, item: &str) -> Result<Option<RunMark>, StateError> {
    Ok(state
        .get(Key::new(PARTITION, item), SystemClock.now())
        .await?
        .and_then(|record| serde_json::from_str(&record.value).ok()))
}

pub fn describe_runs(runs: &LastRuns) -> String {
    let started =
        |mark: &RunMark| format!("run {} started {}", mark.run, mark.started_at.to_rfc3339());
    match (&runs.started, &runs.completed) {
        (None, _) => {
            "none has started yet (the schedule starts the first within minutes of the deploy)"
                .to_owned()
        }
        (Some(last), Some(done)) if last.run == done.run => {
            format!("{}, completed", started(last))
        }
        (Some(last), Some(done)) => format!(
            "{}, not completed (in progress, or failed: see the resync function's log); the last completed: {}",
            started(last),
            started(done)
        ),
        (Some(last), None) => format!(
            "{}, not completed (in progress, or failed: see the resync function's log); none has completed yet",
            started(last)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use port_github_core::resync::schedule::{record_completed, record_start};
    use port_github_core::state::InMemoryStateStore;

    #[tokio::test]
    async fn the_marks_are_read_where_the_schedule_writes_them() {
        let state = InMemoryStateStore::default();
        let none = last_runs(&state).await.ok();
        assert_eq!(none, Some(LastRuns::default()));
        let at = SystemClock.now();
        let written = record_start(&state, "run-1", at, None).await;
        assert!(written.is_ok(), "{written:?}");
        let runs = last_runs(&state).await.unwrap_or_default();
        assert_eq!(runs.started.as_ref().map(|m| m.run.as_str()), Some("run-1"));
        assert!(describe_runs(&runs).contains("run run-1 started"));
        assert!(describe_runs(&runs).contains("none has completed yet"));
        let written = record_completed(&state, "run-1", at, at).await;
        assert!(written.is_ok(), "{written:?}");
        let runs = last_runs(&state).await.unwrap_or_default();
        assert_eq!(
            runs.completed.as_ref().map(|m| m.run.as_str()),
            Some("run-1")
        );
        assert!(
            describe_runs(&runs).ends_with(", completed"),
            "{}",
            describe_runs(&runs)
        );
    }

    #[test]
    fn secrets_are_checked_in_the_form_their_function_reads() {
        let secret = |text: &str| SecretString::from(text.to_owned());
        assert!(
            Form::PortCredentials
                .parse("P", &secret("{\"clientId\":\"a\",\"clientSecret\":\"b\"}"))
                .is_ok()
        );
        let error = Form::PortCredentials
            .parse("P", &secret("hunter2"))
            .err()
            .unwrap_or_default();
        assert!(
            error.contains("clientId") && !error.contains("hunter2"),
            "{error}"
        );
        assert!(Form::PrivateKey.parse("K", &secret("not a key")).is_err());
        assert!(Form::WebhookSecret.parse("W", &secret("plain")).is_ok());
        assert!(Form::Mapping.parse("M", &secret("resources: []")).is_ok());
    }
}
