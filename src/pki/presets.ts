/** Certificate profiles that templates build on: key usages and whether keys are escrowed. */
import type { CertificateSpec } from './certificate.js';

export interface Preset {
  keyUsage: NonNullable<CertificateSpec['keyUsage']>;
  extendedKeyUsage: string[];
  /** Encryption keys are kept (escrowed) so old mail stays readable; signing keys never are. */
  escrow: boolean;
}

export const PRESETS = {
  'smime-signing': { keyUsage: { digitalSignature: true, nonRepudiation: true }, extendedKeyUsage: ['emailProtection'], escrow: false },
  'smime-encryption': { keyUsage: { keyEncipherment: true }, extendedKeyUsage: ['emailProtection'], escrow: true },
  'device-identity': { keyUsage: { digitalSignature: true, keyEncipherment: true }, extendedKeyUsage: ['clientAuth'], escrow: false },
  'tls-client': { keyUsage: { digitalSignature: true, keyEncipherment: true }, extendedKeyUsage: ['clientAuth'], escrow: false },
  'derived-piv-auth': { keyUsage: { digitalSignature: true }, extendedKeyUsage: ['clientAuth', 'smartcardLogon'], escrow: false },
} as const satisfies Record<string, Preset>;

export type PresetName = keyof typeof PRESETS;
export const PRESET_NAMES = Object.keys(PRESETS) as [PresetName, ...PresetName[]];

export type CertificatePurpose = 'authentication' | 'signing' | 'encryption';

/**
 * What a preset's certificates are for, when a credential profile does not
 * say: client authentication (clientAuth), else encryption when the key only
 * enciphers or agrees keys, else signing.
 */
export function presetPurpose(name: PresetName): CertificatePurpose {
  const p: Preset = PRESETS[name];
  if (p.extendedKeyUsage.includes('clientAuth')) return 'authentication';
  if ((p.keyUsage.keyEncipherment || p.keyUsage.keyAgreement) && !p.keyUsage.digitalSignature) return 'encryption';
  return 'signing';
}
