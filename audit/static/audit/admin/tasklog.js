/* Task log pages in the admin: while a task is pending or running, poll its TaskLog through the
 * API with the admin's session cookie and update status, progress, outcome, duration and error
 * in place. Polling stops once every task on the page has finished. */
(function () {
  "use strict";

  var INTERVAL_MS = 1500;
  var MAX_FAILURES = 5;
  var labels = {};

  function fields(id, name) {
    return document.querySelectorAll(
      '[data-tasklog-id="' + id + '"][data-tasklog-field="' + name + '"]'
    );
  }

  function setText(id, name, text) {
    fields(id, name).forEach(function (el) { el.textContent = text; });
  }

  function apply(task) {
    var id = task.id;
    fields(id, "status").forEach(function (el) {
      el.className = el.className.replace(/tasklog-status-\w+/, "tasklog-status-" + task.status);
      el.dataset.status = task.status;
      el.textContent = labels[task.status] || task.status;
    });
    fields(id, "progress").forEach(function (el) { el.value = task.progress; });
    setText(id, "progress_text", task.progress + "%");
    setText(id, "code", task.code === null ? "-" : String(task.code));
    setText(id, "msg", task.msg || "");
    setText(id, "error", task.error || "");
    setText(id, "duration", task.duration === null ? "-" : task.duration.toFixed(1) + " s");
    return task.status === "success" || task.status === "failure";
  }

  function poll(id, url, failures) {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (body) {
        if (!apply(body.data)) {
          window.setTimeout(function () { poll(id, url, 0); }, INTERVAL_MS);
        }
      })
      .catch(function () {
        if (failures + 1 < MAX_FAILURES) {
          window.setTimeout(function () { poll(id, url, failures + 1); }, INTERVAL_MS * 2);
        }
      });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var labelsNode = document.getElementById("tasklog-status-labels");
    if (labelsNode) { labels = JSON.parse(labelsNode.textContent); }
    var seen = {};
    document.querySelectorAll('[data-tasklog-field="status"]').forEach(function (el) {
      var id = el.dataset.tasklogId;
      var unfinished = el.dataset.status === "pending" || el.dataset.status === "running";
      if (unfinished && !seen[id]) {
        seen[id] = true;
        window.setTimeout(function () { poll(id, el.dataset.tasklogUrl, 0); }, INTERVAL_MS);
      }
    });
  });
})();
