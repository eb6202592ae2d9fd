use super::*;
use crate::Consistent;
use crate::test_util::{all_candidates, backends};
use lb_core::{Backends, LoadBalancer};

fn config(factor: u32) -> BoundedConfig<crate::KetamaConfig> {
    BoundedConfig {
        factor,
        ..BoundedConfig::default()
    }
}

#[test]
fn factors_below_100_are_refused_and_0_is_off() {
    let set = backends(&[1, 1]);
    for factor in [1, 50, 99] {
        let err = Bounded::<Consistent>::build(&set, &config(factor)).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "balance factor {factor} is below 100 (a percentage of the average load; 0 turns \
                 bounded loads off)"
            )
        );
    }
    for factor in [0, 100, 125, u32::MAX] {
        assert_eq!(
            Bounded::<Consistent>::build(&set, &config(factor))
                .unwrap()
                .factor(),
            factor
        );
    }
    assert_eq!(
        BoundedConfig::<()>::default().factor,
        DEFAULT_BALANCE_FACTOR
    );
}

#[test]
fn without_states_or_with_factor_0_the_order_is_the_inner_one() {
    let set = backends(&[1, 2, 0, 3, 1]);
    let inner = Consistent::build(&set, &crate::KetamaConfig::default()).unwrap();
    let bounded = Bounded::<Consistent>::build(&set, &config(125)).unwrap();
    // A load balancer that counts picks in flight; its picks held load every backend, so that
    // a bound would change the order.
    let lb = LoadBalancer::<Bounded<Consistent>>::from_backends(Backends::fixed(set.clone()));
    let _held: Vec<_> = (0..set.len())
        .flat_map(|i| {
            let lb = &lb;
            let addr = set[i].addr.clone();
            (0..5 * (i + 1)).map(move |_| {
                lb.select_with(b"", usize::MAX, |b, _| b.addr == addr)
                    .unwrap()
            })
        })
        .collect();
    let current = lb.backends().get_backend();
    assert!(current.states().iter().all(|s| s.in_flight() > 0));
    let states = States::with_default_signals(&current);
    let off = Bounded::<Consistent>::build(&set, &config(0)).unwrap();
    for k in 0..200u32 {
        let key = k.to_le_bytes();
        let want = all_candidates(inner.iter(&key));
        assert_eq!(all_candidates(bounded.iter(&key)), want);
        assert_eq!(all_candidates(off.iter_with_states(&key, states)), want);
    }
}
