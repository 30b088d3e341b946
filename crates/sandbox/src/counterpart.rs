//! Each simulator as the sandbox counterpart of the providers it stands in for.
//!
//! A host in its sandbox profile asks every [`Counterpart`] of a registered provider to start its
//! simulator ([`Counterpart::simulate`]), serves the simulators' routers on one
//! [`SandboxServer`](crate::SandboxServer), and then points each provider's configuration section
//! at it ([`Simulated::patch`]): endpoints the configuration does not set explicitly become the
//! simulator's, and a provider without a section gets the simulator's credentials. Credentials a
//! section configures are accepted by the simulator, so a sandbox run works with them too.
//!
//! Sections travel as JSON values, as configured, so this crate never depends on an adapter.
//! Patches are JSON merge patches (RFC 7396: `null` removes a key).

use std::{any::Any, collections::BTreeMap, fmt, path::Path};

use axum::Router;
use bonin_domain::{Error, ProviderId};
use serde_json::{Map, Value};

use crate::play::Simulators;

/// The provider sections as configured (`[providers.<id>]`), by provider.
pub type Sections = BTreeMap<ProviderId, Value>;

/// A simulator, as the counterpart of one or more providers.
pub trait Counterpart: Send + Sync + 'static {
    /// The providers it stands in for.
    fn providers(&self) -> &'static [ProviderId];

    /// Starts the simulator, accepting what `sections` configure. `public_url` is the host's public
    /// base URL (where browsers return).
    fn simulate(&self, sections: &Sections, public_url: &str) -> Result<Box<dyn Simulated>, Error>;

    /// Whether the simulator stands in for endpoint `key` of `provider`'s section, given which keys
    /// the configuration sets explicitly (keys within the section). By default every endpoint not
    /// set explicitly is simulated.
    fn stands_in(&self, provider: ProviderId, key: &str, explicit: &dyn Fn(&str) -> bool) -> bool {
        let _ = provider;
        !explicit(key)
    }

    /// Fills in what a configured section leaves to the sandbox, before it is validated and again
    /// before it is built (a merge patch; `None` for nothing).
    fn prepare(
        &self,
        provider: ProviderId,
        section: &Value,
        public_url: &str,
        explicit: &dyn Fn(&str) -> bool,
    ) -> Option<Value> {
        let _ = (provider, section, public_url, explicit);
        None
    }
}

/// A started simulator.
pub trait Simulated: Send + Sync + fmt::Debug + 'static {
    /// Its routes.
    fn router(&self) -> Router;

    /// The merge patch that points `provider`'s section at the simulator served at `base_url`:
    /// `None` when the provider stays as configured (or absent when it is not configured).
    fn patch(
        &self,
        provider: ProviderId,
        configured: Option<&Value>,
        base_url: &str,
        explicit: &dyn Fn(&str) -> bool,
    ) -> Option<Value>;

    /// Approves an app launch as `persona`, as the person would in the provider's app: `None` when
    /// the launch is not this simulator's.
    fn approve(&self, launch: &bonin_domain::Launch, persona: &str) -> Option<Result<(), String>> {
        let _ = (launch, persona);
        None
    }

    /// Adds it to the window players (see [`crate::play::window`]).
    fn players(&self, simulators: Simulators) -> Simulators {
        simulators
    }

    /// Lines for a person setting up a sandbox by hand: endpoints and credentials. May write files
    /// (a key file) into `dir`.
    fn banner(&self, base_url: &str, dir: &Path) -> Vec<String>;

    /// The simulator itself, for tests and tools that drive it.
    fn as_any(&self) -> &dyn Any;
}

/// Applies a JSON merge patch (RFC 7396) to `target`.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(map) = target {
        for (key, value) in patch {
            if value.is_null() {
                map.remove(key);
            } else {
                merge_patch(map.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
    }
}

/// A string value of a section.
pub(crate) fn text(section: Option<&Value>, key: &str) -> Option<String> {
    section.and_then(|s| s.get(key)).and_then(Value::as_str).map(str::to_owned)
}

/// A merge patch from key/value pairs.
pub(crate) fn patch_of(pairs: impl IntoIterator<Item = (&'static str, Value)>) -> Value {
    Value::Object(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

/// The counterparts of every simulator in this crate.
pub fn all() -> Vec<Box<dyn Counterpart>> {
    vec![
        Box::new(crate::nice::Counterpart),
        Box::new(crate::mobileok::Counterpart),
        Box::new(crate::portone::Counterpart),
        Box::new(crate::esignon::Counterpart),
        Box::new(crate::toss::Counterpart),
    ]
}

/// The counterpart standing in for `provider`, if this crate has one.
pub fn of(provider: ProviderId) -> Option<Box<dyn Counterpart>> {
    all().into_iter().find(|c| c.providers().contains(&provider))
}

/// Approves app launches on the simulators that issued them (see [`Simulated::approve`]).
pub type Approvers = std::sync::Arc<dyn Fn(&bonin_domain::Launch, &str) -> Option<Result<(), String>> + Send + Sync>;

/// `POST /_sandbox/play`: plays a launch as a persona through the simulators, for tools that drive
/// flows without a browser (the bench). The body is `{launch, request_info?, persona}` (the
/// launch exactly as bonin's API answered it; `request_info` what bonin's launch URL answers, for
/// providers whose SDK fetches it). For a window the answer is `{return_url, callback}`: where the
/// browser would go back to and with what (`callback.transport` `get` or `post`,
/// `callback.fields`); for an app approval it is `{approved: true}` (bonin learns it by polling).
pub fn play_router(players: Simulators, approvers: Approvers) -> Router {
    use axum::{Json, extract::State, http::StatusCode, routing::post};

    #[derive(serde::Deserialize)]
    struct PlayRequest {
        launch: bonin_domain::Launch,
        #[serde(default)]
        request_info: Option<String>,
        persona: String,
    }

    async fn play(
        State((players, approvers)): State<(Simulators, Approvers)>,
        Json(request): Json<PlayRequest>,
    ) -> Result<Json<Value>, (StatusCode, String)> {
        if let Some(approved) = approvers(&request.launch, &request.persona) {
            return approved
                .map(|()| Json(serde_json::json!({"approved": true})))
                .map_err(|e| (StatusCode::UNPROCESSABLE_ENTITY, e));
        }
        let played = crate::play::window(&players, &request.launch, request.request_info.as_deref(), &request.persona)
            .map_err(|e| (StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))?;
        Ok(Json(serde_json::json!({"return_url": played.return_url, "callback": played.callback})))
    }

    Router::new().route("/_sandbox/play", post(play)).with_state((players, approvers))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_merge_patch_sets_replaces_and_removes() {
        let mut target = serde_json::json!({"a": 1, "b": {"c": 2, "d": 3}, "e": 4});
        merge_patch(&mut target, &serde_json::json!({"a": 5, "b": {"c": null, "x": 6}, "e": null, "f": "g"}));
        assert_eq!(target, serde_json::json!({"a": 5, "b": {"d": 3, "x": 6}, "f": "g"}));
    }
}
