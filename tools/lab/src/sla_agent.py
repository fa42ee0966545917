#!/usr/bin/env python3
"""wardflux-lab's IP SLA probe agent: stands in for a router's IP SLA (icmp-echo) operations.

net-snmp's snmpd runs it as a `pass_persist` handler for CISCO-RTTMON-MIB (1.3.6.1.4.1.9.9.42)
inside the router's namespace. Each probe of the JSON config pings its target out of its
uplink (`ping -I PORT`, so the source is the uplink's address) every `frequency` seconds in a
thread of its own; snmpd's get/getnext requests are answered from the latest results, never
waiting for a ping. Written by the lab into the lab's directory; usage: sla_agent.py CONFIG.
"""

import json
import os
import socket
import subprocess
import sys
import threading
import time

BASE = (1, 3, 6, 1, 4, 1, 9, 9, 42, 1, 2)
# (table, column) -> name; numbers and enums from CISCO-RTTMON-MIB.
CTRL_ADMIN = 1  # rttMonCtrlAdminEntry
ECHO_ADMIN = 2  # rttMonEchoAdminEntry
CTRL_OPER = 9  # rttMonCtrlOperEntry
LATEST = 10  # rttMonLatestRttOperEntry
SENSE_OK, SENSE_TIMEOUT, SENSE_NOT_CONNECTED = 1, 4, 6
OPER_ACTIVE = 6
RTT_TYPE_ECHO = 1
PROTOCOL_IP_ICMP_ECHO = 2
ROW_ACTIVE = 1


def uptime_ticks(start):
    """snmpd's sysUpTime now, in hundredths of a second (snmpd is this process's parent and
    started it; measured from the parent's start when /proc says, else from ours)."""
    try:
        with open("/proc/%d/stat" % os.getppid()) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        started = int(fields[19]) / os.sysconf("SC_CLK_TCK")
        with open("/proc/uptime") as f:
            now = float(f.read().split()[0])
        return max(0, int((now - started) * 100))
    except (OSError, ValueError, IndexError):
        return int((time.monotonic() - start) * 100)


class Probe:
    def __init__(self, p, start):
        self.index = int(p["index"])
        self.tag = str(p["tag"])
        self.port = str(p["port"])
        self.source = str(p["source"])
        self.target = str(p["target"])
        self.frequency = max(1, int(p["frequency"]))
        self.timeout_ms = max(100, int(p.get("timeout_ms", 2000)))
        self.start = start
        self.lock = threading.Lock()
        self.rtt_ms = 0
        self.sense = 0  # other(0) until the first run completes
        self.time = 0  # sysUpTime of the latest run's start
        self.runs = 0

    def run_once(self):
        started = uptime_ticks(self.start)
        wait = max(1, (self.timeout_ms + 999) // 1000)
        try:
            out = subprocess.run(
                ["ping", "-n", "-c", "1", "-W", str(wait), "-I", self.port, self.target],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                timeout=wait + 5,
            )
            text = out.stdout.decode("utf-8", "replace")
            if out.returncode == 0:
                rtt = 0.0
                for word in text.split():
                    if word.startswith("time="):
                        try:
                            rtt = float(word[5:])
                        except ValueError:
                            pass
                sense, rtt_ms = SENSE_OK, max(1, int(round(rtt)))
            elif out.returncode == 1:
                sense, rtt_ms = SENSE_TIMEOUT, 0
            else:  # could not send: the port is down or has no address
                sense, rtt_ms = SENSE_NOT_CONNECTED, 0
        except (OSError, subprocess.SubprocessError):
            sense, rtt_ms = SENSE_NOT_CONNECTED, 0
        with self.lock:
            self.sense, self.rtt_ms, self.time = sense, rtt_ms, started
            self.runs += 1

    def loop(self):
        while True:
            t = time.monotonic()
            self.run_once()
            time.sleep(max(0.0, self.frequency - (time.monotonic() - t)))

    def if_index(self):
        """ifIndex of the probe's port in this namespace (0 when it is gone)."""
        try:
            return socket.if_nametoindex(self.port)
        except OSError:
            return 0

    def columns(self):
        """[(oid suffix under BASE, type, value)] of this probe's row."""
        ip = [int(x) for x in self.target.split(".")]
        src = [int(x) for x in self.source.split(".")]
        hexs = lambda b: " ".join("%02X" % x for x in b)
        with self.lock:
            sense, rtt, when = self.sense, self.rtt_ms, self.time
        i = self.index
        return [
            ((CTRL_ADMIN, 1, 2, i), "string", "wardflux-lab"),  # rttMonCtrlAdminOwner
            ((CTRL_ADMIN, 1, 3, i), "string", self.tag),  # rttMonCtrlAdminTag
            ((CTRL_ADMIN, 1, 4, i), "integer", str(RTT_TYPE_ECHO)),  # rttMonCtrlAdminRttType
            ((CTRL_ADMIN, 1, 6, i), "integer", str(self.frequency)),  # ...Frequency (s)
            ((CTRL_ADMIN, 1, 7, i), "integer", str(self.timeout_ms)),  # ...Timeout (ms)
            ((CTRL_ADMIN, 1, 9, i), "integer", str(ROW_ACTIVE)),  # rttMonCtrlAdminStatus
            ((ECHO_ADMIN, 1, 1, i), "integer", str(PROTOCOL_IP_ICMP_ECHO)),  # ...Protocol
            ((ECHO_ADMIN, 1, 2, i), "octet", hexs(ip)),  # rttMonEchoAdminTargetAddress
            ((ECHO_ADMIN, 1, 6, i), "octet", hexs(src)),  # rttMonEchoAdminSourceAddress
            ((ECHO_ADMIN, 1, 79, i), "integer", str(self.if_index())),  # ...OutputInterface
            ((CTRL_OPER, 1, 10, i), "integer", str(OPER_ACTIVE)),  # rttMonCtrlOperState
            ((LATEST, 1, 1, i), "gauge", str(rtt)),  # rttMonLatestRttOperCompletionTime
            ((LATEST, 1, 2, i), "integer", str(sense)),  # rttMonLatestRttOperSense
            ((LATEST, 1, 5, i), "timeticks", str(when)),  # rttMonLatestRttOperTime
            ((LATEST, 1, 6, i), "octet", hexs(ip)),  # rttMonLatestRttOperAddress
        ]


def table(probes):
    rows = []
    for p in probes:
        for suffix, typ, value in p.columns():
            rows.append((BASE + suffix, typ, value))
    rows.sort(key=lambda r: r[0])
    return rows


def parse_oid(text):
    try:
        return tuple(int(x) for x in text.strip().strip(".").split(".") if x != "")
    except ValueError:
        return None


def answer(out, row):
    oid, typ, value = row
    out.write("." + ".".join(str(x) for x in oid) + "\n" + typ + "\n" + value + "\n")


def main():
    if len(sys.argv) != 2:
        sys.stderr.write("usage: sla_agent.py CONFIG.json\n")
        return 2
    with open(sys.argv[1]) as f:
        config = json.load(f)
    start = time.monotonic()
    probes = [Probe(p, start) for p in config["probes"]]
    for p in probes:
        threading.Thread(target=p.loop, daemon=True).start()
    inp, out = sys.stdin, sys.stdout
    while True:
        line = inp.readline()
        if not line:
            return 0
        cmd = line.strip().lower()
        if cmd == "ping":
            out.write("PONG\n")
        elif cmd in ("get", "getnext"):
            oid = parse_oid(inp.readline())
            rows = table(probes)
            hit = None
            if oid is not None:
                if cmd == "get":
                    hit = next((r for r in rows if r[0] == oid), None)
                else:
                    hit = next((r for r in rows if r[0] > oid), None)
            if hit is None:
                out.write("NONE\n")
            else:
                answer(out, hit)
        elif cmd == "set":
            inp.readline()
            inp.readline()
            out.write("not-writable\n")
        elif cmd == "":
            continue
        else:
            out.write("NONE\n")
        out.flush()


if __name__ == "__main__":
    sys.exit(main())
