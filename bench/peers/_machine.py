"""How busy the machine is with other work while a peer measures (shared 2-core machines make
figures meaningless when something else runs). Linux /proc only; degrades to None elsewhere."""
import os
import sys
import time

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _system_busy_ticks():
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        idle = v[3] + (v[4] if len(v) > 4 else 0)
        return sum(v[:8]) - idle
    except (OSError, ValueError, IndexError):
        return None


def _own_ticks():
    try:
        with open("/proc/self/stat") as f:
            s = f.read()
        fields = s[s.rindex(")") + 2:].split()
        return int(fields[11]) + int(fields[12])  # utime + stime, all threads
    except (OSError, ValueError, IndexError):
        return None


class OtherLoad:
    """Measures the CPU (in cores) used by other processes between start() and stop()."""

    def start(self):
        self.t, self.sys, self.own = time.monotonic(), _system_busy_ticks(), _own_ticks()
        return self

    def stop(self):
        t, s, o = time.monotonic(), _system_busy_ticks(), _own_ticks()
        if None in (s, o, self.sys, self.own) or t - self.t < 0.05:
            return None
        other = ((s - self.sys) - (o - self.own)) / _TICK / (t - self.t)
        return max(0.0, round(other, 2))


def other_cores(seconds=1.0):
    """Cores busy with other processes over the next `seconds` (we sleep meanwhile)."""
    m = OtherLoad().start()
    time.sleep(seconds)
    return m.stop()


def wait_idle(max_wait, threshold=0.1, log=None):
    """Wait up to max_wait seconds until other processes use < threshold cores; returns the last reading."""
    deadline = time.monotonic() + max_wait
    busy = other_cores()
    while busy is not None and busy >= threshold and time.monotonic() < deadline:
        if log:
            log(f"machine busy: other processes use {busy} cores; waiting (up to {max_wait:.0f}s)")
        time.sleep(4)
        busy = other_cores()
    if busy is not None and busy >= threshold and log:
        log(f"WARNING: still {busy} cores busy with other processes; figures will be low")
    return busy


class Bench:
    """Runs timed repetitions, each after a short wait for the other processes to leave the CPUs,
    and keeps the best rate among the clean ones (other processes below `threshold` cores during
    the rep). Measurements with no clean rep (even after `extra` more tries) report their best rate
    anyway and are listed in .contaminated."""

    def __init__(self, log, rep_wait=30.0, threshold=0.1, extra=3, budget=420.0):
        self.log, self.rep_wait, self.threshold, self.extra = log, rep_wait, threshold, extra
        self.deadline = time.monotonic() + budget  # past it: no more waiting nor extra tries
        self.contaminated, self.others_max = [], 0.0

    def _wait(self):
        left = min(self.rep_wait, self.deadline - time.monotonic())
        end = time.monotonic() + max(0.0, left)
        while True:
            busy = other_cores(0.5)
            if busy is None or busy < self.threshold or time.monotonic() >= end:
                return busy
            time.sleep(1)

    def run(self, label, fn, reps, unit="tok/s"):
        """fn() -> (count, seconds). Returns the best clean count/seconds."""
        clean, dirty, tries = [], [], 0
        while tries < reps or (not clean and tries < reps + self.extra and time.monotonic() < self.deadline):
            tries += 1
            self._wait()
            ol = OtherLoad().start()
            n, dt = fn()
            load = ol.stop()
            rate = n / dt
            ok = load is None or load < self.threshold
            (clean if ok else dirty).append(rate)
            if load is not None:
                self.others_max = max(self.others_max, load)
            self.log(f"{label} rep {tries}: {n} in {dt:.3f}s = {rate:.1f} {unit}"
                     f" (others: {load} cores{'' if ok else ', DISCARDED unless nothing clean'})")
        if not clean:
            self.contaminated.append(label)
            return max(dirty)
        return max(clean)
