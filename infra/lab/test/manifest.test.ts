import { expandPartEnv, entryPath, ManifestError, parseManifest } from '../src/manifest';
import { labParts } from '../src/parts';

const minimal = { name: 'static', workspace: 'services/static', port: 8081 };

describe('parseManifest', () => {
  it('fills in the defaults of a minimal part', () => {
    const [part] = parseManifest({ parts: [minimal] }, 'test');
    expect(part).toEqual({
      ...minimal,
      entry: 'dist/main.js',
      args: [],
      env: {},
      instances: 1,
      scheme: 'http',
      readinessPath: '/readyz',
      enabled: true,
    });
  });

  it('accepts a tcp part with its own health port', () => {
    const [part] = parseManifest(
      {
        parts: [
          {
            name: 'tcp-echo',
            workspace: 'services/tcp-echo',
            port: 7001,
            scheme: 'tcp',
            healthPortEnv: 'HEALTH_PORT',
            healthPort: 8084,
          },
        ],
      },
      'test',
    );
    expect(part).toMatchObject({ scheme: 'tcp', healthPortEnv: 'HEALTH_PORT', healthPort: 8084 });
  });

  it('accepts the built-in list of parts', () => {
    expect(() => parseManifest({ parts: labParts }, 'parts.ts')).not.toThrow();
  });

  it('names every problem with its path', () => {
    let error: unknown;
    try {
      parseManifest(
        {
          parts: [
            { ...minimal, port: 70000 },
            { ...minimal, name: 'Bad Name' },
            { ...minimal, name: 'nats', port: 1 },
          ],
        },
        'lab.json',
      );
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ManifestError);
    const message = (error as Error).message;
    expect(message).toContain('invalid manifest lab.json:');
    expect(message).toContain('parts[0].port:');
    expect(message).toContain('parts[1].name: expected lower-case letters, digits and dashes');
    expect(message).toContain('parts[2].name: is reserved');
  });

  it('rejects a part name used twice and a default port used twice', () => {
    expect(() => parseManifest({ parts: [minimal, minimal] }, 't')).toThrow(
      /parts\[1\]\.name: is used twice/,
    );
    expect(() => parseManifest({ parts: [minimal, { ...minimal, name: 'other' }] }, 't')).toThrow(
      /port 8081 is already static's/,
    );
  });

  it('allows several parts on port 0 (a free port each)', () => {
    const parts = parseManifest(
      {
        parts: [
          { ...minimal, port: 0 },
          { ...minimal, name: 'other', port: 0 },
        ],
      },
      't',
    );
    expect(parts).toHaveLength(2);
  });

  it('refuses env that the supervisor sets itself', () => {
    expect(() => parseManifest({ parts: [{ ...minimal, env: { PORT: '1' } }] }, 't')).toThrow(
      /parts\[0\]\.env\.PORT: is set by the supervisor/,
    );
    expect(() =>
      parseManifest(
        { parts: [{ ...minimal, healthPortEnv: 'HEALTH_PORT', env: { HEALTH_PORT: '1' } }] },
        't',
      ),
    ).toThrow(/env\.HEALTH_PORT: is set by the supervisor/);
  });

  it('refuses unknown fields, so that a typo does not pass silently', () => {
    expect(() => parseManifest({ parts: [{ ...minimal, instance: 2 }] }, 't')).toThrow(
      ManifestError,
    );
  });

  it('refuses more instances than a dev lab runs', () => {
    expect(() => parseManifest({ parts: [{ ...minimal, instances: 17 }] }, 't')).toThrow(
      /parts\[0\]\.instances/,
    );
  });
});

describe('entryPath', () => {
  it('resolves a relative workspace against the repository root', () => {
    const [part] = parseManifest({ parts: [minimal] }, 't');
    expect(entryPath(part!, '/repo')).toBe('/repo/services/static/dist/main.js');
  });

  it('keeps an absolute workspace', () => {
    const [part] = parseManifest(
      { parts: [{ ...minimal, workspace: '/elsewhere', entry: 'x.js' }] },
      't',
    );
    expect(entryPath(part!, '/repo')).toBe('/elsewhere/x.js');
  });
});

describe('expandPartEnv', () => {
  it('replaces ${REPO_ROOT} and ${NETLAB_DIR} and nothing else', () => {
    expect(
      expandPartEnv(
        {
          DATABASE_URL: 'sqlite:${NETLAB_DIR}/stock.db',
          ROOT: '${REPO_ROOT}/public',
          OTHER: '${HOME}',
        },
        { repoRoot: '/repo', labDir: '/repo/.lab' },
      ),
    ).toEqual({
      DATABASE_URL: 'sqlite:/repo/.lab/stock.db',
      ROOT: '/repo/public',
      OTHER: '${HOME}',
    });
  });
});
