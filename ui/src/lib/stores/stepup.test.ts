import { describe, expect, it } from 'vitest';
import { AppError } from '../api/errors';
import type { Proof } from '../api/mfa';
import { stepUp } from './stepup.svelte';

describe('stepUp.run', () => {
  it('tries without proof first and succeeds when a window is open', async () => {
    const seen: (Proof | null)[] = [];
    const result = await stepUp.run('t', async (proof) => {
      seen.push(proof);
      return 42;
    });
    expect(result).toBe(42);
    expect(seen).toEqual([null]);
    expect(stepUp.request).toBeNull();
  });

  it('asks for proof on an mfa error, shows the retry error, and retries', async () => {
    stepUp.enrolled = true;
    const seen: (Proof | null)[] = [];
    const pending = stepUp.run('Reveal', async (proof) => {
      seen.push(proof);
      if (!proof) throw new AppError('mfa', 'a fresh code is required');
      if (proof.kind === 'totp' && proof.code === '111111') throw new AppError('mfa', 'replayed');
      return 'ok';
    });
    await Promise.resolve();
    await Promise.resolve();
    expect(stepUp.request?.title).toBe('Reveal');
    expect(stepUp.request?.message).toBeNull();
    stepUp.answer({ kind: 'totp', code: '111111' });
    await new Promise((r) => setTimeout(r, 0));
    expect(stepUp.request?.message).toBe('replayed');
    stepUp.answer({ kind: 'totp', code: '222222' });
    await expect(pending).resolves.toBe('ok');
    expect(seen.map((p) => (p && p.kind === 'totp' ? p.code : p))).toEqual([null, '111111', '222222']);
  });

  it('returns null when the user cancels', async () => {
    const pending = stepUp.run('Delete', async () => {
      throw new AppError('mfa', 'required');
    });
    await new Promise((r) => setTimeout(r, 0));
    stepUp.answer(null);
    await expect(pending).resolves.toBeNull();
  });

  it('does not swallow other errors', async () => {
    await expect(
      stepUp.run('x', async () => {
        throw new AppError('not_found', 'no such key');
      }),
    ).rejects.toMatchObject({ kind: 'not_found' });
  });
});
