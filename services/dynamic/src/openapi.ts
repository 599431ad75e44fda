import { z } from 'zod';
import type { ApiRoute } from './api-route';

/**
 * The OpenAPI 3.1 document of the API, generated from the route table and the zod schemas that
 * validate it (OpenAPI 3.1 schemas are JSON Schema 2020-12, which `z.toJSONSchema` writes).
 */
export interface OpenApiInfo {
  title: string;
  version: string;
  description: string;
}

type Json = Record<string, unknown>;

const REF_PREFIX = '#/components/schemas/';

/** `/api/focus/:code` → `/api/focus/{code}`. */
export function openApiPath(expressPath: string): string {
  return expressPath.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

function idOf(schema: z.ZodType): string | undefined {
  const meta = z.globalRegistry.get(schema);
  return typeof meta?.id === 'string' ? meta.id : undefined;
}

/** JSON Schema of one schema; named sub-schemas become `$ref`s into components. */
function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): Json {
  const out = z.toJSONSchema(schema, {
    io,
    target: 'draft-2020-12',
    unrepresentable: 'any',
    metadata: z.globalRegistry,
  }) as Json;
  delete out.$schema;
  return out;
}

/** Components for every named schema reachable from the routes, each in its own direction. */
function components(routes: readonly ApiRoute[]): Json {
  const inputs = new Set<z.ZodType>();
  const outputs = new Set<z.ZodType>();
  for (const r of routes) {
    if (r.body !== undefined) inputs.add(r.body);
    for (const res of Object.values(r.responses))
      if (res.schema !== undefined) outputs.add(res.schema);
  }
  const schemas: Json = {};
  const add = (set: Set<z.ZodType>, io: 'input' | 'output'): void => {
    const registry = z.registry<{ id: string }>();
    for (const s of set) {
      const id = idOf(s);
      if (id === undefined)
        throw new Error(`a documented schema has no id: ${JSON.stringify(jsonSchema(s, io))}`);
      registry.add(s, { id });
    }
    // Nested named schemas (Stock inside StockPage) are pulled in as refs as well.
    const generated = z.toJSONSchema(registry, {
      io,
      target: 'draft-2020-12',
      unrepresentable: 'any',
      uri: (id) => `${REF_PREFIX}${id}`,
    }) as { schemas: Record<string, Json> };
    for (const [id, schema] of Object.entries(generated.schemas)) {
      delete schema.$schema;
      delete schema.$id;
      // zod puts named schemas that are only nested (QuoteChange) under `__shared.$defs`.
      const defs =
        id === '__shared' ? (schema.$defs as Record<string, Json> | undefined) : undefined;
      if (defs !== undefined) Object.assign(schemas, defs);
      else schemas[id] = schema;
    }
  };
  add(outputs, 'output');
  add(inputs, 'input');
  return tidy(schemas) as Json;
}

const SAFE_INT = Number.MAX_SAFE_INTEGER;

/** Rewrites `__shared` refs to plain components and drops zod's ±2^53 bounds on integers. */
function tidy(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(tidy);
  if (typeof value !== 'object' || value === null) return value;
  const out: Json = {};
  for (const [k, v] of Object.entries(value as Json)) {
    if (k === '$ref' && typeof v === 'string') {
      out[k] = v.replace(`${REF_PREFIX}__shared#/$defs/`, REF_PREFIX);
    } else if ((k === 'minimum' && v === -SAFE_INT) || (k === 'maximum' && v === SAFE_INT)) {
      continue;
    } else {
      out[k] = tidy(v);
    }
  }
  return out;
}

function parameters(route: ApiRoute): Json[] {
  const out: Json[] = [];
  const add = (where: 'path' | 'query', schema: z.ZodObject | undefined): void => {
    if (schema === undefined) return;
    const js = jsonSchema(schema, 'input') as {
      properties?: Record<string, Json>;
      required?: string[];
    };
    for (const [name, prop] of Object.entries(js.properties ?? {})) {
      const { description, ...rest } = prop;
      const p: Json = {
        name,
        in: where,
        required: where === 'path' || (js.required ?? []).includes(name),
        schema: tidy(rest),
      };
      if (typeof description === 'string') p.description = description;
      out.push(p);
    }
  };
  add('path', route.params);
  add('query', route.query);
  return out;
}

function schemaRef(schema: z.ZodType): Json {
  const id = idOf(schema);
  return id === undefined ? jsonSchema(schema, 'output') : { $ref: `${REF_PREFIX}${id}` };
}

export function buildOpenApi(routes: readonly ApiRoute[], info: OpenApiInfo): Json {
  const paths: Record<string, Record<string, Json>> = {};
  for (const route of routes) {
    const path = openApiPath(route.path);
    const responses: Json = {};
    for (const [status, spec] of Object.entries(route.responses)) {
      const response: Json = { description: spec.description };
      if (spec.schema !== undefined || spec.contentType !== undefined) {
        const type = spec.contentType ?? 'application/json';
        response.content = {
          [type]: spec.schema === undefined ? {} : { schema: schemaRef(spec.schema) },
        };
      }
      if (spec.headers !== undefined) {
        response.headers = Object.fromEntries(
          Object.entries(spec.headers).map(([name, description]) => [
            name,
            { description, schema: { type: 'string' } },
          ]),
        );
      }
      responses[status] = response;
    }
    const operation: Json = {
      operationId: route.operationId,
      summary: route.summary,
      tags: [...route.tags],
      responses,
    };
    if (route.description !== undefined) operation.description = route.description;
    const params = parameters(route);
    if (params.length > 0) operation.parameters = params;
    if (route.body !== undefined) {
      operation.requestBody = {
        required: true,
        content: { 'application/json': { schema: schemaRef(route.body) } },
      };
    }
    (paths[path] ??= {})[route.method] = operation;
  }
  return {
    openapi: '3.1.1',
    info: { title: info.title, version: info.version, description: info.description },
    servers: [{ url: '/' }],
    tags: [
      { name: 'stocks', description: 'The stock table (`info`).' },
      { name: 'focus', description: 'Followed stocks and their notes (`focus`).' },
      { name: 'quotes', description: 'Quote refresh and live updates.' },
      { name: 'lesson', description: 'Blocking vs asynchronous handling (WSGI vs ASGI).' },
    ],
    paths,
    components: { schemas: components(routes) },
  };
}
