#!/usr/bin/env python3
"""Group broadcast ("fan-out") benchmark: 1 sender, --receivers (10)
receivers on loopback; conec groups vs `ncat --broker`, in the same run.

conec: `conec -v --log-format json coordinator --listen 127.0.0.1:PORT
  --state-dir D [--group-deadline S]` (pin from its "clients connect with:
  .. --pin sha256:HEX" line; -v and json for its timed "'r1' removed from
  @bench: .." / "'r1' left: .." lines), receivers `conec recv @bench -c ..
  --pin .. -i rN -k --lines`, sender `conec send @bench .. -i sender
  --lines` (stdin a pipe from here); a CONEC_STATE_DIR per client. @bench
  is drop-oldest (the default policy).
ncat: `ncat --broker -l 127.0.0.1 PORT`, receivers `ncat --recv-only ..`,
  sender `ncat --send-only ..` (the broker does not echo to the sender).
Phases, with the same processes:
  warmup  a "W warmup" line every 50 ms until every receiver printed one
          (shown: time from starting the receivers, sender included; conec
          prints nothing when it has joined, so this is the readiness test).
  1. latency: --probes (200) 64-byte lines one at a time, each with its
     sequence number and send time, the next once every receiver printed it
     and >= --gap (20 ms) later: p50/p99 (nearest rank) of the time until
     the LAST receiver printed it.
  2. throughput: --messages (20000) numbered lines of --size (64) bytes + LF,
     written as fast as the sender reads: messages/s = M / (first write ->
     the last receiver printed the last line).
  3./4. the same, throughput first, after `kill -STOP` of r1, which is left
     out of "every receiver"; throughput sends --stop-messages (200000,
     13 MB), as 1.3 MB fits in the socket buffers between ncat's broker and
     the stopped client (~5 MB here), and in conec's 4 MiB per-stream send
     buffer. Nothing new at the others for --stall s (10) is shown as
     "stalled": expected of ncat, whose broker blocks writing to the stopped
     client (the latency phase is then skipped); for conec it is a failure
     (D6: no member stalls the others). conec may remove the stopped member
     meanwhile, which is expected, not a failure: its group deadline
     (coordinator --group-deadline, default 10 s, once its stream blocks)
     or, sooner with the default, QUIC's liveness (the coordinator gives up
     a peer that acknowledges nothing for 5 s while data waits). Shown: when
     the coordinator logged that and why. Then SIGCONT: what r1 does next
     (conec: recv exits 6), and the sender's exit status after stdin EOF
     (conec: must be 0, once the coordinator took every line).
Every receiver's lines are checked: none garbled, each phase's in order,
and all of them, except those a conec receiver was told it lost (drop-oldest:
"conec: warning: lost N messages from @bench" on its stderr, counted per
phase; they are shown, not a failure: a live receiver slower than the sender
loses too). Wrong, missing or unannounced-missing data, a stall with nobody
stopped, a conec stall with r1 stopped or a conec sender exiting non-zero
fail the run (exit 1), as does a conec without group support (the ncat half
still runs). One selector loop reads all receivers; a read's arrival time
stamps each line in it. Prints both and conec/ncat (targets: throughput
>= 1, p99 < 1). Figures, not a pass/fail test: run it on an otherwise idle
machine.

Usage: bench/fanout.py [--conec build/src/cli/conec] [--receivers 10] [--messages 20000] [--size 64]
                       [--probes 200] [--gap 0.02] [--stop-messages 200000] [--stall 10]
                       [--group-deadline S] [--only conec|ncat]
Needs ncat (Debian package ncat; scripts/install-deps.sh installs it).
"""
import argparse
import bisect
import datetime
import json
import math
import os
import re
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

WARM = b"W warmup\n"
LINE = re.compile(rb"W warmup|[LT][12] \d{7} (\d+ )?x*")
LOST = re.compile(r"conec: warning: lost (\d+) messages? from @bench")


class Fail(Exception):
    pass


class NoGroups(Fail):  # the conec under test predates groups
    pass


def free_port(kind=socket.SOCK_STREAM):
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tail(path, n=400):
    try:
        with open(path, errors="replace") as f:
            return f.read().strip()[-n:]
    except OSError:
        return ""


def pct(xs, p):
    s = sorted(xs)
    return s[max(0, math.ceil(p / 100 * len(s)) - 1)]


class Rx:
    """One receiver's stdout: all bytes so far, and when each read arrived."""

    def __init__(self, name, proc, err, size):
        self.name, self.proc, self.err, self.size = name, proc, err, size  # size: a T line's, without LF
        self.parsed, self.tags = 0, {}  # what seqs() parsed: buffer offset, tag -> sequence numbers
        self.buf, self.ends, self.times = bytearray(), [], []
        self.eof, self.scan, self.lost_base = False, 0, 0

    def find(self, line):
        """Arrival time of `line` at or after self.scan (then moved past it), or None."""
        pos = self.buf.find(line, self.scan)
        if pos < 0:
            self.scan = max(self.scan, len(self.buf) - len(line))
            return None
        self.scan = pos + len(line)
        return self.times[bisect.bisect_left(self.ends, self.scan)]

    def announced(self):
        """Messages conec said this receiver lost (drop-oldest), so far."""
        try:
            with open(self.err, errors="replace") as f:
                return sum(int(n) for n in LOST.findall(f.read()))
        except OSError:
            return 0

    def seqs(self, tag):
        """The tag's sequence numbers in printed order; fails on a garbled line or one out of order.
        Parses only what arrived since the last call."""
        end = self.buf.rfind(b"\n") + 1
        for line in bytes(self.buf[self.parsed:end]).split(b"\n")[:-1]:
            if not LINE.fullmatch(line) or len(line) != {b"W": len(WARM) - 1, b"L": 64}.get(line[:1], self.size):
                raise Fail(f"{self.name} printed a garbled line: {line[:80]!r}")
            if line[:1] != b"W":
                self.tags.setdefault(line[:2].decode(), []).append(int(line[3:10]))
        self.parsed = end
        seqs = self.tags.get(tag, [])
        if (bad := next((i for i in range(1, len(seqs)) if seqs[i] <= seqs[i - 1]), None)) is not None:
            raise Fail(f"{self.name}: {tag} #{seqs[bad]} after #{seqs[bad - 1]} (out of order or repeated)")
        return seqs

    def verify(self, tag, n, stalled=False, lost=0):
        """Checks the tag lines are 0..n-1 (a prefix if stalled), in order, none garbled, except `lost`
        (announced) missing ones; returns how many arrived."""
        seqs = self.seqs(tag)
        if seqs and seqs[-1] >= n:
            raise Fail(f"{self.name}: {tag} #{seqs[-1]} of only {n}")
        missing = (seqs[-1] + 1 if seqs else 0) - len(seqs) if stalled else n - len(seqs)
        if missing > lost or (not stalled and missing != lost):
            bad = next((i for i, v in enumerate(seqs) if v != i), len(seqs))
            raise Fail(f"{self.name}: {len(seqs)} {tag} lines of {n}, {missing} missing from #{bad}, "
                       f"{lost} announced lost")
        return len(seqs)


class System:
    def __init__(self, kind, args, tmp):
        self.kind, self.a, self.tmp = kind, args, tmp
        self.procs, self.rxs, self.sel = [], [], selectors.DefaultSelector()
        self.sender = self.sender_err = self.writer = self.t0 = self.write_error = None
        self.coord_err, self.coord_seen, self.t_stop, self.removal = None, 0, None, None
        self.problems = []  # conec not doing what it promises, found after its figures were taken

    def spawn(self, name, argv, env=None, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL):
        err = os.path.join(self.tmp, f"{self.kind}-{name}.err")
        with open(err, "wb") as f:
            self.procs.append(subprocess.Popen(argv, stdin=stdin, stdout=stdout, stderr=f, env=env))
        return self.procs[-1], err

    def wait_for(self, proc, err, what, ready):
        deadline = time.monotonic() + 15
        while not (r := ready()):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise Fail(f"{what} (exit {proc.poll()}): {tail(err)}")
            time.sleep(0.05)
        return r

    def start(self):
        n, local = self.a.receivers, "127.0.0.1"
        if self.kind == "conec":
            exe = self.a.conec
            if not os.access(exe, os.X_OK):
                raise Fail(f"{exe} not found or not executable (--conec)")
            usage = subprocess.run([exe, "recv", "--help"], capture_output=True, text=True).stdout
            if "@GROUP" not in usage:
                raise NoGroups(f"this conec has no group support ({exe} recv --help names no @GROUP)")
            port = free_port(socket.SOCK_DGRAM)
            extra = ["--group-deadline", str(self.a.group_deadline)] if self.a.group_deadline else []
            coord, err = self.spawn("coordinator", [exe, "-v", "--log-format", "json", "coordinator",
                                                    "--listen", f"{local}:{port}",
                                                    "--state-dir", os.path.join(self.tmp, "state-coordinator"), *extra])
            self.coord_err = err
            pin = self.wait_for(coord, err, "the conec coordinator printed no '--pin sha256:..' line",
                                lambda: re.search(r"--pin (sha256:[0-9a-f]{64})", tail(err, 100000))).group(1)

            def client(ident, verb, *extra):
                env = {k: v for k, v in os.environ.items() if k not in ("CONEC_COORD", "CONEC_ID", "CONEC_PIN")}
                env["CONEC_STATE_DIR"] = os.path.join(self.tmp, "state-" + ident)
                os.makedirs(env["CONEC_STATE_DIR"], mode=0o700, exist_ok=True)
                return [exe, verb, "@bench", "-c", f"{local}:{port}", "--pin", pin, "-i", ident, *extra], env
            rx_cmds = [client(f"r{i}", "recv", "-k", "--lines") for i in range(1, n + 1)]
            tx_cmd = client("sender", "send", "--lines")
        else:
            if not shutil.which("ncat"):
                raise Fail("ncat not found: apt-get install ncat (or scripts/install-deps.sh)")
            port = free_port()
            broker, err = self.spawn("broker", ["ncat", "--broker", "-l", local, str(port)])

            def listening():  # a connection closed at once is harmless to the broker
                try:
                    socket.create_connection((local, port), timeout=0.5).close()
                    return True
                except OSError:
                    return False
            self.wait_for(broker, err, "ncat --broker did not start listening", listening)
            rx_cmds = [(["ncat", "--recv-only", local, str(port)], None)] * n
            tx_cmd = (["ncat", "--send-only", local, str(port)], None)
        self.t_start = time.monotonic()
        for i, (argv, env) in enumerate(rx_cmds, 1):
            self.rxs.append(Rx(f"r{i}", *self.spawn(f"r{i}", argv, env, stdout=subprocess.PIPE), self.a.size))
            self.sel.register(self.rxs[-1].proc.stdout.fileno(), selectors.EVENT_READ, self.rxs[-1])
        self.sender, self.sender_err = self.spawn("sender", *tx_cmd, stdin=subprocess.PIPE)

    def pump(self, timeout):
        for key, _ in self.sel.select(max(timeout, 0)):
            rx, data = key.data, os.read(key.fd, 1 << 16)
            if not data:
                rx.eof = True
                self.sel.unregister(key.fd)
            rx.buf += data
            rx.ends.append(len(rx.buf))
            rx.times.append(time.monotonic())
        self.watch()

    def watch(self):
        """While r1 is stopped: when the coordinator logs that r1 left or was removed, and why."""
        if not self.coord_err or self.t_stop is None or self.removal:
            return
        with open(self.coord_err, "rb") as f:
            f.seek(self.coord_seen)
            new = f.read()
        self.coord_seen += len(new)
        for line in new.decode(errors="replace").splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if m := re.fullmatch(r"coordinator: 'r1' (removed from @bench: .*|left: .*)", rec.get("msg", "")):
                when = datetime.datetime.fromisoformat(rec["time"].replace("Z", "+00:00")).timestamp()
                self.removal = f"{when - self.t_stop_wall:.1f} s after SIGSTOP, {m.group(1)}"
                return

    def check(self, active):
        for name, p, err, eof in [("sender", self.sender, self.sender_err, False)] + [
                (rx.name, rx.proc, rx.err, rx.eof) for rx in active]:
            if (rc := p.poll()) is None and not eof:
                continue
            raise Fail(f"{name} exited ({rc}) / closed its stdout: {tail(err)}")
        if self.write_error:
            raise Fail(f"writing to the sender failed: {self.write_error}; sender: {tail(self.sender_err)}")

    def write(self, data):  # also the throughput phase's writer thread
        try:
            self.t0 = time.monotonic()
            self.sender.stdin.write(data)
            self.sender.stdin.flush()
        except (OSError, ValueError) as e:
            self.write_error = repr(e)

    def warmup(self):
        t0 = nxt = time.monotonic()
        while missing := [rx.name for rx in self.rxs if WARM not in rx.buf]:
            self.check(self.rxs)
            now = time.monotonic()
            if now > t0 + 20:
                raise Fail(f"after 20 s of warmup lines {', '.join(missing)} printed none")
            if now >= nxt:
                self.write(WARM)
                nxt = now + 0.05
            self.pump(nxt - now)
        end = time.monotonic() + 0.2  # let the last warmup lines arrive
        joined = end - 0.2 - self.t_start
        while (now := time.monotonic()) < end:
            self.pump(end - now)
        return joined

    @staticmethod
    def mark(active):  # a phase's lines come after what each receiver printed so far
        for rx in active:
            rx.scan = len(rx.buf)
            rx.lost_base = rx.announced()
        return [rx.scan for rx in active]

    def verify(self, tag, active, n, stalled=False):
        """Checks every active receiver's tag lines; returns (counts, lost announced in this phase)."""
        counts, lost = [], 0
        for rx in active:
            try:
                counts.append(rx.verify(tag, n, stalled, rx.announced() - rx.lost_base))
            except Fail:  # a loss warning written just after the lines it explains? Look once more
                time.sleep(0.5)
                counts.append(rx.verify(tag, n, stalled, rx.announced() - rx.lost_base))
            lost += rx.announced() - rx.lost_base
        return counts, lost

    def latency(self, tag, active):
        lats, last = [], 0.0
        self.mark(active)
        for i in range(self.a.probes):
            while (wait := last + self.a.gap - time.monotonic()) > 0:
                self.pump(wait)
            ts = time.monotonic_ns()
            line = f"{tag} {i:07d} {ts} ".encode().ljust(64, b"x") + b"\n"
            self.write(line)
            last, got = ts / 1e9, {}
            while True:
                for rx in active:
                    if rx.name not in got and (t := rx.find(line)) is not None:
                        got[rx.name] = t
                if len(got) == len(active):
                    break
                self.check(active)
                if time.monotonic() - last > self.a.stall:
                    self.verify(tag, active, self.a.probes, stalled=True)
                    return self.stalled(tag, f"stalled at probe {i}/{self.a.probes}", active, got)
                self.pump(0.05)
            lats.append(max(got.values()) - last)
        _, lost = self.verify(tag, active, self.a.probes)
        return {"p50": pct(lats, 50) * 1e3, "p99": pct(lats, 99) * 1e3, "lost": lost}

    def throughput(self, tag, active, m):
        size = self.a.size
        lines = [f"{tag} {i:07d} ".encode().ljust(size, b"x") + b"\n" for i in range(m)]
        blob, lastline = b"".join(lines), lines[-1]
        done, sizes = {}, self.mark(active)
        progress = time.monotonic()
        (writer := threading.Thread(target=self.write, args=(blob,), daemon=True)).start()
        self.writer = writer
        while len(done) < len(active):
            self.pump(0.05)
            for rx in active:
                if rx.name not in done and (t := rx.find(lastline)) is not None:
                    done[rx.name] = t
            self.check(active)
            now, new = time.monotonic(), [len(rx.buf) for rx in active]
            if new != sizes:
                progress, sizes = now, new
            elif now - progress > self.a.stall:
                c, _ = self.verify(tag, active, m, stalled=True)
                return self.stalled(tag, f"stalled at {min(c)}" + ("" if min(c) == max(c) else f"..{max(c)}") + f"/{m}",
                                    active, done)
        self.writer.join()
        _, lost = self.verify(tag, active, m)
        secs = max(done.values()) - self.t0
        return {"rate": m / secs, "MBps": (m * len(active) - lost) * size / secs / 1e6, "lost": lost}

    def stalled(self, tag, what, active, done):
        if len(active) == len(self.rxs):  # nobody stopped: a stall is missing data
            late = ", ".join(rx.name for rx in active if rx.name not in done)
            raise Fail(f"{tag}: {what}, nothing new for {self.a.stall} s; still waiting for {late}")
        if self.kind == "conec":
            self.problems.append(f"{tag}: the others {what} with r1 stopped (nothing new for {self.a.stall} s)")
        return {"stalled": what}

    def pump_while(self, busy, secs):
        """Reads the receivers while busy() and for at most secs; returns busy()."""
        end = time.monotonic() + secs
        while (b := busy()) and time.monotonic() < end:
            self.pump(0.05)
        return b

    def run(self):
        self.start()
        r = {"joined_s": self.warmup()}
        r["lat"] = self.latency("L1", self.rxs)
        r["tput"] = self.throughput("T1", self.rxs, self.a.messages)
        stopped, others = self.rxs[0], self.rxs[1:]
        os.kill(stopped.proc.pid, signal.SIGSTOP)
        self.t_stop, self.t_stop_wall = time.monotonic(), time.time()
        time.sleep(0.1)
        r["tput_stop"] = self.throughput("T2", others, self.a.stop_messages)
        r["lat_stop"] = {"stalled": "skipped (throughput stalled)"} if "stalled" in r["tput_stop"] else \
            self.latency("L2", others)
        r["stopped_s"] = time.monotonic() - self.t_stop
        self.watch()
        os.kill(stopped.proc.pid, signal.SIGCONT)
        # The sender: once its input is all written (ncat's writer may be blocked until r1 reads again).
        r["sender_rc"] = "writing 10 s after SIGCONT"
        if not self.pump_while(self.writer.is_alive, 10):
            self.sender.stdin.close()
            r["sender_rc"] = "running 10 s after EOF"
            if not self.pump_while(lambda: self.sender.poll() is None, 10):
                r["sender_rc"] = str(self.sender.returncode)
        if self.kind == "conec" and r["sender_rc"] != "0":
            self.problems.append(f"conec send @bench: {r['sender_rc']} after stdin EOF (expected exit 0): "
                                 f"{tail(self.sender_err)}")
        # r1, resumed: exits (conec, if removed) or catches up (up to 5 s).
        self.pump_while(lambda: stopped.proc.poll() is None and not stopped.eof and
                        (r["lat_stop"].get("stalled") or stopped.buf.find(b"L2 %07d " % (self.a.probes - 1)) < 0), 5)
        self.watch()
        got, lost = len(stopped.seqs("T2")), stopped.announced()
        [stopped.seqs(tag) for tag in ("L1", "T1", "L2")]  # in order, none garbled
        rc = stopped.proc.poll()
        state = f"exit {rc}: {(tail(stopped.err).splitlines() or [''])[-1]}" if rc is not None else "running"
        r["r1"] = (f"SIGSTOPped {r['stopped_s']:.1f} s; " + (f"coordinator: {self.removal}; " if self.removal else "") +
                   f"then {state}; it printed {got}/{self.a.stop_messages} T2 lines, in order" +
                   (f", {lost} announced lost" if lost else ""))
        return r

    def cleanup(self):
        for p in (p for p in self.procs if p.poll() is None):
            p.send_signal(signal.SIGCONT)
            p.terminate()
        deadline = time.monotonic() + 3
        for p in self.procs:
            try:
                p.wait(timeout=max(deadline - time.monotonic(), 0.01))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if self.writer:
            self.writer.join(timeout=3)
        for rx in self.rxs:
            rx.proc.stdout.close()


def table(res, a):
    def val(kind, phase, key, fmt):
        r = res.get(kind)
        if not isinstance(r, dict):
            return r or "not run", None
        ph = r[phase] if phase else r
        if "stalled" in ph:
            return ph["stalled"], None
        v = fmt.format(ph[key]) + (f" ({ph['lost']} lost)" if key in ("rate", "p99") and ph.get("lost") else "")
        return v, ph[key]

    def row(label, phase, key, fmt, target=None):
        (c, cv), (n, nv) = val("conec", phase, key, fmt), val("ncat", phase, key, fmt)
        ratio = f"{cv / nv:.2f}" + (f"  (target {target})" if target else "") if cv and nv else ""
        print(f"  {label:<30} {c:<32} {n:<32} {ratio}".rstrip())

    n = a.receivers
    deadline = f"--group-deadline {a.group_deadline}" if a.group_deadline else "default --group-deadline (10 s)"
    print(f"\nfan-out on loopback: 1 sender -> {n} receivers; throughput {a.messages} x {a.size} B lines, "
          f"latency {a.probes} x 64 B probes (gap >= {a.gap * 1e3:.0f} ms); conec coordinator: {deadline}, "
          f"group @bench drop-oldest")
    print(f"  {'':<30} {'conec (group @bench)':<32} {'ncat --broker':<32} conec/ncat")
    row("start -> all got warmup, s", None, "joined_s", "{:.2f}")
    print(f"all {n} receivers")
    row("throughput, msg/s to all", "tput", "rate", "{:.0f}", ">= 1")
    row("  delivered, MB/s (sum)", "tput", "MBps", "{:.1f}")
    row("latency p50, ms (last rx)", "lat", "p50", "{:.3f}")
    row("latency p99, ms (last rx)", "lat", "p99", "{:.3f}", "< 1")
    print(f"r1 SIGSTOPped, the other {n - 1}")
    row(f"throughput ({a.stop_messages}), msg/s", "tput_stop", "rate", "{:.0f}")
    row("  delivered, MB/s (sum)", "tput_stop", "MBps", "{:.1f}")
    row("latency p50, ms (last rx)", "lat_stop", "p50", "{:.3f}")
    row("latency p99, ms (last rx)", "lat_stop", "p99", "{:.3f}")
    for label, f in (("the others kept receiving", lambda r: "no (stalled)" if any(
            "stalled" in r[p] for p in ("lat_stop", "tput_stop")) else "yes"),
                     ("sender exit after stdin EOF", lambda r: r["sender_rc"])):
        c, n = (f(res[k]) if isinstance(res.get(k), dict) else "-" for k in ("conec", "ncat"))
        print(f"  {label:<30} {c:<32} {n}")
    print("(N lost): messages conec said a live receiver lost (drop-oldest: it fell behind the sender)")
    for k in ("conec", "ncat"):
        if isinstance(res.get(k), dict):
            print(f"{k} r1: {res[k]['r1']}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--conec", default="build/src/cli/conec", help="the conec binary")
    ap.add_argument("--receivers", type=int, default=10)
    ap.add_argument("--messages", type=int, default=20000, help="throughput phase: lines sent")
    ap.add_argument("--size", type=int, default=64, help="throughput phase: bytes per line, without newline (>= 16)")
    ap.add_argument("--probes", type=int, default=200, help="latency phase: lines sent one at a time")
    ap.add_argument("--gap", type=float, default=0.02, help="latency phase: minimum seconds between probes")
    ap.add_argument("--stop-messages", type=int, default=200000,
                    help="throughput phase with r1 stopped: lines sent (more than the socket buffers hold)")
    ap.add_argument("--stall", type=float, default=10, help="seconds without progress reported as a stall")
    ap.add_argument("--group-deadline", type=float, metavar="S",
                    help="passed to conec coordinator (default: not passed, its default 10 s)")
    ap.add_argument("--only", choices=("conec", "ncat"))
    a = ap.parse_args()
    if a.size < 16 or a.receivers < 2 or a.probes < 1 or not (
            0 < a.messages <= 9999999 and 0 < a.stop_messages <= 9999999):
        ap.error("need --size >= 16, --receivers >= 2, --probes >= 1, 1 <= --(stop-)messages <= 9999999")
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda s, f: sys.exit(128 + s))
    tmp = tempfile.mkdtemp(prefix="conec-fanout-bench-")
    res, failed = {}, False
    try:
        for kind in ("conec", "ncat"):
            if a.only and a.only != kind:
                continue
            print(f"{kind}: running ...", flush=True)
            s = System(kind, a, tmp)
            try:
                res[kind] = s.run()
                for p in s.problems:
                    print(f"{kind}: FAILED: {p}", file=sys.stderr, flush=True)
                failed |= bool(s.problems)
            except Fail as e:
                print(f"{kind}: FAILED: {e}", file=sys.stderr, flush=True)
                res[kind] = "no group support" if isinstance(e, NoGroups) else "FAILED (see stderr)"
                failed = True
            finally:
                s.cleanup()
        table(res, a)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
