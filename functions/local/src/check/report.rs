//! The check's report: lines grouped under headings (GitHub, Port, Sample, AWS), each a pass
//! (`✓ what`), a failure (`✗ what: what is wrong — fix: what to do`) or a check that was not run
//! because one it depends on failed (`- what: not run: why`); a heading that was not checked at
//! all is one line saying how to enable it. Rendering and the closing counts live here; what is
//! checked does not.

/// How one check came out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Pass,
    Fail { wrong: String, fix: String },
    NotRun { because: String },
}

/// One check: what it is about, and how it came out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub what: String,
    pub status: Status,
}

impl Line {
    /// The line as printed (without the heading's indentation).
    pub fn render(&self) -> String {
        match &self.status {
            Status::Pass => format!("✓ {}", self.what),
            Status::Fail { wrong, fix } => format!("✗ {}: {wrong} — fix: {fix}", self.what),
            Status::NotRun { because } => format!("- {}: not run: {because}", self.what),
        }
    }
}

/// The checks under one heading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub heading: &'static str,
    pub lines: Vec<Line>,
    /// Set when the whole heading was not checked: how to enable it.
    pub not_checked: Option<String>,
}

impl Section {
    pub fn new(heading: &'static str) -> Self {
        Self {
            heading,
            lines: Vec::new(),
            not_checked: None,
        }
    }

    /// A heading left out, with one line saying how to enable it.
    pub fn not_checked(heading: &'static str, how_to_enable: impl Into<String>) -> Self {
        Self {
            not_checked: Some(how_to_enable.into()),
            ..Self::new(heading)
        }
    }

    pub fn pass(&mut self, what: impl Into<String>) {
        self.lines.push(Line {
            what: what.into(),
            status: Status::Pass,
        });
    }

    pub fn fail(
        &mut self,
        what: impl Into<String>,
        wrong: impl Into<String>,
        fix: impl Into<String>,
    ) {
        self.lines.push(Line {
            what: what.into(),
            status: Status::Fail {
                wrong: wrong.into(),
                fix: fix.into(),
            },
        });
    }

    pub fn not_run(&mut self, what: impl Into<String>, because: impl Into<String>) {
        self.lines.push(Line {
            what: what.into(),
            status: Status::NotRun {
                because: because.into(),
            },
        });
    }

    /// Whether any check of this heading failed.
    pub fn has_failures(&self) -> bool {
        self.lines
            .iter()
            .any(|line| matches!(line.status, Status::Fail { .. }))
    }
}

/// How many checks passed, failed and were not run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub passed: usize,
    pub failed: usize,
    pub not_run: usize,
}

/// Every heading, in the order printed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub sections: Vec<Section>,
}

impl Report {
    pub fn counts(&self) -> Counts {
        let mut counts = Counts::default();
        for line in self.sections.iter().flat_map(|s| &s.lines) {
            match line.status {
                Status::Pass => counts.passed += 1,
                Status::Fail { .. } => counts.failed += 1,
                Status::NotRun { .. } => counts.not_run += 1,
            }
        }
        counts
    }

    /// True when no check failed (the exit status 0).
    pub fn all_passed(&self) -> bool {
        !self.sections.iter().any(Section::has_failures)
    }

    /// The printed lines: each heading, its checks indented under it, then the counts.
    pub fn render(&self) -> Vec<String> {
        let mut out = Vec::new();
        for section in &self.sections {
            match &section.not_checked {
                Some(how) => out.push(format!("{}: not checked: {how}", section.heading)),
                None => {
                    out.push(section.heading.to_owned());
                    out.extend(section.lines.iter().map(|l| format!("  {}", l.render())));
                }
            }
        }
        let counts = self.counts();
        out.push(format!(
            "{} passed, {} failed, {} not run",
            counts.passed, counts.failed, counts.not_run
        ));
        out
    }
}

/// An error and its causes, `: `-separated (the core's errors say what failed at each level;
/// none carries a secret value).
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        // `#[error(transparent)]` levels repeat their cause: say it once.
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_counts_and_headings_render_as_documented() {
        let mut github = Section::new("GitHub");
        github.pass("token authenticates");
        github.fail("sim-org: events", "missing push", "subscribe to it");
        github.not_run("sample", "the token failed");
        let report = Report {
            sections: vec![
                github,
                Section::not_checked("AWS", "set STATE_TABLE or an *_ARN setting"),
            ],
        };
        assert_eq!(
            report.render(),
            [
                "GitHub",
                "  ✓ token authenticates",
                "  ✗ sim-org: events: missing push — fix: subscribe to it",
                "  - sample: not run: the token failed",
                "AWS: not checked: set STATE_TABLE or an *_ARN setting",
                "1 passed, 1 failed, 1 not run",
            ]
        );
        assert!(!report.all_passed());
    }

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn an_error_chain_names_each_cause_once() {
        let error = Outer(std::io::Error::other("inner"));
        assert_eq!(chain(&error), "outer: inner");
    }
}
