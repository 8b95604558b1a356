import { call } from './core';
import type { Delivery } from './generated/Delivery';
import type { KeyDeployment } from './generated/KeyDeployment';
import type { Proof } from './mfa';

// Where a key is deployed: each target it is granted to (name, host, the
// bundle's file on the server) and its last delivery there (`deployed_at`:
// unix seconds or null). Generated from the Rust DTOs; nothing secret in them.
export type { Delivery, KeyDeployment };

export const deployTargetsOf = (label: string) =>
  call<KeyDeployment[]>('deploy_targets_of', { label });

/**
 * Seals the key (with every other key granted to the same server) and
 * copies it to `target`, or to every server it is granted to when `target`
 * is null (MFA-gated in the core). One answer per server, failures named.
 */
export const deployKey = (label: string, target: string | null, proof: Proof | null) =>
  call<Delivery[]>('deploy_key', { label, target, proof });
