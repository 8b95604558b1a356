import { call } from './core';
import type { Environment, Exchange, KeyDetail, Scope } from './keys';
import type { Proof } from './mfa';

/** Mirrors `keyward_core::exchange::ManagerFitness`. */
export interface ManagerFitness {
  fit: boolean;
  needs: string[];
  problems: string[];
}

/** Mirrors `keyward_core::managed::MarkOutcome`. */
export interface MarkOutcome {
  label: string;
  exchange: Exchange;
  exchange_name: string;
  fitness: ManagerFitness;
}

export type InventoryStatus = 'known' | 'unknown' | 'missing' | 'not_listed';

/** Mirrors `keyward_core::managed::InventoryEntry` (masked key id only). */
export interface InventoryEntry {
  status: InventoryStatus;
  key_id_masked: string;
  label: string | null;
  exchange_label: string | null;
  sub_account: string | null;
  permissions: string[];
  scopes: Scope[];
  ips: string[];
  /** RFC 3339, where the exchange says. */
  created: string | null;
  expires: string | null;
  note: string | null;
}

/** Mirrors `keyward_core::managed::InventoryReport`. */
export interface InventoryReport {
  exchange: Exchange;
  exchange_name: string;
  environment: Environment;
  manager: string;
  /** False: a vault key the exchange did not list is `not_listed`, never `missing`. */
  complete: boolean;
  notes: string[];
  entries: InventoryEntry[];
  counts: { known: number; unknown: number; missing: number; not_listed: number };
  taken_at: string;
}

/** Mirrors `keyward_core::managed::RevokedUnknown`. */
export interface RevokedUnknown {
  exchange: Exchange;
  exchange_name: string;
  key_id_masked: string;
  sub_account: string;
}

/** Marks a key as its account's manager key after a live check (MFA-gated, never by the window). */
export const managerMark = (label: string, proof: Proof | null) =>
  call<MarkOutcome>('manager_mark', { label, proof });

/** Stops using a key as its account's manager key (MFA-gated). */
export const managerUnmark = (label: string, proof: Proof | null) =>
  call<KeyDetail>('manager_unmark', { label, proof });

/** Lists every key of an exchange account through its manager key (MFA-gated). */
export const inventory = (exchange: Exchange, environment: Environment, proof: Proof | null) =>
  call<InventoryReport>('inventory', { exchange, environment, proof });

/** Deletes a key the vault does not hold from the account (MFA-gated). */
export const inventoryRevoke = (
  exchange: Exchange,
  environment: Environment,
  keyId: string,
  proof: Proof | null,
) => call<RevokedUnknown>('inventory_revoke', { exchange, environment, keyId, proof });

/** Mirrors `commands::managed::ManagedExchange`: what Keyward can do with
 * an exchange account through its manager key. */
export interface ManagedExchange {
  exchange: Exchange;
  exchange_name: string;
  /** Creates and deletes sub-account keys through the API. */
  manage_sub_keys: boolean;
  /** Lists every key of the account (an inventory can be complete). */
  list_account_keys: boolean;
}

/** The exchanges whose account keys Keyward can manage (the core's capabilities). */
export const managedExchanges = () => call<ManagedExchange[]>('managed_exchanges');
