//! What the CLI prints. Only DTOs from the core reach this module, and they
//! hold no secrets by construction.

use std::path::Path;

use crate::app::json;
use keyward_core::model::{self, KeyDetail, KeySummary};
use keyward_core::vault::{
    self, ImportReport, IntegrityReport, KdfParams, KeyringStatus, Settings, Vault,
};

/// `n` with its noun, grouped by thousands ("1 key", "21,429 files").
pub fn count(n: usize, one: &str, many: &str) -> String {
    keyward_core::text::count(n as u64, one, many)
}

/// `n` grouped by thousands ("21,429").
pub fn grouped(n: usize) -> String {
    keyward_core::text::grouped(n as u64)
}

fn days_from_now(unix: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let days = (unix - now).div_euclid(86_400);
    if days < 0 {
        format!("overdue {}d", -days)
    } else {
        format!("in {days}d")
    }
}

fn env_name(s: &KeySummary) -> String {
    match &s.environment {
        model::Environment::Custom(url) => url.clone(),
        other => other.kind_str().to_owned(),
    }
}

fn scopes(s: &KeySummary) -> String {
    let names: Vec<&str> = s.scopes.iter().map(|x| x.as_str()).collect();
    if names.is_empty() {
        "-".into()
    } else {
        names.join(",")
    }
}

pub fn status(path: &Path, as_json: bool) {
    let status = vault::status(path);
    let info = status.exists.then(|| Vault::open(path).map(|v| v.info()));
    if as_json {
        let mut value = serde_json::json!(status);
        if let Some(Ok(info)) = &info {
            value["info"] = serde_json::json!(info);
        }
        json(&value);
        return;
    }
    let state = if status.exists {
        "exists"
    } else {
        "not created"
    };
    say!("vault: {} ({state})", status.path.display());
    match info {
        Some(Ok(info)) => {
            say!("format version: {}", info.format_version);
            say!(
                "kdf: Argon2id {} MiB, {} passes, {} lanes",
                info.kdf.memory_kib / 1024,
                info.kdf.iterations,
                info.kdf.parallelism
            );
            say!(
                "keyring unlock: {}",
                if info.device_unlock { "on" } else { "off" }
            );
        }
        Some(Err(e)) => say!("unreadable: {e}"),
        None => {}
    }
}

pub fn list(keys: &[KeySummary], as_json: bool) {
    if as_json {
        json(keys);
        return;
    }
    if keys.is_empty() {
        say!("no keys");
        return;
    }
    let w = keys
        .iter()
        .map(|k| k.label.chars().count())
        .max()
        .unwrap_or(5)
        .max(5);
    say!(
        "{:<w$}  {:<8}  {:<8}  {:<11}  {:<20}  {:<3}  {:<11}  ROTATION",
        "LABEL",
        "EXCHANGE",
        "ENV",
        "KEY ID",
        "SCOPES",
        "IP",
        "STATUS"
    );
    for k in keys {
        say!(
            "{:<w$}  {:<8}  {:<8}  {:<11}  {:<20}  {:<3}  {:<11}  {}",
            k.label,
            k.exchange.display_name(),
            env_name(k),
            k.api_key_id_masked,
            scopes(k),
            if k.ip_restricted { "yes" } else { "no" },
            k.status.as_str(),
            days_from_now(k.rotation_due_at),
        );
    }
}

pub fn show(d: &KeyDetail, as_json: bool) {
    if as_json {
        json(d);
        return;
    }
    let s = &d.summary;
    say!("label:        {}", s.label);
    say!("id:           {}", s.id);
    say!("exchange:     {}", s.exchange.display_name());
    say!("environment:  {}", env_name(s));
    if let Some(host) = &d.custom_host {
        say!(
            "host:         {host} — NOT {}'s own host ({}; the background audit {})",
            s.exchange.display_name(),
            if d.host_confirmed {
                "confirmed with a step-up"
            } else {
                "never confirmed"
            },
            if d.host_confirmed {
                "checks it"
            } else {
                "skips it"
            }
        );
    }
    say!("api key id:   {}", d.api_key_id);
    say!("key type:     {}", s.key_type);
    say!("secret:       (stored, sealed)");
    say!(
        "passphrase:   {}",
        if d.has_passphrase {
            "(stored, sealed)"
        } else {
            "none"
        }
    );
    say!("scopes:       {}", scopes(s));
    say!(
        "ip whitelist: {}",
        if d.ip_whitelist.is_empty() {
            "none".into()
        } else {
            d.ip_whitelist.join(", ")
        }
    );
    if d.linked_services.is_empty() {
        say!("used by:      -");
    }
    for (i, service) in d.linked_services.iter().enumerate() {
        say!(
            "{}{}",
            if i == 0 {
                "used by:      "
            } else {
                "              "
            },
            crate::service::summary_line(service)
        );
    }
    say!("status:       {}", s.status);
    if s.manager {
        say!("manager key:  yes (never handed to keyward run; every use needs a step-up)");
    }
    say!(
        "keyward run:  {}",
        if s.manager {
            "refused (manager key)"
        } else if d.allow_run {
            "allowed"
        } else {
            "not allowed"
        }
    );
    say!(
        "rotation:     every {} days, due {}",
        s.rotate_every_days,
        days_from_now(s.rotation_due_at)
    );
    if !d.notes.is_empty() {
        say!("notes:        {}", d.notes);
    }
}

pub fn kdf(p: &KdfParams) {
    say!(
        "Argon2id {} MiB, {} passes, {} lanes",
        p.memory_kib / 1024,
        p.iterations,
        p.parallelism
    );
}

pub fn settings(s: &Settings, as_json: bool) {
    if as_json {
        json(s);
        return;
    }
    say!("auto-lock:          {} min", s.auto_lock_minutes);
    say!("clipboard clear:    {} s", s.clipboard_clear_seconds);
    say!("default rotation:   {} days", s.default_rotation_days);
    say!("step-up window:     {} s", s.step_up_window_seconds);
}

pub fn import(r: &ImportReport, as_json: bool) {
    if as_json {
        json(r);
        return;
    }
    for l in &r.added {
        say!("added {l}");
    }
    for l in &r.replaced {
        say!("replaced {l}");
    }
    for l in &r.conflicts {
        say!("conflict {l}: a key with this label exists; kept it (use --replace)");
    }
    say!(
        "{} added, {} replaced, {}",
        count(r.added.len(), "key", "keys"),
        grouped(r.replaced.len()),
        count(r.conflicts.len(), "conflict", "conflicts")
    );
}

pub fn check(r: &IntegrityReport, as_json: bool) {
    if as_json {
        json(r);
        return;
    }
    for d in &r.damaged {
        say!("DAMAGED {} ({}): {}", d.label, d.id, d.fields.join(", "));
    }
    say!(
        "{} checked, {} ok, {} damaged",
        count(r.records_checked, "record", "records"),
        count(r.fields_ok, "sealed field", "sealed fields"),
        grouped(r.damaged.len())
    );
}

pub fn keyring_status(store: &KeyringStatus, enabled: Option<bool>, as_json: bool) {
    if as_json {
        json(&serde_json::json!({ "store": store, "enabled": enabled }));
        return;
    }
    match &store.reason {
        None => say!("OS keyring: available"),
        Some(reason) => say!("OS keyring: unavailable ({reason})"),
    }
    match enabled {
        Some(true) => say!("this vault: keyring unlock on"),
        Some(false) => say!("this vault: keyring unlock off"),
        None => say!("this vault: not created"),
    }
}
