#!/usr/bin/env python3
"""certspec benchmarks (issue 6), measured side by side in one run.

    python benchmarks/bench.py                    # everything (several minutes)
    python benchmarks/bench.py --only noop --sizes 100,1000
    python benchmarks/bench.py --only first-run --first-run 200

- first-run: N RSA-2048 certificates into an empty folder with `certspec apply`, against
  the pure key-generation floor measured in the same run (N keys / cores) and against the
  equivalent OpenSSL command-line script (per certificate: req -x509 -newkey, pkcs12
  -export, base64, x509 -fingerprint).
- noop: `plan`, `apply`, `status` and `validate` with nothing due, at each size: wall time
  and peak RSS of the whole process (start-up included).
- startup: `certspec --version`.
- kdf: the cost of one PFX per encryption profile.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

CERTSPEC = [sys.executable, "-m", "certspec"]
CORES = os.cpu_count() or 1


def manifest(n: int, key: str, chain: bool = True) -> str:
    """n leaf certificates: 5 environments x roles of 10 certificates, under a CA chain
    (``chain=False``: self-signed, the same work as the OpenSSL script)."""
    envs = 5 if n >= 50 else 1
    per_env = n // envs
    roles = {}
    for i in range(per_env):
        roles.setdefault(f"role{i // 10:03d}", []).append(f"c{i % 10}")
    lines = ["version: 1", "defaults:", f"  key: {key}"]
    if chain:
        lines += ["  issuer: issuing", "authorities:", '  root: {subject: "CN={env} Root", validity: 10y}',
                  '  issuing: {issuer: root, subject: "CN={env} Issuing", validity: 5y}']
    lines.append("roles:")
    for role, certs in roles.items():
        lines += [f"  {role}:", "    certificates:"]
        lines += [f'      {c}: {{dns_names: ["{c}.{role}.{{env}}.example.com"]}}' for c in certs]
    lines.append("environments:")
    for e in range(envs):
        lines.append(f"  env{e}: {{roles: [{', '.join(roles)}]}}")
    return "\n".join(lines) + "\n"


def timed(cmd: list[str], **kw: object) -> tuple[float, int, int]:
    """(wall seconds, peak RSS in MiB, exit code) of one command."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kw)  # type: ignore[call-overload]
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 2):
        print(proc.stderr.read().decode()[-500:], file=sys.stderr)
    return wall, usage.ru_maxrss // 1024, code


def best(cmd: list[str], runs: int = 3) -> tuple[float, int]:
    results = [timed(cmd) for _ in range(runs)]
    return min(r[0] for r in results), max(r[1] for r in results)


def _keygen(_: int) -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    rsa.generate_private_key(public_exponent=65537, key_size=2048)


def keygen_floor(n: int) -> float:
    """n RSA-2048 keys generated on all cores: the floor no tool can beat."""
    start = time.perf_counter()
    with ProcessPoolExecutor(CORES) as pool:
        list(pool.map(_keygen, range(n), chunksize=4))
    return time.perf_counter() - start


def openssl_script(n: int, work: Path) -> float:
    script = work / "openssl.sh"
    script.write_text(f"""set -e
cd {work}
for i in $(seq 1 {n}); do
  openssl req -x509 -newkey rsa:2048 -nodes -keyout k$i.pem -out c$i.pem -days 365 -subj /CN=c$i.example.com 2>/dev/null
  openssl pkcs12 -export -inkey k$i.pem -in c$i.pem -out c$i.pfx -passout pass:Secret123 -certpbe PBE-SHA1-3DES -keypbe PBE-SHA1-3DES -macalg sha1
  base64 -w0 c$i.pfx > c$i.pfx.b64
  openssl x509 -in c$i.pem -noout -fingerprint -sha1 > c$i.thumbprint
done
""")
    start = time.perf_counter()
    subprocess.run(["bash", str(script)], check=True)
    return time.perf_counter() - start


def one_key_times(n: int) -> list[float]:
    """n timings of one rsa.generate_private_key each, in one process."""
    times = []
    for i in range(n):
        start = time.perf_counter()
        _keygen(i)
        times.append(time.perf_counter() - start)
    return times


def byte_compile() -> None:
    """Measure certspec as pip installs it, byte-compiled: an editable install under
    PYTHONDONTWRITEBYTECODE=1 would compile every module again in every process."""
    import compileall

    import certspec

    compileall.compile_dir(str(Path(certspec.__file__).parent), quiet=1)


def first_run(n: int, repeats: int) -> None:
    """RSA key generation time is random (a prime search): 200 keys take 3.7 s in one
    sample and 4.2 s in the next. So the issue's floor (n x one key / cores) is n times the
    mean of every single-key timing of the run (repeats x n of them), and certspec's figure
    is the median of its runs; floors and certspec runs are interleaved."""
    import statistics

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "m.yaml").write_text(manifest(n, "{algorithm: rsa, size: 2048}", chain=False))
        (work / "chain.yaml").write_text(manifest(n, "{algorithm: rsa, size: 2048}", chain=True))
        floors, seqs, walls, rss = [], [], [], 0
        for i in range(repeats):
            floors.append(keygen_floor(n))
            seqs.append(one_key_times(n))
            wall, peak, code = timed([*CERTSPEC, "-q", "apply", "-f", str(work / "m.yaml"), "-o", str(work / f"out{i}")])
            assert code == 0
            walls.append(wall)
            rss = max(rss, peak)
        floor, wall = statistics.median(floors), statistics.median(walls)
        seq = statistics.fmean(t for run in seqs for t in run) * n / CORES
        chain_wall = timed([*CERTSPEC, "-q", "apply", "-f", str(work / "chain.yaml"), "-o", str(work / "chain")])[0]
        (work / "ossl").mkdir()
        ossl = openssl_script(n, work / "ossl")
        print(f"first-run  {n} RSA-2048 certificates on {CORES} cores (self-signed, like the OpenSSL script); "
              f"medians of {repeats} interleaved runs")
        print(f"  key-generation floor, {n} keys on {CORES} processes:    {floor:7.2f} s  "
              f"(runs: {', '.join(f'{x:.2f}' for x in floors)})")
        print(f"  key-generation floor, {n} x one key / {CORES} cores:     {seq:7.2f} s  "
              f"(mean of {repeats * n} keys; runs of {n}: {', '.join(f'{sum(x) / CORES:.2f}' for x in seqs)})")
        print(f"  certspec apply -j {CORES}:                             {wall:7.2f} s  "
              f"(runs: {', '.join(f'{x:.2f}' for x in walls)})")
        print(f"    = {wall / floor:.2f}x the parallel floor, {wall / seq:.2f}x the sequential floor "
              f"(target <= 1.25x); peak RSS {rss} MiB")
        print(f"  the same under a root + issuing CA per environment (10 more RSA keys): {chain_wall:.2f} s")
        print(f"  OpenSSL command-line script:                      {ossl:7.2f} s  "
              f"(certspec takes {wall / ossl:.3f} of it; target <= 0.125)")


def noop(sizes: list[int], key: str) -> None:
    print(f"noop       nothing due ({key} keys); best of 3 wall times (start-up included), peak RSS")
    print(f"  {'size':>6}  {'validate':>9}  {'plan':>9}  {'apply':>9}  {'status':>9}  {'peak RSS':>9}")
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            # the no-op path reads every certificate and key; ECDSA keys make the setup of
            # the large sizes quick (--noop-key rsa measures RSA-2048 keys)
            spec = "{algorithm: rsa, size: 2048}" if key == "rsa" else "{algorithm: ecdsa, curve: p256}"
            (work / "m.yaml").write_text(manifest(n, spec))
            base = ["-f", str(work / "m.yaml"), "-o", str(work / "out")]
            code = timed([*CERTSPEC, "-q", "apply", *base])[2]
            assert code == 0
            row = {c: best([*CERTSPEC, "-q", c, *(base if c != "validate" else base[:2])])
                   for c in ("validate", "plan", "apply", "status")}
            peak = max(r[1] for r in row.values())
            print(f"  {n:>6}  " + "  ".join(f"{row[c][0]:>8.3f}s" for c in ("validate", "plan", "apply", "status"))
                  + f"  {peak:>6} MiB")


def startup() -> None:
    wall, rss = best([*CERTSPEC[:1], "-c", "from certspec.cli import main; main(['--version'])"], runs=5)
    exe = shutil.which("certspec")
    line = f"startup    python -m certspec --version: {wall * 1000:.0f} ms"
    if exe:
        line += f"; certspec --version: {best([exe, '--version'], runs=5)[0] * 1000:.0f} ms (target < 150 ms)"
    print(line)


def kdf() -> None:
    from datetime import datetime, timedelta, timezone

    from certspec.durations import RenewBefore
    from certspec.exports import Material, kdf_rounds, pfx_bytes
    from certspec.model import CertSpec, KeySpec, PasswordSpec, PfxSpec
    from certspec.passwords import Password
    from certspec.x509 import build_certificate, generate_key

    key = generate_key(KeySpec("rsa", size=2048))
    print("kdf        one PFX (RSA-2048 leaf + two CA certificates): write + verify-after-write, best of 20")
    for source in ("generate", "env"):
        for enc in ("tripledes-sha1", "aes256-sha256"):
            pw = PasswordSpec("generate", 24) if source == "generate" else PasswordSpec("env", name="X")
            spec = CertSpec(id="e/r/c", env="e", role="r", name="c", subject="CN=x", key=KeySpec("rsa", size=2048),
                            signature_hash="sha256", validity=timedelta(days=365), not_before=timedelta(minutes=10),
                            renew_before=RenewBefore(percent=33), key_usage=("digital_signature",),
                            extended_key_usage=(), pfx=PfxSpec(pw, enc, "full"), exports=("pfx",))
            cert = build_certificate(spec, key, now=datetime.now(timezone.utc))
            m = Material(cert, key, (cert, cert))
            times = []
            for _ in range(20):
                start = time.perf_counter()
                pfx_bytes(spec, m, Password("x" * 24))
                times.append(time.perf_counter() - start)
            label = "generated password" if source == "generate" else "env/file password "
            print(f"  {label} {enc:<15} {kdf_rounds(spec):>6} iterations: {min(times) * 1000:5.1f} ms per certificate")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=("first-run", "noop", "startup", "kdf"), action="append")
    ap.add_argument("--sizes", default="100,1000,5000")
    ap.add_argument("--first-run", type=int, default=200, dest="first_run_n")
    ap.add_argument("--repeats", type=int, default=5, help="interleaved first-run repeats")
    ap.add_argument("--noop-key", choices=("ecdsa", "rsa"), default="ecdsa")
    a = ap.parse_args()
    parts = a.only or ["startup", "kdf", "noop", "first-run"]
    print(f"machine: {CORES} cores, Python {sys.version.split()[0]}")
    byte_compile()
    for part in parts:
        if part == "startup":
            startup()
        elif part == "kdf":
            kdf()
        elif part == "noop":
            noop([int(s) for s in a.sizes.split(",")], a.noop_key)
        else:
            first_run(a.first_run_n, a.repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
