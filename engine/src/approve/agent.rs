//! Signing through ssh-agent (`SSH_AUTH_SOCK`): the agent keeps the private key (and its
//! passphrase); runbook sends it the SSHSIG bytes to sign and wraps the answer, as
//! `ssh-keygen -Y sign` does with an agent.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use ssh_key::{HashAlg, PublicKey, Signature, SshSig};

/// The agent protocol's messages (draft-miller-ssh-agent).
const SIGN_REQUEST: u8 = 13;
const SIGN_RESPONSE: u8 = 14;
/// The largest answer read: a signature is a few hundred bytes.
const MAX_REPLY: usize = 256 * 1024;

/// Asks the agent to sign `msg` in `namespace` with the key `public`.
pub fn sign(public: &PublicKey, namespace: &str, msg: &[u8]) -> Result<SshSig, String> {
    let sock = std::env::var_os("SSH_AUTH_SOCK")
        .filter(|s| !s.is_empty())
        .ok_or("no ssh-agent to ask (SSH_AUTH_SOCK is not set)")?;
    let mut stream =
        UnixStream::connect(&sock).map_err(|e| format!("cannot reach ssh-agent at {}: {e}", sock.to_string_lossy()))?;
    // An agent that asks a person to confirm (ssh-add -c) may take a while, not forever.
    let _ = stream.set_read_timeout(Some(Duration::from_secs(120)));
    let data = SshSig::signed_data(namespace, HashAlg::Sha512, msg).map_err(|e| e.to_string())?;
    let blob = public.to_bytes().map_err(|e| e.to_string())?;
    let mut body = vec![SIGN_REQUEST];
    put_string(&mut body, &blob);
    put_string(&mut body, &data);
    body.extend_from_slice(&0u32.to_be_bytes()); // flags: none (ed25519 has no variants)
    let mut request = (body.len() as u32).to_be_bytes().to_vec();
    request.extend_from_slice(&body);
    stream
        .write_all(&request)
        .map_err(|e| format!("cannot talk to ssh-agent: {e}"))?;
    let mut len = [0u8; 4];
    stream
        .read_exact(&mut len)
        .map_err(|e| format!("ssh-agent did not answer: {e}"))?;
    let len = u32::from_be_bytes(len) as usize;
    if len == 0 || len > MAX_REPLY {
        return Err(format!("ssh-agent answered {len} bytes: not a signature"));
    }
    let mut reply = vec![0u8; len];
    stream
        .read_exact(&mut reply)
        .map_err(|e| format!("ssh-agent's answer was cut short: {e}"))?;
    if reply[0] != SIGN_RESPONSE {
        return Err(format!(
            "ssh-agent would not sign with {} (is it added? `ssh-add -l` lists the agent's keys)",
            super::signature::fingerprint(public.key_data())
        ));
    }
    let sig_blob = get_string(&reply[1..]).ok_or("ssh-agent's signature is malformed")?;
    let signature = Signature::try_from(sig_blob).map_err(|e| format!("ssh-agent's signature is malformed: {e}"))?;
    SshSig::new(public.key_data().clone(), namespace, HashAlg::Sha512, signature).map_err(|e| e.to_string())
}

fn put_string(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&(s.len() as u32).to_be_bytes());
    out.extend_from_slice(s);
}

fn get_string(b: &[u8]) -> Option<&[u8]> {
    let len = u32::from_be_bytes(b.get(..4)?.try_into().ok()?) as usize;
    b.get(4..4usize.checked_add(len)?)
}
