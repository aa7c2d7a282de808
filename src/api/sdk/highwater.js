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
 * (pagehide, by navigator.sendBeacon). Everything goes to /v1/beacon with
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
    var heartbeatMs = options.heartbeatMs || (options.timeoutS || 600) * 500;
    var fields = options.fields || {};
    var ended = false;

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

    function end() {
      if (ended) return;
      ended = true;
      global.clearInterval(timer);
      global.document.removeEventListener("visibilitychange", onVisibility);
      global.removeEventListener("pagehide", end);
      send(event("session_end"), true);
    }

    send(event("session_start"));
    var timer = global.setInterval(function () { send(event("heartbeat")); }, heartbeatMs);
    global.document.addEventListener("visibilitychange", onVisibility);
    global.addEventListener("pagehide", end);
    return {sessionId: sessionId, end: end};
  }

  global.highwater = {start: start};
})(window);
