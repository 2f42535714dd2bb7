//! `--output json`: one event per line on stdout.

use std::io::Write;

use crate::exec::{Event, Sink};

pub struct JsonLines;

impl Sink for JsonLines {
    fn event(&mut self, e: &Event) {
        if let Ok(line) = serde_json::to_string(e) {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{line}");
            let _ = out.flush();
        }
    }
}
