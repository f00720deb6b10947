/**
 * DER in and out of its text wrappings. In: whichever wrapping clients send
 * (binary DER, one PEM block, or bare base64), strictly; failures are
 * DerError. Out: certificates as PEM.
 */
import { DerError } from './der-reader.js';

/** A certificate as PEM, byte for byte what OpenSSL (X509Certificate#toString) writes. */
export const certificatePem = (der: Buffer): string =>
  `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n?$/, '\n')}-----END CERTIFICATE-----\n`;

export interface DerInputKind {
  /** Accepted PEM labels; errors name the first. */
  pemLabels: string[];
  /** What the DER is, for messages; read after "a": e.g. "certificate request". */
  what: string;
  /** Text or bytes over twice this cannot encode an acceptable DER and are refused unread. */
  maxDerBytes: number;
}

/**
 * The DER of a SEQUENCE (what every PEM type holds). Binary DER is returned
 * as is, not size-checked: the caller checks the DER it parses anyway.
 */
export function decodeDerInput(input: Buffer | string, kind: DerInputKind): Buffer {
  const { what, maxDerBytes } = kind;
  if (typeof input !== 'string' && !(input instanceof Uint8Array)) throw new DerError(`expected the ${what} as a Buffer or a string`);
  const bytes = typeof input === 'string' ? undefined : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  // 0x30 (SEQUENCE) cannot begin PEM or base64 text (that starts with "-" or "M"), so it means binary DER.
  if (bytes?.[0] === 0x30) return bytes;
  if (bytes && bytes.length > 2 * maxDerBytes) throw new DerError(`input of ${bytes.length} bytes is too large for a ${what}`);
  // A byte-order mark (as UTF-16 text, or UTF-8 bytes read as Latin-1) is editor noise, not content.
  const text = (bytes ? bytes.toString('latin1') : (input as string)).replace(/^(\uFEFF|\xEF\xBB\xBF)/, '').trim();
  if (text === '') throw new DerError(`empty input: no ${what}`);
  if (text.length > 2 * maxDerBytes) throw new DerError(`input of ${text.length} characters is too large for a ${what}`);
  return text.includes('-----') ? fromPem(text, kind) : fromBase64(text, 'input', what);
}

function fromPem(text: string, { pemLabels, what }: DerInputKind): Buffer {
  // Only whitespace around the one block: a stray second block or appended text
  // is more likely a client bug (or smuggling) than RFC 7468 "explanatory text".
  if (!text.startsWith('-----BEGIN ')) throw new DerError('unexpected text before the PEM "-----BEGIN" line');
  const m = /^-----BEGIN ([^\r\n-]*)-----([\s\S]*?)-----END ([^\r\n-]*)-----/.exec(text);
  if (!m) throw new DerError('PEM block is truncated: no "-----END" line');
  const [block, label = '', body = '', endLabel = ''] = m;
  if (label !== endLabel) throw new DerError(`PEM BEGIN label "${label}" does not match END label "${endLabel}"`);
  if (!pemLabels.includes(label)) throw new DerError(`expected a PEM "${pemLabels[0]}", got "${label}"`);
  if (text.slice(block.length).trim() !== '') throw new DerError('unexpected data after the PEM "-----END" line');
  if (body.includes(':')) throw new DerError(`PEM headers (e.g. Proc-Type) are not allowed in a ${what}`);
  return fromBase64(body, 'PEM body', what);
}

/** `source` is "input" (bare base64) or "PEM body". */
function fromBase64(text: string, source: string, what: string): Buffer {
  const b64 = text.replace(/\s+/g, '');
  if (b64 === '') throw new DerError(`${source} is empty`);
  // Buffer.from(_, 'base64') silently skips invalid characters; DER with junk in it must not half-decode.
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64) || b64.length % 4 === 1 || (b64.endsWith('=') && b64.length % 4 !== 0)) {
    throw new DerError(source === 'input' ? 'input is neither DER, PEM nor base64' : `${source} is not valid base64`);
  }
  const der = Buffer.from(b64, 'base64');
  if (der[0] !== 0x30) throw new DerError(`${source} decodes from base64 but is not a DER ${what} (first byte 0x${hex(der[0])}, expected 0x30)`);
  return der;
}

const hex = (n: number | undefined): string => (n ?? 0).toString(16).padStart(2, '0');
