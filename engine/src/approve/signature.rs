//! Signed approvals: the statement an approver signs, its exact bytes, SSH signatures
//! (SSHSIG, as `ssh-keygen -Y sign -n runbook-approval` makes them) and the OpenSSH
//! allowed_signers file that says whose key is whose.

use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use ssh_key::public::KeyData;
use ssh_key::{HashAlg, LineEnding, PrivateKey, PublicKey, SshSig};

/// The SSHSIG namespace of every approval: a signature made for git commits, or for any
/// other purpose, never passes for an approval.
pub const NAMESPACE: &str = "runbook-approval";

/// What an approver signs. Its bytes ([`Statement::message`]) are the canonical JSON of the
/// five fields: keys sorted, no whitespace, no trailing newline, `step` null for the
/// approval of a whole saved plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Statement {
    pub approver: String,
    /// `approve` or `reject`.
    pub decision: String,
    /// The plan hash (`sha256:<hex>`) approved.
    pub plan_hash: String,
    /// The step of a running run answered; `None` approves a whole saved plan.
    pub step: Option<String>,
    /// When it was given: RFC 3339, UTC.
    pub time: String,
}

impl Statement {
    /// The bytes signed: `{"approver":…,"decision":…,"plan_hash":…,"step":…,"time":…}`.
    pub fn message(&self) -> Vec<u8> {
        // A BTreeMap sorts the keys whatever serde_json's features are.
        let mut m = std::collections::BTreeMap::new();
        m.insert("approver", serde_json::Value::from(self.approver.as_str()));
        m.insert("decision", self.decision.as_str().into());
        m.insert("plan_hash", self.plan_hash.as_str().into());
        m.insert(
            "step",
            self.step.as_deref().map(serde_json::Value::from).unwrap_or_default(),
        );
        m.insert("time", self.time.as_str().into());
        serde_json::to_vec(&m).unwrap_or_default()
    }

    /// Reads a message back (`approve --message FILE`); it must be in canonical form, so
    /// what is stored is exactly what was signed.
    pub fn parse(bytes: &[u8]) -> Result<Statement, String> {
        let st: Statement = serde_json::from_slice(bytes).map_err(|e| format!("not an approval statement: {e}"))?;
        if st.message() != bytes {
            return Err(format!(
                "not in canonical form (keys sorted, no spaces, no trailing newline): expected {}",
                String::from_utf8_lossy(&st.message())
            ));
        }
        Ok(st)
    }
}

/// A signed approval as the journal keeps it: what was signed, the signature, and the
/// key's fingerprint (for people; the signature carries the key).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignedApproval {
    pub approver: String,
    pub decision: String,
    pub plan_hash: String,
    #[serde(default)]
    pub step: Option<String>,
    pub time: String,
    pub signature: String,
    pub key: String,
}

impl SignedApproval {
    pub fn new(st: Statement, signature: String, key: String) -> SignedApproval {
        SignedApproval {
            approver: st.approver,
            decision: st.decision,
            plan_hash: st.plan_hash,
            step: st.step,
            time: st.time,
            signature,
            key,
        }
    }

    pub fn statement(&self) -> Statement {
        Statement {
            approver: self.approver.clone(),
            decision: self.decision.clone(),
            plan_hash: self.plan_hash.clone(),
            step: self.step.clone(),
            time: self.time.clone(),
        }
    }
}

/// Signs a statement with an OpenSSH key: a private key file without a passphrase, or,
/// through ssh-agent, the key of a public key file (`id_ed25519.pub`) or of a private key
/// file with a passphrase. The armored SSHSIG.
pub fn sign_with_file(key: &Path, st: &Statement) -> Result<String, String> {
    let text = std::fs::read_to_string(key).map_err(|e| format!("cannot read the key {}: {e}", key.display()))?;
    let sig = if text.trim_start().starts_with("-----BEGIN") {
        let private = PrivateKey::from_openssh(&text)
            .map_err(|e| format!("{} is not an OpenSSH private key: {e}", key.display()))?;
        if private.is_encrypted() {
            if std::env::var_os("SSH_AUTH_SOCK").is_none_or(|s| s.is_empty()) {
                return Err(format!(
                    "{} is encrypted with a passphrase, and runbook does not ask for passphrases: add it to ssh-agent (`ssh-add`), or sign the statement with `ssh-keygen -Y sign` (see `approve --print-message`)",
                    key.display()
                ));
            }
            super::agent::sign(private.public_key(), NAMESPACE, &st.message())?
        } else {
            private
                .sign(NAMESPACE, HashAlg::Sha512, &st.message())
                .map_err(|e| format!("cannot sign with {} ({}): {e}", key.display(), private.algorithm()))?
        }
    } else {
        let public = PublicKey::from_openssh(text.trim())
            .map_err(|e| format!("{} is neither an OpenSSH private nor public key: {e}", key.display()))?;
        super::agent::sign(&public, NAMESPACE, &st.message())?
    };
    sig.to_pem(LineEnding::LF)
        .map_err(|e| format!("cannot encode the signature: {e}"))
}

/// Why a signed approval does not count.
#[derive(Debug, Clone, PartialEq)]
pub enum SigError {
    Malformed(String),
    /// Signed for another purpose (a git commit, a file).
    Namespace(String),
    /// The signature does not match the statement: it was changed after signing.
    Mismatch,
    /// The key is in no line of allowed_signers.
    UnknownKey(String),
    /// The key is allowed_signers' for other principals only (or not for this namespace or
    /// time).
    NotPrincipal {
        fingerprint: String,
        listed: Vec<String>,
    },
    /// No allowed_signers file could be read.
    NoSigners(String),
}

impl std::fmt::Display for SigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SigError::Malformed(why) => write!(f, "its signature is not an SSH signature ({why})"),
            SigError::Namespace(ns) => write!(f, "its signature was made for the namespace `{ns}`, not `{NAMESPACE}`"),
            SigError::Mismatch => write!(
                f,
                "its signature does not match what it says: it was changed after it was signed"
            ),
            SigError::UnknownKey(fp) => write!(f, "it was signed by a key not in allowed_signers ({fp})"),
            SigError::NotPrincipal { fingerprint, listed } if listed.is_empty() => write!(
                f,
                "its key ({fingerprint}) is not valid for `{NAMESPACE}` approvals at that time in allowed_signers"
            ),
            SigError::NotPrincipal { fingerprint, listed } => write!(
                f,
                "its key ({fingerprint}) belongs to {} in allowed_signers, not to the approver",
                listed.join(", ")
            ),
            SigError::NoSigners(why) => f.write_str(why),
        }
    }
}

/// Reads an armored signature and checks it was made over the statement, in our namespace,
/// by the key it carries; the key.
pub fn check_signature(st: &Statement, armored: &str) -> Result<KeyData, SigError> {
    let sig = SshSig::from_pem(armored.trim().as_bytes()).map_err(|e| SigError::Malformed(e.to_string()))?;
    if sig.namespace() != NAMESPACE {
        return Err(SigError::Namespace(sig.namespace().to_string()));
    }
    let key = PublicKey::new(sig.public_key().clone(), "");
    key.verify(NAMESPACE, &st.message(), &sig)
        .map_err(|_| SigError::Mismatch)?;
    Ok(sig.public_key().clone())
}

/// The fingerprint people compare (`ssh-keygen -l` prints the same).
pub fn fingerprint(key: &KeyData) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

/// One usable line of allowed_signers.
#[derive(Debug, Clone)]
struct Entry {
    principals: Vec<String>,
    key: KeyData,
    namespaces: Option<Vec<String>>,
    valid_after: Option<DateTime<Utc>>,
    valid_before: Option<DateTime<Utc>>,
}

/// The OpenSSH allowed_signers file: `principals [options] keytype key [comment]`.
#[derive(Debug, Clone)]
pub struct AllowedSigners {
    pub path: PathBuf,
    entries: Vec<Entry>,
}

impl AllowedSigners {
    pub fn load(path: &Path) -> Result<AllowedSigners, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the allowed signers {}: {e}", path.display()))?;
        Self::parse(&text, path)
    }

    /// Parses the file. Keys of types this build cannot verify are left out (they could
    /// never make a signature count); a line that is not `principals [options] type key`
    /// is an error naming it.
    pub fn parse(text: &str, path: &Path) -> Result<AllowedSigners, String> {
        let mut entries = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |why: &str| format!("{}:{}: {why}", path.display(), i + 1);
            let tokens = split_tokens(line);
            let (principals, rest) = tokens.split_first().ok_or_else(|| bad("empty line"))?;
            let is_key_type = |t: &str| t.starts_with("ssh-") || t.starts_with("ecdsa-") || t.starts_with("sk-");
            let (options, rest) = match rest.first() {
                Some(t) if !is_key_type(t) => (Some(t.as_str()), &rest[1..]),
                _ => (None, rest),
            };
            let [kind, blob, ..] = rest else {
                return Err(bad("expected `principals [options] keytype key`"));
            };
            let mut entry = Entry {
                principals: principals.split(',').map(str::to_string).collect(),
                key: match PublicKey::from_openssh(&format!("{kind} {blob}")) {
                    Ok(k) => k.key_data().clone(),
                    Err(_) if !kind.starts_with("ssh-ed25519") => continue,
                    Err(e) => return Err(bad(&format!("not a public key: {e}"))),
                },
                namespaces: None,
                valid_after: None,
                valid_before: None,
            };
            for opt in options.map(split_options).unwrap_or_default() {
                let (name, value) = opt.split_once('=').unwrap_or((opt.as_str(), ""));
                let value = value.trim_matches('"');
                match name.to_ascii_lowercase().as_str() {
                    "namespaces" => entry.namespaces = Some(value.split(',').map(str::to_string).collect()),
                    "valid-after" => entry.valid_after = Some(ssh_time(value).ok_or_else(|| bad("bad valid-after"))?),
                    "valid-before" => {
                        entry.valid_before = Some(ssh_time(value).ok_or_else(|| bad("bad valid-before"))?)
                    }
                    // A certificate authority's line would vouch for keys we cannot check.
                    "cert-authority" => return Err(bad("cert-authority lines are not supported")),
                    other => return Err(bad(&format!("unknown option `{other}`"))),
                }
            }
            entries.push(entry);
        }
        Ok(AllowedSigners {
            path: path.to_path_buf(),
            entries,
        })
    }

    /// The principals a key may sign approvals as at `at`.
    fn principals_of(&self, key: &KeyData, at: Option<DateTime<Utc>>) -> Vec<&str> {
        self.entries
            .iter()
            .filter(|e| e.key == *key)
            .filter(|e| {
                e.namespaces
                    .as_ref()
                    .is_none_or(|ns| ns.iter().any(|n| glob(n, NAMESPACE)))
            })
            .filter(|e| match at {
                Some(at) => e.valid_after.is_none_or(|t| at >= t) && e.valid_before.is_none_or(|t| at < t),
                None => true,
            })
            .flat_map(|e| e.principals.iter().map(String::as_str))
            .collect()
    }

    /// Whether `key` is one of `principal`'s keys (the runner's own key never approves).
    pub fn is_key_of(&self, key: &KeyData, principal: &str) -> bool {
        self.principals_of(key, None).iter().any(|p| glob(p, principal))
    }

    /// Checks a signed statement: the signature, its namespace, and that its key is the
    /// approver's in this file. Returns the key's fingerprint.
    pub fn verify(&self, st: &Statement, armored: &str) -> Result<(String, KeyData), SigError> {
        let key = check_signature(st, armored)?;
        let fp = fingerprint(&key);
        if !self.entries.iter().any(|e| e.key == key) {
            return Err(SigError::UnknownKey(fp));
        }
        let at = DateTime::parse_from_rfc3339(&st.time)
            .ok()
            .map(|t| t.with_timezone(&Utc));
        let listed = self.principals_of(&key, at);
        if listed.iter().any(|p| glob(p, &st.approver)) {
            Ok((fp, key))
        } else {
            Err(SigError::NotPrincipal {
                fingerprint: fp,
                listed: listed.into_iter().map(String::from).collect(),
            })
        }
    }
}

/// Splits a line at whitespace outside double quotes.
fn split_tokens(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            c if c.is_whitespace() && !quoted => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Splits `a,b="x,y",c` at commas outside double quotes.
fn split_options(options: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in options.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            ',' if !quoted => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out
}

/// `valid-after`/`valid-before`: `YYYYMMDD[HHMM[SS]]`, optionally ending in `Z`. Times are
/// read as UTC (ssh-keygen reads them without `Z` as local time: write the `Z`).
fn ssh_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim_end_matches(['Z', 'z']);
    let t = match s.len() {
        8 => NaiveDate::parse_from_str(s, "%Y%m%d").ok()?.and_hms_opt(0, 0, 0)?,
        12 => NaiveDateTime::parse_from_str(s, "%Y%m%d%H%M").ok()?,
        14 => NaiveDateTime::parse_from_str(s, "%Y%m%d%H%M%S").ok()?,
        _ => return None,
    };
    Some(t.and_utc())
}

/// OpenSSH's principal patterns: `*` and `?` wildcards.
fn glob(pattern: &str, name: &str) -> bool {
    fn go(p: &[char], n: &[char]) -> bool {
        match (p.first(), n.first()) {
            (None, None) => true,
            (Some('*'), _) => go(&p[1..], n) || (!n.is_empty() && go(p, &n[1..])),
            (Some('?'), Some(_)) => go(&p[1..], &n[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &n[1..]),
            _ => false,
        }
    }
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    go(&p, &n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn statement() -> Statement {
        Statement {
            approver: "bob".into(),
            decision: "approve".into(),
            plan_hash: "sha256:ab".into(),
            step: None,
            time: "2026-12-02T13:00:00Z".into(),
        }
    }

    #[test]
    fn the_message_is_canonical_json_of_the_five_fields() {
        let m = String::from_utf8(statement().message()).unwrap();
        assert_eq!(
            m,
            r#"{"approver":"bob","decision":"approve","plan_hash":"sha256:ab","step":null,"time":"2026-12-02T13:00:00Z"}"#
        );
        assert_eq!(Statement::parse(m.as_bytes()).unwrap(), statement());
        assert!(Statement::parse(format!("{m}\n").as_bytes()).is_err());
    }

    #[test]
    fn allowed_signers_lines_options_and_patterns() {
        let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILc8leh2lMovJP4KhPjdXoHnEBrfnXRQoZXrzn+j0pQX";
        let text = format!(
            "# team\nbob,carol {key} bob@laptop\nops-* namespaces=\"git,runbook-approval\",valid-after=20260101Z {key}\n"
        );
        let s = AllowedSigners::parse(&text, Path::new("allowed_signers")).unwrap();
        let k = PublicKey::from_openssh(key).unwrap().key_data().clone();
        assert!(s.is_key_of(&k, "carol"));
        assert!(s.is_key_of(&k, "ops-1"));
        assert!(!s.is_key_of(&k, "alice"));
        let err = AllowedSigners::parse(&format!("bob frobnicate {key}"), Path::new("f")).unwrap_err();
        assert!(err.contains("f:1: unknown option `frobnicate`"), "{err}");
        assert!(AllowedSigners::parse("bob", Path::new("f")).is_err());
    }

    #[test]
    fn principal_globs() {
        assert!(glob("*", "x"));
        assert!(glob("a?c", "abc"));
        assert!(!glob("a?c", "ac"));
        assert!(glob("sre-*", "sre-lead"));
    }
}
