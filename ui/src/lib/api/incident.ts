import { call } from './core';
import type { Proof } from './mfa';
import type { Exchange } from './keys';

export type Situation = 'leaked' | 'trades' | 'withdrawal' | 'device' | 'third-party';
export type StepState = 'pending' | 'done' | 'skipped' | 'failed';

export interface PlaybookSummary {
  situation: Situation;
  title: string;
  summary: string;
  version: number;
}

export interface IncidentStep {
  id: string;
  kind: 'automated' | 'manual' | 'evidence';
  action: string | null;
  title: string;
  text: string;
  instructions: { exchange: Exchange; exchange_name: string; text: string }[];
  state: StepState;
  updated_at: number | null;
  note: string | null;
  reason: string | null;
  error: string | null;
  results: string[];
}

/** Mirrors `keyward_core::incident::IncidentView` (masked key ids only). */
export interface IncidentView {
  id: string;
  situation: Situation;
  title: string;
  playbook_version: number;
  state: string;
  opened_at: number;
  closed_at: number | null;
  exchanges: Exchange[];
  /** The brands of `exchanges`, in the same order. */
  exchange_names: string[];
  keys: { id: string; label: string; exchange: Exchange; exchange_name: string; masked_key_id: string }[];
  steps: IncidentStep[];
  timeline: { at: number; event: string; step: string | null; text: string }[];
  snapshots: { label: string; exchange: Exchange; exchange_name: string; taken_at: number }[];
  progress: { resolved: number; total: number };
}

export interface IncidentSummary {
  id: string;
  situation: Situation;
  state: string;
  opened_at: number;
  closed_at: number | null;
  keys: string[];
  progress: { resolved: number; total: number };
}

export interface StepRun {
  state: StepState;
  results: string[];
  manual_steps: string[];
  lock_requested: boolean;
  incident: IncidentView;
}

export const incidentPlaybooks = () => call<PlaybookSummary[]>('incident_playbooks');
export const incidentOpen = (situation: Situation, labels: string[], exchange: Exchange | null) =>
  call<IncidentView>('incident_open', { situation, labels, exchange });
export const incidentList = () => call<IncidentSummary[]>('incident_list');
export const incidentView = (id: string) => call<IncidentView>('incident_view', { id });
export const incidentStepDone = (id: string, step: string, note: string | null) =>
  call<IncidentView>('incident_step_done', { id, step, note });
export const incidentStepSkip = (id: string, step: string, reason: string) =>
  call<IncidentView>('incident_step_skip', { id, step, reason });
export const incidentNote = (id: string, text: string) =>
  call<IncidentView>('incident_note', { id, text });
export const incidentClose = (id: string) => call<IncidentView>('incident_close', { id });
export const incidentRun = (id: string, step: string, proof: Proof | null, confirmManual: boolean) =>
  call<StepRun>('incident_run', { id, step, proof, confirmManual });
export const incidentReport = (id: string) => call<{ markdown: string }>('incident_report', { id });
export const incidentExport = (id: string) => call<string[]>('incident_export', { id });
