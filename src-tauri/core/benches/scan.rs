//! Leak-scanner benchmark: prints figures, asserts nothing.
//!
//! `cargo bench -p keyward-core --bench scan`
//!
//! Environment: `KEYWARD_BENCH_GIB` (corpus size, default 1.0),
//! `KEYWARD_BENCH_COMMITS` (default 10000), `KEYWARD_BENCH_DS_MIB` (the
//! detect-secrets subset, default 8), `KEYWARD_BENCH_DIR` (where to generate;
//! default a temporary directory, removed afterwards).
//!
//! What it does, in one run:
//! - generates a corpus of text files (code-like lines, ≥ 1 GiB by default,
//!   in 16 folders) with vault values planted in a few files, and a git
//!   repository with ≥ 10,000 commits written through `git fast-import`
//!   (one value planted in a file that is later deleted);
//! - scans the corpus with keyward's scanner (the vault's values — 100 keys,
//!   250 values — plus the unknown-credential rules, all threads) and with
//!   `rg -F -f patterns` over the same values (ripgrep's fixed-string
//!   search, all threads), page cache warm for both, and prints MB/s and the
//!   ratio (target ≥ 0.7× ripgrep);
//! - runs `detect-secrets scan --all-files` on a subset (its throughput is
//!   far lower; the figure is extrapolated to the whole corpus and the output
//!   says so), and prints the ratio (target ≥ 20×);
//! - runs keyward's scan in a child process over 1/8 and over all of the
//!   corpus and prints each peak RSS (memory must not grow with the corpus);
//! - scans the repository's full history and prints blobs, MB/s and time.
//!
//! Needs `git` and `rg` (apt `ripgrep`); `detect-secrets` (pip) is optional.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use keyward_core::scan::{Matcher, Needle, Part, ScanOptions, scan_history, scan_paths};
use zeroize::Zeroizing;

const FILE_BYTES: usize = 256 * 1024;
const FOLDERS: usize = 16;

/// xorshift64*: fast, deterministic, good enough for filler text.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn alnum(&mut self, len: usize) -> String {
        const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        (0..len).map(|_| A[self.below(A.len())] as char).collect()
    }
}

const WORDS: &[&str] = &[
    "let",
    "fn",
    "return",
    "self",
    "value",
    "order",
    "price",
    "amount",
    "symbol",
    "market",
    "balance",
    "config",
    "import",
    "from",
    "def",
    "class",
    "async",
    "await",
    "const",
    "if",
    "else",
    "for",
    "while",
    "match",
    "Some",
    "None",
    "Ok",
    "Err",
    "string",
    "number",
    "trade",
    "spot",
    "futures",
    "limit",
    "buy",
    "sell",
    "timestamp",
    "request",
    "response",
    "client",
    "the",
    "and",
    "of",
    "to",
    "in",
    "is",
    "that",
    "with",
    "as",
    "for",
    "on",
    "by",
    "this",
    "api",
    "rate",
    "window",
    "retry",
    "error",
    "log",
    "debug",
    "info",
    "update",
    "state",
];

/// A pool of code-like text that files are cut from.
fn text_pool(rng: &mut Rng, bytes: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes + 256);
    while out.len() < bytes {
        let indent = rng.below(4) * 4;
        out.extend(std::iter::repeat_n(b' ', indent));
        let n = 3 + rng.below(10);
        for i in 0..n {
            if i > 0 {
                out.push(b' ');
            }
            match rng.below(12) {
                0 => out.extend(rng.below(100_000).to_string().bytes()),
                1 => {
                    let len = 6 + rng.below(10);
                    out.extend(format!("\"{}\"", rng.alnum(len)).bytes())
                }
                2 => out.extend(b"= "),
                _ => out.extend(WORDS[rng.below(WORDS.len())].bytes()),
            }
        }
        out.push(b'\n');
    }
    out
}

struct Vault {
    needles: Vec<(String, Part, String)>,
}

fn vault(rng: &mut Rng) -> Vault {
    let mut needles = Vec::new();
    for i in 0..100 {
        let label = format!("key-{i:03}");
        needles.push((label.clone(), Part::KeyId, rng.alnum(64)));
        needles.push((label.clone(), Part::Secret, rng.alnum(64)));
        if i % 2 == 0 {
            needles.push((label, Part::Passphrase, rng.alnum(16)));
        }
    }
    Vault { needles }
}

impl Vault {
    fn matcher(&self) -> Matcher {
        let needles = self
            .needles
            .iter()
            .map(|(l, p, v)| Needle::new(l.clone(), *p, Zeroizing::new(v.as_bytes().to_vec())))
            .collect();
        Matcher::new(needles, true).expect("matcher")
    }
}

fn generate_corpus(dir: &Path, bytes: u64, pool: &[u8], vault: &Vault, rng: &mut Rng) -> u64 {
    let files = (bytes as usize).div_ceil(FILE_BYTES);
    let mut written = 0u64;
    for f in 0..files {
        let folder = dir.join(format!("d{:02}", f % FOLDERS));
        fs::create_dir_all(&folder).expect("mkdir");
        let start = rng.below(pool.len() - FILE_BYTES);
        // Start and end on line boundaries.
        let start = pool[start..]
            .iter()
            .position(|b| *b == b'\n')
            .map_or(start, |p| start + p + 1);
        let end = (start + FILE_BYTES).min(pool.len());
        let mut content = pool[start..end].to_vec();
        if f % 97 == 0 {
            let (_, _, v) = &vault.needles[rng.below(vault.needles.len())];
            content.extend(format!("token = \"{v}\"\n").bytes());
        }
        fs::write(folder.join(format!("f{f:05}.txt")), &content).expect("write");
        written += content.len() as u64;
    }
    written
}

fn generate_repo(dir: &Path, commits: usize, pool: &[u8], vault: &Vault, rng: &mut Rng) {
    fs::create_dir_all(dir).expect("mkdir");
    let ok = Command::new("git")
        .args(["init", "-q", "-b", "main"])
        .arg(dir)
        .status()
        .expect("git init")
        .success();
    assert!(ok, "git init failed");
    let mut fi = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["fast-import", "--quiet"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("git fast-import");
    let mut w = std::io::BufWriter::new(fi.stdin.take().expect("stdin"));
    let planted = &vault.needles[1].2;
    for c in 0..commits {
        let file = format!("src/m{:03}.txt", rng.below(200));
        let start = rng.below(pool.len() - 4096);
        let mut blob = pool[start..start + 1024 + rng.below(3072)].to_vec();
        blob.push(b'\n');
        writeln!(w, "commit refs/heads/main").ok();
        writeln!(
            w,
            "committer bench <bench@example.invalid> {} +0000",
            1_600_000_000 + c
        )
        .ok();
        writeln!(w, "data 6\ncommit").ok();
        if c == 0 {
            writeln!(w, "M 100644 inline old.env").ok();
            let s = format!("SECRET={planted}\n");
            writeln!(w, "data {}\n{s}", s.len()).ok();
        }
        if c == 1 {
            writeln!(w, "D old.env").ok();
        }
        writeln!(w, "M 100644 inline {file}").ok();
        writeln!(w, "data {}", blob.len()).ok();
        w.write_all(&blob).ok();
        writeln!(w).ok();
    }
    drop(w);
    assert!(
        fi.wait().expect("fast-import").success(),
        "fast-import failed"
    );
}

fn mbps(bytes: u64, secs: f64) -> f64 {
    bytes as f64 / 1e6 / secs
}

fn child_scan(args: &[String]) {
    // --child-scan PATTERNS DIR...
    let patterns = fs::read_to_string(&args[0]).expect("patterns");
    let needles = patterns
        .lines()
        .enumerate()
        .map(|(i, v)| {
            Needle::new(
                format!("k{i}"),
                Part::Secret,
                Zeroizing::new(v.as_bytes().to_vec()),
            )
        })
        .collect();
    let m = Matcher::new(needles, true).expect("matcher");
    let dirs: Vec<PathBuf> = args[1..].iter().map(PathBuf::from).collect();
    let r = scan_paths(&m, &dirs, &ScanOptions::default(), &|_| {}).expect("scan");
    println!("{} {}", r.bytes, r.findings.len());
}

fn peak_rss(patterns: &Path, dirs: &[PathBuf]) -> Option<(u64, u64)> {
    let out = Command::new("/usr/bin/time")
        .args(["-f", "%M"])
        .arg(std::env::current_exe().ok()?)
        .arg("--child-scan")
        .arg(patterns)
        .args(dirs)
        .output()
        .ok()?;
    let rss = String::from_utf8_lossy(&out.stderr)
        .lines()
        .last()?
        .trim()
        .parse()
        .ok()?;
    let bytes = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some((bytes, rss))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--child-scan") {
        child_scan(&args[i + 1..]);
        return;
    }
    let env_f = |k: &str, d: f64| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let gib = env_f("KEYWARD_BENCH_GIB", 1.0);
    let commits = env_f("KEYWARD_BENCH_COMMITS", 10_000.0) as usize;
    let ds_mib = env_f("KEYWARD_BENCH_DS_MIB", 8.0);
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = std::env::var_os("KEYWARD_BENCH_DIR")
        .map_or_else(|| tmp.path().to_path_buf(), PathBuf::from);
    let corpus = root.join("corpus");
    let repo = root.join("repo");
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let vault = vault(&mut rng);
    let pool = text_pool(&mut rng, 8 * 1024 * 1024);

    println!("keyward scan benchmark");
    let t = Instant::now();
    let bytes = generate_corpus(
        &corpus,
        (gib * 1024.0 * 1024.0 * 1024.0) as u64,
        &pool,
        &vault,
        &mut rng,
    );
    println!(
        "corpus: {:.2} GiB in {} files, generated in {:.1} s",
        bytes as f64 / (1u64 << 30) as f64,
        bytes.div_ceil(FILE_BYTES as u64),
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    generate_repo(&repo, commits, &pool, &vault, &mut rng);
    println!(
        "repository: {commits} commits via git fast-import in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let patterns = root.join("patterns.txt");
    let list: String = vault
        .needles
        .iter()
        .map(|(_, _, v)| format!("{v}\n"))
        .collect();
    fs::write(&patterns, list).expect("patterns");
    println!(
        "needles: {} values of 100 keys (+ unknown-credential rules for keyward)",
        vault.needles.len()
    );

    // Warm the page cache for both contenders.
    let _ = Command::new("cat").arg("-").stdin(Stdio::null()).status();
    let _ = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "find {} -type f -exec cat {{}} + > /dev/null",
            corpus.display()
        ))
        .status();

    // keyward (best of two runs).
    let mut best = f64::MAX;
    let mut found = 0;
    let mut scanned = 0;
    for _ in 0..2 {
        let m = vault.matcher();
        let t = Instant::now();
        let r = scan_paths(
            &m,
            std::slice::from_ref(&corpus),
            &ScanOptions::default(),
            &|_| {},
        )
        .expect("scan");
        best = best.min(t.elapsed().as_secs_f64());
        found = r.findings.len();
        scanned = r.bytes;
    }
    let kw = mbps(scanned, best);
    println!(
        "keyward files: {:.2} s, {kw:.0} MB/s, {found} findings",
        best
    );

    // ripgrep (best of two runs).
    let mut rg_best = f64::MAX;
    let mut rg_ok = false;
    for _ in 0..2 {
        let t = Instant::now();
        let out = Command::new("rg")
            .args(["-F", "-c", "--no-ignore", "--hidden", "-f"])
            .arg(&patterns)
            .arg(&corpus)
            .stdout(Stdio::null())
            .status();
        if let Ok(s) = out {
            rg_ok = s.code() == Some(0) || s.code() == Some(1);
            rg_best = rg_best.min(t.elapsed().as_secs_f64());
        }
    }
    if rg_ok {
        let rg = mbps(bytes, rg_best);
        println!("ripgrep -F -f: {:.2} s, {rg:.0} MB/s", rg_best);
        println!("ratio keyward / ripgrep: {:.2}x (target >= 0.7x)", kw / rg);
    } else {
        println!("ripgrep: not available (apt install ripgrep)");
    }

    // detect-secrets on a subset, extrapolated.
    let subset = root.join("ds-subset");
    fs::create_dir_all(&subset).expect("mkdir");
    let ds_files = ((ds_mib * 1024.0 * 1024.0) as usize / FILE_BYTES).max(1);
    let mut ds_bytes = 0u64;
    for e in fs::read_dir(corpus.join("d00"))
        .expect("read")
        .flatten()
        .take(ds_files)
    {
        let dst = subset.join(e.file_name());
        ds_bytes += fs::copy(e.path(), dst).unwrap_or(0);
    }
    let t = Instant::now();
    let ds = Command::new("detect-secrets")
        .args(["scan", "--all-files"])
        .arg(&subset)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    match ds {
        Ok(s) if s.success() => {
            let secs = t.elapsed().as_secs_f64();
            let dsr = mbps(ds_bytes, secs);
            println!(
                "detect-secrets: {:.1} MB subset in {secs:.1} s, {dsr:.2} MB/s; extrapolated to the whole corpus: {:.0} s (measured on the subset only)",
                ds_bytes as f64 / 1e6,
                bytes as f64 / 1e6 / dsr
            );
            println!(
                "ratio keyward / detect-secrets: {:.0}x (target >= 20x)",
                kw / dsr
            );
        }
        _ => println!("detect-secrets: not available (pip install detect-secrets)"),
    }

    // Peak RSS at two corpus sizes.
    let eighth: Vec<PathBuf> = (0..FOLDERS / 8)
        .map(|i| corpus.join(format!("d{i:02}")))
        .collect();
    for (name, dirs) in [
        ("1/8 corpus", eighth),
        ("full corpus", vec![corpus.clone()]),
    ] {
        match peak_rss(&patterns, &dirs) {
            Some((b, rss)) => println!(
                "peak RSS, keyward scan of {name} ({:.0} MB): {:.1} MiB",
                b as f64 / 1e6,
                rss as f64 / 1024.0
            ),
            None => println!("peak RSS: /usr/bin/time not available"),
        }
    }

    // History.
    let m = vault.matcher();
    let t = Instant::now();
    let r = scan_history(&m, &repo, &ScanOptions::default(), &|_| {}).expect("history");
    let secs = t.elapsed().as_secs_f64();
    println!(
        "keyward history: {} blobs, {:.0} MB in {secs:.2} s ({:.0} MB/s), {} findings (planted in a deleted file: {})",
        r.scanned,
        r.bytes as f64 / 1e6,
        mbps(r.bytes, secs),
        r.findings.len(),
        r.findings.iter().any(|f| f.path == Path::new("old.env"))
    );
}
