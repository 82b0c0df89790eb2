// /docs: Swagger UI over this server's OpenAPI document. A file, not an inline script: the page's CSP
// runs scripts of this origin only. Module scripts run after the deferred bundle, so SwaggerUIBundle is set.
import { loadToken } from "./common.js";

const root = document.getElementById("swagger-ui");

const ui = window.SwaggerUIBundle({
  url: root.dataset.document,
  domNode: root,
  deepLinking: true,
  // No call to the public validator: this page talks to its own origin only.
  validatorUrl: null,
  // An "Authorize"d token stays in the page's memory: not written to the browser's storage.
  persistAuthorization: false,
  presets: [window.SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
  onComplete: () => {
    // The token typed on the other pages of this tab, if any, so "Try it out" works at once.
    const token = loadToken();
    if (token) {
      ui.preauthorizeApiKey("bearerAuth", token);
    }
  },
});
window.ui = ui;
