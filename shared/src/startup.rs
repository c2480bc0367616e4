//! What the three Lambda mains share when a container starts: a setting or a secret that is
//! missing or malformed stops the function with one clear line (logged as JSON for CloudWatch,
//! and on stderr for Lambda's init report) and exit status 2, instead of serving requests it
//! cannot handle.

use std::fmt::Display;

/// Logs why `function` cannot start and exits with status 2.
pub fn fail_start(function: &str, error: &dyn Display) -> ! {
    tracing::error!(error = %error, "{function} cannot start");
    eprintln!("{function}: cannot start: {error}");
    std::process::exit(2)
}

/// `result.or_exit("worker")`: the value, or [`fail_start`] with the error.
pub trait OrExit<T> {
    fn or_exit(self, function: &str) -> T;
}

impl<T, E: Display> OrExit<T> for Result<T, E> {
    fn or_exit(self, function: &str) -> T {
        self.unwrap_or_else(|error| fail_start(function, &error))
    }
}
