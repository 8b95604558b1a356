//! Exchange names as brands for the views.
//!
//! Every object of a response that names a stored exchange in an
//! `exchange` field also gets `exchange_name`, the brand a person reads
//! ("OKX", "KuCoin", from `Exchange::display_name`); an `exchanges` list
//! gets `exchange_names`. The ids stay as they are (the views send them
//! back). One wrapper for every DTO that carries an exchange, so the core's
//! DTOs keep one field each and the brand names live in one place.

use keyward_core::model::Exchange;
use serde::{Serialize, Serializer};
use serde_json::Value;

/// `T`, serialized with `exchange_name` beside every `exchange`.
#[derive(Debug)]
pub struct Branded<T>(pub T);

impl<T: Serialize> Serialize for Branded<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut value = serde_json::to_value(&self.0).map_err(serde::ser::Error::custom)?;
        add_names(&mut value);
        value.serialize(s)
    }
}

fn brand(value: &Value) -> Option<&'static str> {
    value
        .as_str()
        .and_then(|id| id.parse::<Exchange>().ok())
        .map(Exchange::display_name)
}

fn add_names(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for child in map.values_mut() {
                add_names(child);
            }
            if let Some(name) = map.get("exchange").and_then(brand) {
                map.insert("exchange_name".into(), name.into());
            }
            if let Some(Value::Array(ids)) = map.get("exchanges") {
                let names: Vec<Value> = ids
                    .iter()
                    .map(|id| brand(id).map_or_else(|| id.clone(), Value::from))
                    .collect();
                map.insert("exchange_names".into(), Value::Array(names));
            }
        }
        Value::Array(items) => items.iter_mut().for_each(add_names),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_exchange_gets_its_brand_beside_it() {
        let dto = json!({
            "label": "main",
            "exchange": "okx",
            "keys": [{ "label": "k", "exchange": "kucoin" }],
            "exchanges": ["binance", "bybit"],
            "error": { "exchange_code": "50113" },
        });
        let out = serde_json::to_value(Branded(dto)).unwrap();
        assert_eq!(out["exchange"], "okx");
        assert_eq!(out["exchange_name"], "OKX");
        assert_eq!(out["keys"][0]["exchange_name"], "KuCoin");
        assert_eq!(out["exchange_names"], json!(["Binance", "Bybit"]));
        assert!(out["error"].get("exchange_name").is_none());
    }
}
