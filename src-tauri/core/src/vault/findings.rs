//! Acknowledging the audit log's integrity findings.
//!
//! Owns: [`Session::acknowledge_audit_findings`]. A finding
//! (`audit_integrity_failed`) stays "unacknowledged" until an
//! `audit_findings_acknowledged` entry follows it in the chain, and until
//! then [`super::AuditReport::is_ok`] is false, so `keyward log --verify`
//! keeps exiting 5 and the GUI keeps its banner, even when the chain itself
//! verifies again (a truncation is sealed over by its finding's entry).
//!
//! Must never: acknowledge without a step-up grant, delete or change a
//! finding (the acknowledgement is one more entry; the findings stay in
//! the log), or make a chain that is broken now look intact: `is_ok` also
//! needs the chain to verify.

use super::error::VaultError;
use super::journal;
use super::session::{Actor, Session};
use crate::audit::{self, Details, Event};
use crate::mfa::StepUpGrant;
use crate::mfa::actions::SecuritySettings;

impl Session {
    /// Records, after step-up ([`GatedAction::SecuritySettings`](crate::mfa::GatedAction::SecuritySettings): the user
    /// accepts the state of the log), that every integrity finding recorded
    /// so far has been seen. Returns how many findings were unacknowledged.
    /// One transaction, one `audit_findings_acknowledged` entry.
    pub fn acknowledge_audit_findings(
        &mut self,
        actor: Actor,
        grant: StepUpGrant<SecuritySettings>,
    ) -> Result<usize, VaultError> {
        self.write_gated(
            actor,
            grant.method(),
            |findings: &usize| {
                Event::new(audit::Action::AuditFindingsAcknowledged)
                    .with_details(Details::new().with("findings", *findings))
            },
            |tx, _| journal::unacknowledged_findings(tx),
        )
    }
}
