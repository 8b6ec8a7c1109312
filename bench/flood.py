#!/usr/bin/env python3
"""Handshake-flood benchmark (issue 7): a relayed transfer while spoofed-looking
Initials hit the coordinator, with and without Retry, against the same
transfer without a flood in the same run.

For each policy in --policies (default: never,auto):
  1. relay_bulk coordinator --retry POLICY, recv (bob), send (alice): --bytes
     relayed A -> coordinator -> B with no flood: the baseline time.
  2. the same with bench/initial_flood sending --rate genuine Initials/s from
     --hosts loopback addresses (127.0.0.2...) that never answer, started
     before the transfer and running past its end.
  3. after the flood, wait for handshake timeouts and read the coordinator's
     RSS again (memory given back?).
Prints per policy: baseline and flooded transfer time, their ratio (target
<= 1.5 at 3000/s), coordinator RSS before / peak / after (target: peak growth
<= 64 MiB, after within 2x of before), coordinator CPU, Retries sent and
Initials over the caps. Figures, not a pass/fail test (wrong data fails).

Usage: bench/flood.py [--build build] [--bytes 268435456] [--rate 3000] [--hosts 16]
                      [--policies never,auto]
"""
import argparse
import os
import signal
import subprocess
import sys
import time

MIB = 1 << 20


def status_kib(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def figures(text):
    out = {}
    for line in text.splitlines():
        parts = line.split(None, 1)
        if len(parts) == 2:
            out[parts[0]] = parts[1].strip()
    return out


class Coordinator:
    def __init__(self, exe, policy):
        self.proc = subprocess.Popen([exe, "coordinator", "--listen", "127.0.0.1:0", "--retry", policy],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        head = {}
        while len(head) < 2:
            line = self.proc.stdout.readline()
            if not line:
                sys.exit("coordinator exited: " + self.proc.stderr.read())
            k, v = line.split()
            head[k] = v
        self.port = int(head["port"])
        self.pin = head["fingerprint"]
        self.peak = 0

    def rss(self):
        kib = status_kib(self.proc.pid, "VmRSS")
        self.peak = max(self.peak, kib)
        return kib

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        out, err = self.proc.communicate(timeout=30)
        return figures(out)


def transfer(exe, coord, nbytes, sample):
    common = ["--coord", f"127.0.0.1:{coord.port}", "--pin", coord.pin]
    recv = subprocess.Popen([exe, "recv", "--id", "bob", "--bytes", str(nbytes)] + common,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if not recv.stdout.readline().startswith("registered"):
        sys.exit("recv: " + recv.stderr.read())
    send = subprocess.Popen([exe, "send", "--id", "alice", "--peer", "bob", "--bytes", str(nbytes)] + common,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    while send.poll() is None:
        sample()
        time.sleep(0.05)
    sout, serr = send.communicate()
    rout, rerr = recv.communicate(timeout=60)
    if send.returncode or recv.returncode:
        sys.exit(f"transfer failed: send {send.returncode} {serr.strip()} / recv {recv.returncode} {rerr.strip()}")
    s, r = figures(sout), figures(rout)
    if int(s["bytes"]) != nbytes or int(r["bytes"]) != nbytes:
        sys.exit(f"byte counts differ: {s['bytes']} sent, {r['bytes']} received, {nbytes} asked")
    return float(s["seconds"])


def run(build, policy, nbytes, rate, hosts):
    bulk = os.path.join(build, "bench", "relay_bulk")
    flooder = os.path.join(build, "bench", "initial_flood")
    coord = Coordinator(bulk, policy)
    time.sleep(0.3)
    base = transfer(bulk, coord, nbytes, coord.rss)
    before = coord.rss()
    coord.peak = before
    flood = subprocess.Popen([flooder, "--target", f"127.0.0.1:{coord.port}", "--rate", str(rate),
                              "--seconds", str(max(10, base * 6)), "--hosts", str(hosts)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)
    cpu0 = sum(int(x) for x in open(f"/proc/{coord.proc.pid}/stat").read().split()[13:15])
    flooded = transfer(bulk, coord, nbytes, coord.rss)
    cpu1 = sum(int(x) for x in open(f"/proc/{coord.proc.pid}/stat").read().split()[13:15])
    while flood.poll() is None:
        coord.rss()
        time.sleep(0.1)
    fout, ferr = flood.communicate()
    if flood.returncode:
        sys.exit("initial_flood: " + ferr)
    time.sleep(12)  # handshake timeout (10 s) + closing periods
    after = coord.rss()
    stats = coord.stop()
    f = figures(fout)
    return {
        "policy": policy, "base_s": base, "flood_s": flooded, "ratio": flooded / base,
        "rss_before_mib": before / 1024, "rss_peak_mib": coord.peak / 1024, "rss_after_mib": after / 1024,
        "coord_cpu_s_during": (cpu1 - cpu0) / os.sysconf("SC_CLK_TCK"),
        "flood_rate": float(f.get("achieved_rate", 0)), "retries": int(stats.get("retries_sent", 0)),
        "over_limit": int(stats.get("initials_over_limit", 0)),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--bytes", type=int, default=256 * MIB)
    ap.add_argument("--rate", type=int, default=3000)
    ap.add_argument("--hosts", type=int, default=16)
    ap.add_argument("--policies", default="never,auto")
    a = ap.parse_args()
    print(f"# {a.bytes // MIB} MiB relayed, flood {a.rate} Initials/s from {a.hosts} hosts; nproc {os.cpu_count()}")
    for policy in a.policies.split(","):
        r = run(a.build, policy, a.bytes, a.rate, a.hosts)
        print(f"retry={r['policy']:6} transfer {r['base_s']:.2f} s -> {r['flood_s']:.2f} s under flood "
              f"(ratio {r['ratio']:.2f}); coordinator RSS {r['rss_before_mib']:.1f} MiB before, "
              f"{r['rss_peak_mib']:.1f} peak (+{r['rss_peak_mib'] - r['rss_before_mib']:.1f}), "
              f"{r['rss_after_mib']:.1f} after; CPU {r['coord_cpu_s_during']:.2f} s during the transfer; "
              f"flood {r['flood_rate']:.0f}/s, {r['retries']} Retries, {r['over_limit']} over the caps")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
