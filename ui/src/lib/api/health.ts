import { call } from './core';

export type Fix =
  | 'rotate'
  | 'narrow_scope'
  | 'add_ip_whitelist'
  | 'run_check'
  | 'open_incident'
  | 'review_services';

export interface HealthFinding {
  rule: string;
  severity: 'info' | 'warning' | 'critical';
  label: string;
  title: string;
  why: string;
  explanation: string;
  fix: Fix;
  points: number;
}

/** Mirrors `keyward_core::health::HealthReport` (labels and text only). */
export interface HealthReport {
  generated_at: number;
  keys: number;
  score: { score: number; lost: { rule: string; label: string; points: number; why: string }[] };
  counts: { critical: number; warning: number; info: number };
  findings: HealthFinding[];
}

export const healthReport = () => call<HealthReport>('health_report');
