/**
 * What a pkiMessage's decrypted envelope must hold for its messageType
 * (RFC 8894 §3.3): a PKCS#10 request whose signature verifies (PKCSReq,
 * RenewalReq), IssuerAndSubject (CertPoll), or IssuerAndSerialNumber
 * (GetCert, GetCRL), as DER with nothing after it.
 *
 * Anything else is one ContentError, whatever was wrong: the answer to it is
 * the answer to a message that did not decrypt. If "padding wrong" and
 * "padding right, content wrong" were answered differently, anyone who
 * re-wraps a captured envelope with an IV of their own could read it a byte
 * at a time (a CBC padding oracle, Vaudenay 2002).
 */
import type { Asn1 } from '../../pki/asn1.js';
import { parseCsr, verifyCsrSignature, type ParsedCsr } from '../../pki/csr.js';
import { constructed, oidOf, primitive, readDer, TAG } from '../../pki/der-reader.js';
import { integerHex } from '../../pki/x509-der.js';
import type { MessageType } from './message.js';

export type RequestContent = { type: 'PKCSReq' | 'RenewalReq'; csr: ParsedCsr } | { type: 'CertPoll' } | { type: 'GetCert' | 'GetCRL'; serial: string };

/** The envelope's content is not what the messageType requires; deliberately says nothing more. */
export class ContentError extends Error {
  constructor() {
    super('the message content is not what its messageType requires');
    this.name = 'ContentError';
  }
}

export function readContent(type: MessageType, der: Buffer): RequestContent {
  try {
    switch (type) {
      case 'PKCSReq':
      case 'RenewalReq': {
        const csr = parseCsr(der);
        if (!verifyCsrSignature(csr)) throw new ContentError();
        return { type, csr };
      }
      case 'CertPoll': {
        const [issuer, subject, ...rest] = constructed(readDer(der, 'IssuerAndSubject'), TAG.SEQUENCE, 'IssuerAndSubject');
        if (rest.length) throw new ContentError();
        checkName(issuer);
        checkName(subject);
        return { type };
      }
      case 'GetCert':
      case 'GetCRL': {
        const [issuer, serial, ...rest] = constructed(readDer(der, 'IssuerAndSerialNumber'), TAG.SEQUENCE, 'IssuerAndSerialNumber');
        if (rest.length) throw new ContentError();
        checkName(issuer);
        const hex = integerHex(Buffer.from(primitive(serial, TAG.INTEGER, 'serialNumber'), 'binary'));
        if (!hex) throw new ContentError();
        return { type, serial: hex };
      }
      default:
        throw new ContentError();
    }
  } catch {
    // Every way of being wrong is the same failure (see above), including parser faults on hostile bytes.
    throw new ContentError();
  }
}

/** Name ::= SEQUENCE OF SET SIZE (1..MAX) OF SEQUENCE { type OID, value ANY } (RFC 5280 §4.1.2.4). */
function checkName(node: Asn1 | undefined): void {
  for (const rdn of constructed(node, TAG.SEQUENCE, 'Name')) {
    const atvs = constructed(rdn, TAG.SET, 'RDN');
    if (atvs.length === 0) throw new ContentError();
    for (const atv of atvs) {
      const [type, value, ...rest] = constructed(atv, TAG.SEQUENCE, 'AttributeTypeAndValue');
      if (!value || rest.length) throw new ContentError();
      oidOf(type, 'attribute type');
    }
  }
}
