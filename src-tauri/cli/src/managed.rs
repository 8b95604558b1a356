//! `keyward manager mark|unmark|list` and `keyward inventory EXCHANGE` /
//! `keyward inventory revoke EXCHANGE KEY_ID`: the account's manager key
//! and the keys the exchange lists for the account.
//!
//! Owns: the commands' arguments, output and exit codes. Must never: print
//! a secret or a full key id of the inventory, decide anything the core
//! decides (fitness, classification, which key ids may be deleted), or use
//! a manager key without the core's step-up gate.
//!
//! Exit codes: 0 done; 8 the inventory found keys on the account the
//! vault does not hold (the report is printed all the same, as `scan`
//! does with its findings); 1 refused (unfit key, a vault key given to `inventory
//! revoke`, another manager key); 4 MFA; 6 the exchange refused or could
//! not be reached; 7 no such key, no manager key, or no such key on the
//! account.

use std::path::Path;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use keyward_core::managed::{self, InventoryReport, InventoryStatus, ManagedError};
use keyward_core::mfa::actions;
use keyward_core::model::{Environment, Exchange};
use keyward_core::vault::{Actor, Session};

use crate::app::{self, CliError, fail, json, network};
use crate::gated;
use crate::output::count;

/// `keyward manager …`.
#[derive(Subcommand)]
pub enum ManagerCommand {
    /// Mark a key as its account's manager key (checked live first).
    Mark {
        /// The key's label.
        label: String,
        #[command(flatten)]
        proof: gated::ProofArgs,
        /// Seconds to wait for each exchange answer (1–120).
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=120))]
        timeout: u64,
    },
    /// Stop using a key as its account's manager key.
    Unmark {
        /// The key's label.
        label: String,
        #[command(flatten)]
        proof: gated::ProofArgs,
    },
    /// List the manager keys.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Runs `keyward manager …`.
pub fn manager(
    path: &Path,
    use_keyring: bool,
    command: &ManagerCommand,
) -> Result<ExitCode, CliError> {
    match command {
        ManagerCommand::List { json: as_json } => {
            let mut session = app::unlock(path, use_keyring)?;
            let keys = managed::managers(&mut session)?;
            if *as_json {
                json(&keys);
            } else if keys.is_empty() {
                say!(
                    "No manager key. Mark the account's master key with `keyward manager mark LABEL --totp CODE`."
                );
            } else {
                for k in &keys {
                    say!(
                        "{}  {} ({})  {}",
                        k.label,
                        k.exchange.display_name(),
                        k.environment.kind_str(),
                        k.api_key_id_masked
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        ManagerCommand::Mark {
            label,
            proof,
            timeout,
        } => {
            let (mut session, password) = app::unlock_keep(path, use_keyring)?;
            // An unknown label fails before a code is spent.
            session.key_detail(label)?;
            let grant =
                gated::grant::<actions::MarkManager>(&mut session, proof, password.as_ref())?;
            let (client, runtime) = match network(*timeout) {
                Ok(n) => n,
                Err(code) => return Ok(code),
            };
            match runtime.block_on(managed::mark(
                &mut session,
                &client,
                Actor::Cli,
                grant,
                label,
            )) {
                Ok(outcome) => {
                    say!(
                        "{label} is now the manager key of the {} account.",
                        outcome.exchange.display_name()
                    );
                    for p in &outcome.fitness.problems {
                        say!("  note: {p}");
                    }
                    say!("It is never handed to `keyward run`; every use needs a step-up.");
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => refused(e),
            }
        }
        ManagerCommand::Unmark { label, proof } => {
            let (mut session, password) = app::unlock_keep(path, use_keyring)?;
            session.key_detail(label)?;
            let grant =
                gated::grant::<actions::MarkManager>(&mut session, proof, password.as_ref())?;
            match managed::unmark(&mut session, Actor::Cli, grant, label) {
                Ok(()) => {
                    say!("{label} is no longer a manager key.");
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => refused(e),
            }
        }
    }
}

/// A managed-key error: the vault's through the usual path, the others
/// said with their exit code.
fn refused(e: ManagedError) -> Result<ExitCode, CliError> {
    match e {
        ManagedError::Vault(v) => Err(CliError::Vault(v)),
        other => Ok(fail(&other)),
    }
}

/// Arguments of `keyward inventory`.
#[derive(Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct InventoryArgs {
    #[command(subcommand)]
    command: Option<InventoryCommand>,
    /// The exchange whose account to list.
    #[arg(required = true)]
    exchange: Option<String>,
    #[command(flatten)]
    account: AccountArgs,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Which account, and how to reach it.
#[derive(Args)]
struct AccountArgs {
    /// The environment: `mainnet`, `testnet` or a custom base URL (default:
    /// that of the exchange's manager key when there is one).
    #[arg(long = "env", value_name = "ENV")]
    env: Option<String>,
    #[command(flatten)]
    proof: gated::ProofArgs,
    /// Seconds to wait for each exchange answer (1–120).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=120))]
    timeout: u64,
}

/// `keyward inventory revoke …`.
#[derive(Subcommand)]
enum InventoryCommand {
    /// Delete a key the vault does not hold from the account (its full id,
    /// or the masked id the inventory shows).
    Revoke {
        /// The exchange.
        exchange: String,
        /// The key id.
        key_id: String,
        #[command(flatten)]
        account: AccountArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// The environment asked for, or that of the exchange's one manager key.
fn environment(
    session: &mut Session,
    exchange: Exchange,
    env: Option<&str>,
) -> Result<Environment, CliError> {
    Ok(match env {
        Some("mainnet") => Environment::Mainnet,
        Some("testnet") => Environment::Testnet,
        Some(url) => Environment::Custom(url.to_owned()),
        None => {
            let mut found: Vec<Environment> = managed::managers(session)?
                .into_iter()
                .filter(|k| k.exchange == exchange)
                .map(|k| k.environment)
                .collect();
            if found.len() == 1 {
                found.remove(0)
            } else {
                Environment::Mainnet
            }
        }
    })
}

/// Runs `keyward inventory …`.
pub fn inventory(
    path: &Path,
    use_keyring: bool,
    args: &InventoryArgs,
) -> Result<ExitCode, CliError> {
    if let Some(InventoryCommand::Revoke {
        exchange,
        key_id,
        account,
        json: as_json,
    }) = &args.command
    {
        return revoke(path, use_keyring, exchange, key_id, account, *as_json);
    }
    let exchange: Exchange = args.exchange.as_deref().unwrap_or_default().parse()?;
    let (mut session, password) = app::unlock_keep(path, use_keyring)?;
    let environment = environment(&mut session, exchange, args.account.env.as_deref())?;
    if managed::manager_for(&mut session, exchange, &environment)?.is_none() {
        return Ok(fail(&ManagedError::NoManager { exchange }));
    }
    let grant =
        gated::grant::<actions::UseManager>(&mut session, &args.account.proof, password.as_ref())?;
    let (client, runtime) = match network(args.account.timeout) {
        Ok(n) => n,
        Err(code) => return Ok(code),
    };
    let report = match runtime.block_on(managed::inventory(
        &mut session,
        &client,
        Actor::Cli,
        grant,
        exchange,
        &environment,
    )) {
        Ok(r) => r,
        Err(e) => return refused(e),
    };
    session.lock();
    if args.json {
        json(&report);
    } else {
        print_report(&report);
    }
    Ok(if report.counts.unknown > 0 {
        app::exit(keyward_core::ErrorKind::Findings)
    } else {
        ExitCode::SUCCESS
    })
}

fn print_report(r: &InventoryReport) {
    let c = r.counts;
    say!(
        "{} account (manager key {}): {} known, {}, {} missing, {} not listed",
        r.exchange.display_name(),
        r.manager,
        c.known,
        count(c.unknown, "unknown key", "unknown keys"),
        c.missing,
        c.not_listed
    );
    if !r.complete {
        say!("The exchange could not list every key: a key it does not list proves nothing.");
    }
    for n in &r.notes {
        say!("  note: {n}");
    }
    for e in &r.entries {
        let status = match e.status {
            InventoryStatus::Unknown => "UNKNOWN",
            InventoryStatus::Missing => "MISSING",
            InventoryStatus::NotListed => "not listed",
            InventoryStatus::Known => "known",
        };
        let who = e
            .label
            .clone()
            .or_else(|| e.exchange_label.clone().map(|l| format!("({l})")))
            .unwrap_or_default();
        let sub = e
            .sub_account
            .as_deref()
            .map(|s| format!("  sub-account {s}"))
            .unwrap_or_default();
        say!("{status:<10}  {}  {who}{sub}", e.key_id_masked);
        if !e.permissions.is_empty() {
            say!("            permissions: {}", e.permissions.join(", "));
        }
        if e.status != InventoryStatus::NotListed && e.status != InventoryStatus::Missing {
            say!(
                "            IPs: {}",
                if e.ips.is_empty() {
                    "any (no whitelist)".to_owned()
                } else {
                    e.ips.join(", ")
                }
            );
        }
        if let Some(n) = &e.note {
            say!("            {n}");
        }
    }
    if c.unknown > 0 {
        say!("");
        say!(
            "Delete an unknown key: keyward inventory revoke {} KEY_ID --totp CODE",
            r.exchange.as_str()
        );
    }
}

fn revoke(
    path: &Path,
    use_keyring: bool,
    exchange: &str,
    key_id: &str,
    account: &AccountArgs,
    as_json: bool,
) -> Result<ExitCode, CliError> {
    let exchange: Exchange = exchange.parse()?;
    let (mut session, password) = app::unlock_keep(path, use_keyring)?;
    let environment = environment(&mut session, exchange, account.env.as_deref())?;
    if managed::manager_for(&mut session, exchange, &environment)?.is_none() {
        return Ok(fail(&ManagedError::NoManager { exchange }));
    }
    let grant =
        gated::grant::<actions::UseManager>(&mut session, &account.proof, password.as_ref())?;
    let (client, runtime) = match network(account.timeout) {
        Ok(n) => n,
        Err(code) => return Ok(code),
    };
    match runtime.block_on(managed::revoke_unknown(
        &mut session,
        &client,
        Actor::Cli,
        grant,
        exchange,
        &environment,
        key_id,
    )) {
        Ok(done) => {
            if as_json {
                json(&done);
            } else {
                say!(
                    "Deleted key {} of sub-account {} from the {} account.",
                    done.key_id_masked,
                    done.sub_account,
                    exchange.display_name()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => refused(e),
    }
}
