//! Running a typed step-up for an action known only at run time (tests
//! that go through every [`GatedAction`]).

/// Evaluates `$body` with the type `$A` standing for the marker of the
/// runtime action `$action` (`keyward_core::mfa::actions::…`).
macro_rules! with_action {
    ($action:expr, |$A:ident| $body:expr) => {{
        use keyward_core::mfa::{GatedAction, actions};
        match $action {
            GatedAction::RevealSecret => {
                type $A = actions::RevealSecret;
                $body
            }
            GatedAction::CopySecret => {
                type $A = actions::CopySecret;
                $body
            }
            GatedAction::Export => {
                type $A = actions::Export;
                $body
            }
            GatedAction::RotationPromote => {
                type $A = actions::RotationPromote;
                $body
            }
            GatedAction::Revoke => {
                type $A = actions::Revoke;
                $body
            }
            GatedAction::DeleteKey => {
                type $A = actions::DeleteKey;
                $body
            }
            GatedAction::DisableMfa => {
                type $A = actions::DisableMfa;
                $body
            }
            GatedAction::ReenrolMfa => {
                type $A = actions::ReenrolMfa;
                $body
            }
            GatedAction::ChangePassword => {
                type $A = actions::ChangePassword;
                $body
            }
            GatedAction::SecuritySettings => {
                type $A = actions::SecuritySettings;
                $body
            }
            GatedAction::AllowRun => {
                type $A = actions::AllowRun;
                $body
            }
            GatedAction::EditCredentials => {
                type $A = actions::EditCredentials;
                $body
            }
            GatedAction::MarkManager => {
                type $A = actions::MarkManager;
                $body
            }
            GatedAction::UseManager => {
                type $A = actions::UseManager;
                $body
            }
            GatedAction::AutoRotate => {
                type $A = actions::AutoRotate;
                $body
            }
            GatedAction::DeployTargets => {
                type $A = actions::DeployTargets;
                $body
            }
            GatedAction::Deploy => {
                type $A = actions::Deploy;
                $body
            }
            other => panic!("no marker for {other}"),
        }
    }};
}
