import { AppError } from '../errors/index.ts';

/**
 * A document a cloud's CLI printed, as the check received it: JSON text, parsed here, or already
 * parsed JSON. Text that is not JSON is refused at `field`, with the command that prints it.
 */
export function jsonDocument(doc: unknown, field: string, example: string): unknown {
  if (typeof doc !== 'string') return doc;
  try {
    return JSON.parse(doc);
  } catch (err) {
    throw new AppError('ERR_VALIDATION', `${field} is not JSON: ${(err as Error).message}`, { field, example });
  }
}
