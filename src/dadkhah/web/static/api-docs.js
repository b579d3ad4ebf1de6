// The API documentation page (/api-docs): Swagger UI, served from /static/swagger-ui (vendored),
// drawn from this app's own OpenAPI schema. Nothing is fetched from anywhere else: the spec
// validator badge (which would call validator.swagger.io) is off, and there is no URL box.
//
// "Try it out" acts as the logged-in user: a POST carries the session's CSRF token (from the page),
// as the app's forms do. With a token entered under "Authorize", a request carries it instead and
// sends no cookie, since the app refuses a request that brings both.
(function () {
  "use strict";
  var element = document.getElementById("swagger-ui");
  if (!element || typeof window.SwaggerUIBundle !== "function") {
    return;
  }
  var csrf = element.getAttribute("data-csrf") || "";
  var readOnly = { GET: true, HEAD: true, OPTIONS: true };

  function hasAuthorization(headers) {
    return Object.keys(headers).some(function (name) {
      return name.toLowerCase() === "authorization";
    });
  }

  window.ui = window.SwaggerUIBundle({
    url: element.getAttribute("data-spec"),
    domNode: element,
    deepLinking: true,
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    validatorUrl: null,
    displayRequestDuration: true,
    requestInterceptor: function (request) {
      var headers = request.headers || {};
      if (hasAuthorization(headers)) {
        request.credentials = "omit";
      } else if (!readOnly[(request.method || "GET").toUpperCase()]) {
        headers["X-CSRF-Token"] = csrf;
      }
      request.headers = headers;
      return request;
    },
  });
})();
