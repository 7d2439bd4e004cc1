"""`sis-sync simulate sftp`: an SFTP drop serving a generated district or any folder of packages.

    sis-sync simulate sftp --size S --port 2222              # a generated S district as a zip
    sis-sync simulate sftp --dir ../shared/data/oneroster    # real sets, one folder each

It prints the host key fingerprint and a provider config to paste (remotePath "/" is the
served folder).
"""

from __future__ import annotations

import argparse
import base64
import json
import secrets
import signal
from pathlib import Path
from typing import Any

import paramiko

from devkit.generator import District, DistrictSpec, write_oneroster_csv
from devkit.simulators.sftp.server import SftpSimulator, load_or_create_host_key

DEFAULT_OUT = Path(".data") / "simulators" / "sftp"


def register(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--size", default=None, help="generate a district of this tier (S, M, L, XL) and serve it")
    source.add_argument("--dir", type=Path, help="serve this folder as it is (e.g. ../shared/data/oneroster)")
    parser.add_argument("--seed", type=int, default=1, help="generator seed (default 1)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=2222, help="port to listen on (default 2222; 0 picks one)")
    parser.add_argument("--username", default="sis-sync", help="the login it accepts (default sis-sync)")
    parser.add_argument("--password", help="password to accept (default: a random one, printed)")
    parser.add_argument("--authorized-key", type=Path, help="an OpenSSH public key file to accept")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where generated packages and the host key live")
    parser.set_defaults(handler=run)


def generate(size: str, seed: int, out: Path) -> Path:
    """Write a generated district's package (a zip) under `out` and return the folder to serve."""
    served = out / f"district-{size.upper()}-seed{seed}"
    marker = served / ".complete"
    if not marker.exists():
        district = District(DistrictSpec.for_tier(size, seed=seed))
        write_oneroster_csv(district, served / f"oneroster-{size.upper()}.zip", zip=True)
        marker.touch()
    return served


def _public_key(path: Path) -> paramiko.PKey:
    parts = path.read_text().split()
    if len(parts) < 2:
        raise SystemExit(f"{path} is not an OpenSSH public key")
    return paramiko.PKey.from_type_string(parts[0], base64.b64decode(parts[1]))


def run(args: argparse.Namespace) -> int:
    if args.dir is not None:
        served = args.dir.resolve()
        if not served.is_dir():
            raise SystemExit(f"--dir {args.dir} is not a folder")
    else:
        size = args.size or "S"
        print(f"generating a {size.upper()} district (seed {args.seed}) under {args.out} ...", flush=True)
        served = generate(size, args.seed, args.out).resolve()
    password = args.password
    authorized = [_public_key(args.authorized_key)] if args.authorized_key else []
    if password is None and not authorized:
        password = secrets.token_urlsafe(12)
    simulator = SftpSimulator(
        served,
        host=args.host,
        port=args.port,
        username=args.username,
        password=password,
        authorized_keys=authorized,
        host_key=load_or_create_host_key(args.out / "host_key"),
    )
    config: dict[str, Any] = simulator.provider_config("/")
    print(f"SFTP simulator serving {served} on {args.host}:{simulator.port}")
    print(f"host key fingerprint: {simulator.fingerprint}")
    print("provider config (ONEROSTER_CSV):")
    print(json.dumps(config, indent=2))
    print("Press Ctrl-C to stop.", flush=True)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        simulator.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        simulator.stop()
    return 0


__all__ = ["generate", "register", "run"]
