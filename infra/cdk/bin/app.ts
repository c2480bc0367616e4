#!/usr/bin/env node
// The CDK app: one stack, the same resources as ../template.yaml (SAM).
//
// The functions' code is the output of `cargo lambda build --release` (target/lambda/<binary>/bootstrap),
// taken as it is: synth never compiles Rust. Another location: `-c artifactsDir=DIR`.
import * as path from "path";
import { App } from "aws-cdk-lib";
import { PortGithubStack } from "../lib/stack";

const app = new App();
const artifactsDir = String(app.node.tryGetContext("artifactsDir") ?? "../../target/lambda");
const stackName = String(app.node.tryGetContext("stackName") ?? "port-github");

new PortGithubStack(app, "PortGithubStack", {
  stackName,
  artifactsDir: path.resolve(artifactsDir),
  description:
    "GitHub to Port integration: webhook, worker and resync Lambda functions (Rust, provided.al2023), " +
    "queues, state table, secrets, per-function roles, log groups and alarms.",
});
