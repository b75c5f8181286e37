/**
 * Test support: reads an annotated hex fixture file (fixtures/*.hex). Format: `name:` on its own
 * line, then hex (whitespace and `#` comments ignored) up to the next name.
 */
import { readFileSync } from 'node:fs';

export function loadHexFixtures(file: string): Map<string, Buffer> {
  const text = readFileSync(new URL(`./fixtures/${file}`, import.meta.url), 'utf8');
  const out = new Map<string, Buffer>();
  let name: string | null = null;
  let hex = '';
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    const m = /^(\w+):$/.exec(line);
    if (m) {
      if (name) out.set(name, Buffer.from(hex, 'hex'));
      name = m[1]!;
      hex = '';
    } else {
      hex += line.replace(/\s+/g, '');
    }
  }
  if (name) out.set(name, Buffer.from(hex, 'hex'));
  return out;
}
