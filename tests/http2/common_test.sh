#!/usr/bin/env bash
# The helpers of tests/http2/common.sh. free_port: 50 calls each print one
# port below the kernel's ephemeral range (20000-32000; clients' own ports come
# from 32768 up), and the port printed can be bound on 127.0.0.1.
set -uo pipefail
# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"

bindable() { /usr/bin/python3 -c 'import socket, sys; socket.socket().bind(("127.0.0.1", int(sys.argv[1])))' "$1" 2>/dev/null; }
bad_range=() unbindable=() bad_output=()
for _ in $(seq 1 50); do
  out=$(free_port)
  if ! [[ "$out" =~ ^[0-9]+$ ]]; then bad_output+=("'$out'"); continue; fi
  [ "$out" -ge 20000 ] && [ "$out" -le 32000 ] || bad_range+=("$out")
  bindable "$out" || unbindable+=("$out")
done
check "free_port prints one number" test ${#bad_output[@]} -eq 0
check "free_port: ports in 20000-32000, below the ephemeral range (outside: ${bad_range[*]:-none})" test ${#bad_range[@]} -eq 0
check "free_port: the port can be bound (not: ${unbindable[*]:-none})" test ${#unbindable[@]} -eq 0

[ "$failures" -eq 0 ] || { echo "$failures check(s) failed"; exit 1; }
echo "all checks passed"
