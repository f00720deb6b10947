/**
 * certsrv clients as their public source has them: the requests they send
 * (paths, query and form fields in their order and encoding, headers,
 * authentication) and the rules by which they read the answers (patterns,
 * status and Content-Type checks), so a test sees what each client decides.
 * Re-implemented from:
 *
 * - PythonCertsrv: magnuswatn/certsrv 2.1.1, certsrv.py (class Certsrv, on
 *   requests): Basic or a client certificate (auth_method="cert");
 * - GoAdcs: jimmypw/adcs at 15df3ac, request.go and server.go (package adcs,
 *   behind go-ntlmssp's Negotiator, which sends Basic only after a 401 that
 *   asks for it);
 * - GoAdcsIssuer: nokia/adcs-issuer, adcs/ntlm_certsrv.go (the cert-manager
 *   issuer), behind the same Negotiator.
 *
 * Each speaks HTTP/1.1 over TLS byte for byte (raw-https.ts). What a client
 * raises is an exception here; a Go panic is a GoPanic.
 */
import { rawHttps, type RawAnswer, type RawRequest, type RawTarget } from './raw-https.js';

/** Where certsrv is: the TLS target, and the path its pages live under (".../certsrv"). */
export interface CertsrvSite {
  target: RawTarget;
  path: string;
}

export type Credentials = { basic: { username: string; password: string } } | { cert: { cert: Buffer; key: Buffer } };

const basicHeader = (u: string, p: string): string => `Basic ${Buffer.from(`${u}:${p}`, 'latin1').toString('base64')}`;

/** Python's urllib.parse.quote_plus: only A-Z a-z 0-9 _ . - ~ stay, a space is "+"; Go's url.QueryEscape encodes alike. */
const quotePlus = (s: string): string =>
  encodeURIComponent(s)
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, '+');
const urlencode = (fields: [string, string][]): string => fields.map(([k, v]) => `${quotePlus(k)}=${quotePlus(v)}`).join('&');

const header = (a: RawAnswer, name: string): string | undefined => a.headers[name.toLowerCase()];

// ---------------------------------------------------------------- Python certsrv 2.1.1

export class HTTPError extends Error {
  constructor(readonly status: number) {
    super(`${status} Error for url`);
  }
}
export class RequestDeniedException extends Error {}
export class CouldNotRetrieveCertificateException extends Error {}
export class CertificatePendingException extends Error {
  constructor(readonly reqId: string) {
    super(
      `Your certificate request has been received. However, you must wait for an administrator to issue the certificate you requested. Your Request Id is ${reqId}.`,
    );
  }
}

const UNKNOWN = 'An unknown error occured';
const PY_USER_AGENT = 'Mozilla/5.0 certsrv (https://github.com/magnuswatn/certsrv)';

/** requests' Response.text: the charset the Content-Type names; ISO-8859-1 for text/* without one. */
function responseText(a: RawAnswer): string {
  const type = header(a, 'content-type') ?? '';
  const charset = /charset=["']?([\w-]+)/i.exec(type)?.[1]?.toLowerCase();
  return a.body.toString(charset === 'utf-8' || charset === 'utf8' ? 'utf8' : 'latin1');
}

/** requests' response.headers["Content-Type"]: a KeyError when the header is missing. */
function contentType(a: RawAnswer): string {
  const type = header(a, 'content-type');
  if (type === undefined) throw new Error("KeyError: 'Content-Type'");
  return type;
}

export class PythonCertsrv {
  /** `server` is what the library formats into https://{server}/certsrv/...: host[:port] and any path before /certsrv. */
  constructor(
    private readonly target: RawTarget,
    private readonly server: { host: string; prefix: string },
    private readonly credentials: Credentials,
  ) {}

  private url(page: string): string {
    return `${this.server.prefix}/certsrv/${page}`;
  }

  private async send(req: RawRequest): Promise<RawAnswer> {
    const c = this.credentials;
    // session.headers is replaced by a dict with only the User-agent; requests adds Basic itself, http.client Accept-Encoding.
    const headers: [string, string][] = [['Host', this.server.host], ['User-agent', PY_USER_AGENT], ['Accept-Encoding', 'identity'], ...(req.headers ?? [])];
    if ('basic' in c) headers.push(['Authorization', basicHeader(c.basic.username, c.basic.password)]);
    const target = 'cert' in c ? { ...this.target, cert: c.cert.cert, key: c.cert.key } : this.target;
    const answer = await rawHttps(target, { ...req, headers });
    if (answer.status === 0) throw new Error(`connection failed: ${answer.failure}`);
    if (answer.status >= 400) throw new HTTPError(answer.status); // raise_for_status
    return answer;
  }

  private get(page: string, params?: [string, string][]): Promise<RawAnswer> {
    return this.send({ method: 'GET', path: this.url(page) + (params ? `?${urlencode(params)}` : '') });
  }

  async get_cert(csr: string, template: string, encoding: 'b64' | 'bin' = 'b64', attributes?: string): Promise<Buffer> {
    const data: [string, string][] = [
      ['Mode', 'newreq'],
      ['CertRequest', csr],
      ['CertAttrib', `CertificateTemplate:${template}\r\n${attributes ?? ''}`],
      ['FriendlyType', 'Saved-Request Certificate'],
      ['TargetStoreFlags', '0'],
      ['SaveCert', 'yes'],
    ];
    const response = await this.send({
      method: 'POST',
      path: this.url('certfnsh.asp'),
      headers: [['Content-Type', 'application/x-www-form-urlencoded']],
      body: Buffer.from(urlencode(data), 'latin1'),
    });
    const text = responseText(response);
    const reqId = /certnew.cer\?ReqID=(\d+)&/.exec(text)?.[1];
    if (reqId === undefined) {
      if (/Certificate Pending/.test(text)) {
        const pending = /Your Request Id is (\d+)./.exec(text);
        if (!pending) throw new Error("AttributeError: 'NoneType' object has no attribute 'group'");
        throw new CertificatePendingException(pending[1]!);
      }
      throw new RequestDeniedException(/The disposition message is "([^"]+)/.exec(text)?.[1] ?? UNKNOWN);
    }
    return this.get_existing_cert(reqId, encoding);
  }

  async get_existing_cert(reqId: string | number, encoding: 'b64' | 'bin' = 'b64'): Promise<Buffer> {
    const response = await this.get('certnew.cer', [
      ['ReqID', String(reqId)],
      ['Enc', encoding],
    ]);
    if (contentType(response) !== 'application/pkix-cert') {
      throw new CouldNotRetrieveCertificateException(/Disposition message:[^\t]+\t\t([^\r\n]+)/.exec(responseText(response))?.[1] ?? UNKNOWN);
    }
    return response.body;
  }

  private async renewals(): Promise<string> {
    const m = /var nRenewals=(\d+);/.exec(responseText(await this.get('certcarc.asp')));
    if (!m) throw new Error("AttributeError: 'NoneType' object has no attribute 'group'");
    return m[1]!;
  }

  async get_ca_cert(encoding: 'b64' | 'bin' = 'b64'): Promise<Buffer> {
    const renewals = await this.renewals();
    const response = await this.get('certnew.cer', [
      ['ReqID', 'CACert'],
      ['Enc', encoding],
      ['Renewal', renewals],
    ]);
    if (contentType(response) !== 'application/pkix-cert') throw new CouldNotRetrieveCertificateException(UNKNOWN);
    return response.body;
  }

  async get_chain(encoding: 'b64' | 'bin' = 'bin'): Promise<Buffer> {
    const renewals = await this.renewals();
    const response = await this.get('certnew.p7b', [
      ['ReqID', 'CACert'],
      ['Renewal', renewals],
      ['Enc', encoding],
    ]);
    if (contentType(response) !== 'application/x-pkcs7-certificates') throw new CouldNotRetrieveCertificateException(UNKNOWN);
    return response.body;
  }

  async check_credentials(): Promise<boolean> {
    try {
      await this.get('');
      return true;
    } catch (err) {
      if (err instanceof HTTPError && err.status === 401) return false;
      throw err;
    }
  }
}

// ---------------------------------------------------------------- Go clients

export class GoPanic extends Error {}

/**
 * go-ntlmssp's Negotiator round trip for a request carrying Basic: first
 * without credentials; after a 401 that asks for Basic, again with them.
 */
async function negotiated(site: CertsrvSite, username: string, password: string, req: RawRequest): Promise<RawAnswer> {
  const once = async (auth: [string, string][]) => {
    const a = await rawHttps(site.target, { ...req, headers: [...(req.headers ?? []), ['Accept-Encoding', 'gzip'], ...auth] });
    if (a.status === 0) throw new Error(`Go transport error: ${a.failure}`);
    return a;
  };
  const anonymous = await once([]);
  if (anonymous.status !== 401 || !/^\s*basic\b/i.test(header(anonymous, 'www-authenticate') ?? '')) return anonymous;
  return once([['Authorization', basicHeader(username, password)]]);
}

const GO_USER_AGENT = 'Go-http-client/1.1';

/** RFC 1123 as Go's time.RFC1123 writes it, in UTC. */
const rfc1123 = (d: Date): string => d.toUTCString().replace('GMT', 'UTC');

/** jimmypw/adcs: WebEnrollmentServer and WebEnrollmentNewRequest. */
export class GoAdcs {
  constructor(
    private readonly site: CertsrvSite,
    private readonly username: string,
    private readonly password: string,
  ) {}

  /** SubmitNewRequest: SUCCESS fetches the certificate by the request number it scraped (-1 when it found none). */
  async submitNewRequest(csr: string, template: string): Promise<{ status: 'SUCCESS' | 'PENDING'; requestid: number; certificatedata?: Buffer }> {
    // stringifyCertificateRequest: line breaks dropped, "+" as %2B, spaces as "+", nothing else encoded.
    const certRequest = csr.replace(/\r/g, '').replace(/\n/g, '').replace(/\+/g, '%2B').replace(/ /g, '+');
    // certificateRequestParameters.String(): fields in declaration order, each formatted "%s=%s" (an int with %s is "%!s(int=0)").
    const body = [
      'Mode=newreq',
      'TargetStoreFlags=%!s(int=0)',
      'SaveCert=yes',
      `CertRequest=${certRequest}`,
      `CertAttrib=CertificateTemplate:${template}`,
      `FriendlyType=Saved-Request Certificate (${rfc1123(new Date())})`,
      'ThumbPrint=',
    ].join('&');
    const answer = await negotiated(this.site, this.username, this.password, {
      method: 'POST',
      path: `${this.site.path}/certfnsh.asp`,
      headers: [
        ['User-Agent', GO_USER_AGENT],
        ['Content-Type', 'application/x-www-form-urlencoded'],
      ],
      body: Buffer.from(body, 'latin1'),
    });
    const text = answer.body.toString('utf8');
    if (/Certificate Issued/.test(text)) {
      const requestid = Number(/certnew.cer\?ReqID=(\d+)&amp;Enc=b64/.exec(text)?.[1] ?? -1);
      return { status: 'SUCCESS', requestid, certificatedata: await this.getCertificate(requestid) };
    }
    if (/Your certificate request has been received./.test(text))
      return { status: 'PENDING', requestid: Number(/Your Request Id is (\d+)./.exec(text)?.[1] ?? -1) };
    if (/Unauthorized: Access is denied due to invalid credentials./.test(text)) throw new Error('Access is denied due to invalid credentials');
    throw new GoPanic(`The request failed and I don't know why\nresponse.status =  0\nResponse body:${text}\n`);
  }

  private async fetch(requestid: string): Promise<Buffer> {
    const answer = await negotiated(this.site, this.username, this.password, {
      method: 'GET',
      path: `${this.site.path}/certnew.cer?ReqID=${requestid}&Enc=b64`,
      headers: [['User-Agent', GO_USER_AGENT]],
    });
    if (answer.status !== 200) throw new Error('Unable to request certificate');
    return answer.body;
  }

  getCertificate(requestid: number): Promise<Buffer> {
    return this.fetch(String(requestid));
  }

  getCACertificate(): Promise<Buffer> {
    return this.fetch('CACert');
  }
}

export type AdcsResponseStatus = 'Unknown' | 'Pending' | 'Ready' | 'Error';
export interface AdcsResult {
  status: AdcsResponseStatus;
  /** The certificate, or the description of the state. */
  text: string;
  id: string;
  error?: string;
}

/** nokia/adcs-issuer: NtlmCertsrv. */
export class GoAdcsIssuer {
  constructor(
    private readonly site: CertsrvSite,
    private readonly username: string,
    private readonly password: string,
  ) {}

  private request(req: RawRequest): Promise<RawAnswer> {
    return negotiated(this.site, this.username, this.password, { ...req, headers: [['User-agent', 'Mozilla'], ...(req.headers ?? [])] });
  }

  async requestCertificate(csr: string, template: string): Promise<AdcsResult> {
    // url.Values.Encode(): keys sorted, values query-escaped.
    const params: [string, string][] = [
      ['CertAttrib', `CertificateTemplate:${template}`],
      ['CertRequest', csr],
      ['CertificateTemplate', template],
      ['FriendlyType', 'Saved-Request Certificate'],
      ['Mode', 'newreq'],
      ['SaveCert', 'yes'],
      ['TargetStoreFlags', '0'],
    ];
    const res = await this.request({
      method: 'POST',
      path: `${this.site.path}/certfnsh.asp`,
      headers: [['Content-type', 'application/x-www-form-urlencoded']],
      body: Buffer.from(urlencode(params), 'latin1'),
    });
    const body = res.body.toString('utf8');
    if (header(res, 'content-type') === 'application/pkix-cert') return { status: 'Ready', text: body, id: 'none' };
    const certId = /certnew.cer\?ReqID=([0-9]+)&/.exec(body)?.[1] ?? /Your Request Id is ([0-9]+)./.exec(body)?.[1];
    if (certId === undefined) {
      const error = /The disposition message is "([^"]+)/.exec(body)?.[1] ?? 'Unknown error occured';
      return { status: 'Unknown', text: '', id: '', error };
    }
    return this.getExistingCertificate(certId);
  }

  async getExistingCertificate(id: string): Promise<AdcsResult> {
    const res = await this.request({ method: 'GET', path: `${this.site.path}/certnew.cer?ReqID=${id}&ENC=b64` });
    // Any other status formats the error of a nil err: a nil pointer dereference.
    if (res.status !== 200) throw new GoPanic('runtime error: invalid memory address or nil pointer dereference');
    const type = (header(res, 'content-type') ?? '').split(';')[0];
    const body = res.body.toString('utf8');
    if (type === 'text/html') {
      const found = /Disposition message:[^\t]+\t\t([^\r\n]+)/.exec(body);
      // found[1] of no match: index out of range.
      if (!found) throw new GoPanic('runtime error: index out of range [1] with length 0');
      const status: AdcsResponseStatus = /.*Taken Under Submission*./.test(body) ? 'Pending' : 'Error';
      const last = /LastStatus:[^\t]+\t\t([^\r\n]+)/.exec(body)?.[1];
      return { status, text: found[1]! + (last ? ` ${last}` : ''), id };
    }
    if (type === 'application/pkix-cert') return { status: 'Ready', text: body, id };
    return { status: 'Unknown', text: '', id, error: `Unexpected content type ${type}:` };
  }

  private async caCertificate(page: 'certnew.cer' | 'certnew.p7b', expected: string): Promise<string> {
    const carc = await this.request({ method: 'GET', path: `${this.site.path}/certcarc.asp` });
    const renewal = /var nRenewals=([0-9]+);/.exec(carc.body.toString('utf8'))?.[1] ?? '0';
    const res = await this.request({ method: 'GET', path: `${this.site.path}/${page}?ReqID=CACert&ENC=b64&Renewal=${renewal}` });
    if (res.status !== 200) throw new GoPanic('runtime error: invalid memory address or nil pointer dereference');
    const type = header(res, 'content-type') ?? '';
    if (type !== expected) throw new Error(`Unexpected content type ${type}:`);
    return res.body.toString('utf8');
  }

  getCaCertificate(): Promise<string> {
    return this.caCertificate('certnew.cer', 'application/pkix-cert');
  }

  getCaCertificateChain(): Promise<string> {
    return this.caCertificate('certnew.p7b', 'application/x-pkcs7-certificates');
  }
}
