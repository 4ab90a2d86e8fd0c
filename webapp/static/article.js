// Firstline KB article page: one-click copy of the customer explanation.
// The copy button stays hidden without this script; the text can then be selected by hand.
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
