/** HTML email through SMTP (nodemailer). */
import nodemailer, { type Transporter } from 'nodemailer';
import type { NotifyConfig } from '../config/schema.js';
import { readCertificateSetting } from '../pki/certificate-files.js';

/** notify.email.ca: a PEM file with the certificates of the SMTP server's CA. */
export const readSmtpCa = (path: string): string => readCertificateSetting(path, 'notify.email.ca');

export interface EmailMessage {
  to: string;
  subject: string;
  html: string;
  text: string;
  /** Inline images, referenced from the HTML as cid:<cid>. */
  images?: { cid: string; filename: string; content: Buffer }[];
}

export class EmailSender {
  private readonly transport: Transporter;

  constructor(private readonly config: NonNullable<NotifyConfig['email']>) {
    this.transport = nodemailer.createTransport({
      host: config.host,
      port: config.port,
      secure: config.secure,
      requireTLS: config.requireTls && !config.secure,
      ignoreTLS: !config.requireTls && !config.secure,
      ...(config.user && { auth: { user: config.user, pass: config.password ?? '' } }),
      ...(config.ca && { tls: { ca: readSmtpCa(config.ca) } }),
      connectionTimeout: 10_000,
      greetingTimeout: 10_000,
      socketTimeout: 20_000,
    });
  }

  async send(m: EmailMessage): Promise<void> {
    await this.transport.sendMail({
      from: this.config.from,
      to: m.to,
      subject: m.subject,
      html: m.html,
      text: m.text,
      ...(m.images?.length && {
        attachments: m.images.map((i) => ({ cid: i.cid, filename: i.filename, content: i.content, contentDisposition: 'inline' as const })),
      }),
    });
  }

  close(): void {
    this.transport.close();
  }
}
