#!/usr/bin/env python3
"""Relayed-transfer benchmark: conec client -> coordinator relay -> client vs
OpenSSH through a jump host (ssh -J), same run, all on loopback.

conec (bench/relay_bulk, three processes):
  coordinator, then recv (id bob), then send (id alice) moving --bytes over
  one unidirectional stream of a client-to-client channel relayed by the
  coordinator (end-to-end TLS 1.3 / AES-128-GCM; the relay only forwards
  ciphertext). Every message is verified by the receiver; byte counts (and
  with --sha256 the SHA-256 of the stream on both sides) are compared here.
baseline (OpenSSH):
  two throw-away sshd instances on 127.0.0.1 (jump host and target; same
  binary and config, separate so the jump host's CPU can be measured), then
    head -c N /dev/zero | ssh -o ProxyCommand="ssh ... -W %h:%p root@127.0.0.1 -p JUMP"
                             -p TARGET root@127.0.0.1 'wc -c'
  timed as a whole; `wc -c` on the target must print N. ssh setup time
  (the same command with `true`) is measured too and reported separately.
  With --ssh-ciphers the run is repeated per cipher ("default" = ssh's choice).

Prints goodput of both, the ratio conec/ssh (target >= 1.5), and the
coordinator's (relay's) CPU seconds per relayed GiB next to the jump sshd's.
Figures, not a pass/fail test (but wrong data fails the run).

Usage: bench/relay.py [--build build] [--bytes 1073741824] [--runs 1] [--sha256]
                      [--ssh-ciphers default,aes128-gcm@openssh.com] [--no-ssh] [--ssh-direct]
Needs root for sshd (scripts/install-deps.sh installs openssh-server).
"""
import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

GIB = 1 << 30
HZ = os.sysconf("SC_CLK_TCK")


def free_port(kind=socket.SOCK_STREAM):
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def figures(text):
    out = {}
    for line in text.splitlines():
        parts = line.split(None, 1)
        if len(parts) == 2:
            out[parts[0]] = parts[1].strip()
    return out


def stop(proc, timeout=10):
    """SIGTERM, then SIGKILL; returns (stdout, stderr) if pipes were used."""
    if proc is None:
        return "", ""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    return out or "", err or ""


class Fail(Exception):
    pass


# ---- conec ---------------------------------------------------------------------

def conec_relay(build, nbytes, sha):
    exe = os.path.join(build, "bench", "relay_bulk")
    if not os.access(exe, os.X_OK):
        raise Fail(f"{exe} not found: build it (ninja -C {build} relay_bulk)")
    coord = recv = None
    try:
        coord = subprocess.Popen([exe, "coordinator", "--listen", "127.0.0.1:0"], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
        head = {}
        while len(head) < 2:
            line = coord.stdout.readline()
            if not line:
                raise Fail("coordinator exited: " + coord.stderr.read().strip())
            k, v = line.split()
            head[k] = v
        common = ["--coord", "127.0.0.1:" + head["port"], "--pin", head["fingerprint"]] + (["--sha256"] if sha else [])
        recv = subprocess.Popen([exe, "recv", "--id", "bob", "--bytes", str(nbytes)] + common,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = recv.stdout.readline()  # "registered bob"
        if not line.startswith("registered"):
            raise Fail("relay_bulk recv: " + recv.stderr.read().strip())
        t0 = time.monotonic()
        send = subprocess.run([exe, "send", "--id", "alice", "--peer", "bob", "--bytes", str(nbytes)] + common,
                              capture_output=True, text=True, timeout=900)
        wall = time.monotonic() - t0
        if send.returncode != 0:
            raise Fail("relay_bulk send failed: " + send.stderr.strip())
        try:
            rout, rerr = recv.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            raise Fail("relay_bulk recv did not finish")
        if recv.returncode != 0:
            raise Fail("relay_bulk recv failed: " + rerr.strip())
        cout, cerr = stop(coord)
        coord = None
        s, r, c = figures(send.stdout), figures(rout), figures(cout)
        if int(s["bytes"]) != nbytes or int(r["bytes"]) != nbytes:
            raise Fail(f"byte counts differ: asked {nbytes}, sent {s['bytes']}, received {r['bytes']}")
        if sha and s.get("sha256") != r.get("sha256"):
            raise Fail(f"SHA-256 differs: sent {s.get('sha256')}, received {r.get('sha256')}")
        if "cpu_s" not in c:
            raise Fail("coordinator printed no figures: " + cerr.strip())
        relayed = int(c["relayed_bytes"])
        if relayed < nbytes:
            raise Fail(f"the coordinator relayed only {relayed} bytes: the data did not go through the relay")
        return {
            "goodput_MBps": float(s["goodput_MBps"]),
            "seconds": float(s["seconds"]),
            "wall_s": wall,  # process start to exit of the sender (incl. identity, registration, channel)
            "setup_s": float(s["setup_s"]),
            "sender_cpu_s": float(s["cpu_s"]),
            "receiver_cpu_s": float(r["cpu_s"]),
            "coord_cpu_s": float(c["cpu_s"]),
            "relayed_bytes": relayed,
            "relayed_datagrams": int(c["relayed_datagrams"]),
            "dropped_rate": int(c["relay_dropped_rate"]),
            "pmtu": s.get("pmtu", "?"),
            "srtt_us": s.get("srtt_us", "?"),
            "sha256": s.get("sha256"),
        }
    finally:
        stop(recv)
        stop(coord)


# ---- OpenSSH through a jump host -------------------------------------------

def proc_cpu_s(pid, children=True):
    """utime+stime (+ cutime+cstime: reaped children) of pid, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is state (field 3); utime is field 14 -> index 11
    ut, st, cut, cst = (int(x) for x in fields[11:15])
    return (ut + st + ((cut + cst) if children else 0)) / HZ


class Sshd:
    def __init__(self, tmp, name, keyfile_pub):
        self.port = free_port()
        self.tmp = tmp
        self.conf = os.path.join(tmp, f"sshd_{name}.conf")
        with open(self.conf, "w") as f:
            f.write(f"""Port {self.port}
ListenAddress 127.0.0.1
HostKey {os.path.join(tmp, 'host_ed25519')}
AuthorizedKeysFile {keyfile_pub}
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
AllowTcpForwarding yes
PidFile {os.path.join(tmp, f'sshd_{name}.pid')}
LogLevel ERROR
""")
        self.log = open(os.path.join(tmp, f"sshd_{name}.log"), "w")
        self.proc = subprocess.Popen([shutil.which("sshd") or "/usr/sbin/sshd", "-D", "-e", "-f", self.conf],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while True:
            if self.proc.poll() is not None:
                raise Fail(f"sshd exited ({self.proc.returncode}): {self.read_log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise Fail("sshd did not start listening: " + self.read_log())
                time.sleep(0.05)

    def read_log(self):
        self.log.flush()
        with open(self.log.name) as f:
            return f.read().strip()[-2000:]

    def cpu_s(self):
        return proc_cpu_s(self.proc.pid)

    def close(self):
        stop(self.proc, 5)
        self.log.close()


def ssh_setup(tmp):
    """Generates the host and client keys; returns the client key path."""
    if os.geteuid() != 0:
        raise Fail("sshd must run as root for a root login (this is not root)")
    for tool in ("sshd", "ssh", "ssh-keygen"):
        if not shutil.which(tool) and not os.path.exists("/usr/sbin/" + tool):
            raise Fail(f"{tool} not found (scripts/install-deps.sh installs openssh-server/openssh-client)")
    key = os.path.join(tmp, "client_ed25519")
    for path in (os.path.join(tmp, "host_ed25519"), key):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", path], check=True,
                       stdout=subprocess.DEVNULL)
    shutil.copy(key + ".pub", os.path.join(tmp, "authorized_keys"))
    return key


def ssh_command(key, jump, target, cipher, remote):
    base = ["ssh", "-F", "none", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "BatchMode=yes", "-o", "LogLevel=ERROR", "-i", key]
    if cipher != "default":
        base += ["-c", cipher]
    if jump is None:  # direct, for context
        return base + ["-p", str(target.port), "root@127.0.0.1", remote]
    # -J does not pass -i/-o/-c to the jump connection: spell the ProxyCommand out.
    proxy = " ".join(base + ["-W", "%h:%p", "-p", str(jump.port), "root@127.0.0.1"])
    return base + ["-o", "ProxyCommand=" + proxy, "-p", str(target.port), "root@127.0.0.1", remote]


def ssh_relay(tmp, key, jump, target, nbytes, cipher):
    setup_cmd = ssh_command(key, jump, target, cipher, "true")
    t0 = time.monotonic()
    r = subprocess.run(setup_cmd, capture_output=True, text=True, timeout=60)
    setup = time.monotonic() - t0
    if r.returncode != 0:
        raise Fail(f"ssh failed ({r.returncode}): {r.stderr.strip()}\n"
                   f"jump sshd: {jump.read_log() if jump else '-'}\ntarget sshd: {target.read_log()}")
    # Which cipher did ssh really use?
    used = cipher
    if cipher == "default":
        v = subprocess.run(["ssh", "-v"] + ssh_command(key, jump, target, cipher, "true")[1:], capture_output=True,
                           text=True, timeout=60)
        for line in v.stderr.splitlines():
            if "kex: client->server cipher:" in line:
                used = "default (" + line.split("cipher:")[1].split()[0] + ")"
    jump_cpu0 = jump.cpu_s() if jump else 0.0
    cmd = ssh_command(key, jump, target, cipher, "wc -c")
    head = subprocess.Popen(["head", "-c", str(nbytes), "/dev/zero"], stdout=subprocess.PIPE)
    t0 = time.monotonic()
    out = subprocess.run(cmd, stdin=head.stdout, capture_output=True, text=True, timeout=900)
    secs = time.monotonic() - t0
    head.stdout.close()
    head.wait()
    if out.returncode != 0:
        raise Fail(f"ssh transfer failed ({out.returncode}): {out.stderr.strip()}")
    got = out.stdout.strip()
    if got != str(nbytes):
        raise Fail(f"ssh: the target counted {got!r} bytes, expected {nbytes}")
    time.sleep(0.5)  # let the jump host's per-connection processes exit and be reaped
    jump_cpu = jump.cpu_s() - jump_cpu0 if jump else 0.0
    return {
        "cipher": used,
        "goodput_MBps": nbytes / secs / 1e6,
        "seconds": secs,
        "setup_s": setup,
        "transfer_MBps": nbytes / max(secs - setup, 1e-9) / 1e6,
        "jump_cpu_s": jump_cpu,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build")
    ap.add_argument("--bytes", type=int, default=GIB)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--sha256", action="store_true", help="also SHA-256 the stream on both conec sides (costs CPU)")
    ap.add_argument("--ssh-ciphers", default="default",
                    help="comma-separated ssh -c values; 'default' = ssh's own choice")
    ap.add_argument("--no-ssh", action="store_true")
    ap.add_argument("--ssh-direct", action="store_true",
                    help="also time ssh straight to the target (no jump host), for context")
    args = ap.parse_args()
    n = args.bytes
    gib = n / GIB

    tmp = tempfile.mkdtemp(prefix="conec-relay-bench-")
    jump = target = None
    ssh_error = None
    made_privsep = False
    failed = False
    try:
        if args.no_ssh:
            ssh_error = "skipped (--no-ssh)"
        else:
            try:
                key = ssh_setup(tmp)
                if not os.path.isdir("/run/sshd"):  # sshd's privilege separation directory
                    os.makedirs("/run/sshd", mode=0o755)
                    made_privsep = True
                jump = Sshd(tmp, "jump", os.path.join(tmp, "authorized_keys"))
                target = Sshd(tmp, "target", os.path.join(tmp, "authorized_keys"))
            except (Fail, OSError, subprocess.SubprocessError) as e:
                ssh_error = str(e)
        for run in range(1, args.runs + 1):
            print(f"run {run}  ({n} bytes = {gib:.3g} GiB)")
            q = conec_relay(args.build, n, args.sha256)
            print(f"  conec relayed stream : {q['goodput_MBps']:8.1f} MB/s  ({q['seconds']:.2f} s first send -> "
                  f"stream closed; setup {q['setup_s'] * 1000:.0f} ms; whole sender process {q['wall_s']:.2f} s "
                  f"= {n / q['wall_s'] / 1e6:.1f} MB/s)")
            print(f"      PMTU {q['pmtu']}, srtt {q['srtt_us']} us, relayed {q['relayed_datagrams']} datagrams, "
                  f"{q['relayed_bytes'] / n:.3f} relayed bytes per payload byte, "
                  f"{q['dropped_rate']} dropped over budget" + (f", sha256 {q['sha256'][:16]}... equal"
                                                                  if q['sha256'] else ""))
            print(f"      CPU s/GiB: sender {q['sender_cpu_s'] / gib:.2f}, receiver {q['receiver_cpu_s'] / gib:.2f}, "
                  f"coordinator {q['coord_cpu_s'] / (q['relayed_bytes'] / GIB):.2f} per relayed GiB "
                  f"({q['coord_cpu_s']:.2f} s in all)")
            if ssh_error:
                print(f"  ssh -J baseline      : not measured: {ssh_error}")
                continue
            for cipher in [c.strip() for c in args.ssh_ciphers.split(",") if c.strip()]:
                try:
                    b = ssh_relay(tmp, key, jump, target, n, cipher)
                except Fail as e:
                    print(f"  ssh -J ({cipher}): failed: {e}")
                    failed = True
                    continue
                print(f"  ssh -J, {b['cipher']:<25}: {b['goodput_MBps']:8.1f} MB/s  ({b['seconds']:.2f} s incl. "
                      f"{b['setup_s'] * 1000:.0f} ms ssh setup; {b['transfer_MBps']:.1f} MB/s without it)")
                print(f"      jump sshd CPU {b['jump_cpu_s'] / gib:.2f} s/GiB")
                print(f"      ratio conec/ssh: {q['goodput_MBps'] / b['goodput_MBps']:.2f} (transfer phase: "
                      f"{q['goodput_MBps'] / b['transfer_MBps']:.2f}; whole processes: "
                      f"{(n / q['wall_s']) / (n / b['seconds']):.2f}) - target >= 1.5")
                print(f"      relay CPU per GiB, conec coordinator / jump sshd: "
                      f"{(q['coord_cpu_s'] / (q['relayed_bytes'] / GIB)) / max(b['jump_cpu_s'] / gib, 1e-9):.2f}")
                if args.ssh_direct:
                    try:
                        d = ssh_relay(tmp, key, None, target, n, cipher)
                        print(f"      (context) ssh direct, no jump host: {d['goodput_MBps']:.1f} MB/s "
                              f"({d['transfer_MBps']:.1f} without setup)")
                    except Fail as e:
                        print(f"      (context) ssh direct failed: {e}")
            sys.stdout.flush()
    except Fail as e:
        print(f"FAILED: {e}", file=sys.stderr)
        failed = True
    finally:
        for d in (jump, target):
            if d:
                d.close()
        if made_privsep:
            shutil.rmtree("/run/sshd", ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
