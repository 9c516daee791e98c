// Parses Mermaid sources with Mermaid's own parser (mermaid@11 in jsdom) and reports, for each,
// whether it parsed and, for gantt charts, every task's start and end as Mermaid computed them.
// Usage: node test/helpers/mermaidCheck.mjs < sources.json   (a JSON array of strings)
// Prints a JSON array of { ok, error?, tasks?: [{ id, start, end, milestone }] } (ms since epoch).
// Run in a child process by the jest suites: mermaid is ESM-only.
import process from 'node:process';
import { JSDOM } from 'jsdom';

const dom = new JSDOM('<!doctype html><html><body></body></html>', { pretendToBeVisual: true });
globalThis.window = dom.window;
globalThis.document = dom.window.document;
for (const k of ['navigator', 'Element', 'HTMLElement', 'SVGElement', 'DOMParser', 'Node']) {
  if (!(k in globalThis)) {
    Object.defineProperty(globalThis, k, { value: dom.window[k], configurable: true });
  }
}

const { default: mermaid } = await import('mermaid');
mermaid.initialize({ startOnLoad: false, securityLevel: 'strict' });

let input = '';
for await (const chunk of process.stdin) input += chunk;
const sources = JSON.parse(input);
const results = [];
for (const src of sources) {
  try {
    const diagram = await mermaid.mermaidAPI.getDiagramFromText(src);
    const db = diagram.db;
    const tasks =
      typeof db.getTasks === 'function'
        ? db.getTasks().map((t) => ({
            id: t.id,
            start: new Date(t.startTime).getTime(),
            end: new Date(t.endTime).getTime(),
            milestone: Boolean(t.milestone),
          }))
        : undefined;
    results.push({ ok: true, type: diagram.type, tasks });
  } catch (err) {
    results.push({ ok: false, error: String(err && err.message ? err.message : err) });
  }
}
process.stdout.write(JSON.stringify(results));
