import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHandlebars, HELPER_DOCS } from '../../src/render/helpers';
import {
  extractInterfaces,
  generatedReadme,
  readmePath,
  renderDataModel,
  syncReadme,
  viewSourcePath,
} from '../../src/render/viewDocs';

const BUILTIN_HELPERS = new Set([
  'blockHelperMissing',
  'each',
  'helperMissing',
  'if',
  'unless',
  'log',
  'lookup',
  'with',
]);

describe('templates/README.md', () => {
  it('is up to date with the types in src/render/view.ts and the helper docs', () => {
    // Regenerate with: UPDATE_DOCS=1 npx jest test/unit/templateDocs.test.ts
    // (or npm run docs:templates)
    const { current } = syncReadme(process.env.UPDATE_DOCS === '1');
    if (!current && process.env.UPDATE_DOCS !== '1') {
      throw new Error(
        'templates/README.md is out of date with src/render/view.ts: run `npm run docs:templates` (or UPDATE_DOCS=1 npx jest test/unit/templateDocs.test.ts)',
      );
    }
    expect(syncReadme(false).current).toBe(true);
  });

  it('documents every interface and every field of the view', () => {
    const readme = fs.readFileSync(readmePath(), 'utf8');
    const interfaces = extractInterfaces(fs.readFileSync(viewSourcePath(), 'utf8'));
    expect(interfaces.map((i) => i.name)).toEqual(
      expect.arrayContaining(['PostmortemView', 'Field', 'TimeField', 'HypothesisView']),
    );
    for (const i of interfaces) {
      expect(readme).toContain(`### ${i.name}\n`);
      for (const f of i.fields) {
        expect(f.doc).not.toBe(''); // every field has a TSDoc comment
        expect(readme).toContain(`| \`${f.name}${f.optional ? '?' : ''}\` |`);
      }
    }
  });

  it('documents every partial and every helper', () => {
    const readme = fs.readFileSync(readmePath(), 'utf8');
    const partialsDir = path.join(path.dirname(readmePath()), 'partials');
    for (const f of fs.readdirSync(partialsDir)) {
      expect(readme).toContain(`| \`${f.replace(/\.hbs$/, '')}\` |`);
    }
    const hb = createHandlebars();
    const documented = HELPER_DOCS.map(([usage]) => usage).join(' ');
    for (const name of Object.keys(hb.helpers)) {
      if (BUILTIN_HELPERS.has(name)) continue;
      expect(documented).toMatch(new RegExp(`(?:\\{\\{#?|\\()${name}\\b`));
    }
  });

  it('fails the check when the types change', () => {
    const readme = fs.readFileSync(readmePath(), 'utf8');
    const source = fs.readFileSync(viewSourcePath(), 'utf8');
    expect(generatedReadme(readme, source)).toBe(readme);
    const changed = source.replace(
      'export interface SummaryView {',
      'export interface SummaryView {\n  /** A new field. */\n  extra: string;',
    );
    const regenerated = generatedReadme(readme, changed);
    expect(regenerated).not.toBe(readme);
    expect(regenerated).toContain('| `extra` | string | A new field. |');
  });
});

describe('extractInterfaces / renderDataModel', () => {
  const source = `
/** Not exported: left out. */
interface Hidden { a: string }
/** A thing. */
export interface Thing extends Base {
  /** Its name (user text). */
  name: string;
  /** Maybe a count, \`n\` | none. */
  count?: number;
  /** Children. */
  kids: Thing[];
  /** A union. */
  kind: 'a' | 'b';
}
/** The base. */
export interface Base {
  /** Known? */
  known: boolean;
}`;

  it('lists exported interfaces with fields, optionality, types and TSDoc', () => {
    const docs = extractInterfaces(source);
    expect(docs.map((d) => d.name)).toEqual(['Thing', 'Base']);
    expect(docs[0]).toEqual({
      name: 'Thing',
      doc: 'A thing.',
      extends: ['Base'],
      fields: [
        { name: 'name', optional: false, type: 'string', doc: 'Its name (user text).' },
        { name: 'count', optional: true, type: 'number', doc: 'Maybe a count, `n` | none.' },
        { name: 'kids', optional: false, type: 'Thing[]', doc: 'Children.' },
        { name: 'kind', optional: false, type: "'a' | 'b'", doc: 'A union.' },
      ],
    });
  });

  it('renders Markdown tables with links between types and escaped pipes', () => {
    const md = renderDataModel(extractInterfaces(source));
    expect(md).toContain('### Thing\n\nA thing.\n\nExtends [Base](#base)');
    expect(md).toContain('| `count?` | number | Maybe a count, `n` \\| none. |');
    expect(md).toContain('| `kids` | [Thing](#thing)[] | Children. |');
    expect(md).toContain("| `kind` | 'a' \\| 'b' | A union. |");
  });
});
