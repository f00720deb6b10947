/**
 * The HTML pages of Microsoft's certsrv web enrollment, laid out as ADCS
 * writes them where certsrv clients read them (certrsis.asp, certrsdn.asp and
 * certrser.asp of ADCS web enrollment):
 *
 * - issued: `certnew.cer?ReqID=<n>&amp;Enc=b64` links (what ADCS sends a
 *   client it does not take for a browser) and the `handleGetCert()` script
 *   with `location="certnew.cer?ReqID=<n>&"+getEncoding()` (what it sends a
 *   browser); ADCS picks one by User-Agent, these pages carry both, so every
 *   client finds the form it scrapes whatever it calls itself;
 * - denied: `The disposition message is "<text>".` and no request id;
 * - a fetch that finds nothing: `Disposition message:`, markup up to the line
 *   end, then the text after two tabs on the next line, and `LastStatus:` the
 *   same way, which is where certsrv clients cut it out.
 */

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
// Clients read the disposition up to the next double quote, or to the line end: text, with no quote, tab or line break inside and only markup escaped.
const disposition = (s: string): string =>
  s
    .replace(/"/g, "'")
    .replace(/[\r\n\t]+/g, ' ')
    .replace(/[&<>]/g, (c) => `&#${c.charCodeAt(0)};`);

const page = (title: string, body: string): string =>
  `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Microsoft Active Directory Certificate Services - ${escapeHtml(title)}</title></head>
<body>
<h1>${escapeHtml(title)}</h1>
${body}
</body></html>
`;

export function issuedPage(requestId: number): string {
  const link = (file: 'cer' | 'p7b', enc: 'bin' | 'b64', text: string) => `<a href="certnew.${file}?ReqID=${requestId}&amp;Enc=${enc}">${text}</a>`;
  return page(
    'Certificate Issued',
    `<p id="locInfo">The certificate you requested was issued to you. Your Request Id is ${requestId}.</p>
<form name="UIForm">
<input type="radio" id="rbDerEnc" name="rbEncoding" checked><label for="rbDerEnc">DER encoded</label> or
<input type="radio" id="rbB64Enc" name="rbEncoding"><label for="rbB64Enc">Base 64 encoded</label>
</form>
<p>Download certificate: ${link('cer', 'bin', 'DER encoded')} or ${link('cer', 'b64', 'Base 64 encoded')}<br>
Download certificate chain: ${link('p7b', 'bin', 'DER encoded')} or ${link('p7b', 'b64', 'Base 64 encoded')}</p>
<p><a href="#" onclick="handleGetCert();return false;">Download certificate</a><br>
<a href="#" onclick="handleGetChain();return false;">Download certificate chain</a></p>
<script>
function handleGetCert() {
\tlocation="certnew.cer?ReqID=${requestId}&"+getEncoding();
}
function handleGetChain() {
\tlocation="certnew.p7b?ReqID=${requestId}&"+getEncoding();
}
function getEncoding() {
\treturn document.UIForm.rbEncoding[0].checked ? "Enc=bin" : "Enc=b64";
}
</script>`,
  );
}

/** A request refused: no request id, so no client mistakes it for a pending one or fetches by it. */
export function deniedPage(message: string): string {
  return page(
    'Certificate Request Denied',
    `<p id="locDenied">Your certificate request was denied.</p>
<p>The disposition message is "${disposition(message)}".</p>
<p id="locContactAdmin">Contact your administrator for further information.</p>`,
  );
}

/** The status of a fetch that finds nothing, as ADCS states one: text, HRESULT, then its decimal value and symbol. */
export const REQUEST_NOT_FOUND = 'The request does not exist. 0x80094002 (-2146877438 CERTSRV_E_NO_REQUEST)';

/** A fetch that finds nothing (certnew.cer / certnew.p7b). */
export function fetchErrorPage(message: string, lastStatus?: string): string {
  const entry = (label: string, text: string) => `<dt><b>${label}:</b></dt><dd>\r\n\t\t${disposition(text)}\r\n</dd>`;
  return page(
    'Error',
    `<p id="locReqFailed">An error occurred while the server was processing your request.</p>
<p id="locContactAdmin">Contact your administrator for further assistance.</p>
<dl>
${entry('Disposition message', message)}
${lastStatus ? entry('LastStatus', lastStatus) : ''}
</dl>`,
  );
}

export function landingPage(connectorId: string): string {
  return page(
    'Welcome',
    `<p>credgate certificate services for XenMobile (connector ${escapeHtml(connectorId)}).</p>
<p>Submit requests to <a href="certfnsh.asp">certfnsh.asp</a>; download the CA certificate from <a href="certcarc.asp">certcarc.asp</a>.</p>`,
  );
}

/** certcarc.asp: clients read the renewal count to ask for the newest CA certificate. */
export function caPage(): string {
  return page(
    'Download a CA Certificate, Certificate Chain, or CRL',
    `<script>var nRenewals=0;</script>
<p><a href="certnew.cer?ReqID=CACert&amp;Renewal=0&amp;Enc=bin">CA certificate (DER encoded)</a></p>
<p><a href="certnew.cer?ReqID=CACert&amp;Renewal=0&amp;Enc=b64">CA certificate (Base 64 encoded)</a></p>
<p><a href="certnew.p7b?ReqID=CACert&amp;Renewal=0&amp;Enc=b64">CA certificate chain</a></p>`,
  );
}
