import { call } from './core';
import type { Proof } from './mfa';

export type WebhookKind = 'discord' | 'slack';
export type AuditSchedule = 'off' | 'daily' | 'weekly';

/** Mirrors `keyward_core::vault::EventSwitches`. */
export interface EventSwitches {
  incident_opened: boolean;
  critical_finding: boolean;
  rotation_overdue: boolean;
}

/** Mirrors `keyward_core::vault::WebhookInfo`: never the URL itself. */
export interface WebhookInfo {
  kind: WebhookKind;
  host: string;
  masked: string;
}

/** Mirrors `keyward_core::vault::BackgroundAuditRun`. */
export interface BackgroundAuditRun {
  at: number;
  checked: number;
  failed: number;
  critical: number;
  error: string | null;
}

/** Mirrors `keyward_core::vault::AlertSettings`. */
export interface AlertSettings {
  webhook: WebhookInfo | null;
  events: EventSwitches;
  background_audit: AuditSchedule;
  last_background_audit: BackgroundAuditRun | null;
  pending: number;
}

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
