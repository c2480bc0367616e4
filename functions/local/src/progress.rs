//! A text display of a resync's progress and its summary, for `resync` and `demo`: one line per
//! kind from the run's counters (`items-<kind>`: raw objects listed, `entities-<kind>`: entities
//! mapped). On a terminal the lines are redrawn in place; otherwise a kind's line is printed
//! when its figures change. Formatting and writing only; the counters come from the core.

use std::collections::BTreeMap;
use std::io::Write;

use port_github_core::resync::RunSummary;

/// Listed and mapped so far, per kind.
type Figures = BTreeMap<String, (i64, i64)>;

pub struct Progress<W: Write> {
    out: W,
    /// Redraw the lines in place (a terminal) instead of printing changes.
    redraw: bool,
    /// Lines on screen from the last redraw.
    drawn: usize,
    shown: Figures,
}

impl<W: Write> Progress<W> {
    pub fn new(out: W, redraw: bool) -> Self {
        Self {
            out,
            redraw,
            drawn: 0,
            shown: Figures::new(),
        }
    }

    /// Shows the run's counters (the driver calls this after every round of jobs). Output
    /// errors are ignored: the display is a courtesy, the run goes on.
    pub fn update(&mut self, counters: &BTreeMap<String, i64>) {
        let figures = figures(counters);
        if self.redraw {
            let mut text = String::new();
            if self.drawn > 0 {
                text.push_str(&format!("\x1b[{}A", self.drawn));
            }
            text.push_str(&format!("\r\x1b[2K{}\n", jobs_line(counters)));
            for (kind, (items, entities)) in &figures {
                text.push_str(&format!(
                    "\r\x1b[2K{}\n",
                    kind_line(kind, *items, *entities)
                ));
            }
            self.drawn = figures.len() + 1;
            let _ = self.out.write_all(text.as_bytes());
        } else {
            for (kind, figures) in &figures {
                if self.shown.get(kind) != Some(figures) {
                    let _ = writeln!(self.out, "{}", kind_line(kind, figures.0, figures.1));
                }
            }
        }
        let _ = self.out.flush();
        self.shown = figures;
    }
}

fn figures(counters: &BTreeMap<String, i64>) -> Figures {
    let mut figures = Figures::new();
    for (name, value) in counters {
        if let Some(kind) = name.strip_prefix("items-") {
            figures.entry(kind.to_owned()).or_default().0 = *value;
        } else if let Some(kind) = name.strip_prefix("entities-") {
            figures.entry(kind.to_owned()).or_default().1 = *value;
        }
    }
    figures
}

fn count(counters: &BTreeMap<String, i64>, name: &str) -> i64 {
    counters.get(name).copied().unwrap_or(0)
}

fn jobs_line(counters: &BTreeMap<String, i64>) -> String {
    let mut line = format!(
        "  jobs {}/{}",
        count(counters, "done"),
        count(counters, "queued")
    );
    if count(counters, "failed") > 0 {
        line.push_str(&format!(", {} failed", count(counters, "failed")));
    }
    line
}

fn kind_line(kind: &str, items: i64, entities: i64) -> String {
    format!("  {kind:<24} {items:>7} listed {entities:>7} entities")
}

/// The summary of a finished run, a few lines. `dry_run`: the entities were printed, not sent.
pub fn summary_lines(summary: &RunSummary, dry_run: bool) -> Vec<String> {
    let counters = &summary.counters;
    let mut lines = Vec::new();
    match &summary.reason {
        Some(reason) => lines.push(format!(
            "resync {} (run {}): {reason}",
            summary.status, summary.run
        )),
        None => lines.push(format!("resync {} (run {})", summary.status, summary.run)),
    }
    let entities: i64 = figures(counters).values().map(|(_, e)| e).sum();
    let sent = if dry_run { "printed" } else { "upserted" };
    let mut line = format!(
        "  repositories {}, entities {entities}: {sent} {}, unchanged {}",
        count(counters, "repositories"),
        count(counters, "upserted"),
        count(counters, "unchanged"),
    );
    for (name, label) in [
        ("refused", "refused by Port"),
        ("field-errors", "field errors"),
        ("failed", "failed jobs"),
    ] {
        if count(counters, name) > 0 {
            line.push_str(&format!(", {label} {}", count(counters, name)));
        }
    }
    lines.push(line);
    for (blueprint, refusals) in &summary.refused {
        lines.push(format!(
            "  refused by Port: {} {blueprint} entities; first reason: {}",
            refusals.count, refusals.first_reason
        ));
    }
    for missing in &summary.missing_permissions {
        lines.push(format!(
            "  missing GitHub App permission on {}: \"{}\" ({}) for {}",
            missing.organization,
            missing.title,
            missing.level.as_str(),
            missing.kinds.join(", ")
        ));
    }
    if dry_run {
        lines.push("  dry run: nothing was written to Port or deleted".to_owned());
    } else if let Some(cleanup) = &summary.cleanup {
        let mut line = format!(
            "  cleanup: owned {}, seen {}, stale {}, deleted {}",
            cleanup.owned, cleanup.seen, cleanup.stale, cleanup.deleted
        );
        if cleanup.not_deleted > 0 {
            line.push_str(&format!(", not deleted {}", cleanup.not_deleted));
        }
        if cleanup.written_live > 0 {
            line.push_str(&format!(", kept as written live {}", cleanup.written_live));
        }
        if cleanup.missing > 0 {
            line.push_str(&format!(", missing from Port {}", cleanup.missing));
        }
        if !cleanup.protected_kinds.is_empty() {
            line.push_str(&format!(
                ", kept (not available): {}",
                cleanup.protected_kinds.join(", ")
            ));
        }
        if let Some(skipped) = &cleanup.skipped {
            line.push_str(&format!("; nothing deleted: {skipped}"));
        }
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counters(pairs: &[(&str, i64)]) -> BTreeMap<String, i64> {
        pairs.iter().map(|(n, v)| ((*n).to_owned(), *v)).collect()
    }

    #[test]
    fn plain_output_prints_a_kind_when_its_figures_change() {
        let mut out = Vec::new();
        let mut progress = Progress::new(&mut out, false);
        progress.update(&counters(&[
            ("items-repository", 2),
            ("entities-repository", 2),
        ]));
        progress.update(&counters(&[
            ("items-repository", 2),
            ("entities-repository", 2),
            ("items-issue", 5),
        ]));
        let text = String::from_utf8_lossy(&out).into_owned();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(lines[0].contains("repository") && lines[0].contains("2 listed"));
        assert!(lines[1].contains("issue") && lines[1].contains("5 listed"));
    }

    #[test]
    fn the_summary_names_each_missing_permission() {
        let summary: RunSummary = serde_json::from_value(serde_json::json!({
            "run": "r", "status": "completed", "reason": null,
            "started_at": "2026-01-01T00:00:00Z", "ended_at": "2026-01-01T00:01:00Z",
            "counters": {}, "cleanup": null,
            "missing_permissions": [{"organization": "acme", "permission": "issues",
                "title": "Repository: Issues", "level": "read", "kinds": ["issue"]}]
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        let lines = summary_lines(&summary, false);
        assert!(
            lines.iter().any(|l| l
                == "  missing GitHub App permission on acme: \"Repository: Issues\" (read) for issue"),
            "{lines:?}"
        );
    }

    #[test]
    fn a_terminal_gets_the_lines_redrawn_in_place() {
        let mut out = Vec::new();
        let mut progress = Progress::new(&mut out, true);
        progress.update(&counters(&[("queued", 3), ("items-repository", 1)]));
        progress.update(&counters(&[
            ("queued", 3),
            ("done", 3),
            ("items-repository", 4),
        ]));
        let text = String::from_utf8_lossy(&out).into_owned();
        assert!(
            text.contains("\x1b[2A"),
            "moved up over the two lines: {text:?}"
        );
        assert!(text.contains("jobs 3/3"));
    }
}
