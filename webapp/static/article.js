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
    checklist.addEventListener("change", function (event) {
      var box = event.target;
      if (!box.matches('input[type="checkbox"][name="step"]')) { return; }
      var done = box.checked;
      box.disabled = true;
      fetch(checklist.dataset.api, {
        method: "POST",
        credentials: "same-origin",
        headers: {"Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrfToken},
        body: JSON.stringify({article_id: checklist.dataset.article, lang: checklist.dataset.lang,
                              step: Number(box.value), done: done})
      }).then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (data) {
          if (!response.ok) { throw new Error(data.error || checklist.dataset.msgFailed); }
          if (stepStatus) { stepStatus.textContent = ""; }
          checklist.querySelectorAll('input[name="step"]').forEach(function (other) {
            other.checked = data.ticked.indexOf(Number(other.value)) >= 0;
          });
        });
      }).catch(function (err) {
        box.checked = !done;  // the case does not have it: do not pretend it does
        if (stepStatus) { stepStatus.textContent = err.message || checklist.dataset.msgFailed; }
      }).then(function () { box.disabled = false; });
    });
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
