#!/usr/bin/env python3
"""run.py: one netlab scenario with the real conec binary (see README.md).

    tests/netlab/run.py --conec build/src/cli/conec --scenario eim-eim
    tests/netlab/run.py --list

Exit 0 if the scenario's assertions held and the lab was torn down without
leaving a namespace or process behind; 1 otherwise, naming the cause.
"""

import argparse
import os
import re
import signal
import sys
import time
from dataclasses import dataclass

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netlab  # noqa: E402
from netlab import COORD_ADDR, LabError  # noqa: E402

PORT = 1719


@dataclass
class Scenario:
    kind_a: str
    kind_b: str
    test: str              # the Run method: "transfer", "ping", "rebind", "blackhole", "coord_restart" or "direct_only"
    path: str              # the path the channel's data must take: "direct" or "relay"
    same_lan: bool = False
    about: str = ""
    wan_mtu: int = 0       # MTU of every link of "the Internet" (0: the default 1500)
    end_path: str = ""     # the path --stats must name at the end, if not `path` (after a fallback)
    cut: str = ""          # outage: whose link goes down, "coordinator" or "alice"
    outage: float = 0.0    # outage: for how long (s)


SCENARIOS = {
    "none-none": Scenario("none", "none", "transfer", "direct", about="no NAT on either side"),
    "eim-eim": Scenario("eim", "eim", "transfer", "direct", about="two home routers (EIM, port-restricted)"),
    "eim-symmetric": Scenario("eim", "symmetric", "transfer", "relay",
                              about="port-restricted vs symmetric: punching cannot work"),
    "symmetric-symmetric": Scenario("symmetric", "symmetric", "transfer", "relay", about="both symmetric"),
    "same-lan": Scenario("eim", "eim", "transfer", "direct", same_lan=True, about="both hosts behind one router"),
    "ping": Scenario("eim", "eim", "ping", "direct", about="conec ping through two home routers"),
    "mtu-1280": Scenario("eim", "eim", "transfer", "direct", wan_mtu=1280,
                         about="two home routers on an Internet of 1280-byte MTU (the IPv6 minimum)"),
    "mtu-1280-relay": Scenario("eim", "symmetric", "transfer", "relay", wan_mtu=1280,
                               about="relayed (symmetric NAT) on an Internet of 1280-byte MTU: header + packet fit"),
    "rebind": Scenario("symmetric", "eim", "rebind", "relay",
                       about="alice's NAT mapping replaced mid-transfer (conntrack -D), relayed"),
    "rebind-direct": Scenario("eim", "eim", "rebind", "direct",
                              about="alice's NAT gives her a new port mid-transfer (conntrack -D, new port range), "
                                    "direct: falls back to the relay, bob hears alice's new address from the "
                                    "coordinator and punches to it, and the channel goes direct again"),
    "blackhole": Scenario("eim", "eim", "blackhole", "direct",
                          about="the direct path blackholed mid-transfer, then restored: relay, then direct again"),
    "coord-restart-relay": Scenario("eim", "symmetric", "coord_restart", "relay",
                                    about="the coordinator SIGKILLed and restarted mid-transfer, relayed: "
                                          "both ends re-present the relay and the transfer completes"),
    "coord-restart-direct": Scenario("eim", "eim", "coord_restart", "direct",
                                     about="the coordinator SIGKILLed and restarted mid-transfer, direct: "
                                           "the transfer does not need it"),
    "outage-coordinator": Scenario("eim", "symmetric", "outage", "relay", cut="coordinator", outage=8.0,
                                   about="the coordinator's link down for 8 s mid-transfer, relayed: both ends "
                                         "wait (neither gives the other up), and the data resumes at once after"),
    "outage-alice": Scenario("eim", "symmetric", "outage", "relay", cut="alice", outage=3.0,
                             about="alice's uplink down for 3 s mid-transfer, relayed: the data resumes at once "
                                   "after"),
    "direct-only-symmetric": Scenario("symmetric", "symmetric", "direct_only", "relay",
                                      about="send --direct-only where no direct path can be made: exit 5"),
}


def expected_path(sc, sabotage=None):
    """The one place the path assertion is decided (--sabotage wrong-path inverts it)."""
    if sabotage == "wrong-path":
        return "relay" if sc.path == "direct" else "direct"
    return sc.path


def log(msg):
    print(f"netlab: {msg}", flush=True)


class Run:
    def __init__(self, lab, conec, sabotage=None):
        self.lab, self.conec, self.sabotage = lab, conec, sabotage
        self.pin = None
        self.coordinator = None

    def d(self, name):
        path = os.path.join(self.lab.tmp, name)
        os.makedirs(path, exist_ok=True)
        return path

    def client_args(self, host, ident):
        pin = self.pin
        if self.sabotage == "wrong-pin" and host == "hA":
            pin = "sha256:" + ("0" * 64)
        return ["-c", f"{COORD_ADDR}:{PORT}", "--pin", pin, "--state-dir", self.d("state-" + host), "-i", ident]

    def start_coordinator(self):
        t0 = time.monotonic()
        self.coordinator = self.lab.spawn("coord", [self.conec, "coordinator", "--listen", f"{COORD_ADDR}:{PORT}",
                                                    "--state-dir", self.d("state-coord")],
                                          "coordinator", timeout=100)
        self.coordinator.wait_stderr(r"clients connect with:", timeout=15)
        m = self.coordinator.wait_stderr(r"fingerprint: (sha256:[0-9a-f]{64})\b", timeout=1)
        self.pin = m.group(1)
        log(f"coordinator up in {time.monotonic() - t0:.2f} s, pin {self.pin[:19]}…")

    def stop_coordinator(self):
        c = self.coordinator
        if c.p.poll() is not None:
            c.fail("the coordinator exited during the scenario")
        c.terminate(signal.SIGTERM)
        c.expect_exit(0)

    def start_listener(self, host, argv, name, **kw):
        t0 = time.monotonic()
        p = self.lab.spawn(host, [self.conec, "-v"] + argv, name, **kw)
        m = self.check_seen_as(p, host, "bob", timeout=15)
        log(f"{name} registered as bob (seen as {m.group(1)}:{m.group(2)}) in {time.monotonic() - t0:.2f} s")
        return p

    def check_seen_as(self, proc, host, ident, timeout=1):
        """The coordinator must see HOST through its router's NAT (or not, for "none"):
        proof that the lab's NAT is in the path."""
        m = proc.wait_stderr(rf"registered as '{ident}' \(seen as ([0-9.]+):(\d+)\)", timeout=timeout)
        want = self.lab.public_ip(host)
        if m.group(1) != want:
            proc.fail(f"the coordinator saw {ident} as {m.group(1)}:{m.group(2)}, expected address {want} "
                      f"(NAT {self.lab.kind_a if host == 'hA' or self.lab.same_lan else self.lab.kind_b})")
        return m

    def make_file(self, size):
        """SIZE random bytes in the lab's work directory, and their SHA-256."""
        import hashlib
        import random
        rng = random.Random(os.urandom(16))  # incompressible enough, and far cheaper than urandom for 1 GiB
        path = os.path.join(self.lab.tmp, "payload.bin")
        h = hashlib.sha256()
        with open(path, "wb") as f:
            for off in range(0, size, 16 << 20):
                chunk = rng.randbytes(min(16 << 20, size - off))
                h.update(chunk)
                f.write(chunk)
        return path, h.hexdigest()

    def check_stats(self, proc, regex, size, peer):
        m = proc.wait_stderr(regex, timeout=1)
        n, path = int(m.group("bytes")), m.group("path")
        if n != size:
            proc.fail(f"--stats reports {n} bytes, sent {size}: {m.group(0)!r}")
        want = self.scenario.end_path or expected_path(self.scenario, self.sabotage)
        if path != want:
            proc.fail(f"--stats reports path {path!r}, expected {want!r}: {m.group(0)!r}")
        return m

    def start_transfer(self, size):
        payload, digest = self.make_file(size)
        recv = self.start_listener("hB", ["recv"] + self.client_args("hB", "bob") + ["--stats", "--timeout", "60"],
                                   "recv", stdout="hash", timeout=70)
        self.link_before = self.lab.coord_link_bytes()
        t0 = time.monotonic()
        send = self.lab.spawn("hA", [self.conec, "-v", "send"] + self.client_args("hA", "alice") +
                              ["--stats", "--timeout", "60", "bob", payload], "send", timeout=70)
        return recv, send, digest, t0

    def finish_transfer(self, recv, send, digest, size, t0, wire=True):
        send.expect_exit(0)
        recv.expect_exit(0)
        self.check_seen_as(send, "hA", "alice")
        self.check_punch(send)
        if wire:
            self.check_wire_path(size)
        elapsed = time.monotonic() - t0
        if recv.nbytes != size:
            recv.fail(f"received {recv.nbytes} bytes, sent {size}")
        got = recv.sha256.hexdigest()
        if got != digest:
            recv.fail(f"SHA-256 of the received bytes {got} != sent {digest}")
        m = self.check_stats(send, r"conec: stats: (?P<bytes>\d+) bytes to bob in [0-9.]+ s \([^)]*\), "
                                   r"path (?P<path>\w+)", size, "bob")
        self.check_stats(recv, r"conec: stats: (?P<bytes>\d+) bytes from alice in [0-9.]+ s \([^)]*\), "
                               r"path (?P<path>\w+)", size, "alice")
        log(f"transfer: {size} bytes byte-exact (sha256 {digest[:16]}…) in {elapsed:.2f} s; send: {m.group(0)}")
        return elapsed

    def check_punch(self, proc):
        """Hole punching: a probe round trip proves a direct path where the NATs
        allow one (same LAN: through the local addresses the Hello announces), and
        the data switches to it; where they do not, nothing is validated."""
        rx = re.compile(r"net: direct path to (?P<addr>\S+) works both ways \(probe rtt (?P<rtt>[0-9.]+) ms, "
                        r"(?P<after>\d+) ms after punching began\)")
        found = next((m for _, line in proc.stderr_lines for m in [rx.search(line)] if m), None)
        switched = next((line for _, line in proc.stderr_lines if "net: channel now direct to " in line), None)
        want = expected_path(self.scenario, self.sabotage)
        if want == "direct" and not found:
            proc.fail("no direct path was validated by probes, expected one (NATs allow it)")
        if want == "direct" and not switched:
            proc.fail("a direct path was validated but the channel never switched to it")
        if want == "relay" and (found or switched):
            proc.fail(f"a direct path the NATs should not allow: {(found.group(0) if found else switched)!r}")
        if self.scenario.same_lan and found and not found.group("addr").startswith("10.99.1."):
            proc.fail(f"same LAN: expected the peer's local address, validated {found.group('addr')}")
        log(f"punch: {found.group(0) if found else 'no direct path (as expected)'}")

    def check_wire_path(self, size):
        """The path as the wire shows it, independent of what conec prints: relayed
        bytes cross the coordinator's link both ways; a direct path leaves it idle."""
        after = self.lab.coord_link_bytes()
        to_c, from_c = (a - b for a, b in zip(after, self.link_before))
        if to_c >= size and from_c >= size:
            seen = "relay"
        elif to_c < size // 10 and from_c < size // 10:
            seen = "direct"
        else:
            seen = f"unclear ({to_c} bytes to, {from_c} from the coordinator for {size} sent)"
        want = expected_path(self.scenario, self.sabotage)
        if seen != want:
            raise LabError(f"the coordinator's link shows path {seen}, expected {want} "
                           f"({to_c} bytes to it, {from_c} from it, {size} sent)")
        log(f"wire: {to_c} bytes to and {from_c} from the coordinator for {size} sent: path {seen}")

    # -- scenarios ----------------------------------------------------------
    def transfer(self):
        if self.scenario.wan_mtu:
            # Every WAN link: DF is set on every conec packet, so anything
            # bigger is dropped with an ICMP "fragmentation needed".
            mtu = str(self.scenario.wan_mtu)
            for ns, dev in [("rA", "wan0"), ("rB", "wan0"), ("coord", "eth0"), ("inet", "wA"), ("inet", "wB"),
                            ("inet", "c0")]:
                self.lab.ip(ns, "link", "set", dev, "mtu", mtu)
        if self.scenario.same_lan:
            # The relay path leaves the LAN through rA; at lab speed 4 MiB would be
            # through before any switch, so the uplink gets a home router's rate.
            self.lab.x("rA", "tc", "qdisc", "add", "dev", "wan0", "root", "tbf", "rate", "20mbit", "burst", "32kbit",
                       "latency", "400ms")
        self.start_coordinator()
        size = 4 * 1024 * 1024
        recv, send, digest, t0 = self.start_transfer(size)
        self.lab.timings["transfer"] = self.finish_transfer(recv, send, digest, size, t0)
        self.stop_coordinator()

    def ping(self):
        self.start_coordinator()
        client = self.start_listener("hB", ["client"] + self.client_args("hB", "bob"), "client", timeout=60)
        t0 = time.monotonic()
        ping = self.lab.spawn("hA", [self.conec, "-v", "ping"] + self.client_args("hA", "alice") +
                              ["--count", "3", "--timeout", "30", "bob"], "ping", timeout=40)
        ping.expect_exit(0)
        self.check_seen_as(ping, "hA", "alice")
        self.lab.timings["ping"] = time.monotonic() - t0
        want = expected_path(self.scenario, self.sabotage)
        rx = re.compile(r"^reply from bob: seq=(\d+) time=([0-9.]+) ms path=(\w+)(?: \S+)?$")
        replies = [m for m in map(rx.match, ping.stdout_lines) if m]
        seqs = [int(m.group(1)) for m in replies]
        if seqs != [1, 2, 3]:
            ping.fail(f"expected replies seq=1,2,3, got {seqs}; stdout: {ping.stdout_lines}")
        paths = [m.group(3) for m in replies]
        # The first replies may come before the switch (relay, then direct): the
        # last one must be on the expected path, and none after it on another.
        first_want = paths.index(want) if want in paths else len(paths)
        if paths[-1] != want or any(p != want for p in paths[first_want:]) or \
                any(p != "relay" for p in paths[:first_want]):
            ping.fail(f"replies report paths {paths}, expected {want!r} (after relayed ones at most); "
                      f"stdout: {ping.stdout_lines}")
        summary = [line for line in ping.stdout_lines if re.match(r"^\d+ sent, ", line)]
        if not summary or not re.match(rf"^3 sent, 3 received, .*, path {want}\b", summary[0]):
            ping.fail(f"expected a summary '3 sent, 3 received, ..., path {want}', got {summary}")
        log(f"ping: {len(replies)} replies, rtt {', '.join(m.group(2) for m in replies)} ms, path {want}; "
            f"{self.lab.timings['ping']:.2f} s")
        if client.p.poll() is not None:
            client.fail("conec client exited during the ping")
        client.terminate(signal.SIGINT)
        client.expect_exit(130)
        self.stop_coordinator()

    def alice_public_ports(self):
        """Public UDP ports rA's conntrack maps alice's flow to the coordinator to."""
        out = self.lab.x("rA", "conntrack", "-L", "-p", "udp", "--orig-src", self.lab.hosts["hA"],
                         "--orig-dst", COORD_ADDR, check=False)
        return sorted({int(m.group(1)) for m in
                       re.finditer(rf"src={re.escape(COORD_ADDR)} dst=10\.99\.0\.1 sport={PORT} dport=(\d+)", out)})

    def rebind(self):
        lab = self.lab
        # ~4 Mbit/s up from alice: a 3 MiB transfer then takes ~6 s.
        lab.x("rA", "tc", "qdisc", "add", "dev", "wan0", "root", "tbf", "rate", "4mbit", "burst", "32kbit",
              "latency", "400ms")
        self.start_coordinator()
        size = 3 * 1024 * 1024
        recv, send, digest, t0 = self.start_transfer(size)
        recv.wait_bytes(size // 4, timeout=30)
        before = self.alice_public_ports()
        if len(before) != 1:
            raise LabError(f"expected one conntrack mapping of alice to the coordinator in rA, found ports {before}\n"
                           + lab.state())
        t_del = time.monotonic()
        at = recv.nbytes
        if self.scenario.kind_a == "eim":
            # An EIM NAT keeps a freed port: make it pick another one, as a
            # router that rebooted or ran out of ports would.
            lab.x("rA", "iptables", "-w", "-t", "nat", "-I", "POSTROUTING", "1", "-o", "wan0", "-p", "udp",
                  "-j", "MASQUERADE", "--to-ports", "20000-20999")
        lab.x("rA", "conntrack", "-D", "-p", "udp")
        log(f"rebind: deleted rA's UDP conntrack at {at} bytes received ({t_del - t0:.2f} s into the transfer); "
            f"alice's public port was {before[0]}")
        # The next packet alice sends gets a new mapping; sampled (no event to wait for).
        after = []
        while not after and send.p.poll() is None and time.monotonic() - t_del < 30:
            time.sleep(0.05)
            after = self.alice_public_ports()
        if not after:
            raise LabError("no new conntrack mapping for alice within 30 s of the deletion\n" + lab.state())
        if before[0] in after:
            raise LabError(f"alice kept public port {before[0]} after conntrack -D: nothing was rebound\n"
                           + lab.state())
        log(f"rebind: alice's new public port {after[0]} after {time.monotonic() - t_del:.2f} s")
        direct = self.scenario.path == "direct"
        # Direct: part of the data took each path, so the wire check does not apply.
        elapsed = self.finish_transfer(recv, send, digest, size, t0, wire=not direct)
        if direct:
            m = send.wait_stderr(r"net: direct path to \S+ lost \([^)]*\); back on the relay", timeout=1)
            log(f"rebind: the sender fell back: {m.group(0)!r}")
            # The coordinator told bob where alice is now; his probes open
            # his NAT to her new port, and the channel goes direct again.
            m = recv.wait_stderr(rf"net: the peer is now seen at 10\.99\.0\.1:{after[0]}\b", timeout=1)
            rx = re.compile(r"net: channel now direct to ")
            switches = sum(1 for _, line in send.stderr_lines if rx.search(line))
            if switches < 2:
                send.fail(f"the channel did not go direct again after the rebinding ({switches} switch(es))")
            log(f"rebind: bob heard {m.group(0)!r}; the sender switched to the direct path {switches} times")
        lab.timings["transfer"] = elapsed
        # Longest interval without received data from the deletion on (recorded, not asserted).
        samples = [(t0, 0)] + recv.samples
        gaps_after = [(b[0] - a[0], a[0], a[1]) for a, b in zip(samples, samples[1:]) if b[0] >= t_del]
        gaps_before = [b[0] - a[0] for a, b in zip(samples, samples[1:]) if b[0] < t_del]
        stall, stall_start, stall_at = max(gaps_after) if gaps_after else (0.0, t_del, at)
        lab.timings["stall"] = stall
        log(f"rebind: RECORDED data stall {stall:.2f} s after the rebinding (from {stall_start - t_del:+.2f} s "
            f"relative to conntrack -D, at {stall_at} bytes); longest gap before it {max(gaps_before, default=0):.2f} s; "
            f"transfer {elapsed:.2f} s for {size} bytes at 4 Mbit/s")
        self.stop_coordinator()


    def blackhole(self):
        """eim x eim, alice's uplink at 1 Gbit/s, 1 GiB (the issue's switch under
        transfer). Once the channel is direct and bob has a quarter, rA drops
        everything between alice and rB (both ways) for 3 s: the channel must fall
        back to the relay and go on, then return to the direct path once it answers
        again; the data stays byte-exact."""
        lab = self.lab
        lab.x("rA", "tc", "qdisc", "add", "dev", "wan0", "root", "tbf", "rate", "1gbit", "burst", "512kb",
              "latency", "100ms")
        self.start_coordinator()
        size = 1024 * 1024 * 1024
        recv, send, digest, t0 = self.start_transfer(size)
        send.wait_stderr(r"net: channel now direct to ", timeout=30)
        recv.wait_bytes(size // 4, timeout=60)
        rules = [["-s", "10.99.0.2"], ["-d", "10.99.0.2"]]
        for r in rules:
            lab.x("rA", "iptables", "-w", "-I", "FORWARD", "1", *r, "-j", "DROP")
        t_cut, at_cut = time.monotonic(), recv.nbytes
        log(f"blackhole: direct path cut at {at_cut} bytes received ({t_cut - t0:.2f} s into the transfer)")
        fallback = send.wait_stderr(r"net: direct path to \S+ lost \((?P<why>[^)]*)\); back on the relay", timeout=15)
        t_fallback, at_fallback = time.monotonic(), recv.nbytes
        recv.wait_bytes(at_fallback + 256 * 1024, timeout=15)  # the relay carries the data meanwhile
        log(f"blackhole: fell back after {t_fallback - t_cut:.2f} s ({fallback.group('why')}); "
            f"256 KiB more arrived over the relay {time.monotonic() - t_fallback:.2f} s later")
        time.sleep(max(0.0, 3.0 - (time.monotonic() - t_cut)))
        for r in rules:
            lab.x("rA", "iptables", "-w", "-D", "FORWARD", *r, "-j", "DROP")
        t_restore = time.monotonic()
        rx = re.compile(r"net: channel now direct to ")
        send.wait_for(lambda: sum(1 for _, line in send.stderr_lines if rx.search(line)) >= 2,
                      "a second switch to the direct path", timeout=20)
        log(f"blackhole: direct again {time.monotonic() - t_restore:.2f} s after the path was restored "
            f"(at {recv.nbytes} bytes received)")
        # Part of the data crossed the relay, so the wire check does not apply.
        self.lab.timings["transfer"] = self.finish_transfer(recv, send, digest, size, t0, wire=False)
        self.stop_coordinator()

    def coord_restart(self):
        """alice's uplink at 8 Mbit/s, 4 MiB (~4 s). With a quarter at bob (on the
        direct path once it is direct), the coordinator is SIGKILLed and started
        again at once (same key, hence the same stateless-reset secret): the
        transfer completes byte-exact. Relayed, both clients notice (a stalled
        relay pokes their coordinator links, which the new process resets),
        register again and re-present the relay; direct, nothing waits for it."""
        lab = self.lab
        lab.x("rA", "tc", "qdisc", "add", "dev", "wan0", "root", "tbf", "rate", "8mbit", "burst", "32kbit",
              "latency", "400ms")
        self.start_coordinator()
        size = 4 * 1024 * 1024
        recv, send, digest, t0 = self.start_transfer(size)
        direct = self.scenario.path == "direct"
        if direct:
            send.wait_stderr(r"net: channel now direct to ", timeout=30)
        recv.wait_bytes(size // 4, timeout=30)
        t_kill, at = time.monotonic(), recv.nbytes
        self.coordinator.terminate(signal.SIGKILL)
        self.coordinator.expect_exit(-signal.SIGKILL)
        log(f"coord-restart: coordinator SIGKILLed at {at} bytes received ({t_kill - t0:.2f} s into the transfer)")
        self.start_coordinator()
        t_up = time.monotonic()
        if not direct:
            m = send.wait_stderr(r"the transfer to 'bob' waits for its relay to come back", timeout=15)
            send.wait_stderr(r"client: the coordinator relays again for channel \d+ to 'bob'", timeout=15)
            log(f"coord-restart: the new coordinator relays for both again {time.monotonic() - t_up:.2f} s "
                f"after it was up")
        elapsed = self.finish_transfer(recv, send, digest, size, t0, wire=False)
        lab.timings["transfer"] = elapsed
        samples = [(t0, 0)] + recv.samples
        gaps = [(b[0] - a[0], a[0]) for a, b in zip(samples, samples[1:]) if b[0] >= t_kill]
        stall, start = max(gaps) if gaps else (0.0, t_kill)
        lab.timings["stall"] = stall
        log(f"coord-restart: RECORDED data stall {stall:.2f} s (from {start - t_kill:+.2f} s relative to the kill; "
            f"restarted coordinator up {t_up - t_kill:.2f} s after it)")
        self.stop_coordinator()

    def outage(self):
        """alice's uplink at 8 Mbit/s, 4 MiB relayed. With a quarter at bob, every
        packet to and from the coordinator (cut="coordinator", in inet) or across
        alice's router (cut="alice", in rA) is dropped for `outage` seconds. The
        transfer must complete byte-exact, and the data resume promptly after the
        link's return (the time is recorded: backed-off retransmission timers
        would make it about one outage-length)."""
        lab, sc = self.lab, self.scenario
        lab.x("rA", "tc", "qdisc", "add", "dev", "wan0", "root", "tbf", "rate", "8mbit", "burst", "32kbit",
              "latency", "400ms")
        self.start_coordinator()
        size = 4 * 1024 * 1024
        recv, send, digest, t0 = self.start_transfer(size)
        recv.wait_bytes(size // 4, timeout=30)
        if sc.cut == "coordinator":
            where, rules = "inet", [["-s", COORD_ADDR], ["-d", COORD_ADDR]]
        else:
            where, rules = "rA", [[]]
        for r in rules:
            lab.x(where, "iptables", "-w", "-I", "FORWARD", "1", *r, "-j", "DROP")
        t_cut, at_cut = time.monotonic(), recv.nbytes
        log(f"outage: {sc.cut}'s link cut at {at_cut} bytes received ({t_cut - t0:.2f} s into the transfer)")
        time.sleep(sc.outage)
        for r in rules:
            lab.x(where, "iptables", "-w", "-D", "FORWARD", *r, "-j", "DROP")
        t_back, at_back = time.monotonic(), recv.nbytes
        recv.wait_bytes(at_back + 64 * 1024, timeout=15)
        resumed = next((t for t, n in recv.samples if t >= t_back and n > at_back), time.monotonic())
        lab.timings["resume"] = resumed - t_back
        log(f"outage: link back after {t_back - t_cut:.2f} s; RECORDED data resumed {resumed - t_back:.2f} s later")
        lab.timings["transfer"] = self.finish_transfer(recv, send, digest, size, t0)
        self.stop_coordinator()

    def direct_only(self):
        """send --direct-only where no direct path can be made: exit 5 naming why,
        nothing delivered; the receiver keeps waiting and stops on SIGINT."""
        self.start_coordinator()
        payload, _ = self.make_file(64 * 1024)
        recv = self.start_listener("hB", ["recv"] + self.client_args("hB", "bob") + ["--timeout", "60"],
                                   "recv", stdout="hash", timeout=70)
        t0 = time.monotonic()
        send = self.lab.spawn("hA", [self.conec, "-v", "send"] + self.client_args("hA", "alice") +
                              ["--direct-only", "--timeout", "60", "bob", payload], "send", timeout=70)
        send.expect_exit(5)
        took = time.monotonic() - t0
        m = send.wait_stderr(r"conec: error: no direct path to 'bob' could be made \(--direct-only\): .+", timeout=1)
        if recv.nbytes:
            recv.fail(f"received {recv.nbytes} bytes although the sender refused the relay")
        log(f"direct-only: exit 5 after {took:.2f} s: {m.group(0)!r}")
        recv.terminate(signal.SIGINT)
        recv.expect_exit(130)
        self.stop_coordinator()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--conec", help="path of the conec binary")
    ap.add_argument("--scenario", choices=sorted(SCENARIOS))
    ap.add_argument("--list", action="store_true", help="list the scenarios")
    ap.add_argument("--deadline", type=float, default=100,
                    help="hard limit for the whole scenario in seconds (below ctest's TIMEOUT, so that "
                         "teardown always runs)")
    ap.add_argument("--show-logs", action="store_true",
                    help="print every process's stderr (timestamped from the lab's start) at the end")
    ap.add_argument("--sabotage", choices=["wrong-pin", "wrong-path"],
                    help="break the scenario on purpose (harness self-check)")
    ap.add_argument("--expect-failure", metavar="REGEX",
                    help="pass only if the scenario fails with a message matching REGEX (and cleans up)")
    a = ap.parse_args()
    if a.list:
        for name, sc in SCENARIOS.items():
            where = "same LAN behind rA" if sc.same_lan else f"rA {sc.kind_a}, rB {sc.kind_b}"
            print(f"{name:22} {sc.test:11} {where:32} path {expected_path(sc)}: {sc.about}")
        return 0
    if not a.conec or not a.scenario:
        ap.error("--conec and --scenario are required (or --list)")
    conec = os.path.abspath(a.conec)
    if not os.access(conec, os.X_OK):
        log(f"FAIL: conec binary {conec} does not exist or is not executable")
        return 1

    netlab.install_signal_handlers()

    def on_alarm(_s, _f):
        raise netlab.Interrupted(f"scenario deadline of {a.deadline:g} s passed")

    signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, a.deadline)

    sc = SCENARIOS[a.scenario]
    t_start = time.monotonic()
    lab = netlab.Lab(sc.kind_a, sc.kind_b, same_lan=sc.same_lan, log=log)
    failure = None
    try:
        try:
            with lab:
                log(f"setup {lab.timings['setup']:.2f} s; scenario {a.scenario}: {sc.about}")
                r = Run(lab, conec, a.sabotage)
                r.scenario = sc
                try:
                    getattr(r, sc.test)()
                except (LabError, netlab.Interrupted) as e:
                    # The state before teardown, for the failure message.
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
    left = [n for n in netlab.list_netns() if n.startswith(lab.prefix + "-")]
    if left:
        failure = (failure + "\n" if failure else "") + f"namespaces left behind: {left}"
    else:
        log(f"cleanup verified: no namespace with prefix {lab.prefix} left")
    t = lab.timings
    log("timings: " + "".join(f"{k} {v:.2f} s, " for k, v in t.items()) +
        f"total {time.monotonic() - t_start:.2f} s")
    if a.expect_failure:
        if failure and not left and re.search(a.expect_failure, failure):
            log(f"PASS: failed as expected (/{a.expect_failure}/): {failure.splitlines()[0]}")
            return 0
        log(f"FAIL: expected a failure matching /{a.expect_failure}/, got: {failure or 'success'}")
        return 1
    if failure:
        log(f"FAIL: {a.scenario}: {failure}")
        return 1
    log(f"PASS: {a.scenario}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
