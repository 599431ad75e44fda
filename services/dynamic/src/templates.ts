import nunjucks from 'nunjucks';

/**
 * The page templates (templates/*.njk): Jinja-style syntax, layouts through `{% extends %}` and
 * `{% block content %}` (the source material's `{% content %}` placeholder), autoescaping on, so
 * a stock named `<script>` shows as text. Templates are compiled once and cached.
 */
export interface Templates {
  render(name: string, context: Record<string, unknown>): string;
}

export function createTemplates(dir: string, opts: { watch?: boolean } = {}): Templates {
  const env = new nunjucks.Environment(
    new nunjucks.FileSystemLoader(dir, { noCache: opts.watch === true }),
    { autoescape: true, throwOnUndefined: false, trimBlocks: true, lstripBlocks: true },
  );
  const fixed = (value: unknown): string => {
    const n = Number(value);
    return Number.isFinite(n) ? n.toFixed(2) : '';
  };
  env.addFilter('fixed', fixed);
  env.addFilter('signed', (value: unknown) => {
    const text = fixed(value);
    return Number(value) > 0 ? `+${text}` : text;
  });
  // The class of a change: a filter, not a macro, because it runs for every row of a page.
  env.addFilter('trend', (value: unknown) => {
    const n = Number(value);
    return n > 0 ? 'up' : n < 0 ? 'down' : 'flat';
  });
  if (opts.watch === true) return { render: (name, context) => env.render(name, context) };
  // Compiled once and kept: rendering then skips the loader's lookup by name.
  const compiled = new Map<string, nunjucks.Template>();
  return {
    render(name, context) {
      let template = compiled.get(name);
      if (template === undefined) {
        template = env.getTemplate(name, true);
        compiled.set(name, template);
      }
      return template.render(context);
    },
  };
}
