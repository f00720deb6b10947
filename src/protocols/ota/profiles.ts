/**
 * The configuration profiles of Apple's over-the-air enrollment, as plist
 * values (Apple's "Over-the-Air Profile Delivery and Configuration" and
 * "Configuration Profile Reference"): the Profile Service payload (phase 1),
 * the SCEP payload (phase 2) and the final profile's PKCS#12 and root
 * payloads (phase 3). Key names are Apple's, spaces included.
 */
import { randomUUID } from 'node:crypto';
import type { PlistDict } from './plist.js';

/** What the device shows: the configured organization, display name and description (`ota.*`). */
export interface ProfileTexts {
  organization: string;
  displayName: string;
  description: string;
}

/** Attributes the Profile Service asks the device to send in phase 2. */
export const DEVICE_ATTRIBUTES = ['UDID', 'IMEI', 'ICCID', 'VERSION', 'PRODUCT', 'SERIAL', 'MAC_ADDRESS_EN0', 'DEVICE_NAME'];

const header = (type: string, identifier: string) => ({
  PayloadType: type,
  PayloadVersion: 1,
  PayloadIdentifier: identifier,
  PayloadUUID: randomUUID().toUpperCase(),
});

/** A profile as the device lists it: name, description and organization as configured. */
const profile = (texts: ProfileTexts, type: string, identifier: string) => ({
  ...header(type, identifier),
  PayloadDisplayName: texts.displayName,
  PayloadDescription: texts.description,
  PayloadOrganization: texts.organization,
});

/** Phase 1: asks the device to POST its signed attributes, with `challenge`, to `url`. */
export function profileService(texts: ProfileTexts, identifier: string, url: string, challenge: string): PlistDict {
  return {
    ...profile(texts, 'Profile Service', identifier),
    PayloadContent: { URL: url, DeviceAttributes: DEVICE_ATTRIBUTES, Challenge: challenge },
  };
}

export interface ScepRequest {
  url: string;
  /** CA identifier (GetCACert's `message`). */
  name: string;
  /** RDNs in X.509 order, e.g. [["O", "Example Bank"], ["CN", udid]]. */
  subject: [string, string][];
  challenge: string;
  /** Fingerprint of the issuing CA certificate, which the device compares with what GetCACert returns. */
  caFingerprint: Buffer;
}

/** Phase 2: a profile whose one payload has the device enroll an RSA-2048 identity for signing and encryption. */
export function scepConfiguration(texts: ProfileTexts, identifier: string, scep: ScepRequest): PlistDict {
  return {
    ...profile(texts, 'Configuration', identifier),
    PayloadContent: [
      {
        ...header('com.apple.security.scep', `${identifier}.scep`),
        PayloadDisplayName: 'Device identity',
        PayloadDescription: 'The identity the enrollment service encrypts your profile to',
        PayloadContent: {
          URL: scep.url,
          Name: scep.name,
          Subject: scep.subject.map(([type, value]) => [[type, value]]),
          Challenge: scep.challenge,
          Keysize: 2048,
          'Key Type': 'RSA',
          'Key Usage': 5, // 1 signing | 4 encryption: it signs phase 3 and the final profile is encrypted to it
          CAFingerprint: scep.caFingerprint,
          Retries: 3,
          RetryDelay: 10,
        },
      },
    ],
  };
}

/** A PKCS#12 identity for the system keychain. */
export function pkcs12Payload(identifier: string, displayName: string, fileName: string, pkcs12: Buffer, password: string): PlistDict {
  return {
    ...header('com.apple.security.pkcs12', identifier),
    PayloadDisplayName: displayName,
    PayloadCertificateFileName: fileName,
    PayloadContent: pkcs12,
    Password: password,
  };
}

/** A root CA certificate (DER) for the trust store. */
export function rootPayload(identifier: string, displayName: string, fileName: string, der: Buffer): PlistDict {
  return {
    ...header('com.apple.security.root', identifier),
    PayloadDisplayName: displayName,
    PayloadCertificateFileName: fileName,
    PayloadContent: der,
  };
}

/** Phase 3: the final profile, its payloads encrypted (EnvelopedData DER) to the device's SCEP identity. */
export function encryptedConfiguration(texts: ProfileTexts, identifier: string, encryptedPayloads: Buffer): PlistDict {
  return {
    ...profile(texts, 'Configuration', identifier),
    EncryptedPayloadContent: encryptedPayloads,
    IsEncrypted: true,
  };
}
