//! The audit trail: security events, logged under their own target
//! (`jointly::audit`) so that a log collector can keep them apart and keep
//! them longer. Token ids, roles, person ids and client addresses only:
//! never a name, an email address or anything anyone wrote.

use super::caller::Caller;
use std::net::IpAddr;

/// Who did it: the token's role and id, or the operator at the command
/// line. Not the actor's whole text, which may hold a token's name.
fn who(caller: &Caller) -> String {
    let role = caller
        .actor()
        .as_str()
        .split(':')
        .next()
        .unwrap_or("someone");
    match caller.token_id() {
        Some(id) => format!("{role} token {id}"),
        None => caller.actor().as_str().to_string(),
    }
}

/// A wrong or unknown access code at the sign-in page.
pub fn sign_in_failed(client: IpAddr) {
    tracing::warn!(target: "jointly::audit", event = "sign_in_failed", client = %client,
        "sign-in failed from {client}: an access code that is wrong, revoked or unknown");
}

/// A sign-in whose form had expired or came without its cookie (a
/// browser that blocks cookies, or a script): the code was not tried.
pub fn sign_in_form_expired(client: IpAddr) {
    tracing::warn!(target: "jointly::audit", event = "sign_in_refused", client = %client,
        "sign-in refused from {client}: the form had expired or came without its cookie (the code was not tried)");
}

/// Too many wrong codes from one client: it waits a minute.
pub fn sign_in_locked_out(client: IpAddr) {
    tracing::warn!(target: "jointly::audit", event = "sign_in_locked_out", client = %client,
        "sign-in refused from {client}: too many wrong access codes in a minute");
}

/// A request to the API with a token that is wrong, revoked or unknown.
pub fn token_refused(client: IpAddr, path: &str) {
    let path = crate::outside::for_log(path);
    tracing::warn!(target: "jointly::audit", event = "token_refused", client = %client, path = %path,
        "a request to {path} from {client} was refused: its token is wrong, revoked or unknown");
}

/// A browser signed in (with an access code, or a card's link).
pub fn signed_in(client: IpAddr, token_id: &str, role: &str, how: &str) {
    tracing::info!(target: "jointly::audit", event = "signed_in", client = %client, token = token_id, role = role,
        "signed in from {client} with the {role} token {token_id} ({how})");
}

/// A token or card was made.
pub fn token_made(by: &Caller, token_id: &str, role: &str) {
    let by = who(by);
    tracing::info!(target: "jointly::audit", event = "token_made", by = %by, token = token_id, role = role,
        "{by} made the {role} token {token_id}");
}

/// A token or card was stopped.
pub fn token_revoked(by: &Caller, token_id: &str) {
    let by = who(by);
    tracing::info!(target: "jointly::audit", event = "token_revoked", by = %by, token = token_id,
        "{by} revoked the token {token_id}");
}

/// The whole log was copied out (a backup, through the API or the command line).
pub fn backup_taken(by: &Caller, records: u64) {
    let by = who(by);
    tracing::info!(target: "jointly::audit", event = "backup_downloaded", by = %by, records = records,
        "backup of {records} records taken by {by}");
}

/// Everything held about one person was exported (subject access).
pub fn subject_exported(by: &Caller, person: &uuid::Uuid) {
    let by = who(by);
    tracing::info!(target: "jointly::audit", event = "subject_exported", by = %by, person = %person,
        "subject-access export of person {person} taken by {by}");
}

/// A person's details were erased.
pub fn erased(by: &Caller, person: &uuid::Uuid) {
    let by = who(by);
    tracing::warn!(target: "jointly::audit", event = "erased", by = %by, person = %person,
        "person {person} erased by {by}");
}
