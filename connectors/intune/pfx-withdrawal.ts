/**
 * Taking imports back out of Intune (a departed device's revoked signing
 * certificate, which Intune would otherwise keep pushing to the user's
 * other devices). An import is deleted by the id Graph's 201 answer gave
 * it; a receipt written before those ids were kept is tried under each id
 * form Microsoft's PFXImport sample uses. A 404 proves only that no import
 * has the id tried, so it is never taken for "gone" by itself: the user's
 * imports of the thumbprint are listed, each one listed is deleted under
 * the id Graph lists it by, and the withdrawal succeeds only when a listing
 * comes back empty. Anything less fails the job, which is tried again.
 */
import { DeliveryError, type DeliveryReceipt, type MdmUser, type WithdrawnCredential } from '../../src/connectors/connector.js';
import { asDeliveryError } from './delivery-error.js';
import { documentedIds, readReference, type ImportReceipt, type ImportRecord } from './import-receipt.js';
import type { PfxCollection } from './pfx-collection.js';
import { noUpn, thumbprint } from './pfx-import.js';

export class PfxWithdrawal {
  constructor(
    private readonly deps: {
      collection: PfxCollection;
      lookupUser(userId: string): Promise<MdmUser>;
    },
  ) {}

  /** Deletes the imports of these certificates (every import the receipt names, when none are given). */
  async withdraw(ref: DeliveryReceipt, credentials?: WithdrawnCredential[]): Promise<void> {
    let receipt: ImportReceipt;
    try {
      receipt = readReference(ref.reference);
    } catch (err) {
      throw new DeliveryError((err as Error).message, true);
    }
    const wanted = credentials && new Set(credentials.map((c) => thumbprint(c.certificate)));
    try {
      for (const record of receipt.imports) if (!wanted || wanted.has(record.thumbprint)) await this.withdrawOne(receipt, record);
    } catch (err) {
      throw asDeliveryError(err);
    }
  }

  private async withdrawOne(receipt: ImportReceipt, record: ImportRecord): Promise<void> {
    const { collection } = this.deps;
    if (record.id) {
      if (await collection.remove(record.id)) return;
    } else {
      // A guessed id form Graph cannot parse may be refused as malformed (400) rather than not found.
      for (const id of documentedIds(receipt.userId, record.thumbprint)) if (await collection.remove(id, [400, 404])) return;
    }
    const upns = await this.upns(receipt);
    for (const upn of upns) {
      for (const listed of await collection.find(upn, record.thumbprint)) {
        // Kept under an id the receipt did not have: delete it by the one Graph lists.
        if (listed.id) await collection.remove(listed.id);
      }
    }
    for (const upn of upns) {
      if ((await collection.find(upn, record.thumbprint)).length > 0) {
        throw new DeliveryError(`the import of certificate ${record.thumbprint} is still listed in Intune for ${upn} after it was deleted`, false);
      }
    }
  }

  /**
   * The userPrincipalNames the user's imports may be listed under: the one
   * they were imported with and the user's current one (a renamed user).
   * With neither, nothing can show the import gone, and the job fails.
   */
  private async upns(receipt: ImportReceipt): Promise<string[]> {
    const current = receipt.userId ? (await this.deps.lookupUser(receipt.userId)).upn : undefined;
    const upns = [...new Set([receipt.upn, current].filter((u): u is string => !!u).map((u) => u.toLowerCase()))];
    if (upns.length === 0) throw new DeliveryError(`cannot confirm that the imports are gone from Intune: ${noUpn(receipt.userId || '(none named)')}`, false);
    return upns;
  }
}
