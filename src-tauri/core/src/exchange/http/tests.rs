use super::*;

fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

#[test]
fn a_recorded_success_counts_with_its_age_and_never_hides_a_newer_one() {
    let t = Transport::new(HttpConfig::default()).unwrap();
    let window = t.proof_window();
    let now = Instant::now();
    // Recorded by an earlier process: within the window, then past it.
    t.remember_authenticated([1; 32], now, window - Duration::from_secs(60));
    assert!(t.authenticated_recently(&[1; 32]));
    t.remember_authenticated([2; 32], now, window + Duration::from_secs(1));
    assert!(!t.authenticated_recently(&[2; 32]));
    // An older record does not replace a success seen here.
    t.note_authenticated([3; 32]);
    t.remember_authenticated([3; 32], now, window + Duration::from_secs(1));
    assert!(t.authenticated_recently(&[3; 32]));
    // A newer one replaces an older one.
    t.remember_authenticated([2; 32], now, Duration::from_secs(5));
    assert!(t.authenticated_recently(&[2; 32]));
    assert!(!t.authenticated_recently(&[4; 32]));
}

#[test]
fn binance_used_weight_near_the_limit_holds_until_the_next_minute() {
    // 12:00:45.000 on the exchange's clock.
    let now = 1_700_000_000_000 - 1_700_000_000_000 % 60_000 + 45_000;
    assert!(
        throttles(
            Exchange::Binance,
            &h(&[("x-mbx-used-weight-1m", "120")]),
            now
        )
        .is_empty()
    );
    assert_eq!(
        throttles(
            Exchange::Binance,
            &h(&[("x-mbx-used-weight-1m", "5990")]),
            now
        ),
        vec![Throttle::Host(Duration::from_millis(15_250))]
    );
    assert_eq!(
        throttles(
            Exchange::Binance,
            &h(&[("x-sapi-used-uid-weight-1m", "179990")]),
            now
        ),
        vec![Throttle::Key(Duration::from_millis(15_250))]
    );
    assert!(
        throttles(
            Exchange::Binance,
            &h(&[("x-sapi-used-ip-weight-1m", "nan")]),
            now
        )
        .is_empty()
    );
}

#[test]
fn bybit_exhausted_limit_holds_the_key_until_the_reset_timestamp() {
    let now = 1_672_738_134_000;
    let resp = h(&[
        ("x-bapi-limit", "10"),
        ("x-bapi-limit-status", "0"),
        ("x-bapi-limit-reset-timestamp", "1672738134824"),
    ]);
    assert_eq!(
        throttles(Exchange::Bybit, &resp, now),
        vec![Throttle::Key(Duration::from_millis(874))]
    );
    let fine = h(&[
        ("x-bapi-limit", "10"),
        ("x-bapi-limit-status", "9"),
        ("x-bapi-limit-reset-timestamp", "1672738134824"),
    ]);
    assert!(throttles(Exchange::Bybit, &fine, now).is_empty());
}

#[test]
fn bucket_spaces_requests_after_the_burst() {
    let b = Bucket {
        rate: 10.0,
        burst: 2.0,
    };
    let t0 = Instant::now();
    let mut s = BucketState {
        tokens: 2.0,
        last: t0,
    };
    assert_eq!(s.reserve(b, 1.0, t0), Duration::ZERO);
    assert_eq!(s.reserve(b, 1.0, t0), Duration::ZERO);
    let w3 = s.reserve(b, 1.0, t0);
    let w4 = s.reserve(b, 1.0, t0);
    assert!((w3.as_secs_f64() - 0.1).abs() < 1e-6);
    assert!((w4.as_secs_f64() - 0.2).abs() < 1e-6);
}
