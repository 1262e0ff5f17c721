// Instant previews: the composite drawn in the browser from the stored source and mask,
// with the same placement geometry as the server (compositing/placement.py — keep the two
// in step). No model run, no request, no history entry: the server renders the saved
// result from the same options when the person presses Save.
(function () {
  "use strict";

  var SUBJECT_ALPHA = 26;
  var BLUR_SHARE_PER_UNIT = 0.0006;
  var POSITIONS = { center: [50, 50], top: [50, 0], bottom: [50, 100] };

  function num(value, fallback) {
    var n = parseFloat(String(value == null ? "" : value).replace("%", ""));
    return isFinite(n) ? n : fallback;
  }
  function clamp(v, lo, hi) { return Math.min(hi, Math.max(lo, v)); }
  function point(value, fallback) {
    var parts = String(value || "").split(",");
    if (parts.length !== 2) return fallback;
    return [clamp(num(parts[0], fallback[0]), 0, 100), clamp(num(parts[1], fallback[1]), 0, 100)];
  }
  function bool(value) { return /^(1|true|on|yes)$/i.test(String(value || "").trim()); }

  // The raw options (the API's names) -> the placement, as compositing.services.placement
  // parses them; out-of-range values are clamped here (the server refuses them on Save).
  function parse(raw) {
    var size = String(raw.output_size || "original").trim().toLowerCase();
    var m = /^(\d{1,5})\s*[x×]\s*(\d{1,5})$/.exec(size);
    var margin = /^\s*([0-9.]+)\s*(px|%)?\s*$/i.exec(String(raw.crop_margin || "0"));
    var blur = String(raw.blur_strength || "light").toLowerCase();
    var position = String(raw.position || "center").toLowerCase();
    return {
      outputSize: m ? [clamp(+m[1], 16, 8000), clamp(+m[2], 16, 8000)] : null,
      focus: point(raw.background_focus, [50, 50]),
      zoom: clamp(num(raw.background_zoom, 1), 1, 4),
      mirror: bool(raw.background_mirror),
      scale: clamp(num(raw.scale, 100), 10, 100),
      position: POSITIONS[position] || point(position, [50, 50]),
      crop: bool(raw.crop),
      margin: margin ? [num(margin[1], 0), (margin[2] || "px").toLowerCase()] : [0, "px"],
      channels: String(raw.channels || "rgba").toLowerCase() === "alpha" ? "alpha" : "rgba",
      blur: blur === "strong" ? 60 : blur === "light" ? 25 : clamp(num(blur, 25), 1, 100),
    };
  }

  function subjectBox(alpha, w, h) {
    var top = -1, bottom = -1, left = w, right = -1;
    for (var y = 0; y < h; y++) {
      var row = y * w, any = false;
      for (var x = 0; x < w; x++) {
        if (alpha[row + x] >= SUBJECT_ALPHA) {
          any = true;
          if (x < left) left = x;
          if (x > right) right = x;
        }
      }
      if (any) { if (top < 0) top = y; bottom = y; }
    }
    return top < 0 ? null : [left, top, right + 1, bottom + 1];
  }

  function geometry(p, source) {
    var region = [0, 0, source.width, source.height];
    if (p.crop) {
      var box = source.box || (source.box = subjectBox(source.alpha, source.width, source.height));
      if (box) {
        var mx = p.margin[1] === "%" ? p.margin[0] * (box[2] - box[0]) / 100 : p.margin[0];
        var my = p.margin[1] === "%" ? p.margin[0] * (box[3] - box[1]) / 100 : p.margin[0];
        region = [box[0] - mx, box[1] - my, box[2] + mx, box[3] + my];
      }
    }
    var rw = region[2] - region[0], rh = region[3] - region[1];
    var canvas = p.outputSize || [Math.max(1, Math.round(rw)), Math.max(1, Math.round(rh))];
    var f = Math.min(canvas[0] / rw, canvas[1] / rh) * p.scale / 100;
    var w = rw * f, h = rh * f;
    var left = (canvas[0] - w) * p.position[0] / 100, top = (canvas[1] - h) * p.position[1] / 100;
    var rect = [left, top, left + w, top + h];
    // The photo clipped to the region, mapped onto rect, clipped to the canvas; edges
    // rounded to whole pixels and the source box following them (layer_paste_box).
    var ox = rect[0] - region[0] * f, oy = rect[1] - region[1] * f;
    var vis = [
      Math.max(rect[0], ox, 0), Math.max(rect[1], oy, 0),
      Math.min(rect[2], ox + source.width * f, canvas[0]),
      Math.min(rect[3], oy + source.height * f, canvas[1]),
    ].map(Math.round);
    var paste = null;
    if (vis[2] > vis[0] && vis[3] > vis[1]) {
      var src = [(vis[0] - ox) / f, (vis[1] - oy) / f, (vis[2] - ox) / f, (vis[3] - oy) / f];
      src = [Math.max(0, src[0]), Math.max(0, src[1]),
        Math.min(source.width, src[2]), Math.min(source.height, src[3])];
      paste = { dst: vis, src: src };
    }
    return { canvas: canvas, paste: paste };
  }

  function backgroundBox(size, canvas, p) {
    var f = Math.max(canvas[0] / size[0], canvas[1] / size[1]) * p.zoom;
    var w = canvas[0] / f, h = canvas[1] / f;
    var left = (size[0] - w) * p.focus[0] / 100, top = (size[1] - h) * p.focus[1] / 100;
    return [left, top, w, h];
  }

  function makeCanvas(w, h) {
    var c = document.createElement("canvas");
    c.width = w;
    c.height = h;
    return c;
  }

  // The source photo and its mask, decoded once: the cut-out (alpha = mask) and the matte.
  function prepare(photoImg, maskImg) {
    var w = photoImg.naturalWidth, h = photoImg.naturalHeight;
    var photo = makeCanvas(w, h), pctx = photo.getContext("2d", { willReadFrequently: true });
    pctx.drawImage(photoImg, 0, 0);
    var mask = makeCanvas(w, h), mctx = mask.getContext("2d", { willReadFrequently: true });
    mctx.drawImage(maskImg, 0, 0, w, h);
    var pixels = pctx.getImageData(0, 0, w, h), m = mctx.getImageData(0, 0, w, h);
    var alpha = new Uint8Array(w * h);
    var matte = mctx.createImageData(w, h);
    for (var i = 0, j = 0; i < alpha.length; i++, j += 4) {
      var a = m.data[j];
      alpha[i] = a;
      pixels.data[j + 3] = a;
      matte.data[j] = matte.data[j + 1] = matte.data[j + 2] = 255;
      matte.data[j + 3] = a;
    }
    var cutout = makeCanvas(w, h);
    cutout.getContext("2d").putImageData(pixels, 0, 0);
    mctx.putImageData(matte, 0, 0); // the mask canvas becomes white with alpha = mask
    return { width: w, height: h, photo: photo, cutout: cutout, matte: mask, alpha: alpha, blurs: {} };
  }

  // The photo's own background, the person left out, blurred (a normalised convolution,
  // as the server's blurred_background_image): colour x weight and weight are blurred
  // together as premultiplied RGBA, so reading it back divides one by the other.
  function blurredBackground(source, strength) {
    if (source.blurs[strength]) return source.blurs[strength];
    var w = source.width, h = source.height;
    var sigma = strength * BLUR_SHARE_PER_UNIT * Math.max(w, h);
    var weighted = makeCanvas(w, h), wctx = weighted.getContext("2d");
    var data = source.photo.getContext("2d").getImageData(0, 0, w, h);
    for (var i = 0, j = 3; i < source.alpha.length; i++, j += 4) {
      data.data[j] = Math.round(255 * clamp((25.5 - source.alpha[i]) / 25.5, 0, 1));
    }
    wctx.putImageData(data, 0, 0);
    var out = makeCanvas(w, h), ctx = out.getContext("2d");
    ctx.filter = "blur(" + Math.max(4 * sigma, 8) + "px)";
    ctx.drawImage(source.photo, 0, 0); // where no background is near: the plain blur
    ctx.drawImage(weighted, 0, 0);
    ctx.filter = "blur(" + sigma + "px)";
    ctx.drawImage(weighted, 0, 0);
    ctx.filter = "none";
    source.blurs[strength] = out;
    return out;
  }

  function drawBackground(ctx, image, size, canvas, p) {
    var box = backgroundBox(size, canvas, p);
    ctx.save();
    if (p.mirror) {
      ctx.translate(canvas[0], 0);
      ctx.scale(-1, 1);
    }
    ctx.drawImage(image, box[0], box[1], box[2], box[3], 0, 0, canvas[0], canvas[1]);
    ctx.restore();
  }

  // Draw the composite into ``target`` (a canvas) at the output's full size.
  // choice: {mode: image|color|blur|transparent, background: an <img> (mode image),
  // color: "#RRGGBB"}; raw: the placement options by their API names.
  function render(target, source, choice, raw) {
    var p = parse(raw);
    var g = geometry(p, source);
    var cw = g.canvas[0], ch = g.canvas[1];
    if (target.width !== cw) target.width = cw;
    if (target.height !== ch) target.height = ch;
    var ctx = target.getContext("2d");
    ctx.imageSmoothingEnabled = true;
    ctx.imageSmoothingQuality = "high";
    ctx.clearRect(0, 0, cw, ch);
    var layer = p.channels === "alpha" ? source.matte : source.cutout;
    if (p.channels === "alpha") {
      ctx.fillStyle = "#000";
      ctx.fillRect(0, 0, cw, ch);
    } else if (choice.mode === "color") {
      ctx.fillStyle = choice.color || "#000000";
      ctx.fillRect(0, 0, cw, ch);
    } else if (choice.mode === "blur") {
      drawBackground(ctx, blurredBackground(source, p.blur), [source.width, source.height], g.canvas, p);
    } else if (choice.mode === "image" && choice.background && choice.background.naturalWidth) {
      var bg = choice.background;
      drawBackground(ctx, bg, [bg.naturalWidth, bg.naturalHeight], g.canvas, p);
    }
    if (g.paste) {
      var s = g.paste.src, d = g.paste.dst;
      ctx.drawImage(layer, s[0], s[1], s[2] - s[0], s[3] - s[1], d[0], d[1], d[2] - d[0], d[3] - d[1]);
    }
    target.dataset.transparent = p.channels !== "alpha" && choice.mode === "transparent" ? "1" : "";
    return { width: cw, height: ch };
  }

  function loadImage(url) {
    return new Promise(function (resolve, reject) {
      var img = new Image();
      img.decoding = "async";
      img.crossOrigin = "anonymous"; // files in S3: the bucket must allow CORS GET (README)
      img.onload = function () { resolve(img); };
      img.onerror = function () { reject(new Error("could not load " + url)); };
      img.src = url;
    });
  }

  window.vbgPreview = { parse: parse, prepare: prepare, render: render, loadImage: loadImage };
})();
