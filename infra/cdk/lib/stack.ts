// The GitHub → Port stack for CDK users: the same parameters, resources and per-function IAM as
// ../../template.yaml. Keep the two in step; infra/tests/test_policies.py checks both.
import * as fs from "fs";
import * as path from "path";
import {
  Aws,
  CfnCondition,
  CfnOutput,
  CfnParameter,
  CfnRule,
  Duration,
  Fn,
  RemovalPolicy,
  Stack,
  StackProps,
  Tags,
  Validations,
} from "aws-cdk-lib";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import * as events from "aws-cdk-lib/aws-events";
import * as targets from "aws-cdk-lib/aws-events-targets";
import * as iam from "aws-cdk-lib/aws-iam";
import * as lambda from "aws-cdk-lib/aws-lambda";
import { SqsEventSource } from "aws-cdk-lib/aws-lambda-event-sources";
import * as logs from "aws-cdk-lib/aws-logs";
import * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import * as sqs from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";

export interface PortGithubStackProps extends StackProps {
  /** Where `cargo lambda build` left the binaries: `<artifactsDir>/<binary>/bootstrap`. */
  readonly artifactsDir: string;
}

const SECRET_ARN_PATTERN = "^(arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[^*\\s]+)?$";
const FUNCTION_TAG = "port-github:function";

export class PortGithubStack extends Stack {
  constructor(scope: Construct, id: string, props: PortGithubStackProps) {
    super(scope, id, props);

    // ------------------------------------------------------------------ parameters (as in SAM)
    const str = (name: string, p: Omit<import("aws-cdk-lib").CfnParameterProps, "type">) =>
      new CfnParameter(this, name, { type: "String", ...p });
    const num = (name: string, p: Omit<import("aws-cdk-lib").CfnParameterProps, "type">) =>
      new CfnParameter(this, name, { type: "Number", ...p });

    const architecture = str("Architecture", {
      default: "x86_64",
      allowedValues: ["x86_64", "arm64"],
      description: "Lambda architecture; arm64 needs binaries built with `cargo lambda build --arm64`.",
    });
    const gitHubAuthMode = str("GitHubAuthMode", {
      default: "app",
      allowedValues: ["app", "token"],
      description: "app: GitHub App (App ID + private key secret). token: a personal or fine-grained token secret.",
    });
    const gitHubAppId = str("GitHubAppId", {
      default: "",
      allowedPattern: "^[A-Za-z0-9.]*$",
      description: "The GitHub App's ID or client ID (GITHUB_APP_ID). Required when GitHubAuthMode is app.",
    });
    const gitHubApiUrl = str("GitHubApiUrl", {
      default: "https://api.github.com",
      allowedPattern: "^https://\\S+$",
      description: "GitHub REST base URL (GITHUB_API_URL).",
    });
    const gitHubOrganizations = str("GitHubOrganizations", {
      default: "",
      allowedPattern: "^[A-Za-z0-9_.,-]*$",
      description: "Optional comma-separated allow-list of organizations (GITHUB_ORGANIZATIONS).",
    });
    const gitHubCredentialsSecretArn = str("GitHubCredentialsSecretArn", {
      default: "",
      allowedPattern: SECRET_ARN_PATTERN,
      description: "Existing secret with the App private key or the token; empty: the stack creates an empty one.",
    });
    const webhookSecretArn = str("WebhookSecretArn", {
      default: "",
      allowedPattern: SECRET_ARN_PATTERN,
      description: "Existing webhook secret; empty: the stack creates one with a random value.",
    });
    const portApiUrl = str("PortApiUrl", {
      default: "https://api.port.io",
      allowedPattern: "^https://\\S+$",
      description: "Port API base URL (PORT_API_URL).",
    });
    const portIntegrationId = str("PortIntegrationId", {
      default: "github-serverless",
      allowedPattern: "^[A-Za-z0-9_.-]+$",
      description: "The integration's identifier in Port (PORT_INTEGRATION_ID).",
    });
    const portIntegrationType = str("PortIntegrationType", {
      default: "",
      allowedPattern: "^[A-Za-z0-9_.-]*$",
      description: "PORT_INTEGRATION_TYPE; empty for the built-in default.",
    });
    const portAppConfigSecretArn = str("PortAppConfigSecretArn", {
      default: "",
      allowedPattern: SECRET_ARN_PATTERN,
      description: "Optional secret whose value is your port-app-config, YAML or JSON (PORT_APP_CONFIG_ARN); " +
        "empty: the mapping in Port, else the built-in one.",
    });
    const createPortResources = str("CreatePortResources", {
      default: "true",
      allowedValues: ["true", "false"],
      description: "true: the first run creates the integration record and the missing blueprints in Port " +
        "(an existing blueprint is never changed) (PORT_CREATE_RESOURCES). false: create them yourself.",
    });
    const portCredentialsSecretArn = str("PortCredentialsSecretArn", {
      default: "",
      allowedPattern: SECRET_ARN_PATTERN,
      description: 'Existing secret with {"clientId","clientSecret"}; empty: the stack creates an empty one.',
    });
    const resyncIntervalMinutes = num("ResyncIntervalMinutes", {
      default: "360", // a string, as AllowedValues are strings
      allowedValues: ["60", "120", "180", "360", "720", "1440"],
      description: "How often a full resync runs, in minutes (1 hour to 1 day). The schedule ticks every minute " +
        "and starts a run when one is due: at once on a new stack, then this long after the last start; " +
        "or when the Resync button is pressed or the mapping is edited in Port.",
    });
    const resyncScheduleState = str("ResyncScheduleState", {
      default: "ENABLED",
      allowedValues: ["ENABLED", "DISABLED"],
      description: "DISABLED stops the scheduled resync.",
    });
    const resyncTimeBudgetSeconds = str("ResyncTimeBudgetSeconds", {
      default: "",
      allowedPattern: "^([1-9][0-9]{0,2})?$",
      description: "RESYNC_TIME_BUDGET_SECONDS; empty: the Lambda's remaining time minus a margin.",
    });
    const rateLimitReserve = str("RateLimitReserve", {
      default: "0.05",
      allowedPattern: "^0(\\.[0-9]+)?$",
      description: "RATE_LIMIT_RESERVE: share of GitHub's hourly budget left for live events.",
    });
    const sendRawDataExamples = str("SendRawDataExamples", {
      default: "true",
      allowedValues: ["true", "false"],
      description: "SEND_RAW_DATA_EXAMPLES.",
    });
    const manageOrganizationWebhooks = str("ManageOrganizationWebhooks", {
      default: "false",
      allowedValues: ["true", "false"],
      description: "false: the GitHub App's own webhook delivers the events. true: instead, every resync points " +
        "each organization's webhook at the webhook URL and redelivers its failed deliveries (WEBHOOK_URL).",
    });
    const resyncMaxConcurrency = num("ResyncMaxConcurrency", {
      default: 2, minValue: 2, maxValue: 20,
      description: "Most resync-job invocations at once.",
    });
    const workerMaxConcurrency = num("WorkerMaxConcurrency", {
      default: 5, minValue: 2, maxValue: 100,
      description: "Most worker invocations at once.",
    });
    const maxReceiveCount = num("MaxReceiveCount", {
      default: 5, minValue: 1, maxValue: 50,
      description: "Deliveries of a message before the queue moves it to its dead-letter queue (the worker sends " +
        "events that fail for good there itself at once; this bounds transient failures).",
    });
    const logLevel = str("LogLevel", {
      default: "info",
      allowedPattern: "^[A-Za-z0-9_=,:.-]+$",
      description: "RUST_LOG for every function.",
    });
    const logRetentionDays = num("LogRetentionDays", {
      default: "30",
      allowedValues: ["1", "3", "5", "7", "14", "30", "60", "90", "120", "150", "180", "365", "400", "545",
        "731", "1096", "1827", "2192", "2557", "2922", "3288", "3653"],
      description: "How long the functions' logs are kept.",
    });
    const secretTtlSeconds = num("SecretTtlSeconds", {
      default: 300, minValue: 1, maxValue: 86400,
      description: "SECRET_TTL_SECONDS.",
    });
    const maxBodyBytes = num("MaxBodyBytes", {
      default: 26214400, minValue: 1, maxValue: 26214400,
      description: "MAX_BODY_BYTES.",
    });
    const maxMessageBytes = num("MaxMessageBytes", {
      default: 262144, minValue: 4096, maxValue: 1048576,
      description: "The events queue's maximum message size, also the webhook's MAX_MESSAGE_BYTES.",
    });
    const alarmTopicArn = str("AlarmTopicArn", {
      default: "",
      allowedPattern: "^(arn:aws[a-z-]*:sns:\\S+)?$",
      description: "Optional SNS topic for alarm and OK notifications.",
    });
    const eventsOldestMessageAlarmSeconds = num("EventsOldestMessageAlarmSeconds", {
      default: 900, minValue: 60,
      description: "Alarm when the oldest live event has waited longer than this.",
    });
    const resyncJobsOldestMessageAlarmSeconds = num("ResyncJobsOldestMessageAlarmSeconds", {
      default: 7200, minValue: 60,
      description: "Alarm when the oldest resync job has waited longer than this.",
    });
    const signatureFailuresAlarmThreshold = num("SignatureFailuresAlarmThreshold", {
      default: 5, minValue: 0,
      description: "Alarm when more webhook deliveries than this fail their signature check in 5 minutes.",
    });

    // CDK's synth-time CloudFormation validation misreads these; each is explained here.
    const validations = Validations.of(this);
    validations.acknowledge({ id: "CloudFormation-Validate::W2509",
      reason: "the *SecretArn parameters hold ARNs of secrets, never secret values" });
    validations.acknowledge({ id: "CloudFormation-Validate::W1001",
      reason: "outputs name a created secret only under the condition that creates it (Fn::If)" });
    validations.acknowledge({ id: "CloudFormation-Validate::W1030",
      reason: "alarm actions use AlarmTopicArn only when it is not empty (Fn::If on HasAlarmTopic)" });

    new CfnRule(this, "AppAuthNeedsAppId", {
      ruleCondition: Fn.conditionEquals(gitHubAuthMode.valueAsString, "app"),
      assertions: [{
        assert: Fn.conditionNot(Fn.conditionEquals(gitHubAppId.valueAsString, "")),
        assertDescription: "GitHubAppId is required when GitHubAuthMode is app.",
      }],
    });
    new CfnRule(this, "TokenAuthNeedsOrganizations", {
      ruleCondition: Fn.conditionEquals(gitHubAuthMode.valueAsString, "token"),
      assertions: [{
        assert: Fn.conditionNot(Fn.conditionEquals(gitHubOrganizations.valueAsString, "")),
        assertDescription: "GitHubOrganizations is required when GitHubAuthMode is token (a token does not say " +
          "which organizations to sync, and the resync would never start).",
      }],
    });

    // ------------------------------------------------------------------ conditions
    const condition = (name: string, expression: import("aws-cdk-lib").ICfnConditionExpression) =>
      new CfnCondition(this, name, { expression });
    const isEmpty = (p: CfnParameter) => Fn.conditionEquals(p.valueAsString, "");
    const useGitHubApp = condition("UseGitHubApp", Fn.conditionEquals(gitHubAuthMode.valueAsString, "app"));
    const createGitHubSecret = condition("CreateGitHubCredentialsSecret", isEmpty(gitHubCredentialsSecretArn));
    const createWebhookSecret = condition("CreateWebhookSecret", isEmpty(webhookSecretArn));
    const createPortSecret = condition("CreatePortCredentialsSecret", isEmpty(portCredentialsSecretArn));
    const hasAlarmTopic = condition("HasAlarmTopic", Fn.conditionNot(isEmpty(alarmTopicArn)));
    const optional = (name: string, p: CfnParameter) =>
      Fn.conditionIf(condition(name, Fn.conditionNot(isEmpty(p))).logicalId, p.valueAsString, Aws.NO_VALUE).toString();
    // The deployer's own mapping: handed to the worker and resync, and readable by their roles only when set.
    const hasPortAppConfig = condition("HasPortAppConfig", Fn.conditionNot(isEmpty(portAppConfigSecretArn)));
    const mappingSecretArn =
      Fn.conditionIf(hasPortAppConfig.logicalId, portAppConfigSecretArn.valueAsString, Aws.NO_VALUE).toString();

    // ------------------------------------------------------------------ secrets (never inlined)
    const secretArn = (id: string, create: CfnCondition, existing: CfnParameter, secretProps: secretsmanager.CfnSecretProps) => {
      const secret = new secretsmanager.CfnSecret(this, id, secretProps);
      secret.cfnOptions.condition = create;
      return Fn.conditionIf(create.logicalId, secret.ref, existing.valueAsString).toString();
    };
    const gitHubSecretArn = secretArn("GitHubCredentialsSecret", createGitHubSecret, gitHubCredentialsSecretArn, {
      description:
        "GitHub credentials for the worker and resync functions. GitHubAuthMode app: the App's private key " +
        "(the .pem file's text, or base64 of it). GitHubAuthMode token: a personal or fine-grained token. " +
        "Created empty: put the value in with `aws secretsmanager put-secret-value`.",
    });
    const webhookSecretArnValue = secretArn("WebhookSecret", createWebhookSecret, webhookSecretArn, {
      description:
        'GitHub webhook secret: a string, or {"current":"...","previous":"..."} while rolling it. Copy the ' +
        "value into the GitHub App's (or organization webhook's) secret field.",
      generateSecretString: { passwordLength: 40, excludePunctuation: true, includeSpace: false },
    });
    const portSecretArn = secretArn("PortCredentialsSecret", createPortSecret, portCredentialsSecretArn, {
      description:
        'Port API credentials as JSON: {"clientId":"...","clientSecret":"..."}. Created empty: put the value ' +
        "in with `aws secretsmanager put-secret-value`.",
    });

    // ------------------------------------------------------------------ queues
    const eventsDeadLetterQueue = new sqs.Queue(this, "EventsDeadLetterQueue", {
      fifo: true,
      maxMessageSizeBytes: maxMessageBytes.valueAsNumber,
      retentionPeriod: Duration.days(14),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
    });
    const eventsQueue = new sqs.Queue(this, "EventsQueue", {
      fifo: true,
      contentBasedDeduplication: false,
      deduplicationScope: sqs.DeduplicationScope.MESSAGE_GROUP,
      fifoThroughputLimit: sqs.FifoThroughputLimit.PER_MESSAGE_GROUP_ID,
      maxMessageSizeBytes: maxMessageBytes.valueAsNumber,
      retentionPeriod: Duration.days(4),
      visibilityTimeout: Duration.seconds(720), // six times the worker's 120 s timeout
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      deadLetterQueue: { queue: eventsDeadLetterQueue, maxReceiveCount: maxReceiveCount.valueAsNumber },
    });
    const resyncJobsDeadLetterQueue = new sqs.Queue(this, "ResyncJobsDeadLetterQueue", {
      retentionPeriod: Duration.days(14),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
    });
    // Standard: jobs are independent and continuations need per-message delays (FIFO has none).
    const resyncJobsQueue = new sqs.Queue(this, "ResyncJobsQueue", {
      retentionPeriod: Duration.days(1),
      visibilityTimeout: Duration.seconds(5400), // six times the resync's 900 s timeout
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      deadLetterQueue: { queue: resyncJobsDeadLetterQueue, maxReceiveCount: maxReceiveCount.valueAsNumber },
    });

    // ------------------------------------------------------------------ state
    const stateTable = new dynamodb.Table(this, "StateTable", {
      partitionKey: { name: "pk", type: dynamodb.AttributeType.STRING },
      sortKey: { name: "sk", type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: "expires_at",
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      removalPolicy: RemovalPolicy.DESTROY, // state is rebuilt by the next resync
    });

    // ------------------------------------------------------------------ functions
    // CloudWatch Embedded Metric Format (shared/src/metrics): one namespace per stack, as in SAM.
    const metricsNamespace = Fn.sub("PortGitHub/${AWS::StackName}");
    const common = {
      RUST_LOG: logLevel.valueAsString,
      SECRET_TTL_SECONDS: secretTtlSeconds.valueAsString,
      METRICS_NAMESPACE: metricsNamespace,
    };
    const github = {
      GITHUB_API_URL: gitHubApiUrl.valueAsString,
      GITHUB_APP_ID: Fn.conditionIf(useGitHubApp.logicalId, gitHubAppId.valueAsString, Aws.NO_VALUE).toString(),
      GITHUB_APP_PRIVATE_KEY_ARN: Fn.conditionIf(useGitHubApp.logicalId, gitHubSecretArn, Aws.NO_VALUE).toString(),
      GITHUB_TOKEN_ARN: Fn.conditionIf(useGitHubApp.logicalId, Aws.NO_VALUE, gitHubSecretArn).toString(),
      GITHUB_ORGANIZATIONS: optional("HasGitHubOrganizations", gitHubOrganizations),
      PORT_API_URL: portApiUrl.valueAsString,
      PORT_CREDENTIALS_ARN: portSecretArn,
      PORT_INTEGRATION_ID: portIntegrationId.valueAsString,
      PORT_INTEGRATION_TYPE: optional("HasPortIntegrationType", portIntegrationType),
      PORT_APP_CONFIG_ARN: mappingSecretArn,
      PORT_CREATE_RESOURCES: createPortResources.valueAsString,
      STATE_TABLE: stateTable.tableName,
    };

    const rustFunction = (name: "webhook" | "worker" | "resync", p: {
      description: string;
      timeout: Duration;
      memorySize: number;
      environment: Record<string, string>;
      statements: (logGroup: logs.LogGroup) => iam.PolicyStatement[];
    }) => {
      const id = name.charAt(0).toUpperCase() + name.slice(1);
      const logGroup = new logs.LogGroup(this, `${id}LogGroup`, {
        retention: logRetentionDays.valueAsNumber as logs.RetentionDays,
        removalPolicy: RemovalPolicy.DESTROY,
      });
      const role = new iam.Role(this, `${id}Role`, {
        assumedBy: new iam.ServicePrincipal("lambda.amazonaws.com"),
        description: `${name} function: only what it uses`,
        inlinePolicies: { [name]: new iam.PolicyDocument({ statements: p.statements(logGroup) }) },
      });
      const fn = new lambda.Function(this, `${id}Function`, {
        description: p.description,
        runtime: lambda.Runtime.PROVIDED_AL2023,
        handler: "bootstrap",
        architecture: lambda.Architecture.custom(architecture.valueAsString),
        code: lambda.Code.fromAsset(binaryDir(props.artifactsDir, name)),
        role,
        timeout: p.timeout,
        memorySize: p.memorySize,
        logGroup,
        loggingFormat: lambda.LoggingFormat.JSON,
        environment: { ...common, ...p.environment },
      });
      Tags.of(fn).add(FUNCTION_TAG, name);
      new CfnOutput(this, `Output${id}LogGroupName`, { value: logGroup.logGroupName }).overrideLogicalId(`${id}LogGroupName`);
      return fn;
    };
    const logStatement = (logGroup: logs.LogGroup) => new iam.PolicyStatement({
      sid: "Logs",
      actions: ["logs:CreateLogStream", "logs:PutLogEvents"],
      resources: [logGroup.logGroupArn],
    });
    const readSecrets = (sid: string, arns: string[]) => new iam.PolicyStatement({
      sid, actions: ["secretsmanager:GetSecretValue"], resources: arns,
    });
    const itemActions = [
      "dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem",
      "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem",
    ];

    const webhook = rustFunction("webhook", {
      description: "Verifies GitHub webhook deliveries and queues them (Function URL, auth NONE).",
      timeout: Duration.seconds(10), // GitHub waits 10 s for an answer
      memorySize: 256,
      environment: {
        WEBHOOK_SECRET_ARN: webhookSecretArnValue,
        EVENTS_QUEUE_URL: eventsQueue.queueUrl,
        MAX_BODY_BYTES: maxBodyBytes.valueAsString,
        MAX_MESSAGE_BYTES: maxMessageBytes.valueAsString,
      },
      statements: (logGroup) => [
        logStatement(logGroup),
        new iam.PolicyStatement({ sid: "EnqueueEvents", actions: ["sqs:SendMessage"], resources: [eventsQueue.queueArn] }),
        readSecrets("ReadWebhookSecret", [webhookSecretArnValue]),
      ],
    });
    // The HMAC signature over the body is the authentication.
    const webhookUrl = webhook.addFunctionUrl({ authType: lambda.FunctionUrlAuthType.NONE });

    const worker = rustFunction("worker", {
      description: "Applies live GitHub events to Port (SQS FIFO events queue).",
      timeout: Duration.seconds(120),
      memorySize: 512,
      environment: {
        ...github,
        // Events that fail for good go there with their reason; a handed-back message whose wait
        // is known (a rate limit) gets that wait as its visibility on the events queue.
        EVENTS_DLQ_URL: eventsDeadLetterQueue.queueUrl,
        EVENTS_QUEUE_URL: eventsQueue.queueUrl,
      },
      statements: (logGroup) => [
        logStatement(logGroup),
        // Consuming the events queue is granted by the event source below (that queue only).
        new iam.PolicyStatement({
          sid: "DeadLetters", actions: ["sqs:SendMessage"], resources: [eventsDeadLetterQueue.queueArn],
        }),
        readSecrets("ReadCredentials", [gitHubSecretArn, portSecretArn, mappingSecretArn]),
        new iam.PolicyStatement({ sid: "StateItems", actions: itemActions, resources: [stateTable.tableArn] }),
      ],
    });
    worker.addEventSource(new SqsEventSource(eventsQueue, {
      batchSize: 10, // FIFO sources: at most 10, no batching window
      reportBatchItemFailures: true,
      maxConcurrency: workerMaxConcurrency.valueAsNumber,
    }));

    const resync = rustFunction("resync", {
      description: "Full resync of GitHub into Port (schedule starts it, the resync-jobs queue carries its work).",
      timeout: Duration.seconds(900),
      memorySize: 1024,
      environment: {
        ...github,
        RESYNC_QUEUE_URL: resyncJobsQueue.queueUrl,
        RESYNC_TIME_BUDGET_SECONDS: optional("HasResyncTimeBudget", resyncTimeBudgetSeconds),
        RATE_LIMIT_RESERVE: rateLimitReserve.valueAsString,
        SEND_RAW_DATA_EXAMPLES: sendRawDataExamples.valueAsString,
        RESYNC_INTERVAL_MINUTES: resyncIntervalMinutes.valueAsString,
        // No cycle: the webhook function and its URL depend on nothing of the resync's.
        WEBHOOK_URL: Fn.conditionIf(
          condition("ManageWebhooks", Fn.conditionEquals(manageOrganizationWebhooks.valueAsString, "true")).logicalId,
          webhookUrl.url, Aws.NO_VALUE).toString(),
        WEBHOOK_SECRET_ARN: webhookSecretArnValue,
      },
      statements: (logGroup) => [
        logStatement(logGroup),
        new iam.PolicyStatement({ sid: "QueueContinuations", actions: ["sqs:SendMessage"], resources: [resyncJobsQueue.queueArn] }),
        readSecrets("ReadSecrets", [gitHubSecretArn, portSecretArn, webhookSecretArnValue, mappingSecretArn]),
        new iam.PolicyStatement({
          sid: "StateItems", actions: [...itemActions, "dynamodb:Query"], resources: [stateTable.tableArn],
        }),
      ],
    });
    resync.addEventSource(new SqsEventSource(resyncJobsQueue, {
      // Up to ten jobs per invocation, listed concurrently and upserted together; a job still
      // listing when the time budget runs out re-queues its continuation.
      batchSize: 10,
      maxBatchingWindow: Duration.seconds(2),
      reportBatchItemFailures: true,
      maxConcurrency: resyncMaxConcurrency.valueAsNumber,
    }));
    resync.configureAsyncInvoke({ retryAttempts: 1, maxEventAge: Duration.hours(1) });
    // A tick, not the interval: a run starts only when one is due (a new stack at once, then
    // ResyncIntervalMinutes after the last start) or Port asks for one (its Resync button, an
    // edited mapping). A quiet tick reads the state table and Port, no more.
    const schedule = new events.Rule(this, "ResyncSchedule", {
      description: "Starts a full resync when one is due or requested in Port.",
      schedule: events.Schedule.rate(Duration.minutes(1)),
      targets: [new targets.LambdaFunction(resync, { retryAttempts: 2, maxEventAge: Duration.hours(1) })],
    });
    (schedule.node.defaultChild as events.CfnRule).state = resyncScheduleState.valueAsString;

    // ------------------------------------------------------------------ alarms
    const alarm = (id: string, description: string, metric: cloudwatch.Metric, threshold: number, periods: number) => {
      const a = new cloudwatch.Alarm(this, id, {
        alarmDescription: description,
        metric,
        threshold,
        evaluationPeriods: periods,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      const cfn = a.node.defaultChild as cloudwatch.CfnAlarm;
      const actions = Fn.conditionIf(hasAlarmTopic.logicalId, [alarmTopicArn.valueAsString], Aws.NO_VALUE);
      cfn.addPropertyOverride("AlarmActions", actions);
      cfn.addPropertyOverride("OKActions", actions);
    };
    const fiveMinutes = { period: Duration.minutes(5), statistic: "Maximum" };
    alarm("EventsDeadLetterAlarm",
      "Live events are in the dead-letter queue: events that failed for good (the reason is each message's " +
      "\"reason\" attribute) or kept failing for MaxReceiveCount deliveries. Fix the cause, then replay them " +
      "with aws sqs start-message-move-task (README, \"Dead-letter queue\").",
      eventsDeadLetterQueue.metricApproximateNumberOfMessagesVisible(fiveMinutes), 0, 1);
    alarm("ResyncJobsDeadLetterAlarm", "Resync jobs reached the dead-letter queue (that run deletes nothing).",
      resyncJobsDeadLetterQueue.metricApproximateNumberOfMessagesVisible(fiveMinutes), 0, 1);
    alarm("EventsOldestMessageAlarm", "Live events wait too long in the events queue.",
      eventsQueue.metricApproximateAgeOfOldestMessage(fiveMinutes), eventsOldestMessageAlarmSeconds.valueAsNumber, 2);
    alarm("ResyncJobsOldestMessageAlarm", "Resync jobs wait too long in the resync-jobs queue.",
      resyncJobsQueue.metricApproximateAgeOfOldestMessage(fiveMinutes), resyncJobsOldestMessageAlarmSeconds.valueAsNumber, 2);
    alarm("WebhookUrl5xxAlarm",
      "The webhook answered GitHub with a 5xx (usually: the event could not be queued). GitHub does not retry: " +
      "redeliver the failed deliveries within 3 days.",
      new cloudwatch.Metric({
        namespace: "AWS/Lambda", metricName: "Url5xxCount", dimensionsMap: { FunctionName: webhook.functionName },
        period: Duration.minutes(5), statistic: "Sum",
      }), 0, 1);
    for (const [id, fn] of [["Webhook", webhook], ["Worker", worker], ["Resync", resync]] as const) {
      alarm(`${id}ErrorsAlarm`, `The ${id.toLowerCase()} function failed whole invocations.`,
        fn.metricErrors({ period: Duration.minutes(5), statistic: "Sum" }), 0, 1);
    }

    // The alarms on the functions' own metrics (EMF), named and shaped as in the SAM template.
    const emfAlarm = (id: string, description: string, metricName: string, fn: string, statistic: string,
      period: number, periods: number, threshold: number, missing: cloudwatch.TreatMissingData) => {
      const a = new cloudwatch.Alarm(this, id, {
        alarmDescription: description,
        metric: new cloudwatch.Metric({
          namespace: metricsNamespace, metricName, dimensionsMap: { Function: fn },
          period: Duration.seconds(period), statistic,
        }),
        threshold,
        evaluationPeriods: periods,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: missing,
      });
      const cfn = a.node.defaultChild as cloudwatch.CfnAlarm;
      const actions = Fn.conditionIf(hasAlarmTopic.logicalId, [alarmTopicArn.valueAsString], Aws.NO_VALUE);
      cfn.addPropertyOverride("AlarmActions", actions);
      cfn.addPropertyOverride("OKActions", actions);
      cfn.overrideLogicalId(id);
    };
    emfAlarm("ResyncOverdueAlarm",
      "No resync completed within twice ResyncIntervalMinutes (the resync's schedule tick reports ResyncOverdue " +
      "at every tick; no data means the tick itself stopped). See the resync logs and the last run's state in Port.",
      "ResyncOverdue", "resync", "Maximum", 900, 2, 0, cloudwatch.TreatMissingData.BREACHING);
    emfAlarm("SignatureFailuresAlarm",
      "Webhook deliveries fail their signature check: the webhook secret in Secrets Manager differs from GitHub's " +
      "(or someone is posting to the URL). Fix the secret, then redeliver them.",
      "SignatureFailures", "webhook", "Sum", 300, 1, signatureFailuresAlarmThreshold.valueAsNumber,
      cloudwatch.TreatMissingData.NOT_BREACHING);
    emfAlarm("WorkerPermanentFailuresAlarm",
      "The worker failed live events for good (sent to the events dead-letter queue with their reason, or " +
      "unreadable). Fix the cause, then replay the dead-letter queue (README, \"Dead-letter queue\").",
      "EventsFailed", "worker", "Sum", 300, 1, 0, cloudwatch.TreatMissingData.NOT_BREACHING);

    // The dashboard: the body in infra/dashboard.json, the same text the SAM template holds inline
    // (infra/tests/test_policies.py checks that they are equal).
    // Compiled to infra/cdk/build/lib (or run from infra/cdk/lib by ts-node): look upwards for it.
    const dashboardFile = [path.join(__dirname, "..", "..", "..", "dashboard.json"), path.join(__dirname, "..", "..", "dashboard.json")]
      .find((candidate) => fs.existsSync(candidate));
    if (!dashboardFile) {
      throw new Error(`infra/dashboard.json not found from ${__dirname}`);
    }
    const dashboardBody = fs.readFileSync(dashboardFile, "utf8");
    new cloudwatch.CfnDashboard(this, "Dashboard", {
      dashboardName: Fn.sub("${AWS::StackName}-port-github"),
      dashboardBody: Fn.sub(dashboardBody, {
        Namespace: metricsNamespace,
        EventsQueueName: eventsQueue.queueName,
        EventsDeadLetterQueueName: eventsDeadLetterQueue.queueName,
        ResyncJobsQueueName: resyncJobsQueue.queueName,
        ResyncJobsDeadLetterQueueName: resyncJobsDeadLetterQueue.queueName,
      }),
    }).overrideLogicalId("Dashboard");

    // ------------------------------------------------------------------ outputs
    // Output names as in the SAM template; construct ids get a prefix because a few equal parameter names.
    const output = (id: string, value: string, description?: string) =>
      new CfnOutput(this, `Output${id}`, { value, description }).overrideLogicalId(id);
    output("WebhookUrl", webhookUrl.url, "Point the GitHub App's (or organization's) webhook here, content type application/json.");
    output("WebhookSecretArn", webhookSecretArnValue);
    output("GitHubCredentialsSecretArn", gitHubSecretArn);
    output("PortCredentialsSecretArn", portSecretArn);
    output("EventsQueueUrl", eventsQueue.queueUrl);
    output("EventsDeadLetterQueueUrl", eventsDeadLetterQueue.queueUrl);
    output("ResyncJobsQueueUrl", resyncJobsQueue.queueUrl);
    output("ResyncJobsDeadLetterQueueUrl", resyncJobsDeadLetterQueue.queueUrl);
    output("StateTableName", stateTable.tableName);
    output("WebhookFunctionName", webhook.functionName);
    output("WorkerFunctionName", worker.functionName);
    output("ResyncFunctionName", resync.functionName);
  }
}

/** `<artifactsDir>/<binary>`, which must hold the `bootstrap` that `cargo lambda build` made. */
function binaryDir(artifactsDir: string, binary: string): string {
  const dir = path.join(artifactsDir, binary);
  if (!fs.existsSync(path.join(dir, "bootstrap"))) {
    throw new Error(
      `no Lambda build of '${binary}' at ${dir}/bootstrap: run \`cargo lambda build --release ` +
        "--bin webhook --bin worker --bin resync` at the repository root (add --arm64 with -c/parameter " +
        "Architecture=arm64), or pass -c artifactsDir=DIR",
    );
  }
  return dir;
}
