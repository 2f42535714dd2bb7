//! YAML bytes → load a playbook → compile it for each environment → plan and render it.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    runbook::fuzzing::load_and_compile("fuzz", data);
});
