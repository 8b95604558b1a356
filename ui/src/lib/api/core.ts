// The one module that talks to the Tauri backend. Components call the typed
// functions of the domain modules (vault.ts, ...), never `invoke` directly.
//
// Arguments are never logged: in a key manager they can hold passwords,
// TOTP codes or secrets.
import { invoke } from '@tauri-apps/api/core';
import { toAppError } from './errors';

export async function call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (raw) {
    throw toAppError(raw);
  }
}
