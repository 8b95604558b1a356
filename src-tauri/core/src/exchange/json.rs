//! Value helpers for the adapters' JSON parsing (no panics on any input),
//! and the one reader of activity rows: each adapter says where its
//! exchange keeps each field of an [`OrderEvent`] or a [`TransferEvent`]
//! ([`OrderRow`], [`TransferRow`]) instead of writing the event out again.

use serde_json::Value;

use super::types::{OrderEvent, Timestamp, TransferEvent};

pub fn str_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

pub fn field(v: &Value, name: &str) -> Option<String> {
    v.get(name).and_then(str_of)
}

pub fn int(v: &Value, name: &str) -> Option<i64> {
    match v.get(name)? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse::<f64>().ok().map(|f| f as i64),
        _ => None,
    }
}

pub fn bool_of(v: &Value, name: &str) -> Option<bool> {
    match v.get(name)? {
        Value::Bool(b) => Some(*b),
        _ => None,
    }
}

/// How a row writes its time, and in which field.
#[derive(Debug, Clone, Copy)]
pub enum Time {
    /// Unix milliseconds (a number or a numeric string).
    Ms(&'static str),
    /// Unix seconds.
    Secs(&'static str),
    /// An RFC 3339 / ISO 8601 UTC text.
    Utc(&'static str),
}

impl Time {
    fn of(self, v: &Value) -> Option<Timestamp> {
        match self {
            Time::Ms(name) => Some(Timestamp::from_unix_ms(int(v, name)?)),
            Time::Secs(name) => Some(Timestamp::from_unix_secs(int(v, name)?)),
            Time::Utc(name) => field(v, name).and_then(|t| Timestamp::parse_utc(&t)),
        }
    }
}

/// Where an exchange's order rows keep each field of an [`OrderEvent`]. A
/// row without an id, a symbol or a time is skipped.
#[derive(Debug, Clone, Copy)]
pub struct OrderRow {
    pub id: &'static str,
    pub symbol: &'static str,
    pub side: &'static str,
    /// Whether the side is lower-cased (`BUY` → `buy`).
    pub lowercase_side: bool,
    pub status: &'static str,
    pub quantity: &'static str,
    pub price: &'static str,
    pub time: Time,
}

impl OrderRow {
    pub fn read(&self, o: &Value) -> Option<OrderEvent> {
        let side = field(o, self.side);
        Some(OrderEvent {
            id: field(o, self.id)?,
            symbol: field(o, self.symbol)?,
            side: if self.lowercase_side {
                side.map(|s| s.to_ascii_lowercase())
            } else {
                side
            },
            status: field(o, self.status).unwrap_or_default(),
            quantity: field(o, self.quantity),
            price: field(o, self.price),
            time: self.time.of(o)?,
        })
    }
}

/// Where an exchange's withdrawal or deposit rows keep each field of a
/// [`TransferEvent`]. A row without an id, an asset, an amount or a time is
/// skipped.
#[derive(Debug, Clone, Copy)]
pub struct TransferRow {
    pub id: &'static str,
    /// Whether a row without `id` takes its transaction id as its id.
    pub id_or_tx: bool,
    pub asset: &'static str,
    pub amount: &'static str,
    pub status: &'static str,
    pub address: &'static str,
    pub tx_id: &'static str,
    pub time: Time,
}

impl TransferRow {
    pub fn read(&self, t: &Value) -> Option<TransferEvent> {
        let tx_id = field(t, self.tx_id);
        let id = match field(t, self.id) {
            None if self.id_or_tx => tx_id.clone(),
            id => id,
        };
        Some(TransferEvent {
            id: id?,
            asset: field(t, self.asset)?,
            amount: field(t, self.amount)?,
            status: field(t, self.status).unwrap_or_default(),
            address: field(t, self.address),
            tx_id,
            time: self.time.of(t)?,
        })
    }

    /// Every readable row of a JSON array (nothing if it is not one).
    pub fn read_all(&self, rows: &Value) -> Vec<TransferEvent> {
        rows.as_array()
            .map(|a| a.iter().filter_map(|t| self.read(t)).collect())
            .unwrap_or_default()
    }
}
