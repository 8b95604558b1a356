use std::path::PathBuf;

use keyward_core::mfa::actions::Gated;
use keyward_core::mfa::{Proof, StepUpGrant};
use keyward_core::model::{ApiSecret, Exchange, NewKey, Passphrase};
use keyward_core::vault::{Actor, KdfParams, MasterPassword, Session, Vault, VaultOptions};

pub const PASSWORD: &str = "correct horse battery staple";
pub const BINANCE_KEY: &str = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A";

pub fn password() -> MasterPassword {
    MasterPassword::from(PASSWORD)
}

pub struct TempVault {
    pub dir: tempfile::TempDir,
}

impl TempVault {
    pub fn new() -> TempVault {
        TempVault {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().join("vault.keyward")
    }

    pub fn create(&self) -> Session {
        Vault::create(&self.path(), &password(), KdfParams::MINIMUM, Actor::Cli).unwrap()
    }

    pub fn create_with(&self, options: VaultOptions) -> Session {
        Vault::create_with(&self.path(), &password(), KdfParams::MINIMUM, options).unwrap()
    }
}

pub fn binance(label: &str) -> NewKey {
    NewKey::new(
        label,
        Exchange::Binance,
        BINANCE_KEY,
        ApiSecret::from("binance-secret"),
    )
}

pub fn okx(label: &str) -> NewKey {
    let mut key = NewKey::new(
        label,
        Exchange::Okx,
        "6c4b2a8e-3f1d-4e5a-9b7c-0d1e2f3a4b5c",
        ApiSecret::from("okx-secret"),
    );
    key.passphrase = Some(Passphrase::from("okx-passphrase"));
    key
}

/// A step-up grant from the master password (MFA not enrolled).
pub fn grant<A: Gated>(session: &mut Session) -> StepUpGrant<A> {
    let proof = Proof::MasterPassword(session.verify_password(&password()).unwrap());
    session.step_up::<A>(Actor::Cli, Some(proof)).unwrap()
}
