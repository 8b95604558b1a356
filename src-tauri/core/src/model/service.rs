//! Linked services: who holds a key, and whether the vendor was vetted.
//!
//! Owns: the [`LinkedService`] record (name, [`ServiceKind`], host, notes
//! and the dated [`VendorChecklist`] of the practices guide: key-storage
//! documentation, reputation, incident history, compliance, open or closed
//! source), its validation and its stored form as JSON in
//! `keys.linked_services` (including the reading of the older format, a
//! JSON array of names). The per-service write operations are
//! `Session::add_service` and its siblings (`crate::keys`, through the
//! vault's write path).
//!
//! Must never: hold a secret (service records are metadata; the audit entry
//! names the service, the change and the checklist item, never host or
//! notes), or fail to read a vault written before services had structure.
//!
//! # Kinds and the checklist
//! Every service carries the checklist, but it vets a *vendor*: the health
//! rule `vendor_checklist_incomplete` fires only for
//! [`ServiceKind::ThirdPartyPlatform`]. Own bots and scripts may record it
//! (a script copied from someone else's repository deserves the same
//! questions) and nothing flags it missing. Services from the older format
//! (names only) and names given with `--used-by` or the add form have kind
//! [`ServiceKind::Unspecified`]: nothing is guessed, and no finding fires
//! until the user says what the service is.
//!
//! # Stored form
//! ```json
//! [{"name": "grid bot", "kind": "own_bot", "host": "10.0.0.5", "notes": "",
//!   "checklist": {"reputation": 1700000000}}, "legacy name"]
//! ```
//! A bare string is a service of kind `unspecified` (older vaults and
//! backups); it is rewritten as an object on the next change of that key's
//! services. Only checked items are stored, with the unix second they were
//! checked.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::validate::ValidationError;

/// Longest service name, in characters.
pub const MAX_SERVICE_NAME_CHARS: usize = 64;
/// Longest service notes, in characters.
pub const MAX_SERVICE_NOTES_CHARS: usize = 1000;
/// Most services on one key.
pub const MAX_SERVICES_PER_KEY: usize = 50;
const MAX_HOST_CHARS: usize = 253;

/// What kind of thing holds the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum ServiceKind {
    /// Not recorded (older vaults, `--used-by`, the add form's name list).
    #[default]
    Unspecified,
    /// A bot you run yourself.
    OwnBot,
    /// Someone else's platform (a trading terminal, a copy-trading or tax
    /// service) that holds the key on its servers.
    ThirdPartyPlatform,
    /// A script (yours or copied) run by hand or by cron.
    Script,
}

impl ServiceKind {
    /// Every kind, in display order.
    pub const ALL: &'static [ServiceKind] = &[
        ServiceKind::Unspecified,
        ServiceKind::OwnBot,
        ServiceKind::ThirdPartyPlatform,
        ServiceKind::Script,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceKind::Unspecified => "unspecified",
            ServiceKind::OwnBot => "own_bot",
            ServiceKind::ThirdPartyPlatform => "third_party_platform",
            ServiceKind::Script => "script",
        }
    }

    /// Words for people.
    pub fn title(self) -> &'static str {
        match self {
            ServiceKind::Unspecified => "kind not specified",
            ServiceKind::OwnBot => "own bot",
            ServiceKind::ThirdPartyPlatform => "third-party platform",
            ServiceKind::Script => "script",
        }
    }

    /// Whether the vendor checklist is expected to be complete.
    pub fn needs_vetting(self) -> bool {
        self == ServiceKind::ThirdPartyPlatform
    }
}

impl fmt::Display for ServiceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ServiceKind {
    type Err = ValidationError;
    /// Stored names, plus the CLI's short forms (`own-bot`, `bot`,
    /// `platform`, `third-party`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let norm = s.trim().to_ascii_lowercase().replace('-', "_");
        Ok(match norm.as_str() {
            "unspecified" => ServiceKind::Unspecified,
            "own_bot" | "bot" => ServiceKind::OwnBot,
            "third_party_platform" | "platform" | "third_party" => ServiceKind::ThirdPartyPlatform,
            "script" => ServiceKind::Script,
            _ => {
                return Err(ValidationError::UnknownServiceKind {
                    value: s.chars().take(32).collect(),
                });
            }
        })
    }
}

/// One question of the vendor checklist (the practices guide's "vet third
/// parties before connecting a key").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum ChecklistItem {
    /// Their documentation on how they store API keys was read.
    KeyStorageDocs,
    /// Their reputation was checked.
    Reputation,
    /// Their incident history, and how they responded, was reviewed.
    IncidentHistory,
    /// Privacy and compliance (e.g. GDPR, SOC 2) were checked.
    Compliance,
    /// Whether the software is open or closed source was established.
    OpenSource,
}

impl ChecklistItem {
    /// Every item, in display order.
    pub const ALL: &'static [ChecklistItem] = &[
        ChecklistItem::KeyStorageDocs,
        ChecklistItem::Reputation,
        ChecklistItem::IncidentHistory,
        ChecklistItem::Compliance,
        ChecklistItem::OpenSource,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ChecklistItem::KeyStorageDocs => "key_storage_docs",
            ChecklistItem::Reputation => "reputation",
            ChecklistItem::IncidentHistory => "incident_history",
            ChecklistItem::Compliance => "compliance",
            ChecklistItem::OpenSource => "open_source",
        }
    }

    /// The checkbox text.
    pub fn title(self) -> &'static str {
        match self {
            ChecklistItem::KeyStorageDocs => "Documentation on how they store keys reviewed",
            ChecklistItem::Reputation => "Reputation checked",
            ChecklistItem::IncidentHistory => "Incident history and response reviewed",
            ChecklistItem::Compliance => "Privacy and compliance checked (e.g. GDPR, SOC 2)",
            ChecklistItem::OpenSource => "Open or closed source established",
        }
    }
}

impl fmt::Display for ChecklistItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ChecklistItem {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let norm = s.trim().to_ascii_lowercase().replace('-', "_");
        ChecklistItem::ALL
            .iter()
            .copied()
            .find(|i| i.as_str() == norm)
            .ok_or_else(|| ValidationError::UnknownChecklistItem {
                value: s.chars().take(32).collect(),
            })
    }
}

/// One checklist entry as front ends see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ChecklistEntry {
    /// Which question.
    pub item: ChecklistItem,
    /// The checkbox text.
    pub title: &'static str,
    /// Unix seconds at which it was checked; `None`: not checked.
    pub checked_at: Option<i64>,
}

/// The vendor checklist of one service: one entry per [`ChecklistItem`],
/// in order. Checking records the time; unchecking clears it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VendorChecklist(BTreeMap<ChecklistItem, i64>);

impl VendorChecklist {
    /// When `item` was checked, if it is.
    pub fn checked_at(&self, item: ChecklistItem) -> Option<i64> {
        self.0.get(&item).copied()
    }

    /// Checks `item` at `at` (an item already checked keeps its date) or
    /// unchecks it. Returns whether anything changed.
    pub fn set(&mut self, item: ChecklistItem, checked: bool, at: i64) -> bool {
        if checked {
            if self.0.contains_key(&item) {
                return false;
            }
            self.0.insert(item, at);
            true
        } else {
            self.0.remove(&item).is_some()
        }
    }

    /// Checked items.
    pub fn done(&self) -> usize {
        self.0.len()
    }

    /// Items not checked yet, in order.
    pub fn missing(&self) -> Vec<ChecklistItem> {
        ChecklistItem::ALL
            .iter()
            .copied()
            .filter(|i| !self.0.contains_key(i))
            .collect()
    }

    /// Whether every item is checked.
    pub fn is_complete(&self) -> bool {
        self.missing().is_empty()
    }

    /// Every item with its date, in display order.
    pub fn entries(&self) -> Vec<ChecklistEntry> {
        ChecklistItem::ALL
            .iter()
            .map(|&item| ChecklistEntry {
                item,
                title: item.title(),
                checked_at: self.checked_at(item),
            })
            .collect()
    }
}

impl Serialize for VendorChecklist {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.entries().serialize(s)
    }
}

/// A bot, platform or script recorded as holding a key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LinkedService {
    /// Name, unique per key (case-insensitive), 1–64 characters.
    pub name: String,
    /// What it is.
    pub kind: ServiceKind,
    /// Where it runs: a hostname or an IP address.
    pub host: Option<String>,
    /// Free-form notes (not secret).
    pub notes: String,
    /// The dated vendor checklist.
    #[cfg_attr(feature = "ts", ts(as = "Vec<ChecklistEntry>"))]
    pub checklist: VendorChecklist,
}

impl LinkedService {
    /// A service with only a name: kind unspecified, nothing else.
    pub fn named(name: impl Into<String>) -> LinkedService {
        LinkedService {
            name: name.into(),
            kind: ServiceKind::Unspecified,
            host: None,
            notes: String::new(),
            checklist: VendorChecklist::default(),
        }
    }

    /// A service of the older format (a bare name). Names longer than a
    /// name may be are cut, and the whole text is kept in the notes.
    fn from_legacy(text: &str) -> LinkedService {
        let text = text.trim();
        if text.chars().count() <= MAX_SERVICE_NAME_CHARS {
            return LinkedService::named(text);
        }
        let mut name: String = text.chars().take(MAX_SERVICE_NAME_CHARS - 1).collect();
        name.push('…');
        let mut s = LinkedService::named(name);
        s.notes = text.chars().take(MAX_SERVICE_NOTES_CHARS).collect();
        s
    }

    /// Checks and normalizes every field (name trimmed, host lower-cased).
    pub fn validated(mut self) -> Result<LinkedService, ValidationError> {
        self.name = service_name(&self.name)?;
        self.host = self.host.as_deref().map(host).transpose()?.flatten();
        service_notes(&self.notes)?;
        Ok(self)
    }
}

impl From<&str> for LinkedService {
    fn from(name: &str) -> LinkedService {
        LinkedService::named(name)
    }
}

impl From<String> for LinkedService {
    fn from(name: String) -> LinkedService {
        LinkedService::named(name)
    }
}

/// Checks a service name; returns it trimmed.
pub fn service_name(name: &str) -> Result<String, ValidationError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(ValidationError::EmptyServiceName);
    }
    if name.chars().count() > MAX_SERVICE_NAME_CHARS {
        return Err(ValidationError::ServiceNameTooLong);
    }
    if name.chars().any(char::is_control) {
        return Err(ValidationError::ServiceNameControlChars);
    }
    Ok(name.to_owned())
}

/// Checks a service's notes.
pub fn service_notes(notes: &str) -> Result<(), ValidationError> {
    if notes.chars().count() > MAX_SERVICE_NOTES_CHARS
        || notes
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(ValidationError::BadServiceNotes);
    }
    Ok(())
}

/// Checks a host: an IP address (v4 or v6) or a DNS hostname (letters,
/// digits and hyphens in dot-separated labels of at most 63 characters, no
/// scheme, port or path). Empty means none. Returns it normalized.
pub fn host(value: &str) -> Result<Option<String>, ValidationError> {
    let v = value.trim();
    if v.is_empty() {
        return Ok(None);
    }
    let bad = || ValidationError::BadServiceHost {
        value: v.chars().take(64).collect(),
    };
    let unbracketed = v
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .unwrap_or(v);
    if let Ok(ip) = unbracketed.parse::<IpAddr>() {
        return Ok(Some(ip.to_string()));
    }
    let name = v.strip_suffix('.').unwrap_or(v).to_ascii_lowercase();
    if name.is_empty() || name.len() > MAX_HOST_CHARS {
        return Err(bad());
    }
    let labels: Vec<&str> = name.split('.').collect();
    let label_ok = |l: &&str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    if !labels.iter().all(label_ok) {
        return Err(bad());
    }
    // All-numeric dotted names are mistyped IPv4 addresses, not hostnames.
    if labels.iter().all(|l| l.chars().all(|c| c.is_ascii_digit())) {
        return Err(bad());
    }
    Ok(Some(name))
}

/// Checks a whole list: every service valid, names unique (case-insensitive),
/// at most [`MAX_SERVICES_PER_KEY`]. Returns the normalized list.
pub fn validate_list(services: &[LinkedService]) -> Result<Vec<LinkedService>, ValidationError> {
    if services.len() > MAX_SERVICES_PER_KEY {
        return Err(ValidationError::TooManyServices);
    }
    let mut out: Vec<LinkedService> = Vec::with_capacity(services.len());
    for s in services {
        let s = s.clone().validated()?;
        if find(&out, &s.name).is_some() {
            return Err(ValidationError::DuplicateService { name: s.name });
        }
        out.push(s);
    }
    Ok(out)
}

/// The list of services named `names`: a name already in `current`
/// (case-insensitive) keeps its record (kind, host, notes, checklist), a new
/// name becomes a service of kind unspecified, and services not named are
/// dropped. What `--used-by` and the form's name list mean.
pub fn keep_by_name(current: &[LinkedService], names: &[String]) -> Vec<LinkedService> {
    names
        .iter()
        .map(|n| n.trim())
        .filter(|n| !n.is_empty())
        .map(|n| match find(current, n) {
            Some(i) => current[i].clone(),
            None => LinkedService::named(n),
        })
        .collect()
}

fn same_name(a: &str, b: &str) -> bool {
    a.trim().to_lowercase() == b.trim().to_lowercase()
}

pub(crate) fn find(services: &[LinkedService], name: &str) -> Option<usize> {
    services.iter().position(|s| same_name(&s.name, name))
}

#[derive(Serialize, Deserialize)]
struct StoredService {
    name: String,
    #[serde(default)]
    kind: ServiceKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    host: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    notes: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    checklist: BTreeMap<String, i64>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum StoredEntry {
    Legacy(String),
    Record(StoredService),
}

/// Reads the stored column: objects, or bare names from older vaults.
/// `None` when it is not readable (an unknown kind or checklist item).
pub(crate) fn from_json(text: &str) -> Option<Vec<LinkedService>> {
    let entries: Vec<StoredEntry> = serde_json::from_str(text).ok()?;
    let mut out: Vec<LinkedService> = Vec::with_capacity(entries.len());
    for e in entries {
        let s = match e {
            StoredEntry::Legacy(name) if name.trim().is_empty() => continue,
            StoredEntry::Legacy(name) => LinkedService::from_legacy(&name),
            StoredEntry::Record(r) => {
                let mut checklist = VendorChecklist::default();
                for (item, at) in r.checklist {
                    checklist.0.insert(item.parse().ok()?, at);
                }
                LinkedService {
                    name: r.name,
                    kind: r.kind,
                    host: r.host,
                    notes: r.notes,
                    checklist,
                }
            }
        };
        // Older vaults did not refuse duplicates: the first one wins.
        if find(&out, &s.name).is_none() {
            out.push(s);
        }
    }
    Some(out)
}

/// The stored form of a validated list.
pub(crate) fn to_json(services: &[LinkedService]) -> Result<String, ValidationError> {
    let stored: Vec<StoredService> = services
        .iter()
        .map(|s| StoredService {
            name: s.name.clone(),
            kind: s.kind,
            host: s.host.clone(),
            notes: s.notes.clone(),
            checklist: s
                .checklist
                .0
                .iter()
                .map(|(i, at)| (i.as_str().to_owned(), *at))
                .collect(),
        })
        .collect();
    serde_json::to_string(&stored).map_err(|_| ValidationError::BadServiceNotes)
}

/// A new service, as a front end sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewService {
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: ServiceKind,
    /// Hostname or IP address, if any.
    pub host: Option<String>,
    /// Notes.
    pub notes: String,
}

/// Changes to a service; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceUpdate {
    /// New name.
    pub name: Option<String>,
    /// New kind.
    pub kind: Option<ServiceKind>,
    /// New host; `Some(None)` or an empty string removes it.
    pub host: Option<Option<String>>,
    /// New notes.
    pub notes: Option<String>,
}

impl ServiceUpdate {
    pub(crate) fn is_empty(&self) -> bool {
        self.name.is_none() && self.kind.is_none() && self.host.is_none() && self.notes.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_items_round_trip() {
        for k in ServiceKind::ALL {
            assert_eq!(k.as_str().parse::<ServiceKind>().unwrap(), *k);
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
        assert_eq!(
            "own-bot".parse::<ServiceKind>().unwrap(),
            ServiceKind::OwnBot
        );
        assert_eq!(
            "platform".parse::<ServiceKind>().unwrap(),
            ServiceKind::ThirdPartyPlatform
        );
        assert!(matches!(
            "cloud".parse::<ServiceKind>(),
            Err(ValidationError::UnknownServiceKind { .. })
        ));
        for i in ChecklistItem::ALL {
            assert_eq!(i.as_str().parse::<ChecklistItem>().unwrap(), *i);
            assert_eq!(serde_json::to_value(i).unwrap(), i.as_str());
        }
        assert_eq!(
            "open-source".parse::<ChecklistItem>().unwrap(),
            ChecklistItem::OpenSource
        );
        assert!(matches!(
            "vibes".parse::<ChecklistItem>(),
            Err(ValidationError::UnknownChecklistItem { .. })
        ));
    }

    #[test]
    fn hosts_are_hostnames_or_ips() {
        assert_eq!(host("").unwrap(), None);
        assert_eq!(host(" 10.0.0.5 ").unwrap().as_deref(), Some("10.0.0.5"));
        assert_eq!(host("[::1]").unwrap().as_deref(), Some("::1"));
        assert_eq!(host("2001:db8::1").unwrap().as_deref(), Some("2001:db8::1"));
        assert_eq!(
            host("API.3commas.io.").unwrap().as_deref(),
            Some("api.3commas.io")
        );
        assert_eq!(host("vps-1").unwrap().as_deref(), Some("vps-1"));
        for bad in [
            "https://x.io",
            "x.io:443",
            "x.io/path",
            "-x.io",
            "x-.io",
            "a..b",
            "999.1.1.1",
            "1.2.3",
            "exa mple.com",
            "bücher.de",
            &"a".repeat(64),
            &format!("{}.io", ["abc"; 70].join(".")),
        ] {
            assert!(
                matches!(host(bad), Err(ValidationError::BadServiceHost { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn names_and_notes_are_bounded() {
        assert_eq!(service_name("  grid bot ").unwrap(), "grid bot");
        assert_eq!(service_name(" "), Err(ValidationError::EmptyServiceName));
        assert_eq!(
            service_name(&"x".repeat(65)),
            Err(ValidationError::ServiceNameTooLong)
        );
        assert!(service_name(&"x".repeat(64)).is_ok());
        assert_eq!(
            service_name("a\u{7}b"),
            Err(ValidationError::ServiceNameControlChars)
        );
        assert!(service_notes("line one\nline two").is_ok());
        assert_eq!(
            service_notes(&"n".repeat(1001)),
            Err(ValidationError::BadServiceNotes)
        );
        assert_eq!(
            service_notes("a\u{0}"),
            Err(ValidationError::BadServiceNotes)
        );
    }

    #[test]
    fn lists_refuse_duplicates_case_insensitively() {
        let list = vec![
            LinkedService::named("Grid Bot"),
            LinkedService::named("grid bot "),
        ];
        assert_eq!(
            validate_list(&list),
            Err(ValidationError::DuplicateService {
                name: "grid bot".into()
            })
        );
        let many: Vec<LinkedService> = (0..=MAX_SERVICES_PER_KEY)
            .map(|i| LinkedService::named(format!("s{i}")))
            .collect();
        assert_eq!(validate_list(&many), Err(ValidationError::TooManyServices));
    }

    #[test]
    fn legacy_names_read_as_unspecified_services() {
        let long = "y".repeat(100);
        let text = format!(r#"["grid bot", "", "Grid Bot", "{long}"]"#);
        let list = from_json(&text).unwrap();
        assert_eq!(list.len(), 2, "empty dropped, duplicate merged");
        assert_eq!(list[0], LinkedService::named("grid bot"));
        assert_eq!(list[0].kind, ServiceKind::Unspecified);
        assert_eq!(list[1].name.chars().count(), MAX_SERVICE_NAME_CHARS);
        assert!(list[1].name.ends_with('…'));
        assert_eq!(list[1].notes, long, "nothing of the old text is lost");
        assert!(validate_list(&list).is_ok());
        assert_eq!(from_json("[]").unwrap(), vec![]);
    }

    #[test]
    fn records_round_trip_and_unknown_items_are_unreadable() {
        let mut s = LinkedService::named("3commas");
        s.kind = ServiceKind::ThirdPartyPlatform;
        s.host = Some("api.3commas.io".into());
        s.notes = "DCA bots".into();
        assert!(
            s.checklist
                .set(ChecklistItem::Reputation, true, 1_700_000_000)
        );
        assert!(
            !s.checklist
                .set(ChecklistItem::Reputation, true, 1_800_000_000)
        );
        assert_eq!(
            s.checklist.checked_at(ChecklistItem::Reputation),
            Some(1_700_000_000),
            "re-checking keeps the first date"
        );
        let list = vec![s, LinkedService::named("tax script")];
        let text = to_json(&list).unwrap();
        assert_eq!(from_json(&text).unwrap(), list);
        assert!(from_json(r#"[{"name":"x","checklist":{"vibes":1}}]"#).is_none());
        assert!(from_json(r#"[{"name":"x","kind":"cloud"}]"#).is_none());
        assert!(from_json("not json").is_none());
    }

    #[test]
    fn checklist_serializes_every_item_in_order() {
        let mut c = VendorChecklist::default();
        c.set(ChecklistItem::Compliance, true, 5);
        let v = serde_json::to_value(&c).unwrap();
        let items: Vec<&str> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["item"].as_str().unwrap())
            .collect();
        assert_eq!(
            items,
            [
                "key_storage_docs",
                "reputation",
                "incident_history",
                "compliance",
                "open_source"
            ]
        );
        assert_eq!(v[3]["checked_at"], 5);
        assert!(v[0]["checked_at"].is_null());
        assert_eq!(c.done(), 1);
        assert!(!c.is_complete());
        assert!(c.set(ChecklistItem::Compliance, false, 9));
        assert_eq!(c.checked_at(ChecklistItem::Compliance), None);
        assert!(!c.set(ChecklistItem::Compliance, false, 9));
    }

    #[test]
    fn keep_by_name_keeps_records_of_names_kept() {
        let mut bot = LinkedService::named("Grid Bot");
        bot.kind = ServiceKind::OwnBot;
        let current = vec![bot.clone(), LinkedService::named("old")];
        let out = keep_by_name(&current, &["grid bot".into(), " new ".into(), "".into()]);
        assert_eq!(out, vec![bot, LinkedService::named("new")]);
    }
}
