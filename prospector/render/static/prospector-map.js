/*
 * Prospector offline map (BSD-3-Clause, part of Prospector).
 *
 * Draws the payload written by prospector.render.build_map on a Leaflet map:
 * rasterised choropleths of every parcel, vector outlines + popups for the
 * detailed parcels, clustered deposits, withdrawals, access lines, hillshade,
 * legend, header panel, search, measure, area-of-interest drawing, fullscreen
 * and mouse coordinates.  It makes no network request (except basemap tiles
 * when the user chose an online basemap).
 *
 * Safety: every piece of text from the data is inserted with textContent or as
 * a DOM attribute value, never as HTML.
 */
(function (global) {
  "use strict";

  var L = global.L;

  /* ---------- small DOM helpers (text only, never innerHTML) ---------- */

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function add(parent, child) {
    parent.appendChild(child);
    return child;
  }

  function isNum(v) {
    return typeof v === "number" && isFinite(v);
  }

  function fmt(v, digits) {
    return isNum(v) ? v.toFixed(digits === undefined ? 2 : digits) : "–";
  }

  function pct(v) {
    return isNum(v) ? Math.round(v * 100) + " %" : "–";
  }

  function km(v) {
    return isNum(v) ? (v < 10 ? v.toFixed(1) : v.toFixed(0)) + " km" : "–";
  }

  function humanise(key) {
    return String(key).replace(/_/g, " ");
  }

  function safeHref(url) {
    // Relative links and http(s) only: no javascript:, data: or other schemes.
    var s = String(url || "").trim();
    if (/^[a-z][a-z0-9+.\-]*:/i.test(s) && !/^https?:/i.test(s)) return null;
    return s || null;
  }

  function bar(value, color) {
    var outer = el("span", "pm-bar");
    var inner = add(outer, el("span", "pm-bar-fill"));
    inner.style.width = (isNum(value) ? Math.max(0, Math.min(1, Math.abs(value))) * 100 : 0) + "%";
    if (color) inner.style.background = color;
    return outer;
  }

  function row(table, label, value) {
    var tr = add(table, el("tr"));
    add(tr, el("th", null, label));
    var td = add(tr, el("td"));
    if (value instanceof Node) td.appendChild(value);
    else td.textContent = value === null || value === undefined || value === "" ? "–" : String(value);
    return tr;
  }

  function swatch(color, extraClass) {
    var s = el("span", "pm-swatch" + (extraClass ? " " + extraClass : ""));
    s.style.background = color;
    return s;
  }

  /* ---------- geometry helpers ---------- */

  function ringAreaKm2(latlngs) {
    // Spherical excess approximation (as in Leaflet.draw's geodesicArea).
    var R = 6378137, area = 0, n = latlngs.length;
    if (n < 3) return 0;
    for (var i = 0; i < n; i++) {
      var p1 = latlngs[i], p2 = latlngs[(i + 1) % n];
      area += ((p2.lng - p1.lng) * Math.PI / 180) *
        (2 + Math.sin(p1.lat * Math.PI / 180) + Math.sin(p2.lat * Math.PI / 180));
    }
    return Math.abs(area * R * R / 2) / 1e6;
  }

  function pathKm(map, latlngs) {
    var d = 0;
    for (var i = 1; i < latlngs.length; i++) d += map.distance(latlngs[i - 1], latlngs[i]);
    return d / 1000;
  }

  /* ---------- the map ---------- */

  function init(map, data) {
    var t0 = global.performance ? performance.now() : 0;
    var api = {
      map: map, data: data, ready: false, layers: {}, byId: {}, choropleths: {},
      detailCount: 0, activeChoropleth: null, errors: []
    };
    var info = data.info || {};
    api.timings = [];
    function mark(step) { api.timings.push([step, Math.round(performance.now() - t0)]); }

    // Without tile layers Leaflet knows no zoom range: set one.
    map.options.minZoom = 3;
    map.options.maxZoom = 18;
    if (map.attributionControl) map.attributionControl.setPrefix(false);
    map.doubleClickZoom.enable();

    function pane(name, z, className) {
      var p = map.createPane(name);
      p.style.zIndex = String(z);
      if (className) L.DomUtil.addClass(p, className);
      return p;
    }
    pane("prospectorChoropleth", 300, "pm-pane-choropleth");
    pane("prospectorHillshade", 320, "pm-pane-hillshade");
    pane("prospectorWithdrawals", 450, "pm-pane-withdrawals");

    mark("basemap");
    /* -- basemap (opt-in, online) -- */
    var overlays = {};
    if (data.basemap) {
      var tiles = L.tileLayer(data.basemap.url, {
        attribution: data.basemap.attribution, maxNativeZoom: data.basemap.maxNativeZoom, maxZoom: 19
      }).addTo(map);
      overlays["Basemap: " + data.basemap.title] = tiles;
      api.layers.basemap = tiles;
    }

    mark("choropleths");
    /* -- choropleths: every parcel, coloured live from the parcel-index image -- */
    var baseLayers = {};
    var bounds = L.latLngBounds(data.bounds);
    var live = new global.ProspectorLive.Live(api, data);
    api.live = live;
    (data.choropleths || []).forEach(function (c) {
      var mode = new global.ProspectorLive.ChoroplethMode(live, c.key, c.title);
      api.choropleths[c.key] = mode;
      baseLayers[c.title] = mode;
    });
    var noChoropleth = L.layerGroup();
    noChoropleth.prospectorKey = null;
    baseLayers["No choropleth"] = noChoropleth;

    mark("orientation");
    /* -- orientation: county lines and town names (bundled, offline) -- */
    if (data.context) contextLayers(api, data.context, overlays);

    mark("hillshade");
    /* -- hillshade -- */
    if (data.hillshade) {
      var h = data.hillshade.bounds;
      var shade = L.imageOverlay(data.hillshade.image, [[h[1], h[0]], [h[3], h[2]]], {
        pane: "prospectorHillshade", opacity: 0.55, interactive: false, className: "pm-hillshade"
      }).addTo(map);
      overlays["Hillshade (DEM)"] = shade;
      api.layers.hillshade = shade;
    }

    mark("withdrawals");
    /* -- withdrawals (hatched, SVG so the hatch pattern can be used) -- */
    if (data.withdrawals) {
      ensureHatchPattern();
      var kinds = data.withdrawal_kinds || {};
      var wRenderer = L.svg({ pane: "prospectorWithdrawals" });
      var withdrawals = L.geoJSON(data.withdrawals, {
        renderer: wRenderer,
        pane: "prospectorWithdrawals",
        bubblingMouseEvents: false,
        style: function () {
          return {
            color: "#67001f", weight: 1.5, opacity: 0.9, fill: true, fillColor: "#67001f",
            fillOpacity: 1, className: "pm-withdrawal"
          };
        },
        onEachFeature: function (f, layer) {
          var p = f.properties || {};
          layer.bindTooltip(function () {
            var d = el("div");
            add(d, el("strong", null, p.name || "Withdrawn area"));
            add(d, el("div", null, (kinds[p.kind] || p.kind || "withdrawal") +
              (p.agency ? " · " + p.agency : "")));
            add(d, el("div", "pm-muted", "Closed to new mining claims"));
            return d;
          }, { sticky: true });
        }
      }).addTo(map);
      overlays["Withdrawn areas (hatched)"] = withdrawals;
      api.layers.withdrawals = withdrawals;
    }

    mark("detailed parcels");
    /* -- detailed parcels (vectors, popups, tooltips) -- */
    var nTotal = data.n_parcels || 0;
    var parcelStyle = { color: "#1a1a1a", weight: 0.7, opacity: 0.6, fill: true, fillOpacity: 0 };
    var parcels = L.geoJSON(data.parcels, {
      bubblingMouseEvents: false,
      style: function () { return parcelStyle; },
      onEachFeature: function (f, layer) {
        var p = f.properties || {};
        if (p.parcel_id !== null && p.parcel_id !== undefined) api.byId[String(p.parcel_id)] = layer;
        layer.bindTooltip(function () { return parcelTooltip(api, p); }, { sticky: true, direction: "top" });
        layer.bindPopup(function () { return parcelPopup(api, p, nTotal, data); }, {
          maxWidth: 360, minWidth: 260, autoPanPadding: [20, 20]
        });
        layer.on("mouseover", function () {
          layer.setStyle({ weight: 2.5, color: "#000000", opacity: 1, fillColor: "#ffffff", fillOpacity: 0.15 });
        });
        layer.on("mouseout", function () { layer.setStyle(parcelStyle); });
      }
    }).addTo(map);
    api.layers.parcels = parcels;
    api.detailCount = parcels.getLayers().length;
    var detailTitle = "Top " + api.detailCount + " parcels (outlines, popups)";
    overlays[detailTitle] = parcels;

    mark("access lines");
    /* -- access lines (same canvas as the parcels, not interactive) -- */
    if (data.access) {
      var styles = data.access_style || {};
      ["road", "rail", "power", "fault"].forEach(function (kind) {
        var feats = data.access.features.filter(function (f) { return (f.properties || {}).kind === kind; });
        if (!feats.length) return;
        var s = styles[kind] || { color: "#333333", weight: 1 };
        var lyr = L.geoJSON({ type: "FeatureCollection", features: feats }, {
          interactive: false,
          style: function () {
            return { color: s.color, weight: s.weight, dashArray: s.dashArray || null, opacity: 0.85 };
          }
        }).addTo(map);
        overlays[s.label || kind] = lyr;
        api.layers[kind] = lyr;
      });
    }

    mark("deposits");
    /* -- deposits (clustered circle markers coloured by commodity group) -- */
    api.depositMarkers = [];
    if (data.deposits && L.markerClusterGroup) {
      var dep = data.deposits, groups = data.deposit_groups || {};
      var cluster = L.markerClusterGroup({
        chunkedLoading: true, showCoverageOnHover: false, maxClusterRadius: 40,
        disableClusteringAtZoom: 12, spiderfyOnMaxZoom: true
      });
      var markers = [];
      for (var i = 0; i < dep.lon.length; i++) {
        var g = groups[dep.group[i]] || groups.none || { color: "#000000" };
        var crit = !!dep.critical[i];
        var mk = L.circleMarker([dep.lat[i], dep.lon[i]], {
          radius: crit ? 7 : 5, color: crit ? "#000000" : "#ffffff", weight: crit ? 2 : 1,
          fillColor: g.color, fillOpacity: 0.95, bubblingMouseEvents: false
        });
        (function (k, marker) {
          marker.bindTooltip(function () { return dep.name[k] || dep.site_id[k] || "Deposit"; });
          marker.bindPopup(function () { return depositPopup(dep, k, groups); }, { maxWidth: 320 });
        })(i, mk);
        markers.push(mk);
      }
      cluster.addLayers(markers);
      cluster.addTo(map);
      api.depositMarkers = markers;
      overlays["Mineral deposits (" + markers.length + ")"] = cluster;
      api.layers.deposits = cluster;
    }

    mark("while measuring or drawing, clicks on features are map clicks");
    /* -- while measuring or drawing, clicks on features are map clicks -- */
    function forwardWhileSketching(group) {
      group.on("click dblclick", function (e) {
        if (!api.sketch || !api.sketch.active) return;
        if (e.layer && e.layer.closePopup) e.layer.closePopup();
        map.fire(e.type, { latlng: e.latlng, originalEvent: e.originalEvent });
      });
    }
    forwardWhileSketching(parcels);
    if (api.layers.deposits) forwardWhileSketching(api.layers.deposits);
    if (api.layers.withdrawals) forwardWhileSketching(api.layers.withdrawals);

    mark("controls");
    /* -- controls -- */
    coordsControl().addTo(map);
    L.control.scale({ position: "bottomleft", metric: true, imperial: true }).addTo(map);
    var legend = legendControl(api, data);
    legend.addTo(map);
    headerControl(api, data, info).addTo(map);
    var layerControl = L.control.layers(baseLayers, overlays, { collapsed: true, position: "bottomright" });
    layerControl.addTo(map);
    api.layerControl = layerControl;
    searchControl(api, data).addTo(map);
    toolsControl(api).addTo(map);

    map.on("baselayerchange", function (e) {
      api.activeChoropleth = e.layer.prospectorKey || null;
      if (!api.activeChoropleth) legend.update(null);
    });

    mark("click on a parcel outside the detailed set");
    /* -- click on a parcel outside the detailed set: identify it from the index -- */
    map.on("click", function (e) {
      if (api.sketch && api.sketch.active) return;
      identify(api, data, e.latlng);
    });

    mark("start");
    /* -- start: fit to the parcels, decode the index image, show the score -- */
    map.fitBounds(bounds, { padding: [10, 10] });
    if (global.ProspectorPanel) global.ProspectorPanel.attach(api, data);
    function markReady() {
      if (api.ready) return;
      api.ready = true;
      api.readyMs = global.performance ? performance.now() : 0;
      api.initMs = api.readyMs - t0;
      document.documentElement.setAttribute("data-prospector-ready", "1");
    }
    var first = api.choropleths.score || api.choropleths[Object.keys(api.choropleths)[0]];
    live.load(function (err) {
      if (err) api.errors.push(err);
      global.requestAnimationFrame(markReady);
    });
    if (first) {
      first.addTo(map);
      api.activeChoropleth = first.prospectorKey;
    } else {
      noChoropleth.addTo(map);
    }
    return api;
  }

  /* ---------- orientation: counties and places ---------- */

  function contextLayers(api, ctx, overlays) {
    var map = api.map;
    var p = map.createPane("prospectorContext");
    p.style.zIndex = "330";
    p.style.pointerEvents = "none";
    var labels = map.createPane("prospectorLabels");
    labels.style.zIndex = "460";
    labels.style.pointerEvents = "none";
    if (ctx.counties) {
      var counties = L.geoJSON(ctx.counties, {
        pane: "prospectorContext", interactive: false,
        renderer: L.svg({ pane: "prospectorContext" }),
        style: function () { return { color: "#3d3d3d", weight: 1.2, opacity: 0.8, fill: false, dashArray: "5 3" }; }
      });
      var names = L.layerGroup();
      ctx.counties.features.forEach(function (f) {
        var q = f.properties || {};
        if (!q.label_at) return;
        names.addLayer(L.marker([q.label_at[1], q.label_at[0]], {
          pane: "prospectorLabels", interactive: false, keyboard: false,
          icon: L.divIcon({ className: "pm-county-label", html: "", iconSize: null })
        }).on("add", function (e) { e.target.getElement().textContent = q.name + " Co."; }));
      });
      var group = L.layerGroup([counties, names]).addTo(map);
      overlays["Counties (" + (ctx.counties_source || "bundled") + ")"] = group;
      api.layers.counties = group;
    }
    if (ctx.places) {
      var pl = ctx.places, towns = L.layerGroup();
      var markers = [];
      for (var i = 0; i < pl.name.length; i++) {
        (function (k) {
          var m = L.marker([pl.lat[k], pl.lon[k]], {
            pane: "prospectorLabels", interactive: false, keyboard: false,
            icon: L.divIcon({ className: "pm-place", html: "", iconSize: null })
          });
          m.on("add", function (e) {
            var node = e.target.getElement();
            node.textContent = pl.name[k];
            node.setAttribute("data-kind", pl.kind[k] || "");
          });
          m.prospectorMinZoom = pl.min_zoom[k];
          markers.push(m);
        })(i);
      }
      function refresh() {
        var z = map.getZoom();
        markers.forEach(function (m) {
          var want = z >= m.prospectorMinZoom;
          if (want && !towns.hasLayer(m)) towns.addLayer(m);
          else if (!want && towns.hasLayer(m)) towns.removeLayer(m);
        });
      }
      map.on("zoomend", refresh);
      towns.addTo(map);
      map.whenReady(refresh);
      overlays["Towns (" + (ctx.places_source || "bundled") + ")"] = towns;
      api.layers.places = towns;
    }
  }

  /* ---------- popups and tooltips ---------- */

  function parcelTooltip(api, p) {
    var d = el("div", "pm-tooltip"), r = api.live.rankOf(p.row);
    add(d, el("strong", null, "#" + (r === null ? "?" : r) + " · " + (p.parcel_id || "")));
    add(d, el("div", null, "score " + fmt(api.live.score[p.row]) + " · " + humanise(p.land_status || "unknown")));
    return d;
  }

  // Rank, score, family scores and contributions of parcel `n` under the current weights.
  function liveSummary(api, d, n, runRank, runContrib) {
    var live = api.live, data = api.data, r = live.rankOf(n);
    var head = add(d, el("div", "pm-rank"));
    add(head, el("span", "pm-rank-value", "Rank " + (r === null ? "–" : r)));
    add(head, el("span", "pm-muted", " of " + live.ordering.nValid + " · score " + fmt(live.score[n], 3)));
    if (live.scorer && live.changed && isNum(runRank)) add(d, el("div", "pm-muted", "Under the current weights (run: rank " + runRank + ")."));
    var crit = add(d, el("table", "pm-table"));
    (data.choropleths || []).forEach(function (c) {
      if (c.key === "score" || c.key === "land_status") return;
      var col = live.valuesOf(c.key);
      if (!col) return;
      var cell = el("span");
      add(cell, bar(col[n]));
      add(cell, el("span", "pm-num", fmt(col[n])));
      row(crit, c.title.replace(/^Criterion: /, ""), cell);
    });
    var contrib = live.contributions(n) || runContrib || {};
    var labels = {};
    ((data.scoring || {}).criteria || []).forEach(function (c) { labels[c.key] = c.label; });
    var keys = Object.keys(contrib);
    if (!keys.length) return;
    add(d, el("h4", null, "Contribution to the score"));
    var ct = add(d, el("table", "pm-table pm-contrib"));
    var maxc = 0;
    keys = keys.filter(function (k) { return isNum(contrib[k]); });
    keys.forEach(function (k) { maxc = Math.max(maxc, Math.abs(contrib[k])); });
    keys.sort(function (a, b) { return contrib[b] - contrib[a]; });
    keys.forEach(function (k) {
      var cell = el("span");
      add(cell, bar(maxc > 0 ? contrib[k] / maxc : 0, "#21918c"));
      add(cell, el("span", "pm-num", fmt(contrib[k], 3)));
      row(ct, labels[k] || humanise(k), cell);
    });
  }

  function modelSection(d, p) {
    if (!isNum(p.prospectivity)) return;
    add(d, el("h4", null, "Learned prospectivity"));
    var t = add(d, el("table", "pm-table"));
    var cell = el("span");
    add(cell, bar(p.prospectivity, "#cc79a7"));
    add(cell, el("span", "pm-num", fmt(p.prospectivity)));
    row(t, "Model", cell);
    if (isNum(p.prospectivity_lo) && isNum(p.prospectivity_hi)) {
      row(t, "Band", fmt(p.prospectivity_lo) + " – " + fmt(p.prospectivity_hi));
    }
    var shap = p.shap || {};
    var keys = Object.keys(shap).filter(function (k) { return isNum(shap[k]); });
    keys.sort(function (a, b) { return Math.abs(shap[b]) - Math.abs(shap[a]); });
    if (keys.length) {
      var tops = add(d, el("table", "pm-table pm-contrib"));
      keys.slice(0, 5).forEach(function (k) {
        row(tops, humanise(k), (shap[k] >= 0 ? "+" : "") + shap[k].toFixed(3));
      });
      add(d, el("div", "pm-muted", "Top feature contributions (SHAP, log-odds)."));
    }
  }

  function parcelPopup(api, p, nTotal, data) {
    var d = el("div", "pm-popup");
    add(d, el("h3", null, "Parcel " + (p.parcel_id || "?")));
    liveSummary(api, d, p.row, p.rank, p.contrib);

    var status = (data.land_status || {})[p.land_status] || { color: "#999999", label: p.land_status || "unknown" };
    var st = add(d, el("div", "pm-status"));
    add(st, swatch(status.color));
    add(st, el("strong", null, status.label));
    if (p.status_reason) add(st, el("span", "pm-muted", " — " + p.status_reason));

    if (p.why) add(d, el("p", "pm-why", p.why + (api.live.changed ? " (written for the run's weights)" : "")));
    modelSection(d, p);

    var t = add(d, el("table", "pm-table"));
    row(t, "Agency", p.agency);
    if (p.withdrawals) row(t, "Withdrawals", p.withdrawals);
    row(t, "Area", isNum(p.area_km2) ? p.area_km2.toFixed(2) + " km²" : "–");
    row(t, "Federal / withdrawn", pct(p.federal_frac) + " / " + pct(p.withdrawn_frac));
    row(t, "Claimed / open", pct(p.claimed_frac) + " / " + pct(p.open_frac));
    if ("n_active_claims" in p) row(t, "Active claims", p.n_active_claims);
    row(t, "Commodities", p.commodities);
    if (p.critical_commodities) row(t, "Critical", p.critical_commodities);
    row(t, "Rail · road · power", km(p.dist_rail_km) + " · " + km(p.dist_road_km) + " · " + km(p.dist_power_km));
    if ("dist_fault_km" in p) row(t, "Nearest fault", km(p.dist_fault_km));
    if ("slope_mean_deg" in p) row(t, "Mean slope", isNum(p.slope_mean_deg) ? p.slope_mean_deg.toFixed(1) + "°" : "–");

    var deps = p.deposits || [];
    var nDep = isNum(p.n_deposits) ? p.n_deposits : deps.length;
    add(d, el("h4", null, "Deposits inside (" + nDep +
      (isNum(p.n_critical_deposits) ? ", " + p.n_critical_deposits + " critical" : "") + ")"));
    if (deps.length) {
      var ul = add(d, el("ul", "pm-deposits"));
      deps.forEach(function (x) {
        var li = add(ul, el("li"));
        add(li, el("strong", null, (x.critical ? "★ " : "") + x.name));
        add(li, el("span", "pm-muted", " " + humanise(x.dev_status || "") + (x.commodities ? " — " + x.commodities : "")));
      });
      if (nDep > deps.length) add(d, el("div", "pm-muted", "… and " + (nDep - deps.length) + " more"));
    } else {
      add(d, el("div", "pm-muted", "None recorded."));
    }
    return d;
  }

  function depositPopup(dep, k, groups) {
    var d = el("div", "pm-popup");
    add(d, el("h3", null, dep.name[k] || "(unnamed site)"));
    var g = groups[dep.group[k]] || { color: "#000000", label: dep.group[k] };
    var st = add(d, el("div", "pm-status"));
    add(st, swatch(g.color, "pm-dot"));
    add(st, el("strong", null, g.label));
    if (dep.critical[k]) add(st, el("span", "pm-badge", "critical"));
    var t = add(d, el("table", "pm-table"));
    row(t, "Commodities", dep.commodities[k]);
    row(t, "Status", humanise(dep.dev_status[k] || "unknown"));
    row(t, "Site id", dep.site_id[k]);
    row(t, "Source", dep.source[k]);
    return d;
  }

  /* ---------- identify parcels outside the detailed set ---------- */

  function nearestParcel(api, latlng) {
    var idx = api.live.idx;
    if (!idx.n) return -1;
    var cell = 0.05; // degrees
    if (!api._grid) {
      var grid = new Map();
      for (var i = 0; i < idx.n; i++) {
        var key = Math.floor(idx.lon[i] / 1e5 / cell) + ":" + Math.floor(idx.lat[i] / 1e5 / cell);
        var bucket = grid.get(key);
        if (!bucket) grid.set(key, (bucket = []));
        bucket.push(i);
      }
      api._grid = grid;
    }
    var cx = Math.floor(latlng.lng / cell), cy = Math.floor(latlng.lat / cell);
    var best = -1, bestD = Infinity;
    for (var dx = -1; dx <= 1; dx++) {
      for (var dy = -1; dy <= 1; dy++) {
        var b = api._grid.get((cx + dx) + ":" + (cy + dy));
        if (!b) continue;
        for (var j = 0; j < b.length; j++) {
          var n = b[j];
          var d = api.map.distance(latlng, latLngOf(api, n));
          if (d < bestD) { bestD = d; best = n; }
        }
      }
    }
    var limit = (idx.radius_km || 1) * 1000 * 0.75;
    return bestD <= limit ? best : -1;
  }

  function latLngOf(api, n) {
    return [api.live.idx.lat[n] / 1e5, api.live.idx.lon[n] / 1e5];
  }

  function indexPopup(api, data, n, note) {
    var live = api.live, idx = live.idx;
    var d = el("div", "pm-popup");
    add(d, el("h3", null, "Parcel " + idx.id[n]));
    liveSummary(api, d, n, null);
    var key = idx.status_keys[idx.status[n]];
    var status = (data.land_status || {})[key] || { color: "#999999", label: key };
    var st = add(d, el("div", "pm-status"));
    add(st, swatch(status.color));
    add(st, el("strong", null, status.label));
    var t = add(d, el("table", "pm-table"));
    row(t, "Agency", live.text("agency", n));
    row(t, "Commodities", live.text("commodities", n));
    if (live.text("critical_commodities", n)) row(t, "Critical", live.text("critical_commodities", n));
    add(d, el("p", "pm-note", note));
    return d;
  }

  // Open parcel `n`'s popup: its vector's when detailed, else one from the index.
  function openParcel(api, n, fly) {
    var data = api.data, id = String(api.live.idx.id[n]), layer = api.byId[id];
    if (layer) {
      if (fly) api.map.fitBounds(layer.getBounds(), { maxZoom: 13, padding: [40, 40] });
      layer.openPopup(layer.getBounds().getCenter());
      return true;
    }
    var ll = latLngOf(api, n);
    if (fly) api.map.setView(ll, Math.max(api.map.getZoom(), 12));
    L.popup({ maxWidth: 320 }).setLatLng(ll)
      .setContent(indexPopup(api, data, n, outsideNote(data))).openOn(api.map);
    return false;
  }

  function identify(api, data, latlng) {
    var n = nearestParcel(api, latlng);
    if (n < 0) return;
    if (api.byId[String(api.live.idx.id[n])]) return; // detailed parcels answer their own clicks
    openParcel(api, n, false);
  }

  function outsideNote(data) {
    return "Outside the detailed set (the top " + data.detail.count +
      " parcels, open land first): full details are in the exported tables.";
  }

  /* ---------- search ---------- */

  function search(api, data, query) {
    var q = String(query || "").trim();
    if (!q) return { found: false, message: "Type a parcel id or a deposit name." };
    if (api.live.id2row.has(q)) {
      var n = api.live.id2row.get(q);
      if (openParcel(api, n, true)) return { found: true, kind: "parcel", detailed: true, message: "Parcel " + q };
      return {
        found: true, kind: "parcel", detailed: false,
        message: "Parcel " + q + " is not in the detailed set (top " + data.detail.count + ")."
      };
    }
    var dep = data.deposits;
    if (dep) {
      var lower = q.toLowerCase(), hit = -1;
      for (var i = 0; i < dep.name.length && hit < 0; i++) {
        if ((dep.name[i] || "").toLowerCase() === lower || dep.site_id[i] === q) hit = i;
      }
      for (var j = 0; j < dep.name.length && hit < 0; j++) {
        if ((dep.name[j] || "").toLowerCase().indexOf(lower) >= 0) hit = j;
      }
      if (hit >= 0) {
        var marker = api.depositMarkers[hit];
        api.layers.deposits.zoomToShowLayer(marker, function () { marker.openPopup(); });
        return { found: true, kind: "deposit", message: "Deposit " + (dep.name[hit] || dep.site_id[hit]) };
      }
    }
    return { found: false, message: "No parcel id or deposit name matches “" + q + "”." };
  }

  function searchControl(api, data) {
    var ctl = L.control({ position: "topleft" });
    ctl.onAdd = function () {
      var box = el("div", "leaflet-bar pm-search");
      var form = add(box, el("form"));
      var input = add(form, el("input"));
      input.type = "search";
      input.placeholder = "Parcel id or deposit name";
      input.setAttribute("aria-label", "Search parcel id or deposit name");
      input.setAttribute("list", "pm-search-list");
      var list = add(form, el("datalist"));
      list.id = "pm-search-list";
      var msg = add(box, el("div", "pm-search-msg"));
      var filled = false;
      input.addEventListener("focus", function () {
        if (filled) return;
        filled = true; // fill lazily: keeps start-up fast
        Object.keys(api.byId).slice(0, 5000).forEach(function (id) { add(list, el("option")).value = id; });
        if (data.deposits) data.deposits.name.slice(0, 5000).forEach(function (nm) { if (nm) add(list, el("option")).value = nm; });
      });
      form.addEventListener("submit", function (ev) {
        ev.preventDefault();
        var r = search(api, data, input.value);
        msg.textContent = r.message;
        msg.className = "pm-search-msg" + (r.found ? "" : " pm-warn");
      });
      L.DomEvent.disableClickPropagation(box);
      L.DomEvent.disableScrollPropagation(box);
      return box;
    };
    api.search = function (q) { return search(api, data, q); };
    return ctl;
  }

  /* ---------- legend ---------- */

  function legendControl(api, data) {
    var ctl = L.control({ position: "bottomleft" });
    var body;
    ctl.onAdd = function () {
      var box = el("div", "pm-panel pm-legend");
      box.id = "pm-legend";
      body = add(box, el("div", "pm-legend-choropleth"));
      var rest = add(box, el("div", "pm-legend-static"));
      var d = data.detail || {};
      add(rest, el("div", "pm-note", "All " + data.n_parcels + " parcels are coloured; outlines, popups and search cover the top " +
        d.count + " (limit " + d.limit + ", " + (d.order || "by rank") + "). Click elsewhere for rank and score."));
      if (data.deposits) {
        add(rest, el("h4", null, "Deposits by commodity group"));
        var present = {};
        data.deposits.group.forEach(function (g) { present[g] = true; });
        var ul = add(rest, el("ul", "pm-legend-list pm-two-col"));
        Object.keys(data.deposit_groups).forEach(function (g) {
          if (!present[g]) return;
          var li = add(ul, el("li"));
          add(li, swatch(data.deposit_groups[g].color, "pm-dot"));
          add(li, el("span", null, data.deposit_groups[g].label));
        });
        add(rest, el("div", "pm-muted", "Large black-rimmed dots: critical-mineral sites."));
      }
      if (data.withdrawals || data.access) {
        add(rest, el("h4", null, "Other layers"));
        var ol = add(rest, el("ul", "pm-legend-list"));
        if (data.withdrawals) {
          var li = add(ol, el("li"));
          add(li, el("span", "pm-swatch pm-hatch"));
          add(li, el("span", null, "Withdrawn from mineral entry"));
        }
        if (data.access) {
          var present2 = {};
          data.access.features.forEach(function (f) { present2[(f.properties || {}).kind] = true; });
          ["road", "rail", "power", "fault"].forEach(function (k) {
            if (!present2[k]) return;
            var s = data.access_style[k];
            var li2 = add(ol, el("li"));
            var line = add(li2, el("span", "pm-line"));
            line.style.borderTopColor = s.color;
            line.style.borderTopStyle = s.dashArray ? "dashed" : "solid";
            add(li2, el("span", null, s.label));
          });
        }
      }
      L.DomEvent.disableClickPropagation(box);
      L.DomEvent.disableScrollPropagation(box);
      return box;
    };
    ctl.update = function (lg) {
      if (!body) return;
      body.textContent = "";
      if (!lg) { add(body, el("div", "pm-muted", "No choropleth shown.")); return; }
      add(body, el("h4", null, lg.title));
      if (lg.kind === "classes") {
        var pick = add(body, el("select", "pm-scheme"));
        pick.setAttribute("aria-label", "Class scheme");
        var schemes = data.classes || {};
        ["rank", "quantile"].forEach(function (k) {
          if (!schemes[k]) return;
          var o = add(pick, el("option", null, schemes[k].title));
          o.value = k;
        });
        pick.value = lg.scheme;
        pick.addEventListener("change", function () { api.setClassScheme(pick.value); });
      }
      var ul = add(body, el("ul", "pm-legend-list pm-classes"));
      for (var i = 0; i < lg.labels.length; i++) {
        var li = add(ul, el("li"));
        add(li, swatch(lg.colors[i]));
        add(li, el("span", null, lg.labels[i]));
      }
      var nd = add(ul, el("li"));
      add(nd, swatch(lg.nodata));
      add(nd, el("span", null, "No data"));
      if (lg.note) add(body, el("div", "pm-muted", lg.note));
    };
    api.legend = ctl;
    api.setClassScheme = function (scheme) {
      api.live.scheme = scheme;
      api.live.orderings = {};
      api.live.paint();
    };
    return ctl;
  }

  /* ---------- header panel ---------- */

  function headerControl(api, data, info) {
    var ctl = L.control({ position: "topright" });
    ctl.onAdd = function () {
      var box = el("div", "pm-panel pm-header");
      box.id = "pm-header";
      var title = add(box, el("div", "pm-title"));
      add(title, el("strong", null, "Prospector" + (info.region ? " — " + info.region : "")));
      var toggle = add(title, el("button", "pm-toggle", "details"));
      toggle.type = "button";
      var missing = info.layers_missing || [];
      if (missing.length) {
        var warn = add(box, el("div", "pm-missing"));
        warn.setAttribute("role", "alert");
        add(warn, el("strong", null, "⚠ " + missing.length + " layer" + (missing.length > 1 ? "s" : "") + " missing — results are incomplete"));
        add(warn, el("span", "pm-muted", " (" + missing.map(function (m) { return m.role; }).join(", ") + ")"));
        var ul = add(warn, el("ul", "pm-missing-list"));
        missing.forEach(function (m) {
          var li = add(ul, el("li"));
          add(li, el("strong", null, m.role + ": "));
          add(li, el("span", null, m.message));
        });
      }
      var flags = info.evidence_flags || [];
      if (flags.length) {
        var fw = add(box, el("div", "pm-missing pm-flags"));
        fw.setAttribute("role", "alert");
        add(fw, el("strong", null, "⚠ " + flags.length + " evidence layer" + (flags.length > 1 ? "s" : "") + " below chance here"));
        var fl = add(fw, el("ul", "pm-flags-list"));
        flags.forEach(function (f) { add(fl, el("li", null, f)); });
      }
      var mflags = info.model_flags || [];
      if (mflags.length) {
        var mw = add(box, el("div", "pm-missing pm-flags pm-model-flags"));
        mw.setAttribute("role", "alert");
        add(mw, el("strong", null, "⚠ learned model: " + mflags.length + " warning" + (mflags.length > 1 ? "s" : "")));
        var ml = add(mw, el("ul", "pm-flags-list"));
        mflags.forEach(function (f) { add(ml, el("li", null, f)); });
      }
      var details = add(box, el("div", "pm-details"));
      var t = add(details, el("table", "pm-table"));
      if (info.created) row(t, "Created", info.created);
      if (info.list_year) row(t, "Critical list", "USGS " + info.list_year);
      row(t, "Parcels", data.n_parcels + " (detail: top " + data.detail.count + ")");
      if (info.layers_used) row(t, "Layers used", info.layers_used.join(", ") || "–");
      if (info.manifest) {
        var href = safeHref(info.manifest);
        if (href) {
          var a = el("a", null, info.manifest);
          a.href = href;
          a.rel = "noopener noreferrer";
          row(t, "Manifest", a);
        } else {
          row(t, "Manifest", info.manifest);
        }
      }
      var w = info.weights || {};
      var wk = Object.keys(w);
      if (wk.length) {
        add(details, el("h4", null, "Weights"));
        var wt = add(details, el("table", "pm-table"));
        wk.forEach(function (k) {
          var cell = el("span");
          add(cell, bar(w[k]));
          add(cell, el("span", "pm-num", fmt(w[k])));
          row(wt, humanise(k), cell);
        });
      }
      if (info.model) {
        add(details, el("h4", null, "Learned prospectivity model"));
        var mt = add(details, el("table", "pm-table pm-model"));
        Object.keys(info.model).forEach(function (k) { row(mt, k, info.model[k]); });
      }
      if ((info.notes || []).length) {
        add(details, el("h4", null, "Notes"));
        var nl = add(details, el("ul", "pm-notes"));
        info.notes.forEach(function (n) { add(nl, el("li", null, n)); });
      }
      var open = false;
      function setOpen(v) {
        open = v;
        details.style.display = open ? "" : "none";
        var list = box.querySelector(".pm-missing-list");
        if (list) list.style.display = open ? "" : "none";
        toggle.textContent = open ? "hide" : "details";
        toggle.setAttribute("aria-expanded", open ? "true" : "false");
      }
      setOpen(false);
      toggle.addEventListener("click", function () { setOpen(!open); });
      L.DomEvent.disableClickPropagation(box);
      L.DomEvent.disableScrollPropagation(box);
      return box;
    };
    return ctl;
  }

  /* ---------- tools: fullscreen, measure, draw AOI ---------- */

  function toolsControl(api) {
    var map = api.map;
    var sketch = { active: false, mode: null, points: [], layer: null, result: null };
    api.sketch = sketch;
    var ctl = L.control({ position: "topleft" });
    var buttons = {}, status;

    function button(bar, key, label, title, onClick) {
      var b = add(bar, el("a", "pm-tool", label));
      b.href = "#";
      b.title = title;
      b.setAttribute("role", "button");
      b.setAttribute("aria-label", title);
      L.DomEvent.on(b, "click", function (e) { L.DomEvent.preventDefault(e); onClick(); });
      buttons[key] = b;
      return b;
    }

    function redraw() {
      if (sketch.layer) { map.removeLayer(sketch.layer); sketch.layer = null; }
      if (!sketch.points.length) return;
      var style = { color: "#d62728", weight: 2.5, dashArray: "5 4", fillOpacity: 0.12, interactive: false };
      sketch.layer = (sketch.mode === "aoi" && sketch.points.length > 2 ? L.polygon(sketch.points, style) : L.polyline(sketch.points, style));
      sketch.layer.addTo(map);
      var text;
      if (sketch.mode === "measure") text = "Distance: " + pathKm(map, sketch.points).toFixed(2) + " km";
      else text = "Area: " + ringAreaKm2(sketch.points).toFixed(2) + " km² (" + sketch.points.length + " vertices)";
      status.textContent = text + (sketch.active ? " — double-click to finish, Esc to cancel" : "");
    }

    function start(mode) {
      stop(true);
      sketch.active = true;
      sketch.mode = mode;
      sketch.points = [];
      map.doubleClickZoom.disable();
      L.DomUtil.addClass(map.getContainer(), "pm-sketching");
      L.DomUtil.addClass(buttons[mode], "pm-active");
      status.style.display = "";
      status.textContent = mode === "measure" ? "Click to measure a distance" : "Click to draw the area of interest";
    }

    function stop(clear) {
      sketch.active = false;
      map.doubleClickZoom.enable();
      L.DomUtil.removeClass(map.getContainer(), "pm-sketching");
      Object.keys(buttons).forEach(function (k) { L.DomUtil.removeClass(buttons[k], "pm-active"); });
      if (clear) {
        if (sketch.layer) map.removeLayer(sketch.layer);
        sketch.layer = null;
        sketch.points = [];
        status.style.display = "none";
      } else {
        redraw();
      }
    }

    function finish() {
      if (!sketch.active) return;
      if (sketch.mode === "aoi" && sketch.points.length >= 3) {
        var ring = sketch.points.map(function (p) { return [+p.lng.toFixed(6), +p.lat.toFixed(6)]; });
        ring.push(ring[0]);
        sketch.result = {
          type: "FeatureCollection",
          features: [{
            type: "Feature",
            properties: { name: "area of interest", area_km2: +ringAreaKm2(sketch.points).toFixed(3), created: new Date().toISOString() },
            geometry: { type: "Polygon", coordinates: [ring] }
          }]
        };
        api.aoi = sketch.result;
        buttons.download.style.display = "";
      }
      stop(false);
    }

    map.on("click", function (e) {
      if (!sketch.active) return;
      var last = sketch.points[sketch.points.length - 1];
      if (last && map.latLngToContainerPoint(last).distanceTo(map.latLngToContainerPoint(e.latlng)) < 4) return;
      sketch.points.push(e.latlng);
      redraw();
    });
    map.on("dblclick", function () { if (sketch.active) finish(); });
    L.DomEvent.on(document, "keydown", function (e) {
      if (e.key === "Escape" && sketch.active) stop(true);
      if (e.key === "Enter" && sketch.active) finish();
    });

    function download() {
      if (!api.aoi) return;
      var blob = new Blob([JSON.stringify(api.aoi, null, 1)], { type: "application/geo+json" });
      var a = document.createElement("a");
      a.href = URL.createObjectURL(blob);
      a.download = "area_of_interest.geojson";
      document.body.appendChild(a);
      a.click();
      setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 0);
    }

    function fullscreen() {
      var c = map.getContainer();
      if (document.fullscreenElement) document.exitFullscreen();
      else if (c.requestFullscreen) c.requestFullscreen();
    }
    document.addEventListener("fullscreenchange", function () { map.invalidateSize(); });

    ctl.onAdd = function () {
      var wrap = el("div", "pm-tools");
      var bar1 = add(wrap, el("div", "leaflet-bar"));
      button(bar1, "fullscreen", "⤢", "Full screen", fullscreen);
      button(bar1, "measure", "↔", "Measure a distance", function () { sketch.active && sketch.mode === "measure" ? finish() : start("measure"); });
      button(bar1, "aoi", "⬠", "Draw an area of interest", function () { sketch.active && sketch.mode === "aoi" ? finish() : start("aoi"); });
      button(bar1, "download", "⤓", "Download the area of interest (GeoJSON)", download).style.display = "none";
      button(bar1, "clear", "✕", "Clear measurement / drawing", function () { stop(true); });
      status = add(wrap, el("div", "pm-panel pm-sketch-status"));
      status.style.display = "none";
      L.DomEvent.disableClickPropagation(wrap);
      return wrap;
    };
    api.tools = { start: start, finish: finish, stop: stop, download: download };
    return ctl;
  }

  function coordsControl() {
    var ctl = L.control({ position: "bottomleft" });
    ctl.onAdd = function (map) {
      var box = el("div", "pm-coords", "");
      map.on("mousemove", function (e) {
        box.textContent = e.latlng.lat.toFixed(5) + ", " + e.latlng.lng.toFixed(5);
      });
      map.on("mouseout", function () { box.textContent = ""; });
      return box;
    };
    return ctl;
  }

  function ensureHatchPattern() {
    if (document.getElementById("pm-hatch")) return;
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("width", "0");
    svg.setAttribute("height", "0");
    svg.setAttribute("aria-hidden", "true");
    svg.style.position = "absolute";
    var defs = svg.appendChild(document.createElementNS(ns, "defs"));
    var pat = defs.appendChild(document.createElementNS(ns, "pattern"));
    pat.setAttribute("id", "pm-hatch");
    pat.setAttribute("patternUnits", "userSpaceOnUse");
    pat.setAttribute("width", "8");
    pat.setAttribute("height", "8");
    pat.setAttribute("patternTransform", "rotate(45)");
    var line = pat.appendChild(document.createElementNS(ns, "line"));
    line.setAttribute("x1", "0");
    line.setAttribute("y1", "0");
    line.setAttribute("x2", "0");
    line.setAttribute("y2", "8");
    line.setAttribute("stroke", "#67001f");
    line.setAttribute("stroke-width", "2");
    line.setAttribute("stroke-opacity", "0.7");
    document.body.appendChild(svg);
  }

  global.ProspectorMap = {
    init: init, version: "2",
    dom: { el: el, add: add, fmt: fmt, swatch: swatch, bar: bar, humanise: humanise },
    openParcel: openParcel, latLngOf: latLngOf
  };
})(window);
