//! The webhook binary's release size and its start-up time to the first Runtime API poll (a cold
//! start's own share). Builds the release binary first. Run: `cargo bench -p webhook --bench startup`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use port_github_tests::lambda_runtime_api::RuntimeApi;

const RUNS: usize = 30;

fn release_binary() -> PathBuf {
    let workspace = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--release", "--locked", "-p", "webhook"])
        .current_dir(&workspace)
        .status()
        .expect("run cargo build --release");
    assert!(status.success(), "release build failed");
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| workspace.join("target"));
    target.join("release/webhook")
}

#[tokio::main]
async fn main() {
    let binary = release_binary();
    let size = std::fs::metadata(&binary).expect("release binary").len();
    let mut samples = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let runtime = RuntimeApi::start().await.unwrap();
        let mut command = Command::new(&binary);
        command
            .env_clear()
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (key, value) in runtime.lambda_env("webhook") {
            command.env(key, value);
        }
        command
            .env("WEBHOOK_SECRET", "bench")
            .env(
                "EVENTS_QUEUE_URL",
                "http://127.0.0.1:9/123456789012/events.fifo",
            )
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "x")
            .env("AWS_SECRET_ACCESS_KEY", "x");
        let started = Instant::now();
        let mut child = command.spawn().expect("spawn");
        let first_poll = loop {
            if let Some(at) = runtime.first_poll() {
                break at;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "no poll within 10 s"
            );
            tokio::time::sleep(Duration::from_micros(200)).await;
        };
        samples.push(first_poll.duration_since(started));
        let _ = child.kill();
        let _ = child.wait();
    }
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "webhook release binary: {:.2} MB ({size} bytes)",
        size as f64 / 1_000_000.0
    );
    println!(
        "start-up to first Runtime API poll over {RUNS} runs: median {:.1} ms, p90 {:.1} ms, max {:.1} ms",
        ms(samples[RUNS / 2]),
        ms(samples[RUNS * 9 / 10]),
        ms(samples[RUNS - 1])
    );
}
