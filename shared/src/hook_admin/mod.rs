//! Administration of the organization webhook the integration receives events on, through the
//! GitHub client: `reconcile` makes each organization have exactly one hook for our URL with the
//! current secret and the events it is given, `redelivery` asks GitHub once to redeliver each
//! failed delivery, and `upkeep` runs both for one organization (what a scheduled resync does
//! first). It knows nothing of which events the product handles: callers pass that list
//! (`webhook::events::handled_event_names()`).

pub mod reconcile;
pub mod redelivery;
pub mod upkeep;

pub use reconcile::{
    DesiredHook, HookChange, HookError, HookOutcome, OrgHook, PERMISSION_HINT, ensure_org_webhook,
    find_org_webhooks, list_org_hooks, permission_denied, same_url,
};
pub use redelivery::{RedeliveryError, RedeliveryReport, redeliver_failed};
pub use upkeep::{UpkeepError, WebhookUpkeep, upkeep_org_webhook};
