//! `--output json`: one event per line on stdout.

use std::io::Write;

use crate::event::{Event, Sink};

pub struct JsonLines;

impl Sink for JsonLines {
    fn event(&mut self, e: &Event) -> Result<(), String> {
        let line = serde_json::to_string(e).map_err(|e| format!("cannot encode an event: {e}"))?;
        let mut out = std::io::stdout().lock();
        writeln!(out, "{line}")
            .and_then(|_| out.flush())
            .map_err(|e| format!("cannot write events to stdout: {e}"))
    }
}
