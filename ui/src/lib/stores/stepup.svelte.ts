// Step-up flow: run a gated action; if the core answers `mfa` (a fresh code
// is needed, or the one given was wrong, replayed or throttled), ask the user
// for proof through the one StepUpDialog and retry. The core decides; this
// only asks.
import { AppError } from '../api/errors';
import type { Proof } from '../api/mfa';

type Request = {
  title: string;
  message: string | null;
  resolve: (proof: Proof | null) => void;
};

class StepUp {
  request: Request | null = $state(null);
  /** Whether MFA is enrolled (decides code vs master password). */
  enrolled = $state(false);

  private ask(title: string, message: string | null): Promise<Proof | null> {
    return new Promise((resolve) => {
      this.request = { title, message, resolve };
    });
  }

  answer(proof: Proof | null) {
    const r = this.request;
    this.request = null;
    r?.resolve(proof);
  }

  /**
   * Runs `action` with no proof first (a GUI step-up window may be open),
   * then with proof from the dialog until it succeeds or the user cancels.
   * Returns null on cancel.
   */
  async run<T>(title: string, action: (proof: Proof | null) => Promise<T>): Promise<T | null> {
    let proof: Proof | null = null;
    for (;;) {
      let message: string | null;
      try {
        return await action(proof);
      } catch (e) {
        if (!(e instanceof AppError) || e.kind !== 'mfa') throw e;
        message = proof ? e.message : null;
      }
      proof = await this.ask(title, message);
      if (!proof) return null;
    }
  }
}

export const stepUp = new StepUp();
