//! `keyward`: the command-line front end. It parses arguments, asks the core,
//! and maps the core's error kinds to the exit codes of DESIGN §6. It holds no
//! policy of its own.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Keyward: an encrypted, MFA-gated vault for crypto-exchange API keys.
#[derive(Parser)]
#[command(name = "keyward", version, about)]
struct Cli {
    /// Vault file (default: $KEYWARD_VAULT, else the platform data dir).
    #[arg(long, global = true)]
    vault: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show where the vault is and whether it exists.
    Status {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let Some(path) = keyward_core::paths::vault_path(cli.vault.as_deref()) else {
        eprintln!("error: no vault path: pass --vault or set KEYWARD_VAULT");
        return ExitCode::from(2);
    };
    match cli.command {
        Command::Status { json } => {
            let status = keyward_core::vault::status(&path);
            if json {
                println!("{}", serde_json::to_string(&status).expect("status serializes"));
            } else {
                let state = if status.exists { "exists" } else { "not created" };
                println!("vault: {} ({state})", status.path.display());
            }
        }
    }
    ExitCode::SUCCESS
}
