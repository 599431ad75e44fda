import type { z } from 'zod';
import { focusItemSchema, focusListSchema, stockPageSchema, stockSchema } from '../src/api-schemas';
import { openApiPath } from '../src/openapi';
import { call, startTestApp, type TestApp } from './harness';

type Json = Record<string, unknown>;
interface Operation {
  operationId: string;
  parameters?: { name: string; in: string; required: boolean; schema: Json }[];
  requestBody?: { content: Record<string, { schema: Json }> };
  responses: Record<string, { description: string; content?: Record<string, { schema?: Json }> }>;
}
interface Doc {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Json> };
}

/** Every route Express has mounted: [METHOD, path]. */
function mountedRoutes(t: TestApp): [string, string][] {
  const out: [string, string][] = [];
  const walk = (stack: unknown[]): void => {
    for (const layer of stack as {
      route?: { path: string | string[]; methods: Record<string, boolean> };
      handle?: { stack?: unknown[] };
    }[]) {
      if (layer.route !== undefined) {
        const paths = ([] as string[]).concat(layer.route.path);
        for (const m of Object.keys(layer.route.methods)) {
          if (m !== '_all') for (const p of paths) out.push([m.toUpperCase(), p]);
        }
      } else if (layer.handle?.stack !== undefined) {
        walk(layer.handle.stack);
      }
    }
  };
  walk((t.app.app as unknown as { router: { stack: unknown[] } }).router.stack);
  return out;
}

function refsIn(value: unknown, found: string[] = []): string[] {
  if (Array.isArray(value)) value.forEach((v) => refsIn(v, found));
  else if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      if (k === '$ref' && typeof v === 'string') found.push(v);
      else refsIn(v, found);
    }
  }
  return found;
}

describe('the OpenAPI document', () => {
  let t: TestApp;
  let doc: Doc;
  beforeAll(async () => {
    t = await startTestApp();
    doc = (await call<Doc>(t.base, 'GET', '/openapi.json')).json;
  });
  afterAll(() => t?.close());

  it('is OpenAPI 3.1 and documents every /api route Express mounted, and nothing else', () => {
    expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
    expect(doc.info.version).toBe('0.0.0-test');
    const mounted = mountedRoutes(t)
      .filter(([, path]) => path.startsWith('/api/'))
      .map(([method, path]) => `${method} ${openApiPath(path)}`)
      .sort();
    const documented = Object.entries(doc.paths)
      .flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`))
      .sort();
    expect(mounted.length).toBeGreaterThanOrEqual(11);
    expect(documented).toEqual(mounted);
  });

  it('is well formed: unique operation ids, resolvable refs, declared path parameters, a success response each', () => {
    const ids = new Set<string>();
    for (const [path, ops] of Object.entries(doc.paths)) {
      const templated = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
      for (const [method, op] of Object.entries(ops)) {
        expect(['get', 'post', 'put', 'patch', 'delete']).toContain(method);
        expect(ids.has(op.operationId)).toBe(false);
        ids.add(op.operationId);
        const pathParams = (op.parameters ?? []).filter((p) => p.in === 'path');
        expect(pathParams.map((p) => p.name).sort()).toEqual(templated);
        for (const p of pathParams) expect(p.required).toBe(true);
        const statuses = Object.keys(op.responses);
        expect(statuses.some((s) => /^2\d\d$/.test(s))).toBe(true);
        for (const r of Object.values(op.responses)) expect(typeof r.description).toBe('string');
      }
    }
    for (const ref of refsIn(doc)) {
      expect(ref).toMatch(/^#\/components\/schemas\/\w+$/);
      expect(doc.components.schemas[ref.split('/').pop()!]).toBeDefined();
    }
    for (const schema of Object.values(doc.components.schemas)) {
      expect(schema.$schema).toBeUndefined();
      expect(['object', 'array']).toContain(schema.type);
    }
  });

  it('describes request bodies and parameters with the constraints the server enforces', () => {
    const create = doc.paths['/api/focus']!.post!;
    expect(create.requestBody?.content['application/json']?.schema).toEqual({
      $ref: '#/components/schemas/FocusCreate',
    });
    const focusCreate = doc.components.schemas.FocusCreate as {
      required: string[];
      additionalProperties: boolean;
      properties: Record<string, Json>;
    };
    expect(focusCreate.required).toEqual(['code']);
    expect(focusCreate.additionalProperties).toBe(false);
    expect(focusCreate.properties.note).toMatchObject({ type: 'string', maxLength: 200 });
    const limit = doc.paths['/api/stocks']!.get!.parameters!.find((p) => p.name === 'limit')!;
    expect(limit.schema).toMatchObject({ type: 'integer', minimum: 1, maximum: 100, default: 20 });
    expect(create.responses['422']?.content?.['application/problem+json']?.schema).toEqual({
      $ref: '#/components/schemas/Problem',
    });
  });

  it('matches what the server really answers', async () => {
    const parse = <S extends z.ZodType>(schema: S, value: unknown) => schema.parse(value);
    parse(stockPageSchema, (await call(t.base, 'GET', '/api/stocks?limit=3')).json);
    parse(stockSchema, (await call(t.base, 'GET', '/api/stocks/300843')).json);
    parse(focusItemSchema, (await call(t.base, 'POST', '/api/focus', { code: '300843' })).json);
    parse(focusListSchema, (await call(t.base, 'GET', '/api/focus')).json);
    await call(t.base, 'DELETE', '/api/focus/300843');
  });
});
