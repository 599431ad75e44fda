import { describeEnv, labEnv } from '../lab-env.ts';

describe('labEnv', () => {
  it("gives a part's lab environment: the gateway's and the fetcher's young-generation cap", () => {
    expect(labEnv('gateway').NODE_OPTIONS).toMatch(/^--max-semi-space-size=\d+$/);
    expect(labEnv('fetcher')).toMatchObject({ NODE_OPTIONS: labEnv('gateway').NODE_OPTIONS });
    expect(describeEnv({ A: '1', B: 'x y' })).toBe('A=1 B=x y');
  });

  it('refuses a part the lab does not have', () => {
    expect(() => labEnv('no-such-part')).toThrow(/no part no-such-part/);
  });
});
