//! What starts a run besides the schedule: a press of the integration's "Resync" button in Port
//! (`GET /v1/integration/{id}/resync-request`) and an edit of the mapping kept in Port's
//! integration record. Each tick (every minute) asks Port at most once for each, with the cached
//! token, and a run starts when the request is newer than the last one handled (item
//! `last-request` of partition `resync`: its `updatedAt` and the run that handled it) or when
//! Port's mapping has another fingerprint than the one the last started run used (recorded in
//! `last-start`). A run in progress is never doubled: the tick only tries to take the lease. The
//! choice made for a press or an edit during a run: it starts one more run **after** that run
//! ends, never folds into it, because the run in progress started before the press (it may have
//! listed already what the user wanted fresh) or with the old mapping. So the request is marked
//! handled only by a run that takes the lease after it was seen, and a changed mapping stays
//! changed until a run starts with it; the first tick after the run ends starts that one run. A
//! failure to ask Port (down, 401, 404 before the record exists) is one warning and counts as
//! "nothing new": the scheduled decision stands.

use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Resync;
use super::schedule::{Due, RunMark};

/// Why a run started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// The schedule said due (`RESYNC_INTERVAL_MINUTES`, or a first run).
    Scheduled,
    /// The "Resync" button was pressed in Port at this time (Port's clock).
    Requested { at: DateTime<Utc> },
    /// The mapping in Port is not the one the last run started with.
    MappingChanged,
    /// Started by a direct call ([`Resync::start`]: the local host, the in-process driver).
    Direct,
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Trigger::Scheduled => f.write_str("scheduled"),
            Trigger::Requested { at } => write!(
                f,
                "requested in Port at {}",
                at.to_rfc3339_opts(SecondsFormat::Secs, true)
            ),
            Trigger::MappingChanged => f.write_str("mapping changed"),
            Trigger::Direct => f.write_str("started directly"),
        }
    }
}

/// The last resync request a run was started for (item `last-request`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandledRequest {
    /// The request's `updatedAt`, as Port gave it.
    pub updated_at: DateTime<Utc>,
    /// The run that took the lease after it was seen.
    pub run: String,
}

/// What Port told a tick; `None` where it was not asked or did not answer.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PortView {
    /// The last press of the "Resync" button.
    pub request: Option<DateTime<Utc>>,
    /// The fingerprint of the mapping in Port, when it holds one ([`port_fingerprint`]).
    pub mapping: Option<u64>,
    /// The integration's record was read afresh by this tick: the run it starts reuses it.
    pub config_read: bool,
}

/// The fingerprint of a mapping read from Port's record, computed as the resync's own
/// (`mapping::config_fingerprint`); `None` when the record holds no mapping (a run then uses
/// the one it was given), so there is nothing to compare.
pub fn port_fingerprint(config: Option<&Value>) -> Option<u64> {
    config
        .filter(|c| c.get("resources").is_some())
        .map(crate::mapping::config_fingerprint)
}

/// The request still to handle, if any: newer than the last one handled. With none handled yet
/// (the first ticks of a stack, or one from before requests were read), the last run's start
/// counts as having handled what was pressed before it (Port's clock against ours, which is
/// at worst one run too many or one press served by the run that just started).
pub fn pending_request(
    request: Option<DateTime<Utc>>,
    handled: Option<&HandledRequest>,
    last_start: Option<&RunMark>,
) -> Option<DateTime<Utc>> {
    let at = request?;
    let handled_up_to = handled
        .map(|h| h.updated_at)
        .or_else(|| last_start.map(|s| s.started_at));
    match handled_up_to {
        Some(up_to) if at <= up_to => None,
        _ => Some(at),
    }
}

/// Whether Port's mapping differs from the one the last started run (the run in progress, if
/// any) used.
pub fn mapping_changed(in_port: Option<u64>, last_start: Option<&RunMark>) -> bool {
    match (in_port, last_start.and_then(|s| s.mapping)) {
        (Some(now), Some(used)) => now != used,
        // Unknown counts as unchanged: Port holds no mapping, nothing started yet (the schedule
        // starts the first run), the run could not read its mapping, or `last-start` was
        // written before the fingerprint was recorded. A stack upgraded to this version, or a
        // Port outage, must not start a run at every tick.
        _ => false,
    }
}

/// The decision: the schedule first, then a request, then a mapping change.
pub fn decide(due: &Due, pending: Option<DateTime<Utc>>, changed: bool) -> Option<Trigger> {
    if *due == Due::Now {
        Some(Trigger::Scheduled)
    } else if let Some(at) = pending {
        Some(Trigger::Requested { at })
    } else if changed {
        Some(Trigger::MappingChanged)
    } else {
        None
    }
}

impl Resync {
    /// Asks Port what the decision needs: the resync request, then the mapping (only when runs
    /// read it from Port and the schedule does not start a run anyway: that run reads it). At
    /// most one GET of each; when the first fails, the second is not tried (one warning).
    pub(super) async fn look_at_port(&self, scheduled: bool) -> PortView {
        let mut view = PortView::default();
        if self.settings.dry_run.is_some() {
            return view;
        }
        match self.port.resync_request().await {
            Ok(request) => view.request = request.map(|r| r.updated_at),
            Err(error) => {
                let cause = std::error::Error::source(&error).map(ToString::to_string);
                tracing::warn!(%error, cause, "Port's resync request and mapping not read: \
                    only the schedule decides this tick");
                return view;
            }
        }
        if self.mapping_from_port && !scheduled {
            // Fresh, not the cached copy: an edit is seen at the next tick.
            self.port.forget_integration_config().await;
            match self.port.integration_config().await {
                Ok(config) => {
                    view.mapping = port_fingerprint(config.as_ref());
                    view.config_read = true;
                }
                Err(error) => {
                    let cause = std::error::Error::source(&error).map(ToString::to_string);
                    tracing::warn!(%error, cause, "Port's mapping not read: a change is seen \
                        at a later tick");
                }
            }
        }
        view
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use serde_json::json;

    fn at(minutes: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + minutes * 60, 0).unwrap()
    }

    fn start(minutes: i64, mapping: Option<u64>) -> RunMark {
        RunMark {
            run: format!("r{minutes}"),
            started_at: at(minutes),
            mapping,
        }
    }

    fn handled(minutes: i64) -> HandledRequest {
        HandledRequest {
            updated_at: at(minutes),
            run: "r".to_owned(),
        }
    }

    #[test]
    fn a_request_is_pending_until_one_as_new_is_handled() {
        assert_eq!(pending_request(None, None, None), None);
        assert_eq!(pending_request(Some(at(5)), None, None), Some(at(5)));
        assert_eq!(pending_request(Some(at(5)), Some(&handled(5)), None), None);
        assert_eq!(
            pending_request(Some(at(6)), Some(&handled(5)), Some(&start(10, None))),
            Some(at(6)),
            "the handled request decides, not the last start"
        );
        // Nothing handled yet: what was pressed before the last start counts as served.
        assert_eq!(
            pending_request(Some(at(5)), None, Some(&start(10, None))),
            None
        );
        assert_eq!(
            pending_request(Some(at(12)), None, Some(&start(10, None))),
            Some(at(12))
        );
    }

    #[test]
    fn an_unknown_fingerprint_is_unchanged() {
        assert!(mapping_changed(Some(1), Some(&start(0, Some(2)))));
        assert!(!mapping_changed(Some(1), Some(&start(0, Some(1)))));
        assert!(!mapping_changed(Some(1), Some(&start(0, None))));
        assert!(!mapping_changed(None, Some(&start(0, Some(1)))));
        assert!(!mapping_changed(Some(1), None));
    }

    #[test]
    fn an_old_last_start_without_fingerprint_still_parses() {
        let old: RunMark =
            serde_json::from_str(r#"{"run": "r0", "started_at": "2027-01-15T08:00:00Z"}"#).unwrap();
        assert_eq!(old.mapping, None);
        assert!(!mapping_changed(Some(7), Some(&old)));
        let new = serde_json::to_value(start(0, Some(7))).unwrap();
        assert_eq!(new["mapping"], json!(7));
    }

    #[test]
    fn the_schedule_comes_first_then_a_request_then_a_mapping_change() {
        let not_due = Due::At(at(60));
        assert_eq!(
            decide(&Due::Now, Some(at(1)), true),
            Some(Trigger::Scheduled)
        );
        assert_eq!(
            decide(&not_due, Some(at(1)), true),
            Some(Trigger::Requested { at: at(1) })
        );
        assert_eq!(decide(&not_due, None, true), Some(Trigger::MappingChanged));
        assert_eq!(decide(&not_due, None, false), None);
    }

    #[test]
    fn a_trigger_says_why_in_words() {
        let requested = Trigger::Requested {
            at: DateTime::from_timestamp(1_796_205_600, 0).unwrap(),
        };
        assert_eq!(
            requested.to_string(),
            "requested in Port at 2026-12-02T10:00:00Z"
        );
        assert_eq!(Trigger::Scheduled.to_string(), "scheduled");
        assert_eq!(Trigger::MappingChanged.to_string(), "mapping changed");
    }

    #[test]
    fn only_a_record_with_resources_has_a_fingerprint() {
        let mapping = json!({"resources": [{"kind": "repository"}]});
        assert_eq!(
            port_fingerprint(Some(&mapping)),
            Some(crate::mapping::config_fingerprint(&mapping))
        );
        assert_eq!(port_fingerprint(Some(&json!({}))), None);
        assert_eq!(port_fingerprint(None), None);
    }
}
