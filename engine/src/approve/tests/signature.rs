//! Signed approvals: a signature counts only over exactly what it says, in the approvals'
//! namespace, by a key allowed_signers gives the approver at the time it was given.

use std::path::Path;

use super::support::{key, public, sign, sign_in, signers, statement};
use crate::approve::signature::{AllowedSigners, SigError, Statement, check_signature, fingerprint, sign_with_file};

#[test]
fn a_signature_by_the_approvers_key_verifies_and_names_the_key() {
    let bob = key(1);
    let st = statement("bob", "sha256:aa", None);
    let s = signers(&format!("bob {}\n", public(&bob)));
    let (fp, k) = s.verify(&st, &sign(&bob, &st)).expect("verifies");
    assert_eq!(&k, bob.public_key().key_data());
    assert_eq!(fp, fingerprint(bob.public_key().key_data()));
    assert!(fp.starts_with("SHA256:"), "{fp}");
}

#[test]
fn a_signature_over_another_plan_step_or_decision_is_refused() {
    let bob = key(1);
    let s = signers(&format!("bob {}\n", public(&bob)));
    let signed = statement("bob", "sha256:aa", Some("deploy"));
    let sig = sign(&bob, &signed);
    let other_plan = Statement {
        plan_hash: "sha256:bb".into(),
        ..signed.clone()
    };
    let other_step = Statement {
        step: Some("drop-db".into()),
        ..signed.clone()
    };
    let reversed = Statement {
        decision: "reject".into(),
        ..signed.clone()
    };
    for st in [other_plan, other_step, reversed] {
        assert_eq!(s.verify(&st, &sig), Err(SigError::Mismatch), "{st:?}");
        assert_eq!(check_signature(&st, &sig), Err(SigError::Mismatch));
    }
    assert!(s.verify(&signed, &sig).is_ok());
}

#[test]
fn a_key_not_in_allowed_signers_is_unknown() {
    let (bob, mallory) = (key(1), key(2));
    let s = signers(&format!("bob {}\n", public(&bob)));
    let st = statement("bob", "sha256:aa", None);
    assert_eq!(
        s.verify(&st, &sign(&mallory, &st)),
        Err(SigError::UnknownKey(fingerprint(mallory.public_key().key_data())))
    );
}

#[test]
fn a_key_of_someone_else_does_not_sign_for_the_approver() {
    let carol = key(3);
    let s = signers(&format!("carol,dave {}\n", public(&carol)));
    // Carol signs a statement that says bob approved.
    let st = statement("bob", "sha256:aa", None);
    match s.verify(&st, &sign(&carol, &st)) {
        Err(SigError::NotPrincipal { listed, .. }) => assert_eq!(listed, vec!["carol", "dave"]),
        other => panic!("expected NotPrincipal, got {other:?}"),
    }
}

#[test]
fn principals_may_be_patterns() {
    let k = key(4);
    let s = signers(&format!("sre-* {}\n", public(&k)));
    let st = statement("sre-lead", "sha256:aa", None);
    assert!(s.verify(&st, &sign(&k, &st)).is_ok());
    let st = statement("dev-lead", "sha256:aa", None);
    assert!(matches!(
        s.verify(&st, &sign(&k, &st)),
        Err(SigError::NotPrincipal { .. })
    ));
}

#[test]
fn a_key_counts_only_inside_its_validity_window() {
    let bob = key(1);
    let st = statement("bob", "sha256:aa", None); // given 2026-12-02T13:00:00Z
    let sig = sign(&bob, &st);
    let window = |opts: &str| signers(&format!("bob {opts} {}\n", public(&bob))).verify(&st, &sig);
    let refused = |r: Result<_, SigError>| matches!(r, Err(SigError::NotPrincipal { listed, .. }) if listed.is_empty());
    assert!(refused(window("valid-before=20261202Z")), "expired before it was given");
    assert!(refused(window("valid-after=20261202130001Z")), "not valid yet");
    assert!(window("valid-after=202612021300Z,valid-before=20261203").is_ok());
}

#[test]
fn a_key_limited_to_other_namespaces_does_not_approve() {
    let bob = key(1);
    let st = statement("bob", "sha256:aa", None);
    let sig = sign(&bob, &st);
    let git_only = signers(&format!("bob namespaces=\"git,file\" {}\n", public(&bob)));
    assert!(matches!(git_only.verify(&st, &sig), Err(SigError::NotPrincipal { .. })));
    let pattern = signers(&format!("bob namespaces=\"git,runbook-*\" {}\n", public(&bob)));
    assert!(pattern.verify(&st, &sig).is_ok());
}

#[test]
fn a_signature_made_for_another_purpose_never_passes() {
    let bob = key(1);
    let st = statement("bob", "sha256:aa", None);
    let for_git = sign_in(&bob, "git", &st.message());
    assert_eq!(check_signature(&st, &for_git), Err(SigError::Namespace("git".into())));
    assert!(matches!(
        check_signature(
            &st,
            "-----BEGIN SSH SIGNATURE-----\nAAAA\n-----END SSH SIGNATURE-----\n"
        ),
        Err(SigError::Malformed(_))
    ));
}

#[test]
fn allowed_signers_names_its_bad_lines_and_skips_keys_it_cannot_check() {
    let bob = key(1);
    let good = format!("bob {}", public(&bob));
    // A key type this build cannot verify could never make a signature count: left out.
    let s = signers(&format!("carol ecdsa-sha2-nistp256 notakey\n{good}\n"));
    let st = statement("bob", "sha256:aa", None);
    assert!(s.verify(&st, &sign(&bob, &st)).is_ok());
    let err = |text: String| AllowedSigners::parse(&text, Path::new("signers")).expect_err("invalid");
    assert!(err("# people\n\nbob ssh-ed25519 AAAAnotbase64\n".to_string()).starts_with("signers:3: not a public key"));
    assert!(err(format!("{good}\nbob valid-after=2026 {}\n", public(&bob))).contains("signers:2: bad valid-after"));
    assert!(err(format!("bob cert-authority {}\n", public(&bob))).contains("cert-authority lines are not supported"));
    assert!(err("bob ssh-ed25519\n".to_string()).contains("expected `principals [options] keytype key`"));
}

#[test]
fn only_the_canonical_statement_is_read_back() {
    let st = statement("bob", "sha256:aa", Some("deploy"));
    assert_eq!(Statement::parse(&st.message()), Ok(st.clone()));
    let reordered = r#"{"decision":"approve","approver":"bob","plan_hash":"sha256:aa","step":"deploy","time":"2026-12-02T13:00:00Z"}"#;
    let e = Statement::parse(reordered.as_bytes()).expect_err("not canonical");
    assert!(e.contains("not in canonical form"), "{e}");
    let extra = r#"{"approver":"bob","decision":"approve","extra":1,"plan_hash":"sha256:aa","step":null,"time":"t"}"#;
    assert!(Statement::parse(extra.as_bytes()).is_err());
}

#[test]
fn a_private_key_file_signs_what_then_verifies() {
    let bob = key(1);
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("id_ed25519");
    let pem = bob.to_openssh(ssh_key::LineEnding::LF).expect("encodes");
    std::fs::write(&path, pem.as_bytes()).expect("written");
    let st = statement("bob", "sha256:aa", None);
    let sig = sign_with_file(&path, &st).expect("signed");
    assert_eq!(check_signature(&st, &sig).as_ref(), Ok(bob.public_key().key_data()));
    let missing = sign_with_file(&dir.path().join("nope"), &st).expect_err("no key");
    assert!(missing.starts_with("cannot read the key"), "{missing}");
}
