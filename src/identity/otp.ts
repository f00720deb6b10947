/**
 * One-time codes of xx to yy digits, as the profile's `otpComplexity`
 * `xx-yyN` says: digits only, generated at the longest allowed length, shown
 * in groups of four (the space is optional when typed). Stored and compared
 * only as an HMAC bound to the request, so a leaked table reveals no code.
 */
import { createHmac, randomInt, timingSafeEqual } from 'node:crypto';

export interface CodeLength {
  min: number;
  max: number;
}

export function codeLength(complexity: string): CodeLength {
  const m = /^(\d{2})-(\d{2})N$/.exec(complexity);
  if (!m) throw new Error(`one-time-code complexity "${complexity}" is not xx-yyN`);
  return { min: Number(m[1]), max: Number(m[2]) };
}

export function generateCode(length: CodeLength): string {
  let code = '';
  for (let i = 0; i < length.max; i++) code += String(randomInt(10));
  return code.replace(/(\d{4})(?=\d)/g, '$1 ');
}

/** The digits a person typed, or undefined when it cannot be a code of this length. */
export function normalizeCode(typed: string, length: CodeLength): string | undefined {
  const digits = typed.replace(/[\s-]/g, '');
  return /^\d+$/.test(digits) && digits.length >= length.min && digits.length <= length.max ? digits : undefined;
}

export class CodeMac {
  constructor(private readonly key: Buffer) {}

  digest(purpose: string, id: string, secret: string): string {
    return createHmac('sha256', this.key)
      .update(`${purpose}\n${id}\n${secret.replace(/[\s-]/g, '')}`)
      .digest('hex');
  }

  matches(purpose: string, id: string, secret: string, stored: string): boolean {
    const given = Buffer.from(this.digest(purpose, id, secret), 'hex');
    const expected = Buffer.from(stored, 'hex');
    return given.length === expected.length && timingSafeEqual(given, expected);
  }
}
