// Studio and detail pages: photo preview, background picker niceties, a before/after
// slider and a fetch() submit that shows the result without reloading. Every form here
// also works as a plain POST without this script.
(function () {
  "use strict";

  // ---- Before/after comparison slider --------------------------------------------------
  function initCompare(root) {
    var range = root.querySelector("[data-compare-range]");
    if (!range || range.dataset.ready) return;
    range.dataset.ready = "1";
    var set = function () { root.style.setProperty("--pos", range.value + "%"); };
    range.addEventListener("input", set);
    set();
  }
  document.querySelectorAll("[data-compare]").forEach(initCompare);

  // ---- Background picker ---------------------------------------------------------------
  function initPicker(picker) {
    var colorInput = picker.querySelector("[data-color-input]");
    var swatch = picker.querySelector("[data-swatch]");
    var choose = function (value) {
      var radio = picker.querySelector('input[name="background"][value="' + value + '"]');
      if (radio) radio.checked = true;
    };
    if (colorInput) {
      colorInput.addEventListener("input", function () {
        if (swatch) swatch.style.setProperty("--swatch", colorInput.value);
        choose("color");
      });
      colorInput.addEventListener("click", function () { choose("color"); });
    }
    var upload = picker.querySelector("[data-upload-input]");
    if (upload) {
      upload.addEventListener("change", function () {
        if (upload.files.length) choose("upload");
      });
    }
  }
  document.querySelectorAll("[data-bg-picker]").forEach(initPicker);

  // ---- Editor: instant previews from the stored source + mask (preview.js) -----------
  // One per form (studio, re-composite). setSource() loads the stored files once; every
  // change of a control re-draws the canvas, with no request and no history entry.
  function Editor(form, onRender) {
    var canvas = form.querySelector("[data-preview-canvas]");
    var frame = form.querySelector("[data-preview]");
    var source = null, backgrounds = {}, uploadUrl = null, uploadImg = null, pending = false;
    // Held: a saved result is on show. Only the person's own next change draws a preview
    // again; an image that finishes loading late (a background picked just before Save)
    // must not replace the result they asked for.
    var held = false;
    var self = this;

    function raw() {
      var data = new FormData(form);
      var get = function (name) { return data.get(name) || ""; };
      var size = get("output_size");
      if (size === "custom") size = get("output_size_custom");
      return {
        output_size: size || "original",
        background_focus: (get("background_focus_x") || "50") + "," + (get("background_focus_y") || "50"),
        background_zoom: get("background_zoom"),
        background_mirror: get("background_mirror"),
        scale: get("scale"),
        position: get("position"),
        crop: get("crop"),
        crop_margin: get("crop_margin"),
        channels: get("channels"),
        blur_strength: get("blur_strength"),
      };
    }

    function backgroundImage(radio) {
      var url = radio.getAttribute("data-image-url");
      if (!backgrounds[url]) {
        backgrounds[url] = { img: null };
        window.vbgPreview.loadImage(url).then(function (img) {
          backgrounds[url].img = img;
          self.schedule();
        }, function () {});
      }
      return backgrounds[url].img;
    }

    function uploadImage() {
      var input = form.querySelector("[data-upload-input]");
      var file = input && input.files[0];
      if (!file) return null;
      var key = file.name + file.size + file.lastModified;
      if (uploadUrl !== key) {
        uploadUrl = key;
        uploadImg = null;
        var url = URL.createObjectURL(file);
        window.vbgPreview.loadImage(url).then(function (img) {
          if (uploadUrl === key) { uploadImg = img; self.schedule(); }
        }, function () {});
      }
      return uploadImg;
    }

    function choice() {
      var radio = form.querySelector('input[name="background"]:checked');
      var value = radio ? radio.value : "";
      if (value === "color") return { mode: "color", color: (form.querySelector("[data-color-input]") || {}).value };
      if (value === "blur" || value === "transparent") return { mode: value };
      if (value === "upload") return { mode: "image", background: uploadImage() };
      if (value) return { mode: "image", background: backgroundImage(radio) };
      return null;
    }

    this.draw = function () {
      pending = false;
      if (held) return false;
      var picked = choice();
      if (!source || !picked) return false;
      var size = window.vbgPreview.render(canvas, source, picked, raw());
      frame.classList.toggle("is-transparent", canvas.dataset.transparent === "1");
      frame.hidden = false;
      canvas.setAttribute("data-rendered", String(Date.now()));
      if (onRender) onRender(size);
      return true;
    };
    this.schedule = function () {
      if (pending) return;
      pending = true;
      window.requestAnimationFrame(self.draw);
    };
    this.setSource = function (sourceUrl, maskUrl) {
      source = null;
      held = false;
      return Promise.all([
        window.vbgPreview.loadImage(sourceUrl),
        window.vbgPreview.loadImage(maskUrl),
      ]).then(function (images) {
        source = window.vbgPreview.prepare(images[0], images[1]);
        self.schedule();
      });
    };
    this.hasSource = function () { return source !== null; };
    this.hold = function () { held = true; };
    var changed = function (event) {
      // Only the form's own options: not the before/after slider (no name), not the photo.
      if (!event.target.name || event.target.name === "photo") return;
      held = false;
      var out = form.querySelector('[data-range-output="' + event.target.name + '"]');
      if (out) out.textContent = event.target.value;
      self.schedule();
    };
    form.addEventListener("input", changed);
    form.addEventListener("change", changed);
  }

  function initCustomSize(form) {
    var select = form.querySelector("[data-output-size]");
    var custom = form.querySelector("[data-output-custom]");
    if (!select || !custom) return;
    var sync = function () { custom.hidden = select.value !== "custom"; };
    select.addEventListener("change", function () {
      sync();
      if (select.value === "custom") custom.focus();
    });
    sync();
  }
  document.querySelectorAll("[data-placement]").forEach(function (el) {
    initCustomSize(el.closest("form"));
  });

  // The detail page: preview the re-composite from this composite's stored files.
  var recomposite = document.querySelector("[data-recomposite]");
  if (recomposite && window.vbgPreview && window.Promise) {
    var note = recomposite.querySelector("[data-preview-note]");
    var detailEditor = new Editor(recomposite, function (size) {
      if (note) note.textContent = "Preview " + size.width + "×" + size.height + " · Save renders it at full quality as a new history entry.";
    });
    detailEditor.setSource(recomposite.dataset.sourceUrl, recomposite.dataset.maskUrl).catch(function () {});
  }

  // ---- Studio ---------------------------------------------------------------------------
  var form = document.querySelector("[data-studio]");
  if (!form) return;

  var q = function (selector) { return form.querySelector(selector); };
  var photoInput = q("[data-photo-input]");
  var dropEmpty = q("[data-drop-empty]");
  var dropPreview = q("[data-drop-preview]");
  var photoPreview = q("[data-photo-preview]");
  var stagePhoto = q("[data-stage-photo]");
  var stagePhotoImg = q("[data-stage-photo-img]");
  var placeholder = q("[data-placeholder]");
  var working = q("[data-working]");
  var resultBox = q("[data-result]");
  var resultActions = q("[data-result-actions]");
  var resultBadge = q("[data-result-badge]");
  var resultMeta = q("[data-result-meta]");
  var downloadLink = q("[data-download]");
  var detailLink = q("[data-detail]");
  var errorBox = q("[data-error]");
  var errorText = q("[data-error-text]");
  var submit = q("[data-submit]");
  var submitLabel = q("[data-submit-label]");
  var previewBox = q("[data-preview]");
  var previewUrl = null;
  // The stored photo the editor works on: a draft after the upload, then the last saved
  // entry (a further Save is a re-composite of it). Null: the form posts the photo.
  var base = null;
  var draftRequest = 0;
  var editor = window.vbgPreview && window.Promise ? new Editor(form, function () {
    show(placeholder, false);
    show(stagePhoto, false);
    show(resultBox, false);
    show(resultBadge, false);
    show(resultActions, false);
  }) : null;

  function show(el, visible) { if (el) el.hidden = !visible; }

  function showError(message) {
    errorText.textContent = message;
    show(errorBox, true);
    errorBox.scrollIntoView({ behavior: "smooth", block: "center" });
  }

  var workingTitle = q("[data-working-title]");
  var workingBar = q("[data-working-progress]");
  var workingDetail = q("[data-working-detail]");
  var clock = null;

  function idleLabel() {
    return base ? submitLabel.getAttribute("data-label-save") : "Replace background";
  }

  function setBusy(busy, serverStep) {
    form.classList.toggle("is-busy", busy);
    submit.disabled = busy;
    submitLabel.textContent = busy ? "Working…" : idleLabel();
    window.clearInterval(clock);
    show(working, busy);
    if (busy) progress({ phase: "upload", loaded: 0, total: 0, serverStep: serverStep });
  }

  function megabytes(bytes) { return (bytes / 1048576).toFixed(1); }

  // Real progress: the upload's bytes, then the server's step with the seconds it has
  // taken so far (the model's first run after a restart, or a very large photo, can take
  // a while: the page says what it is waiting for instead of promising a time).
  function progress(state) {
    if (state.phase === "upload") {
      var percent = state.total ? Math.round((100 * state.loaded) / state.total) : 0;
      workingTitle.textContent = "Uploading… " + percent + " %";
      workingBar.value = percent;
      workingDetail.textContent = state.total
        ? megabytes(state.loaded) + " of " + megabytes(state.total) + " MB sent" : "";
      return;
    }
    var started = Date.now();
    workingTitle.textContent = state.serverStep || "Finding the person…";
    workingBar.removeAttribute("value"); // indeterminate: the server does not report steps
    var tick = function () {
      var seconds = Math.round((Date.now() - started) / 1000);
      workingDetail.textContent = "Uploaded. " + (seconds ? seconds + " s so far." : "Working on it…");
    };
    tick();
    window.clearInterval(clock);
    clock = window.setInterval(tick, 1000);
  }

  // POST with the upload's progress (XMLHttpRequest reports sent bytes; fetch does not).
  // onProgress({phase: "upload", loaded, total}) then ({phase: "server"}); resolves
  // {ok, status, body} (body: the JSON answer, or null).
  function send(url, body, onProgress) {
    var csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;
    return new Promise(function (resolve, reject) {
      var xhr = new XMLHttpRequest();
      xhr.open("POST", url);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.setRequestHeader("X-CSRFToken", csrf);
      xhr.upload.addEventListener("progress", function (event) {
        if (onProgress) onProgress({ phase: "upload", loaded: event.loaded, total: event.lengthComputable ? event.total : 0 });
      });
      xhr.upload.addEventListener("load", function () {
        if (onProgress) onProgress({ phase: "server" });
      });
      xhr.addEventListener("load", function () {
        var json = null;
        try { json = JSON.parse(xhr.responseText); } catch (error) { json = null; }
        var ok = xhr.status >= 200 && xhr.status < 300 && json !== null;
        resolve({ ok: ok, status: xhr.status, body: json });
      });
      xhr.addEventListener("error", function () { reject(new Error("network")); });
      xhr.addEventListener("abort", function () { reject(new Error("abort")); });
      xhr.send(body);
    });
  }

  function post(url, body, serverStep) {
    return send(url, body, function (state) {
      state.serverStep = serverStep;
      progress(state);
    });
  }

  function failure(reply) {
    var detail = reply.body && reply.body.detail;
    showError(detail || "Something went wrong (HTTP " + reply.status + "). Please try again.");
  }

  // One upload, one model run: the draft's stored source and mask feed every preview.
  function startDraft(file) {
    if (!editor || !window.fetch) return;
    var ticket = ++draftRequest;
    base = null;
    var body = new FormData();
    body.append("photo", file);
    setBusy(true, "Finding the person…");
    post(form.getAttribute("data-draft-url"), body, "Finding the person…")
      .then(function (reply) {
        if (ticket !== draftRequest) return;
        if (!reply.ok) { failure(reply); return; }
        base = { id: reply.body.id, saveUrl: reply.body.save_url };
        return editor.setSource(reply.body.source_url, reply.body.mask_url);
      })
      .catch(function () {
        if (ticket === draftRequest) showError("The server could not be reached. Check your connection and try again.");
      })
      .then(function () { if (ticket === draftRequest) setBusy(false); });
  }

  // A file the browser cannot show (not an image, HEIC...): no broken image icons; the
  // server still decides and explains.
  photoPreview.addEventListener("error", function () {
    show(dropPreview, false);
    show(dropEmpty, true);
    show(stagePhoto, false);
    show(placeholder, true);
  });

  photoInput.addEventListener("change", function () {
    show(errorBox, false);
    showNotices([]);
    if (previewUrl) URL.revokeObjectURL(previewUrl);
    previewUrl = null;
    var file = photoInput.files[0];
    if (!file) {
      show(dropPreview, false);
      show(dropEmpty, true);
      return;
    }
    previewUrl = URL.createObjectURL(file);
    photoPreview.src = previewUrl;
    stagePhotoImg.src = previewUrl;
    show(dropPreview, true);
    show(dropEmpty, false);
    // A new photo: the stage shows it until the composite is ready.
    show(placeholder, false);
    show(resultBox, false);
    show(resultActions, false);
    show(resultBadge, false);
    show(previewBox, false);
    show(stagePhoto, true);
    startDraft(file);
  });

  // Another way in (drop, paste, camera, sample: studio_inputs.js) hands a File here; it
  // takes the same path as choosing it with the file input.
  function usePhoto(file) {
    var transfer = new DataTransfer();
    transfer.items.add(file);
    photoInput.files = transfer.files;
    photoInput.dispatchEvent(new Event("change", { bubbles: true }));
  }

  var studio = {
    form: form,
    usePhoto: usePhoto,
    send: send,
    showError: showError,
    hideError: function () { show(errorBox, false); },
    idleLabel: idleLabel,
    // The stage's views; a batch hides the single-photo ones.
    clearStage: function () {
      [placeholder, stagePhoto, previewBox, resultBox, resultActions, resultBadge].forEach(function (el) { show(el, false); });
      showNotices([]);
    },
    resetSingle: function () {
      base = null;
      draftRequest++;
      setBusy(false);
      photoInput.value = "";
      show(dropPreview, false);
      show(dropEmpty, true);
    },
    showPlaceholder: function () { show(placeholder, true); },
    onSubmit: null,
  };
  window.vbgStudio = studio;

  function compareMarkup(data) {
    var transparent = data.mode === "transparent" ? " is-transparent" : "";
    return (
      '<div class="compare' + transparent + '" data-compare data-compare-width="' +
      Number(data.width) + '" data-compare-height="' + Number(data.height) + '">' +
      '<img class="compare-after" alt="Result: the person on the new background" data-compare-after>' +
      '<img class="compare-before" alt="Original photo" data-compare-before>' +
      '<span class="compare-label compare-label-before" aria-hidden="true">Before</span>' +
      '<span class="compare-label compare-label-after" aria-hidden="true">After</span>' +
      '<span class="compare-handle" aria-hidden="true"><span></span></span>' +
      '<input class="compare-range" type="range" min="0" max="100" value="50" step="0.5" ' +
      'aria-label="Drag to compare the original and the result" data-compare-range>' +
      "</div>"
    );
  }

  // What the server changed on its own (a full library, PNG for transparency): said.
  function showNotices(notices) {
    var box = q("[data-notices]");
    var list = q("[data-notices-list]");
    if (!box || !list) return;
    list.textContent = "";
    (notices || []).forEach(function (text) {
      var item = document.createElement("li");
      item.textContent = text;
      list.appendChild(item);
    });
    show(box, list.children.length > 0);
  }

  function showResult(data) {
    if (editor) editor.hold();
    showNotices(data.notices);
    resultBox.innerHTML = compareMarkup(data);
    if (window.vbgApplyDataStyles) window.vbgApplyDataStyles(resultBox);
    var compare = resultBox.querySelector("[data-compare]");
    var after = compare.querySelector("[data-compare-after]");
    var before = compare.querySelector("[data-compare-before]");
    before.src = data.source_url;
    after.src = data.result_url;
    initCompare(compare);
    downloadLink.href = data.download_url;
    detailLink.href = data.detail_url;
    var seconds = data.timings && data.timings.total_ms ? " · " + Math.round(data.timings.total_ms) + " ms" : "";
    resultMeta.textContent = data.width + "×" + data.height + " · " + data.output_format.toUpperCase() + seconds;
    show(stagePhoto, false);
    show(placeholder, false);
    show(previewBox, false);
    show(resultBox, true);
    show(resultActions, true);
    show(resultBadge, true);
    form.setAttribute("data-result-id", data.id);
    // Further changes preview again; the next Save re-composites this entry.
    base = { id: data.id, saveUrl: data.recomposite_url };
    // On narrow screens the result is below the form: bring it into view.
    var stage = q("[data-stage]");
    var box = stage.getBoundingClientRect();
    if (box.top > window.innerHeight * 0.6 || box.bottom < 0) {
      stage.scrollIntoView({ behavior: "smooth", block: "start" });
    }
    if (window.history && window.history.replaceState) {
      window.history.replaceState(null, "", "?result=" + encodeURIComponent(data.id) + "#result");
    }
  }

  form.addEventListener("submit", function (event) {
    if (!window.fetch || !window.FormData) return; // plain form post
    event.preventDefault();
    show(errorBox, false);
    if (studio.onSubmit && studio.onSubmit()) return; // a batch (studio_inputs.js)
    if (!photoInput.files.length && !base) {
      showError("Choose a photo to upload.");
      return;
    }
    var body = new FormData(form);
    var url = form.action;
    if (base) {
      body.delete("photo"); // Save: the server reuses the stored photo and mask
      url = base.saveUrl;
    }
    var step = base ? "Rendering at full quality…" : "Finding the person…";
    setBusy(true, step);
    post(url, body, step)
      .then(function (reply) {
        if (reply.ok) showResult(reply.body);
        else failure(reply);
      })
      .catch(function () {
        showError("The server could not be reached. Check your connection and try again.");
      })
      .then(function () { setBusy(false); });
  });
})();
