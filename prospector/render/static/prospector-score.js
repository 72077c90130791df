/*
 * Prospector live scoring (BSD-3-Clause, part of Prospector).
 *
 * Repeats Python's scoring in the browser so moving a weight re-ranks every parcel:
 *   configured weight  = family weight * numerator / denominator
 *                        (prospector.analysis.criteria.criterion_shares; the denominator
 *                        is the sum of the family's numerators)
 *   effective weights  = prospector.analysis.score.effective_weights (drop unavailable
 *                        and zero weights, rescale to sum 1, same order)
 *   score              = prospector.analysis.score.combine (wlc | gamma | topsis)
 *   rank               = prospector.analysis.score.rank_scores (score rounded to 12
 *                        decimals, descending; ties by ascending parcel id, given here as
 *                        each parcel's position in parcel-id order)
 * Ranks are never fully sorted: class cut-offs and top-n lists come from a one-pass
 * bucket ordering of the scores plus exact tie handling at each cut-off.
 */
(function (global) {
  "use strict";

  function decode(b64, Type) {
    var bin = global.atob(b64 || "");
    var bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return new Type(bytes.buffer);
  }

  // numpy's rint (round half to even) of x * 10^d, divided back: np.round(x, d).
  function roundTo(x, scale) {
    var y = x * scale, r = Math.round(y);
    if (r - y === 0.5 && r % 2 !== 0) r -= 1;
    return r / scale;
  }

  // numpy's row sum (pairwise_sum in loops_utils): sequential below 8 terms, else eight
  // interleaved partial sums combined as a tree, then the tail; halves above 128 terms.
  // Summing in the same order gives the same bits, so ranks match Python's exactly.
  function pairwiseSum(a, start, n) {
    var i, res;
    if (n < 8) {
      res = -0.0;
      for (i = 0; i < n; i++) res += a[start + i];
      return res;
    }
    if (n <= 128) {
      var r = [a[start], a[start + 1], a[start + 2], a[start + 3],
        a[start + 4], a[start + 5], a[start + 6], a[start + 7]];
      for (i = 8; i < n - (n % 8); i += 8) {
        for (var k = 0; k < 8; k++) r[k] += a[start + i + k];
      }
      res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
      for (; i < n; i++) res += a[start + i];
      return res;
    }
    var half = n >> 1;
    half -= half % 8;
    return pairwiseSum(a, start, half) + pairwiseSum(a, start + half, n - half);
  }

  /* ---------- ordering: score descending, then id order ascending ---------- */

  // Order of `values` without a full sort: a counting sort into 65,536 value bins (one
  // pass), each bin sorted only when a question needs it (cut-offs touch a handful).
  // Values are scores in [0, 1]; others are clamped into the end bins, still exact.
  var BINS = 65536;

  function binOf(v) {
    var b = Math.floor(v * BINS);
    return b < 0 ? 0 : b >= BINS ? BINS - 1 : b;
  }

  function Ordering(values, idOrder) {
    var n = values.length, count = new Int32Array(BINS + 1), i;
    var nValid = 0;
    for (i = 0; i < n; i++) {
      var v = values[i];
      if (v === v) { count[binOf(v) + 1]++; nValid++; }
    }
    for (i = 1; i <= BINS; i++) count[i] += count[i - 1]; // start of each bin (ascending)
    var start = count, fill = new Int32Array(BINS), members = new Float64Array(nValid);
    for (i = 0; i < n; i++) {
      var x = values[i];
      if (x !== x) continue;
      var b = binOf(x);
      members[start[b] + fill[b]++] = x;
    }
    this.values = values;
    this.idOrder = idOrder;
    this.start = start;
    this.members = members; // values grouped by bin; a bin is sorted on first use
    this.done = new Uint8Array(BINS);
    this.n = n;
    this.nValid = nValid;
  }

  Ordering.prototype.bin = function (b) {
    if (!this.done[b]) {
      this.members.subarray(this.start[b], this.start[b + 1]).sort();
      this.done[b] = 1;
    }
    return this.members.subarray(this.start[b], this.start[b + 1]);
  };

  // The value at ascending position pos (0 = smallest).
  Ordering.prototype.valueAt = function (pos) {
    var s = this.start, lo = 0, hi = BINS - 1;
    while (lo < hi) { var mid = (lo + hi + 1) >>> 1; if (s[mid] <= pos) lo = mid; else hi = mid - 1; }
    return this.bin(lo)[pos - s[lo]];
  };

  // Number of valid values strictly greater than v.
  Ordering.prototype.countAbove = function (v) {
    var b = binOf(v), m = this.bin(b), lo = 0, hi = m.length;
    while (lo < hi) { var mid = (lo + hi) >>> 1; if (m[mid] <= v) lo = mid + 1; else hi = mid; }
    return this.nValid - this.start[b] - lo;
  };

  // Number of valid values >= v.
  Ordering.prototype.countAtLeast = function (v) {
    var b = binOf(v), m = this.bin(b), lo = 0, hi = m.length;
    while (lo < hi) { var mid = (lo + hi) >>> 1; if (m[mid] < v) lo = mid + 1; else hi = mid; }
    return this.nValid - this.start[b] - lo;
  };

  // The k-th best parcel's (value, idOrder) key; parcels with key <= it are the top k.
  Ordering.prototype.cutoff = function (k) {
    if (k <= 0) return null;
    if (k >= this.nValid) return { value: -Infinity, id: Infinity, all: true };
    var v = this.valueAt(this.nValid - k);
    var above = this.countAbove(v), need = k - above;
    // Every parcel with value v is inside: no need to look at ids.
    if (need === this.countAtLeast(v) - above) return { value: v, id: Infinity, all: false };
    var ties = [];
    var vals = this.values, ids = this.idOrder;
    for (var i = 0; i < vals.length; i++) if (vals[i] === v) ties.push(ids[i]);
    var t = new Uint32Array(ties).sort();
    return { value: v, id: t[need - 1], all: false };
  };

  Ordering.prototype.within = function (i, cut) {
    if (!cut) return false;
    var v = this.values[i];
    if (v !== v) return false;
    if (cut.all) return true;
    return v > cut.value || (v === cut.value && this.idOrder[i] <= cut.id);
  };


  // 1-based rank of parcel i (null when its value is missing).
  Ordering.prototype.rankOf = function (i) {
    var v = this.values[i];
    if (v !== v) return null;
    var above = this.countAbove(v), r = above + 1;
    if (this.countAtLeast(v) - above > 1) {
      var vals = this.values, ids = this.idOrder, me = ids[i];
      for (var j = 0; j < vals.length; j++) if (vals[j] === v && ids[j] < me) r++;
    }
    return r;
  };

  // Parcel rows of the top k, in rank order.
  Ordering.prototype.top = function (k, keep) {
    var cut = this.cutoff(Math.min(k, this.nValid));
    var rows = [];
    for (var i = 0; i < this.n; i++) if (this.within(i, cut) && (!keep || keep(i))) rows.push(i);
    var vals = this.values, ids = this.idOrder;
    rows.sort(function (a, b) { return vals[b] - vals[a] || ids[a] - ids[b]; });
    return rows;
  };

  // Parcel rows in rank order passing `keep`, at most k of them (scans down the ranks).
  Ordering.prototype.topWhere = function (k, keep) {
    var want = k, rows = [];
    while (true) {
      rows = this.top(want, keep);
      if (rows.length >= k || want >= this.nValid) return rows.slice(0, k);
      want = Math.min(this.nValid, want * 4);
    }
  };

  /* ---------- the scorer ---------- */

  function Scorer(spec, n, idOrder) {
    this.spec = spec;
    this.n = n;
    this.idOrder = idOrder;
    var Type = spec.dtype === "float32" ? Float32Array : Float64Array;
    var all = decode(spec.values, Type);
    this.columns = {};
    var self = this;
    spec.criteria.forEach(function (c) {
      if (c.column !== null && c.column !== undefined) {
        self.columns[c.key] = all.subarray(c.column * n, (c.column + 1) * n);
      }
    });
    this.scale = Math.pow(10, spec.decimals || 12);
    this.runFamilies = {};
    this.runNums = {};
    spec.families.forEach(function (f) { self.runFamilies[f.key] = f.weight; });
    spec.criteria.forEach(function (c) { self.runNums[c.key] = c.num; });
  }

  // Configured and effective weights (objects in criterion order) for family weights
  // `fam` and sub-criterion numerators `nums`.
  Scorer.prototype.weights = function (fam, nums) {
    // A family's denominator is the run's while its shares are the run's (bit for bit);
    // once a share moves, the sum of the current shares (plus any share the run counted
    // for criteria absent here).
    var crit = this.spec.criteria, dens = {}, runSum = {}, moved = {}, runDen = {}, self = this;
    crit.forEach(function (c) {
      dens[c.family] = (dens[c.family] || 0) + nums[c.key];
      runSum[c.family] = (runSum[c.family] || 0) + self.runNums[c.key];
      runDen[c.family] = c.den;
      if (nums[c.key] !== self.runNums[c.key]) moved[c.family] = true;
    });
    var configured = {}, kept = [], total = 0;
    crit.forEach(function (c) {
      var f = c.family;
      var extra = runSum[f] > 0 ? Math.max(0, runDen[f] - runSum[f]) : 0;
      var den = moved[f] ? dens[f] + extra : runDen[f];
      var w = (fam[f] || 0) * nums[c.key] / (den || 1);
      configured[c.key] = w;
      if (c.available && w > 0) { kept.push(c.key); total += w; }
    });
    var effective = {};
    crit.forEach(function (c) { effective[c.key] = 0; });
    if (total > 0) kept.forEach(function (k) { effective[k] = configured[k] / total; });
    return { configured: configured, effective: effective, total: total };
  };

  // Scores (Float64Array, rounded as rank_scores rounds) and family sub-scores.
  Scorer.prototype.score = function (effective) {
    var spec = this.spec, n = this.n, cols = [], w = [];
    var self = this;
    spec.criteria.forEach(function (c) {
      if (effective[c.key] > 0 && self.columns[c.key]) { cols.push(c); w.push(effective[c.key]); }
    });
    var m = cols.length, x = cols.map(function (c) { return self.columns[c.key]; });
    var score = new Float64Array(n);
    var i, j;
    if (spec.method === "gamma") {
      var wmax = Math.max.apply(null, w), g = spec.gamma;
      for (i = 0; i < n; i++) {
        var pSum = 1, pProd = 1;
        for (j = 0; j < m; j++) {
          var mu = Math.min(1, Math.max(0, x[j][i] * (w[j] / wmax)));
          pSum *= 1 - mu;
          pProd *= mu;
        }
        score[i] = Math.pow(1 - pSum, g) * Math.pow(pProd, 1 - g);
      }
    } else if (spec.method === "topsis") {
      var best = [], worst = [], norm = [];
      for (j = 0; j < m; j++) {
        norm[j] = cols[j].norm;
        best[j] = norm[j] > 0 ? cols[j].max / norm[j] * w[j] : 0;
        worst[j] = norm[j] > 0 ? cols[j].min / norm[j] * w[j] : 0;
      }
      for (i = 0; i < n; i++) {
        var dB = 0, dW = 0;
        for (j = 0; j < m; j++) {
          var v = norm[j] > 0 ? x[j][i] / norm[j] * w[j] : 0;
          dB += (v - best[j]) * (v - best[j]);
          dW += (v - worst[j]) * (v - worst[j]);
        }
        dB = Math.sqrt(dB); dW = Math.sqrt(dW);
        score[i] = dB + dW > 0 ? dW / (dB + dW) : 0;
      }
    } else {
      if (m < 8) {
        // numpy sums fewer than 8 terms left to right, starting from -0.0.
        for (i = 0; i < n; i++) score[i] = -0.0;
        for (j = 0; j < m; j++) {
          var xj = x[j], wj = w[j];
          for (i = 0; i < n; i++) score[i] += xj[i] * wj;
        }
      } else {
        var terms = new Float64Array(m);
        for (i = 0; i < n; i++) {
          for (j = 0; j < m; j++) terms[j] = x[j][i] * w[j];
          score[i] = pairwiseSum(terms, 0, m);
        }
      }
    }
    for (i = 0; i < n; i++) score[i] = roundTo(score[i], this.scale);
    return score;
  };

  // Family sub-score of parcel i: weighted mean of its available, weighted criteria.
  Scorer.prototype.familyScores = function (effective) {
    var self = this, out = {};
    var byFam = {};
    this.spec.criteria.forEach(function (c) {
      if (!self.columns[c.key]) return;
      (byFam[c.family] = byFam[c.family] || []).push(c);
    });
    Object.keys(byFam).forEach(function (f) {
      var members = byFam[f], tot = 0;
      members.forEach(function (c) { tot += effective[c.key]; });
      var col = new Float32Array(self.n);
      members.forEach(function (c) {
        var wt = tot > 0 ? effective[c.key] / tot : 1 / members.length;
        var x = self.columns[c.key];
        for (var i = 0; i < self.n; i++) col[i] += wt * x[i];
      });
      out["score_" + f] = col;
    });
    return out;
  };

  global.ProspectorScore = {
    decode: decode, roundTo: roundTo, pairwiseSum: pairwiseSum, Ordering: Ordering, Scorer: Scorer
  };
})(window);
