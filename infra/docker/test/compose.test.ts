import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { parse } from 'yaml';
import { NATS_USERS, natsPasswordVariable, parseConfig } from '@netlab/shared';
import { labParts } from '../../lab/src/parts';
import {
  composeText,
  environmentOf,
  interpolate,
  loadCompose,
  partSchemas,
  composeVariables,
  repoRoot,
  schemaVariables,
  testEnv,
  type ComposeService,
} from './compose-model';

const compose = loadCompose(testEnv());
const services = compose.services;
/** The services built from the one template, with the workspace each builds. */
const parts = Object.entries(services).flatMap(([name, s]) =>
  s.build?.dockerfile === 'infra/docker/Dockerfile'
    ? [{ name, service: s, workspace: s.build.args?.WORKSPACE ?? '' }]
    : [],
);
const partNames = parts.map((p) => p.name);

/** The Compose Specification schema; it is draft-07, Ajv's default, named by a URL Ajv does not know. */
function composeSpec(file: string): object {
  const spec = JSON.parse(readFileSync(file, 'utf8')) as { $schema?: string };
  delete spec.$schema;
  return spec;
}

/** `http://127.0.0.1:8081/-/readyz` from a part's healthcheck. */
function healthUrl(s: ComposeService): URL {
  const url = s.healthcheck?.test.find((arg) => arg.startsWith('http://'));
  if (url === undefined) throw new Error('no URL in the healthcheck');
  return new URL(url);
}

describe('docker-compose.yml', () => {
  it('is valid against the Compose Specification JSON schema (../shared/compose-spec.json)', () => {
    const specFile = join(repoRoot, '..', 'shared', 'compose-spec.json');
    const spec = composeSpec(specFile);
    const ajv = new Ajv({ strict: false, allErrors: true });
    addFormats(ajv);
    const validate = ajv.compile(spec);
    const ok = validate(compose);
    expect(ajv.errorsText(validate.errors, { separator: '\n' })).toBe('No errors');
    expect(ok).toBe(true);
  });

  it('the schema check is not vacuous: a misspelt key is refused', () => {
    const spec = composeSpec(join(repoRoot, '..', 'shared', 'compose-spec.json'));
    const ajv = new Ajv({ strict: false });
    addFormats(ajv);
    const broken = structuredClone(compose) as unknown as { services: Record<string, object> };
    broken.services.static = { ...broken.services.static, healthchek: {} };
    expect(ajv.validate(spec, broken)).toBe(false);
  });

  it('has the lab of the issue: nats, mariadb, every part, k6 and observability in profiles', () => {
    expect(Object.keys(services).sort()).toEqual([
      'dynamic',
      'fetcher',
      'gateway',
      'grafana',
      'k6',
      'mariadb',
      'nats',
      'prometheus',
      'static',
      'tcp-echo',
    ]);
    expect(services.k6?.profiles).toEqual(['load']);
    expect(services.prometheus?.profiles).toEqual(['observability']);
    expect(services.grafana?.profiles).toEqual(['observability']);
    expect(services.gateway?.ports).toEqual(['8080:8080', '7000:7000']);
  });

  it('builds every part of the native lab (infra/lab/src/parts.ts), from an existing workspace', () => {
    expect(partNames.sort()).toEqual(labParts.map((p) => p.name).sort());
    const rootPkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
      workspaces: string[];
    };
    for (const { name, workspace } of parts) {
      const lab = labParts.find((p) => p.name === name)!;
      expect({ name, workspace }).toEqual({ name, workspace: lab.workspace });
      const isWorkspace = rootPkg.workspaces.some((w) =>
        w.endsWith('/*') ? workspace.startsWith(w.slice(0, -1)) : w === workspace,
      );
      expect({ workspace, isWorkspace }).toEqual({ workspace, isWorkspace: true });
      for (const file of ['package.json', 'src/main.ts', 'src/config.ts']) {
        expect(existsSync(join(repoRoot, workspace, file))).toBe(true);
      }
    }
  });

  it('starts each part with the node options netlab up gives it', () => {
    for (const { name, service } of parts) {
      const lab = labParts.find((p) => p.name === name)!;
      expect({ name, options: environmentOf(service).NODE_OPTIONS }).toEqual({
        name,
        options: lab.env?.NODE_OPTIONS,
      });
    }
    // Not vacuous: the gateway has some.
    expect(environmentOf(services.gateway!).NODE_OPTIONS).toMatch(/--max-semi-space-size=\d+/);
  });

  it.each(Object.keys(partSchemas))(
    '%s: every compose variable is one its config schema reads, and the environment parses',
    (workspace) => {
      const part = parts.find((p) => p.workspace === workspace)!;
      const schema = partSchemas[workspace]!;
      const env = environmentOf(part.service);
      // NODE_OPTIONS is node's own, not the part's configuration.
      const known = new Set([...schemaVariables(schema), 'NODE_OPTIONS']);
      expect(Object.keys(env).filter((v) => !known.has(v))).toEqual([]);
      // Paths in the image mirror the repository under /app (infra/docker/Dockerfile).
      const onHost = Object.fromEntries(
        Object.entries(env).map(([k, v]) => [k, v.replace(/^\/app\//, `${repoRoot}/`)]),
      );
      expect(() => parseConfig(schema, onHost)).not.toThrow();
    },
  );

  it('the variable check is not vacuous: a renamed variable is caught', () => {
    const known = new Set(schemaVariables(partSchemas['services/static']!));
    expect(known.has('STATIC_ROOT')).toBe(true);
    expect(known.has('STATIC_DIR')).toBe(false);
    expect(() => parseConfig(partSchemas['services/tcp-echo']!, { HEALTH_PORT: 'x' })).toThrow(
      /HEALTH_PORT/,
    );
  });

  it.each(['static', 'dynamic', 'fetcher', 'tcp-echo', 'gateway'])(
    '%s: port, exposed port and healthcheck agree with the part and with the native lab',
    (name) => {
      const s = services[name]!;
      const env = environmentOf(s);
      const lab = labParts.find((p) => p.name === name)!;
      expect(Number(env.PORT)).toBe(lab.port);
      const healthPort = lab.healthPortEnv === undefined ? env.PORT : env[lab.healthPortEnv];
      expect(healthPort).toBe(String(lab.healthPort ?? lab.port));
      const url = healthUrl(s);
      expect(url.hostname).toBe('127.0.0.1');
      expect(url.port).toBe(healthPort);
      expect(url.pathname).toBe(lab.readinessPath ?? '/readyz');
      const published = [...(s.expose ?? []), ...(s.ports ?? []).map((p) => p.split(':').pop()!)];
      expect(published.map((p) => p.replace(/\/(tcp|udp)$/, ''))).toContain(env.PORT);
      expect(s.healthcheck?.test.slice(0, 3)).toEqual([
        'CMD',
        'node',
        '/usr/local/lib/netlab/healthcheck.js',
      ]);
    },
  );

  it('each part connects to NATS as its own user, with the password nats-server gets', () => {
    const raw = parse(composeText(), { merge: true }) as {
      services: Record<string, { environment?: Record<string, string> }>;
    };
    const natsEnv = raw.services.nats!.environment!;
    for (const user of NATS_USERS) {
      expect(natsEnv[natsPasswordVariable(user)]).toMatch(
        new RegExp(`^\\$\\{${natsPasswordVariable(user)}:\\?`),
      );
    }
    for (const name of partNames) {
      const env = raw.services[name]!.environment!;
      expect(env.NATS_USER).toBe(name);
      expect(env.NATS_PASSWORD).toMatch(
        new RegExp(`^\\$\\{${natsPasswordVariable(name as 'static')}:\\?`),
      );
      expect(env.NATS_URL).toBe('nats://nats:4222');
      expect(env.ADVERTISE_HOST).toBe('auto');
    }
  });

  it('nats.conf reads exactly the password variables compose passes to nats', () => {
    const conf = readFileSync(join(repoRoot, 'infra', 'nats', 'nats.conf'), 'utf8');
    const used = [...conf.matchAll(/password:\s*\$([A-Z_]+)/g)].map((m) => m[1]).sort();
    expect(used).toEqual(NATS_USERS.map(natsPasswordVariable).sort());
    expect(Object.keys(environmentOf(services.nats!)).sort()).toEqual(used);
  });

  it('nats runs JetStream with infra/nats/nats.conf, its monitoring port and a named volume', () => {
    const nats = services.nats!;
    expect(nats.command).toEqual(
      expect.arrayContaining([
        '--config',
        '/etc/nats/nats.conf',
        '-js',
        '-sd',
        '/data',
        '-m',
        '8222',
      ]),
    );
    expect(nats.volumes).toEqual(
      expect.arrayContaining(['./infra/nats/nats.conf:/etc/nats/nats.conf:ro', 'nats-data:/data']),
    );
    expect(services.mariadb?.volumes).toContain('mariadb-data:/var/lib/mysql');
    expect(Object.keys(compose.volumes)).toEqual(
      expect.arrayContaining(['nats-data', 'mariadb-data']),
    );
  });

  it('the dynamic service uses MariaDB with the stock database and its own password', () => {
    const env = environmentOf(services.dynamic!);
    const db = environmentOf(services.mariadb!);
    expect(db.MARIADB_DATABASE).toBe('stock');
    expect(env.DATABASE_URL).toBe(
      `mysql://${db.MARIADB_USER}:${db.MARIADB_PASSWORD}@mariadb:3306/stock`,
    );
    expect(services.dynamic?.build?.args?.EXTRA_PATHS).toBe('infra/db');
    expect(env.DB_DIR).toBe('/app/infra/db');
  });

  it('every dependency waits for a healthy service, and every service has a healthcheck', () => {
    for (const [name, s] of Object.entries(services)) {
      expect({ name, healthcheck: s.healthcheck !== undefined || name === 'k6' }).toEqual({
        name,
        healthcheck: true,
      });
      for (const [dep, cond] of Object.entries(s.depends_on ?? {})) {
        expect({ name, dep, condition: cond.condition }).toEqual({
          name,
          dep,
          condition: 'service_healthy',
        });
        expect(services[dep]?.healthcheck).toBeDefined();
      }
    }
    // `up --wait` returns once the gateway is ready, which is after every part.
    expect(Object.keys(services.gateway!.depends_on!).sort()).toEqual([
      'dynamic',
      'fetcher',
      'nats',
      'static',
      'tcp-echo',
    ]);
  });

  it('hardens every container: no capabilities, no new privileges, read-only, bounded', () => {
    for (const [name, s] of Object.entries(services)) {
      const facts = {
        name,
        capDrop: s.cap_drop,
        noNewPrivileges: s.security_opt?.includes('no-new-privileges:true'),
        readOnly: s.read_only,
        memLimit: /^\d+[mg]$/.test(s.mem_limit ?? ''),
        logRotation: s.logging?.options?.['max-size'] !== undefined,
        restart: s.restart,
      };
      expect(facts).toEqual({
        name,
        capDrop: ['ALL'],
        noNewPrivileges: true,
        readOnly: true,
        memLimit: true,
        logRotation: true,
        restart: name === 'k6' ? 'no' : 'unless-stopped',
      });
    }
    for (const name of partNames) {
      const s = services[name]!;
      expect({ name, init: s.init, tmp: s.tmpfs?.[0]?.startsWith('/tmp') }).toEqual({
        name,
        init: true,
        tmp: true,
      });
      // Longer than SHUTDOWN_GRACE: in-flight work finishes before SIGKILL.
      const grace = Number(/^(\d+)s$/.exec(s.stop_grace_period ?? '')?.[1]);
      expect(grace).toBeGreaterThan(Number(/^(\d+)s$/.exec(environmentOf(s).SHUTDOWN_GRACE!)?.[1]));
    }
    expect(services.mariadb?.user).toBe('mysql');
  });

  it('pins every image to a version', () => {
    for (const [name, s] of Object.entries(services)) {
      if (s.image === undefined) continue;
      const tag = s.image.split(':')[1] ?? '';
      const pinned = s.build !== undefined || /\d+\.\d+\.\d+/.test(tag);
      expect({ name, image: s.image, pinned }).toEqual({ name, image: s.image, pinned: true });
    }
  });

  it('stops with a message when a password is missing, and every required one is in env.example', () => {
    expect(() => loadCompose({})).toThrow(/required variable NATS_\w+_PASSWORD is unset/);
    const example = readFileSync(join(repoRoot, 'infra', 'docker', 'env.example'), 'utf8');
    const listed = new Set([...example.matchAll(/^([A-Z_]+)=generate$/gm)].map((m) => m[1]));
    const { required } = composeVariables();
    expect([...required].filter((v) => !listed.has(v))).toEqual([]);
    expect([...listed].filter((v) => !required.has(v!))).toEqual([]);
  });

  it('interpolates like compose: defaults, required and $$', () => {
    expect(interpolate('${A:-x} ${B} $${C}', { B: 'b' })).toBe('x b ${C}');
    expect(interpolate('${A:-x}', { A: '' })).toBe('x');
    expect(() => interpolate('${A:?set A}', {})).toThrow(/A is unset/);
  });
});

describe('observability profile', () => {
  interface ScrapeConfig {
    job_name: string;
    metrics_path?: string;
    dns_sd_configs?: { names: string[]; type: string; port: number }[];
  }
  const prometheus = parse(
    readFileSync(join(repoRoot, 'infra', 'observability', 'prometheus.yml'), 'utf8'),
  ) as { scrape_configs: ScrapeConfig[] };

  it.each(['static', 'dynamic', 'fetcher', 'tcp-echo', 'gateway'])(
    'Prometheus scrapes every %s replica on its metrics port and path',
    (name) => {
      const job = prometheus.scrape_configs.find((j) => j.job_name === name)!;
      const lab = labParts.find((p) => p.name === name)!;
      const env = environmentOf(services[name]!);
      const port = lab.healthPortEnv === undefined ? env.PORT : env[lab.healthPortEnv];
      expect(job.dns_sd_configs).toEqual([
        expect.objectContaining({ names: [name], type: 'A', port: Number(port) }),
      ]);
      // Metrics live beside readiness: /-/metrics where readiness is /-/readyz.
      const prefix = (lab.readinessPath ?? '/readyz').replace(/readyz$/, '');
      expect(job.metrics_path).toBe(`${prefix}metrics`);
    },
  );

  it('the Grafana dashboard queries only metrics that netlab exports', () => {
    const dashboard = JSON.parse(
      readFileSync(
        join(repoRoot, 'infra', 'observability', 'grafana', 'dashboards', 'netlab.json'),
        'utf8',
      ),
    ) as { uid: string; panels: { targets: { expr: string }[] }[] };
    expect(dashboard.uid).toBe('netlab-overview');
    const sources = ['services', 'gateway']
      .flatMap((dir) => listTs(join(repoRoot, dir)))
      .map((f) => readFileSync(f, 'utf8'))
      .join('\n');
    const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr));
    expect(exprs.length).toBeGreaterThan(10);
    const metrics = new Set(
      exprs.flatMap((e) =>
        [...e.matchAll(/\b([a-z][a-z0-9_]*)(?=[{[)\s]|$)/g)]
          .map((m) => m[1]!)
          .filter((n) => n.includes('_') && !['histogram_quantile', 'by'].includes(n)),
      ),
    );
    const standard = /^(process_|nodejs_)/;
    const unknown = [...metrics]
      .map((m) => m.replace(/_bucket$/, ''))
      .filter((m) => !standard.test(m) && !sources.includes(`'${m}'`));
    expect(unknown).toEqual([]);
  });
});

function listTs(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (['node_modules', 'dist', 'test'].includes(e.name)) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...listTs(p));
    else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out;
}
