/**
 * What the gateway takes as an email address, wherever one arrives (a
 * console's event, a vendor lookup, the people directory): an RFC 5322
 * dot-atom local part, so the letters, digits and !#$%&'*+/=?^_`{|}~- that
 * mail systems hand out ("r&d@example.com", "o'brien@example.com") pass,
 * at a DNS name whose last label is letters. Quoted local parts, address
 * literals and non-ASCII addresses are not taken: an rfc822Name is ASCII
 * (RFC 5280 §4.2.1.6) and consoles do not send the others.
 */
const ATOM = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+";
const LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?';

export const EMAIL_ADDRESS = new RegExp(`^${ATOM}(?:\\.${ATOM})*@(?:${LABEL}\\.)+[A-Za-z]{2,}$`);
