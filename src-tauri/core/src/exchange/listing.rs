//! An activity listing built source by source (orders, withdrawals,
//! deposits), each failing on its own, and the time windows the
//! exchanges' list endpoints are walked in.

use super::ExchangeError;
use super::types::{Activity, OrderEvent, SourceError, Timestamp, TransferEvent};
use crate::model::Exchange;

/// An activity listing being built source by source.
pub(crate) struct Listing {
    activity: Activity,
    first_error: Option<ExchangeError>,
}

impl Listing {
    pub(crate) fn new(exchange: Exchange, since: Timestamp) -> Listing {
        Listing {
            activity: Activity {
                exchange,
                since,
                orders: None,
                withdrawals: None,
                deposits: None,
                notes: Vec::new(),
                errors: Vec::new(),
            },
            first_error: None,
        }
    }

    /// One source's outcome: its list, or `None` and its error recorded.
    fn source<T>(
        &mut self,
        source: &'static str,
        result: Result<Vec<T>, ExchangeError>,
    ) -> Option<Vec<T>> {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.activity.errors.push(SourceError {
                    source,
                    code: e.code().to_string(),
                    message: e.to_string(),
                });
                self.first_error.get_or_insert(e);
                None
            }
        }
    }

    pub(crate) fn orders(&mut self, r: Result<Vec<OrderEvent>, ExchangeError>) {
        self.activity.orders = self.source("orders", r);
    }

    pub(crate) fn withdrawals(&mut self, r: Result<Vec<TransferEvent>, ExchangeError>) {
        self.activity.withdrawals = self.source("withdrawals", r);
    }

    pub(crate) fn deposits(&mut self, r: Result<Vec<TransferEvent>, ExchangeError>) {
        self.activity.deposits = self.source("deposits", r);
    }

    /// Whether a source failed for a reason that will fail the others too
    /// (transport, server, rate limit): then the listing stops there. A
    /// source's own refusal (a missing permission, an endpoint the
    /// environment lacks) does not stop the others.
    pub(crate) fn stop(&self) -> bool {
        !matches!(
            self.first_error,
            None | Some(ExchangeError::Rejected { .. })
                | Some(ExchangeError::Unsupported { .. })
                | Some(ExchangeError::UnsupportedEnvironment { .. })
        )
    }

    pub(crate) fn note(&mut self, note: impl Into<String>) {
        self.activity.notes.push(note.into());
    }

    /// The listing; when no source could be listed, or the listing stopped
    /// (see [`Listing::stop`]), the first error.
    pub(crate) fn finish(self) -> Result<Activity, ExchangeError> {
        let stop = self.stop();
        let a = self.activity;
        let listed = a.orders.is_some() || a.withdrawals.is_some() || a.deposits.is_some();
        match self.first_error {
            Some(e) if !listed || stop => Err(e),
            _ => Ok(a),
        }
    }
}

/// Splits `[since, now]` into windows of at most `span_ms`, newest first,
/// at most `max` of them; `true` if older time was left out.
pub(crate) fn windows(since: i64, now: i64, span_ms: i64, max: usize) -> (Vec<(i64, i64)>, bool) {
    let mut out = Vec::new();
    let mut end = now;
    while end > since && out.len() < max {
        let start = (end - span_ms).max(since);
        out.push((start, end));
        end = start;
    }
    (out, end > since)
}
