//! Text → render it as a template and evaluate it as an expression, against a fixed context.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(src) = std::str::from_utf8(data) {
        runbook::fuzzing::render_template(src);
        runbook::fuzzing::eval_expression(src);
    }
});
