//! The start of a run: takes the lease (a run in progress makes this one skip), reads the
//! mapping from Port when users edit it there, records the start for the schedule, provisions
//! what the run writes to in Port, checks the installations' permissions, records the run as
//! current, reports `running`, tends each organization's webhook and queues the first jobs.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::ledger::CurrentRun;
use super::listing::Scope;
use super::{
    JOB_VERSION, Job, LEASE, Resync, ResyncError, StartOutcome, Task, Trigger, lease,
    permission_check, schedule,
};
use crate::hook_admin::DesiredHook;
use crate::port::ResyncStatus;
use crate::state::LeaseOutcome;
use crate::sync::OrgAccess;

impl Resync {
    /// Starts a run, unless one is in progress.
    pub async fn start(&self) -> Result<StartOutcome, ResyncError> {
        self.start_because(Trigger::Direct, false, None).await
    }

    /// Starts a run for `trigger`, unless one is in progress; `config_read`: the tick has just
    /// read Port's mapping (the run uses that read instead of asking again); `request`: the
    /// pending resync request from Port, handled once this run holds the lease.
    pub(super) async fn start_because(
        &self,
        trigger: Trigger,
        config_read: bool,
        request: Option<DateTime<Utc>>,
    ) -> Result<StartOutcome, ResyncError> {
        let now = self.clock.now();
        let run = format!(
            "{}-{:06x}",
            now.format("%Y%m%dT%H%M%SZ"),
            fastrand::u32(..0x00ff_ffff)
        );
        match self
            .state
            .acquire_lease(
                LEASE,
                &run,
                now,
                lease::first_lease(self.settings.heartbeat),
            )
            .await?
        {
            LeaseOutcome::Held(lease) => {
                let started_at = match self.ledger.current().await {
                    Ok(Some(current)) if current.run == lease.holder => Some(current.started_at),
                    _ => None,
                };
                let started = started_at.map_or_else(|| "unknown".to_owned(), |s| s.to_string());
                tracing::info!(holder = %lease.holder, until = %lease.expires_at, %started,
                    "skipped: run {} in progress, lease until {} (started {started})",
                    lease.holder, lease.expires_at);
                return Ok(StartOutcome::Skipped {
                    holder: lease.holder,
                    until: lease.expires_at,
                    started_at,
                });
            }
            LeaseOutcome::Acquired(lease) => {
                self.note_superseded(&run, now).await;
                self.known_lease.taken(&run, now, lease.expires_at);
            }
        }
        let config = self.port_mapping_for_new_run(config_read).await;
        // The fingerprint a tick compares Port's mapping with: of what Port held (compiling or
        // not, so a broken mapping starts no run at every tick, and its fix does start one), or
        // of the mapping the run falls back on (which provisioning stores in Port).
        let fingerprint = match &config {
            Ok(Some(config)) => Some(crate::mapping::config_fingerprint(config)),
            Ok(None) => Some(crate::mapping::config_fingerprint(
                &self.mapping().config().document,
            )),
            Err(_) => None,
        };
        if let Err(error) =
            schedule::record_start(self.state.as_ref(), &run, now, fingerprint).await
        {
            tracing::warn!(%error, "the run's start is not recorded for the schedule");
        }
        if let Some(at) = request
            && let Err(error) =
                schedule::record_request_handled(self.state.as_ref(), at, &run, now).await
        {
            tracing::warn!(%error, "the handled resync request is not recorded; the next tick \
                may start one more run for it");
        }
        tracing::info!(run, reason = %trigger, "resync started ({trigger})");
        let begun = match config {
            Ok(config) => self.begin(&run, now, config, &trigger).await,
            Err(error) => Err(error),
        };
        match begun {
            Ok(outcome) => Ok(outcome),
            Err(error) => {
                self.finish_failed(&run, now, &error.to_string(), Some(&trigger))
                    .await;
                Err(error)
            }
        }
    }

    async fn begin(
        &self,
        run: &str,
        now: DateTime<Utc>,
        mapping: Option<Value>,
        trigger: &Trigger,
    ) -> Result<StartOutcome, ResyncError> {
        if let Some(config) = &mapping {
            self.use_mapping(config)?;
        }
        if let Some(provisioner) = &self.provisioner
            && self.settings.dry_run.is_none()
        {
            // Logged inside; a failure leaves entities to be refused and counted, not the run.
            let _ = provisioner.ensure(&self.port, &self.mapping()).await;
        }
        let mut allowed: Vec<String> = self.settings.organizations.clone().unwrap_or_default();
        allowed.extend(self.mapping().config().organizations.iter().cloned());
        let allowed = (!allowed.is_empty()).then_some(allowed);
        let orgs = self.clients.organizations(allowed.as_deref()).await?;
        if orgs.is_empty() {
            return Err(ResyncError::NothingToSync(
                "no organization: the App is installed nowhere (or nowhere allowed)".into(),
            ));
        }
        let missing_permissions = permission_check::check(
            self.clients.as_ref(),
            &orgs,
            &self.mapping(),
            self.settings.webhook.is_some(),
        )
        .await;
        let current = CurrentRun {
            run: run.to_owned(),
            started_at: now,
            orgs: orgs.clone(),
            mapping,
            missing_permissions,
            trigger: Some(trigger.to_string()),
        };
        self.ledger.set_current(&current).await?;
        self.report(ResyncStatus::Running, Some(now), None).await;
        if let Some(webhook) = &self.settings.webhook {
            let desired = DesiredHook::new(
                &webhook.url,
                &webhook.secret,
                crate::webhook::events::handled_event_names(),
            );
            for org in &orgs {
                self.upkeep_webhook(org, &desired, now).await;
            }
        }
        let has_repo_scope = self.first_resource(Scope::Repository, 0).is_some();
        let mut first = Vec::new();
        for org in &orgs {
            let base = Job {
                v: JOB_VERSION,
                run: run.to_owned(),
                id: String::new(),
                org: org.login.clone(),
                installation: org.installation,
                task: Task::Cleanup,
                attempt: 0,
                not_before: None,
            };
            if let Some(resource) = self.first_resource(Scope::Organization, 0) {
                first.push(base.child(
                    format!("{}/~#0", org.login),
                    Task::Org {
                        resource,
                        cursor: None,
                        part: 0,
                    },
                ));
            }
            if has_repo_scope {
                first.push(base.child(
                    format!("{}/~repos#0", org.login),
                    Task::Repositories {
                        cursor: None,
                        page: 0,
                    },
                ));
            }
        }
        let count = first.len();
        if count == 0 {
            return Err(ResyncError::NothingToSync(
                "the mapping has no resource of a kind this integration lists".into(),
            ));
        }
        self.ledger.add(run, &[("queued", count as i64)]).await?;
        self.queue
            .send(first.iter().map(Job::to_body).collect(), Duration::ZERO)
            .await?;
        Ok(StartOutcome::Started {
            run: run.to_owned(),
            jobs: count,
            trigger: trigger.clone(),
        })
    }

    async fn upkeep_webhook(&self, org: &OrgAccess, desired: &DesiredHook<'_>, now: DateTime<Utc>) {
        let client = match self.clients.for_org(org) {
            Ok(client) => client,
            Err(error) => {
                tracing::warn!(org = %org.login, %error, "webhook upkeep skipped");
                return;
            }
        };
        match crate::hook_admin::upkeep_org_webhook(
            &client,
            &org.login,
            desired,
            self.state.as_ref(),
            now,
        )
        .await
        {
            Ok(upkeep) => tracing::info!(org = %org.login, hook = ?upkeep.hook,
                redelivered = upkeep.redelivery.as_ref().map(|r| r.redelivered.len()),
                "webhook upkeep"),
            Err(error) => tracing::warn!(org = %org.login, error = %error,
                "webhook upkeep failed; the resync goes on"),
        }
    }

    /// With the mapping from Port: reads it afresh, unless `just_read` (the tick did), for the
    /// run to use (`None`: Port has none, and the fallback given at construction is used).
    async fn port_mapping_for_new_run(
        &self,
        just_read: bool,
    ) -> Result<Option<Value>, ResyncError> {
        if !self.mapping_from_port {
            return Ok(None);
        }
        if !just_read {
            self.port.forget_integration_config().await;
        }
        match self.port.integration_config().await? {
            Some(config) if config.get("resources").is_some() => Ok(Some(config)),
            _ => Ok(None),
        }
    }

    /// The index of the first resource of `scope` at or after `from`.
    pub(super) fn first_resource(&self, scope: Scope, from: usize) -> Option<usize> {
        self.mapping()
            .resources()
            .iter()
            .enumerate()
            .skip(from)
            .find(|(_, r)| r.config().kind.scope() == Some(scope))
            .map(|(index, _)| index)
    }
}
