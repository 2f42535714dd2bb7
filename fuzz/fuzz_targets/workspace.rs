//! YAML bytes → load them as a `runbook.yaml` → choose its environments.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    runbook::fuzzing::load_workspace(data);
});
