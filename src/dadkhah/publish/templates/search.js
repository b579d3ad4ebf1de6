// The memorial's search, in the reader's browser, offline (dadkhah.publish.search).
//
// A query's words are read as the registry's own search reads them (dadkhah.registry.search.
// query_terms): letters folded, titles dropped, detached suffixes joined, and each word turned into
// its cross-script key, so "Mohammad" and "محمد" both look for MHMD. The tables below are written
// from dadkhah.normalize at build time, and a test holds this port to the Python, word for word.
// The index is plain script files loaded by <script> tags, so the search works from a USB stick
// (file://), where a browser refuses fetch() and WebAssembly.
(function () {
  "use strict";
  var T = {{ tables|tojson }};
  var SHARD = {{ shard }}, PER_FILE = {{ per_file }}, SHOWN = {{ shown }};
  var SHARDS = new Set({{ shards|tojson }});  // the key files there are: no request for one that is not
  var ARABIC = /[\u0600-\u06ff\ufb50-\ufdff\ufe70-\ufeff]/;
  var LATIN = /[A-Za-z\u00c0-\u024f]/;
  var ACCENTED = /[\u00c0-\u024f\u1e00-\u1eff]/g;
  var MARKS = /[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]/g;
  var has = function (table, key) { return Object.prototype.hasOwnProperty.call(table, key); };
  var titles = T.titles, suffixes = new Set(T.family_suffixes), prefixes = new Set(T.family_prefixes);
  var commonGiven = new Set(T.common_given_keys), finalYeh = new Set(T.final_yeh_as_alef);
  var placeholders = new Set(T.placeholders);

  function translate(text, table) {
    var out = "";
    for (var ch of text) { out += has(table, ch) ? (table[ch] === null ? "" : table[ch]) : ch; }
    return out;
  }
  function detectScript(text) {
    var arabic = ARABIC.test(text), latin = LATIN.test(text);
    return arabic && latin ? "mixed" : arabic ? "fa" : latin ? "latin" : null;
  }
  function strip(text, chars) {
    var start = 0, end = text.length;
    while (start < end && chars.indexOf(text[start]) >= 0) start++;
    while (end > start && chars.indexOf(text[end - 1]) >= 0) end--;
    return text.slice(start, end);
  }
  function foldPersian(text) {
    text = translate(text.normalize("NFKC"), T.persian_fold);
    text = text.replace(/[\s\u200c]*\s[\s\u200c]*/g, " ").replace(/\u200c{2,}/g, "\u200c");
    return strip(text, " \u200c");
  }
  function foldLatin(text) {
    text = translate(text, T.latin_special).replace(ACCENTED, function (ch) {
      return translate(ch.normalize("NFKD").replace(MARKS, ""), T.latin_special);
    });
    return text.toLowerCase().replace(/\s+/g, " ").trim();
  }
  function isPlaceholder(text) {
    var stripped = text.trim();
    return !stripped || placeholders.has(foldPersian(stripped).toLowerCase());
  }

  function finishKey(codes, final) {
    var skeleton = codes.filter(function (c) { return c; });
    if (final) { while (skeleton.length && skeleton[skeleton.length - 1] === "Y") skeleton.pop(); }
    if (skeleton.length > 1 && skeleton[skeleton.length - 1] === "H" && !final) skeleton.pop();
    var collapsed = [];
    for (var code of skeleton) { if (!collapsed.length || collapsed[collapsed.length - 1] !== code) collapsed.push(code); }
    return collapsed.join("") + final;
  }
  function persianKey(token) {
    token = token.split("\u200c").join("");
    var letters = Array.from(token), start = 0, end = letters.length, final = "", codes = [];
    while (start < letters.length && T.persian_leading.indexOf(letters[start]) >= 0) start++;
    if (token.endsWith("ی")) {
      while (end > start && "یئ".indexOf(letters[end - 1]) >= 0) end--;
      final = finalYeh.has(token) ? "" : "I";
    }
    for (var i = start; i < end; i++) {
      var ch = letters[i];
      if ("یئ".indexOf(ch) >= 0) codes.push("Y");
      else if (ch === "و") codes.push("U");
      else if (T.persian_silent.indexOf(ch) < 0) codes.push(has(T.persian_key, ch) ? T.persian_key[ch] : "");
    }
    if (finalYeh.has(token) && end < letters.length - 1) codes.push("Y");
    return finishKey(codes, final);
  }
  function vowelCode(group, initial, final) {
    if (initial) return (group.indexOf("u") >= 0 || group.indexOf("oo") >= 0) ? "U" : "";
    var ending = final && /(i|y|ee|ie)$/.test(group);
    var rest = ending ? group.slice(0, /(ee|ie)$/.test(group) ? -2 : -1) : group;
    var codes = [], index = 0;
    while (index < rest.length) {
      var two = rest.slice(index, index + 2), code;
      if (two === "ee" || two === "oo") { code = two === "ee" ? "Y" : "U"; index += 2; }
      else { code = {i: "Y", y: "Y", u: "U"}[rest[index]] || ""; index += 1; }
      if (code && (!codes.length || codes[codes.length - 1] !== code)) codes.push(code);
    }
    return codes.join("") + (ending ? "I" : "");
  }
  function latinKey(token) {
    var parts = token.toLowerCase().match(/^dj|tch|kh|gh|sh|ch|zh|ph|ck|[aeiouy]+|./g) || [];
    var codes = [], final = "", last = parts.length - 1;
    parts.forEach(function (part, index) {
      if ("aeiouy".indexOf(part[0]) >= 0) {
        if (index && parts[index - 1] === "g" && (part.slice(0, 2) === "ui" || part.slice(0, 2) === "ue")) part = part.slice(1);
        var code = vowelCode(part, index === 0, index === last);
        if (index === last && code.slice(-1) === "I") { codes.push(code.slice(0, -1)); final = "I"; } else codes.push(code);
      } else if (part === "v" || part === "w") {
        codes.push("U");
      } else {
        var digraph = T.latin_digraphs.find(function (pair) { return pair[0] === part; });
        codes.push(digraph ? digraph[1] : (has(T.latin_key, part) ? T.latin_key[part] : ""));
      }
    });
    return finishKey(codes, final);
  }
  function tokenKey(token) {
    if (!token) return "";
    return detectScript(token) === "latin" ? latinKey(token) : persianKey(token);
  }

  function stripTitles(tokens) {
    while (tokens.length > 1) {
      var pair = tokens[0] + tokens[1];
      if (tokens.length > 2 && has(titles, pair)) tokens = tokens.slice(2);
      else if (has(titles, tokens[0])) tokens = tokens.slice(1);
      else break;
    }
    if (tokens.length) {
      var first = tokens[0];
      for (var prefix of T.joined_title_prefixes) {
        var rest = first.slice(prefix.length);
        if (first.startsWith(prefix) && commonGiven.has(tokenKey(rest)) && Array.from(rest).length >= 2) {
          tokens = [rest].concat(tokens.slice(1));
          break;
        }
      }
    }
    return tokens;
  }
  function joinFamilyParts(tokens) {
    var joined = [];
    tokens.forEach(function (token, index) {
      var prefixHere = prefixes.has(token) && index + 1 < tokens.length;
      if (joined.length && suffixes.has(token) && !prefixHere) joined[joined.length - 1] += token;
      else joined.push(token);
    });
    var result = [];
    for (var token of joined) {
      if (result.length && prefixes.has(result[result.length - 1])) result[result.length - 1] += token;
      else result.push(token);
    }
    return result;
  }
  function queryWords(query) {
    if (!query || !query.trim() || isPlaceholder(query)) return [];
    var text = query.replace(/[(\[{]([^)\]}]*)[)\]}]/g, " "), script = detectScript(text);
    if (script === "fa" || script === "mixed") text = foldPersian(text);
    if (script === "latin" || script === "mixed") text = foldLatin(text);
    text = text.split("\u200c").join("").split("-").join("");
    var tokens = text.split(/[\s,;/]+/).filter(function (t) { return t && !/^\d+$/.test(t); });
    return joinFamilyParts(stripTitles(tokens));
  }
  function queryTerms(query) {
    var words = queryWords(query), keys = words.map(tokenKey), joined = [];
    for (var i = 0; i + 1 < words.length; i++) joined.push(tokenKey(words[i] + words[i + 1]));
    var terms = [];
    keys.forEach(function (key, i) {
      if (!key) return;
      var alternatives = [key];
      [i > 0 ? joined[i - 1] : null, i < joined.length ? joined[i] : null].forEach(function (pair) {
        if (pair && alternatives.indexOf(pair) < 0) alternatives.push(pair);
      });
      terms.push(alternatives);
    });
    return terms;
  }

  // --- the index, loaded a file at a time ---
  var base = document.currentScript ? document.currentScript.src.replace(/search\.js(\?.*)?$/, "") : "";
  var shards = {}, people = {}, waiting = {};
  function load(name) {
    if (!waiting[name]) {
      waiting[name] = new Promise(function (resolve) {
        var script = document.createElement("script");
        script.src = base + name + ".js";
        script.onload = resolve;
        script.onerror = resolve;
        document.head.appendChild(script);
      });
    }
    return waiting[name];
  }
  function postings(shard, key, prefix) {
    var table = shards[shard] || {}, found = new Set();
    Object.keys(table).forEach(function (k) {
      if (k === key || (prefix && k.startsWith(key))) {
        var n = 0;
        table[k].forEach(function (delta) { n += delta; found.add(n); });
      }
    });
    return found;
  }
  async function find(query, asYouType) {
    var terms = queryTerms(query);
    if (!terms.length) return [];
    var names = new Set();
    terms.forEach(function (alternatives) {
      alternatives.forEach(function (key) { if (SHARDS.has(key.slice(0, SHARD))) names.add(key.slice(0, SHARD)); });
    });
    await Promise.all(Array.from(names).map(function (shard) { return load("k-" + shard); }));
    var sets = terms.map(function (alternatives, index) {
      var union = new Set(), last = asYouType && index === terms.length - 1;
      alternatives.forEach(function (key, which) {
        postings(key.slice(0, SHARD), key, last && which === 0 && key.length >= SHARD).forEach(function (n) { union.add(n); });
      });
      return union;
    });
    sets.sort(function (a, b) { return a.size - b.size; });
    return Array.from(sets[0]).filter(function (n) { return sets.every(function (s) { return s.has(n); }); })
      .sort(function (a, b) { return a - b; });
  }
  async function describe(numbers) {
    var files = new Set(numbers.map(function (n) { return Math.floor(n / PER_FILE); }));
    await Promise.all(Array.from(files).map(function (f) { return load("p-" + f); }));
    return numbers.map(function (n) { return people[n]; }).filter(Boolean);
  }

  window.dadkhahSearch = {
    queryTerms: queryTerms, tokenKey: tokenKey, find: find, describe: describe,
    keys: function (shard, table) { shards[shard] = table; },
    persons: function (file, rows) { rows.forEach(function (row, i) { people[file * PER_FILE + i] = row; }); },
  };

  // --- the search page ---
  function digits(value, lang) {
    var text = String(value);
    return lang === "fa" ? text.replace(/[0-9]/g, function (d) { return "۰۱۲۳۴۵۶۷۸۹"[d]; }) : text;
  }
  function start() {
    var form = document.getElementById("search"), box = document.getElementById("q"), more = document.getElementById("more");
    var list = document.getElementById("results"), status = document.getElementById("found");
    if (!form || !box || !list) return;
    var lang = document.documentElement.lang, root = form.getAttribute("data-root"), words = JSON.parse(form.getAttribute("data-words"));
    var asked = 0, found = [], listed = 0, query = "";

    function item(row) {
      var entry = document.createElement("li"), link = document.createElement("a");
      link.href = root + lang + "/p/" + row[0] + "/index.html";
      var name = lang === "fa" ? (row[1] || row[2]) : (row[2] || row[1]);
      link.textContent = name || row[0];
      link.dir = "auto";
      entry.appendChild(link);
      var other = lang === "fa" ? row[2] : row[1];
      if (other && other !== name) {
        var second = document.createElement("span");
        second.className = "other-script"; second.dir = "auto"; second.textContent = other;
        entry.appendChild(document.createTextNode(" "));
        entry.appendChild(second);
      }
      var city = lang === "fa" ? (row[3] || row[4]) : (row[4] || row[3]);
      if (city) {
        var where = document.createElement("span");
        where.className = "city"; where.textContent = city;
        entry.appendChild(document.createTextNode(" · "));
        entry.appendChild(where);
      }
      return entry;
    }
    function tell() {
      var total = found.length;
      status.textContent = query.trim() ? words.found.replace("{n}", digits(total, lang))
        + (total > listed ? " " + words.shown.replace("{n}", digits(listed, lang)) : "") : "";
      if (more) more.hidden = !(total > listed);
    }
    async function run(asYouType) {
      var asking = box.value, ticket = ++asked, started = performance.now();
      var id = /^\s*[Pp]\s*-?\s*0*(\d{1,9})\s*$/.exec(asking.replace(/[۰-۹]/g, function (d) { return "۰۱۲۳۴۵۶۷۸۹".indexOf(d); }));
      var numbers = await find(asking, asYouType);
      var rows = await describe(numbers.slice(0, SHOWN));
      if (ticket !== asked) return;  // a later query has been asked meanwhile
      query = asking; found = numbers; listed = Math.min(SHOWN, numbers.length);
      list.textContent = "";
      if (id) {
        var pid = "P-" + ("000000" + id[1]).slice(-Math.max(6, id[1].length));
        rows = rows.filter(function (row) { return row[0] !== pid; });
        rows.unshift([pid, null, null, null, null]);
      }
      rows.forEach(function (row) { list.appendChild(item(row)); });
      tell();
      list.setAttribute("data-ms", String(Math.round(performance.now() - started)));
      list.setAttribute("data-query", asking);
    }
    async function next() {
      var ticket = asked, rows = await describe(found.slice(listed, listed + SHOWN));
      if (ticket !== asked) return;
      rows.forEach(function (row) { list.appendChild(item(row)); });
      listed = Math.min(listed + SHOWN, found.length);
      tell();
    }
    form.addEventListener("submit", function (event) { event.preventDefault(); run(false); });
    box.addEventListener("input", function () { run(true); });
    if (more) more.addEventListener("click", next);
    var asked_for = new URLSearchParams(location.search).get("q");
    if (asked_for) { box.value = asked_for; run(false); }
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
})();
