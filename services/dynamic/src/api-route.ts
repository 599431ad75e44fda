import type { Request, Response } from 'express';
import { z } from 'zod';
import { dynamicError, type FieldError } from './errors';

/** A documented response of an API operation (OpenAPI `responses`). */
export interface ResponseSpec {
  readonly description: string;
  /** A named schema (`.meta({ id })`): referenced from `components/schemas`. */
  readonly schema?: z.ZodType;
  /** `application/json` unless said otherwise (`application/problem+json` for problems). */
  readonly contentType?: string;
  readonly headers?: Readonly<Record<string, string>>;
}

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
type Empty = z.ZodObject<Record<string, never>>;

export interface RouteSpec<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType> {
  readonly method: Method;
  /** Express syntax (`/api/focus/:code`); openapi.ts turns `:code` into `{code}`. */
  readonly path: string;
  readonly operationId: string;
  readonly summary: string;
  readonly description?: string;
  readonly tags: readonly string[];
  readonly params?: P;
  readonly query?: Q;
  /** A JSON request body, validated (422 naming each bad field) before the handler runs. */
  readonly body?: B;
  readonly responses: Readonly<Record<number, ResponseSpec>>;
  readonly handler: (
    input: { params: z.output<P>; query: z.output<Q>; body: z.output<B> },
    req: Request,
    res: Response,
  ) => unknown;
}

/** A route with its types erased, as the router and the OpenAPI generator see it. */
export interface ApiRoute {
  readonly method: Method;
  readonly path: string;
  readonly operationId: string;
  readonly summary: string;
  readonly description: string | undefined;
  readonly tags: readonly string[];
  readonly params: z.ZodObject | undefined;
  readonly query: z.ZodObject | undefined;
  readonly body: z.ZodType | undefined;
  readonly responses: Readonly<Record<number, ResponseSpec>>;
  /** Validates path, query and body, then runs the handler. */
  handle(req: Request, res: Response): Promise<unknown>;
}

function pointer(path: readonly PropertyKey[]): string {
  return path.map((p) => `/${String(p).replaceAll('~', '~0').replaceAll('/', '~1')}`).join('');
}

/** Each zod issue as a {@link FieldError}; unknown keys become one error per key. */
export function fieldErrors(error: z.ZodError, where: FieldError['in']): FieldError[] {
  const out: FieldError[] = [];
  for (const issue of error.issues) {
    const paths =
      issue.code === 'unrecognized_keys' ? issue.keys.map((k) => [...issue.path, k]) : [issue.path];
    for (const path of paths) {
      const field = path.length === 0 ? '(body)' : path.map(String).join('.');
      const detail = issue.code === 'unrecognized_keys' ? 'unknown field' : issue.message;
      out.push(
        where === 'body'
          ? { in: where, field, pointer: pointer(path), detail }
          : { in: where, field, detail },
      );
    }
  }
  return out;
}

function parseOrThrow<T extends z.ZodType>(
  schema: T,
  value: unknown,
  where: FieldError['in'],
): z.output<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const errors = fieldErrors(result.error, where);
  const names = errors.map((e) => e.field).join(', ');
  if (where === 'body') {
    throw dynamicError('VALIDATION_FAILED', `The body has invalid fields: ${names}.`, { errors });
  }
  throw dynamicError('INVALID_PARAMETERS', `Invalid ${where} parameters: ${names}.`, { errors });
}

export function defineRoute<
  P extends z.ZodObject = Empty,
  Q extends z.ZodObject = Empty,
  B extends z.ZodType = z.ZodUndefined,
>(spec: RouteSpec<P, Q, B>): ApiRoute {
  return {
    method: spec.method,
    path: spec.path,
    operationId: spec.operationId,
    summary: spec.summary,
    description: spec.description,
    tags: spec.tags,
    params: spec.params,
    query: spec.query,
    body: spec.body,
    responses: spec.responses,
    handle(req, res) {
      // A route without a schema takes nothing from there: {} is what an empty z.object() gives.
      const params = (
        spec.params === undefined ? {} : parseOrThrow(spec.params, req.params, 'path')
      ) as z.output<P>;
      const query = (
        spec.query === undefined ? {} : parseOrThrow(spec.query, req.query, 'query')
      ) as z.output<Q>;
      const body = (
        spec.body === undefined ? undefined : parseOrThrow(spec.body, req.body, 'body')
      ) as z.output<B>;
      return Promise.resolve(spec.handler({ params, query, body }, req, res));
    },
  };
}
