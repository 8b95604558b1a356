// Encrypted backups and the master-password change (Settings).
import { call } from './core';
import type { ExportResult } from './generated/ExportResult';
import type { ImportReport } from './generated/ImportReport';
import type { Proof } from './mfa';

// The shapes are generated from the Rust DTOs (`generated/`).
export type { ExportResult, ImportReport };

/** The default backups folder (next to the vault file). */
export const backupDir = () => call<string>('backup_dir');

export const backupExport = (
  path: string,
  passphrase: string,
  overwrite: boolean,
  proof: Proof | null,
) => call<ExportResult>('backup_export', { path, passphrase, overwrite, proof });

export const backupImport = (
  path: string,
  passphrase: string,
  replace: boolean,
  proof: Proof | null,
) => call<ImportReport>('backup_import', { path, passphrase, replace, proof });

export const passwordChange = (current: string, next: string, proof: Proof | null) =>
  call<void>('password_change', { current, new: next, proof });

/** A file name for today's backup, e.g. `keyward-2026-12-04.kwbackup`. */
export function backupFileName(now: Date = new Date()): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `keyward-${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}.kwbackup`;
}
