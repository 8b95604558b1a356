// Backend events the UI reacts to. Only this folder imports Tauri.
import { listen, type UnlistenFn } from '@tauri-apps/api/event';

/** Fires when the core locked the session by itself (idle timeout). */
export function onSessionLocked(handler: () => void): Promise<UnlistenFn> {
  return listen('session-locked', () => handler());
}
