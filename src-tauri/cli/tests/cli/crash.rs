//! Crash safety: SIGKILL `keyward add` at random moments, at least 200 times.
//! Afterwards the vault must open, every add that printed its acknowledgement
//! must be listed, and the integrity check must pass.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::{BINANCE_KEY, Env};

const MIN_KILLS: usize = 200;

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn spawn_add(env: &Env, label: &str) -> std::process::Child {
    let mut child = env
        .command()
        .args([
            "add",
            "--exchange",
            "binance",
            "--label",
            label,
            "--api-key",
            BINANCE_KEY,
            "--secret-stdin",
            "--scopes",
            "read,trade",
            "--ip",
            "203.0.113.7",
        ])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let _ = stdin.write_all(format!("secret-for-{label}\n").as_bytes());
    drop(stdin);
    child
}

#[test]
fn sigkill_during_adds_never_loses_an_acknowledged_key() {
    let env = Env::init();
    // How long one add takes here, to aim the kills at its whole lifetime.
    let start = Instant::now();
    let calib = spawn_add(&env, "calibration").wait_with_output().unwrap();
    assert!(calib.status.success());
    let typical = start.elapsed().max(Duration::from_millis(5));

    let mut acked: BTreeSet<String> = BTreeSet::from(["calibration".to_owned()]);
    let mut rng = XorShift(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
            | 1,
    );
    let mut kills = 0;
    let mut completed = 0;
    // The kill moment is uniform over [0, window). The window adapts to how
    // long an add really takes on this machine at this moment (a loaded
    // machine makes adds slower, a warm cache faster): it shrinks after an
    // add that finished first and grows after a kill, so most kills land
    // inside a running add whatever the speed. No wall-clock deadline: a
    // bounded number of attempts instead.
    let typical_us = typical.as_micros() as u64;
    let mut window_us = typical_us.max(1);
    let mut i = 0;
    while kills < MIN_KILLS {
        assert!(
            i < MIN_KILLS * 20,
            "only {kills} kills in {i} attempts ({completed} adds completed)"
        );
        i += 1;
        let label = format!("key-{i:05}");
        let mut child = spawn_add(&env, &label);
        std::thread::sleep(Duration::from_micros(rng.next() % window_us));
        let _ = child.kill();
        let status = child.wait().unwrap();
        let mut out = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        if status.signal() == Some(9) {
            kills += 1;
            window_us = (window_us * 21 / 20).clamp(1, typical_us.max(1) * 4);
        } else {
            completed += 1;
            window_us = (window_us * 3 / 4).max(1);
            assert!(
                status.success(),
                "add {label} failed without a kill: {status}"
            );
        }
        if out.lines().any(|l| l == format!("added {label}")) {
            acked.insert(label);
        }
    }

    let list = env.run(&["list", "--json"]).ok();
    let listed: BTreeSet<String> = serde_json::from_str::<serde_json::Value>(&list.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["label"].as_str().unwrap().to_owned())
        .collect();
    let missing: Vec<&String> = acked.difference(&listed).collect();
    assert!(missing.is_empty(), "acknowledged but lost: {missing:?}");
    let check = env.run(&["check"]).ok();
    assert!(check.stdout.contains("0 damaged"), "{}", check.stdout);
    eprintln!(
        "crash test: {kills} kills, {completed} completed, {} acknowledged, {} listed",
        acked.len(),
        listed.len()
    );
}
