import { describeEnv, labEnv } from '../lab-env.ts';

describe('labEnv', () => {
  it("gives a part's lab environment: the gateway's and the fetcher's young-generation cap", () => {
    expect(labEnv('gateway').NODE_OPTIONS).toMatch(/^--max-semi-space-size=\d+$/);
    expect(labEnv('fetcher')).toMatchObject({ NODE_OPTIONS: labEnv('gateway').NODE_OPTIONS });
    expect(describeEnv({ A: '1', B: 'x y' })).toBe('A=1 B=x y');
  });

  it('replaces ${NETLAB_DIR} as netlab up does: its default lab directory, or the one given', () => {
    expect(labEnv('fetcher').FETCH_DOWNLOADS_DIR).toMatch(/[/\\]\.lab[/\\]downloads$/);
    expect(labEnv('fetcher', '/tmp/lab').FETCH_DOWNLOADS_DIR).toBe('/tmp/lab/downloads');
  });

  it('refuses a part the lab does not have', () => {
    expect(() => labEnv('no-such-part')).toThrow(/no part no-such-part/);
  });
});
