use lb_sim::{Strategy, run_all};

use crate::scenario;

/// The same seed gives the same record, for every strategy, including the ones that draw at
/// random and with slow start's random thinning at work (a server joins mid-run); another seed
/// gives other numbers.
#[test]
fn the_same_seed_gives_the_same_numbers() {
    let mut churn = scenario("churn", 6);
    churn.changes = vec![
        (
            std::time::Duration::from_secs(2),
            churn.changes[0].1.clone(),
        ),
        (
            std::time::Duration::from_secs(3),
            churn.changes[1].1.clone(),
        ),
    ];
    let scenarios = [churn];
    let first = run_all(&scenarios, &Strategy::ALL, 7, 2);
    let again = run_all(&scenarios, &Strategy::ALL, 7, 2);
    assert_eq!(first.len(), Strategy::ALL.len());
    for (a, b) in first.iter().zip(&again) {
        assert!(
            a.requests > 1_000,
            "{}: {} requests",
            a.strategy,
            a.requests
        );
        assert!(a == b, "{}: two runs from seed 7 differ", a.strategy);
    }
    let other = Strategy::Random.run(&scenarios[0], 8);
    let random = first
        .iter()
        .find(|r| r.strategy == "random")
        .expect("random ran");
    assert_ne!(random.latencies_us, other.latencies_us);
}
