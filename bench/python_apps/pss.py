#!/usr/bin/python3
"""The memory of a server and all its processes together: the sum of Pss.

usage: pss.py PID     prints {"pss_bytes": N, "pids": [...]} as one JSON line

PSS (proportional set size, /proc/PID/smaps_rollup) divides each shared page
by the number of processes mapping it, so the pages forked workers share with
their parent (gunicorn's preloaded code, CPython itself) count once in the
sum, not once per worker as RSS would. The tree is PID and every process
whose parent chain leads to it (read from /proc/*/stat at the moment of the
call); a process that exits while it is being read is left out.
"""

import json
import os
import sys


def parent_of(pid):
    # /proc/PID/stat: "pid (comm) state ppid ..."; comm may hold spaces or ')'.
    with open(f"/proc/{pid}/stat") as f:
        text = f.read()
    return int(text[text.rindex(")") + 2:].split()[1])


def process_tree(root):
    """root and all its descendants, root first."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            children.setdefault(parent_of(int(entry)), []).append(int(entry))
        except (OSError, ValueError):
            continue  # gone meanwhile, or a kernel thread's odd line
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(sorted(children.get(pid, ()), reverse=True))
    return tree


def pss_of(pid):
    """Pss of one process in bytes, None if it is gone (or unreadable)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024  # the kernel writes kB (KiB)
    except OSError:
        return None
    return None


def tree_pss(root):
    """(sum of Pss over root's process tree in bytes, the pids summed)."""
    total, counted = 0, []
    for pid in process_tree(root):
        pss = pss_of(pid)
        if pss is not None:
            total += pss
            counted.append(pid)
    return total, counted


def main():
    root = int(sys.argv[1])
    total, pids = tree_pss(root)
    if root not in pids:
        print(f"pss.py: process {root} is gone", file=sys.stderr)
        return 1
    print(json.dumps({"pss_bytes": total, "pids": pids}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
