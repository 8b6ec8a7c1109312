#!/usr/bin/env python3
"""Bulk-transfer benchmark: conec QUIC stream vs raw UDP (iperf3), same run.

Runs, on loopback, two processes each:
  1. baseline: iperf3 -u -b 0 -l 1400 (unencrypted UDP, no GSO) for --seconds;
  2. conec: bench/quic_bulk server + client moving --bytes over one stream
     (TLS 1.3, AES-128-GCM, congestion controlled, every byte acknowledged).
Prints goodput, CPU seconds per GiB on each side, and the ratio
conec/baseline (target >= 1.0). Also the client's connect-to-first-echo time.

Usage: bench/bulk.py [--build build] [--bytes 1073741824] [--seconds 5] [--runs 1]
Figures, not a pass/fail test: run it on an otherwise idle machine.
"""
import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import time

GIB = 1 << 30


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def iperf3_udp(seconds):
    port = free_port()
    server = subprocess.Popen(["iperf3", "-s", "-1", "-p", str(port)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    try:
        out = subprocess.run(["iperf3", "-c", "127.0.0.1", "-p", str(port), "-u", "-b", "0", "-l", "1400",
                              "-t", str(seconds), "--json"], capture_output=True, text=True, timeout=seconds + 30)
    finally:
        server.wait(timeout=10)
    end = json.loads(out.stdout)["end"]
    received = end["sum_received"]
    secs = received["seconds"]
    gib = received["bytes"] / GIB
    cpu = end["cpu_utilization_percent"]
    return {
        "goodput_MBps": received["bytes"] / secs / 1e6,
        "lost_percent": end["sum"].get("lost_percent", 0.0),
        "sender_cpu_s_per_GiB": cpu["host_total"] / 100 * secs / gib if gib else float("nan"),
        "receiver_cpu_s_per_GiB": cpu["remote_total"] / 100 * secs / gib if gib else float("nan"),
    }


def conec_bulk(build, nbytes):
    exe = os.path.join(build, "bench", "quic_bulk")
    server = subprocess.Popen([exe, "server", "--listen", "127.0.0.1:0"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    port = server.stdout.readline().split()[1]
    client = subprocess.run([exe, "client", "--connect", "127.0.0.1:" + port, "--bytes", str(nbytes)],
                            capture_output=True, text=True, timeout=600)
    _, server_err = server.communicate(timeout=30)
    if client.returncode != 0:
        sys.exit("quic_bulk client failed: " + client.stderr.strip())
    fig = dict(line.split() for line in client.stdout.splitlines())
    server_cpu = float(dict(line.split() for line in server_err.splitlines() if line.startswith("server_cpu_s"))
                       ["server_cpu_s"])
    gib = nbytes / GIB
    return {
        "goodput_MBps": float(fig["goodput_MBps"]),
        "sender_cpu_s_per_GiB": float(fig["client_cpu_s"]) / gib,
        "receiver_cpu_s_per_GiB": server_cpu / gib,
        "handshake_ms": float(fig["handshake_ms"]),
        "first_echo_ms": float(fig["first_echo_ms"]),
        "pmtu": int(fig["pmtu"]),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build")
    ap.add_argument("--bytes", type=int, default=GIB)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--runs", type=int, default=1)
    args = ap.parse_args()
    if not shutil.which("iperf3"):
        sys.exit("iperf3 is not installed (scripts/install-deps.sh installs it)")
    for run in range(1, args.runs + 1):
        base = iperf3_udp(args.seconds)
        quic = conec_bulk(args.build, args.bytes)
        print(f"run {run}")
        print(f"  baseline iperf3 UDP : {base['goodput_MBps']:8.1f} MB/s received ({base['lost_percent']:.1f}% lost), "
              f"CPU s/GiB sender {base['sender_cpu_s_per_GiB']:.2f} receiver {base['receiver_cpu_s_per_GiB']:.2f}")
        print(f"  conec QUIC stream   : {quic['goodput_MBps']:8.1f} MB/s ({args.bytes} bytes, PMTU {quic['pmtu']}), "
              f"CPU s/GiB sender {quic['sender_cpu_s_per_GiB']:.2f} receiver {quic['receiver_cpu_s_per_GiB']:.2f}")
        print(f"  ratio conec/baseline: {quic['goodput_MBps'] / base['goodput_MBps']:.2f}")
        print(f"  connect -> handshake {quic['handshake_ms']:.2f} ms, connect -> first echoed message "
              f"{quic['first_echo_ms']:.2f} ms")


if __name__ == "__main__":
    main()
