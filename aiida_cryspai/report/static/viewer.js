/* aiida-cryspai crystal viewer: ball-and-stick drawing of a unit cell on a 2D canvas, no WebGL, no network.
   Drag to rotate, wheel to zoom, double-click to reset. Data per canvas (JSON in data-structure):
   {cell: [[ax,ay,az],[bx,by,bz],[cx,cy,cz]], atoms: [[x,y,z,colour,radius,symbol],...], bonds: [[i,j],...]} */
(function () {
  "use strict";

  function multiply(a, b) {
    var out = [[0, 0, 0], [0, 0, 0], [0, 0, 0]];
    for (var i = 0; i < 3; i++) for (var j = 0; j < 3; j++) for (var k = 0; k < 3; k++) out[i][j] += a[i][k] * b[k][j];
    return out;
  }
  function rotation(axis, angle) {
    var c = Math.cos(angle), s = Math.sin(angle);
    if (axis === "x") return [[1, 0, 0], [0, c, -s], [0, s, c]];
    return [[c, 0, s], [0, 1, 0], [-s, 0, c]];
  }
  function apply(m, p) {
    return [m[0][0] * p[0] + m[0][1] * p[1] + m[0][2] * p[2],
            m[1][0] * p[0] + m[1][1] * p[1] + m[1][2] * p[2],
            m[2][0] * p[0] + m[2][1] * p[1] + m[2][2] * p[2]];
  }
  function shade(hex, factor) {
    var n = parseInt(hex.slice(1), 16), r = (n >> 16) & 255, g = (n >> 8) & 255, b = n & 255;
    function f(v) { return Math.max(0, Math.min(255, Math.round(factor > 1 ? v + (255 - v) * (factor - 1) : v * factor))); }
    return "rgb(" + f(r) + "," + f(g) + "," + f(b) + ")";
  }

  function Viewer(canvas, data) {
    this.canvas = canvas;
    this.data = data;
    var cell = data.cell;
    this.centre = [0, 1, 2].map(function (k) { return (cell[0][k] + cell[1][k] + cell[2][k]) / 2; });
    var corners = [], extent = 1;
    for (var i = 0; i < 8; i++) {
      var f = [i & 1, (i >> 1) & 1, (i >> 2) & 1];
      var p = [0, 1, 2].map(function (k) { return f[0] * cell[0][k] + f[1] * cell[1][k] + f[2] * cell[2][k]; });
      corners.push(p);
      extent = Math.max(extent, Math.hypot(p[0] - this.centre[0], p[1] - this.centre[1], p[2] - this.centre[2]));
    }
    this.corners = corners;
    this.extent = extent + 1.5;
    this.reset();
    this.listen();
  }
  Viewer.prototype.reset = function () {
    this.matrix = multiply(rotation("x", -0.35), rotation("y", 0.55));
    this.zoom = 1;
    this.draw();
  };
  Viewer.prototype.project = function (p) {
    var q = apply(this.matrix, [p[0] - this.centre[0], p[1] - this.centre[1], p[2] - this.centre[2]]);
    var w = this.canvas.width, h = this.canvas.height, scale = this.zoom * Math.min(w, h) / (2 * this.extent);
    return {x: w / 2 + q[0] * scale, y: h / 2 - q[1] * scale, z: q[2], scale: scale};
  };
  Viewer.prototype.draw = function () {
    var ctx = this.canvas.getContext("2d"), self = this;
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
    ctx.strokeStyle = "#555555";
    ctx.lineWidth = 1;
    var edges = [[0, 1], [0, 2], [0, 4], [1, 3], [1, 5], [2, 3], [2, 6], [3, 7], [4, 5], [4, 6], [5, 7], [6, 7]];
    var corners = this.corners.map(function (p) { return self.project(p); });
    edges.forEach(function (e) {
      ctx.beginPath(); ctx.moveTo(corners[e[0]].x, corners[e[0]].y); ctx.lineTo(corners[e[1]].x, corners[e[1]].y);
      ctx.stroke();
    });
    var atoms = this.data.atoms.map(function (a, i) { var p = self.project(a); p.atom = a; p.index = i; return p; });
    var items = atoms.map(function (p) { return {z: p.z, atom: p}; });
    this.data.bonds.forEach(function (b) {
      var p = atoms[b[0]], q = atoms[b[1]];
      items.push({z: (p.z + q.z) / 2 - 0.01, bond: [p, q]});
    });
    items.sort(function (u, v) { return u.z - v.z; });
    items.forEach(function (item) {
      if (item.bond) {
        var p = item.bond[0], q = item.bond[1], mx = (p.x + q.x) / 2, my = (p.y + q.y) / 2;
        ctx.lineWidth = Math.max(1.5, 0.22 * p.scale);
        ctx.strokeStyle = shade(p.atom[3], 0.8);
        ctx.beginPath(); ctx.moveTo(p.x, p.y); ctx.lineTo(mx, my); ctx.stroke();
        ctx.strokeStyle = shade(q.atom[3], 0.8);
        ctx.beginPath(); ctx.moveTo(mx, my); ctx.lineTo(q.x, q.y); ctx.stroke();
        return;
      }
      var a = item.atom, r = Math.max(2, a.atom[4] * a.scale);
      var gradient = ctx.createRadialGradient(a.x - r / 3, a.y - r / 3, r / 8, a.x, a.y, r);
      gradient.addColorStop(0, shade(a.atom[3], 1.5));
      gradient.addColorStop(1, shade(a.atom[3], 0.55));
      ctx.fillStyle = gradient;
      ctx.beginPath(); ctx.arc(a.x, a.y, r, 0, 2 * Math.PI); ctx.fill();
      ctx.strokeStyle = "rgba(0,0,0,0.35)"; ctx.lineWidth = 0.7; ctx.stroke();
    });
    this.canvas.setAttribute("data-rendered", String(Number(this.canvas.getAttribute("data-rendered") || 0) + 1));
  };
  Viewer.prototype.listen = function () {
    var self = this, last = null;
    this.canvas.addEventListener("mousedown", function (event) { last = [event.clientX, event.clientY]; });
    window.addEventListener("mouseup", function () { last = null; });
    this.canvas.addEventListener("mousemove", function (event) {
      if (!last) return;
      var dx = event.clientX - last[0], dy = event.clientY - last[1];
      last = [event.clientX, event.clientY];
      self.matrix = multiply(multiply(rotation("x", dy * 0.01), rotation("y", dx * 0.01)), self.matrix);
      self.draw();
    });
    this.canvas.addEventListener("wheel", function (event) {
      event.preventDefault();
      self.zoom = Math.max(0.3, Math.min(5, self.zoom * (event.deltaY < 0 ? 1.1 : 1 / 1.1)));
      self.draw();
    }, {passive: false});
    this.canvas.addEventListener("dblclick", function () { self.reset(); });
  };

  function start() {
    var canvases = document.querySelectorAll("canvas.crystal-view");
    window.cryspaiViewers = [];
    for (var i = 0; i < canvases.length; i++) {
      window.cryspaiViewers.push(new Viewer(canvases[i], JSON.parse(canvases[i].getAttribute("data-structure"))));
    }
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
