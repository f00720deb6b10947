/**
 * What an iPhone POSTs in phases 2 and 3: a CMS SignedData (DER, or BER
 * with indefinite lengths) wrapping an XML plist of its attributes, signed
 * by its built-in Apple identity (phase 2) or by the identity it just
 * enrolled over SCEP (phase 3). Reading checks the CMS signature; whom the
 * signer chains to is the caller's question (see chainsTo).
 */
import { X509Certificate } from 'node:crypto';
import { berToDer } from '../../pki/cms/ber.js';
import { CmsError, CMS_OID, parseSignedData, signerCertificate, verifySigner } from '../../pki/cms/signed-data.js';
import { DerError } from '../../pki/der-reader.js';
import { PlistError, readPlistDict } from './plist.js';

export class DeviceRequestError extends Error {}

export interface DeviceRequest {
  signer: X509Certificate;
  /** Every certificate the message carried (the signer's included), DER. */
  certificates: Buffer[];
  /** Attribute name (upper case, as iOS sends them) → value; only string values are kept. */
  attributes: Record<string, string>;
}

const MAX_ATTRIBUTES = 64;
const MAX_VALUE = 256;

export function readDeviceRequest(body: Buffer): DeviceRequest {
  let sd;
  try {
    sd = parseSignedData(berToDer(body));
  } catch (err) {
    if (err instanceof CmsError || err instanceof DerError) throw new DeviceRequestError(`not a CMS signed message: ${err.message}`);
    throw err;
  }
  if (sd.contentType !== CMS_OID.data || sd.content === undefined) throw new DeviceRequestError('the signed message carries no data content');
  if (sd.signers.length !== 1) throw new DeviceRequestError(`expected one signer, found ${sd.signers.length}`);
  const info = sd.signers[0]!;
  let signer: X509Certificate | undefined;
  try {
    signer = signerCertificate(info, sd.certificates)?.x509();
  } catch (err) {
    throw new DeviceRequestError(`the signer's certificate is unreadable: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!signer) throw new DeviceRequestError("the signer's certificate is not in the message");
  let verified: boolean;
  try {
    verified = verifySigner(sd, info, signer);
  } catch (err) {
    if (err instanceof DerError) throw new DeviceRequestError(`malformed signed attributes: ${err.message}`);
    throw err;
  }
  if (!verified) throw new DeviceRequestError('the signature does not verify');
  const content = sd.content;
  let dict;
  try {
    dict = readPlistDict(content);
  } catch (err) {
    if (err instanceof PlistError) throw new DeviceRequestError(err.message);
    throw err;
  }
  const entries = Object.entries(dict);
  if (entries.length > MAX_ATTRIBUTES) throw new DeviceRequestError(`more than ${MAX_ATTRIBUTES} device attributes`);
  const attributes: Record<string, string> = {};
  for (const [key, value] of entries) {
    if (typeof value !== 'string') continue;
    if (value.length > MAX_VALUE) throw new DeviceRequestError(`device attribute ${key.slice(0, 40)} is longer than ${MAX_VALUE} characters`);
    attributes[key] = value;
  }
  return { signer, certificates: sd.certificates, attributes };
}

/**
 * Whether `cert` chains to one of `anchors` through certificates from
 * `intermediates`, by signature alone: Apple's device CA expired long ago,
 * so validity dates are deliberately not checked.
 */
export function chainsTo(cert: X509Certificate, intermediates: Buffer[], anchors: X509Certificate[], maxDepth = 4): boolean {
  let current = cert;
  const pool = intermediates.flatMap((d) => {
    try {
      const c = new X509Certificate(d);
      return c.ca ? [c] : [];
    } catch {
      return []; // an unreadable extra certificate cannot be part of the chain
    }
  });
  for (let depth = 0; depth <= maxDepth; depth++) {
    if (anchors.some((a) => signedBy(current, a))) return true;
    const next = pool.find((c) => c !== current && signedBy(current, c));
    if (!next) return false;
    current = next;
  }
  return false;
}

function signedBy(cert: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
  } catch {
    return false;
  }
}
