/** Test helpers shared by every part: real processes and real sockets, never mocks. */
export { startNatsServer, type NatsServerHandle, type NatsServerOptions } from './nats-server';
export { waitFor } from './wait-for';
export { undocumentedErrorCodes } from './error-docs';
export { captureLogger } from './log-capture';
export { silentLogger } from '../logger';
export { listen } from '../http-server';
export { CHROMIUM_PATH, launchChromium } from './chromium';
