"""The Python app of tests/http2/browser_test.sh: a page whose script fetches
JSON from this app and writes into the page what the browser saw.

    GET /             the page: fetches /data.json, then puts
                      {"navigation": nextHopProtocol of the page,
                       "fetch": nextHopProtocol of the fetch, "data": the JSON}
                      into <pre id="result"> (chromium --dump-dom prints it)
    GET /data.json    {"message": ..., "scheme": request.scheme, "user_agent": ...}
"""
import json

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>fastrt-h2 over TLS</title></head>
<body><pre id="result">pending</pre>
<script>
(async () => {
  const navigation = performance.getEntriesByType('navigation')[0];
  const response = await fetch('/data.json', {cache: 'no-store'});
  const data = await response.json();
  const fetched = performance.getEntriesByName(response.url)[0];
  document.getElementById('result').textContent = JSON.stringify({
    navigation: navigation.nextHopProtocol,
    fetch: fetched ? fetched.nextHopProtocol : null,
    data: data,
  });
})().catch(e => { document.getElementById('result').textContent = 'error: ' + e; });
</script>
</body></html>
"""


def app(request):
    if request.path == "/data.json":
        body = {"message": "hello from the Python app", "scheme": request.scheme,
                "user_agent": request.headers.get("user-agent", "")}
        return (200, [("content-type", "application/json")], json.dumps(body))
    if request.path == "/":
        return (200, [("content-type", "text/html; charset=utf-8")], PAGE)
    return (404, [("content-type", "text/plain")], "no such page\n")
