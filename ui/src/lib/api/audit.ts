import { call } from './core';

/** One audit-log entry (never holds a secret). */
export interface AuditEntry {
  seq: number;
  time_ms: number;
  actor: 'gui' | 'cli' | 'system';
  action: string;
  /** The category id (`audit_categories`). */
  category: string;
  /** What happened, as a sentence ("Revealed the secret of bybit-bot (TOTP)"). */
  sentence: string;
  key_id: string | null;
  key_label: string | null;
  details: string;
}

export interface AuditFilter {
  key_label?: string | null;
  /** A category id from `auditCategories`. */
  category?: string | null;
  action?: string | null;
  limit?: number | null;
}

/** Mirrors `keyward_core::vault::AuditReport`. */
export interface AuditVerification {
  entries: number;
  problem: string | null;
  found_at_unlock: { finding: string; recorded_as: number } | null;
  recorded_findings: number;
  /** Findings recorded after the last acknowledgement (`keyward log --acknowledge`). */
  unacknowledged_findings: number;
}

export const auditLog = (filter: AuditFilter) => call<AuditEntry[]>('audit_log', { filter });
/** A category of the activity filter, with its label. */
export interface AuditCategory {
  id: string;
  label: string;
}

export const auditCategories = () => call<AuditCategory[]>('audit_categories');
export const auditVerify = () => call<AuditVerification>('audit_verify');
