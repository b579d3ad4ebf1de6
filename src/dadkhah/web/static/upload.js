// Upload progress for the list form: sends the same multipart form with XMLHttpRequest, shows the
// bytes sent in a <progress> element, then follows the server's redirect to the import's summary.
// Without JavaScript the form posts normally and the server answers the same pages.
(function () {
  "use strict";
  if (!window.XMLHttpRequest || !window.FormData || !window.DOMParser) { return; }

  function showError(text) {
    var main = document.getElementById("main");
    var note = document.getElementById("upload-error");
    if (!note) {
      note = document.createElement("p");
      note.id = "upload-error";
      note.className = "message error";
      note.setAttribute("role", "alert");
      main.insertBefore(note, main.children[1] || null);
    }
    note.textContent = text;
  }

  function enhance() {
    var form = document.getElementById("upload-form");
    if (!form) { return; }
    var bar = document.getElementById("upload-progress");
    var status = document.getElementById("upload-status");
    var button = form.querySelector("button[type=submit]");

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var request = new XMLHttpRequest();
      request.open("POST", form.getAttribute("action"));
      request.upload.addEventListener("progress", function (e) {
        if (!e.lengthComputable) { return; }
        bar.hidden = false;
        bar.value = Math.round(100 * e.loaded / e.total);
        status.textContent = bar.value + "%";
      });
      request.upload.addEventListener("load", function () {
        bar.removeAttribute("value");  // indeterminate while the server imports the list
        status.textContent = "…";
      });
      request.addEventListener("load", function () {
        // XMLHttpRequest follows the 303 itself: responseURL is then the import's summary page.
        if (request.status >= 200 && request.status < 300 && request.responseURL) {
          window.location.assign(request.responseURL);
          return;
        }
        var type = request.getResponseHeader("content-type") || "";
        if (type.indexOf("text/html") === 0) {
          // The server re-rendered the page with the error: show it in place of this one.
          var page = new DOMParser().parseFromString(request.responseText, "text/html");
          var fresh = page.getElementById("main");
          if (fresh) {
            document.getElementById("main").replaceWith(document.adoptNode(fresh));
            enhance();
            return;
          }
        }
        var message = request.status + " " + request.statusText;
        try { message = JSON.parse(request.responseText).error.message || message; } catch (ignored) { /* not JSON */ }
        showError(message);
        reset();
      });
      request.addEventListener("error", function () {
        showError(form.getAttribute("data-network-error") || "network error");
        reset();
      });
      function reset() {
        button.disabled = false;
        bar.hidden = true;
        bar.value = 0;
        status.textContent = "";
      }
      button.disabled = true;
      request.send(new FormData(form));
    });
  }

  enhance();
})();
