/* /openapi?f=html: Swagger UI (bundled by the flask-swagger-ui package, served by CCP) over
 * the server's own OpenAPI document. A file, not an inline script: the pages' CSP allows
 * scripts from this origin only. */
"use strict";
window.addEventListener("DOMContentLoaded", () => {
  const root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.url,
    domNode: root,
    deepLinking: false,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
