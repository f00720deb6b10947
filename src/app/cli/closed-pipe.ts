/**
 * A reader that stops early (`credgate jobs list | head -1`) closes the pipe
 * behind stdout, and Node reports the next write as an unhandled EPIPE error
 * with a stack trace. What is left to print has nowhere to go, so the
 * command ends at once and quietly, with the status a shell gives a command
 * ended by SIGPIPE (128 + 13), as other Unix tools do.
 */
const SIGPIPE_STATUS = 141;

export function endQuietlyOnClosedPipe(streams: NodeJS.WriteStream[] = [process.stdout, process.stderr]): void {
  for (const stream of streams) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') throw err;
      process.exit(SIGPIPE_STATUS);
    });
  }
}
