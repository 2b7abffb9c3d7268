//! The request body as one deployment gets it: `drop_params` (request, deployment, then
//! `litellm_settings`) removes what the provider's translation would refuse, and the deployment's
//! `additional_drop_params` are always removed.

use gateway_core::config::{Config, Deployment, Provider};
use gateway_core::policy::RequestPolicy;
use serde_json::{Map, Value};

/// `body` adjusted for `d`.
pub fn for_deployment(
    config: &Config,
    d: &Deployment,
    request: &RequestPolicy,
    body: &Map<String, Value>,
) -> Map<String, Value> {
    let mut body = body.clone();
    let drop = request
        .drop_params
        .or(d.policy.drop_params)
        .unwrap_or(config.router.drop_params);
    if drop && matches!(d.provider, Provider::Anthropic | Provider::Gemini) {
        translate::params::drop_untranslatable(&mut body, d.provider.name());
    }
    for key in &d.policy.additional_drop_params {
        body.remove(key);
    }
    body
}
