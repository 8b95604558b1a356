//! What an ambiguous "invalid key" answer is tried against: the key's
//! other possible sites (OKX's demo header toggled, the exchange's other
//! known hosts). Found there, the rejection becomes `wrong_environment`
//! and names the site.

use super::types::{BaseUrl, Credentials, KeyReport, RejectReason, Rejection};
use super::{Endpoint, error, sites};
use crate::model::Exchange;

impl Endpoint {
    /// An "invalid key" answer that can also mean "wrong site or
    /// environment": asks the key's other possible sites (the same host
    /// with OKX's demo header toggled; the exchange's other known hosts,
    /// only when this endpoint is one of them). If the key works there, the
    /// rejection says which site the key belongs to. At a custom base URL
    /// an OKX demo key is simply used as one from then on.
    pub(super) async fn find_site(&self, creds: &Credentials, report: KeyReport) -> KeyReport {
        let Some(rejection) = report.rejection.clone() else {
            return report;
        };
        let ambiguous = match self.exchange {
            Exchange::Okx => ["50101", "50111", "50119"].contains(&rejection.code.as_str()),
            Exchange::Bybit => rejection.code == "10003",
            Exchange::Binance => rejection.code == "-2015",
            _ => false,
        };
        if !ambiguous {
            return report;
        }
        let mut tries: Vec<(Endpoint, String)> = Vec::new();
        if self.exchange == Exchange::Okx {
            let mut other = self.clone();
            other.okx_demo = !self.okx_demo;
            let what = if other.okx_demo {
                "OKX demo trading (it works with the x-simulated-trading header)"
            } else {
                "OKX live trading, not demo trading"
            };
            tries.push((other, what.to_string()));
        }
        if self.site.is_some() {
            for s in sites::siblings(self.exchange, &self.host()) {
                let Ok(base) = BaseUrl::parse(&format!("https://{}", s.host)) else {
                    continue;
                };
                tries.push((
                    Endpoint {
                        transport: self.transport.clone(),
                        exchange: self.exchange,
                        base,
                        testnet: s.test,
                        okx_demo: false,
                        okx_demo_unknown: false,
                        site: Some(s),
                    },
                    format!("{} ({})", s.name, s.host),
                ));
            }
        }
        for (ep, what) in tries {
            let Ok(found) = ep.verify_here(creds).await else {
                continue;
            };
            if !found.authenticated {
                continue;
            }
            if self.exchange == Exchange::Okx
                && self.okx_demo_unknown
                && ep.okx_demo
                && ep.base == self.base
            {
                self.transport.note_okx_demo(&self.host(), &creds.api_key);
                let mut found = found;
                found
                    .notes
                    .push("OKX demo-trading key: its calls carry x-simulated-trading: 1.".into());
                return found;
            }
            return KeyReport::rejected(
                self.exchange,
                Rejection {
                    message: error::excerpt(
                        format!(
                            "this key belongs to {what}; set its environment to match ({})",
                            rejection.message
                        )
                        .as_bytes(),
                    ),
                    code: rejection.code,
                    reason: RejectReason::WrongEnvironment,
                },
            );
        }
        report
    }
}
