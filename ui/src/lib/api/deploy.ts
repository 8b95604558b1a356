import { call } from './core';
import type { KeyDeployment } from './generated/KeyDeployment';

// Where a key is deployed: each target it is granted to (name, host, the
// bundle's file on the server) and its last delivery there (`deployed_at`:
// unix seconds or null). Generated from the Rust DTO; nothing secret in it.
export type { KeyDeployment };

export const deployTargetsOf = (label: string) =>
  call<KeyDeployment[]>('deploy_targets_of', { label });
