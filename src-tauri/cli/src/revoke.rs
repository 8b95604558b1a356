//! `keyward revoke LABEL` and `keyward revoke --exchange EX --all`: revoke
//! keys at their exchange (by API where it has one, else after the user
//! deleted them by hand and passes --confirm-manual), each confirmed by a
//! live call that the exchange must reject. The batch form is the panic
//! action: one step-up for every key of the exchange, one result per key,
//! and it goes on past failures.
//!
//! Owns: the command's arguments, output and exit code. Must never: print
//! a secret or mark anything itself (the core records the revocation only
//! after the live check).
//!
//! Exit codes: 0 every key revoked; 1 manual steps to do (nothing
//! changed); 4 MFA; 6 a key still works, or the exchange failed; 7 no such
//! key.

use std::path::Path;
use std::process::ExitCode;

use clap::Args;
use keyward_core::ErrorKind;
use keyward_core::mfa::actions;
use keyward_core::model::Exchange;
use keyward_core::rotation::{self, RevokeOutcome};
use keyward_core::vault::Actor;

use crate::app::{self, CliError, exit, json, network};
use crate::gated;
use crate::output::{count, grouped};
use crate::rotate::{outcome_code, print_outcome, refused};

/// Arguments of `keyward revoke`.
#[derive(Args)]
pub struct RevokeArgs {
    /// The key's label.
    #[arg(required_unless_present = "all", conflicts_with_all = ["all", "exchange"])]
    label: Option<String>,
    /// With --all: the exchange whose keys to revoke.
    #[arg(long, requires = "all")]
    exchange: Option<String>,
    /// Revoke every key of --exchange that is not revoked yet.
    #[arg(long, requires = "exchange")]
    all: bool,
    #[command(flatten)]
    proof: gated::ProofArgs,
    /// You deleted the key(s) on the exchange's website yourself.
    #[arg(long)]
    confirm_manual: bool,
    /// With LABEL: check the key live, show the steps, wait while you
    /// delete it on the website (Enter when done), then check it is
    /// rejected: the only way a manual deletion can be proven.
    #[arg(long, conflicts_with_all = ["confirm_manual", "all"])]
    wait: bool,
    /// Print JSON (an object for LABEL, an array for --all).
    #[arg(long)]
    json: bool,
    /// Seconds to wait for each exchange answer (1–120).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=120))]
    timeout: u64,
}

/// Runs the command.
pub fn run(path: &Path, use_keyring: bool, args: &RevokeArgs) -> Result<ExitCode, CliError> {
    let exchange = args
        .exchange
        .as_deref()
        .map(str::parse::<Exchange>)
        .transpose()?;
    let (mut session, password) = app::unlock_keep(path, use_keyring)?;
    if let Some(label) = &args.label {
        // Unknown labels fail before a code is spent.
        session.key_detail(label)?;
    }
    let grant = gated::grant::<actions::Revoke>(&mut session, &args.proof, password.as_ref())?;
    let (client, runtime) = match network(args.timeout) {
        Ok(n) => n,
        Err(code) => return Ok(code),
    };
    match (&args.label, exchange) {
        (Some(label), _) => {
            let run = if args.wait {
                runtime.block_on(rotation::revoke_waiting(
                    &mut session,
                    &client,
                    Actor::Cli,
                    |s| rotation::prepare_key_revoke(s, grant, label, false),
                    crate::rotate::wait_for_deletion,
                ))
            } else {
                runtime.block_on(rotation::revoke_key(
                    &mut session,
                    &client,
                    Actor::Cli,
                    grant,
                    label,
                    args.confirm_manual,
                ))
            };
            let outcome = match run {
                Ok(o) => o,
                Err(e) => return refused(e),
            };
            if args.json {
                json(&outcome);
            }
            print_outcome(&outcome);
            Ok(outcome_code(&outcome))
        }
        (None, Some(exchange)) => {
            let outcomes = match runtime.block_on(rotation::revoke_exchange(
                &mut session,
                &client,
                Actor::Cli,
                grant,
                exchange,
                args.confirm_manual,
            )) {
                Ok(o) => o,
                Err(e) => return refused(e),
            };
            if args.json {
                json(&outcomes);
            }
            for o in &outcomes {
                print_outcome(o);
            }
            let revoked = outcomes.iter().filter(|o| o.is_revoked()).count();
            let name = exchange.display_name();
            say!(
                "{} of {} revoked",
                grouped(revoked),
                count(
                    outcomes.len(),
                    &format!("{name} key"),
                    &format!("{name} keys")
                )
            );
            let failed = outcomes.iter().any(|o| {
                matches!(
                    o,
                    RevokeOutcome::StillActive { .. }
                        | RevokeOutcome::Inconclusive { .. }
                        | RevokeOutcome::Failed { .. }
                )
            });
            Ok(if revoked == outcomes.len() {
                ExitCode::SUCCESS
            } else if failed {
                say_err!(
                    "error: {} of {} are NOT revoked; see above",
                    grouped(outcomes.len() - revoked),
                    count(
                        outcomes.len(),
                        &format!("{name} key"),
                        &format!("{name} keys")
                    )
                );
                exit(ErrorKind::Exchange)
            } else {
                exit(ErrorKind::Invalid)
            })
        }
        (None, None) => Err(CliError::Input {
            message: "give a LABEL, or --exchange EX --all".into(),
        }),
    }
}
