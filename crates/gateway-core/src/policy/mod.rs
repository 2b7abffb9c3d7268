//! Routing policy with LiteLLM's settings and correct semantics: selection (`order`, strategies,
//! per-deployment RPM/TPM), retries, fallbacks, cooldowns and deadlines. Pure logic; the router
//! component supplies time, shared state and the calls through [`run::Effects`].

pub mod classify;
pub mod cooldown;
pub mod request;
pub mod run;
pub mod select;
pub mod settings;

#[cfg(test)]
mod tests;

pub use classify::ErrorClass;
pub use request::RequestPolicy;
pub use run::{route, AttemptLimits, Effects, Job, Routed, Trail};
pub use select::Load;
pub use settings::{DeploymentPolicy, RouterSettings, Strategy};
