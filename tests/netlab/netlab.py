"""netlab: a NAT lab of Linux network namespaces for conec's tests (stdlib only).

Topology (prefix P unique per run, "cnl<pid>"):

    P-coord 10.99.0.10 ── P-inet (bridge br0, "the Internet", 10.99.0.0/24)
                               ├── P-rA wan0 10.99.0.1 ── lan0 10.99.1.1 ── P-hA eth0 10.99.1.10
                               └── P-rB wan0 10.99.0.2 ── lan0 10.99.2.1 ── P-hB eth0 10.99.2.10
    same-lan: no P-rB; P-rA's LAN is a bridge with P-hA 10.99.1.10 and P-hB 10.99.1.11

NAT kinds per router: "none" (plain routing, the LAN is routed from the Internet),
"eim" (MASQUERADE: endpoint-independent mapping, plus a stateful firewall that
drops unsolicited input: port-restricted filtering), "symmetric" (MASQUERADE
--random-fully: a new mapping per destination, same firewall).

Nothing touches the root namespace: no namespace has a route out of the lab.
Lab.close() (also on exceptions, SIGINT/SIGTERM/SIGHUP via install_signal_handlers)
kills every process in the lab's namespaces and deletes them, then checks that
`ip netns list` holds nothing with the prefix.
"""

import glob
import hashlib
import os
import re
import shlex
import signal
import subprocess
import tempfile
import threading
import time

NAT_KINDS = ("none", "eim", "symmetric")
COORD_ADDR = "10.99.0.10"
# Labs whose owner died (SIGKILL, e.g. a ctest timeout) are reaped by the next run.
OWNER_DIR = "/run/conec-netlab"


class LabError(Exception):
    """A lab or scenario failure; the message names the cause."""


class Interrupted(BaseException):
    """A signal arrived: unwind so that every finally block tears down."""


def install_signal_handlers():
    def handler(signum, _frame):
        raise Interrupted(f"interrupted by signal {signum}")

    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, handler)


def run(argv, timeout=10, check=True, input=None):
    """Run a short command to completion; on failure raise naming it and its stderr."""
    try:
        r = subprocess.run(argv, input=input, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise LabError(f"command timed out after {timeout} s: {shlex.join(argv)}")
    if check and r.returncode != 0:
        raise LabError(f"command failed (exit {r.returncode}): {shlex.join(argv)}\n"
                       f"  stderr: {r.stderr.decode(errors='replace').strip()[-2000:]}")
    return r.stdout.decode(errors="replace")


def list_netns():
    out = run(["ip", "netns", "list"])
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def reap_stale_labs(log):
    """Delete labs recorded in OWNER_DIR whose owning process is gone."""
    if not os.path.isdir(OWNER_DIR):
        return
    for name in os.listdir(OWNER_DIR):
        m = re.fullmatch(r"(cnl\d+)\.owner", name)
        if not m:
            continue
        prefix = m.group(1)
        path = os.path.join(OWNER_DIR, name)
        try:
            pid = int(open(path).read().strip())
        except (OSError, ValueError):
            continue
        if _pid_alive(pid):
            continue
        stale = [ns for ns in list_netns() if ns.startswith(prefix + "-")]
        log(f"reaping stale lab {prefix} (owner pid {pid} is gone): {' '.join(stale) or 'no namespaces'}")
        for ns in stale:
            _kill_netns_pids(ns)
            run(["ip", "netns", "del", ns], check=False)
        for d in glob.glob(os.path.join(tempfile.gettempdir(), prefix + "-*")):
            subprocess.run(["rm", "-rf", "--one-file-system", d])
        os.unlink(path)


def _kill_netns_pids(ns):
    out = run(["ip", "netns", "pids", ns], check=False)
    for tok in out.split():
        try:
            os.kill(int(tok), signal.SIGKILL)
        except (ProcessLookupError, ValueError):
            pass


class Proc:
    """A process inside a namespace: stderr collected as timestamped lines, stdout
    either collected as lines ("lines") or hashed as it arrives ("hash", with a
    (time, total bytes) sample per read for stall measurement)."""

    def __init__(self, lab, ns, argv, name, stdout="lines", timeout=60, stdin_path=None):
        self.lab, self.ns, self.argv, self.name = lab, ns, argv, name
        self.full_argv = ["ip", "netns", "exec", ns] + argv
        self.deadline = time.monotonic() + timeout
        self.timeout = timeout
        self.stderr_lines = []  # (monotonic time, text)
        self.stdout_lines = []
        self.samples = []       # (monotonic time, total bytes) for stdout="hash"
        self.sha256 = hashlib.sha256()
        self.nbytes = 0
        self.cond = threading.Condition()
        stdin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL
        self.started = time.monotonic()
        self.p = subprocess.Popen(self.full_argv, stdin=stdin, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, start_new_session=True,
                                  env=lab.env)
        if stdin_path:
            stdin.close()
        self.threads = [threading.Thread(target=self._read_stderr, daemon=True),
                        threading.Thread(target=self._read_stdout, args=(stdout,), daemon=True)]
        for t in self.threads:
            t.start()

    @property
    def pid(self):
        return self.p.pid

    def _read_stderr(self):
        for raw in self.p.stderr:
            with self.cond:
                self.stderr_lines.append((time.monotonic(), raw.decode(errors="replace").rstrip("\n")))
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def _read_stdout(self, mode):
        if mode == "lines":
            for raw in self.p.stdout:
                with self.cond:
                    self.stdout_lines.append(raw.decode(errors="replace").rstrip("\n"))
                    self.cond.notify_all()
        else:
            while True:
                chunk = self.p.stdout.read1(1 << 16)
                if not chunk:
                    break
                self.sha256.update(chunk)
                self.nbytes += len(chunk)
                with self.cond:
                    self.samples.append((time.monotonic(), self.nbytes))
                    self.cond.notify_all()

    def stderr_text(self):
        with self.cond:
            return "\n".join(line for _, line in self.stderr_lines)

    def tail(self, n=15):
        with self.cond:
            lines = [line for _, line in self.stderr_lines[-n:]]
        return "\n".join("    | " + line for line in lines) or "    | (no stderr)"

    def describe(self):
        rc = self.p.poll()
        state = "running" if rc is None else f"exit {rc}"
        return (f"  {self.name} in {self.ns} ({state}, pid {self.pid}): {shlex.join(self.argv)}\n"
                f"  stderr tail:\n{self.tail()}")

    def fail(self, why):
        raise LabError(f"{self.name}: {why}\n{self.describe()}")

    def wait_for(self, predicate, what, timeout):
        """Block until predicate() (called under the lock) is true; fail if the
        process exits first or the timeout passes."""
        end = min(time.monotonic() + timeout, self.deadline)
        with self.cond:
            while True:
                v = predicate()
                if v:
                    return v
                if self.p.poll() is not None and all(not t.is_alive() for t in self.threads):
                    v = predicate()
                    if v:
                        return v
                    self.fail(f"exited before {what}")
                left = end - time.monotonic()
                if left <= 0:
                    self.fail(f"no {what} within {timeout:g} s")
                self.cond.wait(min(left, 0.2))

    def wait_stderr(self, regex, timeout=15):
        rx = re.compile(regex)

        def find():
            for _, line in self.stderr_lines:
                m = rx.search(line)
                if m:
                    return m
            return None

        return self.wait_for(find, f"stderr line matching /{regex}/", timeout)

    def wait_bytes(self, n, timeout):
        return self.wait_for(lambda: self.nbytes >= n, f"{n} bytes on stdout", timeout)

    def wait(self):
        """Wait for exit within the process's hard timeout; kill and fail past it."""
        left = self.deadline - time.monotonic()
        try:
            rc = self.p.wait(timeout=max(left, 0.1))
        except subprocess.TimeoutExpired:
            self.kill()
            self.fail(f"killed: still running after its hard timeout of {self.timeout:g} s")
        for t in self.threads:
            t.join(5)
        self.ended = time.monotonic()
        return rc

    def expect_exit(self, want=0):
        rc = self.wait()
        if rc != want:
            self.fail(f"exit {rc}, expected {want}")
        return rc

    def terminate(self, sig=signal.SIGTERM):
        if self.p.poll() is None:
            try:
                os.killpg(self.p.pid, sig)
            except ProcessLookupError:
                pass

    def kill(self):
        self.terminate(signal.SIGKILL)
        try:
            self.p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


class Lab:
    """One lab. kind_a/kind_b: NAT kinds of rA/rB; same_lan: hA and hB both behind rA
    (kind_a), no rB."""

    def __init__(self, kind_a="eim", kind_b="eim", same_lan=False, log=print):
        for k in (kind_a, kind_b):
            if k not in NAT_KINDS:
                raise LabError(f"unknown NAT kind {k!r} (known: {', '.join(NAT_KINDS)})")
        self.kind_a, self.kind_b, self.same_lan = kind_a, kind_b, same_lan
        self.log = log
        self.prefix = f"cnl{os.getpid()}"
        self.procs = []
        self.created = []
        self.timings = {}
        self.tmp = None
        self.hosts = {"hA": "10.99.1.10", "hB": "10.99.1.11" if same_lan else "10.99.2.10"}
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("CONEC_")}

    # -- names and commands -------------------------------------------------
    def ns(self, short):
        return f"{self.prefix}-{short}"

    def ip(self, short, *args, check=True):
        return run(["ip", "-n", self.ns(short)] + list(args), check=check)

    def x(self, short, *argv, check=True, timeout=10):
        """Run a short command inside namespace SHORT."""
        return run(["ip", "netns", "exec", self.ns(short)] + list(argv), check=check, timeout=timeout)

    # -- lifetime -----------------------------------------------------------
    def __enter__(self):
        t0 = time.monotonic()
        if os.geteuid() != 0:
            raise LabError("netlab tests need root: network namespaces (and iptables in them); "
                           "run as root (CI does), or leave them out: ctest -LE netlab")
        try:
            os.makedirs(OWNER_DIR, exist_ok=True)
            reap_stale_labs(self.log)
            with open(os.path.join(OWNER_DIR, self.prefix + ".owner"), "w") as f:
                f.write(str(os.getpid()))
            self.tmp = tempfile.mkdtemp(prefix=self.prefix + "-")
            self._build()
        except BaseException:
            self.close()
            raise
        self.timings["setup"] = time.monotonic() - t0
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def _build(self):
        stale = [n for n in list_netns() if n.startswith(self.prefix + "-")]
        if stale:
            raise LabError(f"namespaces with this run's prefix already exist: {stale}")
        names = ["inet", "coord", "rA", "hA", "hB"] + ([] if self.same_lan else ["rB"])
        for n in names:
            run(["ip", "netns", "add", self.ns(n)])
            self.created.append(n)
            self.ip(n, "link", "set", "lo", "up")
            # IPv4 only: no link-local chatter (DAD, router solicitations) in the lab.
            self.x(n, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
        # The Internet: one bridge.
        self.ip("inet", "link", "add", "br0", "type", "bridge")
        self.ip("inet", "link", "set", "br0", "up")
        self.ip("inet", "link", "add", "c0", "type", "veth", "peer", "name", "eth0", "netns", self.ns("coord"))
        self.ip("inet", "link", "set", "c0", "master", "br0", "up")
        self.ip("coord", "addr", "add", COORD_ADDR + "/24", "dev", "eth0")
        self.ip("coord", "link", "set", "eth0", "up")
        routers = [("A", 1, self.kind_a)] + ([] if self.same_lan else [("B", 2, self.kind_b)])
        for s, i, kind in routers:
            r = "r" + s
            self.ip("inet", "link", "add", "w" + s, "type", "veth", "peer", "name", "wan0", "netns", self.ns(r))
            self.ip("inet", "link", "set", "w" + s, "master", "br0", "up")
            self.ip(r, "addr", "add", f"10.99.0.{i}/24", "dev", "wan0")
            self.ip(r, "link", "set", "wan0", "up")
            self.x(r, "sysctl", "-qw", "net.ipv4.ip_forward=1")
            if self.same_lan:
                self.ip(r, "link", "add", "lan0", "type", "bridge")
                for h in ("hA", "hB"):
                    port = "p" + h
                    self.ip(r, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", self.ns(h))
                    self.ip(r, "link", "set", port, "master", "lan0", "up")
                hosts = ["hA", "hB"]
            else:
                self.ip(r, "link", "add", "lan0", "type", "veth", "peer", "name", "eth0", "netns", self.ns("h" + s))
                hosts = ["h" + s]
            self.ip(r, "addr", "add", f"10.99.{i}.1/24", "dev", "lan0")
            self.ip(r, "link", "set", "lan0", "up")
            for h in hosts:
                self.ip(h, "addr", "add", self.hosts[h] + "/24", "dev", "eth0")
                # Per-packet loss later: segment GSO batches before the router sees them.
                self.ip(h, "link", "set", "eth0", "gso_max_segs", "1")
                self.ip(h, "link", "set", "eth0", "up")
                self.ip(h, "route", "add", "default", "via", f"10.99.{i}.1")
            self._nat(r, i, kind)
        # Plain routing: a "none" router's LAN is reachable from the Internet by its
        # address (routes added once every router has its WAN address).
        for s, i, kind in routers:
            if kind == "none":
                for other in ["coord"] + [f"r{o}" for o, _, _ in routers if o != s]:
                    self.ip(other, "route", "add", f"10.99.{i}.0/24", "via", f"10.99.0.{i}")
        self.log(f"lab {self.prefix}: " + (f"same-lan behind rA ({self.kind_a})" if self.same_lan
                                           else f"rA {self.kind_a}, rB {self.kind_b}") + f", work dir {self.tmp}")

    def _nat(self, r, i, kind):
        ipt = lambda *a: self.x(r, "iptables", "-w", *a)
        if kind == "none":
            return
        masq = ["-j", "MASQUERADE"] + (["--random-fully"] if kind == "symmetric" else [])
        ipt("-t", "nat", "-A", "POSTROUTING", "-o", "wan0", *masq)
        ipt("-A", "INPUT", "-i", "wan0", "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT")
        # Without this drop an unsolicited probe creates conntrack state that
        # remaps the inner host's next packet (NETLAB.md, pitfalls).
        ipt("-A", "INPUT", "-i", "wan0", "-j", "DROP")
        ipt("-A", "FORWARD", "-i", "lan0", "-o", "wan0", "-j", "ACCEPT")
        ipt("-A", "FORWARD", "-i", "lan0", "-o", "lan0", "-j", "ACCEPT")
        ipt("-A", "FORWARD", "-i", "wan0", "-o", "lan0", "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED",
            "-j", "ACCEPT")
        ipt("-P", "FORWARD", "DROP")

    def public_ip(self, host):
        """The address the coordinator must see HOST's packets from."""
        router = "A" if self.same_lan or host == "hA" else "B"
        kind = self.kind_a if router == "A" else self.kind_b
        return self.hosts[host] if kind == "none" else ("10.99.0.1" if router == "A" else "10.99.0.2")

    def coord_link_bytes(self):
        """(bytes to, bytes from) the coordinator host, counted on its bridge port."""
        import json
        d = json.loads(self.ip("inet", "-j", "-s", "link", "show", "dev", "c0"))[0]["stats64"]
        return d["tx"]["bytes"], d["rx"]["bytes"]

    def spawn(self, host, argv, name, **kw):
        p = Proc(self, self.ns(host), argv, name, **kw)
        self.procs.append(p)
        return p

    def state(self):
        """The lab's state, for failure messages."""
        out = [f"lab state ({self.prefix}):"]
        for p in self.procs:
            out.append(p.describe())
        for n in self.created:
            ns = self.ns(n)
            pids = run(["ip", "netns", "pids", ns], check=False).split()
            addrs = run(["ip", "-n", ns, "-4", "-br", "addr"], check=False).strip().replace("\n", "; ")
            out.append(f"  {ns}: pids [{' '.join(pids)}] addrs {addrs}")
            if n.startswith("r"):
                ct = run(["ip", "netns", "exec", ns, "conntrack", "-L", "-p", "udp"], check=False).strip()
                nat = run(["ip", "netns", "exec", ns, "iptables", "-w", "-t", "nat", "-S", "POSTROUTING"],
                          check=False).strip()
                out.append(f"    nat: {nat.replace(chr(10), '; ')}")
                out.append("    conntrack udp: " + (ct.replace("\n", "\n                   ") or "(none)"))
        return "\n".join(out)

    def close(self):
        # A second Ctrl-C or the scenario deadline must not cut teardown short:
        # hold those signals until it is done (then they act as usual).
        held = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGALRM}
        old = signal.pthread_sigmask(signal.SIG_BLOCK, held)
        try:
            self._close()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)

    def _close(self):
        t0 = time.monotonic()
        errors = []
        for p in self.procs:
            p.terminate(signal.SIGKILL)
        for p in self.procs:
            try:
                p.p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                errors.append(f"{p.name} (pid {p.pid}) survived SIGKILL for 5 s")
        for n in reversed(self.created):
            ns = self.ns(n)
            for _ in range(50):
                if not run(["ip", "netns", "pids", ns], check=False).split():
                    break
                _kill_netns_pids(ns)
                time.sleep(0.05)
            else:
                errors.append(f"processes left in {ns}: {run(['ip', 'netns', 'pids', ns], check=False).split()}")
            r = run(["ip", "netns", "del", ns], check=False)
        self.created = []
        if self.tmp:
            subprocess.run(["rm", "-rf", "--one-file-system", self.tmp])
            self.tmp = None
        left = [n for n in list_netns() if n.startswith(self.prefix + "-")]
        if left:
            errors.append(f"namespaces left behind: {left}")
        try:
            os.unlink(os.path.join(OWNER_DIR, self.prefix + ".owner"))
        except FileNotFoundError:
            pass
        self.timings["teardown"] = time.monotonic() - t0
        if errors:
            raise LabError("teardown: " + "; ".join(errors))


def file_sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
