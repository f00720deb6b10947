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
