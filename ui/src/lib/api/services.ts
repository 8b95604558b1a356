import { call } from './core';
import type { ChecklistEntry } from './generated/ChecklistEntry';
import type { ChecklistItem } from './generated/ChecklistItem';
import type { LinkedService } from './generated/LinkedService';
import type { ServiceKind } from './generated/ServiceKind';

/** The kinds a form offers (the type is generated from the Rust one). */
export const SERVICE_KINDS = [
  'own_bot',
  'third_party_platform',
  'script',
  'unspecified',
] as const satisfies readonly ServiceKind[];
export type { ServiceKind };

export const SERVICE_KIND_TITLES: Record<ServiceKind, string> = {
  own_bot: 'Own bot',
  third_party_platform: 'Third-party platform',
  script: 'Script',
  unspecified: 'Not specified',
};

// A linked service and its vendor checklist (`checked_at`: unix seconds or
// null), generated from the Rust DTOs (`generated/`); no secret in them.
export type { ChecklistEntry, ChecklistItem, LinkedService };

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
