/**
 * Generates the template authors' reference in templates/README.md from the code, so it cannot
 * drift: the data model (every interface, field, type and TSDoc comment of src/render/view.ts,
 * read with the TypeScript compiler API) and the helper list (HELPER_DOCS in helpers.ts).
 *
 *   node dist/src/render/viewDocs.js --write   # rewrite the generated parts of the README
 *   node dist/src/render/viewDocs.js --check   # exit 1 when the README is out of date
 *
 * Only the text between the markers is replaced:
 *   <!-- data-model:start --> … <!-- data-model:end -->
 *   <!-- helpers:start --> … <!-- helpers:end -->
 *
 * Development-only: it needs the `typescript` package, and is never imported by the bot.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import ts from 'typescript';
import { HELPER_DOCS } from './helpers';
import { mdCell } from './markdown';
import { builtinTemplateDir } from './postmortem';

export const DATA_MODEL_MARKERS = ['<!-- data-model:start -->', '<!-- data-model:end -->'] as const;
export const HELPERS_MARKERS = ['<!-- helpers:start -->', '<!-- helpers:end -->'] as const;

export interface FieldDoc {
  name: string;
  optional: boolean;
  type: string;
  doc: string;
}

export interface InterfaceDoc {
  name: string;
  doc: string;
  extends: string[];
  fields: FieldDoc[];
}

/** TSDoc text of a node: the comment body, without tags' markup ({@link X} becomes X). */
function docOf(node: ts.Node, source: ts.SourceFile): string {
  const ranges = ts.getLeadingCommentRanges(source.text, node.getFullStart()) ?? [];
  const jsdoc = ranges
    .map((r) => source.text.slice(r.pos, r.end))
    .filter((c) => c.startsWith('/**'))
    .pop();
  if (!jsdoc) return '';
  return jsdoc
    .replace(/^\/\*\*|\*\/$/g, '')
    .split('\n')
    .map((l) => l.replace(/^\s*\* ?/, '').trim())
    .join(' ')
    .replace(/\{@link\s+([^}\s]+)\s*\}/g, '$1')
    .replace(/\s+/g, ' ')
    .trim();
}

/** Every exported interface of a TypeScript source text, in declaration order. */
export function extractInterfaces(sourceText: string, fileName = 'view.ts'): InterfaceDoc[] {
  const source = ts.createSourceFile(fileName, sourceText, ts.ScriptTarget.ES2022, true);
  const out: InterfaceDoc[] = [];
  for (const stmt of source.statements) {
    if (!ts.isInterfaceDeclaration(stmt)) continue;
    const exported = stmt.modifiers?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword);
    if (!exported) continue;
    const ext = (stmt.heritageClauses ?? []).flatMap((h) => h.types.map((t) => t.getText(source)));
    const fields: FieldDoc[] = [];
    for (const m of stmt.members) {
      if (!ts.isPropertySignature(m) || !m.name) continue;
      fields.push({
        name: m.name.getText(source),
        optional: m.questionToken !== undefined,
        type: m.type ? m.type.getText(source).replace(/\s+/g, ' ') : 'unknown',
        doc: docOf(m, source),
      });
    }
    out.push({ name: stmt.name.text, doc: docOf(stmt, source), extends: ext, fields });
  }
  return out;
}

const anchor = (name: string): string => `#${name.toLowerCase()}`;

/** A type as Markdown, with links to the interfaces it names. */
function typeCell(type: string, known: Set<string>): string {
  return type
    .split(/(\b[A-Za-z_][A-Za-z0-9_]*\b)/)
    .map((part) => {
      if (known.has(part)) return `[${part}](${anchor(part)})`;
      return part.replace(/\|/g, '\\|').replace(/</g, '\\<').replace(/>/g, '\\>');
    })
    .join('');
}

/** The data model section: one table per interface, the root (PostmortemView) first. */
export function renderDataModel(interfaces: InterfaceDoc[]): string {
  const known = new Set(interfaces.map((i) => i.name));
  const ordered = [
    ...interfaces.filter((i) => i.name === 'PostmortemView'),
    ...interfaces.filter((i) => i.name !== 'PostmortemView'),
  ];
  const parts: string[] = [
    '_Generated from `src/render/view.ts` by `npm run docs:templates`; do not edit by hand._',
    '',
    'The root object of every template is a `PostmortemView`. A field marked with `?` may be absent.',
  ];
  for (const i of ordered) {
    parts.push('', `### ${i.name}`, '');
    if (i.doc) parts.push(i.doc, '');
    if (i.extends.length) {
      parts.push(
        `Extends ${i.extends.map((e) => typeCell(e, known)).join(', ')} (its fields apply too).`,
        '',
      );
    }
    parts.push('| Field | Type | Description |', '| --- | --- | --- |');
    for (const f of i.fields) {
      const doc = f.doc ? mdCell(f.doc) : ' ';
      parts.push(`| \`${f.name}${f.optional ? '?' : ''}\` | ${typeCell(f.type, known)} | ${doc} |`);
    }
  }
  return parts.join('\n');
}

/** The helpers section, from HELPER_DOCS. */
export function renderHelpers(): string {
  const codeCell = (s: string): string => `\`${s.replace(/\|/g, '\\|')}\``;
  const lines = [
    '_Generated from `HELPER_DOCS` in `src/render/helpers.ts` by `npm run docs:templates`._',
    '',
    '| Helper | What it does | Example |',
    '| --- | --- | --- |',
  ];
  for (const [usage, what, example] of HELPER_DOCS) {
    lines.push(
      `| ${codeCell(usage)} | ${what.replace(/\|/g, '\\|')} | ${example.replace(/\|/g, '\\|')} |`,
    );
  }
  return lines.join('\n');
}

/** Replaces the text between two markers (markers kept). Throws when a marker is missing. */
export function replaceBetween(
  text: string,
  [start, end]: readonly [string, string],
  body: string,
): string {
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  if (a === -1 || b === -1 || b < a) throw new Error(`markers ${start} … ${end} not found`);
  return `${text.slice(0, a + start.length)}\n${body}\n${text.slice(b)}`;
}

export function repoRoot(): string {
  return path.dirname(builtinTemplateDir());
}

/** The README as it should be, given the current README text and view.ts source. */
export function generatedReadme(readme: string, viewSource: string): string {
  const withModel = replaceBetween(
    readme,
    DATA_MODEL_MARKERS,
    renderDataModel(extractInterfaces(viewSource)),
  );
  return replaceBetween(withModel, HELPERS_MARKERS, renderHelpers());
}

export function readmePath(): string {
  return path.join(builtinTemplateDir(), 'README.md');
}

export function viewSourcePath(): string {
  return path.join(repoRoot(), 'src', 'render', 'view.ts');
}

/** Compares the README with what it should be; writes it when `write` is set. */
export function syncReadme(write: boolean): { current: boolean; expected: string } {
  const readme = fs.readFileSync(readmePath(), 'utf8');
  const expected = generatedReadme(readme, fs.readFileSync(viewSourcePath(), 'utf8'));
  if (write && expected !== readme) fs.writeFileSync(readmePath(), expected);
  return { current: expected === readme, expected };
}

if (require.main === module) {
  const write = process.argv.includes('--write');
  const { current } = syncReadme(write);
  if (write) {
    process.stdout.write(
      current ? 'templates/README.md is up to date\n' : 'templates/README.md updated\n',
    );
  } else if (!current) {
    process.stderr.write('templates/README.md is out of date: run npm run docs:templates\n');
    process.exitCode = 1;
  }
}
