//! Unit tests of the contacts: the rotation across a daylight-saving change, and where
//! a bad section's errors are reported.

use std::path::Path;

use chrono::{DateTime, Utc};

use super::{Contacts, ContactsSpec, load};
use crate::source::{Diagnostic, Source};
use crate::yaml::{self, Sp};

fn contacts(yaml_text: &str) -> Result<Contacts, Vec<Diagnostic>> {
    let source = Source::new(Path::new("runbook.yaml"), yaml_text.to_string());
    let node = yaml::parse(&source.text).expect("yaml");
    let spec: Sp<ContactsSpec> = yaml::from_node(node.get("contacts").expect("contacts")).expect("reads");
    let inner = node.get("contacts").expect("contacts").clone();
    load(Path::new("/nonexistent"), &source, &inner, &spec)
}

const BOOK: &str = r#"
contacts:
  timezone: America/New_York
  people:
    jsmith: { name: John Smith, slack: "@jsmith" }
    jdoe: { name: Jane Doe }
    mtech: { name: Mike Tech }
  rotation:
    start: 2025-10-06
    handover: "09:00"
    shifts:
      - { primary: jsmith, secondary: jdoe }
      - { primary: jdoe, secondary: mtech }
  escalation:
    - { name: L1, notify: [oncall:primary], within: 15m }
    - { name: L2, notify: [oncall:secondary] }
"#;

#[test]
fn the_shift_on_call_turns_over_at_the_local_handover() {
    let c = contacts(BOOK).expect("valid");
    // 2025-10-06 09:00 in New York (EDT, UTC-4) is 13:00 UTC.
    let at = |s: &str| DateTime::parse_from_rfc3339(s).expect("time").with_timezone(&Utc);
    assert_eq!(c.on_call(at("2025-10-06T12:59:00Z")).map(|o| o.index), Some(1));
    assert_eq!(c.on_call(at("2025-10-06T13:00:00Z")).map(|o| o.index), Some(0));
    assert_eq!(c.on_call(at("2025-10-13T13:00:00Z")).map(|o| o.index), Some(1));
    assert_eq!(c.on_call(at("2025-10-20T13:00:00Z")).map(|o| o.index), Some(0));
    // After the clocks go back (2 Nov), the handover is still 09:00 local: 14:00 UTC.
    let nov = c.on_call(at("2025-11-03T13:30:00Z")).expect("on call");
    assert_eq!(nov.index, 1);
    assert_eq!(nov.until, at("2025-11-03T14:00:00Z"));
    assert_eq!(
        c.resolve("oncall:secondary", at("2025-11-03T14:00:00Z")).map(|p| p.0),
        Some("jdoe")
    );
}

#[test]
fn bad_sections_are_errors_where_they_are_written() {
    let bad = BOOK
        .replace("notify: [oncall:secondary]", "notify: [oncall:secondry, bob]")
        .replace("secondary: mtech", "secondary: jdoe")
        .replace("within: 15m", "within: 0s");
    let errs = contacts(&bad).expect_err("invalid");
    let text: Vec<String> = errs.iter().map(|d| d.message.clone()).collect();
    assert!(
        text.iter().any(|m| m.contains("unknown on-call role `secondry`")),
        "{text:?}"
    );
    assert!(text.iter().any(|m| m.contains("unknown person `bob`")), "{text:?}");
    assert!(text.iter().any(|m| m.contains("overlap")), "{text:?}");
    assert!(text.iter().any(|m| m.contains("longer than 0s")), "{text:?}");
    assert!(errs.iter().all(|d| d.span.is_some()));
}
