//! The redactor: built once per run from every secret value, it hides secrets in every
//! shape they travel in — the value, each line of a multi-line value (a PEM key, a
//! kubeconfig), its base64 and base64url forms (at any alignment inside a larger encoded
//! blob) and its URL-encoded forms. A line that holds any of them becomes `***`.

use std::borrow::Cow;

use aho_corasick::AhoCorasick;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// What stands for a redacted line.
pub const MASK: &str = "***";

/// Lines of a multi-line secret at least this long are secrets of their own; shorter ones
/// (`}`, `---`, an empty line) would hide half of every output.
const MIN_LINE: usize = 8;

/// Encoded fragments shorter than this match by chance in unrelated base64 text.
const MIN_FRAGMENT: usize = 8;

/// What `encodeURIComponent` leaves alone.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

#[derive(Debug, Default)]
pub struct Redactor {
    matcher: Option<AhoCorasick>,
    patterns: usize,
    /// The matcher could not be built: every line is hidden rather than none.
    everything: bool,
}

impl Redactor {
    /// A redactor for these secret values (empty ones are ignored).
    pub fn new<'a>(secrets: impl IntoIterator<Item = &'a str>) -> Redactor {
        let mut patterns: Vec<String> = Vec::new();
        for value in secrets.into_iter().filter(|v| !v.is_empty()) {
            add_forms(value, &mut patterns);
        }
        patterns.sort();
        patterns.dedup();
        let count = patterns.len();
        // Building fails only on absurd pattern sets (far beyond what a run's secrets make);
        // then every line is hidden rather than none.
        let built = (!patterns.is_empty()).then(|| AhoCorasick::new(&patterns));
        let everything = matches!(built, Some(Err(_)));
        Redactor {
            matcher: built.and_then(Result::ok),
            patterns: count,
            everything,
        }
    }

    /// How many shapes of the secrets it looks for.
    pub fn patterns(&self) -> usize {
        self.patterns
    }

    pub fn is_empty(&self) -> bool {
        self.matcher.is_none() && !self.everything
    }

    /// Whether the text holds a secret in any of its shapes.
    pub fn finds(&self, text: &str) -> bool {
        self.everything || self.matcher.as_ref().is_some_and(|m| m.is_match(text))
    }

    /// The text with every line that holds a secret replaced by `***`.
    pub fn redact<'t>(&self, text: &'t str) -> Cow<'t, str> {
        if !self.finds(text) {
            return Cow::Borrowed(text);
        }
        let mut out = String::with_capacity(text.len());
        for (i, line) in text.split('\n').enumerate() {
            if i > 0 {
                out.push('\n');
            }
            if self.finds(line) {
                out.push_str(MASK);
            } else {
                out.push_str(line);
            }
        }
        Cow::Owned(out)
    }

    /// Redacts every string of a JSON value, in place.
    pub fn redact_json(&self, v: &mut serde_json::Value) {
        if self.is_empty() {
            return;
        }
        match v {
            serde_json::Value::String(s) => {
                if let Cow::Owned(r) = self.redact(s) {
                    *s = r;
                }
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(|x| self.redact_json(x)),
            serde_json::Value::Object(m) => m.values_mut().for_each(|x| self.redact_json(x)),
            _ => {}
        }
    }
}

/// Every shape of one secret value.
fn add_forms(value: &str, out: &mut Vec<String>) {
    out.push(value.to_string());
    let lines: Vec<&str> = value.lines().map(str::trim).filter(|l| l.len() >= MIN_LINE).collect();
    if value.contains('\n') {
        out.extend(lines.iter().map(|l| l.to_string()));
    }
    for piece in std::iter::once(value).chain(lines.iter().copied().filter(|_| value.contains('\n'))) {
        add_encoded(piece, out);
    }
}

fn add_encoded(value: &str, out: &mut Vec<String>) {
    let bytes = value.as_bytes();
    for engine in [&STANDARD, &URL_SAFE] {
        let whole = engine.encode(bytes);
        if whole.len() >= 4 {
            out.push(whole.trim_end_matches('=').to_string());
        }
    }
    for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
        // Inside a larger encoded blob the value starts 0, 1 or 2 bytes into a 3-byte group;
        // the characters that mix in its neighbours' bits are left out.
        for shift in 0..3usize {
            let mut padded = vec![0u8; shift];
            padded.extend_from_slice(bytes);
            let encoded = engine.encode(&padded);
            let first = (8 * shift).div_ceil(6);
            let last = (8 * (shift + bytes.len())) / 6;
            if last > first && last - first >= MIN_FRAGMENT {
                out.push(encoded[first..last].to_string());
            }
        }
    }
    for set in [NON_ALPHANUMERIC, COMPONENT] {
        let encoded = utf8_percent_encode(value, set).to_string();
        if encoded != value {
            out.push(encoded.replace("%20", "+"));
            out.push(lowercase_escapes(&encoded));
            out.push(encoded);
        }
    }
}

/// Percent-escapes written in lower case (`%2f`), as some clients send them.
fn lowercase_escapes(encoded: &str) -> String {
    let mut out = String::with_capacity(encoded.len());
    let mut chars = encoded.chars();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '%' {
            out.extend(chars.by_ref().take(2).map(|h| h.to_ascii_lowercase()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEM: &str = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n-----END PRIVATE KEY-----";

    #[test]
    fn the_value_and_each_long_line_of_a_multi_line_secret_are_hidden() {
        let r = Redactor::new([PEM]);
        assert_eq!(
            r.redact("before\nkey: MIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nafter"),
            "before\n***\nafter"
        );
        assert_eq!(r.redact("BKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj"), "***");
        // The summary of a command that prints the key shows its first line only.
        assert_eq!(r.redact("shell: printf '%s' '-----BEGIN PRIVATE KEY-----"), "***");
        assert_eq!(r.redact("nothing secret here"), "nothing secret here");
        assert!(matches!(r.redact("clean"), Cow::Borrowed(_)));
    }

    #[test]
    fn short_lines_of_a_secret_are_not_patterns() {
        let r = Redactor::new(["{\n  \"token\": \"s3cr3t-t0ken-value\"\n}"]);
        assert_eq!(r.redact("}"), "}");
        assert_eq!(r.redact("x \"token\": \"s3cr3t-t0ken-value\""), "***");
    }

    #[test]
    fn base64_and_base64url_forms_are_hidden_at_every_alignment() {
        let secret = "hunter2-is-my-password?>";
        let r = Redactor::new([secret]);
        for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
            assert_eq!(r.redact(&engine.encode(secret)), "***");
            for prefix in ["a", "ab", "abc", "user:"] {
                let blob = engine.encode(format!("{prefix}{secret}-and-more"));
                assert_eq!(r.redact(&blob), "***", "{prefix} via {blob}");
            }
        }
        let pem = Redactor::new([PEM]);
        assert_eq!(pem.redact(&STANDARD.encode(PEM)), "***");
        // A kubeconfig embeds the key base64-encoded among other data.
        let kubeconfig = format!("client-key-data: {}", STANDARD.encode(format!("xx{PEM}\n")));
        assert_eq!(pem.redact(&kubeconfig), "***");
    }

    #[test]
    fn url_encoded_forms_are_hidden() {
        let secret = "p@ss word/with&stuff";
        let r = Redactor::new([secret]);
        for shown in [
            "https://h/?token=p%40ss%20word%2Fwith%26stuff",
            "token=p%40ss+word%2Fwith%26stuff",
            "token=p%40ss%20word%2fwith%26stuff",
        ] {
            assert_eq!(r.redact(shown), "***", "{shown}");
        }
    }

    #[test]
    fn json_strings_are_redacted_in_place() {
        let r = Redactor::new(["topsecret-value"]);
        let mut v = serde_json::json!({ "a": ["x", "the topsecret-value"], "b": { "c": 1, "d": "ok" } });
        r.redact_json(&mut v);
        assert_eq!(v, serde_json::json!({ "a": ["x", "***"], "b": { "c": 1, "d": "ok" } }));
    }

    #[test]
    fn no_secrets_no_work() {
        let r = Redactor::new(["", ""]);
        assert!(r.is_empty());
        assert_eq!(r.redact("anything"), "anything");
    }
}
