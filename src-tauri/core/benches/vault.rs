//! Vault benchmark: prints figures, asserts nothing.
//!
//! `cargo bench -p keyward-core --bench vault`
//!
//! - unlock, split into the Argon2id derivation and everything else
//!   (target: the rest < 20 ms), at the design default parameters;
//! - adding 10,000 keys (one transaction each, as a user would);
//! - listing all 10,000 (target < 50 ms) and searching them (target < 10 ms).

use std::time::{Duration, Instant};

use keyward_core::model::{ApiSecret, Exchange, NewKey, Scope};
use keyward_core::vault::{Actor, KdfParams, MasterPassword, Vault};

const KEYS: usize = 10_000;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bench.keyward");
    let password = MasterPassword::from("correct horse battery staple");
    let params = KdfParams::DEFAULT;

    let mut session = Vault::create(&path, &password, params, Actor::Cli).expect("create");
    let started = Instant::now();
    let mut add_times = Vec::with_capacity(KEYS);
    for i in 0..KEYS {
        let mut key = NewKey::new(
            format!("key-{i:05}"),
            Exchange::Binance,
            format!("{:064}", i),
            ApiSecret::new(format!("secret-{i:05}-{}", "x".repeat(48))),
        );
        key.scopes = vec![Scope::Read, Scope::Trade];
        key.ip_whitelist = vec!["203.0.113.7".into()];
        key.linked_services = vec![format!("bot-{}", i % 17).into()];
        let t = Instant::now();
        session.add_key(Actor::Cli, key).expect("add");
        add_times.push(t.elapsed());
    }
    let add_total = started.elapsed();
    session.lock();

    let vault = Vault::open(&path).expect("open");
    let mut kdf = Vec::new();
    let mut unlock = Vec::new();
    for _ in 0..5 {
        kdf.push(params.measure().expect("kdf"));
        let t = Instant::now();
        let s = vault.unlock(&password).expect("unlock");
        unlock.push(t.elapsed());
        s.lock();
    }
    let kdf = median(kdf);
    let unlock = median(unlock);
    let mut open = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let v = Vault::open(&path).expect("open");
        open.push(t.elapsed());
        drop(v);
    }

    let mut session = vault.unlock(&password).expect("unlock");
    let mut list = Vec::new();
    for _ in 0..7 {
        let t = Instant::now();
        let keys = session.list_keys().expect("list");
        list.push(t.elapsed());
        assert_eq!(keys.len(), KEYS);
    }
    let mut search = Vec::new();
    for q in [
        "key-0421",
        "bot-3",
        "ZZZ-no-match",
        "key-09999",
        "00000000042",
    ] {
        let t = Instant::now();
        let _ = session.search_keys(q).expect("search");
        search.push(t.elapsed());
    }
    let mut detail = Vec::new();
    for i in (0..KEYS).step_by(997) {
        let t = Instant::now();
        let _ = session.key_detail(&format!("key-{i:05}")).expect("detail");
        detail.push(t.elapsed());
    }
    let t = Instant::now();
    let report = session.check_integrity().expect("check");
    let check = t.elapsed();
    assert!(report.is_ok());

    println!(
        "vault benchmark ({KEYS} keys, Argon2id {} MiB / t={} / p={})",
        params.memory_kib / 1024,
        params.iterations,
        params.parallelism
    );
    println!(
        "  unlock total          {:>9.2} ms (median of 5)",
        ms(unlock)
    );
    println!("    of which KDF        {:>9.2} ms", ms(kdf));
    println!(
        "    rest (target < 20)  {:>9.2} ms",
        ms(unlock.saturating_sub(kdf))
    );
    println!("  open (no decryption)  {:>9.2} ms", ms(median(open)));
    println!(
        "  add, per key          {:>9.2} ms median, {:.2} ms p99 ({:.1} s for {KEYS})",
        ms(median(add_times.clone())),
        ms({
            let mut v = add_times;
            v.sort();
            v[v.len() * 99 / 100]
        }),
        add_total.as_secs_f64()
    );
    println!(
        "  list {KEYS} (target < 50) {:>6.2} ms (median of 7)",
        ms(median(list))
    );
    println!(
        "  search (target < 10)  {:>9.2} ms (median of 5 queries)",
        ms(median(search))
    );
    println!(
        "  key detail            {:>9.2} ms (median)",
        ms(median(detail))
    );
    println!(
        "  integrity check       {:>9.2} ms ({} sealed fields)",
        ms(check),
        report.fields_ok
    );
}
