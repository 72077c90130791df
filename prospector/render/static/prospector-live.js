/*
 * Prospector live state (BSD-3-Clause, part of Prospector).
 *
 * Holds every parcel's current score and order (re-computed when the weights move,
 * through ProspectorScore) and paints the choropleth: the page carries one parcel-index
 * image (pixel = parcel row + 1) and colours each parcel's pixels from a per-parcel
 * colour table, so a re-rank recolours the whole map without any network or server.
 */
(function (global) {
  "use strict";

  var L = global.L;
  var PS = global.ProspectorScore;

  function decodeIndex(idx) {
    var out = {
      n: idx.n, id: idx.id, status_keys: idx.status_keys, group_keys: idx.group_keys,
      radius_km: idx.radius_km,
      idOrder: PS.decode(idx.id_order, Uint32Array),
      status: PS.decode(idx.status, Uint8Array),
      lon: PS.decode(idx.lon, Int32Array),
      lat: PS.decode(idx.lat, Int32Array),
      groups: PS.decode(idx.groups, Uint16Array),
      text: {}
    };
    Object.keys(idx.text || {}).forEach(function (k) {
      out.text[k] = { values: idx.text[k].values, codes: PS.decode(idx.text[k].codes, Uint32Array) };
    });
    if (idx.score) {
      out.score = PS.decode(idx.score, Float64Array);
      out.rank = PS.decode(idx.rank, Int32Array);
      out.columns = {};
      Object.keys(idx.columns || {}).forEach(function (k) {
        out.columns[k] = PS.decode(idx.columns[k], Float32Array);
      });
    }
    return out;
  }

  function rgba32(hex, alpha) {
    var h = String(hex).replace("#", "");
    var r = parseInt(h.slice(0, 2), 16), g = parseInt(h.slice(2, 4), 16), b = parseInt(h.slice(4, 6), 16);
    return ((alpha << 24) | (b << 16) | (g << 8) | r) >>> 0;
  }

  /* ---------- a canvas placed like an image overlay ---------- */

  var CanvasOverlay = L.ImageOverlay.extend({
    _initImage: function () {
      var c = (this._image = this.options.canvas);
      L.DomUtil.addClass(c, "leaflet-image-layer");
      if (this._zoomAnimated) L.DomUtil.addClass(c, "leaflet-zoom-animated");
      if (this.options.className) L.DomUtil.addClass(c, this.options.className);
      c.onselectstart = L.Util.falseFn;
      c.onmousemove = L.Util.falseFn;
    }
  });

  // One radio entry of the layer control per choropleth; they share the canvas.
  var ChoroplethMode = L.Layer.extend({
    initialize: function (live, key, title) { this._live = live; this.prospectorKey = key; this.title = title; },
    onAdd: function (map) { this._live.show(this.prospectorKey); map.addLayer(this._live.overlay); },
    onRemove: function (map) { if (this._live.mode === this.prospectorKey) this._live.hide(); }
  });

  /* ---------- the live state ---------- */

  function Live(api, data) {
    this.api = api;
    this.data = data;
    this.idx = decodeIndex(data.index);
    this.n = this.idx.n;
    this.listeners = [];
    this.scheme = (data.classes || {}).default || "rank";
    this.mode = null;
    this.orderings = {};
    this.scorer = data.scoring ? new PS.Scorer(data.scoring, this.n, this.idx.idOrder) : null;
    this.id2row = new Map();
    for (var i = 0; i < this.n; i++) if (this.idx.id[i] !== null) this.id2row.set(String(this.idx.id[i]), i);
    if (this.scorer) {
      this.runFamilies = Object.assign({}, this.scorer.runFamilies);
      this.runNums = Object.assign({}, this.scorer.runNums);
      this.rescore(this.runFamilies, this.runNums);
    } else {
      this.score = this.idx.score;
      this.columns = this.idx.columns;
      this.ordering = new PS.Ordering(this.score, this.idx.idOrder);
    }
    var r = data.raster;
    this.canvas = document.createElement("canvas");
    this.overlay = new CanvasOverlay("", [[r.bounds[1], r.bounds[0]], [r.bounds[3], r.bounds[2]]], {
      canvas: this.canvas, pane: "prospectorChoropleth", opacity: 0.8, className: "pm-raster",
      interactive: false
    });
  }

  // Decode the parcel-index image; calls back when pixels are ready.
  Live.prototype.load = function (done) {
    var self = this, img = new Image();
    img.onload = function () {
      var w = img.naturalWidth, h = img.naturalHeight;
      self.canvas.width = w;
      self.canvas.height = h;
      var scratch = document.createElement("canvas");
      scratch.width = w;
      scratch.height = h;
      var sctx = scratch.getContext("2d", { willReadFrequently: true });
      sctx.drawImage(img, 0, 0);
      var px = sctx.getImageData(0, 0, w, h).data;
      var index = new Uint32Array(w * h);
      for (var p = 0, q = 0; p < index.length; p++, q += 4) index[p] = (px[q] << 16) | (px[q + 1] << 8) | px[q + 2];
      self.pixels = index;
      self.ctx = self.canvas.getContext("2d");
      self.image = self.ctx.createImageData(w, h);
      self.image32 = new Uint32Array(self.image.data.buffer);
      self.paint();
      done(null);
    };
    img.onerror = function () { done("parcel index image failed to decode"); };
    img.src = this.data.raster.image;
  };

  Live.prototype.on = function (fn) { this.listeners.push(fn); };

  // Re-score and re-rank every parcel for family weights `fam` and sub-weights `nums`.
  Live.prototype.rescore = function (fam, nums) {
    var t0 = performance.now();
    var w = this.scorer.weights(fam, nums);
    if (!(w.total > 0)) return { ok: false, message: "No available criterion has weight: give weight to one." };
    this.fam = Object.assign({}, fam);
    this.nums = Object.assign({}, nums);
    this.effective = w.effective;
    this.score = this.scorer.score(w.effective);
    var t1 = performance.now();
    this.columns = this.scorer.familyScores(w.effective);
    var t2 = performance.now();
    this.ordering = new PS.Ordering(this.score, this.idx.idOrder);
    this.orderings = {};
    this.timings = { score: t1 - t0, families: t2 - t1, order: performance.now() - t2 };
    return { ok: true };
  };

  Live.prototype.update = function () {
    var t0 = performance.now();
    if (this.pixels) this.paint();
    var t1 = performance.now();
    var self = this;
    this.listeners.forEach(function (fn) { fn(self); });
    if (this.timings) {
      this.timings.paint = t1 - t0;
      this.timings.panels = performance.now() - t1;
    }
  };

  Live.prototype.valuesOf = function (key) {
    if (key === "score") return this.score;
    return this.columns[key] || null;
  };

  Live.prototype.orderingOf = function (key) {
    if (key === "score") return this.ordering;
    if (!this.orderings[key]) this.orderings[key] = new PS.Ordering(this.valuesOf(key), this.idx.idOrder);
    return this.orderings[key];
  };

  Live.prototype.rankOf = function (row) {
    return this.ordering.rankOf(row);
  };

  Live.prototype.topRows = function (k, keep) {
    return keep ? this.ordering.topWhere(k, keep) : this.ordering.top(k);
  };

  // Per-criterion contributions of parcel `row` (as Python's combine: WLC shares × score).
  Live.prototype.contributions = function (row) {
    if (!this.scorer) return null;
    var out = {}, total = 0, self = this;
    this.data.scoring.criteria.forEach(function (c) {
      var col = self.scorer.columns[c.key], w = self.effective[c.key];
      if (!col || !(w > 0)) return;
      out[c.key] = col[row] * w;
      total += out[c.key];
    });
    Object.keys(out).forEach(function (k) { out[k] = total > 0 ? out[k] / total * self.score[row] : 0; });
    return out;
  };

  Live.prototype.criterionValue = function (key, row) {
    var col = this.scorer && this.scorer.columns[key];
    return col ? col[row] : null;
  };

  Live.prototype.text = function (name, row) {
    var t = this.idx.text[name];
    return t ? t.values[t.codes[row]] : "";
  };

  /* ---------- classes and painting ---------- */

  // Class of every parcel for layer `key` under the current scheme; returns the legend.
  Live.prototype.classify = function (key) {
    var n = this.n, cls = new Int16Array(n).fill(-1), schemes = this.data.classes;
    if (key === "land_status") {
      var st = this.idx.status;
      for (var i = 0; i < n; i++) cls[i] = st[i];
      var keys = this.idx.status_keys, ls = this.data.land_status;
      return {
        classes: cls, key: key, kind: "categories", title: "Land status",
        labels: keys.map(function (k) { return ls[k].label; }),
        colors: keys.map(function (k) { return ls[k].color; }), nodata: schemes.nodata
      };
    }
    var values = this.valuesOf(key), ord = this.orderingOf(key), nv = ord.nValid;
    var title = (this.data.choropleths.filter(function (c) { return c.key === key; })[0] || {}).title || key;
    var labels = [], colors, note;
    if (this.scheme === "quantile") {
      var q = schemes.quantile, th = [];
      colors = q.colors;
      for (var k = 1; k < q.k; k++) th.push(nv ? ord.valueAt(nv - Math.ceil(nv * k / q.k)) : Infinity);
      for (i = 0; i < n; i++) {
        var v = values[i];
        if (v !== v) continue;
        var c = 0;
        while (c < th.length && v < th[c]) c++;
        cls[i] = c;
      }
      var hi = nv ? ord.valueAt(nv - 1) : NaN, lo = nv ? ord.valueAt(0) : NaN;
      for (k = 0; k < q.k; k++) {
        var top = k === 0 ? hi : th[k - 1], bottom = k < th.length ? th[k] : lo;
        labels.push(fmtNum(bottom) + " – " + fmtNum(top));
      }
      note = "Classes: quantiles of the current values (each about " + Math.round(100 / q.k) + " % of parcels).";
    } else {
      var r = schemes.rank, cuts = [], prev = 0;
      colors = r.colors;
      r.tops.forEach(function (p, j) {
        var kk = Math.ceil(nv * p / 100);
        cuts.push(ord.cutoff(kk));
        labels.push(r.labels[j] + (kk > prev ? " (ranks " + (prev + 1) + "–" + kk + ")" : " (none)"));
        prev = kk;
      });
      var nc = cuts.length, cv = new Float64Array(nc), ci = new Float64Array(nc), ids = this.idx.idOrder;
      for (var j = 0; j < nc; j++) {
        var cut = cuts[j];
        cv[j] = cut ? (cut.all ? -Infinity : cut.value) : Infinity;
        ci[j] = cut ? (cut.all ? Infinity : cut.id) : -1;
      }
      for (i = 0; i < n; i++) {
        var x = values[i];
        if (x !== x) continue;
        var m = 0;
        while (m < nc && !(x > cv[m] || (x === cv[m] && ids[i] <= ci[m]))) m++;
        if (m < nc) cls[i] = m;
      }
      note = "Classes: rank percentile of the current " + (key === "score" ? "score" : "values") +
        " among " + nv + " parcels (ties by parcel id).";
    }
    return {
      classes: cls, key: key, kind: "classes", title: title, labels: labels, colors: colors,
      nodata: schemes.nodata, scheme: this.scheme, note: note
    };
  };

  Live.prototype.show = function (key) {
    this.mode = key;
    if (this.pixels) this.paint();
    if (this.api.legend) this.api.legend.update(this.legend || null);
  };

  Live.prototype.hide = function () {
    this.mode = null;
    this.legend = null;
    if (this.api.map.hasLayer(this.overlay)) this.api.map.removeLayer(this.overlay);
    if (this.api.legend) this.api.legend.update(null);
  };

  Live.prototype.paint = function () {
    if (!this.mode) return;
    var lg = this.classify(this.mode);
    this.legend = lg;
    var lut = new Uint32Array(this.n + 1), pal = lg.colors.map(function (c) { return rgba32(c, 255); });
    var nodata = rgba32(lg.nodata, 255), cls = lg.classes;
    for (var i = 0; i < this.n; i++) lut[i + 1] = cls[i] < 0 ? nodata : pal[cls[i]];
    var px = this.pixels, out = this.image32;
    for (var p = 0; p < px.length; p++) out[p] = lut[px[p]];
    this.ctx.putImageData(this.image, 0, 0);
    if (this.api.legend) this.api.legend.update(lg);
  };

  function fmtNum(v) {
    return typeof v === "number" && isFinite(v) ? v.toFixed(2) : "–";
  }

  global.ProspectorLive = { Live: Live, ChoroplethMode: ChoroplethMode, decodeIndex: decodeIndex };
})(window);
