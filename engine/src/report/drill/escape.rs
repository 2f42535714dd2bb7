//! Escaping for the hand-written HTML and SVG of reports. Every string that comes from a
//! journal or a plan (step names, errors, outputs, who answered a gate) is untrusted: it goes
//! through [`html`] before it is written, in text and in attribute values alike.

/// Text safe in HTML and SVG, in element content and in quoted attribute values.
pub fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters have no place in a document (and some are not valid XML,
            // which the inline SVG is parsed as by some readers): shown as U+FFFD.
            c if c.is_control() && !matches!(c, '\n' | '\t') => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Text safe in a markdown table cell: no line breaks, no cell separators, no inline HTML
/// (`<` never opens a tag, `&` never an entity), and otherwise as written, so it still
/// reads well raw in a terminal.
pub fn md_cell(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '<' => out.push_str("&lt;"),
            '&' if chars.peek().is_some_and(|n| n.is_ascii_alphanumeric() || *n == '#') => out.push_str("&amp;"),
            '|' => out.push_str("\\|"),
            '`' => out.push_str("\\`"),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' | '\r' => out.push(' '),
            c if c.is_control() && c != '\t' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// A CSS class name from a status word (`timed_out` → `st-timed_out`); anything unexpected
/// becomes `st-other`, so a class can never carry what a journal said.
pub fn status_class(status: &str) -> &'static str {
    match status {
        "ok" | "met" | "succeeded" => "st-ok",
        "failed" | "missed" | "rollback_failed" => "st-failed",
        "timed_out" => "st-timed_out",
        "skipped" => "st-skipped",
        "declined" | "refused" => "st-declined",
        "unfinished" | "interrupted" | "terminated" => "st-unfinished",
        "not_run" => "st-not_run",
        "measure_missed" => "st-missed",
        "undo" => "st-undo",
        _ => "st-other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_from_a_journal_is_shown_never_run() {
        assert_eq!(
            html(r#"<script>alert("x")</script>"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"
        );
        assert_eq!(html("a' onload='x"), "a&#39; onload=&#39;x");
        assert_eq!(html("Tom & Jerry"), "Tom &amp; Jerry");
        // Escaping twice shows the first escape, as it should: nothing is trusted as markup.
        assert_eq!(html("&amp;"), "&amp;amp;");
        assert_eq!(html("bell\u{7}and\nline"), "bell\u{FFFD}and\nline");
        assert_eq!(html("ünïcödé ✓"), "ünïcödé ✓");
    }

    #[test]
    fn markdown_cells_stay_one_cell() {
        assert_eq!(md_cell("a | b\r\nc"), "a \\| b c");
        assert_eq!(md_cell("<b>`x`</b>"), "&lt;b>\\`x\\`&lt;/b>");
        assert_eq!(md_cell("&lt; & >> log"), "&amp;lt; & >> log");
    }

    #[test]
    fn classes_come_from_a_closed_list() {
        assert_eq!(status_class("failed"), "st-failed");
        assert_eq!(status_class("\" onclick=\"x"), "st-other");
    }
}
