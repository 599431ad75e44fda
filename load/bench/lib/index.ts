/** The shared benchmark kit of load/bench: see README.md. */
export { canPin, CORES, pinnedCommand, spawnPinned } from './pinning.ts';
export { processTree, rssBytes, sampleProcesses, type ProcessSample } from './proc-sampler.ts';
export { parseWrkOutput, runWrk, type WrkOptions, type WrkResult } from './wrk.ts';
export {
  runMatrix,
  type BenchSystem,
  type BenchTest,
  type MatrixOptions,
  type Measurement,
  type RunningSystem,
} from './matrix.ts';
export {
  markdownTable,
  median,
  repoRoot,
  summarize,
  writeReport,
  type Column,
  type ReportOptions,
  type SummaryRow,
} from './report.ts';
export { waitForHttp, waitForTcp, machineNotes } from './readiness.ts';
export { freePort, pinnedSystem, stopChild, type PinnedCommand } from './processes.ts';
export { installNpmPeers, pythonVenv, type Pins, type PythonVenv } from './peers.ts';
export { HTTP_COLUMNS, wrkMetrics, wrkTest } from './http-test.ts';
export { NGINX_BIN, writeNginxConf } from './nginx.ts';
export { describeEnv, labEnv } from './lab-env.ts';
