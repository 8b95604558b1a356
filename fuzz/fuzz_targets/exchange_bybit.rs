//! Bybit's introspection answer (status, Retry-After, body) → KeyReport or a
//! typed error. Input framing: see `keyward_fuzz::exchange`.
#![no_main]

use keyward_core::model::Exchange;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    keyward_fuzz::exchange(Exchange::Bybit, data);
});
