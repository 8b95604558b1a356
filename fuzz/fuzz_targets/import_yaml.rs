//! The scanner's Yaml import parser: arbitrary bytes as a configuration file.
#![no_main]

use keyward_core::scan::import::Format;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    keyward_fuzz::import(Format::Yaml, data);
});
