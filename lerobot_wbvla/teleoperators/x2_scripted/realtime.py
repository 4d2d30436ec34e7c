"""Keep a recording process off the real-time scheduler.

SVT-AV1 (the encoder behind LeRobot's default AV1 video, libsvtav1 3.0 as bundled with PyAV), run as root, puts the
thread that opens an encoder and every thread it starts on SCHED_FIFO at priority 99 (as a normal user the request
fails and it goes on). On Linux a busy SCHED_FIFO thread is never preempted by normal threads: in a recorder the
encoder then outranks the rendering that feeds it and every other process of the machine, and processes forked
afterwards inherit the policy (two CPU-burning SCHED_FIFO processes freeze a 2-core machine). Data generation is a
background job: `demote_realtime_threads()` puts such threads back on the normal scheduler. The recorder calls it
while an episode's encoder starts and after each save; it costs a few system calls.
"""

from __future__ import annotations

import os

_REALTIME = tuple(getattr(os, name) for name in ("SCHED_FIFO", "SCHED_RR") if hasattr(os, name))


def demote_realtime_threads() -> int:
    """Move every thread of this process that runs under SCHED_FIFO / SCHED_RR to SCHED_OTHER (Linux; elsewhere a
    no-op). Returns how many threads were moved."""
    if not _REALTIME or not hasattr(os, "sched_setscheduler"):
        return 0
    try:
        tids = os.listdir("/proc/self/task")
    except OSError:
        return 0
    moved = 0
    for name in tids:
        tid = int(name)
        try:
            if os.sched_getscheduler(tid) in _REALTIME:
                os.sched_setscheduler(tid, os.SCHED_OTHER, os.sched_param(0))
                moved += 1
        except OSError:  # the thread ended meanwhile
            continue
    return moved
