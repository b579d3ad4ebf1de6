// A background job's page follows the job: it asks the job's JSON twin (/api/v1/jobs/{id}) every
// second and shows its progress; when the job's status changes (it starts, ends, or is told to
// stop) the page is reloaded, so that the server shows it as it is (its result, or why it failed).
// Without JavaScript the page refreshes itself every few seconds while the job is active.
(function () {
  "use strict";
  var box = document.getElementById("job");
  if (!box || !window.fetch) { return; }
  var status = box.getAttribute("data-status");
  if (status !== "queued" && status !== "running") { return; }
  var api = box.getAttribute("data-api");
  var stopping = box.getAttribute("data-stopping") === "true";
  var persian = document.documentElement.getAttribute("lang") === "fa";
  var bar = document.getElementById("job-progress");
  var text = document.getElementById("job-progress-text");
  var steps = box.getAttribute("data-steps") || "";
  var delay = 1000;

  function number(n) {
    var shown = String(n);
    return persian ? shown.replace(/[0-9]/g, function (d) { return "۰۱۲۳۴۵۶۷۸۹"[Number(d)]; }) : shown;
  }

  function show(job) {
    if (job.status !== status || Boolean(job.cancel_requested) !== stopping) {
      window.location.reload();
      return false;
    }
    var done = job.progress.done, total = job.progress.total;
    if (total) {
      bar.max = total;
      bar.value = done;
      box.setAttribute("data-done", String(done));
      text.textContent = number(done) + " / " + number(total) + " " + steps;
    }
    return true;
  }

  function tick() {
    fetch(api, { credentials: "same-origin", headers: { accept: "application/json" } })
      .then(function (answer) {
        if (!answer.ok) { throw new Error(String(answer.status)); }
        return answer.json();
      })
      .then(function (job) {
        delay = 1000;
        if (show(job)) { window.setTimeout(tick, delay); }
      })
      .catch(function () {
        delay = Math.min(delay * 2, 15000);  // the server away a moment (restarting): ask again, less often
        window.setTimeout(tick, delay);
      });
  }

  window.setTimeout(tick, delay);
})();
