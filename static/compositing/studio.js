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
  var previewUrl = null;

  function show(el, visible) { if (el) el.hidden = !visible; }

  function showError(message) {
    errorText.textContent = message;
    show(errorBox, true);
    errorBox.scrollIntoView({ behavior: "smooth", block: "center" });
  }

  function setBusy(busy) {
    form.classList.toggle("is-busy", busy);
    submit.disabled = busy;
    submitLabel.textContent = busy ? "Working…" : "Replace background";
    show(working, busy);
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
    show(stagePhoto, true);
  });

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

  function showResult(data) {
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
    show(resultBox, true);
    show(resultActions, true);
    show(resultBadge, true);
    form.setAttribute("data-result-id", data.id);
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
    if (!photoInput.files.length) {
      showError("Choose a photo to upload.");
      return;
    }
    setBusy(true);
    var csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;
    fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      headers: { Accept: "application/json", "X-CSRFToken": csrf },
      credentials: "same-origin",
    })
      .then(function (response) {
        return response.json().then(
          function (body) { return { ok: response.ok, status: response.status, body: body }; },
          function () { return { ok: false, status: response.status, body: null }; }
        );
      })
      .then(function (reply) {
        if (reply.ok) {
          showResult(reply.body);
        } else {
          var detail = reply.body && reply.body.detail;
          showError(detail || "Something went wrong (HTTP " + reply.status + "). Please try again.");
        }
      })
      .catch(function () {
        showError("The server could not be reached. Check your connection and try again.");
      })
      .then(function () { setBusy(false); });
  });
})();
