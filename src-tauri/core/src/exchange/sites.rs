//! The sites (regions and environments) of each exchange, by API host: a
//! key belongs to exactly one, and an "invalid key" answer from another is
//! a mismatch, not a dead key.
//!
//! Sources: Binance spot testnet and demo (`testnet.binance.vision`,
//! `demo-api.binance.com`, binance-spot-api-docs), Binance.US
//! (`api.binance.us`); OKX global, EEA and US sites (`www.okx.com`,
//! `eea.okx.com`, `us.okx.com`), demo trading on the same hosts with
//! `x-simulated-trading: 1`; Bybit mainnet, testnet and regional hosts
//! (<https://bybit-exchange.github.io/docs/v5/guide>) and demo trading
//! (`api-demo.bybit.com`, <https://bybit-exchange.github.io/docs/v5/demo>).

use crate::model::Exchange;

/// One site of an exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Site {
    /// Which exchange.
    pub exchange: Exchange,
    /// The API host (`eea.okx.com`).
    pub host: &'static str,
    /// What people call it (`OKX EEA`).
    pub name: &'static str,
    /// A test or demo environment (Binance: no `/sapi` there).
    pub test: bool,
}

const fn site(exchange: Exchange, host: &'static str, name: &'static str, test: bool) -> Site {
    Site {
        exchange,
        host,
        name,
        test,
    }
}

/// Every API host Keyward knows, by exchange. The first of each exchange is
/// its global production site.
pub const SITES: &[Site] = &[
    site(Exchange::Binance, "api.binance.com", "Binance", false),
    site(Exchange::Binance, "api.binance.us", "Binance.US", false),
    site(
        Exchange::Binance,
        "testnet.binance.vision",
        "Binance spot testnet",
        true,
    ),
    site(
        Exchange::Binance,
        "demo-api.binance.com",
        "Binance demo trading",
        true,
    ),
    site(Exchange::Okx, "www.okx.com", "OKX (global)", false),
    site(Exchange::Okx, "eea.okx.com", "OKX EEA", false),
    site(Exchange::Okx, "us.okx.com", "OKX US", false),
    site(Exchange::Bybit, "api.bybit.com", "Bybit (global)", false),
    site(
        Exchange::Bybit,
        "api-testnet.bybit.com",
        "Bybit testnet",
        true,
    ),
    site(
        Exchange::Bybit,
        "api-demo.bybit.com",
        "Bybit demo trading",
        true,
    ),
    site(Exchange::Bybit, "api.bybit.eu", "Bybit EU", false),
    site(Exchange::Bybit, "api.bybit.nl", "Bybit NL", false),
    site(Exchange::Bybit, "api.bybit.tr", "Bybit TR", false),
    site(Exchange::Bybit, "api.bybit.kz", "Bybit KZ", false),
    site(
        Exchange::Bybit,
        "api.bybitgeorgia.ge",
        "Bybit Georgia",
        false,
    ),
    site(Exchange::Bybit, "api.bybit.ae", "Bybit UAE", false),
    site(Exchange::Bybit, "api.bybit.id", "Bybit Indonesia", false),
    site(Exchange::Coinbase, "api.coinbase.com", "Coinbase", false),
    site(Exchange::Kraken, "api.kraken.com", "Kraken", false),
];

/// The site of `host` (an authority without port), if it is a known one.
/// `api.bytick.com` is Bybit's global site under another name.
pub fn site_of(exchange: Exchange, host: &str) -> Option<&'static Site> {
    let host = match host {
        "api.bytick.com" => "api.bybit.com",
        "okx.com" => "www.okx.com",
        h => h,
    };
    SITES
        .iter()
        .find(|s| s.exchange == exchange && s.host.eq_ignore_ascii_case(host))
}

/// The other sites a key of `exchange` rejected at `host` may belong to,
/// tried in this order.
pub fn siblings(exchange: Exchange, host: &str) -> Vec<&'static Site> {
    SITES
        .iter()
        .filter(|s| s.exchange == exchange && !s.host.eq_ignore_ascii_case(host))
        .filter(|s| !matches!(s.exchange, Exchange::Coinbase | Exchange::Kraken))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_map_to_their_sites() {
        assert_eq!(
            site_of(Exchange::Okx, "eea.okx.com").unwrap().name,
            "OKX EEA"
        );
        assert_eq!(
            site_of(Exchange::Bybit, "api.bytick.com").unwrap().name,
            "Bybit (global)"
        );
        assert!(
            site_of(Exchange::Binance, "testnet.binance.vision")
                .unwrap()
                .test
        );
        assert_eq!(site_of(Exchange::Binance, "127.0.0.1:9000"), None);
        let s: Vec<_> = siblings(Exchange::Okx, "www.okx.com")
            .iter()
            .map(|s| s.host)
            .collect();
        assert_eq!(s, ["eea.okx.com", "us.okx.com"]);
        assert!(siblings(Exchange::Kraken, "api.kraken.com").is_empty());
        assert!(
            siblings(Exchange::Bybit, "api.bybit.com")
                .iter()
                .any(|s| s.name == "Bybit demo trading")
        );
    }
}
