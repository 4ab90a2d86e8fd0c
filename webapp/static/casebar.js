// Firstline KB case bar: the handle time of the current case keeps running while the page is open.
// Without this script the bar shows the handle time as it was when the page was loaded.
(function () {
  "use strict";

  var clock = document.querySelector(".casebar-time [data-opened], .case-panel [data-opened]");
  if (!clock) { return; }
  var opened = Date.parse(clock.dataset.opened);
  if (isNaN(opened)) { return; }
  var offset = Date.now() - Number(clock.dataset.now || Date.now());  // the server's clock, not the PC's

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function tick() {
    var seconds = Math.max(0, Math.floor((Date.now() - offset - opened) / 1000));
    var h = Math.floor(seconds / 3600), m = Math.floor(seconds % 3600 / 60), s = seconds % 60;
    clock.textContent = h ? h + ":" + pad(m) + ":" + pad(s) : m + ":" + pad(s);
  }

  tick();
  window.setInterval(tick, 1000);
})();
