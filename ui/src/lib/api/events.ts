// Backend events the UI reacts to. Only this folder imports Tauri.
import { listen, type UnlistenFn } from '@tauri-apps/api/event';

/** Fires when the core locked the session by itself (idle timeout). */
export function onSessionLocked(handler: () => void): Promise<UnlistenFn> {
  return listen('session-locked', () => handler());
}

/** Progress of a running leak scan. */
export function onScanProgress(
  handler: (p: { scanned: number; bytes: number; findings: number }) => void,
): Promise<UnlistenFn> {
  return listen<{ scanned: number; bytes: number; findings: number }>('scan-progress', (e) =>
    handler(e.payload),
  );
}
