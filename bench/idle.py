#!/usr/bin/env python3
"""Idle-clients benchmark: the coordinator's memory and CPU per registered,
idle client.

Starts `relay_bulk coordinator` on loopback, reads its VmRSS (and, via
SIGUSR1, its malloc heap in use), starts `idle_clients` with --count clients
in one process (each its own UDP socket, QUIC connection, TLS 1.3 client
certificate), waits until all are registered, stays idle --idle seconds,
then reads the coordinator's VmRSS, heap and CPU time again. Prints RSS
before/after, KiB per client (target <= 64), the coordinator's CPU while
registering and while idle, and the idle_clients process's VmRSS per client
for context. Every client must register and none may drop while idle, or
the run fails.

Usage: bench/idle.py [--build build] [--count 1000] [--idle 5] [--runs 1] [--concurrency 0]
Figures, not a pass/fail test.
"""
import argparse
import os
import queue
import signal
import subprocess
import sys
import threading
import time

HZ = os.sysconf("SC_CLK_TCK")


class Fail(Exception):
    pass


class Proc:
    """A child whose stdout lines are collected by a thread."""

    def __init__(self, argv):
        self.argv = argv
        self.p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines = queue.Queue()
        self.err = []
        threading.Thread(target=self._pump, args=(self.p.stdout, self.lines.put, True), daemon=True).start()
        threading.Thread(target=self._pump, args=(self.p.stderr, self.err.append, False), daemon=True).start()

    @staticmethod
    def _pump(f, put, end_marker):
        for line in f:
            put(line.rstrip("\n"))
        if end_marker:
            put(None)  # end of output

    def read_until(self, last, timeout):
        """key -> value for the lines up to (and including) one equal to `last`."""
        out = {}
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                raise Fail(f"{os.path.basename(self.argv[0])}: no '{last}' within {timeout} s; stderr: "
                           + self.stderr_tail())
            if line is None:
                raise Fail(f"{os.path.basename(self.argv[0])} exited ({self.p.wait()}): " + self.stderr_tail())
            if line == last:
                return out
            parts = line.split(None, 1)
            if len(parts) == 2:
                out[parts[0]] = parts[1]
                if parts[0] == last:
                    return out

    def stderr_tail(self):
        return "\n".join(self.err[-10:])

    def status_kib(self, field="VmRSS"):
        with open(f"/proc/{self.p.pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        raise Fail(f"no {field} for pid {self.p.pid}")

    def cpu_s(self):
        with open(f"/proc/{self.p.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / HZ

    def heap(self):
        self.p.send_signal(signal.SIGUSR1)
        return self.read_until("end", 10)

    def stop(self, timeout=20):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
        try:
            self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
        time.sleep(0.1)  # let the reader threads drain
        return self.p.returncode


def one_run(build, count, idle, concurrency):
    exe = os.path.join(build, "bench")
    for name in ("relay_bulk", "idle_clients"):
        if not os.access(os.path.join(exe, name), os.X_OK):
            raise Fail(f"{exe}/{name} not found: build it (ninja -C {build} relay_bulk idle_clients)")
    coord = clients = None
    try:
        coord = Proc([os.path.join(exe, "relay_bulk"), "coordinator", "--listen", "127.0.0.1:0"])
        head = coord.read_until("fingerprint", 30)
        time.sleep(0.3)
        rss0 = coord.status_kib()
        heap0 = coord.heap()
        cpu0 = coord.cpu_s()
        clients = Proc([os.path.join(exe, "idle_clients"), "--coord", "127.0.0.1:" + head["port"], "--pin",
                        head["fingerprint"], "--count", str(count), "--prefix", "c", "--concurrency",
                        str(concurrency)])
        c = clients.read_until("ready", 300)
        if int(c["registered"]) != count:
            raise Fail(f"only {c['registered']} of {count} clients registered")
        cpu_reg = coord.cpu_s()
        rss_reg = coord.status_kib()
        time.sleep(idle)
        cpu_idle = coord.cpu_s()
        rss1 = coord.status_kib()
        hwm1 = coord.status_kib("VmHWM")
        heap1 = coord.heap()
        client_rss = clients.status_kib()
        if int(heap1["clients"]) != count:
            raise Fail(f"the coordinator lists {heap1['clients']} clients, expected {count}")
        rc = clients.stop()
        tail = {}
        while True:
            try:
                line = clients.lines.get(timeout=1)
            except queue.Empty:
                break
            if line is None:
                break
            k, _, v = line.partition(" ")
            tail[k] = v
        if rc != 0 or tail.get("disconnected") != "0":
            raise Fail(f"idle_clients: rc {rc}, {tail.get('disconnected')} clients dropped while idle: "
                       + clients.stderr_tail())
        clients = None
        return {
            "identity_s": float(c["identity_seconds"]),
            "register_s": float(c["seconds"]),
            "rss0": rss0, "rss_reg": rss_reg, "rss1": rss1, "hwm1": hwm1,
            "heap0": int(heap0["heap_in_use"]), "heap1": int(heap1["heap_in_use"]),
            "cpu_reg": cpu_reg - cpu0, "cpu_idle": cpu_idle - cpu_reg,
            "client_rss": client_rss, "client_cpu": float(tail.get("cpu_s", "nan")),
        }
    finally:
        if clients:
            clients.stop()
        if coord:
            coord.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build")
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--idle", type=float, default=5.0)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--concurrency", type=int, default=0, help="registrations in flight (0 = all at once)")
    args = ap.parse_args()
    n = args.count
    try:
        for run in range(1, args.runs + 1):
            r = one_run(args.build, n, args.idle, args.concurrency)
            print(f"run {run}  ({n} clients)")
            print(f"  registration: {r['register_s']:.2f} s for all (identities made in {r['identity_s']:.2f} s); "
                  f"coordinator CPU {r['cpu_reg']:.2f} s = {r['cpu_reg'] / n * 1000:.2f} ms per client")
            print(f"  coordinator VmRSS: {r['rss0']} KiB before, {r['rss_reg']} KiB when all registered, "
                  f"{r['rss1']} KiB after {args.idle:g} s idle (VmHWM {r['hwm1']} KiB)")
            print(f"  coordinator KiB per idle client: {(r['rss1'] - r['rss0']) / n:.1f} RSS (target <= 64), "
                  f"{(r['heap1'] - r['heap0']) / 1024 / n:.1f} malloc heap in use")
            print(f"  coordinator CPU while idle: {r['cpu_idle']:.3f} s over {args.idle:g} s "
                  f"({r['cpu_idle'] / args.idle * 100:.2f}% of one core)")
            print(f"  idle_clients process: VmRSS {r['client_rss']} KiB = {r['client_rss'] / n:.0f} KiB per client, "
                  f"CPU {r['client_cpu']:.2f} s in all")
            sys.stdout.flush()
    except Fail as e:
        print(f"FAILED: {e}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
