// Firstline KB search box (search page, and beside every article): results while typing, keyboard
// selection, content-gap flag. The query and its results are kept in this tab's history state and
// session storage (per user and case), so opening a case or an article, going back and Back/Forward
// never lose them; they are never put in a URL, and they are forgotten when a case is closed
// (data-fresh) or the agent signs out.
// Without this script the page still works: the form posts to "/" and the server renders results.
// Data from the server is only ever put into the page with textContent, never as HTML.
(function () {
  "use strict";

  var WAIT_MS = 250;      // quiet time after a keystroke before searching; also the minimum gap between requests
  var MAX_WAIT_MS = 500;  // while the agent keeps typing, still search at least this often

  var form = document.getElementById("search-form");
  if (!form || !window.fetch) { return; }
  var input = document.getElementById("query");
  var list = document.getElementById("results");
  var template = document.getElementById("result-template");
  var errorBox = document.getElementById("search-error");
  var caseWarning = document.getElementById("case-warning");  // the search could not be logged on the case
  var statusBox = document.getElementById("search-status");
  var noResults = document.getElementById("no-results");
  var weak = document.getElementById("weak");
  var gapForm = document.getElementById("gap-form");
  var gapStatus = document.getElementById("gap-status");
  var tokenMeta = document.querySelector('meta[name="csrf-token"]');
  var csrfToken = tokenMeta ? tokenMeta.getAttribute("content") : "";
  var msg = form.dataset;

  var sequence = 0;        // number of the newest request; older answers are dropped
  var controller = null;   // aborts the request in flight when a newer one starts
  var timer = null;
  var firstPending = null; // when the first unsent keystroke happened
  var lastSent = -Infinity;
  var lastQuery = input.value.trim();
  var selected = -1;
  var STORE = "kb-search:";
  var storeKey = STORE + (form.dataset.scope || "0");
  var routeHint = document.getElementById("route-hint");
  var weakTeam = document.getElementById("weak-team");

  function storage() {
    try { return window.sessionStorage; } catch (err) { return null; }  // storage disabled: no memory
  }

  function forgetAll() {
    var store = storage();
    if (!store) { return; }
    for (var i = store.length - 1; i >= 0; i--) {
      var key = store.key(i);
      if (key && key.indexOf(STORE) === 0) { store.removeItem(key); }
    }
  }

  function remember(data) {
    var body = request();
    var state = {query: body.query, lang: body.lang, category: body.category, connection: body.connection,
                 only_lang: body.only_lang, data: data};
    var store = storage();
    try { if (store) { store.setItem(storeKey, JSON.stringify(state)); } } catch (err) { /* full: keep going */ }
    try {
      var history = Object.assign({}, window.history.state || {}, {kbSearch: state});
      window.history.replaceState(history, "");
    } catch (err) { /* some browsers refuse large states */ }
  }

  function recalled() {
    var fromHistory = window.history.state && window.history.state.kbSearch;
    if (fromHistory) { return fromHistory; }
    var store = storage();
    if (!store) { return null; }
    try { return JSON.parse(store.getItem(storeKey) || "null"); } catch (err) { return null; }
  }

  function setField(name, value) {
    var field = form.elements[name];
    if (!field) { return; }
    if (field.type === "checkbox") { field.checked = !!value; } else if (value !== null && value !== undefined) { field.value = value; }
  }

  // Put back what this tab showed last, unless the server shows another search (a case just opened).
  function restore() {
    if (form.dataset.fresh) { forgetAll(); return false; }
    var state = recalled();
    if (!state || !state.data) { return false; }
    var shown = input.value.trim();
    if (form.dataset.serverResults && shown && shown !== (state.query || "").trim()) { return false; }
    input.value = state.query || "";
    ["lang", "category", "connection"].forEach(function (name) { if (state[name]) { setField(name, state[name]); } });
    setField("only_lang", state.only_lang);
    lastQuery = input.value.trim();
    show(state.data, !lastQuery, true);
    return true;
  }

  function post(url, body, signal) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {"Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrfToken},
      body: JSON.stringify(body),
      signal: signal
    });
  }

  function request() {
    var data = new FormData(form);
    return {
      query: input.value,
      lang: data.get("lang") || null,
      category: data.get("category") || null,
      connection: data.get("connection") || null,
      only_lang: data.get("only_lang") === "1"
    };
  }

  function schedule() {
    var now = performance.now();
    if (firstPending === null) { firstPending = now; }
    var at = Math.max(Math.min(now + WAIT_MS, firstPending + MAX_WAIT_MS), lastSent + WAIT_MS);
    clearTimeout(timer);
    timer = setTimeout(search, Math.max(0, at - now));
  }

  function searchNow() {
    clearTimeout(timer);
    var wait = lastSent + WAIT_MS - performance.now();
    timer = setTimeout(search, Math.max(0, wait));
  }

  function search() {
    timer = null;
    firstPending = null;
    var body = request();
    lastQuery = body.query.trim();
    if (controller) { controller.abort(); }
    var mine = ++sequence;
    if (!lastQuery) {
      controller = null;
      show({hits: [], weak: false}, true);
      remember({hits: [], weak: false});
      return;
    }
    lastSent = performance.now();
    controller = new AbortController();
    post(form.dataset.api, body, controller.signal).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (mine !== sequence) { return; }
        if (!response.ok) { fail(data.error || msg.msgFailed); return; }
        show(data, false);
        remember(data);
      });
    }).catch(function (err) {
      if (mine !== sequence || err.name === "AbortError") { return; }
      fail(msg.msgFailed);
    });
  }

  function fail(message) {
    errorBox.textContent = message;
    errorBox.hidden = false;
  }

  function show(data, empty, restored) {
    errorBox.hidden = true;
    errorBox.textContent = "";
    if (caseWarning) {
      caseWarning.textContent = data.warning || "";
      caseWarning.hidden = !data.warning;
    }
    var items = document.createDocumentFragment();
    data.hits.forEach(function (hit, index) { items.appendChild(item(hit, index)); });
    list.replaceChildren(items);
    selected = -1;
    noResults.hidden = empty || data.hits.length > 0;
    weak.hidden = empty || !data.weak;
    gapStatus.textContent = "";
    gapForm.querySelector("button").disabled = false;
    if (routeHint) {
      var route = data.route;
      routeHint.textContent = route ? (msg.msgRoute || "").replace("{team}", route.team_label) : "";
      routeHint.hidden = !route;
      if (route && weakTeam) { weakTeam.value = route.team; }
      var reason = document.getElementById("weak-reason");
      if (route && reason && !reason.value.trim()) {
        reason.value = (msg.msgRouteReason || "").replace("{topic}", route.topic).replace("{team}", route.team_label);
      }
    }
    showOutages(empty ? [] : (data.outages || []));
    statusBox.textContent = empty || restored ? "" : (data.hits.length ? msg.msgCount.replace("{count}", data.hits.length) : msg.msgNone);
  }

  // A postcode typed in the query finds the outages there; the page already shows the case's own.
  function showOutages(outages) {
    var live = document.getElementById("outage-live");
    if (!live || document.querySelector("#outage-area .outage-notice:not(#outage-live)")) { return; }
    live.replaceChildren();
    outages.forEach(function (outage) {
      var line = document.createElement("p");
      line.textContent = (msg.msgOutage || "{id}: {message}").replace("{id}", outage.id).replace("{message}", outage.message);
      live.appendChild(line);
    });
    live.hidden = outages.length === 0;
  }

  function item(hit, index) {
    var node = template.content.firstElementChild.cloneNode(true);
    var level = typeof hit.confidence === "number" ? hit.confidence : hit.score;
    var percent = Math.round(level * 100);
    node.id = "result-" + index;
    var link = node.querySelector(".result-title");
    link.href = hit.url;
    link.lang = hit.lang;
    link.textContent = hit.title;
    node.querySelector(".result-category").textContent = hit.category_label;
    node.querySelector(".result-lang").textContent = hit.lang.toUpperCase();
    node.querySelector(".result-match").textContent = hit.match.label;
    var meter = node.querySelector(".result-score");
    meter.value = level;
    var relevance = node.querySelector(".result-relevance");
    if (relevance) {
      relevance.textContent = hit.relevance_label || "";
      relevance.hidden = !hit.relevance_label;
      if (hit.relevance) { node.dataset.relevance = hit.relevance; }
    }
    meter.title = msg.msgRelevance.replace("{percent}", percent);
    meter.textContent = percent + "%";
    var snippet = node.querySelector(".result-snippet");
    snippet.lang = hit.lang;
    hit.snippet.parts.forEach(function (part) {
      if (part[1]) {
        var mark = document.createElement("mark");
        mark.textContent = part[0];
        snippet.appendChild(mark);
      } else {
        snippet.appendChild(document.createTextNode(part[0]));
      }
    });
    return node;
  }

  function results() { return list.querySelectorAll(".result"); }

  // Up and down move the keyboard focus between the result links (Enter opens one, as any link);
  // up from the first result goes back to the box. The box stays a plain search field: the
  // results are links in a list, not options of a listbox.
  function select(index) {
    var links = list.querySelectorAll(".result-title");
    if (index < -1) { index = links.length - 1; }
    if (index >= links.length) { index = -1; }
    selected = index;
    results().forEach(function (node, i) { node.classList.toggle("selected", i === index); });
    if (index >= 0) {
      links[index].focus();
      links[index].closest(".result").scrollIntoView({block: "nearest"});
    }
  }

  // The box is a textarea, so that a pasted e-mail keeps its line breaks; it grows with its text
  // up to about ten lines and scrolls beyond that.
  function fit() {
    input.style.height = "auto";
    var most = parseFloat(getComputedStyle(input).lineHeight) * 10 || 400;
    input.style.height = Math.min(input.scrollHeight + 2, most) + "px";
  }

  input.addEventListener("input", function () {
    fit();
    if (input.value.trim() === lastQuery) { return; }
    schedule();
  });

  // On the first line ↑ goes to the results, on the last ↓; elsewhere they move the cursor between lines.
  function onFirstLine() { return input.value.lastIndexOf("\n", input.selectionStart - 1) < 0; }
  function onLastLine() { return input.value.indexOf("\n", input.selectionEnd) < 0; }

  input.addEventListener("keydown", function (event) {
    if (event.isComposing) { return; }
    if ((event.key === "ArrowDown" && onLastLine()) || (event.key === "ArrowUp" && onFirstLine() && results().length)) {
      event.preventDefault();
      select(event.key === "ArrowDown" ? 0 : results().length - 1);
    } else if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      searchNow();
    }
  });

  list.addEventListener("keydown", function (event) {
    if (event.key !== "ArrowDown" && event.key !== "ArrowUp" && event.key !== "Escape") { return; }
    var links = Array.prototype.slice.call(list.querySelectorAll(".result-title"));
    var at = links.indexOf(document.activeElement);
    if (at < 0) { return; }
    event.preventDefault();
    var next = event.key === "Escape" ? -1 : at + (event.key === "ArrowDown" ? 1 : -1);
    if (next < 0) { select(-1); input.focus(); return; }
    if (next < links.length) { select(next); }
  });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    searchNow();
  });

  form.addEventListener("change", function (event) {
    if (event.target !== input) { searchNow(); }
  });

  // "/" puts the cursor back in the search box, unless the agent is typing somewhere else.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) { return; }
    event.preventDefault();
    input.focus();
    input.select();
  });

  function typing(element) {
    if (!element || element === document.body) { return false; }
    if (element.isContentEditable) { return true; }
    var tag = element.tagName;
    if (tag === "TEXTAREA" || tag === "SELECT") { return true; }
    return tag === "INPUT" && ["checkbox", "radio", "button", "submit", "reset"].indexOf(element.type) < 0;
  }

  gapForm.addEventListener("submit", function (event) {
    event.preventDefault();
    var button = gapForm.querySelector("button");
    button.disabled = true;
    var body = request();
    post(form.dataset.gaps, {query: body.query, lang: body.lang}).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) { throw new Error(data.error || msg.msgFailed); }
        gapStatus.textContent = data.message || msg.msgFlagged;
      });
    }).catch(function (err) {
      button.disabled = false;
      gapStatus.textContent = err.message || msg.msgFailed;
    });
  });

  // "Open a case with this problem": the form carries what is in the box now.
  var prefill = document.getElementById("case-prefill");
  if (prefill) {
    prefill.addEventListener("submit", function () {
      prefill.querySelector('input[name="problem"]').value = input.value;
    });
  }

  restore();
  fit();
  // Back/Forward to a page the browser kept in memory shows it as it was; one it reloads is restored.
  window.addEventListener("pageshow", function (event) { if (event.persisted) { restore(); } });
  if (input.hasAttribute("autofocus")) {
    input.focus();
    var end = input.value.length;
    try { input.setSelectionRange(end, end); } catch (err) { /* not a text field type that allows it */ }
  }
})();
