/** Who is calling, however they authenticated. */
export type AuthMethod = 'client-cert' | 'basic' | 'bearer';

export interface Principal {
  name: string;
  method: AuthMethod;
  roles: string[];
  /** Client certificate details when method is client-cert. */
  certificate?: { subject: string; issuer: string; fingerprint256: string; serialNumber: string; validTo: string };
  /** Token id when method is bearer (never the token). */
  tokenId?: string;
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    // passport stores the authenticated principal as req.user
    // eslint-disable-next-line @typescript-eslint/no-empty-object-type
    interface User extends Principal {}
  }
}
