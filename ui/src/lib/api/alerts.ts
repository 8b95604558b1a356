import { call } from './core';
import type { AlertSettings } from './generated/AlertSettings';
import type { AuditSchedule } from './generated/AuditSchedule';
import type { BackgroundAuditRun } from './generated/BackgroundAuditRun';
import type { EventSwitches } from './generated/EventSwitches';
import type { WebhookInfo } from './generated/WebhookInfo';
import type { WebhookKind } from './generated/WebhookKind';
import type { Proof } from './mfa';

// The shapes are generated from the Rust DTOs (`generated/`); the webhook's
// URL itself never comes back (`WebhookInfo` has its host and a masked form).
export type {
  AlertSettings,
  AuditSchedule,
  BackgroundAuditRun,
  EventSwitches,
  WebhookInfo,
  WebhookKind,
};

export const alertsGet = () => call<AlertSettings>('alerts_get');
/** The URL goes to the core once, to be sealed; it never comes back. */
export const alertsSetWebhook = (url: string, kind: WebhookKind | null, proof: Proof | null) =>
  call<AlertSettings>('alerts_set_webhook', { webhook: { url, kind }, proof });
export const alertsRemoveWebhook = (proof: Proof | null) =>
  call<AlertSettings>('alerts_remove_webhook', { proof });
export const alertsSetOptions = (
  backgroundAudit: AuditSchedule,
  events: EventSwitches,
  proof: Proof | null,
) =>
  call<AlertSettings>('alerts_set_options', {
    backgroundAudit,
    events,
    proof,
  });
export const alertsTest = () => call<void>('alerts_test');
