"""Least-privilege and consistency checks on the deployed CloudFormation, for the SAM template and
the CDK app's synthesized template alike.

Usage: python infra/tests/test_policies.py --sam infra/template.yaml [--cdk CDK_TEMPLATE.json]

The SAM template is first translated to plain CloudFormation with the SAM translator (the same one
`sam deploy` uses), so the checks see the roles, event source mappings and permissions that would
really be created. Resources are recognised by what points at them, never by logical id:

- a function by its `port-github:function` tag (webhook, worker, resync);
- the events queue, its dead-letter queue, the resync-jobs queue, the state table and each secret by
  the environment variable that hands it to a function (EVENTS_QUEUE_URL, EVENTS_DLQ_URL,
  RESYNC_QUEUE_URL, STATE_TABLE, WEBHOOK_SECRET_ARN, GITHUB_APP_PRIVATE_KEY_ARN / GITHUB_TOKEN_ARN,
  PORT_CREDENTIALS_ARN);
- a log group by the function's LoggingConfig.

Each function's role may then grant only the actions listed in ALLOWED on those resources, and must
grant the ones in REQUIRED. A self-test then breaks the SAM template in known ways (a '*' resource,
a foreign secret, a managed policy...) and requires each breakage to be caught, so the checks cannot
quietly become vacuous. With --cdk, both templates must also expose the same parameters and outputs.
Prints one line per check and `N passed, N failed` at the end; exits 1
when any check failed.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
from typing import Any, Callable, Iterable

FUNCTION_TAG = "port-github:function"
FUNCTIONS = ("webhook", "worker", "resync")
DATA_SERVICES = ("sqs", "dynamodb", "secretsmanager", "kms", "s3", "sns", "lambda")
# Services a role may name at all; anything else (xray, ec2, iam...) is a failure.
PERMITTED_SERVICES = ("logs", "sqs", "dynamodb", "secretsmanager")

SQS_CONSUME = {
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueAttributes",
    "sqs:GetQueueUrl",
}
DYNAMODB_ITEMS = {
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
}
LOG_WRITE = {"logs:CreateLogStream", "logs:PutLogEvents"}
READ_SECRET = {"secretsmanager:GetSecretValue"}

# function -> resource kind -> actions it may have there (nothing else anywhere).
ALLOWED: dict[str, dict[str, set[str]]] = {
    "webhook": {
        "log-group": LOG_WRITE,
        "events-queue": {"sqs:SendMessage", "sqs:GetQueueUrl"},
        "webhook-secret": READ_SECRET,
    },
    "worker": {
        "log-group": LOG_WRITE,
        "events-queue": SQS_CONSUME,
        # Events that fail for good are sent there with their reason; never read or deleted.
        "events-dlq": {"sqs:SendMessage"},
        "github-secret": READ_SECRET,
        "port-secret": READ_SECRET,
        "mapping-secret": READ_SECRET,
        "state-table": DYNAMODB_ITEMS,
    },
    "resync": {
        "log-group": LOG_WRITE,
        "resync-queue": SQS_CONSUME | {"sqs:SendMessage"},
        "github-secret": READ_SECRET,
        "port-secret": READ_SECRET,
        "webhook-secret": READ_SECRET,
        "mapping-secret": READ_SECRET,
        "state-table": DYNAMODB_ITEMS | {"dynamodb:Query"},
    },
}
# function -> resource kind -> actions it cannot work without.
REQUIRED: dict[str, dict[str, set[str]]] = {
    "webhook": {
        "log-group": LOG_WRITE,
        "events-queue": {"sqs:SendMessage"},
        "webhook-secret": READ_SECRET,
    },
    "worker": {
        "log-group": LOG_WRITE,
        "events-queue": SQS_CONSUME - {"sqs:GetQueueUrl"},
        "events-dlq": {"sqs:SendMessage"},
        "github-secret": READ_SECRET,
        "port-secret": READ_SECRET,
        "mapping-secret": READ_SECRET,
        "state-table": {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"},
    },
    "resync": {
        "log-group": LOG_WRITE,
        "resync-queue": (SQS_CONSUME - {"sqs:GetQueueUrl"}) | {"sqs:SendMessage"},
        "github-secret": READ_SECRET,
        "port-secret": READ_SECRET,
        "webhook-secret": READ_SECRET,
        "mapping-secret": READ_SECRET,
        "state-table": {
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
            "dynamodb:Query",
        },
    },
}
# The settings of the README's configuration tables each function must be given.
GITHUB_AND_PORT = {"GITHUB_API_URL", "GITHUB_APP_ID", "GITHUB_APP_PRIVATE_KEY_ARN", "GITHUB_TOKEN_ARN",
                   "GITHUB_ORGANIZATIONS", "PORT_API_URL", "PORT_CREDENTIALS_ARN", "PORT_INTEGRATION_ID",
                   "PORT_INTEGRATION_TYPE", "PORT_APP_CONFIG_ARN", "PORT_CREATE_RESOURCES", "STATE_TABLE",
                   "SECRET_TTL_SECONDS", "RUST_LOG"}
ENV_REQUIRED = {
    "webhook": {"WEBHOOK_SECRET_ARN", "EVENTS_QUEUE_URL", "MAX_BODY_BYTES", "MAX_MESSAGE_BYTES",
                "SECRET_TTL_SECONDS", "RUST_LOG"},
    # EVENTS_QUEUE_URL: handed-back messages with a known wait get it as their visibility.
    "worker": GITHUB_AND_PORT | {"EVENTS_DLQ_URL", "EVENTS_QUEUE_URL"},
}
ENV_REQUIRED["resync"] = GITHUB_AND_PORT | {
    "RESYNC_QUEUE_URL", "RESYNC_TIME_BUDGET_SECONDS", "RATE_LIMIT_RESERVE", "SEND_RAW_DATA_EXAMPLES",
    "RESYNC_INTERVAL_MINUTES", "WEBHOOK_URL", "WEBHOOK_SECRET_ARN",
}
# Which environment variable names which resource kind.
ENV_KINDS = {
    "EVENTS_QUEUE_URL": "events-queue",
    "EVENTS_DLQ_URL": "events-dlq",
    "RESYNC_QUEUE_URL": "resync-queue",
    "STATE_TABLE": "state-table",
    "WEBHOOK_SECRET_ARN": "webhook-secret",
    "GITHUB_APP_PRIVATE_KEY_ARN": "github-secret",
    "GITHUB_TOKEN_ARN": "github-secret",
    "PORT_CREDENTIALS_ARN": "port-secret",
    "PORT_APP_CONFIG_ARN": "mapping-secret",
}


# ---------------------------------------------------------------------------------------- loading

def translate_sam(path: str) -> dict:
    """SAM → CloudFormation with the SAM translator, offline (no managed policies are looked up)."""
    from cfnlint.decode import decode
    from samtranslator.translator.transform import transform

    template, problems = decode(path)
    if problems or template is None:
        raise SystemExit(f"cannot parse {path}: {problems}")
    template = to_plain(template)
    # What `sam package` does: local code becomes an S3 object.
    for scope in [template.get("Globals", {}).get("Function", {})] + [
        r.get("Properties", {}) for r in template["Resources"].values()
        if r.get("Type") == "AWS::Serverless::Function"
    ]:
        if "CodeUri" in scope:
            scope["CodeUri"] = "s3://deployment-bucket/code.zip"

    class NoManagedPolicies:
        def load(self) -> dict:
            return {}

    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    return transform(template, {}, NoManagedPolicies())


def to_plain(value: Any) -> Any:
    """cfn-lint's YAML nodes → plain dicts, lists and strings."""
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value


# ---------------------------------------------------------------------------------------- helpers

def names_in(expr: Any) -> set[str]:
    """Logical ids (resources or parameters) an expression can evaluate to. '*' for wildcards."""
    if isinstance(expr, str):
        return {"*"} if "*" in expr else {f"literal:{expr}"}
    if isinstance(expr, list):
        return set().union(*(names_in(e) for e in expr)) if expr else set()
    if isinstance(expr, dict) and len(expr) == 1:
        (fn, arg), = expr.items()
        if fn == "Ref":
            return set() if arg == "AWS::NoValue" else {arg}
        if fn == "Fn::GetAtt":
            target = arg[0] if isinstance(arg, list) else arg.split(".")[0]
            return {target}
        if fn == "Fn::If":
            return names_in(arg[1]) | names_in(arg[2])
        if fn == "Fn::Sub":
            text = arg if isinstance(arg, str) else arg[0]
            if "*" in text:
                return {"*"}
            import re
            refs = {m.split(".")[0] for m in re.findall(r"\$\{([^}!]+)\}", text)}
            return {r for r in refs if not r.startswith("AWS::")} or {f"literal:{text}"}
        if fn == "Fn::Join":
            parts = arg[1]
            if any(isinstance(p, str) and "*" in p for p in parts):
                return {"*"}
            out: set[str] = set()
            for p in parts:
                if not isinstance(p, str):
                    out |= {n for n in names_in(p) if not n.startswith("AWS::")}
            return out
    return {f"unknown:{json.dumps(expr)}"}


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


class Checks:
    def __init__(self) -> None:
        self.passed = 0
        self.failed = 0

    def check(self, label: str, ok: bool, detail: str = "") -> bool:
        if ok:
            self.passed += 1
            print(f"ok   {label}")
        else:
            self.failed += 1
            print(f"FAIL {label}{': ' + detail if detail else ''}")
        return ok


# ---------------------------------------------------------------------------------------- checks

def check_template(name: str, t: dict, checks: Checks) -> None:
    res = t.get("Resources", {})
    c = lambda label, ok, detail="": checks.check(f"[{name}] {label}", ok, detail)  # noqa: E731

    # Functions, by tag.
    functions: dict[str, str] = {}
    for lid, r in res.items():
        if r.get("Type") != "AWS::Lambda::Function":
            continue
        tags = {tag.get("Key"): tag.get("Value") for tag in r.get("Properties", {}).get("Tags", [])}
        functions.setdefault(tags.get(FUNCTION_TAG, f"untagged:{lid}"), lid)
    c("exactly the webhook, worker and resync functions", sorted(functions) == sorted(FUNCTIONS),
      f"found {sorted(functions)}")
    if sorted(functions) != sorted(FUNCTIONS):
        return
    props = {f: res[lid]["Properties"] for f, lid in functions.items()}
    env = {f: p.get("Environment", {}).get("Variables", {}) for f, p in props.items()}

    # Resource kinds from the environment variables (and log groups from LoggingConfig).
    kinds: dict[str, dict[str, set[str]]] = {f: {} for f in FUNCTIONS}  # function -> kind -> ids
    all_kinds: dict[str, set[str]] = {}
    for f in FUNCTIONS:
        for var, kind in ENV_KINDS.items():
            if var in env[f]:
                ids = names_in(env[f][var])
                kinds[f].setdefault(kind, set()).update(ids)
                all_kinds.setdefault(kind, set()).update(ids)
        log_group = props[f].get("LoggingConfig", {}).get("LogGroup")
        if log_group is not None:
            kinds[f]["log-group"] = names_in(log_group)
    # Each function knows every secret/queue/table it may touch through its env, except the
    # worker's events queue, which reaches it through the event source mapping.
    mappings = [r["Properties"] for r in res.values() if r.get("Type") == "AWS::Lambda::EventSourceMapping"]
    for m in mappings:
        target = names_in(m.get("FunctionName"))
        for f, lid in functions.items():
            if lid in target:
                source = names_in(m.get("EventSourceArn"))
                kind = next((k for k, ids in all_kinds.items() if source & ids and k.endswith("queue")), None)
                c(f"{f}: its event source is a known queue", kind is not None, str(source))
                if kind:
                    kinds[f].setdefault(kind, set()).update(source)

    for kind in ("events-queue", "events-dlq", "resync-queue", "state-table", "webhook-secret", "github-secret",
                 "port-secret"):
        c(f"a function is handed the {kind}", kind in all_kinds)

    # Settings.
    for f in FUNCTIONS:
        missing = ENV_REQUIRED[f] - set(env[f])
        c(f"{f}: every setting is wired ({len(ENV_REQUIRED[f])})", not missing, f"missing {sorted(missing)}")
        c(f"{f}: runtime provided.al2023, handler bootstrap",
          props[f].get("Runtime") == "provided.al2023" and props[f].get("Handler") == "bootstrap")
        arch = props[f].get("Architectures", [])
        arch_ok = len(arch) == 1 and isinstance(arch[0], dict) and "Ref" in arch[0]
        if arch_ok:
            param = t.get("Parameters", {}).get(arch[0]["Ref"], {})
            arch_ok = param.get("Default") == "x86_64" and set(param.get("AllowedValues", [])) == {"x86_64", "arm64"}
        c(f"{f}: architecture is a parameter, default x86_64, arm64 allowed", arch_ok, str(arch))
        logging_config = props[f].get("LoggingConfig", {})
        c(f"{f}: JSON logs into its own log group", logging_config.get("LogFormat") == "JSON"
          and any(res.get(i, {}).get("Type") == "AWS::Logs::LogGroup"
                  and "RetentionInDays" in res[i].get("Properties", {})
                  for i in names_in(logging_config.get("LogGroup"))))
        for var, value in env[f].items():
            if any(word in var for word in ("SECRET", "KEY", "TOKEN", "CREDENTIALS")) and not var.endswith("_ARN") \
                    and var not in ("SECRET_TTL_SECONDS",):
                c(f"{f}: {var} is not a plain secret value", False, "secrets are passed by ARN only")

    # Roles and their statements.
    roles: dict[str, str] = {}
    for f in FUNCTIONS:
        role_ids = names_in(props[f].get("Role"))
        role_id = next(iter(role_ids)) if len(role_ids) == 1 else None
        ok = role_id is not None and res.get(role_id, {}).get("Type") == "AWS::IAM::Role"
        c(f"{f}: has a role defined in the template", ok, str(role_ids))
        if ok:
            roles[f] = role_id
    c("each function has a role of its own", len(set(roles.values())) == len(roles) == 3)

    for f, role_id in roles.items():
        role = res[role_id]["Properties"]
        c(f"{f}: no managed policies on its role", not role.get("ManagedPolicyArns"),
          str(role.get("ManagedPolicyArns")))
        statements: list[dict] = []
        for policy in role.get("Policies", []):
            statements += as_list(policy["PolicyDocument"]["Statement"])
        for lid, r in res.items():
            if r.get("Type") in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::RolePolicy"):
                p = r.get("Properties", {})
                attached = set().union(*(names_in(x) for x in as_list(p.get("Roles", [])))) if p.get("Roles") else set()
                if p.get("RoleName") is not None:
                    attached |= names_in(p["RoleName"])
                if role_id in attached:
                    statements += as_list(p["PolicyDocument"]["Statement"])
        check_statements(f, statements, kinds[f], c)

    check_plumbing(t, res, functions, props, env, kinds, all_kinds, c)


def check_statements(f: str, statements: list[dict], kinds: dict[str, set[str]], c: Callable) -> None:
    id_kind = {i: k for k, ids in kinds.items() for i in ids}
    granted: dict[str, set[str]] = {}
    problems: list[str] = []
    for s in statements:
        if s.get("Effect") != "Allow":
            continue
        if "NotAction" in s or "NotResource" in s:
            problems.append(f"NotAction/NotResource in {s}")
            continue
        actions = [a for a in as_list(s.get("Action", [])) if isinstance(a, str)]
        targets: set[str] = set()
        for resource in as_list(s.get("Resource", [])):
            targets |= names_in(resource)
        for action in actions:
            service = action.split(":")[0].lower()
            if "*" in action:
                problems.append(f"wildcard action {action}")
                continue
            if service not in PERMITTED_SERVICES:
                problems.append(f"unexpected service action {action}")
                continue
            if "*" in targets:
                what = "data action" if service in DATA_SERVICES else "action"
                problems.append(f"{what} {action} on a '*' resource")
                continue
            for target in targets:
                kind = id_kind.get(target)
                if kind is None:
                    problems.append(f"{action} on {target}, which is not one of its own resources")
                    continue
                granted.setdefault(kind, set()).add(action)
    c(f"{f}: no wildcard, foreign or unexpected grants", not problems, "; ".join(sorted(set(problems))))
    for kind, actions in sorted(granted.items()):
        extra = actions - ALLOWED[f].get(kind, set())
        c(f"{f}: only allowed actions on its {kind}", not extra, f"extra {sorted(extra)}")
    for kind, needed in sorted(REQUIRED[f].items()):
        missing = needed - granted.get(kind, set())
        c(f"{f}: can do what it needs on its {kind}", not missing, f"missing {sorted(missing)}")
    if f == "webhook":
        c("webhook: no DynamoDB access at all",
          not any(a.startswith("dynamodb:") for acts in granted.values() for a in acts))
        c("webhook: no access to the GitHub or Port secrets",
          "github-secret" not in granted and "port-secret" not in granted)
    if f == "worker":
        c("worker: no webhook secret and no resync queue", "webhook-secret" not in granted and "resync-queue" not in granted)
    if f != "worker":
        c(f"{f}: no access to the events dead-letter queue", "events-dlq" not in granted)


def check_plumbing(t, res, functions, props, env, kinds, all_kinds, c) -> None:
    def single(kind: str) -> str | None:
        ids = [i for i in all_kinds.get(kind, set()) if res.get(i, {}).get("Type", "").startswith("AWS::")]
        return ids[0] if len(ids) == 1 else None

    events_q, resync_q, table = single("events-queue"), single("resync-queue"), single("state-table")
    c("one events queue, one resync-jobs queue, one table", None not in (events_q, resync_q, table))
    if None in (events_q, resync_q, table):
        return
    eq, rq = res[events_q]["Properties"], res[resync_q]["Properties"]
    c("events queue is FIFO", eq.get("FifoQueue") is True or eq.get("FifoQueue") == "true")
    c("resync-jobs queue is a standard queue (per-message delays)", not rq.get("FifoQueue"))
    c("events queue size is the webhook's MAX_MESSAGE_BYTES",
      eq.get("MaximumMessageSize") is not None and eq.get("MaximumMessageSize") == env["webhook"].get("MAX_MESSAGE_BYTES"),
      f"{eq.get('MaximumMessageSize')} vs {env['webhook'].get('MAX_MESSAGE_BYTES')}")
    for label, q in (("events", eq), ("resync-jobs", rq)):
        redrive = q.get("RedrivePolicy", {})
        dlq_ids = names_in(redrive.get("deadLetterTargetArn"))
        dlq = next((i for i in dlq_ids if res.get(i, {}).get("Type") == "AWS::SQS::Queue"), None)
        c(f"{label} queue has a DLQ and a receive count", dlq is not None and "maxReceiveCount" in redrive)
        if label == "events":
            given = names_in(env["worker"].get("EVENTS_DLQ_URL"))
            c("worker: EVENTS_DLQ_URL is the events queue's dead-letter queue", dlq is not None and given == {dlq},
              f"{sorted(given)} vs {dlq}")
        if dlq:
            fifo = bool(res[dlq]["Properties"].get("FifoQueue"))
            c(f"{label} DLQ is {'FIFO' if q.get('FifoQueue') else 'standard'} like its queue", fifo == bool(q.get("FifoQueue")))
            alarmed = any(r.get("Type") == "AWS::CloudWatch::Alarm"
                          and r["Properties"].get("MetricName") == "ApproximateNumberOfMessagesVisible"
                          and any(dlq in names_in(d.get("Value")) for d in r["Properties"].get("Dimensions", []))
                          for r in res.values())
            c(f"{label} DLQ depth has an alarm", alarmed)
        aged = any(r.get("Type") == "AWS::CloudWatch::Alarm"
                   and r["Properties"].get("MetricName") == "ApproximateAgeOfOldestMessage"
                   and any(names_in(d.get("Value")) & {events_q if label == "events" else resync_q}
                           for d in r["Properties"].get("Dimensions", []))
                   for r in res.values())
        c(f"{label} queue's oldest message age has an alarm", aged)

    for f, lid in functions.items():
        alarmed = any(r.get("Type") == "AWS::CloudWatch::Alarm" and r["Properties"].get("MetricName") == "Errors"
                      and any(lid in names_in(d.get("Value")) for d in r["Properties"].get("Dimensions", []))
                      for r in res.values())
        c(f"{f}: errors have an alarm", alarmed)

    url_alarmed = any(r.get("Type") == "AWS::CloudWatch::Alarm" and r["Properties"].get("MetricName") == "Url5xxCount"
                      and any(functions["webhook"] in names_in(d.get("Value")) for d in r["Properties"].get("Dimensions", []))
                      for r in res.values())
    c("webhook: 5xx answers to GitHub have an alarm", url_alarmed)

    # Event source mappings.
    for f, queue_id, q in (("worker", events_q, eq), ("resync", resync_q, rq)):
        m = next((r["Properties"] for r in res.values() if r.get("Type") == "AWS::Lambda::EventSourceMapping"
                  and functions[f] in names_in(r["Properties"].get("FunctionName"))
                  and queue_id in names_in(r["Properties"].get("EventSourceArn"))), None)
        c(f"{f}: consumes its queue", m is not None)
        if m is None:
            continue
        c(f"{f}: ReportBatchItemFailures", "ReportBatchItemFailures" in m.get("FunctionResponseTypes", []))
        c(f"{f}: maximum concurrency set", "MaximumConcurrency" in m.get("ScalingConfig", {}))
        batch = m.get("BatchSize")
        c(f"{f}: batch size set (1..10)", isinstance(batch, int) and 1 <= batch <= 10, str(batch))
        if q.get("FifoQueue"):
            c(f"{f}: no batching window on a FIFO source", not m.get("MaximumBatchingWindowInSeconds"))
        timeout, visibility = props[f].get("Timeout"), q.get("VisibilityTimeout")
        c(f"{f}: queue visibility timeout >= 6 x function timeout",
          isinstance(timeout, int) and isinstance(visibility, int) and visibility >= 6 * timeout,
          f"timeout {timeout}, visibility {visibility}")
    c("webhook: timeout within GitHub's 10 s", isinstance(props["webhook"].get("Timeout"), int)
      and props["webhook"]["Timeout"] <= 10)

    # Function URL and its output.
    urls = [(lid, r["Properties"]) for lid, r in res.items() if r.get("Type") == "AWS::Lambda::Url"]
    c("one Function URL, on the webhook, auth NONE",
      len(urls) == 1 and functions["webhook"] in names_in(urls[0][1].get("TargetFunctionArn"))
      and urls[0][1].get("AuthType") == "NONE")
    if urls:
        outputs = t.get("Outputs", {})
        c("the webhook URL is a stack output", any(
            o.get("Value") == {"Fn::GetAtt": [urls[0][0], "FunctionUrl"]} for o in outputs.values()))

    # Schedule.
    rules = [r["Properties"] for r in res.values() if r.get("Type") == "AWS::Events::Rule"]
    resync_rules = [r for r in rules if "ScheduleExpression" in r
                    and any(functions["resync"] in names_in(tg.get("Arn")) for tg in r.get("Targets", []))]
    c("an EventBridge schedule targets the resync", bool(resync_rules))
    # A tick: the resync decides when a run is due, so a new stack syncs within minutes.
    c("the resync schedule ticks every minute",
      bool(resync_rules) and all(r["ScheduleExpression"] == "rate(1 minute)" for r in resync_rules),
      str([r.get("ScheduleExpression") for r in resync_rules]))

    # Rules that refuse a stack which could never sync.
    def rule_ties(rule: dict, mode: str, parameter: str) -> bool:
        text = json.dumps(rule)
        return f'"{mode}"' in text and "GitHubAuthMode" in text and f'"Ref": "{parameter}"' in text
    template_rules = list(t.get("Rules", {}).values())
    c("a Rule requires GitHubAppId in app mode", any(rule_ties(r, "app", "GitHubAppId") for r in template_rules))
    c("a Rule requires GitHubOrganizations in token mode",
      any(rule_ties(r, "token", "GitHubOrganizations") for r in template_rules))

    # The deployer's mapping secret: optional, read only by the worker and the resync.
    mapping_ids = all_kinds.get("mapping-secret", set())
    c("mapping-secret: given by ARN parameter only (PORT_APP_CONFIG_ARN of the worker and resync)",
      bool(mapping_ids) and all(i in t.get("Parameters", {}) for i in mapping_ids)
      and all("PORT_APP_CONFIG_ARN" in env[f] for f in ("worker", "resync")), str(sorted(mapping_ids)))

    # State table.
    tp = res[table]["Properties"]
    c("state table is on-demand with a TTL attribute", tp.get("BillingMode") == "PAY_PER_REQUEST"
      and tp.get("TimeToLiveSpecification", {}).get("Enabled") in (True, "true"))

    # Secrets are never inlined.
    for lid, r in res.items():
        if r.get("Type") == "AWS::SecretsManager::Secret":
            c(f"secret {lid} has no inline value", "SecretString" not in r.get("Properties", {}))
    for kind in ("webhook-secret", "github-secret", "port-secret"):
        ids = all_kinds.get(kind, set())
        created = [i for i in ids if res.get(i, {}).get("Type") == "AWS::SecretsManager::Secret"]
        param = [i for i in ids if i in t.get("Parameters", {})]
        c(f"{kind}: created by the stack or given by ARN parameter", len(created) == 1 and len(param) == 1,
          str(sorted(ids)))


def check_metrics(name: str, t: dict, checks: Checks) -> None:
    """The functions' EMF metrics: one namespace per stack given to every function, the dashboard
    (its body the text of infra/dashboard.json) and the alarms on them use only metric names the code
    emits (infra/metrics.json, kept equal to shared/src/metrics by a Rust unit test)."""
    import re
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    with open(os.path.join(root, "metrics.json")) as f:
        emitted = {m["name"] for m in json.load(f)["metrics"]}
    with open(os.path.join(root, "dashboard.json")) as f:
        dashboard_text = f.read()
    namespace = {"Fn::Sub": "PortGitHub/${AWS::StackName}"}
    res = t.get("Resources", {})
    functions = {k: v for k, v in res.items() if v.get("Type") == "AWS::Lambda::Function"}
    without = [k for k, v in functions.items()
               if v.get("Properties", {}).get("Environment", {}).get("Variables", {}).get("METRICS_NAMESPACE") != namespace]
    checks.check(f"[{name}] every function has METRICS_NAMESPACE PortGitHub/<stack>", bool(functions) and not without,
                 ", ".join(without))
    alarms = {}
    for key, v in res.items():
        props = v.get("Properties", {})
        if v.get("Type") == "AWS::CloudWatch::Alarm" and props.get("Namespace") == namespace:
            dims = {d["Name"]: d["Value"] for d in props.get("Dimensions", [])}
            alarms[key] = (props.get("MetricName"), dims.get("Function"), props.get("Statistic"),
                           props.get("TreatMissingData"))
    want = {
        "ResyncOverdueAlarm": ("ResyncOverdue", "resync", "Maximum", "breaching"),
        "SignatureFailuresAlarm": ("SignatureFailures", "webhook", "Sum", "notBreaching"),
        "WorkerPermanentFailuresAlarm": ("EventsFailed", "worker", "Sum", "notBreaching"),
    }
    checks.check(f"[{name}] the alarms on the functions' metrics", alarms == want, f"{alarms} != {want}")
    unknown = sorted({a[0] for a in alarms.values()} - emitted)
    checks.check(f"[{name}] alarms use emitted metrics", not unknown, ", ".join(unknown))
    dashboards = [v for v in res.values() if v.get("Type") == "AWS::CloudWatch::Dashboard"]
    body = dashboards[0].get("Properties", {}).get("DashboardBody") if len(dashboards) == 1 else None
    text = body.get("Fn::Sub", [None])[0] if isinstance(body, dict) and isinstance(body.get("Fn::Sub"), list) else None
    checks.check(f"[{name}] one dashboard, its body infra/dashboard.json", text == dashboard_text)
    used = set(re.findall(r'"\$\{Namespace\}", "(\w+)"', dashboard_text))
    used |= set(re.findall(r'MetricName=\\"(\w+)\\"', dashboard_text))
    unknown = sorted(used - emitted)
    checks.check(f"[{name}] the dashboard shows emitted metrics", bool(used) and not unknown, ", ".join(unknown))


def check_same_interface(sam: dict, cdk: dict, checks: Checks) -> None:
    """The two templates are one product: same parameters (defaults, allowed values) and outputs."""
    cdk_only = {"BootstrapVersion"}  # the CDK's own bootstrap check
    sam_params, cdk_params = sam.get("Parameters", {}), cdk.get("Parameters", {})
    names_ok = set(sam_params) == set(cdk_params) - cdk_only
    checks.check("[both] the same parameters", names_ok,
                 f"only SAM: {sorted(set(sam_params) - set(cdk_params))}, "
                 f"only CDK: {sorted(set(cdk_params) - set(sam_params) - cdk_only)}")
    differing = []
    for name in set(sam_params) & set(cdk_params):
        a, b = sam_params[name], cdk_params[name]
        for key in ("Type", "Default", "AllowedValues", "AllowedPattern", "MinValue", "MaxValue"):
            va, vb = a.get(key), b.get(key)
            norm = (lambda v: [str(x) for x in v] if isinstance(v, list) else (None if v is None else str(v)))
            if norm(va) != norm(vb):
                differing.append(f"{name}.{key}: {va!r} vs {vb!r}")
    checks.check("[both] parameters have the same type, default and constraints", not differing, "; ".join(differing))
    checks.check("[both] the same outputs", set(sam.get("Outputs", {})) == set(cdk.get("Outputs", {})),
                 f"{sorted(set(sam.get('Outputs', {})) ^ set(cdk.get('Outputs', {})))}")


def check_the_checks(sam: dict, checks: Checks) -> None:
    """The checks must fail on a template that breaks the rules: each mutation below must be caught."""
    def role_statements(t: dict, function: str) -> list:
        for r in t["Resources"].values():
            if r.get("Type") == "AWS::Lambda::Function" and {"Key": FUNCTION_TAG, "Value": function} in r["Properties"].get("Tags", []):
                role_id = names_in(r["Properties"]["Role"]).pop()
                return t["Resources"][role_id]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
        raise AssertionError(f"no {function} function")

    def grant(function: str, action: str, resource: Any) -> Callable[[dict], None]:
        return lambda t: role_statements(t, function).append({"Effect": "Allow", "Action": action, "Resource": resource})

    def managed(t: dict) -> None:
        t["Resources"]["WebhookRole"]["Properties"]["ManagedPolicyArns"] = [
            "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"]

    def longer_worker(t: dict) -> None:
        for r in t["Resources"].values():
            if {"Key": FUNCTION_TAG, "Value": "worker"} in r.get("Properties", {}).get("Tags", []):
                r["Properties"]["Timeout"] = 900

    def schedule_at_interval(t: dict) -> None:
        for r in t["Resources"].values():
            if r.get("Type") == "AWS::Events::Rule" and "ScheduleExpression" in r.get("Properties", {}):
                r["Properties"]["ScheduleExpression"] = {"Fn::Sub": "rate(${ResyncIntervalMinutes} minutes)"}
    def no_dead_letters(t: dict) -> None:
        statements = role_statements(t, "worker")
        statements[:] = [s for s in statements if s.get("Sid") != "DeadLetters"]

    mutations = {
        "a '*' resource on sqs:SendMessage": grant("webhook", "sqs:SendMessage", "*"),
        "a wildcard ARN on DynamoDB": grant("resync", "dynamodb:Query", {"Fn::Sub": "arn:aws:dynamodb:*:*:table/*"}),
        "the webhook reading the state table": grant("webhook", "dynamodb:GetItem", {"Fn::GetAtt": ["StateTable", "Arn"]}),
        "the webhook reading the Port secret": grant("webhook", "secretsmanager:GetSecretValue", {"Ref": "PortCredentialsSecret"}),
        "the worker reading the webhook secret": grant("worker", "secretsmanager:GetSecretValue", {"Ref": "WebhookSecret"}),
        "the worker querying the table": grant("worker", "dynamodb:Query", {"Fn::GetAtt": ["StateTable", "Arn"]}),
        "the webhook reading the mapping secret": grant("webhook", "secretsmanager:GetSecretValue", {"Ref": "PortAppConfigSecretArn"}),
        "the schedule at the interval instead of a tick": schedule_at_interval,
        "the worker reading the dead-letter queue": grant("worker", "sqs:ReceiveMessage",
                                                          {"Fn::GetAtt": ["EventsDeadLetterQueue", "Arn"]}),
        "the webhook writing to the dead-letter queue": grant("webhook", "sqs:SendMessage",
                                                              {"Fn::GetAtt": ["EventsDeadLetterQueue", "Arn"]}),
        "the worker without its dead-letter queue": no_dead_letters,
        "a wildcard action": grant("resync", "sqs:*", {"Fn::GetAtt": ["ResyncJobsQueue", "Arn"]}),
        "another service": grant("worker", "s3:GetObject", "arn:aws:s3:::bucket/key"),
        "a managed policy": managed,
        "a worker timeout longer than its queue's visibility allows": longer_worker,
    }
    for label, mutate in mutations.items():
        mutated = copy.deepcopy(sam)
        mutate(mutated)
        quiet = Checks()
        stdout = sys.stdout
        try:
            sys.stdout = open(os.devnull, "w")
            check_template("mutated", mutated, quiet)
        finally:
            sys.stdout.close()
            sys.stdout = stdout
        checks.check(f"[self-test] catches {label}", quiet.failed > 0)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sam", required=True, help="the SAM template (translated before checking)")
    parser.add_argument("--cdk", help="a CloudFormation JSON template synthesized by the CDK app")
    args = parser.parse_args()
    checks = Checks()
    sam = translate_sam(args.sam)
    check_template("sam", sam, checks)
    check_metrics("sam", sam, checks)
    check_the_checks(sam, checks)
    if args.cdk:
        sam_source = to_plain(__import__("cfnlint.decode", fromlist=["decode"]).decode(args.sam)[0])
        with open(args.cdk) as f:
            cdk = json.load(f)
        check_template("cdk", cdk, checks)
        check_metrics("cdk", cdk, checks)
        check_same_interface(sam_source, cdk, checks)
    print(f"{checks.passed} passed, {checks.failed} failed")
    return 1 if checks.failed or not checks.passed else 0


if __name__ == "__main__":
    sys.exit(main())
