import { call } from './core';

/** Mirrors `keyward_core::model::ServiceKind`. */
export const SERVICE_KINDS = ['own_bot', 'third_party_platform', 'script', 'unspecified'] as const;
export type ServiceKind = (typeof SERVICE_KINDS)[number];

export const SERVICE_KIND_TITLES: Record<ServiceKind, string> = {
  own_bot: 'Own bot',
  third_party_platform: 'Third-party platform',
  script: 'Script',
  unspecified: 'Not specified',
};

/** Mirrors `keyward_core::model::ChecklistItem`. */
export type ChecklistItem =
  | 'key_storage_docs'
  | 'reputation'
  | 'incident_history'
  | 'compliance'
  | 'open_source';

/** One vendor-checklist entry; `checked_at` is unix seconds or null. */
export interface ChecklistEntry {
  item: ChecklistItem;
  title: string;
  checked_at: number | null;
}

/** Mirrors `keyward_core::model::LinkedService` (no secret in it). */
export interface LinkedService {
  name: string;
  kind: ServiceKind;
  host: string | null;
  notes: string;
  checklist: ChecklistEntry[];
}

export interface ServiceInput {
  name: string;
  kind: ServiceKind;
  host: string | null;
  notes: string;
}

/** Absent fields stay; an empty `host` removes it. */
export type ServiceUpdate = Partial<{ name: string; kind: ServiceKind; host: string; notes: string }>;

export const serviceAdd = (label: string, service: ServiceInput) =>
  call<LinkedService[]>('service_add', { label, service });
export const serviceUpdate = (label: string, name: string, update: ServiceUpdate) =>
  call<LinkedService[]>('service_update', { label, name, update });
export const serviceRemove = (label: string, name: string) =>
  call<LinkedService[]>('service_remove', { label, name });
/** Checking records the time in the core; unchecking clears it. */
export const serviceCheck = (label: string, name: string, item: ChecklistItem, checked: boolean) =>
  call<LinkedService[]>('service_check', { label, name, item, checked });
