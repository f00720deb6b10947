/** Revocation vocabulary: RFC 5280 CRLReason names and codes. */

// ---------------------------------------------------------------------------
// Reasons

export type RevocationReason =
  | 'unspecified'
  | 'keyCompromise'
  | 'cACompromise'
  | 'affiliationChanged'
  | 'superseded'
  | 'cessationOfOperation'
  | 'certificateHold'
  | 'removeFromCRL'
  | 'privilegeWithdrawn'
  | 'aACompromise';

/** RFC 5280 §5.3.1 codes; 7 is deliberately unassigned there, so it is absent here. */
const CODES: Record<RevocationReason, number> = {
  unspecified: 0,
  keyCompromise: 1,
  cACompromise: 2,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
  certificateHold: 6,
  removeFromCRL: 8,
  privilegeWithdrawn: 9,
  aACompromise: 10,
};

export const REVOCATION_REASONS = Object.freeze(Object.keys(CODES) as RevocationReason[]);

export function reasonCode(reason: RevocationReason): number {
  const code = CODES[reason];
  // Guards callers that pass unchecked strings (config, database rows) past the type system.
  if (code === undefined) throw new RangeError(`unknown revocation reason ${String(reason)}`);
  return code;
}

export function reasonFromCode(code: number): RevocationReason {
  const found = REVOCATION_REASONS.find((r) => CODES[r] === code);
  if (!found) throw new RangeError(`invalid CRLReason code ${code}`);
  return found;
}
