import { collectMarkdown, parseBenchReport, pickRuns, ratioChartSvg } from '../collect.ts';

const REPORT = `# Static files: netlab-static against nginx and peers

| test | system | req/s | p50 ms | spread | × nginx |
| --- | --- | --- | --- | --- | --- |
| 2 KiB index.html, 64 conns | nginx | 132,009 | 0.48 | 0.0% | 1.00× |
| 2 KiB index.html, 64 conns | netlab-static | 59,657 | 0.88 | 0.0% | 0.47× |
| 100 MiB download | python <http.server> | — | — | 0.0% | — |

- machine: 2 cores
- target 2 KiB index.html, 64 conns: ≥ 0.5× nginx: 0.47× NOT met
`;

describe('parseBenchReport', () => {
  it('reads the title, the reference, each row with its ratio and the target lines', () => {
    const t = parseBenchReport(REPORT)!;
    expect(t.title).toBe('Static files: netlab-static against nginx and peers');
    expect(t.reference).toBe('nginx');
    expect(t.primaryHeading).toBe('req/s');
    expect(t.rows).toEqual([
      { test: '2 KiB index.html, 64 conns', system: 'nginx', primary: '132,009', ratio: 1 },
      {
        test: '2 KiB index.html, 64 conns',
        system: 'netlab-static',
        primary: '59,657',
        ratio: 0.47,
      },
      { test: '100 MiB download', system: 'python <http.server>', primary: '—', ratio: undefined },
    ]);
    expect(t.targets).toEqual(['target 2 KiB index.html, 64 conns: ≥ 0.5× nginx: 0.47× NOT met']);
  });

  it('returns undefined for a file without a benchmark table', () => {
    expect(parseBenchReport('# nothing here\n')).toBeUndefined();
  });
});

describe('ratioChartSvg', () => {
  it('draws one bar per measured ratio, leaves out the reference itself, and escapes labels', () => {
    const svg = ratioChartSvg(parseBenchReport(REPORT)!)!;
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.match(/<rect x=/g)).toHaveLength(1);
    expect(svg).toContain('0.47×');
    expect(svg).toContain('1× nginx');
    expect(svg).not.toContain('<http.server>');
  });

  it('draws nothing when no ratio was measured', () => {
    const t = parseBenchReport(REPORT)!;
    expect(
      ratioChartSvg({ ...t, rows: t.rows.filter((r) => r.ratio === undefined) }),
    ).toBeUndefined();
  });
});

describe('pickRuns', () => {
  const folders = [
    '2026-11-23T23-51-33-688Z-static',
    '2026-11-24T00-08-31-536Z-static',
    '2026-11-24T00-08-43-667Z-tcp-echo-rtt',
    '2026-11-23T23-12-00-903Z-fetcher',
    'notes',
  ];

  it('takes the newest run of each benchmark', () => {
    expect(pickRuns(folders, undefined).sort()).toEqual([
      '2026-11-23T23-12-00-903Z-fetcher',
      '2026-11-24T00-08-31-536Z-static',
      '2026-11-24T00-08-43-667Z-tcp-echo-rtt',
    ]);
  });

  it('takes only runs since the given time', () => {
    expect(pickRuns(folders, '2026-11-24T00-00-00').sort()).toEqual([
      '2026-11-24T00-08-31-536Z-static',
      '2026-11-24T00-08-43-667Z-tcp-echo-rtt',
    ]);
  });
});

describe('collectMarkdown', () => {
  it('puts every row into one table and links each chart', () => {
    const md = collectMarkdown([
      { folder: 'f-static', table: parseBenchReport(REPORT)!, svg: 'static.svg' },
    ]);
    expect(md).toContain(
      '| Static files: netlab-static against nginx and peers | 2 KiB index.html, 64 conns | netlab-static | 59,657 req/s | 0.47× nginx |',
    );
    expect(md).toContain('![Static files: netlab-static against nginx and peers](static.svg)');
    expect(md).toContain('- target 2 KiB index.html');
  });
});
