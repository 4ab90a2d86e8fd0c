// Firstline KB workspace keys: "/" search, j/k steps, x tick, r resolve, e escalate, u unresolved,
// n note, ? help. A key only acts when the agent is not typing in a field, and never with Ctrl,
// Alt or Cmd (the browser's own shortcuts stay). Without this script every action is a normal
// link, button or form field reachable with Tab.
(function () {
  "use strict";

  var help = document.getElementById("keys-help");
  var current = -1;  // the step j/k moved to

  function typing(element) {
    if (!element || element === document.body) { return false; }
    if (element.isContentEditable) { return true; }
    var tag = element.tagName;
    if (tag === "TEXTAREA" || tag === "SELECT") { return true; }
    return tag === "INPUT" && ["checkbox", "radio", "button", "submit", "reset"].indexOf(element.type) < 0;
  }

  function steps() { return Array.prototype.slice.call(document.querySelectorAll(".steps .step")); }

  function focusStep(index) {
    var all = steps();
    if (!all.length) { return; }
    current = Math.max(0, Math.min(all.length - 1, index));
    all.forEach(function (node, i) { node.classList.toggle("current", i === current); });
    var step = all[current];
    var box = step.querySelector('input[type="checkbox"]');
    var target = box || step;
    if (!box) { step.tabIndex = -1; }
    target.focus({preventScroll: true});
    step.scrollIntoView({block: "nearest"});
  }

  function stepIndexOf(element) {
    var all = steps();
    for (var i = 0; i < all.length; i++) { if (all[i].contains(element)) { return i; } }
    return current;
  }

  function openAndFocus(detailsId, fieldId) {
    var details = detailsId && document.getElementById(detailsId);
    if (details) { details.open = true; }
    var field = document.getElementById(fieldId);
    if (field) { field.focus(); field.scrollIntoView({block: "nearest"}); }
    return !!field;
  }

  var actions = {
    "j": function () { focusStep(stepIndexOf(document.activeElement) + 1); },
    "k": function () { focusStep(stepIndexOf(document.activeElement) - 1); },
    "x": function () {
      var all = steps();
      var index = stepIndexOf(document.activeElement);
      if (index < 0 || !all[index]) { return false; }
      var box = all[index].querySelector('input[type="checkbox"]');
      if (!box) { return false; }
      box.click();  // fires "change": article.js saves it on the case; focus stays on the box
      box.focus({preventScroll: true});
    },
    "r": function () {
      var button = document.querySelector('#solved-form button, #panel-resolve-form button');
      if (!button) { return false; }
      button.focus();
      button.scrollIntoView({block: "nearest"});
    },
    "e": function () {
      // "No good match" showing: its own form, with the team the search routes to (the panel's is the case's).
      var weak = document.getElementById("weak");
      return openAndFocus(null, "escalate-here-reason") || (weak && !weak.hidden && openAndFocus(null, "weak-reason")) ||
        openAndFocus("panel-escalate", "panel-escalate-reason");
    },
    "u": function () { return openAndFocus("panel-unresolved", "panel-unresolved-reason"); },
    "n": function () { return openAndFocus(null, "panel-note-text") || openAndFocus(null, "note-text"); },
    "?": function () { if (help && help.showModal && !help.open) { help.showModal(); } }
  };

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || event.defaultPrevented) { return; }
    if (help && help.open) { return; }  // the dialog handles Esc itself
    var action = actions[event.key];
    if (!action || typing(event.target)) { return; }
    if (action() !== false) { event.preventDefault(); }
  });

  document.querySelectorAll(".keys-help-open").forEach(function (button) {
    if (!help || !help.showModal) { return; }
    button.hidden = false;
    button.addEventListener("click", function () { help.showModal(); });
  });

  // The connection type saves itself when chosen (the button is for pages without this script).
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    var button = select.form && select.form.querySelector('button[type="submit"]');
    if (button) { button.hidden = true; }
    select.addEventListener("change", function () { select.form.requestSubmit ? select.form.requestSubmit() : select.form.submit(); });
  });

  // Landing: a step named in the link (#step-3) or the top of the steps gets the keyboard focus,
  // so j/k/x start there.
  var matched = document.querySelector(".steps .step.matched");
  var hash = window.location.hash;
  if (hash && /^#step-\d+$/.test(hash)) {
    var target = document.getElementById(hash.slice(1));
    if (target) { current = steps().indexOf(target); target.classList.add("current"); }
  } else if (matched && hash === "#section-steps") {
    current = -1;
  }
})();
