//! The scanner's needles: every stored secret, passphrase and API key id of
//! the vault, with its label and part, as zeroizing values for the scanner
//! to build its automaton from and drop.
//!
//! Must never: hand out a value in a type that is `Serialize` or has a
//! revealing `Debug` ([`Needle`] redacts), or keep one past the scan.

use zeroize::Zeroizing;

use super::{Needle, Part};
use crate::vault::{Session, VaultError};

impl Session {
    /// Every stored secret, passphrase and API key id as scanner needles,
    /// with label and part. The values are zeroized when the needles are
    /// dropped; build one [`crate::scan::Matcher`] from them and drop it
    /// after the scan.
    pub fn scan_needles(&mut self) -> Result<Vec<Needle>, VaultError> {
        let mut out = Vec::new();
        for label in self.labels()? {
            let detail = self.key_detail(&label)?;
            let (secret, passphrase) = self.open_secrets(&label)?;
            out.push(Needle::new(
                label.clone(),
                Part::KeyId,
                Zeroizing::new(detail.api_key_id.into_bytes()),
            ));
            out.push(Needle::new(
                label.clone(),
                Part::Secret,
                Zeroizing::new(secret.expose().as_bytes().to_vec()),
            ));
            if let Some(p) = passphrase.filter(|p| !p.is_empty()) {
                out.push(Needle::new(
                    label.clone(),
                    Part::Passphrase,
                    Zeroizing::new(p.expose().as_bytes().to_vec()),
                ));
            }
        }
        Ok(out)
    }
}
