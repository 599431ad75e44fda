import { readFileSync } from 'node:fs';

/**
 * The codes of an error table that a README does not document as a table row (`| \`CODE\` |`).
 * Every package's errors test asserts this is empty (STYLE.md #9).
 */
export function undocumentedErrorCodes(codes: Iterable<string>, readmePath: string): string[] {
  const readme = readFileSync(readmePath, 'utf8');
  return [...codes].filter((code) => !new RegExp(`\\|\\s*\`${code}\`\\s*\\|`).test(readme));
}
