/**
 * Postmortem rendering: picks a template, builds the view of the incident, and renders it with
 * an isolated Handlebars instance.
 *
 * Template choice (`template` argument):
 * - a name: `default`, `concise`, `sre` (shipped in templates/), or any `<name>.md.hbs` in the
 *   team's template directory (POSTMORTEM_TEMPLATE_DIR), which overrides a shipped one of the
 *   same name;
 * - a path to a team's own `.hbs` file (anything containing `/` or `\`, or ending in `.hbs`),
 *   relative to the working directory.
 * Partials: templates/partials/*.hbs, overridden or added to by `<templateDir>/partials/*.hbs`.
 *
 * Compiled templates and partials are cached, keyed by file and modification time, so a team
 * can edit its templates without restarting the bot.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DateTime } from 'luxon';
import type { Incident, PostmortemRenderer } from '../app/service';
import { IncidentError } from '../app/errors';
import { createHandlebars, type HandlebarsEnv } from './helpers';
import { buildView, type PostmortemView } from './view';

export interface RendererOptions {
  /** A team's template directory (POSTMORTEM_TEMPLATE_DIR): `<name>.md.hbs` and `partials/*.hbs`. */
  templateDir?: string;
  /** Clock for "now" (generation time; open hypotheses of unresolved incidents run to it). */
  now?: () => DateTime;
  /** The shipped templates directory; found automatically (the repository's `templates/`). */
  builtinDir?: string;
}

/** The shipped template names and their files (relative to the templates directory). */
export const BUILTIN_TEMPLATES: Readonly<Record<string, string>> = {
  default: 'postmortem.md.hbs',
  concise: 'concise.md.hbs',
  sre: 'sre.md.hbs',
};

const TEMPLATE_SUFFIX = '.md.hbs';
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

/** The repository's `templates/` directory, from src/render (ts) or dist/src/render (js). */
export function builtinTemplateDir(): string {
  let dir = __dirname;
  for (let i = 0; i < 5; i += 1) {
    const candidate = path.join(dir, 'templates');
    if (fs.existsSync(path.join(candidate, BUILTIN_TEMPLATES.default))) return candidate;
    dir = path.dirname(dir);
  }
  throw new Error(`Shipped postmortem templates not found above ${__dirname}.`);
}

export interface TemplateInfo {
  /** Name to pass to the renderer. */
  name: string;
  /** The file it is read from. */
  file: string;
  /** Where it comes from. */
  origin: 'builtin' | 'team';
}

function teamTemplates(templateDir: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (!templateDir) return out;
  let entries: string[];
  try {
    entries = fs.readdirSync(templateDir);
  } catch {
    return out;
  }
  for (const f of entries.sort()) {
    if (!f.endsWith(TEMPLATE_SUFFIX)) continue;
    const name = f.slice(0, -TEMPLATE_SUFFIX.length);
    if (NAME_RE.test(name)) out.set(name, path.join(templateDir, f));
  }
  return out;
}

/** Every template name available, shipped and the team's (a team file overrides a shipped one). */
export function listTemplates(templateDir?: string, builtinDir?: string): TemplateInfo[] {
  const dir = builtinDir ?? builtinTemplateDir();
  const all = new Map<string, TemplateInfo>();
  for (const [name, file] of Object.entries(BUILTIN_TEMPLATES)) {
    all.set(name, { name, file: path.join(dir, file), origin: 'builtin' });
  }
  for (const [name, file] of teamTemplates(templateDir)) {
    all.set(name, { name, file, origin: 'team' });
  }
  return [...all.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/** True when `template` is meant as a file path rather than a name. */
export function isTemplatePath(template: string): boolean {
  return /[/\\]/.test(template) || template.endsWith('.hbs');
}

interface Cached<T> {
  mtimeMs: number;
  size: number;
  value: T;
}

/** A renderer with its own Handlebars instance and caches. */
export class PostmortemTemplates {
  private readonly hb: HandlebarsEnv = createHandlebars();
  private readonly builtinDir: string;
  private readonly templateDir?: string;
  private readonly templates = new Map<string, Cached<HandlebarsTemplateDelegate>>();
  private partialsSignature = '';
  private readonly now: () => DateTime;

  constructor(opts: RendererOptions = {}) {
    this.builtinDir = opts.builtinDir ?? builtinTemplateDir();
    this.templateDir = opts.templateDir ? path.resolve(opts.templateDir) : undefined;
    this.now = opts.now ?? (() => DateTime.utc());
  }

  list(): TemplateInfo[] {
    return listTemplates(this.templateDir, this.builtinDir);
  }

  /** The file a template name or path refers to; a clear error when there is none. */
  resolve(template: string): string {
    const t = template.trim();
    if (isTemplatePath(t)) {
      const file = path.resolve(t);
      if (!fs.existsSync(file) || !fs.statSync(file).isFile()) {
        throw new IncidentError('invalid', `Postmortem template file not found: ${file}`);
      }
      return file;
    }
    const found = this.list().find((x) => x.name === t.toLowerCase() || x.name === t);
    if (!found) {
      const names = this.list().map((x) => x.name);
      throw new IncidentError(
        'invalid',
        `Unknown postmortem template "${t}". Available: ${names.join(', ')} (or a path to a .hbs file).`,
      );
    }
    return found.file;
  }

  /** Renders the view with a template (name or path). */
  renderView(view: PostmortemView, template: string): string {
    return tidy(this.compiled(this.resolve(template))(view));
  }

  /** Renders an incident with a template (name or path). */
  render(incident: Incident, template: string): string {
    const compiled = this.compiled(this.resolve(template));
    return tidy(compiled(buildView(incident, { now: this.now(), template: template.trim() })));
  }

  private compiled(file: string): HandlebarsTemplateDelegate {
    this.refreshPartials();
    const st = fs.statSync(file);
    const hit = this.templates.get(file);
    if (hit && hit.mtimeMs === st.mtimeMs && hit.size === st.size) return hit.value;
    const source = fs.readFileSync(file, 'utf8');
    const value = this.hb.compile(source, this.compileOptions());
    this.templates.set(file, { mtimeMs: st.mtimeMs, size: st.size, value });
    return value;
  }

  /**
   * `noEscape`: escaping is the Markdown helpers' job. `knownHelpers`: our helpers are called
   * directly by the compiled code (faster on 5,000-entry timelines); a field of the same name is
   * still reachable as `this.name` or `./name`.
   */
  private compileOptions(): CompileOptions {
    return {
      noEscape: true,
      preventIndent: true,
      knownHelpers: Object.fromEntries(Object.keys(this.hb.helpers).map((h) => [h, true])),
    };
  }

  /** (Re)registers partials when any partial file was added, removed or changed. */
  private refreshPartials(): void {
    const files = new Map<string, string>();
    for (const dir of [this.builtinDir, this.templateDir]) {
      if (!dir) continue;
      const pdir = path.join(dir, 'partials');
      let entries: string[] = [];
      try {
        entries = fs.readdirSync(pdir);
      } catch {
        continue;
      }
      for (const f of entries.sort()) {
        if (f.endsWith('.hbs')) files.set(f.slice(0, -'.hbs'.length), path.join(pdir, f));
      }
    }
    const sig = [...files.entries()]
      .map(([name, file]) => {
        const st = fs.statSync(file);
        return `${name}:${file}:${st.mtimeMs}:${st.size}`;
      })
      .join('|');
    if (sig === this.partialsSignature) return;
    for (const name of Object.keys(this.hb.partials)) this.hb.unregisterPartial(name);
    for (const [name, file] of files) {
      this.hb.registerPartial(
        name,
        this.hb.compile(fs.readFileSync(file, 'utf8'), this.compileOptions()),
      );
    }
    // Templates compiled against old partials resolve partials at run time, so they stay valid.
    this.partialsSignature = sig;
  }
}

/**
 * Collapses runs of blank lines left by conditional blocks to one, strips trailing spaces
 * (except Markdown's two-space hard breaks, which we never emit) and ends with one newline.
 */
function tidy(out: string): string {
  return `${out
    .replace(/[ \t]+$/gm, '')
    .replace(/\n{3,}/g, '\n\n')
    .trim()}\n`;
}

/** The renderer the app's service takes: `(incident, template) => markdown`. */
export function createRenderer(opts: RendererOptions = {}): PostmortemRenderer & {
  templates: PostmortemTemplates;
} {
  const templates = new PostmortemTemplates(opts);
  const render = (incident: Incident, template: string): string =>
    templates.render(incident, template);
  return Object.assign(render, { templates });
}

const shared = new Map<string, PostmortemTemplates>();

/** Renders one postmortem (renderers are shared per template directory, so caches persist). */
export function renderPostmortem(
  incident: Incident,
  template: string,
  opts: RendererOptions = {},
): string {
  if (opts.now || opts.builtinDir) return new PostmortemTemplates(opts).render(incident, template);
  const key = opts.templateDir ? path.resolve(opts.templateDir) : '';
  let r = shared.get(key);
  if (!r) {
    r = new PostmortemTemplates(opts);
    shared.set(key, r);
  }
  return r.render(incident, template);
}
