// Rewrites the generated tables in docs/access.md from src/access/matrix.ts:
//   node --import tsx scripts/access-docs.ts
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GENERATED_BEGIN, GENERATED_END, generatedAccessDocs } from '../src/access/matrix.ts';

const file = join(import.meta.dirname, '..', 'docs', 'access.md');
const text = readFileSync(file, 'utf8');
const start = text.indexOf(GENERATED_BEGIN);
const end = text.indexOf(GENERATED_END);
if (start < 0 || end < start) throw new Error(`${file}: the generated-table markers are missing`);
writeFileSync(file, text.slice(0, start) + generatedAccessDocs() + text.slice(end + GENERATED_END.length));
process.stdout.write(`updated ${file}\n`);
