/**
 * DER for the extensions forge cannot build: subjectAltName with otherName
 * UPN, CRL distribution points, authority information access and
 * certificate policies.
 */
import { explicit, oid, seq, toDer, type Asn1 } from './asn1.js';
import forge from 'node-forge';

export type AltName =
  | { type: 'dns'; value: string }
  | { type: 'ip'; value: string }
  | { type: 'email'; value: string }
  | { type: 'uri'; value: string }
  | { type: 'upn'; value: string };

export interface RawExtension {
  oid: string;
  critical: boolean;
  value: Buffer;
}

const { asn1 } = forge;
const ctx = (tag: number, bytes: string): Asn1 => asn1.create(asn1.Class.CONTEXT_SPECIFIC, tag, false, bytes);
const utf8 = (s: string): Asn1 => asn1.create(asn1.Class.UNIVERSAL, asn1.Type.UTF8, false, forge.util.encodeUtf8(s));

const UPN_OID = '1.3.6.1.4.1.311.20.2.3';

// Present at runtime, missing from @types/node-forge.
const bytesFromIP = (forge.util as unknown as { bytesFromIP(ip: string): string | null }).bytesFromIP;

function ipBytes(ip: string): string {
  const bytes = bytesFromIP(ip);
  if (!bytes) throw new Error(`not an IP address: ${ip}`);
  return bytes;
}

function generalName(n: AltName): Asn1 {
  switch (n.type) {
    case 'email':
      return ctx(1, n.value);
    case 'dns':
      return ctx(2, n.value);
    case 'uri':
      return ctx(6, n.value);
    case 'ip':
      return ctx(7, ipBytes(n.value));
    case 'upn':
      // otherName [0] { type-id, [0] EXPLICIT UTF8String }
      return asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, [oid(UPN_OID), explicit(0, utf8(n.value))]);
  }
}

export function subjectAltName(names: AltName[], critical = false): RawExtension {
  return { oid: '2.5.29.17', critical, value: toDer(seq(names.map(generalName))) };
}

export function crlDistributionPoints(urls: string[]): RawExtension {
  // DistributionPoint { distributionPoint [0] { fullName [0] GeneralNames } }
  const points = urls.map((u) => seq([asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, [asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, [ctx(6, u)])])]));
  return { oid: '2.5.29.31', critical: false, value: toDer(seq(points)) };
}

export function authorityInfoAccess(opts: { ocsp?: string[]; caIssuers?: string[] }): RawExtension {
  const access = [
    ...(opts.ocsp ?? []).map((u) => seq([oid('1.3.6.1.5.5.7.48.1'), ctx(6, u)])),
    ...(opts.caIssuers ?? []).map((u) => seq([oid('1.3.6.1.5.5.7.48.2'), ctx(6, u)])),
  ];
  return { oid: '1.3.6.1.5.5.7.1.1', critical: false, value: toDer(seq(access)) };
}

const EKU_OIDS: Record<string, string> = {
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  codeSigning: '1.3.6.1.5.5.7.3.3',
  emailProtection: '1.3.6.1.5.5.7.3.4',
  timeStamping: '1.3.6.1.5.5.7.3.8',
  OCSPSigning: '1.3.6.1.5.5.7.3.9',
  smartcardLogon: '1.3.6.1.4.1.311.20.2.2',
};

/** Names from the table above or dotted OIDs; an unknown name is an error, never silently dropped. */
export function extendedKeyUsage(usages: string[]): RawExtension {
  const oids = usages.map((u) => {
    const o = EKU_OIDS[u] ?? (/^\d+(\.\d+)+$/.test(u) ? u : undefined);
    if (!o) throw new Error(`unknown extended key usage "${u}"`);
    return oid(o);
  });
  return { oid: '2.5.29.37', critical: false, value: toDer(seq(oids)) };
}

/** certificatePolicies with bare policy identifiers (no qualifiers). */
export function certificatePolicies(oids: string[]): RawExtension {
  return { oid: '2.5.29.32', critical: false, value: toDer(seq(oids.map((o) => seq([oid(o)])))) };
}
