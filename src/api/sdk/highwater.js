/*! highwater browser snippet: who is online, from a web page.
 *
 *   <script src="https://highwater.example.com/sdk/highwater.js"></script>
 *   <script>
 *     highwater.start({url: "https://highwater.example.com", key: "<ingest key>",
 *                      userId: "U123", timeoutS: 600});
 *   </script>
 *
 * Sends session_start at once, a heartbeat every timeoutS/2 seconds (the
 * project's session_timeout_s; heartbeatMs overrides), presence away/active
 * when the page is hidden/shown, and session_end when the page goes
 * (pagehide, by navigator.sendBeacon). A page put into the back/forward
 * cache has not gone: it sends presence away and stops its heartbeats, and
 * when it is shown again, presence active and heartbeats again (or, after
 * more than timeoutS away, when its session has timed out, a new session). Everything goes to /v1/beacon with
 * the key in the URL as text/plain: no CORS preflight; list the page's origin
 * in the project's allowed_origins to read the answers. Optional `fields`
 * ({platform, country, org_id, app_version}) are added to every event.
 * Returns {sessionId, end()}.
 */
(function (global) {
  "use strict";

  function newId() {
    var crypto = global.crypto;
    if (crypto && crypto.randomUUID) return crypto.randomUUID();
    return Date.now().toString(36) + "-" + Math.random().toString(36).slice(2);
  }

  function start(options) {
    if (!options || !options.url || !options.key || options.userId == null) {
      throw new Error("highwater.start needs {url, key, userId}");
    }
    var endpoint = options.url.replace(/\/+$/, "") + "/v1/beacon?key=" +
      encodeURIComponent(options.key);
    var sessionId = options.sessionId || newId();
    var timeoutMs = (options.timeoutS || 600) * 1000;
    var heartbeatMs = options.heartbeatMs || timeoutMs / 2;
    var fields = options.fields || {};
    var ended = false;
    var timer = null;
    var cachedAt = null;

    function event(type, status) {
      var e = {type: type, user_id: String(options.userId), session_id: sessionId,
               ts: Date.now(), event_id: newId()};
      if (status) e.status = status;
      for (var name in fields) e[name] = fields[name];
      return e;
    }

    function send(e, closing) {
      var body = JSON.stringify([e]);
      if (closing && global.navigator.sendBeacon && global.navigator.sendBeacon(endpoint, body)) {
        return;
      }
      global.fetch(endpoint, {method: "POST", body: body, keepalive: true,
                              headers: {"Content-Type": "text/plain"}})
        .catch(function () { /* the next heartbeat keeps the session */ });
    }

    function onVisibility() {
      send(event("presence", global.document.visibilityState === "hidden" ? "away" : "active"));
    }

    // Sends `first`, then a heartbeat every heartbeatMs.
    function beat(first) {
      send(first);
      global.clearInterval(timer);
      timer = global.setInterval(function () { send(event("heartbeat")); }, heartbeatMs);
    }

    function onPageHide(e) {
      if (!e.persisted) return end();
      // Into the back/forward cache: the page may be shown again.
      global.clearInterval(timer);
      cachedAt = Date.now();
      send(event("presence", "away"), true);
    }

    function onPageShow(e) {
      if (!e.persisted || ended || cachedAt === null) return;
      var away = Date.now() - cachedAt;
      cachedAt = null;
      if (away > timeoutMs) {
        // The session timed out meanwhile: this is a new one.
        sessionId = newId();
        handle.sessionId = sessionId;
        return beat(event("session_start"));
      }
      beat(event("presence", "active"));
    }

    function end() {
      if (ended) return;
      ended = true;
      global.clearInterval(timer);
      global.document.removeEventListener("visibilitychange", onVisibility);
      global.removeEventListener("pagehide", onPageHide);
      global.removeEventListener("pageshow", onPageShow);
      send(event("session_end"), true);
    }

    var handle = {sessionId: sessionId, end: end};
    beat(event("session_start"));
    global.document.addEventListener("visibilitychange", onVisibility);
    global.addEventListener("pagehide", onPageHide);
    global.addEventListener("pageshow", onPageShow);
    return handle;
  }

  global.highwater = {start: start};
})(window);
