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
    var MAX_DELAY_MS = 15000;
    // Changes not saved yet, oldest first, sent one at a time. A change that could not be saved
    // because the server or the network was away (no answer, 5xx) stays queued and is sent again
    // after 1, 2, 4 ... 15 s; the box keeps what the agent ticked meanwhile. A change the server
    // refused (4xx: the case is closed, the article changed) is dropped and the box put back.
    var queue = [];
    var sending = false;
    var delay = 0;
    var drained = [];  // callbacks waiting for the queue to empty ("This solved it")

    var box = function (step) { return checklist.querySelector('input[name="step"][value="' + step + '"]'); };
    var say = function (text) { if (stepStatus) { stepStatus.textContent = text || ""; } };
    var queuedFor = function (step, from) {
      for (var i = from; i < queue.length; i++) { if (queue[i].step === step) { return i; } }
      return -1;
    };

    var send = function (change) {
      var body = {article_id: checklist.dataset.article, lang: checklist.dataset.lang,
                  revision: checklist.dataset.revision, step: change.step, done: change.done};
      if (change.result !== null) { body.result = change.result; }
      return fetch(checklist.dataset.api, {
        method: "POST",
        credentials: "same-origin",
        headers: {"Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrfToken},
        body: JSON.stringify(body)
      }).then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (data) {
          return {status: response.status, ok: response.ok, data: data};
        });
      }, function () { return {status: 0, ok: false, data: {}}; });  // no answer: the network or server is away
    };

    var pump = function () {
      if (sending) { return; }
      if (!queue.length) {
        drained.splice(0).forEach(function (callback) { callback(); });
        return;
      }
      sending = true;
      var change = queue[0];
      send(change).then(function (answer) {
        sending = false;
        if (answer.status === 0 || answer.status >= 500) {
          delay = Math.min(Math.max(1000, delay * 2), MAX_DELAY_MS);
          say((answer.data.error ? answer.data.error + " " : "") + checklist.dataset.msgQueued);
          window.setTimeout(pump, delay);
          return;
        }
        queue.shift();
        delay = 0;
        var input = box(change.step);
        if (answer.ok) {
          if (!queue.length) { say(""); }
          // Only when no newer change of this step waits: the server's state for this step.
          if (input && queuedFor(change.step, 0) < 0) { input.checked = answer.data.ticked.indexOf(change.step) >= 0; }
        } else {
          if (input && queuedFor(change.step, 0) < 0) { input.checked = !change.done; }  // not on the case
          say(answer.data.error || checklist.dataset.msgFailed);
        }
        pump();
      });
    };

    var save = function (step, done, result) {
      // A newer change of a step replaces one still waiting (not the one being sent).
      var waiting = queuedFor(step, sending ? 1 : 0);
      var change = {step: step, done: done, result: result};
      if (waiting >= 0) { queue[waiting] = change; } else { queue.push(change); }
      pump();
    };

    checklist.addEventListener("change", function (event) {
      var target = event.target;
      if (target.matches('input[type="checkbox"][name="step"]')) {
        var field = document.getElementById("step-result-" + target.value);
        var text = field && target.checked && field.value.trim() ? field.value : null;
        save(Number(target.value), target.checked, text);
      } else if (target.matches("input.step-result")) {
        var step = Number(target.dataset.step);
        var ticked = box(step);
        if (target.value.trim()) {
          if (ticked) { ticked.checked = true; }
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
    // Leaving the page with changes still queued would lose them: the browser asks first.
    window.addEventListener("beforeunload", function (event) {
      if (queue.length) { event.preventDefault(); event.returnValue = ""; }
    });
    var solved = document.getElementById("solved-form");
    if (solved) {
      solved.addEventListener("submit", function (event) {
        if (!queue.length) { return; }
        event.preventDefault();  // a step result typed just before the click is saved first
        say(checklist.dataset.msgQueued);
        drained.push(function () { solved.submit(); });
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
