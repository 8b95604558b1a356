import { call } from './core';

/** Mirrors `keyward_core::vault::VaultStatus`. */
export interface VaultStatus {
  path: string;
  exists: boolean;
}

export function vaultStatus(): Promise<VaultStatus> {
  return call<VaultStatus>('vault_status');
}
