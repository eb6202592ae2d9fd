//! lb-sim's integration tests: determinism and the known shapes of the strategies' behaviour,
//! on short runs (a few seconds of virtual time) so that they stay quick in debug builds.

mod determinism;
mod shapes;

use std::time::Duration;

use lb_sim::{Scenario, Strategy, Summary, catalogue_over, run_all};

/// The catalogue's scenario `name`, over `seconds` of virtual time.
fn scenario(name: &str, seconds: u64) -> Scenario {
    catalogue_over(Duration::from_secs(seconds))
        .into_iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no scenario {name}"))
}

/// The summaries of `strategies` through `scenario` from seed 1, in order.
fn summaries(scenario: &Scenario, strategies: &[Strategy]) -> Vec<Summary> {
    run_all(std::slice::from_ref(scenario), strategies, 1, 2)
        .iter()
        .map(|r| Summary::of(scenario, r))
        .collect()
}
