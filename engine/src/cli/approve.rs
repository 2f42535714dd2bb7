//! `runbook approve FILE --as NAME [--key KEY]`: adds an approval, bound to the plan's hash
//! and signed when asked, to a saved plan. `runbook approve RUN_ID STEP --as NAME [--reject]
//! [--key KEY]`: answers a running run's approval gate.

use std::path::{Path, PathBuf};

use super::common::Global;
use super::session::{self, read_plan};
use crate::approve::ApprovalPolicy;
use crate::approve::signature::{self, AllowedSigners, Statement};
use crate::error;
use crate::plan::{Plan, PlanApproval};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A saved plan (`runbook plan ... --out FILE`), or a run id (or a unique prefix) with STEP.
    pub target: PathBuf,
    /// The step of the running run whose approval gate this answers (`caller/step` in a
    /// sub-playbook).
    pub step: Option<String>,
    /// Reject instead of approve (running runs only): the gate is refused, the run ends (exit 4).
    #[arg(long)]
    pub reject: bool,
    /// Who approves (default: RUNBOOK_USER, else the OS user); with a signature, the
    /// principal whose key signs in allowed_signers.
    #[arg(long = "as", value_name = "NAME")]
    pub as_: Option<String>,
    #[arg(long)]
    pub comment: Option<String>,
    /// Sign the approval with this OpenSSH ed25519 key, as `ssh-keygen -Y sign -n
    /// runbook-approval` would: a private key without a passphrase, or (through ssh-agent)
    /// a public key or a private key with one.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["message", "signature", "print_message"])]
    pub key: Option<PathBuf>,
    /// Print the statement to sign (exactly the bytes signed, no newline) and change nothing:
    /// sign it elsewhere, then give it back with --message and --signature.
    #[arg(long)]
    pub print_message: bool,
    /// A statement printed by --print-message ...
    #[arg(long, value_name = "FILE", requires = "signature")]
    pub message: Option<PathBuf>,
    /// ... and its signature by `ssh-keygen -Y sign -n runbook-approval`.
    #[arg(long, value_name = "FILE", requires = "message")]
    pub signature: Option<PathBuf>,
}

/// A signature and its key's fingerprint, made here or brought in.
struct Signed {
    statement: Statement,
    signature: String,
    key: String,
}

pub fn exec(g: &Global, a: Args) -> i32 {
    let by = a.as_.clone().unwrap_or_else(session::user);
    if let Some(step) = &a.step {
        return answer_run(g, &a, step, &by);
    }
    if a.reject {
        eprintln!(
            "error: --reject answers a running run's gate: runbook approve RUN_ID STEP --reject; a saved plan is rejected by not approving it"
        );
        return error::INVALID;
    }
    let path = &a.target;
    let mut plan = match read_plan(path) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return error::INVALID;
        }
    };
    let statement = Statement {
        approver: by.clone(),
        decision: "approve".into(),
        plan_hash: plan.hash.clone(),
        step: None,
        time: now(),
    };
    let signed = match sign(g, &a, statement, ttl_of(&plan)) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let Some(signed) = signed else {
        return error::SUCCESS; // --print-message
    };
    let (by, at) = (signed.statement.approver.clone(), signed.statement.time.clone());
    // A later approval replaces the earlier one of the same person: renewing an expired one,
    // or signing one that was not.
    let before = plan.approvals.len();
    plan.approvals.retain(|x| !(x.by == by && x.hash == plan.hash));
    plan.approvals.push(PlanApproval {
        by: by.clone(),
        at,
        hash: plan.hash.clone(),
        comment: a.comment.clone(),
        signature: (!signed.signature.is_empty()).then(|| signed.signature.clone()),
        key: (!signed.key.is_empty()).then(|| signed.key.clone()),
    });
    let json = serde_json::to_string_pretty(&plan).unwrap_or_default() + "\n";
    if let Err(e) = super::plan::write_atomic(path, json.as_bytes()) {
        eprintln!("error: cannot write {}: {e}", path.display());
        return error::INVALID;
    }
    let needs_signature = plan
        .steps
        .iter()
        .chain(&plan.on_failure)
        .chain(&plan.finally)
        .find(|s| s.gates.iter().any(|g| g.signed));
    if let Some(step) = needs_signature
        && signed.key.is_empty()
    {
        eprintln!(
            "warning: this approval is not signed, and step `{}` counts only signed approvals: approve with --key",
            step.id
        );
    }
    let names: Vec<&str> = plan.approvals.iter().map(|x| x.by.as_str()).collect();
    let how = if signed.key.is_empty() {
        String::new()
    } else {
        format!(", signed by {}", signed.key)
    };
    let again = if plan.approvals.len() == before {
        " (replacing their earlier approval)"
    } else {
        ""
    };
    eprintln!(
        "approved plan {} of `{}` in {} as {by}{how}{again}; approvals: {}",
        plan.hash,
        plan.playbook.name,
        plan.env.name,
        names.join(", ")
    );
    error::SUCCESS
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// How long an approval of this plan counts at most (its environment's `approval_ttl`).
fn ttl_of(plan: &Plan) -> std::time::Duration {
    plan.env
        .approval_ttl
        .map(|d| d.std())
        .unwrap_or(crate::approve::DEFAULT_APPROVAL_TTL)
}

/// Signs the statement (`--key`), takes a signature made elsewhere (`--message`,
/// `--signature`), prints the statement (`--print-message`: `Ok(None)`), or leaves it
/// unsigned. A signature is checked against allowed_signers before anything is written.
fn sign(g: &Global, a: &Args, st: Statement, ttl: std::time::Duration) -> Result<Option<Signed>, i32> {
    let fail = |msg: String| {
        eprintln!("error: {msg}");
        error::INVALID
    };
    if a.print_message {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(&st.message());
        let _ = out.flush();
        return Ok(None);
    }
    let (st, armored) = match (&a.key, &a.message, &a.signature) {
        (Some(key), _, _) => {
            let armored = signature::sign_with_file(&expand_home(key), &st).map_err(fail)?;
            (st, armored)
        }
        (None, Some(msg), Some(sig)) => {
            let bytes = std::fs::read(msg).map_err(|e| fail(format!("cannot read {}: {e}", msg.display())))?;
            let given = Statement::parse(&bytes).map_err(|e| fail(format!("{}: {e}", msg.display())))?;
            check_brought(&st, &given, a.as_.is_some(), ttl).map_err(|e| fail(format!("{}: {e}", msg.display())))?;
            let armored =
                std::fs::read_to_string(sig).map_err(|e| fail(format!("cannot read {}: {e}", sig.display())))?;
            (given, armored)
        }
        _ => {
            return Ok(Some(Signed {
                statement: st,
                signature: String::new(),
                key: String::new(),
            }));
        }
    };
    let ws = g.ws()?;
    let path = ApprovalPolicy::signers_path(&ws);
    let signers = AllowedSigners::load(&path).map_err(|e| fail(format!("cannot check the signature: {e}")))?;
    let (key, _) = signers
        .verify(&st, &armored)
        .map_err(|e| fail(format!("the approval by {} is refused: {e}", st.approver)))?;
    Ok(Some(Signed {
        statement: st,
        signature: armored.trim().to_string() + "\n",
        key,
    }))
}

/// A statement signed elsewhere must be the one this command would make: same plan, step
/// and decision, and the approver named (when `--as` names one); its time not in the
/// future, and not so old that it would have expired already.
fn check_brought(want: &Statement, given: &Statement, named: bool, ttl: std::time::Duration) -> Result<(), String> {
    if given.plan_hash != want.plan_hash {
        return Err(format!(
            "approves plan {}, not this one ({})",
            given.plan_hash, want.plan_hash
        ));
    }
    if given.step != want.step || given.decision != want.decision {
        return Err(format!(
            "says `{}` to {}, not `{}` to {}",
            given.decision,
            given
                .step
                .as_deref()
                .map(|s| format!("step `{s}`"))
                .unwrap_or("the plan".into()),
            want.decision,
            want.step
                .as_deref()
                .map(|s| format!("step `{s}`"))
                .unwrap_or("the plan".into()),
        ));
    }
    if named && given.approver != want.approver {
        return Err(format!("is {}'s approval, not {}'s", given.approver, want.approver));
    }
    let at = chrono::DateTime::parse_from_rfc3339(&given.time)
        .map_err(|e| format!("its time `{}` is not an RFC 3339 time ({e})", given.time))?
        .with_timezone(&chrono::Utc);
    let now = chrono::Utc::now();
    if at > now + chrono::Duration::minutes(5) {
        return Err(format!("its time {} is in the future", given.time));
    }
    if let Ok(ttl) = chrono::Duration::from_std(ttl)
        && at + ttl <= now
    {
        return Err(format!(
            "it was given at {} and expired at {}",
            given.time,
            (at + ttl).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ));
    }
    Ok(())
}

/// `~/.ssh/id_ed25519` as typed where no shell expands it (a quoted argument).
fn expand_home(p: &Path) -> PathBuf {
    match (p.strip_prefix("~"), std::env::var_os("HOME")) {
        (Ok(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => p.to_path_buf(),
    }
}

/// Records a decision for a running run's approval gate; the run picks it up.
fn answer_run(g: &Global, a: &Args, step: &str, by: &str) -> i32 {
    let ws = match g.ws() {
        Ok(ws) => ws,
        Err(code) => return code,
    };
    let state = g.state(&ws);
    let target = a.target.to_string_lossy();
    let run = match state.find(&target) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return error::INVALID;
        }
    };
    if let Some(r) = state.list().into_iter().find(|r| r.run == run)
        && r.status != "unfinished"
    {
        eprintln!(
            "error: run {run} has finished ({}); there is nothing to approve",
            r.status
        );
        return error::INVALID;
    }
    let plan_hash = match read_plan(&state.run_dir(&run).join("plan.json")) {
        Ok(p) => p.hash,
        Err(e) => {
            eprintln!("error: cannot read run {run}'s plan: {e}");
            return error::INVALID;
        }
    };
    let statement = Statement {
        approver: by.to_string(),
        decision: if a.reject { "reject" } else { "approve" }.into(),
        plan_hash,
        step: Some(step.to_string()),
        time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    };
    let signed = match sign(g, a, statement, std::time::Duration::from_secs(366 * 24 * 3600)) {
        Ok(Some(s)) => s,
        Ok(None) => return error::SUCCESS, // --print-message
        Err(code) => return code,
    };
    let st = &signed.statement;
    let decision = crate::approve::live::Decision {
        step: step.to_string(),
        by: st.approver.clone(),
        at: st.time.clone(),
        approved: !a.reject,
        comment: a.comment.clone(),
        plan_hash: Some(st.plan_hash.clone()),
        signature: (!signed.signature.is_empty()).then(|| signed.signature.clone()),
        key: (!signed.key.is_empty()).then(|| signed.key.clone()),
    };
    match crate::approve::live::record(&state, &run, &decision) {
        Ok(_) => {
            let what = if a.reject { "rejects" } else { "approves" };
            let how = if signed.key.is_empty() {
                String::new()
            } else {
                format!(" (signed by {})", signed.key)
            };
            eprintln!("{} {what} step `{step}` of run {run}{how}", st.approver);
            error::SUCCESS
        }
        Err(e) => {
            eprintln!("error: cannot record the decision: {e}");
            error::INVALID
        }
    }
}
