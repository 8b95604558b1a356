//! Revoking a key and proving it gone: the API deletion where the exchange
//! allows it, otherwise the steps by hand; and the live check that a key is
//! refused, a proof only right after the same credentials authenticated on
//! the same endpoint through the same client (the digest of
//! [`Endpoint::proof_digest`], kept in memory only), or after such a
//! success a caller recorded and authenticated elsewhere and hands back
//! with its age (`Endpoint::remember_authenticated`; [`ProofScope`] says
//! which endpoint it holds for, `ProofScope::keyed_digest` binds it to the
//! credentials under the caller's key).

use super::types::{Credentials, RejectReason, Revocation, RevocationCheck};
use super::{Endpoint, ExchangeError, bybit};
use crate::model::Exchange;

impl Endpoint {
    /// Deletes the key through the exchange's API where it allows that (Bybit
    /// `delete-api`, the calling key only); otherwise returns the manual
    /// steps. The caller enforces MFA step-up before calling.
    pub async fn revoke(&self, creds: &Credentials) -> Result<Revocation, ExchangeError> {
        match self.exchange {
            Exchange::Bybit => bybit::revoke(self, creds).await,
            other => Ok(manual_revocation(other, &creds.api_key)),
        }
    }

    /// Makes a live authenticated call and expects the exchange to reject
    /// the key as unknown or expired.
    ///
    /// Every exchange's "invalid key" answer can mean something else too
    /// (Binance -2015 also means "wrong IP or permission", Kraken `EAPI:Invalid
    /// key` also answers a bad signature, OKX 50101/50111/50119 a key of
    /// another environment or region, Bybit 10003 a testnet/demo/regional
    /// host mismatch, Coinbase's bare 401 a bad JWT or an IP allowlist). So
    /// such an answer is [`RevocationCheck::Confirmed`] only if the same
    /// credentials authenticated on this same endpoint through this client
    /// within [`HttpConfig::proof_window`]: then this computer, this host and
    /// this signature did work, and only the key changed. Otherwise it is
    /// [`RevocationCheck::Inconclusive`], with what to check by hand.
    pub async fn confirm_revoked(
        &self,
        creds: &Credentials,
    ) -> Result<RevocationCheck, ExchangeError> {
        let report = self.verify(creds).await?;
        let Some(rejection) = report.rejection else {
            return Ok(RevocationCheck::StillActive);
        };
        if report.authenticated {
            return Ok(RevocationCheck::StillActive);
        }
        let check_by_hand = check_by_hand(self.exchange, &creds.api_key);
        if !rejection.reason.means_key_unusable() {
            return Ok(RevocationCheck::Inconclusive {
                why: format!(
                    "{} refused the call for another reason ({}), which says nothing about whether the key still exists",
                    self.exchange.display_name(),
                    reason_words(rejection.reason)
                ),
                rejection,
                check_by_hand,
            });
        }
        if self
            .transport
            .authenticated_recently(&self.proof_digest(creds))
        {
            return Ok(RevocationCheck::Confirmed { rejection });
        }
        let minutes = self.transport.proof_window().as_secs() / 60;
        Ok(RevocationCheck::Inconclusive {
            why: format!(
                "{} answers {} also when {}; these credentials did not authenticate on {} from this computer in the last {minutes} minutes, so the answer cannot tell a deleted key from that",
                self.exchange.display_name(),
                rejection.code,
                ambiguity(self.exchange),
                self.base.authority(),
            ),
            rejection,
            check_by_hand,
        })
    }

    /// A digest of everything a "this key is gone" proof depends on: the
    /// exchange, the base URL and environment flags, and the credentials.
    /// Kept only in memory, only as a digest.
    pub(super) fn proof_digest(&self, creds: &Credentials) -> [u8; 32] {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        self.proof_scope().feed(creds, |part| h.update(part));
        h.finalize().into()
    }

    /// Where this endpoint's proofs hold.
    pub fn proof_scope(&self) -> ProofScope {
        ProofScope {
            exchange: self.exchange,
            base: self.base.as_str().to_owned(),
            testnet: self.testnet,
            okx_demo: self.okx_demo,
        }
    }

    /// Takes a success of `creds` on this endpoint that an earlier process
    /// saw and recorded, `age` before `noted`, as if this client had seen
    /// it: within the proof window, an "invalid key" answer for the same
    /// credentials is then proof ([`Endpoint::confirm_revoked`]). The
    /// caller checks that the record is authentic and for these
    /// credentials at this endpoint.
    pub(crate) fn remember_authenticated(
        &self,
        creds: &Credentials,
        noted: std::time::Instant,
        age: std::time::Duration,
    ) {
        self.transport
            .remember_authenticated(self.proof_digest(creds), noted, age);
    }
}

/// Where a "this key is gone" proof holds: one exchange at one base URL,
/// with the environment flags the calls carry. Two endpoints share their
/// proofs only if their scopes are equal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProofScope {
    exchange: Exchange,
    base: String,
    testnet: bool,
    okx_demo: bool,
}

impl ProofScope {
    /// The scope of [`ExchangeClient::endpoint`](super::ExchangeClient::endpoint)
    /// for this exchange and environment, without a client (no network
    /// I/O); the same errors.
    pub fn of(
        exchange: Exchange,
        environment: &crate::model::Environment,
    ) -> Result<ProofScope, ExchangeError> {
        let place = super::Place::of(exchange, environment)?;
        Ok(ProofScope {
            exchange,
            base: place.base.as_str().to_owned(),
            testnet: place.testnet,
            okx_demo: place.okx_demo,
        })
    }

    /// The base URL.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// HMAC-SHA256 under `key` of `context` (what the caller binds besides:
    /// a record, a time), this scope and the credentials. For a proof kept
    /// outside memory: without the key it can neither be forged nor tell
    /// anything about the credentials.
    pub(crate) fn keyed_digest(&self, key: &[u8], context: &[u8], creds: &Credentials) -> [u8; 32] {
        use hmac::{Hmac, KeyInit, Mac};
        let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key)
            .expect("HMAC accepts keys of any length");
        mac.update(&(context.len() as u64).to_be_bytes());
        mac.update(context);
        self.feed(creds, |part| mac.update(part));
        mac.finalize().into_bytes().into()
    }

    /// Every part a proof depends on, each length-prefixed.
    fn feed(&self, creds: &Credentials, mut update: impl FnMut(&[u8])) {
        use secrecy::ExposeSecret;
        let flags = [u8::from(self.testnet), u8::from(self.okx_demo)];
        let passphrase = creds
            .passphrase
            .as_ref()
            .map(|p| zeroize::Zeroizing::new(p.expose_secret().as_bytes().to_vec()))
            .unwrap_or_default();
        for part in [
            self.exchange.as_str().as_bytes(),
            self.base.as_bytes(),
            &flags[..],
            format!("{:?}", creds.key_type).as_bytes(),
            creds.api_key.as_bytes(),
            creds.secret.expose_secret().as_bytes(),
            &passphrase[..],
        ] {
            update(&(part.len() as u64).to_be_bytes());
            update(part);
        }
    }
}

/// What else an exchange's "invalid key" answer can mean.
fn ambiguity(exchange: Exchange) -> &'static str {
    match exchange {
        Exchange::Binance => {
            "the calling IP is not on the key's allowlist or the key lacks the permission (-2015: \"Invalid API-key, IP, or permissions for action\")"
        }
        Exchange::Coinbase => {
            "the JWT is refused (wrong algorithm, clock, key format) or the key's IP allowlist excludes this computer (a bare 401)"
        }
        Exchange::Kraken => "the signature does not match the request (EAPI:Invalid key)",
        Exchange::Okx => {
            "the key belongs to another environment or region (demo, OKX EEA at eea.okx.com, OKX US at us.okx.com)"
        }
        Exchange::Bybit => {
            "the key belongs to another host (testnet, demo trading, or a regional site such as Bybit EU, NL, TR or KZ)"
        }
        // No endpoint exists for an exchange without an adapter.
        _ => "the key is refused for another reason",
    }
}

fn reason_words(reason: RejectReason) -> &'static str {
    match reason {
        RejectReason::BadSignature => "bad signature",
        RejectReason::WrongPassphrase => "wrong passphrase",
        RejectReason::Timestamp => "timestamp or nonce",
        RejectReason::IpNotAllowed => "IP not on the allowlist",
        RejectReason::PermissionDenied => "permission denied",
        RejectReason::WrongEnvironment => "the key belongs to another site or environment",
        _ => "an unclassified error",
    }
}

/// What a person checks on the exchange when the live answer proves
/// nothing.
fn check_by_hand(exchange: Exchange, api_key: &str) -> Vec<String> {
    let shown: String = api_key.chars().take(8).collect();
    let page = match exchange {
        Exchange::Binance => {
            "binance.com → Account → API Management (or Binance.US, or the testnet site, if the key is from there)"
        }
        Exchange::Coinbase => {
            "portal.cdp.coinbase.com → API Keys (in the project the key was created in)"
        }
        Exchange::Kraken => "kraken.com → Settings → API",
        Exchange::Okx => {
            "the API page of the OKX site the key was created on (okx.com, my.okx.com / eea.okx.com, app.okx.com / us.okx.com; demo keys under Demo trading)"
        }
        Exchange::Bybit => {
            "API Management on the Bybit site the key was created on (bybit.com, testnet.bybit.com, Demo Trading, or the regional site: EU, NL, TR, KZ…)"
        }
        _ => "the exchange's API key page",
    };
    let mut steps = vec![
        format!("Sign in to {page}."),
        format!(
            "Check that no key whose id starts with {shown}… is listed any more; if it is, delete it there."
        ),
    ];
    match exchange {
        Exchange::Binance => steps.push(
            "If the key is IP-restricted, run the check from an allowlisted address: from there an answer of -2015 right after a successful call is proof.".into(),
        ),
        Exchange::Coinbase | Exchange::Kraken => steps.push(
            "Run the check again right after a successful check of the same key from this computer: a rejection then is proof.".into(),
        ),
        Exchange::Okx | Exchange::Bybit => steps.push(
            "Make sure the key's environment in Keyward matches the site it was created on, then run the check again.".into(),
        ),
        _ => {}
    }
    steps
}

fn manual_revocation(exchange: Exchange, api_key: &str) -> Revocation {
    let shown: String = api_key.chars().take(8).collect();
    let (reason, page) = match exchange {
        Exchange::Binance => (
            "Binance lets a key be deleted only in the web interface",
            "binance.com → Account → API Management",
        ),
        Exchange::Coinbase => (
            "Coinbase CDP keys are deleted only in the CDP portal",
            "portal.cdp.coinbase.com → API Keys",
        ),
        Exchange::Kraken => (
            "Kraken lets a standard key be deleted only in the web interface",
            "kraken.com → Settings → API",
        ),
        Exchange::Okx => (
            "OKX lets a main-account key be deleted only in the web interface",
            "okx.com → Profile → API keys",
        ),
        Exchange::Bybit => (
            "Bybit did not delete this key",
            "bybit.com → Account → API Management",
        ),
        _ => (
            "Keyward has no live adapter for this exchange",
            "the exchange's API key page",
        ),
    };
    Revocation::Unsupported {
        reason: reason.to_string(),
        steps: vec![
            format!("Sign in to {} and open {page}.", exchange.display_name()),
            format!("Find the key whose id starts with {shown}… and delete it."),
            "Come back and run the revocation check: Keyward makes a live call with the old key and expects the exchange to reject it.".to_string(),
        ],
    }
}
