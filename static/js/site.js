// Small progressive enhancements shared by every page; the site works without them.
(function () {
  "use strict";

  // Sizes and colours that come from data, set through the CSSOM: the Content-Security-
  // Policy refuses style="" attributes in markup. Exposed for markup added later (studio).
  function applyDataStyles(root) {
    root.querySelectorAll("[data-compare-width]").forEach(function (el) {
      var w = Number(el.dataset.compareWidth), h = Number(el.dataset.compareHeight);
      if (!el.style.getPropertyValue("--pos")) el.style.setProperty("--pos", "50%");
      el.style.aspectRatio = w + " / " + h;
      el.style.maxWidth = "calc(72vh * " + w + " / " + h + ")";
    });
    root.querySelectorAll("[data-swatch-color]").forEach(function (el) {
      el.style.setProperty("--swatch", el.dataset.swatchColor);
    });
    root.querySelectorAll("[data-background-color]").forEach(function (el) {
      el.style.background = el.dataset.backgroundColor;
    });
  }
  window.vbgApplyDataStyles = applyDataStyles;
  applyDataStyles(document);

  // Dismiss flash messages.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-dismiss]");
    if (button) {
      var message = button.closest(".message");
      if (message) message.remove();
    }
  });

  // Close the account menu when clicking elsewhere or pressing Escape.
  document.addEventListener("click", function (event) {
    document.querySelectorAll("details.account-menu[open]").forEach(function (menu) {
      if (!menu.contains(event.target)) menu.removeAttribute("open");
    });
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") {
      document.querySelectorAll("details.account-menu[open]").forEach(function (menu) {
        menu.removeAttribute("open");
      });
    }
  });

  // Ask before destructive actions: <form data-confirm="Delete this?">.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) event.preventDefault();
  });

  // Copy buttons: <button data-copy="#element-id">.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var source = document.querySelector(button.getAttribute("data-copy"));
    if (!source) return;
    var text = source.value !== undefined ? source.value : source.textContent;
    var done = function () {
      var label = button.textContent;
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = label; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done);
    } else if (source.select) {
      source.select();
      document.execCommand("copy");
      done();
    }
  });

  // Drop zones: <label class="dropzone"><input type="file">…<span class="file-name"></span></label>.
  document.querySelectorAll(".dropzone").forEach(function (zone) {
    var input = zone.querySelector("input[type=file]");
    var nameEl = zone.querySelector(".file-name");
    if (!input) return;
    var show = function () {
      if (nameEl) nameEl.textContent = input.files.length ? input.files[0].name : "";
    };
    input.addEventListener("change", show);
    ["dragenter", "dragover"].forEach(function (type) {
      zone.addEventListener(type, function (event) {
        event.preventDefault();
        zone.classList.add("is-dragover");
      });
    });
    ["dragleave", "drop"].forEach(function (type) {
      zone.addEventListener(type, function () { zone.classList.remove("is-dragover"); });
    });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      if (event.dataTransfer && event.dataTransfer.files.length) {
        input.files = event.dataTransfer.files;
        input.dispatchEvent(new Event("change", { bubbles: true }));
      }
    });
  });
})();
