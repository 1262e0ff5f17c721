// Video pages: the job page polls the JSON status (about once a second) and moves the
// progress bar; when the job is finished the page reloads to show the player (or the
// reason it failed). The upload form says that the upload is under way. Everything also
// works without this script (reload to see progress).
(function () {
  "use strict";

  var job = document.querySelector("[data-video-job]");
  if (job && (job.dataset.status === "queued" || job.dataset.status === "running")) {
    var bar = job.querySelector("[data-progress]");
    var percent = job.querySelector("[data-percent]");
    var frames = job.querySelector("[data-frames]");
    var label = job.querySelector("[data-state-label]");
    // The "Status" line of the details, kept in step with the bar (it said "Queued" while
    // the bar moved).
    var statusText = document.querySelector("[data-status-text]");
    var cancelForm = job.querySelector("[data-cancel-form]");
    var failures = 0;

    var eta = function (seconds) {
      if (seconds === null || seconds === undefined) return "";
      if (seconds < 60) return " · about " + Math.max(1, Math.round(seconds)) + " s left";
      return " · about " + Math.round(seconds / 60) + " min left";
    };

    var show = function (data) {
      if (bar) bar.value = data.progress;
      if (percent) percent.textContent = Math.floor(data.progress) + " %";
      if (frames && data.frames_total) {
        frames.textContent = "Frame " + data.frames_done + " of " + data.frames_total + eta(data.eta_seconds);
      }
      if (statusText && data.status_label) {
        statusText.textContent = data.cancel_requested && !data.finished ? "Cancelling…" : data.status_label;
      }
      if (label) {
        label.textContent = data.status === "queued" ? "Waiting for a worker…"
          : data.cancel_requested ? "Cancelling…" : "Replacing the background…";
      }
    };

    var poll = function () {
      fetch(job.dataset.statusUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (response) {
          if (!response.ok) throw new Error("status " + response.status);
          return response.json();
        })
        .then(function (data) {
          failures = 0;
          show(data);
          if (data.finished) {
            window.location.reload();
          } else {
            window.setTimeout(poll, 1000);
          }
        })
        .catch(function () {
          failures += 1;
          window.setTimeout(poll, Math.min(10000, 1000 * Math.pow(2, failures)));
        });
    };
    if (window.fetch) window.setTimeout(poll, 500);

    if (cancelForm && window.fetch && window.FormData) {
      cancelForm.addEventListener("submit", function (event) {
        event.preventDefault();
        var button = cancelForm.querySelector("button");
        button.disabled = true;
        button.textContent = "Cancelling…";
        fetch(cancelForm.action, {
          method: "POST",
          body: new FormData(cancelForm),
          headers: { Accept: "application/json" },
          credentials: "same-origin"
        }).then(function (response) { return response.json(); })
          .then(show)
          .catch(function () { cancelForm.submit(); });
      });
    }
  }

  var form = document.querySelector("[data-video-form]");
  if (form) {
    var input = form.querySelector("[data-video-input]");
    var name = form.querySelector("[data-video-name]");
    var note = form.querySelector("[data-upload-note]");
    var submit = form.querySelector("[data-video-submit]");
    if (input && name) {
      input.addEventListener("change", function () {
        name.textContent = input.files.length ? input.files[0].name : "";
      });
    }
    form.addEventListener("submit", function () {
      if (note) note.hidden = false;
      if (submit) submit.disabled = true;
    });
  }
})();
