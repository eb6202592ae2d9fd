//! The strategies the simulator runs: lb-selection's own types, named as the bench report names
//! them.

use lb_selection::{
    Bounded, Consistent, FnvHash, Jump, LeastRequest, Maglev, PeakEwma, Random, Rendezvous,
    RoundRobin,
};

use crate::engine;
use crate::record::Record;
use crate::scenario::Scenario;

/// A strategy of lb-selection, with its configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Strategy {
    /// `RoundRobin`.
    RoundRobin,
    /// `Random`.
    Random,
    /// `LeastRequest`, two choices (the default).
    LeastRequest,
    /// `LeastRequest` with `LeastRequest::full_scan()` (nginx's `least_conn`).
    LeastConnections,
    /// `PeakEwma`.
    PeakEwma,
    /// `FnvHash` (pingora's `FNVHash`).
    FnvHash,
    /// `Consistent` (ketama).
    Consistent,
    /// `Maglev`.
    Maglev,
    /// `Rendezvous`.
    Rendezvous,
    /// `Jump`.
    Jump,
    /// `Bounded<Consistent>`, factor 125.
    BoundedConsistent,
}

impl Strategy {
    /// Every strategy, in report order.
    pub const ALL: [Strategy; 11] = [
        Strategy::RoundRobin,
        Strategy::Random,
        Strategy::LeastRequest,
        Strategy::LeastConnections,
        Strategy::PeakEwma,
        Strategy::FnvHash,
        Strategy::Consistent,
        Strategy::Maglev,
        Strategy::Rendezvous,
        Strategy::Jump,
        Strategy::BoundedConsistent,
    ];

    /// The name used in reports (`round_robin`).
    pub fn name(self) -> &'static str {
        match self {
            Strategy::RoundRobin => "round_robin",
            Strategy::Random => "random",
            Strategy::LeastRequest => "least_request",
            Strategy::LeastConnections => "least_conn",
            Strategy::PeakEwma => "peak_ewma",
            Strategy::FnvHash => "fnv_hash",
            Strategy::Consistent => "consistent",
            Strategy::Maglev => "maglev",
            Strategy::Rendezvous => "rendezvous",
            Strategy::Jump => "jump",
            Strategy::BoundedConsistent => "bounded_consistent",
        }
    }

    /// The Rust type, for the guide (`LeastRequest::full_scan()`).
    pub fn rust(self) -> &'static str {
        match self {
            Strategy::RoundRobin => "RoundRobin",
            Strategy::Random => "Random",
            Strategy::LeastRequest => "LeastRequest",
            Strategy::LeastConnections => "LeastRequest (full_scan)",
            Strategy::PeakEwma => "PeakEwma",
            Strategy::FnvHash => "FnvHash",
            Strategy::Consistent => "Consistent",
            Strategy::Maglev => "Maglev",
            Strategy::Rendezvous => "Rendezvous",
            Strategy::Jump => "Jump",
            Strategy::BoundedConsistent => "Bounded<Consistent>",
        }
    }

    /// The strategy named `name`, if any.
    pub fn from_name(name: &str) -> Option<Strategy> {
        Strategy::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Whether the strategy keeps a key on its backend (hashing).
    pub fn hashes(self) -> bool {
        matches!(
            self,
            Strategy::FnvHash
                | Strategy::Consistent
                | Strategy::Maglev
                | Strategy::Rendezvous
                | Strategy::Jump
                | Strategy::BoundedConsistent
        )
    }

    /// Runs `scenario` with this strategy from `seed`.
    pub fn run(self, scenario: &Scenario, seed: u64) -> Record {
        let mut record = match self {
            Strategy::RoundRobin => engine::run::<RoundRobin>(scenario, (), seed),
            Strategy::Random => engine::run::<Random>(scenario, (), seed),
            Strategy::LeastRequest => {
                engine::run::<LeastRequest>(scenario, Default::default(), seed)
            }
            Strategy::LeastConnections => {
                engine::run::<LeastRequest>(scenario, LeastRequest::full_scan(), seed)
            }
            Strategy::PeakEwma => engine::run::<PeakEwma>(scenario, (), seed),
            Strategy::FnvHash => engine::run::<FnvHash>(scenario, (), seed),
            Strategy::Consistent => engine::run::<Consistent>(scenario, Default::default(), seed),
            Strategy::Maglev => engine::run::<Maglev>(scenario, Default::default(), seed),
            Strategy::Rendezvous => engine::run::<Rendezvous>(scenario, (), seed),
            Strategy::Jump => engine::run::<Jump>(scenario, Default::default(), seed),
            Strategy::BoundedConsistent => {
                engine::run::<Bounded<Consistent>>(scenario, Default::default(), seed)
            }
        };
        record.strategy = self.name();
        record
    }
}
