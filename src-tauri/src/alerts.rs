//! Background alerts while the vault is unlocked: the reminder pass
//! (desktop notifications for rotations due or overdue and failed live
//! checks, each key at most once a day), the optional background audit
//! (every key checked live on the vault's schedule), and the delivery of
//! queued webhook events.
//!
//! Owns: the background thread and the notification calls (through Tauri's
//! notification plugin, from Rust only: the webview is granted no
//! notification permission). Must never: hold the session lock across a
//! network call (the core's three phases release it), count as user
//! activity (every call goes through `Session::quietly`, so the idle
//! auto-lock still fires), keep running for a locked vault, or show a
//! secret or a key id in a notification (the core's reminder text names
//! label and exchange only).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use keyward_core::alerts::deliver_alerts;
use keyward_core::alerts::webhook::WebhookSender;
use keyward_core::checks::background_audit;
use keyward_core::vault::{Actor, Quiet, Session, SessionAccess};
use tauri::{AppHandle, Manager, Runtime};
use tauri_plugin_notification::NotificationExt;

use crate::state::{AppState, lock_slot};

/// How often the thread looks at the session.
const TICK: Duration = Duration::from_secs(3);
/// How often the reminder and delivery pass runs while unlocked (it also
/// runs right after each unlock).
const PASS_EVERY: Duration = Duration::from_secs(300);
/// The background audit never runs in the first minutes after an unlock:
/// unlocking is not a reason to call every exchange, and the user may be
/// about to check keys anyway.
const AUDIT_GRACE: Duration = Duration::from_secs(600);

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Starts the background thread.
pub fn spawn<R: Runtime>(app: AppHandle<R>) {
    std::thread::spawn(move || {
        let mut unlocked_since: Option<std::time::Instant> = None;
        let mut last_pass: Option<std::time::Instant> = None;
        let mut seen_locks = 0;
        loop {
            std::thread::sleep(TICK);
            let state = app.state::<AppState>();
            let unlocked = lock_slot(&state.session)
                .as_ref()
                .is_some_and(Session::is_unlocked);
            // A lock and unlock between two ticks is still a new unlock.
            let locks = state.locks.load(std::sync::atomic::Ordering::SeqCst);
            if locks != seen_locks {
                seen_locks = locks;
                unlocked_since = None;
                last_pass = None;
            }
            if !unlocked {
                unlocked_since = None;
                last_pass = None;
                continue;
            }
            let since = *unlocked_since.get_or_insert_with(std::time::Instant::now);
            if last_pass.is_some_and(|t| t.elapsed() < PASS_EVERY) {
                continue;
            }
            last_pass = Some(std::time::Instant::now());
            let audit = since.elapsed() >= AUDIT_GRACE;
            pass(&app, &state, audit);
        }
    });
}

/// One pass: background audit (if allowed now and due), reminders with
/// their notifications, due automated rotations (notified, never run
/// without a step-up), webhook deliveries.
fn pass<R: Runtime>(app: &AppHandle<R>, state: &AppState, audit: bool) {
    let now = now_secs();
    if audit && let Ok(client) = state.exchange_client() {
        let _ = tauri::async_runtime::block_on(background_audit(&state.session, &client, now));
    }
    let reminders = Quiet(&state.session)
        .with_session(|s| keyward_core::alerts::reminder_pass(s, Actor::System, now))
        .map(|p| p.reminders)
        .unwrap_or_default();
    for r in reminders {
        // Best effort: without a notification service the reminder is
        // still in the health dashboard.
        let _ = app
            .notification()
            .builder()
            .title(&r.title)
            .body(&r.body)
            .show();
    }
    // Keys on the automated rotation schedule that are due: the background
    // pass holds no step-up, so it only notifies (audited once a day per
    // key by the core); the rotation itself waits for the user's proof.
    let due = Quiet(&state.session)
        .with_session(|s| keyward_core::rotation::notify_due_auto(s, Actor::System))
        .unwrap_or_default();
    for d in due {
        let _ = app
            .notification()
            .builder()
            .title("Automated rotation needs a step-up")
            .body(format!(
                "{} is due for its automated rotation. Open Keyward and confirm it with your code.",
                d.label
            ))
            .show();
    }
    if let Some(sender) = state.webhook_sender() {
        let _ = tauri::async_runtime::block_on(deliver_alerts(
            Quiet(&state.session),
            &sender,
            Actor::System,
            now,
        ));
    }
}

/// Delivers queued webhook events in the background after a command that
/// may have queued some (incident opened, live check stored). Never blocks
/// or fails the command.
pub fn deliver_soon(session: Arc<Mutex<Option<Session>>>, sender: Option<WebhookSender>) {
    let Some(sender) = sender else { return };
    tauri::async_runtime::spawn(async move {
        let _ = deliver_alerts(Quiet(&session), &sender, Actor::Gui, now_secs()).await;
    });
}
