import { ApiError } from '../errors.js';
import { note, print, serialize, type Format } from '../output.js';

/**
 * Deletes each id in turn. With several ids an API error for one is reported and the rest still go;
 * the exit code is then 1. With one id the error is the command's error. JSON/YAML print the ids done.
 */
export async function removeEach(
  kind: string,
  ids: string[],
  format: Format,
  remove: (id: string) => Promise<void>,
  verb = 'deleted',
): Promise<void> {
  const deleted: string[] = [];
  let failed = false;
  for (const id of ids) {
    try {
      await remove(id);
      deleted.push(id);
      if (format === 'table') print(`${verb} ${kind} ${id}`);
    } catch (err) {
      if (ids.length === 1 || !(err instanceof ApiError)) throw err;
      failed = true;
      note(`polly: ${id}: ${err.code}: ${err.message}`);
    }
  }
  if (format !== 'table') print(serialize(deleted, format));
  if (failed) process.exitCode = 1;
}
