/*
 * Prospector weights and shortlist panel (BSD-3-Clause, part of Prospector).
 *
 * Sliders for the run's criterion families and their sub-criteria (built from the
 * payload's scoring description, so any family, a learned `prospectivity` included,
 * gets one), the target shortlist with filters and offline downloads (Blob + link),
 * the weights in the URL hash, and the test API:
 *   prospector.setWeights({family: weight, ...}[, {criterion: share, ...}]) -> ms
 *   prospector.weights() -> {family: weight}   (keys as the run's score.weights)
 *   prospector.topIds(n) -> [parcel_id, ...]   (current rank order)
 * All text goes in with textContent: nothing from the data is parsed as HTML.
 */
(function (global) {
  "use strict";

  var L = global.L;

  function attach(api, data) {
    var D = global.ProspectorMap.dom, el = D.el, add = D.add, fmt = D.fmt;
    var live = api.live, spec = data.scoring || null;
    var panel = { sliders: {}, subSliders: {} };
    api.panel = panel;

    /* ---------- weights ---------- */

    function now() { return global.performance ? performance.now() : Date.now(); }

    function familyKeys() { return spec ? spec.families.map(function (f) { return f.key; }) : []; }

    function apply(fam, nums) {
      var t0 = now();
      var r = live.rescore(fam, nums);
      if (!r.ok) throw new Error(r.message);
      live.changed = !sameWeights(fam, nums);
      live.update();
      return now() - t0;
    }

    function sameWeights(fam, nums) {
      return familyKeys().every(function (k) { return (fam[k] || 0) === (live.runFamilies[k] || 0); }) &&
        Object.keys(live.runNums).every(function (k) { return nums[k] === live.runNums[k]; });
    }

    api.setWeights = function (weights, subWeights) {
      if (!spec) throw new Error("This map was built without criteria: its weights are fixed.");
      var fam = {}, nums = Object.assign({}, live.nums);
      var known = familyKeys();
      Object.keys(weights || {}).forEach(function (k) {
        if (known.indexOf(k) < 0) throw new Error("Unknown criterion family '" + k + "'; the run has " + known.join(", ") + ".");
        var w = Number(weights[k]);
        if (!(w >= 0) || !isFinite(w)) throw new Error("Weight of '" + k + "' must be a finite number >= 0.");
        fam[k] = w;
      });
      known.forEach(function (k) { if (!(k in fam)) fam[k] = 0; }); // as a config's score.weights
      Object.keys(subWeights || {}).forEach(function (k) {
        if (!(k in nums)) throw new Error("Unknown criterion '" + k + "'.");
        var w = Number(subWeights[k]);
        if (!(w >= 0) || !isFinite(w)) throw new Error("Share of '" + k + "' must be a finite number >= 0.");
        nums[k] = w;
      });
      var ms = apply(fam, nums);
      syncSliders();
      writeHash();
      return ms;
    };

    api.weights = function () {
      if (!spec) return Object.assign({}, (data.info || {}).weights || {});
      var out = {};
      familyKeys().forEach(function (k) { out[k] = live.fam[k] || 0; });
      return out;
    };

    api.subWeights = function () { return spec ? Object.assign({}, live.nums) : {}; };

    api.resetWeights = function () {
      if (!spec) return 0;
      return api.setWeights(live.runFamilies, live.runNums);
    };

    api.topIds = function (n) {
      return live.topRows(Math.max(0, n | 0)).map(function (i) { return live.idx.id[i]; });
    };

    /* ---------- URL hash: #weights=value:0.6,access:0.25;shares=access_road:0.5 ---------- */

    function writeHash() {
      if (!spec || !global.history || !global.history.replaceState) return;
      var parts = [];
      if (live.changed) {
        parts.push("weights=" + familyKeys().map(function (k) { return k + ":" + round6(live.fam[k] || 0); }).join(","));
        var changedNums = Object.keys(live.nums).filter(function (k) { return live.nums[k] !== live.runNums[k]; });
        if (changedNums.length) parts.push("shares=" + changedNums.map(function (k) { return k + ":" + round6(live.nums[k]); }).join(","));
      }
      var url = global.location.href.split("#")[0] + (parts.length ? "#" + parts.join(";") : "");
      try { global.history.replaceState(null, "", url); } catch (e) { /* file:// may refuse */ }
    }

    function round6(v) { return Math.round(v * 1e6) / 1e6; }

    function readHash() {
      var h = String(global.location.hash || "").replace(/^#/, "");
      if (!h || !spec) return false;
      var fam = null, nums = {};
      h.split(";").forEach(function (part) {
        var kv = part.split("="), target;
        if (kv[0] === "weights") target = fam = {};
        else if (kv[0] === "shares") target = nums;
        else return;
        (kv[1] || "").split(",").forEach(function (pair) {
          var p = pair.split(":");
          var v = Number(p[1]);
          if (p.length === 2 && isFinite(v) && v >= 0) target[decodeURIComponent(p[0])] = v;
        });
      });
      if (!fam) return false;
      try { api.setWeights(fam, nums); return true; } catch (e) { panel.hashError = String(e.message || e); return false; }
    }

    /* ---------- the panel ---------- */

    var ctl = L.control({ position: "topright" });
    ctl.onAdd = function () {
      var box = el("div", "pm-panel pm-live");
      box.id = "pm-live";
      weightsSection(add(box, el("section", "pm-weights")));
      shortlistSection(add(box, el("section", "pm-shortlist")));
      L.DomEvent.disableClickPropagation(box);
      L.DomEvent.disableScrollPropagation(box);
      return box;
    };

    function weightsSection(sec) {
      var head = add(sec, el("div", "pm-title"));
      add(head, el("strong", null, "Weights"));
      if (!spec) {
        add(sec, el("div", "pm-muted", "Fixed: this map was built without the run's criteria."));
        return;
      }
      var reset = add(head, el("button", "pm-toggle", "Reset to the run's weights"));
      reset.type = "button";
      reset.id = "pm-reset";
      reset.addEventListener("click", function () { api.resetWeights(); });
      var pending = null;
      function schedule() {
        if (pending) return;
        pending = global.requestAnimationFrame(function () {
          pending = null;
          var fam = {}, nums = Object.assign({}, live.nums);
          Object.keys(panel.sliders).forEach(function (k) { fam[k] = Number(panel.sliders[k].input.value); });
          Object.keys(panel.subSliders).forEach(function (k) { nums[k] = Number(panel.subSliders[k].input.value); });
          try {
            api.lastMs = apply(fam, nums);
            msg.textContent = "";
            writeHash();
          } catch (e) {
            msg.textContent = String(e.message || e);
          }
          syncLabels();
        });
      }
      spec.families.forEach(function (f) {
        var members = spec.criteria.filter(function (c) { return c.family === f.key; });
        var usable = members.some(function (c) { return c.available; });
        var fs = add(sec, el("div", "pm-family"));
        panel.sliders[f.key] = slider(fs, f.label, f.key, usable, usable ? null : reasonOf(members), "pm-slider-family");
        panel.sliders[f.key].input.addEventListener("input", schedule);
        if (members.length > 1) {
          var sub = add(fs, el("div", "pm-sub"));
          members.forEach(function (c) {
            var s = slider(sub, c.label, c.key, c.available, c.available ? null : (c.reason || "input missing"), "pm-slider-sub");
            s.input.max = String(Math.max(1, c.num * 2));
            panel.subSliders[c.key] = s;
            s.input.addEventListener("input", schedule);
          });
        }
      });
      if (missing.length) add(sec, el("div", "pm-muted pm-disabled-reason", "Not available: " + missing.join("; ") + "."));
      var msg = add(sec, el("div", "pm-warn pm-weights-msg"));
      msg.setAttribute("role", "status");
      var method = spec.method === "wlc" ? "weighted sum" : spec.method === "gamma" ? "fuzzy gamma (γ = " + spec.gamma + ")" : "TOPSIS";
      add(sec, el("div", "pm-muted", "Moving a slider re-scores and re-ranks every parcel here, with the run's formula (" +
        method + "; weights rescaled to sum 1; missing criteria disabled)." +
        (spec.dtype === "float32" ? " Criteria are stored to 7 digits: parcels whose scores differ by less than ~1e-7 may swap." : "")));
      syncSliders();
    }

    var missing = [];

    function reasonOf(members) {
      return members.map(function (c) { return c.reason; }).filter(Boolean).join("; ") || "input missing";
    }

    function slider(parent, label, key, enabled, reason, cls) {
      var row = add(parent, el("label", "pm-slider " + cls));
      add(row, el("span", "pm-slider-name", label));
      var input = add(row, el("input"));
      input.type = "range";
      input.min = "0";
      input.max = "1";
      input.step = "any";
      input.setAttribute("data-key", key);
      input.setAttribute("aria-label", "Weight of " + label);
      var out = add(row, el("span", "pm-num pm-slider-value"));
      if (!enabled) {
        input.disabled = true;
        row.title = label + " is not available: " + reason;
        row.className += " pm-off";
        out.textContent = "n/a";
        missing.push(label + " (" + reason + ")");
      }
      return { input: input, out: out };
    }

    function syncSliders() {
      if (!spec) return;
      Object.keys(panel.sliders).forEach(function (k) { panel.sliders[k].input.value = String(live.fam[k] || 0); });
      Object.keys(panel.subSliders).forEach(function (k) { panel.subSliders[k].input.value = String(live.nums[k]); });
      syncLabels();
    }

    function syncLabels() {
      var total = 0;
      Object.keys(panel.sliders).forEach(function (k) { total += live.fam[k] || 0; });
      Object.keys(panel.sliders).forEach(function (k) {
        if (panel.sliders[k].input.disabled) return;
        var w = live.fam[k] || 0;
        panel.sliders[k].out.textContent = total > 0 ? Math.round(100 * w / total) + " %" : "0 %";
      });
      Object.keys(panel.subSliders).forEach(function (k) {
        if (panel.subSliders[k].input.disabled) return;
        var e = live.effective[k] || 0;
        panel.subSliders[k].out.textContent = (100 * e).toFixed(e > 0 && e < 0.1 ? 1 : 0) + " %";
      });
    }

    /* ---------- shortlist ---------- */

    var list = { n: 25, status: "", group: "", source: "cells" };
    var targets = data.targets || null;
    panel.list = list;

    function shortlistRows() {
      var idx = live.idx, keys = idx.status_keys, gbit = 0;
      if (list.group) gbit = 1 << idx.group_keys.indexOf(list.group);
      var keep = null;
      if (list.status || gbit) {
        keep = function (i) {
          if (list.status && keys[idx.status[i]] !== list.status) return false;
          if (gbit && !(idx.groups[i] & gbit)) return false;
          return true;
        };
      }
      return live.topRows(list.n, keep);
    }
    api.shortlist = function () {
      if (list.source === "targets") return targetRecords();
      return shortlistRows().map(function (i) { return record(i); });
    };

    // Targets (clusters of high-scoring cells) are the run's: they do not follow the sliders.
    function targetRecords() {
      var out = [];
      for (var i = 0; i < targets.target_id.length && out.length < list.n; i++) {
        out.push({
          rank: targets.rank[i], target_id: targets.target_id[i], score: targets.best_score[i],
          land_status: targets.status_mix[i], n_cells: targets.n_cells[i], area_km2: targets.area_km2[i],
          best_parcel_id: targets.best_parcel_id[i], critical_commodities: targets.critical_commodities[i],
          commodities: targets.commodities[i], lon: targets.lon[i], lat: targets.lat[i], row: i
        });
      }
      return out;
    }

    function openTarget(r) {
      var d = el("div", "pm-popup");
      add(d, el("h3", null, "Target " + r.target_id));
      add(d, el("div", "pm-rank-value", "Rank " + r.rank + " (the run's)"));
      var t = add(d, el("table", "pm-table"));
      [["Cells", r.n_cells], ["Area", fmt(r.area_km2, 1) + " km²"], ["Best cell", r.best_parcel_id],
        ["Best score", fmt(r.score, 3)], ["Land status", r.land_status], ["Critical", r.critical_commodities]]
        .forEach(function (x) {
          var tr = add(t, el("tr"));
          add(tr, el("th", null, x[0]));
          add(tr, el("td", null, x[1] === null || x[1] === undefined || x[1] === "" ? "–" : x[1]));
        });
      api.map.setView([r.lat, r.lon], Math.max(api.map.getZoom(), 11));
      L.popup({ maxWidth: 320 }).setLatLng([r.lat, r.lon]).setContent(d).openOn(api.map);
    }

    if (targets) {
      var outlines = L.geoJSON(targets.outlines, {
        interactive: false,
        style: function () { return { color: "#d62728", weight: 2, fill: false, opacity: 0.9 }; }
      });
      api.layers.targets = outlines;
      if (api.layerControl) api.layerControl.addOverlay(outlines, "Targets (" + targets.target_id.length + ", outlines)");
    }

    function record(i) {
      var idx = live.idx;
      var out = {
        rank: live.rankOf(i), parcel_id: idx.id[i], score: live.score[i],
        land_status: idx.status_keys[idx.status[i]], agency: live.text("agency", i),
        critical_commodities: live.text("critical_commodities", i), commodities: live.text("commodities", i),
        lon: idx.lon[i] / 1e5, lat: idx.lat[i] / 1e5
      };
      Object.keys(live.columns || {}).forEach(function (k) { out[k] = live.columns[k][i]; });
      return out;
    }

    function shortlistSection(sec) {
      var head = add(sec, el("div", "pm-title"));
      add(head, el("strong", null, "Targets"));
      var toggle = add(head, el("button", "pm-toggle", "hide"));
      toggle.type = "button";
      var body = add(sec, el("div", "pm-shortlist-body"));
      toggle.addEventListener("click", function () {
        var open = body.style.display === "none";
        body.style.display = open ? "" : "none";
        toggle.textContent = open ? "hide" : "show";
      });
      var filters = add(body, el("div", "pm-filters"));
      if (targets) {
        var srcSel = add(filters, el("select"));
        srcSel.setAttribute("aria-label", "Cells or targets");
        add(srcSel, el("option", null, "cells (live)")).value = "cells";
        add(srcSel, el("option", null, "targets (run's)")).value = "targets";
        srcSel.addEventListener("change", function () { list.source = srcSel.value; render(); });
      }
      var nSel = add(filters, el("select"));
      nSel.setAttribute("aria-label", "Number of targets");
      [10, 25, 50, 100, 250].forEach(function (n) { add(nSel, el("option", null, "top " + n)).value = String(n); });
      nSel.value = String(list.n);
      var stSel = add(filters, el("select"));
      stSel.setAttribute("aria-label", "Land status filter");
      add(stSel, el("option", null, "any land status")).value = "";
      live.idx.status_keys.forEach(function (k) {
        add(stSel, el("option", null, (data.land_status[k] || { label: k }).label)).value = k;
      });
      var grSel = add(filters, el("select"));
      grSel.setAttribute("aria-label", "Commodity group filter");
      add(grSel, el("option", null, "any commodity group")).value = "";
      var present = 0;
      for (var i = 0; i < live.n; i++) present |= live.idx.groups[i];
      live.idx.group_keys.forEach(function (g, b) {
        if (!(present & (1 << b))) return;
        add(grSel, el("option", null, (data.deposit_groups[g] || { label: g }).label)).value = g;
      });
      [[nSel, "n"], [stSel, "status"], [grSel, "group"]].forEach(function (p) {
        p[0].addEventListener("change", function () {
          list[p[1]] = p[1] === "n" ? Number(p[0].value) : p[0].value;
          render();
        });
      });
      var dl = add(body, el("div", "pm-downloads"));
      var csv = add(dl, el("button", "pm-toggle", "Download CSV"));
      csv.type = "button";
      csv.addEventListener("click", function () { download("csv"); });
      var gj = add(dl, el("button", "pm-toggle", "Download GeoJSON"));
      gj.type = "button";
      gj.addEventListener("click", function () { download("geojson"); });
      var table = add(body, el("table", "pm-table pm-targets"));
      var note = add(body, el("div", "pm-muted"));

      function render() {
        table.textContent = "";
        if (list.source === "targets") return renderTargets();
        stSel.disabled = grSel.disabled = false;
        var hr = add(add(table, el("thead")), el("tr"));
        ["#", "parcel", "score", "status", "critical"].forEach(function (h) { add(hr, el("th", null, h)); });
        var tb = add(table, el("tbody"));
        var rows = shortlistRows();
        rows.forEach(function (i) {
          var r = record(i);
          var tr = add(tb, el("tr"));
          tr.setAttribute("data-row", String(i));
          tr.tabIndex = 0;
          add(tr, el("td", "pm-num", r.rank));
          add(tr, el("td", "pm-id", r.parcel_id));
          add(tr, el("td", "pm-num", fmt(r.score, 3)));
          var st = add(tr, el("td"));
          st.appendChild(D.swatch((data.land_status[r.land_status] || { color: "#999" }).color));
          st.title = (data.land_status[r.land_status] || { label: r.land_status }).label;
          add(tr, el("td", "pm-crit", r.critical_commodities || "–"));
          function go() { global.ProspectorMap.openParcel(api, i, true); }
          tr.addEventListener("click", go);
          tr.addEventListener("keydown", function (e) { if (e.key === "Enter") go(); });
        });
        note.textContent = rows.length < list.n ? rows.length + " parcels match the filters." :
          "Under the current weights; click a row to fly to the parcel.";
      }
      function renderTargets() {
        stSel.disabled = grSel.disabled = true;
        var hr = add(add(table, el("thead")), el("tr"));
        ["#", "target", "cells", "best", "critical"].forEach(function (h) { add(hr, el("th", null, h)); });
        var tb = add(table, el("tbody"));
        targetRecords().forEach(function (r) {
          var tr = add(tb, el("tr"));
          tr.tabIndex = 0;
          add(tr, el("td", "pm-num", r.rank));
          add(tr, el("td", "pm-id", r.target_id));
          add(tr, el("td", "pm-num", r.n_cells));
          add(tr, el("td", "pm-num", fmt(r.score, 3)));
          add(tr, el("td", "pm-crit", r.critical_commodities || "–"));
          tr.addEventListener("click", function () { openTarget(r); });
          tr.addEventListener("keydown", function (e) { if (e.key === "Enter") openTarget(r); });
        });
        note.textContent = "Targets are clusters of high-scoring cells found by the run, at the run's weights.";
      }
      panel.render = render;
      live.on(render);
      render();
    }

    function download(kind) {
      var rows = api.shortlist(), text, type, name;
      var cols = ["rank", "parcel_id", "score", "land_status", "agency", "critical_commodities", "commodities", "lon", "lat"];
      if (list.source === "targets") {
        cols = ["rank", "target_id", "score", "n_cells", "area_km2", "best_parcel_id", "land_status", "critical_commodities", "commodities", "lon", "lat"];
      } else {
        Object.keys(live.columns || {}).forEach(function (k) { cols.push(k); });
      }
      var weights = api.weights();
      if (kind === "csv") {
        text = cols.join(",") + "\n" + rows.map(function (r) {
          return cols.map(function (c) { return csvCell(r[c]); }).join(",");
        }).join("\n") + "\n";
        type = "text/csv";
        name = list.source + ".csv";
      } else {
        text = JSON.stringify({
          type: "FeatureCollection",
          properties: { weights: weights, shares: api.subWeights(), note: "Representative points of the parcels." },
          features: rows.map(function (r) {
            var props = {};
            cols.forEach(function (c) { if (c !== "lon" && c !== "lat") props[c] = r[c]; });
            return { type: "Feature", properties: props, geometry: { type: "Point", coordinates: [r.lon, r.lat] } };
          })
        }, null, 1);
        type = "application/geo+json";
        name = list.source + ".geojson";
      }
      var blob = new Blob([text], { type: type });
      var a = document.createElement("a");
      a.href = URL.createObjectURL(blob);
      a.download = name;
      document.body.appendChild(a);
      a.click();
      setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 0);
      api.lastDownload = { name: name, text: text };
    }

    function csvCell(v) {
      if (v === null || v === undefined) return "";
      var s = typeof v === "number" ? (isFinite(v) ? String(v) : "") : String(v);
      if (/^[=+\-@\t\r]/.test(s) && typeof v !== "number") s = "'" + s; // no formulas in spreadsheets
      return /[",\n\r]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
    }

    ctl.addTo(api.map);
    readHash();
    return panel;
  }

  global.ProspectorPanel = { attach: attach };
})(window);
