/**
 * Whether a certificate's name is the one an allowlist names. Both sides are
 * structures (src/pki/dn.ts): the configured RFC 4514 string parsed, the
 * certificate's Name read from its DER. They match RDN for RDN, each RDN
 * holding the same attribute values in any order (an RDN is a SET); a
 * multi-valued RDN never matches the same values spread over several RDNs.
 *
 * Order: RFC 4514 writes the last RDN first, while OpenSSL's default print
 * and node's X509Certificate#subject list the first first (as the shipped
 * config's "CN=credgate-admin, O=credgate dev" does for the dev admin
 * certificate, whose CN comes first). The whole sequence therefore matches
 * read either way round, never with RDNs shuffled.
 *
 * Values: text against text, whatever ASN.1 string types carry them,
 * character for character (no case folding or space squeezing); a
 * configured `#hex` value only against exactly those DER bytes.
 */
import type { AttributeValue, Dn, Rdn } from '../../pki/dn.js';

function sameValue(configured: AttributeValue, presented: AttributeValue): boolean {
  if (configured.type !== presented.type) return false;
  if (configured.der) return presented.der?.equals(configured.der) === true;
  return presented.text !== undefined && presented.text === configured.text;
}

/** Pairs every configured value with its own presented value (backtracking: one presented value may fit two configured ones). */
function sameRdn(configured: Rdn, presented: Rdn): boolean {
  if (configured.length !== presented.length) return false;
  const taken = new Set<number>();
  const pair = (i: number): boolean => {
    if (i === configured.length) return true;
    for (let j = 0; j < presented.length; j++) {
      if (taken.has(j) || !sameValue(configured[i]!, presented[j]!)) continue;
      taken.add(j);
      if (pair(i + 1)) return true;
      taken.delete(j);
    }
    return false;
  };
  return pair(0);
}

const sameSequence = (configured: Dn, presented: Dn): boolean => configured.every((rdn, i) => sameRdn(rdn, presented[i]!));

export function sameName(configured: Dn, presented: Dn): boolean {
  if (configured.length !== presented.length) return false;
  return sameSequence(configured, presented) || sameSequence([...configured].reverse(), presented);
}
