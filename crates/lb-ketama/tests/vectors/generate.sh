#!/usr/bin/env bash
# Generates the nginx test vectors of lb-ketama by asking a real nginx.
#
# For each ring below, nginx is configured with `hash $request_uri consistent;` over upstream servers
# that listen nowhere (closed ports on loopback addresses, and unix sockets that do not exist), with
# `proxy_next_upstream off` and `max_fails=0`: every request makes exactly one connection attempt, to
# the server the ketama ring picked for the key, fails at once with 502, and the access log records
# `$request_uri,$upstream_addr`. The script maps each printed address back to the configured server
# name and writes `<ring>.txt` next to itself:
#
#   # comments
#   server NAME WEIGHT        one line per configured server, in configuration order
#   key KEY NAME              the server nginx picked for KEY
#
# Requirements: Debian's nginx (`apt-get install -y nginx-light`), python3 and nothing else. No traffic
# leaves the machine: nginx listens on 127.0.0.1 and every upstream is on 127.0.0.0/8, ::1 or a unix path.
# Run it from anywhere: `bash crates/lb-ketama/tests/vectors/generate.sh`. It is deterministic: the keys
# come from a seeded PRNG, so a rerun with the same nginx rewrites identical files.
set -euo pipefail

out_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
command -v nginx >/dev/null || { echo "nginx not found: apt-get install -y nginx-light" >&2; exit 1; }
command -v python3 >/dev/null || { echo "python3 not found" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

OUT_DIR="$out_dir" WORK="$work" python3 - <<'PY'
import http.client
import os
import random
import re
import socket
import subprocess
import sys
import time
import zlib

out_dir = os.environ["OUT_DIR"]
work = os.environ["WORK"]
rng = random.Random(20240613)

# --- the rings -------------------------------------------------------------------------------------------
# Ports 41000-42999 on 127.0.x.y and ::1 must be closed and /nonexistent must not exist; the script
# checks before it starts. Unix paths are fixed (not in a temp dir) because nginx hashes the path.
def v4(i, port_base=41000):
    return f"127.0.{1 + i // 200}.{1 + i % 200}:{port_base + i}"

rings = {}
rings["ipv4-equal"] = [(v4(i), 1) for i in range(10)]
rings["ipv4-weighted"] = [(v4(i), w) for i, w in enumerate([1, 2, 3, 5, 8, 1, 13, 4])]
rings["ipv6"] = [(f"[::1]:{41100 + i}", w) for i, w in enumerate([1, 1, 2, 3, 1, 2])]
rings["mixed"] = [
    ("127.0.0.2:41201", 1),
    ("[::1]:41202", 2),
    ("127.0.0.3:41203", 1),
    ("unix:/nonexistent/lb-ketama/mixed-a.sock", 1),
    ("[::1]:41204", 1),
    ("127.0.0.4:41205", 3),
    ("unix:/nonexistent/lb-ketama/mixed-b.sock", 2),
]
# Server names as a person writes them: a host name, addresses without a port (nginx uses 80),
# unix sockets with a lowercase and an uppercase scheme.
rings["names"] = [
    ("localhost:41301", 1),
    ("127.0.0.5", 1),
    ("[::1]", 2),
    ("127.0.0.6:41302", 1),
    ("unix:/nonexistent/lb-ketama/names-a.sock", 1),
    ("UNIX:/nonexistent/lb-ketama/names-b.sock", 1),
]
rings["large"] = [(v4(i, 41400), 1 + (i * 7) % 5) for i in range(200)]
# 200 servers of weight 10 make 320,000 points: about a dozen pairs of points of different servers
# share a hash. The keys of this ring are chosen to land on those shared points, so the vectors show
# which server nginx keeps when two points tie.
rings["ties"] = [(v4(i, 41700), 10) for i in range(200)]

KEYS = {"ipv4-equal": 2000, "ipv4-weighted": 2000, "ipv6": 2000, "mixed": 2000, "names": 2000,
        "large": 3000, "ties": 500}

# --- nginx's own split of a server name into host and port (ngx_http_upstream_init_chash) ---------------
def split(name):
    if name[:5].lower() == "unix:":
        return name[5:], ""
    j = 0
    while j < len(name):
        c = name[len(name) - j - 1]
        if c == ":":
            return name[: len(name) - j - 1], name[len(name) - j :]
        if not c.isdigit():
            break
        j += 1
    return name, ""

def points(servers):
    """The ring as nginx builds it, used only to pick keys for the "ties" ring."""
    pts = []
    for idx, (name, weight) in enumerate(servers):
        host, port = split(name)
        base = zlib.crc32(host.encode() + b"\0" + port.encode())
        prev = 0
        for _ in range(160 * weight):
            h = zlib.crc32(prev.to_bytes(4, "little"), base)
            pts.append((h, idx))
            prev = h
    pts.sort(key=lambda p: p[0])  # stable: ties stay in configuration order
    return pts

# --- what $upstream_addr prints for each configured server ------------------------------------------------
def printed_forms(name):
    if name[:5].lower() == "unix:":
        return {"unix:" + name[5:], name}
    m = re.fullmatch(r"(\[[0-9a-fA-F:.]+\]|[^:]+)(?::(\d+))?", name)
    if not m:
        sys.exit(f"cannot map server {name!r}")
    host, port = m.group(1), m.group(2) or "80"
    if host == "localhost":
        return {f"127.0.0.1:{port}", f"[::1]:{port}"}
    return {f"{host}:{port}"}

def addr_map(servers):
    forms = {}
    for name, _ in servers:
        for f in printed_forms(name):
            if f in forms and forms[f] != name:
                sys.exit(f"printed address {f} is ambiguous")
            forms[f] = name
    return forms

# --- check that every upstream is closed ------------------------------------------------------------------
def is_open(name):
    if name[:5].lower() == "unix:":
        return os.path.exists(name[5:])
    for form in printed_forms(name):
        host, port = form.rsplit(":", 1)
        fam = socket.AF_INET6 if host.startswith("[") else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.settimeout(1)
        try:
            s.connect((host.strip("[]"), int(port)))
            return True
        except OSError:
            pass
        finally:
            s.close()
    return False

for ring, servers in rings.items():
    for name, _ in servers:
        if is_open(name):
            sys.exit(f"upstream {name} of ring {ring} is open: pick other ports")

# --- keys -------------------------------------------------------------------------------------------------
ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_/"

def random_key():
    return "/" + "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 40)))

def tie_keys(servers, want):
    """Keys whose CRC32 falls on a point that two different servers share."""
    pts = points(servers)
    arcs = []
    for i in range(1, len(pts)):
        if pts[i][0] == pts[i - 1][0] and pts[i][1] != pts[i - 1][1]:
            # The arc that maps to this hash: (hash of the previous distinct point, hash].
            k = i - 1
            while k > 0 and pts[k - 1][0] == pts[i][0]:
                k -= 1
            lo = pts[k - 1][0] if k > 0 else pts[-1][0] - (1 << 32)
            arcs.append((lo, pts[i][0]))
    if not arcs:
        sys.exit("no tie in the ties ring: change its servers")
    keys = []
    for lo, hi in arcs:
        found = 0
        prefix = f"/tie/{hi:08x}/"
        n = 0
        while found < want:
            key = prefix + str(n)
            n += 1
            h = zlib.crc32(key.encode())
            if lo < h <= hi or (lo < 0 and (h <= hi or h > lo + (1 << 32))):
                keys.append(key)
                found += 1
    return keys, len(arcs)

# --- nginx --------------------------------------------------------------------------------------------------
def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port

ports = {ring: free_port() for ring in rings}
conf = [
    "daemon off;",
    "master_process off;",
    "worker_processes 1;",
    f"pid {work}/nginx.pid;",
    f"error_log {work}/error.log crit;",
    "events { worker_connections 64; }",
    "http {",
    "  log_format vectors '$request_uri,$upstream_addr';",
    f"  client_body_temp_path {work}/body;",
    f"  proxy_temp_path {work}/proxy;",
    f"  fastcgi_temp_path {work}/fastcgi;",
    f"  uwsgi_temp_path {work}/uwsgi;",
    f"  scgi_temp_path {work}/scgi;",
]
for ring, servers in rings.items():
    conf.append(f"  upstream {ring} {{")
    conf.append("    hash $request_uri consistent;")
    for name, weight in servers:
        conf.append(f"    server {name} weight={weight} max_fails=0;")
    conf.append("  }")
    conf.append(f"  server {{")
    conf.append(f"    listen 127.0.0.1:{ports[ring]};")
    conf.append(f"    access_log {work}/{ring}.log vectors;")
    conf.append(f"    location / {{")
    conf.append(f"      proxy_pass http://{ring};")
    conf.append(f"      proxy_next_upstream off;")
    conf.append(f"      proxy_connect_timeout 2s;")
    conf.append(f"    }}")
    conf.append(f"  }}")
conf.append("}")
with open(f"{work}/nginx.conf", "w") as f:
    f.write("\n".join(conf) + "\n")

version = subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip()
nginx = subprocess.Popen(["nginx", "-e", f"{work}/error.log", "-p", work, "-c", f"{work}/nginx.conf"])
try:
    deadline = time.monotonic() + 10
    for ring in rings:
        while True:
            try:
                socket.create_connection(("127.0.0.1", ports[ring]), timeout=1).close()
                break
            except OSError:
                if nginx.poll() is not None or time.monotonic() > deadline:
                    sys.exit("nginx did not start: see its error log")
                time.sleep(0.05)

    for ring, servers in rings.items():
        if ring == "ties":
            keys, ntie = tie_keys(servers, 20)
            keys += [random_key() for _ in range(KEYS[ring])]
        else:
            keys = [random_key() for _ in range(KEYS[ring])]
        conn = http.client.HTTPConnection("127.0.0.1", ports[ring], timeout=10)
        for key in keys:
            conn.request("GET", key)
            resp = conn.getresponse()
            resp.read()
            if resp.status != 502:
                sys.exit(f"{ring}: {key} answered {resp.status}, expected 502 from a closed upstream")
        conn.close()
finally:
    nginx.terminate()
    nginx.wait(timeout=10)

# --- vectors ------------------------------------------------------------------------------------------------
for ring, servers in rings.items():
    forms = addr_map(servers)
    lines = []
    with open(f"{work}/{ring}.log") as f:
        for line in f:
            uri, addr = line.rstrip("\n").rsplit(",", 1)
            if addr not in forms:
                sys.exit(f"{ring}: nginx printed {addr!r} which maps to no configured server")
            lines.append(f"key {uri} {forms[addr]}")

    with open(os.path.join(out_dir, f"{ring}.txt"), "w") as f:
        f.write(f"# ring {ring}: generated by generate.sh from {version}\n")
        f.write("# server NAME WEIGHT (configuration order) / key KEY NAME (server nginx picked)\n")
        for name, weight in servers:
            f.write(f"server {name} {weight}\n")
        for line in lines:
            f.write(line + "\n")
    print(f"{ring}: {len(servers)} servers, {len(lines)} keys")
PY
