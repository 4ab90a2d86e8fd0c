// Firstline KB, every page: a form that is being sent cannot be sent twice by a double click
// (a second "Open the case" would open a second case). Forms whose sending a script handles
// itself (the search box, the content-gap flag) are left alone.
(function () {
  "use strict";

  document.addEventListener("submit", function (event) {
    if (event.defaultPrevented) { return; }
    var form = event.target;
    var buttons = form.querySelectorAll('button[type="submit"], button:not([type])');
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
  });
})();
