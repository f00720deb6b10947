/** An error the operator can fix: printed as one line, exit status 2, no stack trace. */
export class StartupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StartupError';
  }
}

/**
 * A setting that cannot work. `path` is its key path, which says where it is
 * in `file` (a connector file; the main configuration when absent); `message`
 * begins with the setting's name.
 */
export interface SettingProblem {
  file?: string;
  path: (string | number)[];
  message: string;
}

/** Stops the start-up on the problems, every one on its line. */
export function refuse(problems: SettingProblem[]): void {
  if (problems.length > 0) throw new StartupError(problems.map((p) => (p.file ? `${p.file} ${p.message}` : p.message)).join('\n'));
}
