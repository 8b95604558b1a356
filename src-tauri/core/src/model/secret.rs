//! The key's own secrets: the API secret and the passphrase a key record
//! carries on its way in (sealed by the vault before they are stored).
//!
//! Owns: [`ApiSecret`], [`Passphrase`] and the text-secret newtype shared
//! with the vault's own secrets. Must never: implement `Serialize`,
//! `Display` or a revealing `Debug`, or hand out a copy that is not zeroized
//! on drop.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};

macro_rules! redacted_debug {
    ($ty:ident) => {
        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($ty), "([redacted])"))
            }
        }
    };
}

macro_rules! text_secret {
    ($(#[$doc:meta])* $ty:ident) => {
        $(#[$doc])*
        pub struct $ty(SecretString);

        impl $ty {
            /// Wraps `value`; the `String` is moved, not copied.
            pub fn new(value: String) -> Self {
                $ty(SecretString::from(value))
            }

            /// The secret text. Callers must not copy it into anything that
            /// outlives the call (logs, errors, DTOs).
            pub fn expose(&self) -> &str {
                self.0.expose_secret()
            }

            /// Whether the secret is the empty string.
            pub fn is_empty(&self) -> bool {
                self.0.expose_secret().is_empty()
            }
        }

        impl From<String> for $ty {
            fn from(value: String) -> Self {
                $ty::new(value)
            }
        }

        impl From<&str> for $ty {
            fn from(value: &str) -> Self {
                $ty::new(value.to_owned())
            }
        }

        redacted_debug!($ty);
    };
}

pub(crate) use {redacted_debug, text_secret};

text_secret!(
    /// An exchange API secret (HMAC secret or a PEM private key).
    ApiSecret
);
text_secret!(
    /// An exchange API passphrase (OKX, KuCoin, Bitget).
    Passphrase
);
