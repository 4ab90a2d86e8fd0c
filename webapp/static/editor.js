// Firstline KB article editor: live preview and lint while typing (the same sanitised renderer and
// lint rules the server applies when publishing), jump to a lint problem's line, Ctrl+S to save,
// and a warning before leaving with unsaved changes. Without this script the page still works:
// saving shows the preview and the lint messages of the saved text.
(function () {
  "use strict";

  var form = document.getElementById("editor-form");
  if (!form || !window.fetch) { return; }
  var textarea = document.getElementById("article-text");
  var preview = document.getElementById("preview");
  var list = document.getElementById("lint-list");
  var count = document.getElementById("lint-count");
  var idField = document.getElementById("article_id");
  var langField = document.getElementById("lang");
  var tokenMeta = document.querySelector('meta[name="csrf-token"]');
  var csrfToken = tokenMeta ? tokenMeta.getAttribute("content") : "";
  var WAIT_MS = 300;
  var timer = null;
  var sequence = 0;
  var saved = textarea.value;
  var submitting = false;

  function goToLine(line) {
    var lines = textarea.value.split("\n");
    var start = 0;
    for (var i = 0; i < Math.min(line - 1, lines.length); i++) { start += lines[i].length + 1; }
    var end = start + (lines[line - 1] || "").length;
    textarea.focus();
    textarea.setSelectionRange(start, end);
    var lineHeight = textarea.scrollHeight / Math.max(lines.length, 1);
    textarea.scrollTop = Math.max(0, (line - 3) * lineHeight);
  }

  function showProblems(problems) {
    var items = document.createDocumentFragment();
    problems.forEach(function (p) {
      var li = document.createElement("li");
      var button = document.createElement("button");
      button.type = "button";
      button.className = "lint-line";
      button.dataset.line = p.line;
      button.textContent = (list.dataset.lineWord || "line") + " " + p.line;
      li.appendChild(button);
      li.appendChild(document.createTextNode(" " + p.message));
      if (p.hint) {
        var hint = document.createElement("span");
        hint.className = "hint";
        hint.textContent = " " + p.hint;
        li.appendChild(hint);
      }
      items.appendChild(li);
    });
    if (!problems.length) {
      var clean = document.createElement("li");
      clean.className = "clean";
      clean.textContent = form.dataset.msgClean;
      items.appendChild(clean);
    }
    list.replaceChildren(items);
    count.textContent = problems.length;
  }

  function refresh() {
    var mine = ++sequence;
    var body = {
      article_id: (idField && idField.value) || form.dataset.article || "new-article-id",
      lang: (langField && langField.value) || form.dataset.lang,
      text: textarea.value
    };
    fetch(form.dataset.preview, {
      method: "POST",
      credentials: "same-origin",
      headers: {"Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrfToken},
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().then(function (data) {
        if (mine !== sequence) { return; }
        if (!response.ok) { throw new Error(data.error || form.dataset.msgFailed); }
        preview.innerHTML = data.html;  // sanitised by the server's renderer, as on the article page
        showProblems(data.problems);
      });
    }).catch(function () {
      if (mine === sequence) { showProblems([{line: 1, message: form.dataset.msgFailed, hint: ""}]); }
    });
  }

  textarea.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(refresh, WAIT_MS);
  });
  if (idField) { idField.addEventListener("change", refresh); }
  if (langField) { langField.addEventListener("change", refresh); }
  list.addEventListener("click", function (event) {
    var button = event.target.closest("button.lint-line");
    if (button) { goToLine(Number(button.dataset.line)); }
  });
  document.addEventListener("keydown", function (event) {
    if ((event.ctrlKey || event.metaKey) && event.key === "s") {
      event.preventDefault();
      submitting = true;
      form.requestSubmit ? form.requestSubmit() : form.submit();
    }
  });
  form.addEventListener("submit", function () { submitting = true; });
  window.addEventListener("beforeunload", function (event) {
    if (!submitting && textarea.value !== saved) { event.preventDefault(); event.returnValue = ""; }
  });
})();
