/* global window, SwaggerUIBundle */
// Swagger UI, served from swagger-ui-dist (no CDN), pointed at this service's document.
'use strict';
window.ui = SwaggerUIBundle({
  url: '/openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
});
