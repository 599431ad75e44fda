/** @netlab/shared: the runtime every netlab part is built on. Named re-exports only. */
export {
  argvToEnv,
  commonEnv,
  ConfigError,
  env,
  loadConfig,
  parseConfig,
  type ArgvSpec,
  type ConfigIssue,
  type ConfigSource,
  type LoadConfigOptions,
  type LogLevel,
} from './config';
export {
  connectControl,
  type ControlClient,
  type ControlCommand,
  type ControlHello,
  type ControlReply,
  type InstanceBroadcast,
  type InstanceRequest,
  type InstanceStatus,
  type LogLineMessage,
} from './control';
export {
  isNetlabError,
  NetlabError,
  netlabError,
  PROBLEM_CONTENT_TYPE,
  problemHeaders,
  sendProblem,
  sharedErrorCodes,
  toProblem,
  type ErrorCodeSpec,
  type Problem,
  type SharedErrorCode,
} from './errors';
export {
  FAST_PATH_AVAILABLE,
  FastRequest,
  FastResponse,
  installFastPath,
  type ClientRequest,
  type ClientResponse,
  type FastHandler,
  type FastPath,
  type FastPathOptions,
} from './fast-path';
export {
  createHealth,
  createHealthServer,
  type Health,
  type HealthOptions,
  type ReadinessCheck,
  type ReadinessReport,
} from './health';
export {
  hasExited,
  natsServerArgs,
  spawnNatsServer,
  waitForExit,
  type NatsServerArgs,
  type NatsServerProcess,
  type SpawnNatsOptions,
} from './nats-server-process';
export {
  DEFAULT_EVENTS_STREAM_LIMITS,
  ensureEventsStream,
  ensureEventsStreamAt,
  type EventsStreamLimits,
} from './events-stream';
export {
  generateNatsPasswords,
  isNatsUser,
  isSafeNatsPassword,
  NATS_USERS,
  natsPasswordEnv,
  natsPasswordVariable,
  securedNatsConfigFile,
  type NatsUser,
} from './nats-users';
export {
  advertisedHost,
  closeHttpServer,
  firstExternalAddress,
  httpUrl,
  listen,
} from './http-server';
export {
  createLifecycle,
  type Lifecycle,
  type LifecycleOptions,
  type ShutdownHook,
} from './lifecycle';
export {
  createHttpLogger,
  type HttpLogger,
  createLogger,
  REDACTED_PATHS,
  REQUEST_ID_HEADER,
  requestIdOf,
  silentLogger,
  type Logger,
  type LoggerOptions,
} from './logger';
export {
  connectNats,
  inboxPrefixFor,
  registerService,
  toNatsError,
  type Msg,
  type NatsClient,
  type NatsConnection,
  type NatsOptions,
  type RegistrationOptions,
  type RequestOptions,
  type Service,
  type ServiceMsg,
} from './nats';
export {
  packageVersion,
  runtimeConfig,
  startRuntime,
  type Runtime,
  type RuntimeConfig,
  type RuntimeOptions,
} from './runtime';
export {
  CONFIG_BUCKET,
  configKeys,
  EVENTS_STREAM,
  FETCHER_SESSIONS_BUCKET,
  NATS_REQUEST_ID_HEADER,
  SERVICE_NAMES,
  subjects,
  type ServiceName,
} from './subjects';
