// Firstline KB article page: one-click copy of the customer explanation (and of a case hand-off),
// and, with a case open, each ticked or unticked step saved on the case at once.
// Without this script the copy button stays hidden (select the text by hand) and the checklist is
// saved with its "Save the ticked steps" button.
(function () {
  "use strict";

  function selectContents(element) {
    var range = document.createRange();
    range.selectNodeContents(element);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  // Older browsers, or pages not served over HTTPS, have no navigator.clipboard.
  function copyBySelection(element) {
    selectContents(element);
    var copied = false;
    try { copied = document.execCommand("copy"); } catch (err) { copied = false; }
    return copied ? Promise.resolve() : Promise.reject(new Error("copy refused"));
  }

  function copy(element) {
    var text = element.innerText.trim();
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).catch(function () { return copyBySelection(element); });
    }
    return copyBySelection(element);
  }

  var checklist = document.getElementById("checklist");
  if (checklist && checklist.dataset.api && window.fetch) {
    var tokenMeta = document.querySelector('meta[name="csrf-token"]');
    var csrfToken = tokenMeta ? tokenMeta.getAttribute("content") : "";
    var stepStatus = checklist.querySelector(".checklist-status");
    var saveButton = checklist.querySelector(".save-steps");
    if (saveButton) { saveButton.hidden = true; }
    var pending = [];  // saves in flight; "This solved it" waits for them
    var save = function (step, done, result) {
      var box = checklist.querySelector('input[name="step"][value="' + step + '"]');
      var body = {article_id: checklist.dataset.article, lang: checklist.dataset.lang,
                  revision: checklist.dataset.revision, step: step, done: done};
      if (result !== null) { body.result = result; }
      if (box) { box.disabled = true; }
      var saving = fetch(checklist.dataset.api, {
        method: "POST",
        credentials: "same-origin",
        headers: {"Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrfToken},
        body: JSON.stringify(body)
      }).then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (data) {
          if (!response.ok) { throw new Error(data.error || checklist.dataset.msgFailed); }
          if (stepStatus) { stepStatus.textContent = ""; }
          // Only this step's box: answers to quick ticks of other steps may arrive in any order.
          if (box) { box.checked = data.ticked.indexOf(step) >= 0; }
        });
      }).catch(function (err) {
        if (box) { box.checked = !done; }  // the case does not have it: do not pretend it does
        if (stepStatus) { stepStatus.textContent = err.message || checklist.dataset.msgFailed; }
      }).then(function () {
        if (box) { box.disabled = false; }
        pending.splice(pending.indexOf(saving), 1);
      });
      pending.push(saving);
    };
    checklist.addEventListener("change", function (event) {
      var target = event.target;
      if (target.matches('input[type="checkbox"][name="step"]')) {
        var field = document.getElementById("step-result-" + target.value);
        var text = field && target.checked && field.value.trim() ? field.value : null;
        save(Number(target.value), target.checked, text);
      } else if (target.matches("input.step-result")) {
        var step = Number(target.dataset.step);
        var ticked = checklist.querySelector('input[name="step"][value="' + step + '"]');
        if (target.value.trim()) {
          save(step, true, target.value);  // writing what a step showed means it was done: it is ticked
        } else if (ticked && ticked.checked) {
          save(step, true, "");  // an emptied field clears the result; the step stays done
        }
      }
    });
    // Enter in a result field saves it (change fires) instead of submitting the whole form.
    checklist.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && event.target.matches("input.step-result")) {
        event.preventDefault();
        event.target.blur();
      }
    });
    var solved = document.getElementById("solved-form");
    if (solved) {
      solved.addEventListener("submit", function (event) {
        if (!pending.length) { return; }
        event.preventDefault();  // a step result typed just before the click is saved first
        Promise.all(pending.slice()).then(function () { solved.submit(); });
      });
    }
  }

  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    var target = document.getElementById(button.dataset.copy);
    if (!target) { return; }
    var status = button.parentNode.querySelector(".copy-status");
    button.hidden = false;
    button.addEventListener("click", function () {
      copy(target).then(function () {
        if (status) { status.textContent = button.dataset.copied; }
      }, function () {
        selectContents(target);
        if (status) { status.textContent = button.dataset.failed; }
      });
    });
  });
})();
