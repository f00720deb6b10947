/**
 * BER → DER for CMS that devices send. iPhones (and `openssl cms -stream`)
 * may encode SignedData with indefinite lengths and the content as a
 * constructed OCTET STRING in chunks; parseSignedData reads DER only, and
 * the SCEP path keeps it that way. Callers that must accept BER normalise
 * first. Certificates and signed attributes are DER by RFC 5280 / RFC 5652
 * §5.4, so they come out byte for byte as they went in and their signatures
 * still verify.
 */
import forge from 'node-forge';
import { toDer, type Asn1 } from '../asn1.js';
import { DerError, TAG, UNIVERSAL } from '../der-reader.js';

const { asn1 } = forge;

// Universal string types BER may split into constructed chunks (X.690 §8.7, §8.23).
const STRING_TYPES: ReadonlySet<number> = new Set([
  TAG.OCTET_STRING,
  TAG.UTF8,
  TAG.NUMERIC,
  TAG.PRINTABLE,
  TAG.T61,
  TAG.IA5,
  TAG.GRAPHIC,
  TAG.VISIBLE,
  TAG.GENERAL,
]);

type FromBer = (bytes: forge.util.ByteBuffer, options: { strict: boolean; parseAllBytes: boolean; decodeBitStrings: boolean }) => Asn1;
const fromBer = asn1.fromDer as unknown as FromBer;

/** The DER encoding of a BER-encoded value; throws DerError for anything that is not BER. */
export function berToDer(ber: Buffer): Buffer {
  let root: Asn1;
  try {
    // forge reads indefinite lengths of constructed values; strict still refuses truncation.
    root = fromBer(forge.util.createBuffer(ber.toString('binary')), { strict: true, parseAllBytes: true, decodeBitStrings: false });
  } catch (err) {
    throw new DerError(`not valid BER: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  return toDer(flatten(root));
}

/** Joins constructed (chunked) strings into primitive ones, as DER requires. */
function flatten(node: Asn1): Asn1 {
  if (!node.constructed || !Array.isArray(node.value)) return node;
  if (node.tagClass === UNIVERSAL && STRING_TYPES.has(node.type)) {
    return asn1.create(UNIVERSAL, node.type, false, chunks(node, node.type));
  }
  node.value = node.value.map(flatten);
  return node;
}

function chunks(node: Asn1, type: number): string {
  if (node.tagClass !== UNIVERSAL || node.type !== type) throw new DerError('a chunked string holds a value of another type');
  if (typeof node.value === 'string') return node.value;
  return node.value.map((c) => chunks(c, type)).join('');
}
