/**
 * `credgate signing signers` and `credgate signing verify <assertion>`: the
 * content-signing certificates as the configuration names them (the current
 * one, and the previous one during a rollover, with until when apps accept
 * each), and an offline check of a badge's holder assertion against them,
 * for an operator's script; no running gateway or database is needed.
 */
import { ASSERTION_AUD, ASSERTION_TYP } from '../../identity/holder-assertions.js';
import { SignedTokenError } from '../../pki/content-signing.js';
import { loadContentSigning } from '../content-signing.js';
import { context } from '../context.js';
import { StartupError } from '../errors.js';
import { loadMasterKey } from '../pki-setup.js';

const print = (text: string) => process.stdout.write(`${text}\n`);

function signing(opts: { config?: string }) {
  const { config } = context(opts);
  if (!config.mobile.enabled) throw new StartupError('mobile.enabled is false: /mobile/v1 signs nothing');
  return loadContentSigning(config, loadMasterKey(config, { create: false }));
}

export function signingSigners(opts: { config?: string; json?: boolean }): void {
  const report = signing(opts).report();
  if (opts.json) {
    print(JSON.stringify(report, null, 2));
    return;
  }
  for (const s of report) {
    print(`${s.status}${s.accepted ? '' : ' (no longer accepted)'}  ${s.alg}  kid ${s.kid}`);
    print(`  subject      ${s.subject}`);
    print(`  issuer       ${s.issuer}`);
    print(`  serial       ${s.serial}`);
    print(`  sha256       ${s.sha256}`);
    print(`  valid        ${s.notBefore} to ${s.notAfter}`);
    print(`  accepted     until ${s.acceptUntil} (${s.daysLeft} days)`);
  }
}

/** Exit status 0 for a valid assertion (its claims printed), 1 for one that is not (the reason printed). */
export function signingVerify(assertion: string, opts: { config?: string }): void {
  try {
    const claims = signing(opts).verifyToken(assertion.trim(), { typ: ASSERTION_TYP, aud: ASSERTION_AUD });
    print(JSON.stringify({ valid: true, claims }, null, 2));
  } catch (err) {
    if (!(err instanceof SignedTokenError)) throw err;
    print(JSON.stringify({ valid: false, reason: err.reason, message: err.message }, null, 2));
    process.exitCode = 1;
  }
}
