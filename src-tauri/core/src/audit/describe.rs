//! The activity log in words: one sentence per entry, for the CLI's
//! `keyward log` and the desktop Activity page.
//!
//! Owns: the sentence of every [`Action`] ([`describe`]) and the grouping
//! of actions into the categories a person filters on ([`Category`]).
//!
//! Must never: show a stored name with underscores, JSON, or anything that
//! is not in the entry already (entries never hold a secret; a sentence is
//! built only from the action, the key's label and the details' facts).
//! Identifiers the entry carries (a setting's, a step's or an error kind's
//! name) are turned into words; a fact the sentence does not know is left
//! out rather than dumped.

use serde_json::{Map, Value};

use super::{Action, Entry};
use crate::mfa::GatedAction;

/// What kind of event an action is: the Activity page's filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Category {
    /// Creating, unlocking and locking the vault; the master password;
    /// settings; OS-keyring unlock.
    Vault,
    /// Keys added, edited, deleted, checked or narrowed.
    Keys,
    /// Secrets revealed, copied or handed to `keyward run`.
    Secrets,
    /// MFA enrolment, recovery codes and step-up.
    Mfa,
    /// Backups written and read.
    Backups,
    /// Rotations and revocations.
    Rotation,
    /// Incidents.
    Incidents,
    /// Linked services and their checklists.
    Services,
    /// Webhook alerts and reminders.
    Alerts,
    /// The log's own integrity.
    Integrity,
}

impl Category {
    /// Every category, in the order the filter offers them.
    pub const ALL: &'static [Category] = &[
        Category::Vault,
        Category::Keys,
        Category::Secrets,
        Category::Mfa,
        Category::Backups,
        Category::Rotation,
        Category::Incidents,
        Category::Services,
        Category::Alerts,
        Category::Integrity,
    ];

    /// The stable name (IPC).
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Vault => "vault",
            Category::Keys => "keys",
            Category::Secrets => "secrets",
            Category::Mfa => "mfa",
            Category::Backups => "backups",
            Category::Rotation => "rotation",
            Category::Incidents => "incidents",
            Category::Services => "services",
            Category::Alerts => "alerts",
            Category::Integrity => "integrity",
        }
    }

    /// The category with this stable name.
    pub fn from_name(name: &str) -> Option<Category> {
        Category::ALL.iter().copied().find(|c| c.as_str() == name)
    }

    /// What a person reads in the filter.
    pub fn label(self) -> &'static str {
        match self {
            Category::Vault => "Vault, password and settings",
            Category::Keys => "Keys added, edited, checked",
            Category::Secrets => "Secrets revealed or used",
            Category::Mfa => "MFA and step-up",
            Category::Backups => "Backups",
            Category::Rotation => "Rotation and revocation",
            Category::Incidents => "Incidents",
            Category::Services => "Linked services",
            Category::Alerts => "Alerts",
            Category::Integrity => "Log integrity",
        }
    }

    /// The actions of this category.
    pub fn actions(self) -> Vec<Action> {
        Action::ALL
            .iter()
            .copied()
            .filter(|a| a.category() == self)
            .collect()
    }
}

impl Action {
    /// The category the Activity page files this action under.
    pub fn category(self) -> Category {
        use Action as A;
        match self {
            A::VaultCreated
            | A::Unlock
            | A::UnlockFailed
            | A::Lock
            | A::PasswordChanged
            | A::SettingsChanged
            | A::KeyringUnlockEnabled
            | A::KeyringUnlockRemoved => Category::Vault,
            A::KeyAdded
            | A::KeyEdited
            | A::KeyDeleted
            | A::Verify
            | A::KeyNarrowed
            | A::ManagerKeyMarked
            | A::ManagerKeyUnmarked
            | A::InventoryTaken => Category::Keys,
            A::SecretRevealed
            | A::SecretCopied
            | A::RunAllowed
            | A::RunGrantChanged
            | A::KeyDeployed => Category::Secrets,
            A::MfaEnrolled
            | A::MfaConfirmed
            | A::MfaEnrolmentCancelled
            | A::MfaDisabled
            | A::MfaRecoveryCodesRegenerated
            | A::MfaRecoveryCodeUsed
            | A::StepUpFailed
            | A::StepUpThrottled => Category::Mfa,
            A::Export | A::Import => Category::Backups,
            A::RotationPlanned
            | A::RotationNewKeyEntered
            | A::RotationNewKeyVerified
            | A::RotationPromoted
            | A::RotationOldKeyRevoked
            | A::RotationDone
            | A::RotationFailed
            | A::RotationCancelled
            | A::AutoRotationNeedsStepUp
            | A::RevocationBaseline
            | A::KeyRevoked
            | A::KeyCompromised
            | A::UnknownKeyRevoked
            | A::RevokeForcedWhileDeployed => Category::Rotation,
            A::IncidentOpened
            | A::IncidentStepDone
            | A::IncidentStepSkipped
            | A::IncidentClosed => Category::Incidents,
            A::ServiceChanged | A::DeployTargetAdded | A::DeployTargetChanged => Category::Services,
            A::AlertSettingsChanged | A::AlertReminded | A::AlertDelivered | A::AlertFailed => {
                Category::Alerts
            }
            A::AuditIntegrityFailed | A::AuditFindingsAcknowledged | A::StateSealed => {
                Category::Integrity
            }
        }
    }
}

/// The entry as a sentence a person reads: "Revealed the secret of
/// bybit-bot (TOTP)", "Added key main (Binance)", "Step-up failed: wrong
/// code (revealing a secret)".
pub fn describe(entry: &Entry) -> String {
    let d = entry.details_value();
    let key = entry.key_label.as_deref().unwrap_or("a key");
    let sentence = sentence(entry.action, key, &d);
    match proof(&d) {
        Some(how) => format!("{sentence} ({how})"),
        None => sentence,
    }
}

fn text<'a>(d: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    d.get(name).and_then(Value::as_str)
}

fn number(d: &Map<String, Value>, name: &str) -> Option<u64> {
    d.get(name).and_then(Value::as_u64)
}

fn flag(d: &Map<String, Value>, name: &str) -> bool {
    d.get(name).and_then(Value::as_bool).unwrap_or(false)
}

fn list(d: &Map<String, Value>, name: &str) -> Vec<String> {
    d.get(name)
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// A stored identifier in words: `clipboard_clear_seconds` → "clipboard
/// clear seconds".
fn words(id: &str) -> String {
    id.replace('_', " ")
}

fn words_list(ids: &[String]) -> String {
    ids.iter().map(|s| words(s)).collect::<Vec<_>>().join(", ")
}

fn count(n: u64, one: &str, many: &str) -> String {
    crate::text::count(n, one, many)
}

/// How step-up was passed, for gated actions.
fn proof(d: &Map<String, Value>) -> Option<&'static str> {
    Some(match text(d, "proof")? {
        "totp" => "TOTP",
        "recovery_code" => "recovery code",
        "master_password" => "master password",
        "window" => "step-up window",
        _ => "step-up",
    })
}

/// A gated action's wire name as what it does ("revealing a secret").
fn gated(name: &str) -> String {
    match name {
        "mfa_confirm" => "confirming MFA".into(),
        "master_password" => "the master password check".into(),
        _ => GatedAction::ALL
            .iter()
            .find(|g| g.as_str() == name)
            .map_or_else(|| words(name), |g| g.phrase().to_owned()),
    }
}

/// Why a step-up failed, in words (never the code).
fn reason(kind: &str) -> String {
    match kind {
        "invalid_code" => "wrong code".into(),
        "malformed_code" => "the code was not 6 digits".into(),
        "replayed_code" => "that code was already used".into(),
        "throttled" => "too many wrong codes".into(),
        "invalid_recovery_code" => "wrong recovery code".into(),
        "recovery_code_used" => "that recovery code was already used".into(),
        "wrong_password" => "wrong master password".into(),
        "not_enrolled" => "MFA is not enrolled".into(),
        "step_up_required" => "no code was given".into(),
        other => words(other),
    }
}

/// The brand of the details' `exchange`, if it names one.
fn exchange_name(d: &Map<String, Value>) -> Option<&'static str> {
    text(d, "exchange")
        .and_then(|e| e.parse::<crate::model::Exchange>().ok())
        .map(|e| e.display_name())
}

fn incident(d: &Map<String, Value>) -> String {
    let id = text(d, "incident").unwrap_or("");
    let short: String = id.chars().take(8).collect();
    if short.is_empty() {
        "an incident".into()
    } else {
        format!("incident {short}")
    }
}

fn setting(name: &str, value: Option<&Value>) -> String {
    let value = value.and_then(Value::as_u64);
    match (name, value) {
        ("auto_lock_minutes", Some(0)) => "auto-lock off".into(),
        ("auto_lock_minutes", Some(n)) => {
            format!("auto-lock after {}", count(n, "minute", "minutes"))
        }
        ("clipboard_clear_seconds", Some(n)) => {
            format!("clipboard cleared after {}", count(n, "second", "seconds"))
        }
        ("kdf", _) => "password hashing made stronger".into(),
        (other, Some(n)) => format!("{} set to {n}", words(other)),
        (other, None) => words(other),
    }
}

fn sentence(action: Action, key: &str, d: &Map<String, Value>) -> String {
    use Action as A;
    match action {
        A::VaultCreated => "Created the vault".into(),
        A::Unlock => match text(d, "method") {
            Some("device" | "keyring") => "Unlocked the vault with the OS keyring".into(),
            Some("password") => "Unlocked the vault with the master password".into(),
            _ => "Unlocked the vault".into(),
        },
        A::UnlockFailed => match text(d, "method") {
            Some("device" | "keyring") => "Unlock with the OS keyring failed".into(),
            _ => "Unlock failed: wrong master password".into(),
        },
        A::Lock => match text(d, "reason") {
            Some("idle") => "Locked the vault after inactivity".into(),
            _ => "Locked the vault".into(),
        },
        A::PasswordChanged => "Changed the master password".into(),
        A::SettingsChanged => {
            let changed = d
                .get("changed")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .map(|(name, value)| setting(name, Some(value)))
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default();
            if changed.is_empty() {
                "Changed settings".into()
            } else {
                format!("Changed settings: {}", changed.join(", "))
            }
        }
        A::KeyringUnlockEnabled => "Turned on unlock with the OS keyring on this device".into(),
        A::KeyringUnlockRemoved => "Turned off unlock with the OS keyring".into(),
        A::KeyAdded => {
            match text(d, "exchange").and_then(|e| e.parse::<crate::model::Exchange>().ok()) {
                Some(exchange) => format!("Added key {key} ({})", exchange.display_name()),
                None => format!("Added key {key}"),
            }
        }
        A::KeyEdited => {
            let fields = list(d, "fields");
            if fields.iter().any(|f| f == "rotation_checklist") {
                let service = text(d, "service").unwrap_or("a service");
                return match text(d, "state") {
                    Some("updated") => {
                        format!("Marked {service} as updated with the new key of {key}")
                    }
                    _ => format!("Marked {service} as still to update with the new key of {key}"),
                };
            }
            if fields.is_empty() {
                format!("Edited key {key}")
            } else {
                format!("Edited key {key}: {}", words_list(&fields))
            }
        }
        A::KeyDeleted => format!("Deleted key {key}"),
        A::SecretRevealed => format!("Revealed the secret of {key}"),
        A::SecretCopied => format!("Copied the secret of {key} to the clipboard"),
        A::Export => match number(d, "keys") {
            Some(n) => format!("Exported a backup of {}", count(n, "key", "keys")),
            None => "Exported a backup".into(),
        },
        A::Import => {
            let added = number(d, "added").unwrap_or(0);
            let replaced = number(d, "replaced").unwrap_or(0);
            let mut s = format!(
                "Imported a backup: {} added, {} replaced",
                count(added, "key", "keys"),
                grouped(replaced)
            );
            let labels = list(d, "replaced_labels");
            if !labels.is_empty() {
                s.push_str(&format!(" ({})", labels.join(", ")));
            }
            s
        }
        A::Verify => {
            let at = text(d, "exchange")
                .and_then(|e| e.parse::<crate::model::Exchange>().ok())
                .map(|e| format!(" at {}", e.display_name()))
                .unwrap_or_default();
            let result = match text(d, "result") {
                Some("ok") => "OK".to_owned(),
                Some("warning") => "works, with warnings".to_owned(),
                Some("critical") => "works, with critical findings".to_owned(),
                Some("rejected") => "rejected by the exchange".to_owned(),
                Some("unreachable") => "exchange unreachable".to_owned(),
                Some("unusable") => "cannot be used".to_owned(),
                Some("not_supported") => "no live check for this exchange".to_owned(),
                Some(other) => words(other),
                None => "checked".to_owned(),
            };
            format!("Checked key {key}{at}: {result}")
        }
        A::KeyNarrowed => {
            let mut what = Vec::new();
            if flag(d, "read_only") {
                what.push("made read-only".to_owned());
            }
            if flag(d, "remove_withdraw") {
                what.push("withdrawals turned off".to_owned());
            }
            let dropped = d
                .get("dropped")
                .and_then(Value::as_array)
                .map_or(0, |a| a.len() as u64);
            if dropped > 0 {
                what.push(format!(
                    "{} dropped",
                    count(dropped, "permission", "permissions")
                ));
            }
            match number(d, "ips") {
                Some(n) if n > 0 => what.push(format!(
                    "IP whitelist set to {}",
                    count(n, "address", "addresses")
                )),
                _ => {}
            }
            if what.is_empty() {
                format!("Narrowed key {key} at its exchange")
            } else {
                format!("Narrowed key {key} at its exchange: {}", what.join(", "))
            }
        }
        A::RunAllowed => format!("Handed key {key} to keyward run"),
        A::RunGrantChanged => {
            if flag(d, "allowed") {
                format!("Allowed keyward run to use key {key}")
            } else {
                format!("Stopped keyward run from using key {key}")
            }
        }
        A::MfaEnrolled => {
            if flag(d, "reenrolment") {
                "Started replacing the MFA seed".into()
            } else {
                "Started setting up MFA".into()
            }
        }
        A::MfaConfirmed => "Turned MFA on".into(),
        A::MfaEnrolmentCancelled => "Cancelled the MFA setup".into(),
        A::MfaDisabled => "Turned MFA off".into(),
        A::MfaRecoveryCodesRegenerated => {
            "Made new recovery codes (the old ones stopped working)".into()
        }
        A::MfaRecoveryCodeUsed => {
            let mut s = "Used a recovery code".to_owned();
            if let Some(g) = text(d, "action") {
                s.push_str(&format!(" for {}", gated(g)));
            }
            if let Some(n) = number(d, "codes_left") {
                s.push_str(&format!(" ({} left)", grouped(n)));
            }
            s
        }
        A::StepUpFailed => {
            let why = text(d, "reason").map_or_else(|| "refused".to_owned(), reason);
            match text(d, "action") {
                Some(g) => format!("Step-up failed: {why} ({})", gated(g)),
                None => format!("Step-up failed: {why}"),
            }
        }
        A::StepUpThrottled => {
            let mut s = "Step-up locked after too many wrong codes".to_owned();
            if let Some(until) = number(d, "until") {
                let until = i64::try_from(until).unwrap_or(i64::MAX);
                s.push_str(&format!(" until {}", crate::alerts::format_time(until)));
            }
            s
        }
        A::RotationPlanned => format!("Planned a rotation of {key}"),
        A::RotationNewKeyEntered => match text(d, "created_by") {
            Some("manager_key") => format!(
                "Created the new key for the rotation of {key} through the manager key and stored it"
            ),
            _ => format!("Entered the new key for the rotation of {key}"),
        },
        A::RotationNewKeyVerified => {
            if d.contains_key("override") {
                format!(
                    "Checked the new key for the rotation of {key} (unknown permissions accepted)"
                )
            } else {
                format!("Checked the new key for the rotation of {key}")
            }
        }
        A::RotationPromoted => format!("Made the new key of {key} the current one"),
        A::RotationOldKeyRevoked => match text(d, "method") {
            Some("manual") => format!("Revoked the old key of {key} on the exchange's website"),
            _ => format!("Revoked the old key of {key}"),
        },
        A::RotationDone => format!("Finished the rotation of {key}"),
        A::RotationFailed => {
            let why = text(d, "reason").map(words);
            match (text(d, "step"), why) {
                (Some(step), Some(why)) => {
                    format!("Rotation of {key}: {} refused ({why})", words(step))
                }
                (_, Some(why)) => format!("Rotation of {key} failed: {why}"),
                _ => format!("Rotation of {key} failed"),
            }
        }
        A::RotationCancelled => match list(d, "deleted").as_slice() {
            [] => format!("Cancelled the rotation of {key}"),
            deleted => format!(
                "Cancelled the rotation of {key} after deleting what it created on the exchange through the manager key ({})",
                deleted.join(", ")
            ),
        },
        A::AutoRotationNeedsStepUp => {
            format!("Automated rotation of {key} is due but needs a step-up: nothing was rotated")
        }
        A::RevocationBaseline => match text(d, "endpoint").and_then(host_of) {
            Some(host) => format!(
                "Checked that {key} still worked on {host} right before asking the exchange to delete it"
            ),
            None => format!(
                "Checked that {key} still worked right before asking the exchange to delete it"
            ),
        },
        A::KeyRevoked => match text(d, "method") {
            Some("manual") => format!("Revoked key {key} on the exchange's website"),
            _ => format!("Revoked key {key} through the exchange's API"),
        },
        A::KeyCompromised => format!("Marked key {key} as compromised"),
        A::ManagerKeyMarked => match exchange_name(d) {
            Some(name) => format!("Made {key} the manager key of the {name} account"),
            None => format!("Made {key} its account's manager key"),
        },
        A::ManagerKeyUnmarked => match exchange_name(d) {
            Some(name) => format!("Unmarked {key} as the manager key of the {name} account"),
            None => format!("Unmarked {key} as its account's manager key"),
        },
        A::InventoryTaken => {
            let at = exchange_name(d)
                .map(|n| format!(" {n}"))
                .unwrap_or_default();
            let mut parts = vec![count(
                number(d, "known").unwrap_or(0),
                "known key",
                "known keys",
            )];
            let unknown = number(d, "unknown").unwrap_or(0);
            parts.push(count(unknown, "unknown key", "unknown keys"));
            if let Some(n) = number(d, "missing").filter(|n| *n > 0) {
                parts.push(format!("{} missing", grouped(n)));
            }
            if let Some(n) = number(d, "not_listed").filter(|n| *n > 0) {
                parts.push(format!("{} not listed", grouped(n)));
            }
            let partial = if d.get("complete").and_then(Value::as_bool) == Some(false) {
                " (the exchange could not list every key)"
            } else {
                ""
            };
            format!(
                "Listed the keys of the{at} account: {}{partial}",
                parts.join(", ")
            )
        }
        A::UnknownKeyRevoked => {
            let id = text(d, "key_id")
                .map(|k| format!(" {k}"))
                .unwrap_or_default();
            match exchange_name(d) {
                Some(name) => format!("Deleted the unknown key{id} from the {name} account"),
                None => format!("Deleted the unknown key{id} from the exchange account"),
            }
        }
        A::IncidentOpened => format!("Opened {}", incident(d)),
        A::IncidentStepDone => {
            let inc = incident(d);
            let step = text(d, "step").map(words);
            match (text(d, "event"), step) {
                (Some("note"), _) => format!("Added a note to {inc}"),
                (Some("step_failed"), Some(step)) => {
                    format!("{}: step {step} failed", capital(&inc))
                }
                (Some("step_pending"), Some(step)) => {
                    format!("{}: step {step} set back to to do", capital(&inc))
                }
                (_, Some(step)) => format!("{}: step {step} done", capital(&inc)),
                (_, None) => format!("{}: progress recorded", capital(&inc)),
            }
        }
        A::IncidentStepSkipped => match text(d, "step") {
            Some(step) => format!("{}: step {} skipped", capital(&incident(d)), words(step)),
            None => format!("{}: a step was skipped", capital(&incident(d))),
        },
        A::IncidentClosed => format!("Closed {}", incident(d)),
        A::ServiceChanged => {
            let service = text(d, "service").unwrap_or("a service");
            match text(d, "change") {
                Some("added") => format!("Linked {service} to key {key}"),
                Some("removed") => format!("Unlinked {service} from key {key}"),
                Some("checked") => {
                    format!("Ticked “{}” for {service} (key {key})", checklist_item(d))
                }
                Some("unchecked") => {
                    format!("Unticked “{}” for {service} (key {key})", checklist_item(d))
                }
                _ => {
                    let fields = list(d, "fields");
                    if fields.is_empty() {
                        format!("Changed {service} (key {key})")
                    } else {
                        format!("Changed {service} (key {key}): {}", words_list(&fields))
                    }
                }
            }
        }
        A::AuditIntegrityFailed => {
            let mut s = "Audit log integrity problem".to_owned();
            if let Some(f) = text(d, "finding") {
                s.push_str(&format!(": {f}"));
            }
            if let Some(claimed) = text(d, "claimed") {
                s.push_str(&format!(
                    " (the refused record claimed: {})",
                    Action::from_name(claimed).map_or_else(
                        || "an unknown event".to_owned(),
                        |a| sentence(a, "a key", &Map::new())
                    )
                ));
            }
            s
        }
        A::AuditFindingsAcknowledged => match number(d, "findings") {
            Some(n) => format!(
                "Acknowledged {}",
                count(n, "integrity finding", "integrity findings")
            ),
            None => "Acknowledged the integrity findings".into(),
        },
        A::AlertSettingsChanged => match text(d, "change") {
            Some("webhook_set") => match text(d, "detail") {
                Some(detail) => format!("Set the alert webhook ({detail})"),
                None => "Set the alert webhook".into(),
            },
            Some("webhook_removed") => "Removed the alert webhook".into(),
            _ => "Changed the alert options".into(),
        },
        A::AlertReminded => {
            let labels = list(d, "labels");
            let queued = number(d, "queued").unwrap_or(0);
            let mut s = if labels.is_empty() {
                "Reminded about overdue rotations".to_owned()
            } else {
                format!("Reminded about overdue rotations: {}", labels.join(", "))
            };
            if queued > 0 {
                s.push_str(&format!(
                    " ({} for the webhook)",
                    count(queued, "message", "messages")
                ));
            }
            s
        }
        A::AlertDelivered => {
            let event = text(d, "event")
                .map_or_else(|| "an alert".to_owned(), |e| format!("alert {}", words(e)));
            format!("Sent {event} to the webhook")
        }
        A::AlertFailed => {
            let event = text(d, "event")
                .map_or_else(|| "an alert".to_owned(), |e| format!("alert {}", words(e)));
            let mut s = format!("Could not send {event} to the webhook");
            match (text(d, "error"), number(d, "status")) {
                (_, Some(status)) => s.push_str(&format!(" (HTTP {status})")),
                (Some(err), None) => s.push_str(&format!(" ({})", words(err))),
                _ => {}
            }
            if flag(d, "dropped") {
                s.push_str("; gave up");
            }
            s
        }
        A::StateSealed => "Turned on rollback protection for the vault".into(),
        A::DeployTargetAdded => {
            let target = text(d, "target").unwrap_or("a server");
            match text(d, "host") {
                Some(host) => format!("Added deployment target {target} ({host})"),
                None => format!("Added deployment target {target}"),
            }
        }
        A::DeployTargetChanged => {
            let target = text(d, "target").unwrap_or("a deployment target");
            match text(d, "change") {
                Some("granted") => format!("Allowed key {key} on deployment target {target}"),
                Some("withdrawn") => {
                    format!("Withdrew key {key} from deployment target {target}")
                }
                Some("removed") => format!("Removed deployment target {target}"),
                Some("host_key_pinned") => {
                    format!("Pinned the host key of deployment target {target}")
                }
                _ => format!("Changed deployment target {target}"),
            }
        }
        A::KeyDeployed => {
            let target = text(d, "target").unwrap_or("a deployment target");
            format!("Deployed key {key} to {target}")
        }
        A::RevokeForcedWhileDeployed => {
            let targets = list(d, "targets");
            if targets.is_empty() {
                format!("Revoked the old key of {key} although servers still held it (forced)")
            } else {
                format!(
                    "Revoked the old key of {key} although {} still held it (forced)",
                    targets.join(", ")
                )
            }
        }
    }
}

/// The host of a stored base URL ("api.bybit.com"), without its scheme,
/// port or path.
fn host_of(url: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
}

/// A vendor-checklist item as its checkbox reads ("Reputation checked").
fn checklist_item(d: &Map<String, Value>) -> String {
    let item = text(d, "item").unwrap_or("");
    crate::model::ChecklistItem::ALL
        .iter()
        .find(|i| i.as_str() == item)
        .map_or_else(
            || {
                if item.is_empty() {
                    "an item".to_owned()
                } else {
                    capital(&words(item))
                }
            },
            |i| i.title().to_owned(),
        )
}

fn grouped(n: u64) -> String {
    crate::text::grouped(n)
}

fn capital(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests;
