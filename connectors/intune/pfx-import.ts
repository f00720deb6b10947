/**
 * Delivery as imported PKCS certificates (Graph beta userPfxCertificates):
 * every credential of the set, the user's older encryption credentials
 * included, because Intune pushes all of a user's imported encryption
 * certificates to each of the user's devices so old mail stays readable.
 *
 * The PKCS#12 password travels encrypted to the on-premises Intune
 * certificate connector's key (RSA-OAEP SHA-512); only that connector can
 * open the blob. An import that already exists counts as delivered, so a
 * retried delivery imports nothing twice.
 */
import { createHash, publicEncrypt, X509Certificate, type KeyObject } from 'node:crypto';
import { DeliveryError, type CredentialSet, type DeliveredCredential, type DeliveryReceipt, type MdmUser } from '../../src/connectors/connector.js';
import { FIELD, textProblem } from '../../src/connectors/field-text.js';
import { asDeliveryError } from './delivery-error.js';
import { writeReference, type ImportRecord } from './import-receipt.js';
import type { PfxCollection } from './pfx-collection.js';
import { OAEP_SHA512, type IntuneSettings } from './schema.js';

const NO_USER = 'Intune imports certificates per user and this set names no user id';
export const noUpn = (userId: string) => `user ${userId} has no userPrincipalName in Entra ID`;

export interface PfxImportBody {
  thumbprint: string;
  intendedPurpose: string;
  userPrincipalName: string;
  startDateTime: string;
  expirationDateTime: string;
  providerName: string;
  keyName: string;
  paddingScheme: 'oaepSha512';
  encryptedPfxBlob: string;
  encryptedPfxPassword: string;
}

/** Lower-case hex SHA-1 of the certificate's DER, as Intune names imports. */
export const thumbprint = (der: Buffer): string => createHash('sha1').update(der).digest('hex');

/** The password, ASCII, RSA-OAEP (SHA-512, MGF1-SHA-512, empty label) under the connector key, base64. */
export function encryptPassword(password: string, connectorKey: KeyObject): string {
  return publicEncrypt({ key: connectorKey, ...OAEP_SHA512 }, Buffer.from(password, 'ascii')).toString('base64');
}

export function importBody(
  c: DeliveredCredential,
  upn: string,
  intendedPurpose: string,
  settings: IntuneSettings['pfxImport'],
  connectorKey: KeyObject,
): PfxImportBody {
  const cert = new X509Certificate(c.certificate);
  return {
    thumbprint: thumbprint(c.certificate),
    intendedPurpose,
    userPrincipalName: upn,
    startDateTime: new Date(cert.validFrom).toISOString(),
    expirationDateTime: new Date(cert.validTo).toISOString(),
    providerName: settings.providerName,
    keyName: settings.keyName,
    paddingScheme: 'oaepSha512',
    encryptedPfxBlob: c.pkcs12.toString('base64'),
    encryptedPfxPassword: encryptPassword(c.password, connectorKey),
  };
}

export class PfxImporter {
  constructor(
    private readonly deps: {
      connectorId: string;
      collection: PfxCollection;
      settings: IntuneSettings['pfxImport'];
      connectorKey: KeyObject;
      lookupUser(userId: string): Promise<MdmUser>;
    },
  ) {}

  /**
   * Why Intune could not take imports for this user: they are filed under
   * the user's id and userPrincipalName, looked up in Entra ID when the
   * listing gave none. A failed lookup is thrown (tried again later).
   */
  async undeliverable(user: MdmUser): Promise<string | undefined> {
    if (!user.id) return NO_USER;
    if (user.upn) return undefined;
    const upn = (await this.deps.lookupUser(user.id)).upn;
    if (!upn) return noUpn(user.id);
    const problem = textProblem(upn, FIELD.upn);
    return problem && `Entra ID's ${problem}`;
  }

  /** Imports every credential of the set; the receipt keeps the id Graph gave each import, which is what withdrawing deletes. */
  async deliver(set: CredentialSet): Promise<DeliveryReceipt> {
    const userId = set.user.id;
    if (!userId) throw new DeliveryError(NO_USER, true);
    try {
      const upn = set.user.upn ?? (await this.deps.lookupUser(userId)).upn;
      if (!upn) throw new DeliveryError(noUpn(userId), true);
      const imports: ImportRecord[] = [];
      for (const c of set.credentials) {
        const purpose = this.deps.settings.intendedPurpose[c.purpose as 'signing' | 'encryption'];
        if (!purpose) throw new DeliveryError(`no Intune intended purpose for ${c.purpose} credentials`, true);
        const body = importBody(c, upn, purpose, this.deps.settings, this.deps.connectorKey);
        const id = await this.importOnce(body);
        imports.push({ thumbprint: body.thumbprint, ...(id !== undefined && { id }) });
      }
      return { connectorId: this.deps.connectorId, reference: writeReference({ userId, upn, imports }), deliveredAt: new Date() };
    } catch (err) {
      throw asDeliveryError(err);
    }
  }

  /** Imports the certificate unless Intune has it already; the import's id, when Graph named it. */
  private async importOnce(body: PfxImportBody): Promise<string | undefined> {
    const { collection } = this.deps;
    const existing = await collection.find(body.userPrincipalName, body.thumbprint);
    if (existing.length > 0) return existing[0]!.id;
    const created = await collection.create(body);
    if (created.outcome === 'created') return created.id;
    // 409: imported meanwhile (another attempt, another instance): the same outcome, under the id Graph lists.
    return (await collection.find(body.userPrincipalName, body.thumbprint))[0]?.id;
  }
}
