"""Where a slow small call's time went: reads the `perf script` output that
p99_trace.sh records and, for each probe request, splits its latency into

  to-server  the client's send  -> the server worker's recvfrom of it
  server     that recvfrom      -> the worker's send of the answer
  back       that send          -> the client's recvfrom of the answer

then, for each request slower than SLOW_US, names who ran on the core of its
slowest part meanwhile (200 us or more): the server's core (1) for
to-server, the client's core (0) for back. Any other task is named by its
thread name: on this box a `tokio-rt-worker` that is not the server's is
the VM's agent (PID 1, at nice -10), which takes a core for 2-5 ms about
twice a second. Also the worker's wake-up delay
(from its sched_wakeup to running on core 1), p50/p99/p99.9.

    python3 examples/bench/p99_trace.py TRACE.txt WORKER_TID [SLOW_US]

Requests and answers are told apart by size (the probe's request and answer
lengths, given as REQUEST_LEN and ANSWER_LEN in the environment; the small
echo's by default). Standard library only.
"""

import bisect
import collections
import os
import re
import sys

LINE = re.compile(r"^\s*(\S+)\s+(\d+)\s+\[(\d+)\]\s+([\d.]+):\s+(\S+):\s*(.*)$")
SWITCH = re.compile(r"prev_pid=(\d+) .*==> next_comm=(.*?) next_pid=(\d+)")
FD = re.compile(r"fd: (0x[0-9a-f]+)")


def main():
    trace, worker = sys.argv[1], sys.argv[2]
    slow = float(sys.argv[3]) / 1e6 if len(sys.argv) > 3 else 0.0006
    request_len = int(os.environ.get("REQUEST_LEN", "147"))
    answer_len = int(os.environ.get("ANSWER_LEN", "172"))
    events = []
    for line in open(trace):
        match = LINE.match(line)
        if match:
            comm, tid, cpu, time, event, rest = match.groups()
            events.append((float(time), comm, tid, int(cpu), event, rest))

    sends, receives = collections.defaultdict(list), collections.defaultdict(list)
    served, answered = [], collections.defaultdict(list)
    runs = {0: [], 1: []}
    current, since = {0: None, 1: None}, {0: None, 1: None}
    last_fd, woken, delays = None, None, []
    for time, comm, tid, cpu, event, rest in events:
        if comm == "loadbench":
            if event.endswith("sys_enter_sendto") and f"len: {request_len:#010x}" in rest:
                sends[tid].append(time)
            elif event.endswith("sys_exit_recvfrom") and int(rest.split()[0], 16) > 0:
                receives[tid].append(time)
        elif tid == worker:
            if event.endswith("sys_enter_recvfrom"):
                last_fd = int(FD.search(rest).group(1), 16)
            elif event.endswith("sys_exit_recvfrom") and int(rest.split()[0], 16) == request_len:
                served.append((time, last_fd))
            elif event.endswith("sys_enter_sendto") and f"len: {answer_len:#010x}" in rest:
                answered[int(FD.search(rest).group(1), 16)].append(time)
        if "sched_wakeup" in event and f"pid={worker} " in rest and woken is None:
            woken = time
        if "sched_switch" in event and cpu in runs:
            prev, next_comm, next_pid = SWITCH.search(rest).groups()
            if since[cpu] is not None:
                runs[cpu].append((since[cpu], time, current[cpu]))
            current[cpu], since[cpu] = f"{next_comm}/{next_pid}", time
            if cpu == 1 and next_pid == worker and woken is not None:
                delays.append(time - woken)
                woken = None

    # Which server socket is which client connection: the one whose next
    # request arrives right after the client's sends, most often.
    served_at = [time for time, _ in served]
    votes = collections.defaultdict(collections.Counter)
    for tid, times in sends.items():
        for time in times[:200]:
            index = bisect.bisect_right(served_at, time)
            if index < len(served):
                votes[tid][served[index][1]] += 1
    socket = {tid: counter.most_common(1)[0][0] for tid, counter in votes.items()}

    rows = []
    for tid, times in sends.items():
        got = sorted(time for time, fd in served if fd == socket[tid])
        out, back = answered[socket[tid]], receives[tid]
        for sent in times:
            i = bisect.bisect_right(got, sent)
            if i == len(got):
                continue
            j = bisect.bisect_right(out, got[i])
            if j == len(out):
                continue
            k = bisect.bisect_right(back, out[j])
            if k == len(back):
                continue
            rows.append((back[k] - sent, got[i] - sent, out[j] - got[i], back[k] - out[j], sent))
    rows.sort()
    if not rows:
        sys.exit("no probe request found in the trace")
    print(f"{len(rows)} probe requests traced")
    for quantile in (0.5, 0.99, 0.999):
        total, to, server, back, _ = rows[min(len(rows) - 1, int(len(rows) * quantile))]
        print(
            f"  p{quantile * 100:g}: {total * 1e6:.0f} us "
            f"(to-server {to * 1e6:.0f}, server {server * 1e6:.0f}, back {back * 1e6:.0f})"
        )
    # Each part's own percentiles, over every request: `server` is the
    # server's handling alone, `to-server` adds the wait for its worker.
    for index, part in ((1, "to-server"), (2, "server"), (3, "back")):
        times = sorted(row[index] for row in rows)
        at = lambda q: times[min(len(times) - 1, int(len(times) * q))] * 1e6
        print(f"  {part:9s} alone: p50 {at(0.5):.0f} us, p99 {at(0.99):.0f} us")
    if delays:
        delays.sort()
        at = lambda q: delays[min(len(delays) - 1, int(len(delays) * q))] * 1e6
        print(
            f"worker wake-up delay over {len(delays)} wake-ups: "
            f"p50 {at(0.5):.0f} us, p99 {at(0.99):.0f} us, p99.9 {at(0.999):.0f} us"
        )

    starts = {cpu: [run[0] for run in runs[cpu]] for cpu in runs}

    def who(cpu, begin, end):
        ran = collections.Counter()
        index = max(0, bisect.bisect_right(starts[cpu], begin) - 1)
        while index < len(runs[cpu]) and runs[cpu][index][0] < end:
            start, stop, task = runs[cpu][index]
            overlap = min(stop, end) - max(start, begin)
            if overlap > 0:
                name = "the server's worker" if task.endswith(f"/{worker}") else task
                ran[re.sub(r"/\d+$", "", name)] += overlap
            index += 1
        return [
            task
            for task, time in ran.most_common(2)
            if time >= 0.0002 and not task.startswith(("swapper", "loadbench"))
        ]

    blame = collections.Counter()
    slow_rows = [row for row in rows if row[0] >= slow]
    for total, to, server, back, sent in slow_rows:
        if to >= back:
            part, ran = "to-server", who(1, sent, sent + to)
        else:
            part, ran = "back", who(0, sent + to + server, sent + total)
        blame[(part, " + ".join(ran) or "nobody for long")] += 1
    print(f"{len(slow_rows)} slower than {slow * 1e6:.0f} us; slowest part, and who ran then:")
    for (part, ran), count in blame.most_common():
        print(f"  {count:5d}  {part:9s}  {ran}")


if __name__ == "__main__":
    main()
