//! Phase one of a job, which writes nothing but raw examples: a repositories page lists
//! repositories and drafts one job per repository; an organization or repository job lists each
//! resource of its scope from where it left off, maps what it lists into drafts (`drafts`), and
//! ends in an [`Outcome`]: complete, continue later (out of time, at the rate-limit reserve, or
//! rate-limited with a cursor to resume from), requeue, retry or fail.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::drafts::Draft;
use super::listing::{ListCursor, Lister, Scope, Step};
use super::records::{self, RecordKey, resource_key};
use super::{Job, RepoRef, Resync, Task, delay_until, retry_delay};
use crate::github::kinds::{Repo, organization};
use crate::github::{GitHubClient, GitHubError};
use crate::port::{Entity, MAX_EXAMPLES};
use crate::state::StateError;
use crate::sync::OrgAccess;

/// How a job ended its listing.
pub(super) enum Outcome {
    Complete,
    /// Queue this continuation (after the delay), and count this job done.
    Continue(Box<Job>, Duration),
    /// Queue the same job again unchanged after the delay (nothing was done; not an attempt).
    Requeue(Duration),
    /// A failure that may pass: another attempt after the delay.
    Retry(Duration, String),
    Failed(String),
}

/// What one job gathered (phase one) and what it leads to.
pub(super) struct Gathered {
    pub(super) job: Job,
    pub(super) outcome: Outcome,
    pub(super) children: Vec<Job>,
    pub(super) drafts: Vec<Draft>,
    pub(super) upserts: Vec<(String, Entity)>,
    pub(super) counters: BTreeMap<String, i64>,
    /// Repositories this job listed (a repositories page).
    pub(super) visited: Option<(u32, Vec<String>)>,
    /// Indices of `upserts` left out or undone because the worker deleted them meanwhile.
    pub(super) deleted_live: HashSet<usize>,
}

impl Gathered {
    pub(super) fn new(job: Job) -> Self {
        Self {
            job,
            outcome: Outcome::Complete,
            children: Vec::new(),
            drafts: Vec::new(),
            upserts: Vec::new(),
            counters: BTreeMap::new(),
            visited: None,
            deleted_live: HashSet::new(),
        }
    }

    pub(super) fn count(&mut self, name: String, delta: i64) {
        *self.counters.entry(name).or_default() += delta;
    }
}

impl Resync {
    /// Phase one of a job: list and map, without writing anything.
    pub(super) async fn gather(&self, job: Job, deadline: Instant) -> Gathered {
        let mut gathered = Gathered::new(job.clone());
        let access = OrgAccess {
            login: job.org.clone(),
            installation: job.installation,
        };
        let client = match self.clients.for_org(&access) {
            Ok(client) => client,
            Err(error) => {
                gathered.outcome = self.classify(&job, &error);
                return gathered;
            }
        };
        let result = match &job.task {
            Task::Repositories { cursor, page } => {
                self.gather_repositories(&client, &access, cursor.as_deref(), *page, &mut gathered)
                    .await
            }
            Task::Org {
                resource,
                cursor,
                part,
            } => {
                self.gather_resources(
                    &client,
                    None,
                    *resource,
                    cursor.clone(),
                    *part,
                    deadline,
                    &mut gathered,
                )
                .await
            }
            Task::Repo {
                repo,
                resource,
                cursor,
                part,
            } => {
                let repo = Repo::from(repo.clone());
                self.gather_resources(
                    &client,
                    Some(&repo),
                    *resource,
                    cursor.clone(),
                    *part,
                    deadline,
                    &mut gathered,
                )
                .await
            }
            Task::Cleanup => Ok(()),
        };
        if let Err(failure) = result {
            gathered.outcome = match failure {
                GatherFailure::GitHub(error) => self.classify(&job, &error),
                GatherFailure::State(error) => {
                    Outcome::Retry(retry_delay(job.attempt), error.to_string())
                }
            };
        }
        gathered
    }

    fn classify(&self, job: &Job, error: &GitHubError) -> Outcome {
        match error {
            GitHubError::RateLimited { until, .. } => {
                Outcome::Requeue(delay_until(self.clock.now(), *until))
            }
            GitHubError::Transient { .. } | GitHubError::Auth { .. } => {
                Outcome::Retry(retry_delay(job.attempt), error.to_string())
            }
            _ => Outcome::Failed(error.to_string()),
        }
    }

    async fn gather_repositories(
        &self,
        client: &GitHubClient,
        access: &OrgAccess,
        cursor: Option<&str>,
        page: u32,
        gathered: &mut Gathered,
    ) -> Result<(), GatherFailure> {
        let selector = organization::RepositorySelector {
            included_files: Vec::new(),
            repository_type: Some(self.mapping().config().repository_type.clone()),
        };
        let source = access.repo_source();
        let mut pages = match cursor {
            Some(cursor) => organization::resume_repositories(client, &source, &selector, cursor)?,
            None => organization::list_repositories(client, &source, &selector)?,
        };
        let items = pages
            .next_page()
            .await?
            .map(|p| p.items)
            .unwrap_or_default();
        let first = self.first_resource(Scope::Repository, 0);
        let mut names = Vec::new();
        for item in items {
            let repo = Repo::from_object(item)?;
            names.push(repo.name.clone());
            if let Some(resource) = first {
                gathered.children.push(gathered.job.child(
                    format!("{}/{}#0", access.login, repo.name),
                    Task::Repo {
                        repo: RepoRef::from(&repo),
                        resource,
                        cursor: None,
                        part: 0,
                    },
                ));
            }
        }
        gathered.count("repositories".into(), names.len() as i64);
        gathered.visited = Some((page, names));
        if let Some(next) = pages.cursor() {
            gathered.outcome = Outcome::Continue(
                Box::new(gathered.job.child(
                    format!("{}/~repos#{}", access.login, page + 1),
                    Task::Repositories {
                        cursor: Some(next.to_owned()),
                        page: page + 1,
                    },
                )),
                Duration::ZERO,
            );
        }
        Ok(())
    }

    /// The resources of one scope (the organization's, or one repository's) from `start` on.
    #[allow(clippy::too_many_arguments)]
    async fn gather_resources(
        &self,
        client: &GitHubClient,
        repo: Option<&Repo>,
        start: usize,
        mut cursor: Option<ListCursor>,
        part: u32,
        deadline: Instant,
        gathered: &mut Gathered,
    ) -> Result<(), GatherFailure> {
        let org = gathered.job.org.clone();
        let scope = if repo.is_some() {
            Scope::Repository
        } else {
            Scope::Organization
        };
        let scope_name = repo.map_or(records::ORG_SCOPE.to_owned(), |r| r.name.clone());
        let now = self.clock.now();
        let previous = records::load_scope(self.state.as_ref(), &org, &scope_name, now).await?;
        let mut index = self.first_resource(scope, start);
        let mut first = true;
        while let Some(at) = index {
            let mapping = self.mapping();
            let Some(resource) = mapping.resources().get(at) else {
                gathered.outcome =
                    Outcome::Failed(format!("the mapping has no resource {at} any more"));
                return Ok(());
            };
            let kind = resource.config().kind.as_str();
            // Between resources: stop for the deadline or the reserve, and continue later.
            if !first && let Some(delay) = self.should_stop(client, deadline) {
                gathered.outcome = Outcome::Continue(
                    Box::new(self.continuation(&gathered.job, repo, at, None, part)),
                    delay,
                );
                return Ok(());
            }
            if first && let Some(delay) = self.reserve_reached(client) {
                gathered.outcome = Outcome::Requeue(delay);
                return Ok(());
            }
            first = false;
            let key = RecordKey {
                org: org.clone(),
                scope: scope_name.clone(),
                resource: resource_key(at, kind),
            };
            let previous_record = previous.get(&key.resource).cloned();
            let mut draft = Draft::new(key, kind, previous_record);
            if cursor.is_some() {
                self.load_partials(&gathered.job, &mut draft).await?;
            } else if let Some(checked) = self.recently_not_available(&draft) {
                // A feature that is off here was checked lately: a 403/404 carries no ETag, so
                // asking again every run would cost budget for nothing. Live events still come.
                draft.keep_previous(checked);
                gathered.count(format!("na-{kind}"), 1);
                gathered.count("not-available-skipped".into(), 1);
                gathered.drafts.push(draft);
                index = self.first_resource(scope, at + 1);
                continue;
            }
            let mut lister =
                match Lister::start(client, &org, repo, resource, cursor.take().as_ref()).await {
                    Ok(lister) => lister,
                    Err(GitHubError::NotFound { path, .. }) => {
                        tracing::info!(path, kind, "gone while listing; skipped");
                        index = self.first_resource(scope, at + 1);
                        continue;
                    }
                    Err(error) => return Err(error.into()),
                };
            let mut available = true;
            let mut sent_examples = false;
            loop {
                let step = match lister.next().await {
                    Ok(step) => step,
                    Err(GitHubError::NotFound { path, .. }) => {
                        tracing::info!(path, kind, "gone while listing; skipped");
                        break;
                    }
                    Err(error @ GitHubError::RateLimited { until, .. }) => {
                        // Keep what this resource listed when its list can continue.
                        if let Some(next) = lister.cursor()
                            && !draft.entries.is_empty()
                        {
                            let delay = delay_until(self.clock.now(), until);
                            draft.partial = true;
                            gathered.drafts.push(draft);
                            gathered.outcome = Outcome::Continue(
                                Box::new(self.continuation(
                                    &gathered.job,
                                    repo,
                                    at,
                                    Some(next),
                                    part,
                                )),
                                delay,
                            );
                            return Ok(());
                        }
                        return Err(error.into());
                    }
                    Err(error) => return Err(error.into()),
                };
                match step {
                    Step::Items(items) => {
                        if !sent_examples && !items.is_empty() {
                            sent_examples = true;
                            self.send_examples(kind, &items, gathered).await;
                        }
                        for raw in &items {
                            self.map_raw(resource, raw, &mut draft, gathered);
                        }
                        gathered.count(format!("items-{kind}"), items.len() as i64);
                    }
                    Step::NotAvailable => {
                        available = false;
                        draft.keep_previous(self.clock.now().timestamp());
                        break;
                    }
                    Step::Done => break,
                }
                if let Some(delay) = self.should_stop(client, deadline)
                    && let Some(next) = lister.cursor()
                {
                    draft.partial = true;
                    gathered.drafts.push(draft);
                    gathered.outcome = Outcome::Continue(
                        Box::new(self.continuation(&gathered.job, repo, at, Some(next), part)),
                        delay,
                    );
                    return Ok(());
                }
            }
            if repo.is_some() {
                let tally = if available { "ok" } else { "na" };
                gathered.count(format!("{tally}-{kind}"), 1);
            }
            gathered.drafts.push(draft);
            index = self.first_resource(scope, at + 1);
        }
        Ok(())
    }

    /// When a resource's list last answered "not available", if that was within
    /// `resend_after`.
    fn recently_not_available(&self, draft: &Draft) -> Option<i64> {
        let previous = draft.previous.as_ref()?;
        let checked = previous
            .not_available_at
            .filter(|_| previous.not_available)?;
        let age = self.clock.now().timestamp() - checked;
        (age >= 0 && age < i64::try_from(self.settings.resend_after.as_secs()).unwrap_or(i64::MAX))
            .then_some(checked)
    }

    fn continuation(
        &self,
        job: &Job,
        repo: Option<&Repo>,
        resource: usize,
        cursor: Option<ListCursor>,
        part: u32,
    ) -> Job {
        let part = part + 1;
        match repo {
            Some(repo) => job.child(
                format!("{}/{}#{part}", job.org, repo.name),
                Task::Repo {
                    repo: RepoRef::from(repo),
                    resource,
                    cursor,
                    part,
                },
            ),
            None => job.child(
                format!("{}/~#{part}", job.org),
                Task::Org {
                    resource,
                    cursor,
                    part,
                },
            ),
        }
    }

    /// The delay to continue after, when this job should stop now: its time is up (continue at
    /// once, elsewhere), or the rate-limit reserve is reached (continue after the reset).
    fn should_stop(&self, client: &GitHubClient, deadline: Instant) -> Option<Duration> {
        if let Some(delay) = self.reserve_reached(client) {
            return Some(delay);
        }
        (Instant::now() >= deadline).then_some(Duration::ZERO)
    }

    fn reserve_reached(&self, client: &GitHubClient) -> Option<Duration> {
        let budget = client.budget()?;
        let now = self.clock.now();
        // A budget whose window has passed says nothing any more: the next answer renews it.
        (budget.reset > now && budget.below_reserve(self.settings.rate_limit_reserve))
            .then(|| delay_until(now, budget.reset))
    }

    /// Sends up to [`MAX_EXAMPLES`] raw objects of a kind per run (counted across invocations).
    async fn send_examples(&self, kind: &str, items: &[Value], gathered: &mut Gathered) {
        if !self.settings.send_raw_examples || self.settings.dry_run.is_some() {
            return;
        }
        let memo = (gathered.job.run.clone(), kind.to_owned());
        if let Ok(sent) = self.examples_sent.lock()
            && sent.contains(&memo)
        {
            return;
        }
        let wanted = items.len().min(MAX_EXAMPLES) as i64;
        let name = format!("examples-{kind}");
        let counters = self
            .ledger
            .add(&gathered.job.run, &[(name.as_str(), wanted)])
            .await;
        let Ok(counters) = counters else {
            return;
        };
        let before = counters.get(&name).copied().unwrap_or(wanted) - wanted;
        let room = (MAX_EXAMPLES as i64 - before).clamp(0, wanted) as usize;
        if room == 0 {
            if let Ok(mut sent) = self.examples_sent.lock() {
                // Only this run's are worth remembering.
                sent.retain(|(run, _)| *run == memo.0);
                sent.insert(memo);
            }
            return;
        }
        if let Err(error) = self.port.send_raw_examples(kind, &items[..room]).await {
            tracing::warn!(kind, %error, "raw data examples not sent");
        }
    }
}

pub(super) enum GatherFailure {
    GitHub(GitHubError),
    State(StateError),
}

impl From<GitHubError> for GatherFailure {
    fn from(error: GitHubError) -> Self {
        Self::GitHub(error)
    }
}

impl From<StateError> for GatherFailure {
    fn from(error: StateError) -> Self {
        Self::State(error)
    }
}
