/**
 * curl, as an operator or an MDM console would call the gateway. Asynchronous
 * because the gateway under test often runs in the same process.
 */
import { execFile } from 'node:child_process';

export interface CurlResult {
  status: number;
  body: string;
  json: () => Record<string, unknown>;
  stderr: string;
}

export function curl(url: string, args: string[] = []): Promise<CurlResult> {
  return new Promise((resolve) => {
    execFile(
      'curl',
      // A caller's own -o (to save a binary body) replaces the default stdout.
      ['-sS', '--max-time', '20', ...(args.includes('-o') ? [] : ['-o', '-']), '-w', '\n%{http_code}', ...args, url],
      { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
      (_err, stdout, stderr) => {
        const cut = stdout.lastIndexOf('\n');
        const body = stdout.slice(0, cut);
        resolve({ status: Number(stdout.slice(cut + 1)), body, json: () => JSON.parse(body) as Record<string, unknown>, stderr });
      },
    );
  });
}
