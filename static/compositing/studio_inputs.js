// More ways into the studio (issue 14): drop photos anywhere on the page, paste one from
// the clipboard, take one with the camera, try the sample portrait, or make several
// composites at once on the same background (per-photo progress, one ZIP at the end).
// Needs studio.js (window.vbgStudio); without scripts the page is a plain upload form.
(function () {
  "use strict";

  var studio = window.vbgStudio;
  if (!studio || !window.DataTransfer || !window.XMLHttpRequest) return;
  var form = studio.form;
  var q = function (selector) { return document.querySelector(selector); };
  var show = function (el, visible) { if (el) el.hidden = !visible; };
  var isImage = function (file) { return !!file && /^image\//.test(file.type || ""); };

  show(q("[data-ways-in]"), true);
  show(q("[data-ways-hint]"), true);

  // ---- Sample photo ---------------------------------------------------------------------
  var sample = q("[data-sample]");
  sample.addEventListener("click", function () {
    sample.disabled = true;
    fetch(form.getAttribute("data-sample-url"), { credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.blob();
      })
      .then(function (blob) {
        studio.usePhoto(new File([blob], "sample-portrait.jpg", { type: "image/jpeg" }));
      })
      .catch(function () { studio.showError("The sample photo could not be loaded. Please try again."); })
      .then(function () { sample.disabled = false; });
  });

  // ---- Files from anywhere: drop and paste ----------------------------------------------
  function take(files) {
    var images = Array.prototype.filter.call(files || [], isImage);
    if (!images.length) {
      if (files && files.length) studio.showError("That is not an image. Drop or paste a JPEG, PNG or WebP photo.");
      return false;
    }
    if (images.length === 1) {
      stopBatch();
      studio.usePhoto(images[0]);
    } else {
      startBatch(images);
    }
    return true;
  }

  var overlay = q("[data-drop-overlay]");
  var depth = 0;
  var carriesFiles = function (event) {
    return event.dataTransfer && Array.prototype.indexOf.call(event.dataTransfer.types, "Files") !== -1;
  };
  document.addEventListener("dragenter", function (event) {
    if (!carriesFiles(event)) return;
    depth++;
    show(overlay, true);
  });
  document.addEventListener("dragleave", function (event) {
    if (!carriesFiles(event)) return;
    depth = Math.max(0, depth - 1);
    if (!depth) show(overlay, false);
  });
  document.addEventListener("dragover", function (event) {
    if (!carriesFiles(event)) return;
    event.preventDefault(); // allow the drop anywhere, not only on the file input
    event.dataTransfer.dropEffect = "copy";
  });
  document.addEventListener("drop", function (event) {
    depth = 0;
    show(overlay, false);
    if (!carriesFiles(event)) return;
    // A drop on a file input of its own (the background upload) is that input's.
    if (event.target.closest && event.target.closest("[data-upload-input], .upload-extra")) return;
    event.preventDefault();
    take(event.dataTransfer.files);
  });

  document.addEventListener("paste", function (event) {
    var data = event.clipboardData;
    if (!data || !data.files || !data.files.length) return; // text pastes stay text
    if (take(data.files)) event.preventDefault();
  });

  // ---- Camera ---------------------------------------------------------------------------
  var dialog = q("[data-camera]");
  var openCamera = q("[data-camera-open]");
  var video = q("[data-camera-video]");
  var takeButton = q("[data-camera-take]");
  var status = q("[data-camera-status]");
  var stream = null;
  var canCamera = !!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia && dialog && dialog.showModal);
  show(openCamera, canCamera);

  function stopCamera() {
    if (stream) stream.getTracks().forEach(function (track) { track.stop(); });
    stream = null;
    video.srcObject = null;
    takeButton.disabled = true;
  }

  function cameraError(error) {
    var name = error && error.name;
    if (name === "NotAllowedError" || name === "SecurityError") return "The browser did not allow the camera. Allow it for this site and try again, or choose a file.";
    if (name === "NotFoundError" || name === "OverconstrainedError") return "No camera was found. Choose a file instead.";
    if (name === "NotReadableError") return "The camera is in use by another program.";
    return "The camera could not be started.";
  }

  if (canCamera) {
    openCamera.addEventListener("click", function () {
      status.textContent = "Starting the camera…";
      dialog.showModal();
      navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 1920 }, height: { ideal: 1080 } }, audio: false })
        .then(function (media) {
          if (!dialog.open) { media.getTracks().forEach(function (t) { t.stop(); }); return; }
          stream = media;
          video.srcObject = media;
          return video.play().then(function () {
            status.textContent = "Frame yourself, then take the photo.";
            takeButton.disabled = false;
            takeButton.focus();
          });
        })
        .catch(function (error) { status.textContent = cameraError(error); });
    });
    takeButton.addEventListener("click", function () {
      var canvas = document.createElement("canvas");
      canvas.width = video.videoWidth;
      canvas.height = video.videoHeight;
      canvas.getContext("2d").drawImage(video, 0, 0);
      canvas.toBlob(function (blob) {
        dialog.close();
        if (!blob) { studio.showError("The camera gave no picture. Please try again."); return; }
        var stamp = new Date().toISOString().slice(0, 19).replace(/[:T]/g, "-");
        stopBatch();
        studio.usePhoto(new File([blob], "camera-" + stamp + ".jpg", { type: "image/jpeg" }));
      }, "image/jpeg", 0.92);
    });
    q("[data-camera-close]").addEventListener("click", function () { dialog.close(); });
    dialog.addEventListener("close", function () {
      stopCamera();
      openCamera.focus();
    });
  }

  // ---- Several photos at once ------------------------------------------------------------
  var batchInput = q("[data-batch-input]");
  var batchBox = q("[data-batch]");
  var batchList = q("[data-batch-list]");
  var batchTitle = q("[data-batch-title]");
  var zipLink = q("[data-batch-zip]");
  var submitLabel = q("[data-submit-label]");
  var submit = q("[data-submit]");
  var batch = null; // {files, rows, running}

  batchInput.addEventListener("change", function () {
    if (batchInput.files.length) take(batchInput.files);
    batchInput.value = "";
  });
  q("[data-batch-clear]").addEventListener("click", function () {
    stopBatch();
    studio.showPlaceholder();
  });

  function row(file) {
    var item = document.createElement("li");
    item.className = "batch-item";
    item.innerHTML =
      '<img class="batch-thumb" alt="">' +
      '<span class="batch-name"></span>' +
      '<progress max="100" value="0"></progress>' +
      '<span class="batch-state small">Waiting</span>';
    item.querySelector(".batch-name").textContent = file.name || "photo";
    var thumb = item.querySelector(".batch-thumb");
    thumb.src = URL.createObjectURL(file);
    thumb.addEventListener("load", function () { URL.revokeObjectURL(thumb.src); }, { once: true });
    batchList.appendChild(item);
    return {
      item: item,
      bar: item.querySelector("progress"),
      state: item.querySelector(".batch-state"),
      set: function (text, kind) {
        this.state.textContent = text;
        item.setAttribute("data-state", kind || "");
      },
    };
  }

  function startBatch(files) {
    studio.resetSingle();
    studio.clearStage();
    studio.hideError();
    batchList.textContent = "";
    batch = { files: files, rows: files.map(row), running: false };
    batchTitle.textContent = files.length + " photos · pick a background and options, then make them all";
    show(zipLink, false);
    show(batchBox, true);
    form.classList.add("is-batch");
    submitLabel.textContent = "Make " + files.length + " composites";
    studio.onSubmit = runBatch;
  }

  function stopBatch() {
    if (batch && batch.running) return;
    batch = null;
    batchList.textContent = "";
    show(batchBox, false);
    form.classList.remove("is-batch");
    studio.onSubmit = null;
    submitLabel.textContent = studio.idleLabel();
  }

  function options() {
    var body = new FormData(form);
    body.delete("photo");
    return body;
  }

  function runOne(file, line) {
    var body = options();
    body.append("photo", file);
    line.set("Uploading… 0 %", "busy");
    return studio.send(form.action, body, function (state) {
      if (state.phase === "upload") {
        var percent = state.total ? Math.round((100 * state.loaded) / state.total) : 0;
        line.bar.value = percent;
        line.set("Uploading… " + percent + " %", "busy");
      } else {
        line.bar.removeAttribute("value");
        line.set("Finding the person…", "busy");
      }
    }).then(function (reply) {
      line.bar.value = 100;
      if (!reply.ok) {
        line.set((reply.body && reply.body.detail) || "Failed (HTTP " + reply.status + ").", "failed");
        return null;
      }
      var done = document.createElement("a");
      done.href = reply.body.detail_url;
      done.textContent = "Done · open";
      line.state.textContent = "";
      line.state.appendChild(done);
      line.item.setAttribute("data-state", "done");
      line.item.querySelector(".batch-thumb").src = reply.body.result_url;
      return reply.body.id;
    }, function () {
      line.set("The server could not be reached.", "failed");
      return null;
    });
  }

  function runBatch() {
    if (!batch || batch.running) return true;
    var current = batch;
    current.running = true;
    submit.disabled = true;
    form.classList.add("is-busy");
    submitLabel.textContent = "Working…";
    show(zipLink, false);
    var ids = [];
    var chain = Promise.resolve();
    current.files.forEach(function (file, index) {
      chain = chain.then(function () {
        batchTitle.textContent = "Photo " + (index + 1) + " of " + current.files.length;
        return runOne(file, current.rows[index]).then(function (id) { if (id) ids.push(id); });
      });
    });
    chain.then(function () {
      current.running = false;
      submit.disabled = false;
      form.classList.remove("is-busy");
      submitLabel.textContent = "Make " + current.files.length + " composites again";
      var failed = current.files.length - ids.length;
      batchTitle.textContent = ids.length + " of " + current.files.length + " done" +
        (failed ? " · " + failed + " could not be made (see below)" : "") + " · all in your history";
      if (ids.length) {
        var query = ids.map(function (id) { return "id=" + encodeURIComponent(id); }).join("&");
        zipLink.href = form.getAttribute("data-zip-url") + "?" + query;
        zipLink.textContent = "Download all " + ids.length + " (ZIP)";
        show(zipLink, true);
        zipLink.focus();
      }
    });
    return true;
  }
})();
