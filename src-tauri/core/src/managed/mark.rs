//! Marking a key as its account's manager key: a live check of the key
//! (three phases through `vault::three_phase`), the exchange layer's
//! judgement of it ([`crate::exchange::manager_fitness`]), then the mark
//! with its audit entry.
//!
//! Must never: mark a key whose live check did not authenticate or that
//! the exchange layer finds unfit, mark a key whose credentials changed
//! while it was checked, or hold the session across the network call.

use serde::Serialize;

use super::{ManagedError, store};
use crate::exchange::{self, ExchangeClient, ExchangeError, KeyReport, ManagerFitness};
use crate::mfa::StepUpGrant;
use crate::mfa::actions::MarkManager;
use crate::vault::{self, AccessError, Actor, Session, SessionAccess, key_fingerprint};

/// What marking a manager key found and did.
#[derive(Debug, Clone, Serialize)]
pub struct MarkOutcome {
    /// The key's label.
    pub label: String,
    /// The exchange.
    pub exchange: crate::model::Exchange,
    /// The exchange layer's judgement of the key (what a manager key needs,
    /// and what makes this one riskier than needed).
    pub fitness: ManagerFitness,
    /// The live check stored as the key's last check once it was marked
    /// (what health judges it by); `None` if storing it failed.
    pub check: Option<crate::checks::KeyVerification>,
}

pub(super) fn access_error(e: AccessError) -> ManagedError {
    match e {
        AccessError::Vault(v) => ManagedError::Vault(v),
        AccessError::NotSupported { exchange } => ManagedError::NotSupported { exchange },
        AccessError::Exchange(x) => ManagedError::Exchange(x),
    }
}

/// Marks `label` as the manager key of its exchange and environment
/// (gated: [`MarkManager`]). The key is checked live first; a key that
/// does not authenticate ([`ManagedError::CheckFailed`]) or that
/// [`exchange::manager_fitness`] finds unfit ([`ManagedError::Unfit`],
/// with the reasons) is refused, and so is a second manager key for the
/// same exchange and environment ([`ManagedError::OtherManager`]). Audited
/// `manager_key_marked`; then a live check is stored as the key's last
/// check, as `keyward verify` stores one.
pub async fn mark<S: SessionAccess>(
    mut access: S,
    client: &ExchangeClient,
    actor: Actor,
    grant: StepUpGrant<MarkManager>,
    label: &str,
) -> Result<MarkOutcome, ManagedError> {
    let proof = grant.method();
    let mut outcome = vault::three_phase(
        &mut access,
        |s| {
            let detail = s.key_detail(label)?;
            if let Some(other) =
                store::manager_for(s, detail.summary.exchange, &detail.summary.environment)?
                && other != label
            {
                return Err(ManagedError::OtherManager {
                    exchange: detail.summary.exchange,
                    other,
                });
            }
            let targets: Vec<String> = s
                .deploy_targets_of(label)?
                .into_iter()
                .map(|d| d.target)
                .collect();
            if !targets.is_empty() {
                return Err(ManagedError::Deployed {
                    label: label.to_owned(),
                    targets,
                });
            }
            let id = store::parse_id(&detail.summary.id, label)?;
            let fingerprint = key_fingerprint(s.conn(), &id)?;
            let target = s.exchange_access(label).map_err(access_error)?;
            Ok((target, fingerprint))
        },
        |(target, fingerprint)| async move {
            let outcome: Result<KeyReport, ExchangeError> =
                match client.endpoint(target.exchange, &target.environment) {
                    Ok(endpoint) => endpoint.verify(&target.credentials).await,
                    Err(e) => Err(e),
                };
            (target.exchange, fingerprint, outcome)
        },
        |s, (exchange, fingerprint, outcome)| {
            record_mark(s, actor, proof, label, exchange, fingerprint, outcome)
        },
    )
    .await?;
    // The key's last check, stored as every live check is: health judges
    // the manager key by it (withdraw, IP allowlist) from now on.
    let selection = crate::checks::CheckSelection::Labels(vec![label.to_owned()]);
    outcome.check = crate::checks::verify_through(&mut access, client, &selection, actor)
        .await
        .ok()
        .and_then(|mut checked| checked.pop());
    Ok(outcome)
}

fn record_mark(
    s: &mut Session,
    actor: Actor,
    proof: crate::mfa::ProofMethod,
    label: &str,
    exchange: crate::model::Exchange,
    fingerprint: Option<[u8; 32]>,
    outcome: Result<KeyReport, ExchangeError>,
) -> Result<MarkOutcome, ManagedError> {
    let report = match outcome {
        Ok(report) if report.authenticated => report,
        Ok(report) => {
            let detail = report.rejection.map_or_else(
                || "the exchange did not accept the key".to_owned(),
                |r| format!("{} {}", r.code, r.message),
            );
            return Err(ManagedError::CheckFailed {
                label: label.to_owned(),
                status: "rejected",
                detail,
            });
        }
        Err(e) => {
            return Err(ManagedError::CheckFailed {
                label: label.to_owned(),
                status: "unreachable",
                detail: e.to_string(),
            });
        }
    };
    let fitness = exchange::manager_fitness(exchange, &report);
    if !fitness.fit {
        let mut problems = fitness.problems.clone();
        if problems.is_empty() {
            problems.push("the exchange layer found it unfit".to_owned());
        }
        if !fitness.needs.is_empty() {
            problems.push(format!("a manager key needs {}", fitness.needs.join(", ")));
        }
        return Err(ManagedError::Unfit {
            label: label.to_owned(),
            problems,
        });
    }
    // The key checked must still be the key stored.
    let id = s.find_id(label)?;
    if key_fingerprint(s.conn(), &id)? != fingerprint {
        return Err(ManagedError::CheckFailed {
            label: label.to_owned(),
            status: "stale",
            detail: "the key changed while it was being checked; mark it again".to_owned(),
        });
    }
    store::write_manager(s, actor, proof, label, true)?;
    Ok(MarkOutcome {
        label: label.to_owned(),
        exchange,
        fitness,
        check: None,
    })
}
