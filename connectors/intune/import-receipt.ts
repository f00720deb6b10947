/**
 * What a delivery receipt keeps of the imports it made, enough to delete
 * them again: the user (Entra id, and the userPrincipalName the imports
 * were filed under) and per certificate its thumbprint and the id Graph's
 * 201 answer gave the import. Receipts written before the ids were kept are
 * comma-separated `<userId>-<thumbprint>` lists.
 */
import { z } from 'zod';

const receiptSchema = z.strictObject({
  userId: z.string().min(1),
  upn: z.string().min(1).optional(),
  imports: z.array(z.strictObject({ thumbprint: z.string().regex(/^[0-9a-f]{40}$/), id: z.string().min(1).optional() })),
});

export type ImportReceipt = z.infer<typeof receiptSchema>;
export type ImportRecord = ImportReceipt['imports'][number];

export const writeReference = (receipt: ImportReceipt): string => JSON.stringify(receipt);

const NOT_OURS = 'the delivery receipt is not one this connector wrote';

/** The receipt a reference describes; throws for one this connector never wrote. */
export function readReference(reference: string): ImportReceipt {
  if (reference.startsWith('{')) {
    let json: unknown;
    try {
      json = JSON.parse(reference);
    } catch {
      throw new Error(NOT_OURS);
    }
    const parsed = receiptSchema.safeParse(json);
    if (!parsed.success) throw new Error(NOT_OURS);
    return parsed.data;
  }
  const imports: ImportRecord[] = [];
  let userId = '';
  for (const entry of reference.split(',').filter(Boolean)) {
    const m = /^(.+)-([0-9a-f]{40})$/.exec(entry);
    if (!m) throw new Error(NOT_OURS);
    userId = m[1]!;
    imports.push({ thumbprint: m[2]! });
  }
  return { userId, imports };
}

/**
 * The ids Microsoft's PFXImport sample addresses an import by, for receipts
 * that kept none: its README's Graph examples use `{UserId}-{Thumbprint}`,
 * its Remove-IntuneUserPfxCertificate cmdlet the user id without dashes.
 */
export const documentedIds = (userId: string, thumbprint: string): string[] => [
  ...new Set([`${userId}-${thumbprint}`, `${userId.replace(/-/g, '')}-${thumbprint}`]),
];
