// netsize's static site: starts Python (Pyodide) in the page and answers the calculator's
// requests (api/...) with netsize itself, so that app.js runs unchanged, as under `netsize serve`.
(function () {
  "use strict";
  var asked = new URLSearchParams(location.search).get("lang");
  if (asked === "zh" || asked === "en") window.NETSIZE.lang = asked;
  var status = document.createElement("div");
  status.id = "runtime-status";
  status.setAttribute("role", "status");
  status.style.cssText = "position:fixed;right:12px;bottom:12px;padding:6px 10px;border-radius:6px;" +
    "background:#1f2937;color:#fff;font:13px system-ui,sans-serif;z-index:10";
  status.textContent = window.NETSIZE.lang === "zh" ? "正在载入 Python（WebAssembly）…" : "Loading Python (WebAssembly)…";
  var started = performance.now();
  window.NETSIZE_SITE = {started: started, ready: null, firstAnswer: null};
  document.addEventListener("DOMContentLoaded", function () { document.body.appendChild(status); });

  var networkFetch = window.fetch.bind(window);
  var runtime = (async function () {
    var base = new URL("pyodide/", location.href).href;
    // netsize's files download while the runtime compiles.
    var zipped = networkFetch("netsize.zip").then(function (r) {
      if (!r.ok) throw new Error("netsize.zip: HTTP " + r.status);
      return r.arrayBuffer();
    });
    var mod = await import(base + "pyodide.mjs");
    var py = await mod.loadPyodide({indexURL: base});
    var zip = await zipped;
    py.unpackArchive(zip, "zip", {extractDir: "/netsize-site"});
    py.runPython("import sys; sys.path.insert(0, '/netsize-site')");
    var browser = py.pyimport("netsize.site._browser");
    window.NETSIZE_SITE.ready = performance.now() - started;
    status.remove();
    return browser;
  })();
  runtime.catch(function (e) {
    status.textContent = "netsize could not start: " + e;
    status.style.background = "#b91c1c";
  });

  window.fetch = function (url, options) {
    if (typeof url !== "string" || url.indexOf("api/") !== 0) return networkFetch(url, options);
    var body = options && typeof options.body === "string" ? options.body : "";
    return runtime.then(function (browser) {
      var reply = JSON.parse(browser.handle(url, body));
      if (window.NETSIZE_SITE.firstAnswer === null && url === "api/analyze") {
        window.NETSIZE_SITE.firstAnswer = performance.now() - started;
      }
      return new Response(reply.text, {status: reply.status, headers: {"Content-Type": reply.type}});
    });
  };
})();
