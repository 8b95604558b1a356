//! `keyward-sim [--port N] [--accounts FILE] [--no-rate-limits] [--fault JSON]...`
//!
//! Serves the simulated exchanges on 127.0.0.1 and prints
//! `listening on http://127.0.0.1:PORT` once ready. See the library docs for
//! the accounts file format, faults and the admin endpoint.

use std::io::Write;

use keyward_sim::{Accounts, Fault};

const USAGE: &str =
    "usage: keyward-sim [--port N] [--accounts FILE] [--no-rate-limits] [--fault JSON]...";

fn parse_args() -> Result<(u16, Accounts, Vec<Fault>), String> {
    let mut port = 0u16;
    let mut accounts = Accounts::from_json("{}")?;
    let mut faults = Vec::new();
    let mut no_limits = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .ok_or_else(|| format!("{name} needs a value\n{USAGE}"))
        };
        match arg.as_str() {
            "--port" => {
                port = value("--port")?
                    .parse()
                    .map_err(|_| format!("--port: not a port\n{USAGE}"))?
            }
            "--accounts" => {
                let path = value("--accounts")?;
                let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
                accounts = Accounts::from_json(&text)?;
            }
            "--fault" => {
                let spec = value("--fault")?;
                faults.push(serde_json::from_str(&spec).map_err(|e| format!("--fault: {e}"))?);
            }
            "--no-rate-limits" => no_limits = true,
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    if no_limits {
        accounts.rate_limits = false;
    }
    Ok((port, accounts, faults))
}

#[tokio::main]
async fn main() {
    let (port, accounts, faults) = match parse_args() {
        Ok(a) => a,
        Err(msg) => {
            eprintln!("{msg}");
            std::process::exit(2);
        }
    };
    let (addr, handle) = match keyward_sim::spawn_on(accounts, port).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("keyward-sim: {e}");
            std::process::exit(1);
        }
    };
    for f in faults {
        handle.add_fault(f);
    }
    let mut out = std::io::stdout();
    let _ = writeln!(out, "listening on http://{addr}");
    let _ = out.flush();
    std::future::pending::<()>().await;
}
