// The image's HEALTHCHECK: exits 0 when the part answers 200 on its readiness URL. Node is the
// only program in the image (no curl, no wget). Usage: node healthcheck.js [URL]; the default is
// http://127.0.0.1:<HEALTH_PORT or PORT>/readyz, and compose states each part's URL.
'use strict';

const port = process.env.HEALTH_PORT || process.env.PORT || '8080';
const url = process.argv[2] || `http://127.0.0.1:${port}/readyz`;

fetch(url, { signal: AbortSignal.timeout(2500) }).then(
  (res) => process.exit(res.status === 200 ? 0 : 1),
  () => process.exit(1),
);
