#!/usr/bin/env bash
# A real browser (issue 14 item 3): Debian's chromium, headless, loads a page
# from fastrt-h2 over HTTPS (a self-signed certificate made here, accepted
# with --ignore-certificate-errors); the page's script fetches JSON from the
# Python app (browser_app.py) and writes into the page the nextHopProtocol of
# the navigation and of the fetch, and the JSON. The test reads the page
# with --dump-dom and asserts h2 and the JSON. Chromium runs with --no-sandbox
# when root (its sandbox refuses root). Usage: browser_test.sh path/to/fastrt-h2
set -uo pipefail
server_bin=$1
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
pid=
trap 'stop_server; rm -rf "$work"' EXIT

source "$here/common.sh"
source "$here/tls_common.sh"

browser=$(command -v chromium || true)
[ -n "$browser" ] || { echo "FAIL chromium not found (scripts/install-deps.sh installs it)"; exit 1; }

make_certificate "$work" || exit 1
start_app browser_app:app --pinned 1 --tls-cert "$work/cert.pem" --tls-key "$work/key.pem" \
  --access-log "$work/access.log" || exit 1

sandbox=()
[ "$(id -u)" -eq 0 ] && sandbox=(--no-sandbox)
# --virtual-time-budget: the DOM is dumped once the page's fetch settled (or 10 s of page time).
timeout 90 "$browser" --headless=new "${sandbox[@]}" --ignore-certificate-errors --disable-gpu \
  --no-first-run --no-default-browser-check --disable-extensions --disable-background-networking \
  --user-data-dir="$work/profile" --virtual-time-budget=10000 --dump-dom "https://localhost:$port/" \
  >"$work/dom.html" 2>"$work/browser.err"
status=$?
check "chromium --headless --dump-dom ran (exit $status)" test "$status" -eq 0
result=$(/usr/bin/python3 - "$work/dom.html" <<'PY'
import html, json, re, sys
page = open(sys.argv[1], encoding="utf-8").read()
match = re.search(r'<pre id="result">(.*?)</pre>', page, re.S)
text = html.unescape(match.group(1)) if match else "no result element"
try:
    r = json.loads(text)
except ValueError:
    print("not JSON:", text[:300])
    sys.exit()
ok = (r.get("navigation") == "h2" and r.get("fetch") == "h2"
      and r.get("data", {}).get("message") == "hello from the Python app"
      and r.get("data", {}).get("scheme") == "https"
      and "Chrome" in r.get("data", {}).get("user_agent", ""))
print(("ok " if ok else "bad ") + json.dumps(r))
PY
)
echo "     page result: $result"
check "the page loaded over h2, its script fetched the Python app's JSON over h2 (scheme https)" \
  test "${result%% *}" = ok
check "access log: chromium's page and fetch over HTTP/2" \
  bash -c "grep -q '\"GET / HTTP/2\" 200' '$work/access.log' && grep -q '\"GET /data.json HTTP/2\" 200' '$work/access.log'"
check "the server is still running" kill -0 "$pid"

if [ "$failures" -ne 0 ]; then
  echo "--- server stderr"; tail -30 "$work/server.err"
  echo "--- chromium stderr"; tail -30 "$work/browser.err"
  echo "--- page"; head -c 2000 "$work/dom.html"
  echo "$failures check(s) failed"; exit 1
fi
echo "all checks passed"
