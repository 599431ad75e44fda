#!/usr/bin/env node
// Generates the deterministic seed of the stock database: `node infra/db/generate-seed.mjs`
// rewrites seed/stocks.json; `--check` exits 1 when the committed file differs from what this
// generator produces (services/dynamic's tests run it). Same seed, same 240 stocks, on every
// machine: a small PRNG (mulberry32) instead of Math.random, and no clock.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const SEED = 20261123;
export const STOCK_COUNT = 240;
const SEED_FILE = join(dirname(fileURLToPath(import.meta.url)), 'seed', 'stocks.json');

/** mulberry32: a tiny, well-mixed 32-bit PRNG; enough for plausible, reproducible data. */
function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FIRST = [
  'Alpine',
  'Amber',
  'Aurora',
  'Bamboo',
  'Blue River',
  'Cedar',
  'Coral',
  'Crane',
  'Delta',
  'Eastern',
  'Ember',
  'Golden Bay',
  'Granite',
  'Harbor',
  'Jade',
  'Kestrel',
  'Lotus',
  'Maple',
  'Meridian',
  'North Star',
  'Orchid',
  'Pacific',
  'Pearl',
  'Phoenix',
  'Pine',
  'Red Cliff',
  'Silver Lake',
  'Summit',
  'Tiger',
  'Yangtze',
  'Zenith',
  'Östra',
  'Zürich',
  '東方',
  '長江',
];
const SECOND = [
  'Bank',
  'Energy',
  'Pharma',
  'Motors',
  'Tech',
  'Foods',
  'Steel',
  'Media',
  'Telecom',
  'Logistics',
  'Insurance',
  'Chemicals',
  'Textiles',
  'Semiconductor',
  'Airlines',
  'Realty',
  'Mining',
  'Water',
];
// Exchange prefixes of the source material's A-share codes: Shanghai 600/601/603, Shenzhen 000/002/300.
const PREFIXES = ['600', '601', '603', '000', '002', '300'];

const round2 = (x) => Math.round(x * 100) / 100;

/** The seed stocks, in the order they are inserted (ids follow this order). */
export function generateStocks(count = STOCK_COUNT, seed = SEED) {
  const rand = mulberry32(seed);
  const pick = (list) => list[Math.floor(rand() * list.length)];
  const codes = new Set();
  const names = new Set();
  const stocks = [];
  // Trading days back from a fixed date, so that no run depends on the clock.
  const lastDay = Date.UTC(2026, 10, 20);
  while (stocks.length < count) {
    const code = `${pick(PREFIXES)}${String(Math.floor(rand() * 1000)).padStart(3, '0')}`;
    let name = `${pick(FIRST)} ${pick(SECOND)}`;
    if (names.has(name)) name = `${name} ${String.fromCharCode(65 + (stocks.length % 26))}`;
    if (codes.has(code) || names.has(name)) continue;
    codes.add(code);
    names.add(name);
    const price = round2(2 + rand() ** 2 * 298);
    const changePct = round2((rand() - 0.5) * 20);
    const turnoverPct = round2(rand() ** 3 * 30);
    const high = round2(price * (1 + rand() * 0.6));
    const date = new Date(lastDay - Math.floor(rand() * 20) * 86_400_000)
      .toISOString()
      .slice(0, 10);
    stocks.push({ code, shortName: name, changePct, turnoverPct, price, high, date });
  }
  return stocks;
}

export function seedText() {
  return `${JSON.stringify(generateStocks(), null, 2)}\n`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const text = seedText();
  if (process.argv.includes('--check')) {
    const current = readFileSync(SEED_FILE, 'utf8');
    if (current !== text) {
      process.stderr.write(`${SEED_FILE} differs from the generator's output; regenerate it.\n`);
      process.exit(1);
    }
  } else {
    writeFileSync(SEED_FILE, text);
    process.stdout.write(`wrote ${STOCK_COUNT} stocks to ${SEED_FILE}\n`);
  }
}
