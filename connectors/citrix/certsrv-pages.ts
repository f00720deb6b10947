/**
 * The HTML pages of Microsoft's certsrv web enrollment, as far as clients read
 * them: XenMobile and the usual certsrv clients scrape `certnew.cer?ReqID=<n>&`
 * from the issued page, `Your Request Id is <n>.` from a pending one, and
 * `The disposition message is "<text>"` from a denial; a failed fetch carries
 * `Disposition message:` followed by two tabs and the text.
 */

const escape = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
// Clients read the disposition as it stands up to the next double quote: text, with no quote inside and only markup escaped.
const disposition = (s: string): string => s.replace(/"/g, "'").replace(/[\r\n\t]+/g, ' ').replace(/[&<>]/g, (c) => `&#${c.charCodeAt(0)};`);

const page = (title: string, body: string): string =>
  `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Microsoft Active Directory Certificate Services - ${escape(title)}</title></head>
<body>
<h1>${escape(title)}</h1>
${body}
</body></html>
`;

export function issuedPage(requestId: number): string {
  const link = (file: string, enc: 'bin' | 'b64') => `certnew.${file}?ReqID=${requestId}&Enc=${enc}`;
  return page(
    'Certificate Issued',
    `<p>The certificate you requested was issued to you.</p>
<p><a href="${link('cer', 'bin')}">Download certificate (DER encoded)</a></p>
<p><a href="${link('cer', 'b64')}">Download certificate (Base 64 encoded)</a></p>
<p><a href="${link('p7b', 'bin')}">Download certificate chain (DER encoded)</a></p>
<p><a href="${link('p7b', 'b64')}">Download certificate chain (Base 64 encoded)</a></p>`,
  );
}

/** A request refused: no request id, so no client mistakes it for a pending one. */
export function deniedPage(message: string): string {
  return page(
    'Certificate Request Denied',
    `<p>Your certificate request was denied.</p>
<p>The disposition message is "${disposition(message)}".</p>
<p>Contact your administrator for further information.</p>`,
  );
}

/** A fetch that finds nothing (certnew.cer / certnew.p7b). */
export function fetchErrorPage(message: string): string {
  return page('Error', `<p>An error occurred while processing your request.</p>\n<pre>Disposition message:\t\t${disposition(message)}</pre>`);
}

export function landingPage(connectorId: string): string {
  return page(
    'Welcome',
    `<p>credgate certificate services for XenMobile (connector ${escape(connectorId)}).</p>
<p>Submit requests to <a href="certfnsh.asp">certfnsh.asp</a>; download the CA certificate from <a href="certcarc.asp">certcarc.asp</a>.</p>`,
  );
}

/** certcarc.asp: clients read the renewal count to ask for the newest CA certificate. */
export function caPage(): string {
  return page(
    'Download a CA Certificate, Certificate Chain, or CRL',
    `<script>var nRenewals=0;</script>
<p><a href="certnew.cer?ReqID=CACert&Renewal=0&Enc=bin">CA certificate (DER encoded)</a></p>
<p><a href="certnew.cer?ReqID=CACert&Renewal=0&Enc=b64">CA certificate (Base 64 encoded)</a></p>
<p><a href="certnew.p7b?ReqID=CACert&Renewal=0&Enc=b64">CA certificate chain</a></p>`,
  );
}
