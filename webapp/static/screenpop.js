// Firstline KB screen pop: when the telephony opens a case for this agent (POST /api/v1/cases),
// this page learns it within a few seconds and offers to show it. It never navigates on its own:
// the agent may be typing. Without this script the case shows on the next page instead.
(function () {
  "use strict";

  var area = document.querySelector("[data-screen-pop-area]");
  if (!area || !area.dataset.poll) { return; }
  var url = area.dataset.poll;
  var EVERY = 3000;
  var busy = false;

  function show(data) {
    area.textContent = "";
    var box = document.createElement("p");
    box.className = "flash flash-info";
    box.setAttribute("role", "alert");
    box.appendChild(document.createTextNode(data.message + " "));
    var link = document.createElement("a");
    link.className = "button primary";
    link.href = data.url;
    link.textContent = data.label;
    box.appendChild(link);
    area.appendChild(box);
    area.hidden = false;
  }

  function poll() {
    if (busy || document.visibilityState !== "visible") { return; }
    busy = true;
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) { if (data && data.case_id) { show(data); } })
      .catch(function () { /* offline for a moment: the next poll tries again */ })
      .then(function () { busy = false; });
  }

  window.setInterval(poll, EVERY);
  document.addEventListener("visibilitychange", poll);
})();
