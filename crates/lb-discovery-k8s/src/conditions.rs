//! How an endpoint's conditions map onto the load balancer's [`Enablement`].
//!
//! | `ready` | `serving` | `terminating` | enablement | why |
//! |---------|-----------|---------------|------------|-----|
//! | true    | any       | any           | [`Enabled`](Enablement::Enabled)   | ready for new traffic (also for `publishNotReadyAddresses` Services, whose endpoints are always ready) |
//! | false   | true      | true          | [`Draining`](Enablement::Draining) | shutting down but still serving: finish in-flight work, send nothing new |
//! | false   | true      | false         | [`Disabled`](Enablement::Disabled) | not ready (a failing readiness probe, or a cluster too old to report `serving`) |
//! | false   | false     | any           | [`Disabled`](Enablement::Disabled) | not serving at all |
//!
//! Missing conditions take the values the Kubernetes API reference gives them
//! (`discovery.k8s.io/v1` `EndpointConditions`): `ready` absent means **true**, `serving`
//! absent means **true**, `terminating` absent means **false**. An endpoint with no conditions
//! at all is therefore enabled.

use k8s_openapi::api::discovery::v1::EndpointConditions;
use lb_core::Enablement;

/// The enablement of an endpoint with these conditions (see the module docs for the table).
///
/// ```
/// use k8s_openapi::api::discovery::v1::EndpointConditions;
/// use lb_core::Enablement;
/// use lb_discovery_k8s::conditions::enablement;
///
/// let terminating = EndpointConditions {
///     ready: Some(false),
///     serving: Some(true),
///     terminating: Some(true),
/// };
/// assert_eq!(enablement(Some(&terminating)), Enablement::Draining);
/// ```
pub fn enablement(conditions: Option<&EndpointConditions>) -> Enablement {
    let (ready, serving, terminating) = match conditions {
        Some(c) => (
            c.ready.unwrap_or(true),
            c.serving.unwrap_or(true),
            c.terminating.unwrap_or(false),
        ),
        None => (true, true, false),
    };
    if ready {
        Enablement::Enabled
    } else if serving && terminating {
        Enablement::Draining
    } else {
        Enablement::Disabled
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(ready: Option<bool>, serving: Option<bool>, terminating: Option<bool>) -> Enablement {
        enablement(Some(&EndpointConditions {
            ready,
            serving,
            terminating,
        }))
    }

    #[test]
    fn the_documented_table() {
        use Enablement::*;
        let t = Some(true);
        let f = Some(false);
        // ready wins whatever else is said.
        for s in [t, f, None] {
            for term in [t, f, None] {
                assert_eq!(
                    of(t, s, term),
                    Enabled,
                    "ready, serving {s:?}, terminating {term:?}"
                );
            }
        }
        assert_eq!(of(f, t, t), Draining);
        assert_eq!(of(f, t, f), Disabled);
        assert_eq!(of(f, f, t), Disabled);
        assert_eq!(of(f, f, f), Disabled);
    }

    #[test]
    fn missing_conditions_take_the_api_defaults() {
        use Enablement::*;
        assert_eq!(enablement(None), Enabled, "no conditions at all");
        assert_eq!(of(None, None, None), Enabled, "ready absent = true");
        assert_eq!(
            of(Some(false), None, Some(true)),
            Draining,
            "serving absent = true"
        );
        assert_eq!(
            of(Some(false), Some(true), None),
            Disabled,
            "terminating absent = false"
        );
        assert_eq!(of(Some(false), None, None), Disabled);
    }
}
