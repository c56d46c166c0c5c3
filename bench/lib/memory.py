"""Resident memory of processes from /proc, for the bench scripts (bench/lib/common.sh)."""
import os
import struct


def tree(pid):
    """pid and every process descended from it."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        parent = int(stat[stat.rindex(")") + 2:].split()[1])
        children.setdefault(parent, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo.extend(children.get(p, []))
    return found


def rss_pss(pids):
    """(RSS, PSS) in KiB summed over pids; a process that is gone counts 0."""
    rss = pss = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Rss:"):
                        rss += int(line.split()[1])
                    elif line.startswith("Pss:"):
                        pss += int(line.split()[1])
        except OSError:
            pass
    return rss, pss


def together(pids):
    """KiB of memory the processes occupy together: every physical page resident in any of them, counted
    once (/proc/PID/pagemap), whether only one of them maps it or all do (the Swift runtime's libraries,
    a model file two instances map). Unlike PSS it does not depend on what other processes on the machine
    map. None when the page frame numbers are hidden (they need CAP_SYS_ADMIN)."""
    frames = set()
    for pid in pids:
        try:
            pagemap = open(f"/proc/{pid}/pagemap", "rb")
            with open(f"/proc/{pid}/smaps") as f:
                ranges = []
                for line in f:
                    head = line.split(maxsplit=1)[0]
                    if "-" in head and not head.endswith(":"):
                        ranges.append([int(x, 16) for x in head.split("-")] + [0])
                    elif head == "Rss:" and ranges:
                        ranges[-1][2] = int(line.split()[1])
        except OSError:
            continue
        with pagemap:
            for low, high, rss in ranges:
                if rss == 0:  # nothing resident: skip reading its entries
                    continue
                pagemap.seek(low // 4096 * 8)
                for (entry,) in struct.iter_unpack("Q", pagemap.read((high - low) // 4096 * 8)):
                    if entry >> 63:  # present
                        frame = entry & ((1 << 55) - 1)
                        if frame == 0:
                            return None
                        frames.add(frame)
    return len(frames) * 4
