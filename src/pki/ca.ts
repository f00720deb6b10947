/**
 * Issuing CAs from configuration: PEM certificate + key (+ chain) or one
 * PKCS#12. The key is only ever used through a Signer.
 */
import { createPrivateKey, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import forge from 'node-forge';
import { readKeyFile } from './key-files.js';
import { NativeSigner, type Signer } from './native-signer.js';

export interface CaSource {
  cert?: string | undefined;
  key?: string | undefined;
  chain: string[];
  pkcs12?: string | undefined;
  password?: string | undefined;
}

export interface CertificateAuthority {
  name: string;
  cert: X509Certificate;
  /** Issuers above this CA, nearest first, DER. */
  chain: Buffer[];
  signer: Signer;
}

export class CaLoadError extends Error {}

/** Splits a PEM bundle into DER certificates. */
export function pemCertificates(pem: string): Buffer[] {
  return [...pem.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)].map((m) => new X509Certificate(m[0]).raw);
}

function fromPkcs12(path: string, password: string): { key: KeyObject; certs: Buffer[] } {
  const p12 = forge.pkcs12.pkcs12FromAsn1(forge.asn1.fromDer(readFileSync(path).toString('binary')), password);
  const keyBags = [
    ...(p12.getBags({ bagType: forge.pki.oids.pkcs8ShroudedKeyBag! })[forge.pki.oids.pkcs8ShroudedKeyBag!] ?? []),
    ...(p12.getBags({ bagType: forge.pki.oids.keyBag! })[forge.pki.oids.keyBag!] ?? []),
  ];
  const certBags = p12.getBags({ bagType: forge.pki.oids.certBag! })[forge.pki.oids.certBag!] ?? [];
  const key = keyBags[0]?.key;
  if (!key) throw new CaLoadError(`${path}: holds no private key`);
  return {
    key: createPrivateKey(forge.pki.privateKeyToPem(key)),
    certs: certBags.filter((b) => b.cert).map((b) => Buffer.from(forge.asn1.toDer(forge.pki.certificateToAsn1(b.cert!)).getBytes(), 'binary')),
  };
}

export function loadCa(name: string, source: CaSource, masterKey: Buffer | undefined): CertificateAuthority {
  let key: KeyObject;
  let certs: Buffer[];
  try {
    if (source.pkcs12) {
      ({ key, certs } = fromPkcs12(source.pkcs12, source.password ?? ''));
    } else {
      key = readKeyFile(source.key!, masterKey);
      certs = pemCertificates(readFileSync(source.cert!, 'utf8'));
    }
    for (const c of source.chain) certs.push(...pemCertificates(readFileSync(c, 'utf8')));
  } catch (err) {
    if (err instanceof CaLoadError) throw err;
    throw new CaLoadError(`CA ${name}: ${(err as Error).message}`);
  }
  // The CA certificate is the one whose public key matches the private key.
  const publicDer = createPublicKey(key).export({ type: 'spki', format: 'der' });
  const own = certs.find((der) => new X509Certificate(der).publicKey.export({ type: 'spki', format: 'der' }).equals(publicDer));
  if (!own) throw new CaLoadError(`CA ${name}: no certificate matches its private key`);
  const cert = new X509Certificate(own);
  if (!cert.ca) throw new CaLoadError(`CA ${name}: ${cert.subject.replace(/\n/g, ', ')} is not a CA certificate (basicConstraints cA is not set)`);
  const chain = certs.filter((d) => !d.equals(own)).filter((d, i, all) => all.findIndex((x) => x.equals(d)) === i);
  return { name, cert, chain, signer: new NativeSigner(key) };
}

export class CaRegistry {
  private readonly byName = new Map<string, CertificateAuthority>();

  constructor(cas: CertificateAuthority[]) {
    for (const ca of cas) this.byName.set(ca.name, ca);
  }

  get(name: string): CertificateAuthority | undefined {
    return this.byName.get(name);
  }

  list(): CertificateAuthority[] {
    return [...this.byName.values()];
  }

  /** The CA that issued a certificate, by issuer name and key identifier. */
  issuerOf(cert: X509Certificate): CertificateAuthority | undefined {
    return this.list().find((ca) => cert.checkIssued(ca.cert));
  }
}
