#!/usr/bin/env python3
"""Direct-path benchmark in the NAT lab (tests/netlab): how fast a channel
goes direct, what the direct path moves compared with the relay and with
raw UDP, and what the coordinator still spends while it does.

    sudo bench/direct.py --conec build/src/cli/conec [--channels 20] [--size-mib 256]
                         [--nat eim eim] [--iperf-seconds 5] [--deadline 300]

Topology: netlab.Lab(KIND_A, KIND_B), two home routers by default (eim, eim);
coordinator on P-coord 10.99.0.10, alice on hA (10.99.1.10 behind rA), bob on
hB (10.99.2.10 behind rB). Needs root (network namespaces, iptables).

What it measures, all in one lab and one run:

1. Time to first byte and to the direct path, over --channels channels. bob
   runs one long-lived `conec -v client -i bob` on hB; per channel a fresh
   `conec -v ping -i alice bob --interval 0.01` process on hA (one alice
   state dir, its identity generated once and reused) is stopped with SIGINT
   once its channel went direct (or after --direct-wait s). Times come from
   the arrival of alice's log/stdout lines (netlab.Proc timestamps every
   stderr line; stdout lines are timestamped here). They are measured from
   the channel request, i.e. the moment ping asked the coordinator for the
   introduction to bob (= the arrival of ping's "channel to 'bob' open in X
   ms" line minus conec's own X), to:
     - channel open         "client: channel N to 'bob' open (initiator)"
     - first byte           the first "reply from bob" line on stdout (the
                            first echo bob sent back, usually still relayed)
     - direct validated     "net: direct path to ADDR works both ways ..."
     - channel direct       "net: channel now direct to ADDR"
     - first direct reply   the first reply reporting path=direct
   and "start -> channel direct" from process start (adds process start, the
   QUIC handshake with the coordinator and registration). p50/p95 are nearest
   rank (with 20 channels p95 is the 19th smallest). Target: p95 < 1 s for
   EIM pairs.

2. Goodput of one --size-mib MiB random file, `conec send --stats FILE` on hA
   to `conec recv --stats` on hB (its stdout, a pipe, only counted here, a
   timestamped sample per read): once automatic (direct where
   the NATs allow it; the first packets of the channel are relayed until the
   switch) and once with --relay-only on both sides; --runs N alternates N
   such pairs and compares medians. Goodput "whole" is the sender's --stats
   figure (bytes confirmed by bob / time from stream open to confirmation);
   "phase" is measured at bob over the data phase alone: from the switch to
   direct (the sender's "channel now direct" line) for the automatic
   transfer, from the first byte for the relayed one, to the last byte; the
   direct ratio compares the phases (pure direct vs pure relay) and, second,
   the wholes. Both sides' --stats byte counts and the bytes on bob's stdout
   must equal the file's size. The coordinator
   link's byte counters (its bridge port) show how much crossed it.

3. Coordinator CPU during each of those transfers: utime+stime from
   /proc/PID/stat of the coordinator process, sampled every 10 ms from the
   sender's start to its exit (kernel clock tick: 10 ms at HZ 100). Printed
   for the whole (includes alice's connect and the introduction) and for the
   data phase only (from "channel now direct" for the automatic transfer,
   from the channel's opening for the relayed one), as CPU seconds and as a
   share of one core over that wall time. Target for the direct transfer: ~0.

4. Baseline: `iperf3 -u -c TARGET -b 10G -l 1452 -t --iperf-seconds` from hA
   to `iperf3 -s -1` on hB, between the same namespaces in the same lab and
   run, after the conec measurements. hB is behind rB's NAT and unreachable
   unsolicited, so for the baseline only rB gets a port forward (DNAT of
   10.99.0.2:5201 TCP+UDP to hB, plus the FORWARD accepts; removed
   afterwards): the datagrams then cross rA's MASQUERADE, the lab's bridge
   and rB like conec's direct path does. With rB "none" hB is addressed
   directly. -l 1452 is conec's largest UDP payload (quic::kMaxUdpPayload).
   The figure is iperf3's receiver side (sum_received: what arrived), with
   the loss it reports: raw UDP, unencrypted and without congestion control.
   Not necessarily an upper bound: an unpaced -b 10G sender can overrun the
   lab's path (veths, bridge, two netfilter routers, all on the host's CPUs)
   and what is lost does not count.

Ratios printed: direct/relayed goodput, direct/iperf3-udp goodput.

The conec binary is copied into the lab's work dir once it has been left
alone for 2 s, so that a rebuild during the run cannot swap it halfway; the
report names its version, SHA-256 prefix and build time.

A benchmark, not a test: it prints figures and exits 0 unless something
broke (a process failed, a byte count is wrong, or the NATs allow a direct
path and none was made); then it exits 1 naming the cause. Run it on an idle
machine for figures worth comparing: the report prints the load average at
the start and at the end, so that a loaded machine shows.
"""

import argparse
import fcntl
import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "netlab"))
import netlab  # noqa: E402
from netlab import COORD_ADDR, LabError  # noqa: E402

PORT = 1719
IPERF_PORT = 5201
MIB = 1 << 20
HZ = os.sysconf("SC_CLK_TCK")
CONEC_MAX_UDP_PAYLOAD = 1452  # src/lib/quic/config.hpp kMaxUdpPayload

RX_CHANNEL_OPEN = re.compile(r"client: channel \d+ to 'bob' open \(initiator\)")
RX_OPEN_IN = re.compile(r"channel to 'bob' open in ([0-9.]+) ms")
RX_VALIDATED = re.compile(r"net: direct path to \S+ works both ways \(probe rtt [0-9.]+ ms, (\d+) ms after punching")
RX_NOW_DIRECT = re.compile(r"net: channel now direct to (\S+)")
RX_REPLY = re.compile(r"^reply from bob: seq=(\d+) time=([0-9.]+) ms path=(\w+)")
RX_SEND_STATS = re.compile(r"conec: stats: (\d+) bytes to bob in ([0-9.]+) s \([^)]*\), path (\w+)(?: (\S+?),)?")
RX_RECV_STATS = re.compile(r"conec: stats: (\d+) bytes from alice in ([0-9.]+) s \([^)]*\), path (\w+)")


def log(msg):
    print(f"direct: {msg}", flush=True)


class Broke(Exception):
    """Something failed that makes the figures meaningless."""


class TimedProc(netlab.Proc):
    """netlab.Proc whose stdout lines also carry their arrival time; with
    stdout="count" the bytes are only counted, a (time, total) sample per read."""

    def __init__(self, *a, **kw):
        self.stdout_timed = []  # (monotonic time, text)
        super().__init__(*a, **kw)

    def _read_stdout(self, mode):
        if mode == "count":
            fd = self.p.stdout.fileno()
            try:
                fcntl.fcntl(fd, 1031, 1 << 20)  # F_SETPIPE_SZ: fewer wake-ups
            except OSError:
                pass
            while True:
                try:
                    n = len(os.read(fd, 1 << 20))
                except OSError:
                    n = 0
                if not n:
                    break
                with self.cond:
                    self.nbytes += n
                    self.samples.append((time.monotonic(), self.nbytes))
                    self.cond.notify_all()
            return
        for raw in self.p.stdout:
            line = raw.decode(errors="replace").rstrip("\n")
            with self.cond:
                t = time.monotonic()
                self.stdout_lines.append(line)
                self.stdout_timed.append((t, line))
                self.cond.notify_all()


def percentile(values, q):
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    s = sorted(values)
    k = max(1, -(-len(s) * q // 100))  # ceil(n q / 100)
    return s[int(k) - 1]


def cpu_seconds(pid):
    """utime + stime of PID in seconds (/proc/PID/stat fields 14 and 15)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / HZ


def snapshot_binary(src, workdir):
    """A private copy of the conec binary, so that a rebuild during the run (which
    replaces the file) cannot change or break it halfway; taken once the file
    has been left alone for 2 s and runs. Returns (copy, description)."""
    import shutil
    dst = os.path.join(workdir, "conec")
    for _ in range(60):
        st = os.stat(src)
        if time.time() - st.st_mtime >= 2:
            shutil.copy2(src, dst)
            if os.stat(src).st_mtime == st.st_mtime:
                r = subprocess.run([dst, "--version"], capture_output=True, text=True, timeout=10)
                if r.returncode != 0 or not r.stdout.startswith("conec "):
                    raise LabError(f"{src} --version: exit {r.returncode}, {(r.stdout + r.stderr).strip()!r}: "
                                   "not a working conec binary")
                return dst, (f"{src} ({r.stdout.strip()}, sha256 {netlab.file_sha256(dst)[:12]}, "
                             f"built {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(st.st_mtime))})")
        time.sleep(1)
    raise LabError(f"{src} keeps changing (a build in progress?): no stable copy in 60 s")


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


class CpuSampler(threading.Thread):
    """Samples a process's CPU seconds every 10 ms, so that the CPU spent in any
    interval of the run can be read off afterwards (resolution: the kernel's
    clock tick, 1/SC_CLK_TCK s)."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.samples, self.halt = pid, [], threading.Event()
        self.samples.append((time.monotonic(), cpu_seconds(pid)))

    def run(self):
        while not self.halt.wait(0.01):
            try:
                self.samples.append((time.monotonic(), cpu_seconds(self.pid)))
            except OSError:
                return

    def stop(self):
        self.halt.set()
        self.join()
        self.samples.append((time.monotonic(), cpu_seconds(self.pid)))

    def at(self, t):
        """CPU seconds at the last sample not after T."""
        return max((s for s in self.samples if s[0] <= t), default=self.samples[0])[1]


class Bench:
    def __init__(self, lab, conec, args):
        self.lab, self.conec, self.a = lab, conec, args
        self.pin = None
        self.coordinator = None
        self.direct_possible = "symmetric" not in (lab.kind_a, lab.kind_b)

    # -- plumbing -------------------------------------------------------------
    def d(self, name):
        path = os.path.join(self.lab.tmp, name)
        os.makedirs(path, exist_ok=True)
        return path

    def client_args(self, host, ident):
        return ["-c", f"{COORD_ADDR}:{PORT}", "--pin", self.pin, "--state-dir", self.d("state-" + host), "-i", ident]

    def spawn(self, host, argv, name, **kw):
        p = TimedProc(self.lab, self.lab.ns(host), argv, name, **kw)
        self.lab.procs.append(p)
        return p

    def start_coordinator(self):
        self.coordinator = self.spawn("coord", [self.conec, "coordinator", "--listen", f"{COORD_ADDR}:{PORT}",
                                                "--state-dir", self.d("state-coord")],
                                      "coordinator", timeout=self.a.deadline + 60)
        self.coordinator.wait_stderr(r"clients connect with:", timeout=15)
        self.pin = self.coordinator.wait_stderr(r"fingerprint: (sha256:[0-9a-f]{64})\b", timeout=1).group(1)
        with open(f"/proc/{self.coordinator.pid}/comm") as f:
            comm = f.read().strip()
        if comm != "conec":  # `ip netns exec` execs the command: the pid must be conec's
            raise Broke(f"coordinator pid {self.coordinator.pid} is {comm!r}, not conec: its CPU cannot be read")

    def check_coordinator(self):
        if self.coordinator.p.poll() is not None:
            self.coordinator.fail("the coordinator exited during the benchmark")

    def start_bob(self, subcommand, extra, name, **kw):
        p = self.spawn("hB", [self.conec, "-v", subcommand] + self.client_args("hB", "bob") + extra, name, **kw)
        p.wait_stderr(r"registered as 'bob' \(seen as ", timeout=15)
        return p

    def stop(self, p, sig=signal.SIGINT, ok=(0, 130)):
        p.terminate(sig)
        rc = p.wait()
        if rc not in ok:
            p.fail(f"exit {rc} after signal {sig}, expected one of {ok}")

    # -- 1. time to first byte and to direct -----------------------------------
    def one_channel(self, i):
        a = self.a
        count = max(10, int(a.direct_wait / 0.01) + 100)
        p = self.spawn("hA", [self.conec, "-v", "ping"] + self.client_args("hA", "alice") +
                       ["--count", str(count), "--interval", "0.01", "--timeout", str(a.direct_wait + 20), "bob"],
                       f"ping{i}", timeout=a.direct_wait + 30)
        is_reply = lambda: any(RX_REPLY.match(line) for _, line in p.stdout_timed)  # noqa: E731
        p.wait_for(is_reply, "a reply from bob", timeout=15)
        # Then until a reply came over the direct path, or --direct-wait passed
        # (symmetric NATs: a switch is not expected, but would show up).
        direct_reply = lambda: any((m := RX_REPLY.match(line)) and m.group(3) == "direct"  # noqa: E731
                                   for _, line in p.stdout_timed)
        end = p.started + a.direct_wait
        with p.cond:
            while not direct_reply() and p.p.poll() is None and time.monotonic() < end:
                p.cond.wait(min(0.2, max(0.0, end - time.monotonic())))
        self.stop(p)

        def first(lines, rx):
            return next(((t, m) for t, line in lines for m in [rx.search(line)] if m), (None, None))

        t_open_in, m_open_in = first(p.stderr_lines, RX_OPEN_IN)
        t_open, _ = first(p.stderr_lines, RX_CHANNEL_OPEN)
        if m_open_in is None or t_open is None:
            p.fail("no 'channel ... open' lines")
        t_req = t_open_in - float(m_open_in.group(1)) / 1000
        t_valid, _ = first(p.stderr_lines, RX_VALIDATED)
        t_direct, m_direct = first(p.stderr_lines, RX_NOW_DIRECT)
        replies = [(t, RX_REPLY.match(line)) for t, line in p.stdout_timed]
        replies = [(t, m) for t, m in replies if m]
        if not replies:
            p.fail("no reply from bob")
        t_first, m_first = replies[0]
        t_first_direct = next((t for t, m in replies if m.group(3) == "direct"), None)
        rel = lambda t: None if t is None else t - t_req  # noqa: E731
        return {
            "open": rel(t_open),
            "first_byte": rel(t_first),
            "validated": rel(t_valid),
            "direct": rel(t_direct),
            "first_direct": rel(t_first_direct),
            "start_direct": None if t_direct is None else t_direct - p.started,
            "start_first_byte": t_first - p.started,
            "first_path": m_first.group(3),
            "direct_addr": m_direct.group(1) if m_direct else None,
        }

    def measure_channels(self):
        bob = self.start_bob("client", [], "bob-client", timeout=self.a.deadline + 60)
        results = []
        for i in range(1, self.a.channels + 1):
            r = self.one_channel(i)
            results.append(r)
            if bob.p.poll() is not None:
                bob.fail("conec client (bob) exited during the channel measurements")
            self.check_coordinator()
        self.stop(bob)
        directs = sum(1 for r in results if r["direct"] is not None)
        log(f"channels: {len(results)} pings, {directs} went direct")
        if self.direct_possible and directs < len(results):
            raise Broke(f"only {directs} of {len(results)} channels went direct although the NATs "
                        f"({self.lab.kind_a}, {self.lab.kind_b}) allow it")
        return results

    # -- 2./3. goodput and coordinator CPU ----------------------------------------
    def make_payload(self):
        path = os.path.join(self.lab.tmp, "payload.bin")
        with open(path, "wb") as f:
            for _ in range(self.a.size_mib):
                f.write(os.urandom(MIB))
        return path

    def transfer(self, payload, relay_only, run):
        size = self.a.size_mib * MIB
        mode = "relay-only" if relay_only else "automatic"
        flags = ["--relay-only"] if relay_only else []
        limit = self.a.transfer_timeout
        recv = self.start_bob("recv", flags + ["--stats", "--timeout", str(limit)],
                              f"recv-{mode}-{run}", stdout="count", timeout=limit + 10)
        self.check_coordinator()
        link0 = self.lab.coord_link_bytes()
        cpu = CpuSampler(self.coordinator.pid)
        cpu.start()
        t0 = time.monotonic()
        send = self.spawn("hA", [self.conec, "-v", "send"] + self.client_args("hA", "alice") + flags +
                          ["--stats", "--timeout", str(limit), "bob", payload], f"send-{mode}-{run}",
                          timeout=limit + 10)
        try:
            send.expect_exit(0)
        finally:
            t1 = time.monotonic()
            cpu.stop()
        recv.expect_exit(0)
        link1 = self.lab.coord_link_bytes()
        m = send.wait_stderr(RX_SEND_STATS.pattern, timeout=1)
        mr = recv.wait_stderr(RX_RECV_STATS.pattern, timeout=1)
        for proc, mm in ((send, m), (recv, mr)):
            if int(mm.group(1)) != size:
                proc.fail(f"--stats counts {mm.group(1)} bytes, the file has {size}: {mm.group(0)!r}")
        path = m.group(3)
        want = "direct" if (self.direct_possible and not relay_only) else "relay"
        if path != want:
            send.fail(f"{mode} transfer ended on path {path}, expected {want}")
        secs = float(m.group(2))
        t_open = next((t for t, line in send.stderr_lines if RX_CHANNEL_OPEN.search(line)), None)
        t_switch = next((t for t, line in send.stderr_lines if RX_NOW_DIRECT.search(line)), None)
        if t_open is None:
            send.fail("no 'channel ... open (initiator)' line")
        # The data phase: from the switch to the direct path (automatic), or from
        # the channel's opening (relay-only), to the sender's exit.
        t_phase = t_switch if (t_switch is not None and not relay_only) else t_open
        to_c, from_c = (b - a for a, b in zip(link0, link1))
        if recv.nbytes != size or not recv.samples:
            recv.fail(f"{recv.nbytes} bytes arrived on stdout, the file has {size}")
        # Goodput at bob of the data phase alone: after the switch (automatic),
        # or from the first byte (relay-only), to the last byte.
        if relay_only or t_switch is None:
            t_from, at_from = recv.samples[0]
        else:
            t_from = t_switch
            at_from = max(((t, n) for t, n in recv.samples if t <= t_switch), default=(t_switch, 0))[1]
        t_last = recv.samples[-1][0]
        r = {
            "phase_mibps": (size - at_from) / MIB / (t_last - t_from) if t_last > t_from else float("nan"),
            "phase_share": (size - at_from) / size,
            "run": run, "mode": mode, "path": path + (f" {m.group(4)}" if m.group(4) else ""), "bytes": size,
            "secs": secs, "mibps": size / MIB / secs,
            "wall": t1 - t0, "coord_cpu": cpu.at(t1 + 1) - cpu.at(t0),
            "phase_wall": t1 - t_phase, "phase_cpu": cpu.at(t1 + 1) - cpu.at(t_phase),
            "coord_to": to_c, "coord_from": from_c,
            "switch_after": None if t_switch is None else t_switch - send.started,
        }
        log(f"{mode} #{run}: {size} bytes in {secs:.3f} s = {r['mibps']:.1f} MiB/s "
            f"({r['phase_mibps']:.1f} MiB/s over the last {r['phase_share'] * 100:.0f}%), path {r['path']}, "
            f"coordinator CPU {r['coord_cpu']:.2f} s over {r['wall']:.2f} s wall "
            f"({r['phase_cpu']:.2f} s over the last {r['phase_wall']:.2f} s), "
            f"coordinator link {to_c}/{from_c} bytes in/out")
        return r

    # -- 4. iperf3 UDP baseline ------------------------------------------------
    def iperf_target(self):
        """The address hA reaches hB's iperf3 at, and the rules to undo afterwards."""
        if self.lab.kind_b == "none":
            return self.lab.hosts["hB"], []
        hb = self.lab.hosts["hB"]
        rules = []
        for proto in ("tcp", "udp"):
            rules.append(["-t", "nat", "PREROUTING", "-i", "wan0", "-p", proto, "--dport", str(IPERF_PORT),
                          "-j", "DNAT", "--to-destination", hb])
            rules.append(["-t", "filter", "FORWARD", "-i", "wan0", "-o", "lan0", "-p", proto, "-d", hb,
                          "--dport", str(IPERF_PORT), "-j", "ACCEPT"])
        for r in rules:
            self.lab.x("rB", "iptables", "-w", r[0], r[1], "-I", r[2], "1", *r[3:])
        return "10.99.0.2", rules

    def iperf3(self):
        import json
        target, rules = self.iperf_target()
        try:
            server = self.spawn("hB", ["iperf3", "-s", "-1", "-p", str(IPERF_PORT)], "iperf3-server",
                                timeout=self.a.iperf_seconds + 40)
            for _ in range(100):
                if self.lab.x("hB", "ss", "-Hltn", f"sport = :{IPERF_PORT}").strip():
                    break
                time.sleep(0.05)
            else:
                server.fail("iperf3 -s is not listening after 5 s")
            out = self.lab.x("hA", "iperf3", "-u", "-c", target, "-p", str(IPERF_PORT), "-b", self.a.iperf_bandwidth,
                             "-l", str(CONEC_MAX_UDP_PAYLOAD), "-t", str(self.a.iperf_seconds), "--json",
                             timeout=self.a.iperf_seconds + 30)
            server.expect_exit(0)
        finally:
            for r in rules:
                self.lab.x("rB", "iptables", "-w", r[0], r[1], "-D", r[2], *r[3:], check=False)
        end = json.loads(out)["end"]
        rcv, snd = end["sum_received"], end.get("sum_sent", end["sum"])
        r = {
            "target": target, "forwarded": bool(rules),
            "mibps": rcv["bytes"] / rcv["seconds"] / MIB,
            "sent_mibps": snd["bytes"] / snd["seconds"] / MIB,
            "lost_percent": end["sum"].get("lost_percent", 0.0),
        }
        log(f"iperf3 -u to {target}: received {r['mibps']:.1f} MiB/s (sent {r['sent_mibps']:.1f} MiB/s, "
            f"{r['lost_percent']:.1f}% lost)")
        return r


# -- report ------------------------------------------------------------------------
def fmt_ms(v):
    return "     -" if v is None else f"{v * 1000:6.1f}"


def report(a, lab, binary_about, channels, transfers, iperf, load_start, load_end, elapsed):
    out = []
    w = out.append
    w("")
    w(f"conec direct-path benchmark: rA {lab.kind_a}, rB {lab.kind_b} (netlab), {a.channels} channels, "
      f"{a.size_mib} MiB transfers")
    w(f"binary {binary_about}")
    w(f"load average at start {load_start}, at end {load_end}; {os.cpu_count()} CPUs; run took {elapsed:.0f} s")
    w("")
    w(f"1. time from the channel request (introduction asked for) to ..., ms over {len(channels)} channels "
      "(nearest-rank p50/p95)")
    w(f"   {'':28} {'p50':>6} {'p95':>6} {'max':>6} {'n':>3}")
    rows = [("channel open", "open"), ("first byte (first reply)", "first_byte"),
            ("direct path validated", "validated"), ("channel now direct", "direct"),
            ("first reply on direct", "first_direct"), ("[process start -> 1st byte]", "start_first_byte"),
            ("[process start -> direct]", "start_direct")]
    for label, key in rows:
        vals = [c[key] for c in channels if c[key] is not None]
        if vals:
            w(f"   {label:28} {fmt_ms(percentile(vals, 50))} {fmt_ms(percentile(vals, 95))} {fmt_ms(max(vals))} "
              f"{len(vals):3}")
        else:
            w(f"   {label:28} {'-':>6} {'-':>6} {'-':>6} {0:3}")
    relayed_first = sum(1 for c in channels if c["first_path"] == "relay")
    w(f"   first reply relayed in {relayed_first} of {len(channels)} channels; direct to "
      f"{sorted({c['direct_addr'] for c in channels if c['direct_addr']}) or 'nothing'}")
    d = [c["direct"] for c in channels if c["direct"] is not None]
    f = [c["first_byte"] for c in channels]
    if lab.kind_a == "eim" and lab.kind_b == "eim":
        if d:
            w(f"   target p95 < 1 s for EIM pairs: to direct {percentile(d, 95):.3f} s "
              f"({'met' if percentile(d, 95) < 1 else 'MISSED'}), to first byte {percentile(f, 95):.3f} s "
              f"({'met' if percentile(f, 95) < 1 else 'MISSED'})")
    w("")
    w("2. goodput and 3. coordinator CPU. 'whole': sender's --stats (bytes bob confirmed / stream open to "
      "confirmation);")
    w("   'phase': at bob (recv to a pipe), automatic from the switch to direct, relay-only from the first byte, "
      "to the last byte,")
    w("   with the share of the file that phase carried")
    w("   (coordinator CPU: utime+stime of its process, clock tick 1/%d s; 'whole' = sender start to exit, incl. "
      % HZ + "alice's connect")
    w("    and the introduction; 'data' = from the switch to direct (automatic) or the channel's opening "
      "(relay-only) to exit)")
    w(f"   {'':14} {'MiB/s':>7} {'secs':>6} {'phase MiB/s':>15} {'CPU whole':>15} {'CPU data':>15} "
      f"{'coord link in/out':>18}  path")
    for t in transfers:
        w(f"   {t['mode'] + ' #' + str(t['run']):14} {t['mibps']:7.1f} {t['secs']:6.3f} "
          f"{t['phase_mibps']:8.1f} ({t['phase_share'] * 100:3.0f}%) "
          f"{t['coord_cpu']:5.2f} s {t['coord_cpu'] / t['wall'] * 100:5.1f}% "
          f"{t['phase_cpu']:5.2f} s {t['phase_cpu'] / t['phase_wall'] * 100:5.1f}% "
          f"{t['coord_to'] / MIB:7.2f}/{t['coord_from'] / MIB:<7.2f}MiB  {t['path']}")
    autos = [t for t in transfers if t["mode"] == "automatic"]
    relays = [t for t in transfers if t["mode"] == "relay-only"]
    sw = [t["switch_after"] for t in autos if t["switch_after"] is not None]
    if sw:
        w(f"   automatic: channel direct {', '.join(f'{x * 1000:.0f}' for x in sw)} ms after the sender started")
    w("")
    w(f"4. baseline: iperf3 -u -b {a.iperf_bandwidth} -l {CONEC_MAX_UDP_PAYLOAD} -t {a.iperf_seconds} "
      f"hA -> {iperf['target']}" + (" (rB DNAT :5201 -> hB for this baseline only)" if iperf["forwarded"] else ""))
    w(f"   received {iperf['mibps']:.1f} MiB/s (offered {iperf['sent_mibps']:.1f} MiB/s, "
      f"{iperf['lost_percent']:.1f}% lost): unencrypted, no congestion control")
    w("")
    med = lambda ts, k: statistics.median(t[k] for t in ts)  # noqa: E731
    share = lambda ts, c, wall: statistics.median(t[c] / t[wall] for t in ts) * 100  # noqa: E731
    w("ratios" + (f" (medians of {len(autos)} runs)" if len(autos) > 1 else ""))
    da, dr, di = med(autos, "mibps"), med(relays, "mibps"), iperf["mibps"]
    pa, pr = med(autos, "phase_mibps"), med(relays, "phase_mibps")
    note = "" if autos[0]["path"].startswith("direct") else "  [no direct path: both relayed]"
    w(f"   direct / relayed goodput, phases         {pa / pr:6.2f}  ({pa:.1f} / {pr:.1f} MiB/s){note}")
    w(f"   direct / relayed goodput, whole          {da / dr:6.2f}  ({da:.1f} / {dr:.1f} MiB/s; automatic "
      f"includes its relayed start)")
    w(f"   direct / iperf3 -u goodput, phase        {pa / di:6.2f}  ({pa:.1f} / {di:.1f} MiB/s)")
    w(f"   direct / iperf3 -u goodput, whole        {da / di:6.2f}  ({da:.1f} / {di:.1f} MiB/s)")
    w(f"   coordinator CPU during the direct transfer: {med(autos, 'phase_cpu'):.2f} s, "
      f"{share(autos, 'phase_cpu', 'phase_wall'):.1f}% of a core (whole transfer {med(autos, 'coord_cpu'):.2f} s, "
      f"{share(autos, 'coord_cpu', 'wall'):.1f}%); target ~0")
    w(f"   coordinator CPU during the relayed transfer: {med(relays, 'phase_cpu'):.2f} s, "
      f"{share(relays, 'phase_cpu', 'phase_wall'):.1f}% of a core (whole {med(relays, 'coord_cpu'):.2f} s, "
      f"{share(relays, 'coord_cpu', 'wall'):.1f}%)")
    print("\n".join(out), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--conec", required=True, help="path of the conec binary")
    ap.add_argument("--nat", nargs=2, metavar=("KIND_A", "KIND_B"), default=["eim", "eim"],
                    choices=netlab.NAT_KINDS, help="NAT kinds of rA and rB (none, eim, symmetric); default eim eim")
    ap.add_argument("--channels", type=int, default=20, help="channels (ping processes) to time (default 20)")
    ap.add_argument("--direct-wait", type=float, default=5.0,
                    help="seconds a ping waits for its channel to go direct (default 5)")
    ap.add_argument("--size-mib", type=int, default=256, help="size of each transfer in MiB (default 256)")
    ap.add_argument("--runs", type=int, default=1,
                    help="transfers per mode, alternating automatic and relay-only (default 1; medians compared)")
    ap.add_argument("--transfer-timeout", type=int, default=120, help="conec --timeout per transfer (default 120)")
    ap.add_argument("--iperf-seconds", type=int, default=5, help="iperf3 -t (default 5)")
    ap.add_argument("--iperf-bandwidth", default="10G", help="iperf3 -b (default 10G)")
    ap.add_argument("--deadline", type=float, default=300, help="hard limit for the whole run in seconds (default 300)")
    ap.add_argument("--show-logs", action="store_true", help="print every process's stderr at the end")
    a = ap.parse_args()
    if min(a.channels, a.size_mib, a.runs) < 1:
        ap.error("--channels, --size-mib and --runs must be at least 1")
    conec = os.path.abspath(a.conec)
    if not os.access(conec, os.X_OK):
        sys.exit(f"direct: conec binary {conec} does not exist or is not executable")
    if subprocess.run(["sh", "-c", "command -v iperf3"], capture_output=True).returncode != 0:
        sys.exit("direct: iperf3 is not installed (scripts/install-deps.sh installs it)")

    netlab.install_signal_handlers()

    def on_alarm(_s, _f):
        raise netlab.Interrupted(f"deadline of {a.deadline:g} s passed")

    signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, a.deadline)
    t_start, load_start = time.monotonic(), loadavg()
    lab = netlab.Lab(a.nat[0], a.nat[1], log=log)
    failure = results = None
    try:
        try:
            with lab:
                try:
                    binary, binary_about = snapshot_binary(conec, lab.tmp)
                    b = Bench(lab, binary, a)
                    b.start_coordinator()
                    channels = b.measure_channels()
                    payload = b.make_payload()
                    transfers = []
                    for run in range(1, a.runs + 1):  # alternating, so that drift hits both alike
                        transfers.append(b.transfer(payload, relay_only=False, run=run))
                        transfers.append(b.transfer(payload, relay_only=True, run=run))
                    b.check_coordinator()
                    iperf = b.iperf3()
                    results = (binary_about, channels, transfers, iperf)
                except (LabError, Broke, netlab.Interrupted) as e:
                    try:
                        state = lab.state()
                    except Exception as se:  # noqa: BLE001
                        state = f"(lab state unavailable: {se})"
                    raise LabError(f"{e}\n{state}") from None
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            if a.show_logs:
                for p in lab.procs:
                    print(f"--- {p.name} ({p.ns}): {' '.join(p.argv)}")
                    for ts, line in p.stderr_lines:
                        print(f"{ts - t_start:8.3f} {line}")
    except (LabError, netlab.Interrupted) as e:
        failure = str(e)
    left = netlab.list_netns()
    ours = [n for n in left if n.startswith(lab.prefix + "-")]
    if ours:
        failure = (failure + "\n" if failure else "") + f"namespaces left behind: {ours}"
    if results:
        report(a, lab, *results, load_start, loadavg(), time.monotonic() - t_start)
    print(f"\nteardown: `ip netns list` {'is empty' if not left else 'holds ' + ' '.join(left)}"
          + (f" ({len(left) - len(ours)} not this run's)" if left and len(left) != len(ours) else ""), flush=True)
    if failure:
        log(f"FAILED: {failure}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
