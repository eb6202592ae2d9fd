//! Scenarios: a fleet of servers, a client load, and the changes that happen while it runs; and
//! the catalogue `cargo xtask sim` runs.

use std::time::Duration;

use crate::server::ServerSpec;

/// What happens to the fleet at a point of a run.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Change {
    /// Server `server` turns `factor` times slower: service times are multiplied, and so is the
    /// number of requests it serves at once (it waits on a slow dependency rather than running
    /// out of CPU), so it keeps its capacity in requests per second.
    Slow {
        /// The server's index in [`Scenario::servers`].
        server: usize,
        /// The multiplier of its service times.
        factor: f64,
    },
    /// Server `server` starts failing requests with this probability.
    Failing {
        /// The server's index in [`Scenario::servers`].
        server: usize,
        /// The probability that a request it serves fails.
        probability: f64,
    },
    /// Server `server` leaves the set (a discovery update removes it; its requests in flight
    /// finish).
    Remove {
        /// The server's index in [`Scenario::servers`].
        server: usize,
    },
    /// A new server joins the set (a discovery update adds it).
    Add(ServerSpec),
    /// Every server of the zone goes down: its connections are refused, its queues dropped.
    /// The health check sees it (see [`HealthCheck`]).
    ZoneDown(&'static str),
}

/// How requests are keyed (for the hashing strategies; the others ignore keys).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Keys {
    /// Uniform over this many keys.
    Uniform(u32),
    /// A share of requests (0 to 1) carries one hot key; the rest are uniform over the keys.
    Hot {
        /// The number of other keys.
        keys: u32,
        /// The hot key's share of requests.
        share: f64,
    },
}

/// The active health check the simulator runs: every `interval`, each server is probed; a server
/// that is down fails its probe, and `threshold` results in a row flip its health
/// (`Backends::set_health`, as a `HealthCheck` pass does).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HealthCheck {
    /// Time between probes.
    pub interval: Duration,
    /// Results in a row that flip a server's health.
    pub threshold: u32,
}

impl Default for HealthCheck {
    fn default() -> Self {
        HealthCheck {
            interval: Duration::from_secs(2),
            threshold: 2,
        }
    }
}

/// One scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    /// A short name (`slow-backend`), used for `--scenario` and file names.
    pub name: &'static str,
    /// A title for the report.
    pub title: &'static str,
    /// What the scenario is, for the report.
    pub description: &'static str,
    /// The servers at the start.
    pub servers: Vec<ServerSpec>,
    /// Requests per second, Poisson arrivals.
    pub rate: f64,
    /// How long the run lasts (virtual time).
    pub duration: Duration,
    /// How requests are keyed.
    pub keys: Keys,
    /// The changes, at their times from the start.
    pub changes: Vec<(Duration, Change)>,
    /// The client's zone, for zone-aware routing (`LoadBalancer::set_zone_routing`).
    pub local_zone: Option<&'static str>,
    /// The active health check.
    pub health_check: HealthCheck,
}

impl Scenario {
    /// The fleet's capacity in requests per second (see [`ServerSpec::capacity`]).
    pub fn capacity(&self) -> f64 {
        self.servers.iter().map(ServerSpec::capacity).sum()
    }

    /// The time of the first change that makes servers bad (slow, failing or down), and those
    /// servers: what "time to steer away" is measured from.
    pub fn bad_event(&self) -> Option<(Duration, Vec<usize>)> {
        self.changes.iter().find_map(|(at, change)| {
            let servers = match change {
                Change::Slow { server, .. } | Change::Failing { server, .. } => vec![*server],
                Change::ZoneDown(zone) => (0..self.servers.len())
                    .filter(|&i| self.servers[i].zone == Some(*zone))
                    .collect(),
                _ => return None,
            };
            Some((*at, servers))
        })
    }
}

/// How long the catalogue's runs are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Size {
    /// 60 s of virtual time per run: the report and the guide.
    Full,
    /// 20 s per run: `cargo xtask sim --quick`.
    Quick,
}

impl Size {
    /// The virtual time of each run.
    pub fn duration(self) -> Duration {
        match self {
            Size::Full => Duration::from_secs(60),
            Size::Quick => Duration::from_secs(20),
        }
    }
}

/// Ten standard servers.
fn ten() -> Vec<ServerSpec> {
    vec![ServerSpec::standard(); 10]
}

/// A scenario over `servers` at `utilisation` of their capacity, uniform keys, no change.
fn base(
    name: &'static str,
    title: &'static str,
    description: &'static str,
    servers: Vec<ServerSpec>,
    utilisation: f64,
    duration: Duration,
) -> Scenario {
    let capacity: f64 = servers.iter().map(ServerSpec::capacity).sum();
    Scenario {
        name,
        title,
        description,
        servers,
        rate: (capacity * utilisation).round(),
        duration,
        keys: Keys::Uniform(10_000),
        changes: Vec::new(),
        local_zone: None,
        health_check: HealthCheck::default(),
    }
}

/// Every scenario, in report order, each run for `size`'s duration.
pub fn catalogue(size: Size) -> Vec<Scenario> {
    catalogue_over(size.duration())
}

/// Every scenario, in report order, each run for `d` of virtual time (changes are placed at
/// fractions of it; servers turn bad 5 s in).
pub fn catalogue_over(d: Duration) -> Vec<Scenario> {
    let third = d / 3;
    // Bad things happen after 5 s, once latency estimates and outcome windows have data.
    let bad_at = Duration::from_secs(5);
    let mut slow = base(
        "slow-backend",
        "One backend 10× slower",
        "Ten servers at half their capacity; after 5 s one of them turns ten times slower (a \
         slow dependency: it serves ten times as many requests at once, so it keeps up with its \
         share of the traffic, each request ten times longer).",
        ten(),
        0.5,
        d,
    );
    slow.changes = vec![(
        bad_at,
        Change::Slow {
            server: 0,
            factor: 10.0,
        },
    )];
    let mut failing = base(
        "failing-backend",
        "One backend failing 50 %",
        "Ten servers at half their capacity; after 5 s one of them fails half of its requests \
         (passive health is on, with its defaults).",
        ten(),
        0.5,
        d,
    );
    failing.changes = vec![(
        bad_at,
        Change::Failing {
            server: 0,
            probability: 0.5,
        },
    )];
    let mut churn = base(
        "churn",
        "Churn: one removed, one added",
        "Ten servers at half their capacity; at a quarter of the run one is removed from the set, \
         at a third a new one is added (slow start is on, 10 s: keys moved by the addition are \
         counted once its ramp is over).",
        ten(),
        0.5,
        d,
    );
    churn.changes = vec![
        (d / 4, Change::Remove { server: 3 }),
        (third, Change::Add(ServerSpec::standard())),
    ];
    let weighted = base(
        "weights",
        "Weights 1:2:4",
        "Six servers of weights 1, 2 and 4 (twice each), each serving as many requests at once \
         as its weight says (bigger machines), at 60 % of the fleet's capacity.",
        [1, 2, 4, 1, 2, 4]
            .into_iter()
            .map(|w| ServerSpec::standard().weighted(w))
            .collect(),
        0.6,
        d,
    );
    let overload = base(
        "overload",
        "Near capacity",
        "Ten servers at 90 % of their capacity.",
        ten(),
        0.9,
        d,
    );
    let mut hot = base(
        "hot-key",
        "A hot key",
        "Ten servers at half their capacity; 20 % of the requests carry one key (the others are \
         spread over 10,000 keys): a hashing strategy sends them all to one server.",
        ten(),
        0.5,
        d,
    );
    hot.keys = Keys::Hot {
        keys: 10_000,
        share: 0.2,
    };
    let zones: Vec<ServerSpec> = ["a", "b", "c"]
        .iter()
        .flat_map(|z| std::iter::repeat_n(ServerSpec::standard().in_zone(z), 4))
        .collect();
    let zone_a: f64 = zones[..4].iter().map(ServerSpec::capacity).sum();
    let mut zone = base(
        "zone-lost",
        "A zone lost",
        "Twelve servers in three zones of four; the client is in zone a with zone-aware routing \
         on, so its requests stay in zone a (at half that zone's capacity). At a third of the \
         run zone a goes down: connections are refused until the health check (every 2 s, 2 \
         failures) and passive health take its servers out.",
        zones,
        0.5,
        d,
    );
    zone.rate = (zone_a * 0.5).round();
    zone.local_zone = Some("a");
    zone.changes = vec![(third, Change::ZoneDown("a"))];
    vec![
        base(
            "all-equal",
            "All equal",
            "Ten identical servers at half their capacity.",
            ten(),
            0.5,
            d,
        ),
        slow,
        failing,
        churn,
        weighted,
        overload,
        hot,
        zone,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_covers_the_issue_and_names_are_unique() {
        let all = catalogue(Size::Quick);
        let mut names: Vec<&str> = all.iter().map(|s| s.name).collect();
        assert_eq!(names.len(), 8);
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), 8);
        let slow = all
            .iter()
            .find(|s| s.name == "slow-backend")
            .expect("there");
        assert_eq!(slow.bad_event(), Some((Duration::from_secs(5), vec![0])));
        let zone = all.iter().find(|s| s.name == "zone-lost").expect("there");
        assert_eq!(zone.bad_event().map(|b| b.1), Some(vec![0, 1, 2, 3]));
        // Half of zone a's capacity: a quarter of the rest's after the loss.
        assert!((zone.rate - zone.capacity() / 6.0).abs() < 1.0);
    }
}
