// Firstline KB, every page: a form that is being sent cannot be sent twice by a double click
// (a second "Open the case" would open a second case). Forms whose sending a script handles
// itself (the search box, the content-gap flag) are left alone.
//
// Forms marked data-retry (a note, opening a case) carry a request id and are sent by this script:
// when the server or the network is away (no answer, 5xx) the text stays in the form and it is
// sent again after 1, 2, 4 ... 15 s with the same request id, so a first try that did arrive is
// not written twice. Any other answer is shown as the browser would show it.
(function () {
  "use strict";

  var MAX_DELAY_MS = 15000;

  // Signed out: what this tab remembered of the searches (customer words) is forgotten.
  if (document.body.hasAttribute("data-signed-out")) {
    try { window.sessionStorage.clear(); } catch (err) { /* storage disabled */ }
  }

  function buttonsOf(form) {
    return form.querySelectorAll('button[type="submit"], button:not([type])');
  }

  function sendWithRetry(form) {
    var status = form.querySelector(".retry-status");
    var buttons = buttonsOf(form);
    var delay = 0;
    var body = new FormData(form);  // taken now: what the agent sees in the form is what is sent
    buttons.forEach(function (button) { button.disabled = true; });
    form.setAttribute("aria-busy", "true");
    var attempt = function () {
      // data-after: where a success leads (the redirect's target). The redirect is then not
      // followed by fetch, so that page is loaded once, by the browser, not twice.
      var after = form.dataset.after;
      fetch(form.action, {method: "POST", credentials: "same-origin", body: body,
                          redirect: after ? "manual" : "follow"}).then(function (response) {
        if (after && response.type === "opaqueredirect") { window.location.assign(after); return; }
        if (response.status >= 500) { return retry(response.status); }
        if (response.redirected) { window.location.assign(response.url); return; }
        form.submit();  // 4xx (a field to correct, a closed case): the server's page says what to do
      }, function () { retry(0); });
    };
    var retry = function () {
      delay = Math.min(Math.max(1000, delay * 2), MAX_DELAY_MS);
      if (status) { status.textContent = form.dataset.msgRetry || status.dataset.msgRetry || ""; }
      window.setTimeout(attempt, delay);
    };
    attempt();
  }

  document.addEventListener("submit", function (event) {
    if (event.defaultPrevented) { return; }
    var form = event.target;
    if (form.hasAttribute("data-retry") && window.fetch && window.FormData) {
      event.preventDefault();
      if (form.getAttribute("aria-busy") !== "true") { sendWithRetry(form); }
      return;
    }
    var buttons = buttonsOf(form);
    window.setTimeout(function () {  // after the browser has taken the form's data
      buttons.forEach(function (button) { button.disabled = true; });
    }, 0);
    // If the page stays (the request failed, or the user went back), the buttons work again.
    window.setTimeout(function () {
      buttons.forEach(function (button) { button.disabled = false; });
    }, 8000);
  });

  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) { return; }
    document.querySelectorAll("form button[disabled]").forEach(function (button) { button.disabled = false; });
    document.querySelectorAll("form[aria-busy]").forEach(function (form) { form.removeAttribute("aria-busy"); });
  });
})();
